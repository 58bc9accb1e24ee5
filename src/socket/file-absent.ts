/**
 * What the stack-alone browser bundle (dist/browser/stack.js) builds in place of file.ts and
 * sendfile.ts: no makefile() or sendfile(). In Python these two are not system calls but
 * library code (Lib/socket.py, over the _socket module); stack.js carries the system-call
 * layer, and a page that wants the file faces takes sockstack.js, which has them.
 * scripts/build-browser.ts substitutes this file in that one bundle; everything else imports
 * the real ones.
 */

/** The error both methods throw in stack.js (Node's code for a method a build leaves out). */
function absent(what: string): Error {
  return Object.assign(
    new Error(`${what}() is not in stack.js (the system calls only); it is in sockstack.js`),
    { code: 'ERR_METHOD_NOT_IMPLEMENTED' },
  );
}

export class SocketFile {
  constructor() {
    throw absent('makefile');
  }
}

export async function sendFile(): Promise<number> {
  throw absent('sendfile');
}
