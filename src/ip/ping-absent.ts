/**
 * What the stack-alone browser bundle (dist/browser/stack.js) builds in place of ping.ts and
 * ipv6-ping.ts: no ping client. In the systems we model the kernel answers echo requests
 * (stack.js still does, and still sends and takes ICMP errors) while the client that sends
 * them and waits is a program, ping(8) of iputils, as DNS is the C library's
 * (src/dns/resolver-absent.ts). `stack.ping()` and `stack.ping6()` there reject with
 * ERR_METHOD_NOT_IMPLEMENTED; a page that wants them takes sockstack.js, which has them.
 * scripts/build-browser.ts substitutes this file in that one bundle; everything else
 * imports the real ones.
 */

class Absent {
  ping(): Promise<never> {
    return Promise.reject(
      Object.assign(
        new Error('ping (a program, ping(8), not the kernel) is not in stack.js; it is in sockstack.js'),
        {
          code: 'ERR_METHOD_NOT_IMPLEMENTED',
        },
      ),
    );
  }
  // Echo replies and errors quoting echo requests: no ping of ours is waiting for them.
  reply(): void {}
  error(): void {}
}

export { Absent as PingClient, Absent as Ping6Client };
