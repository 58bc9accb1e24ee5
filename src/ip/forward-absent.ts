/**
 * What the stack-alone browser bundle (dist/browser/stack.js) builds in place of forward.ts
 * and ipv6-forward.ts: a host's stack, which forwards nothing, as a Linux host with
 * net.ipv4.ip_forward and net.ipv6.conf.all.forwarding at 0 (and, like the multicast routes
 * of mroute-absent.ts, a router's function). A stack given `forwarding: true` in stack.js
 * throws ERR_METHOD_NOT_IMPLEMENTED; sockstack.js forwards. scripts/build-browser.ts
 * substitutes this file in that one bundle.
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
