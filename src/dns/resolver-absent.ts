/**
 * What the stack-alone browser bundle (dist/browser/stack.js) builds in place of resolver.ts
 * (and so without the DNS message codec, message.ts): no DNS client. In the systems we model
 * the stub resolver is not the network stack's but the C library's (glibc's getaddrinfo and
 * libresolv, over ordinary UDP sockets), as makefile() is Python's socket.py rather than a
 * system call (file-absent.ts). getaddrinfo in stack.js still answers numeric addresses and
 * the hosts tables (`stack.hosts`, `stack.resolver.hosts`: localhost is 127.0.0.1 and ::1);
 * a stack given nameservers throws ERR_METHOD_NOT_IMPLEMENTED, and a page that wants DNS takes
 * sockstack.js, which has it. scripts/build-browser.ts substitutes this file in that one
 * bundle; everything else imports the real one.
 */

export class StubResolver {
  constructor() {
    throw Object.assign(
      new Error(
        'DNS (the stub resolver, a C library in the systems we model) is not in stack.js; it is in sockstack.js',
      ),
      { code: 'ERR_METHOD_NOT_IMPLEMENTED' },
    );
  }
}
