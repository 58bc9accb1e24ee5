/**
 * What the stack-alone browser bundle (dist/browser/stack.js) builds in place of forward.ts,
 * ipv6-forward.ts and ndp-router.ts: a host's stack, which forwards nothing, as a Linux host
 * with net.ipv4.ip_forward and net.ipv6.conf.all.forwarding at 0 (and, like the multicast
 * routes of mroute-absent.ts, a router's function), so it sends no Router Advertisements
 * either (a router's half of RFC 4861, which only a forwarding stack sends). A stack given
 * `forwarding: true` in stack.js throws ERR_METHOD_NOT_IMPLEMENTED; sockstack.js forwards.
 * scripts/build-browser.ts substitutes this file in that one bundle.
 */

class Absent {
  static check(on: boolean): void {
    if (on)
      throw Object.assign(new Error('forwarding is not in stack.js (a host stack); it is in sockstack.js'), {
        code: 'ERR_METHOD_NOT_IMPLEMENTED',
      });
  }
  // No forward() or forwardMulticast(): the stack refuses forwarding before a packet could
  // reach them.
}

export { Absent as Ipv4Forwarder, Absent as Ipv6Forwarder };

/** No Router Advertisements: only a router stack (forwarding on) sends them, and this one cannot be one. */
export class RouterAdvertiser {
  start(): void {}
  solicited(): void {}
  send(): void {}
}
