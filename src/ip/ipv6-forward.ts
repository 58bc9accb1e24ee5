/**
 * IPv6 forwarding for a router stack (Stack `forwarding`): unicast by the route table
 * (RFC 8200 §3, RFC 4443), multicast where a static multicast route names the interfaces
 * (mroute.ts). The IPv4 twin is forward.ts; the stack-alone browser bundle builds both from
 * forward-absent.ts.
 */

import { allocFrame, allocOwnFrame } from '../link/frame-alloc.ts';
import { markSuperSegment, segmentTcp, superSegmentGsoSize } from '../wire/gso.ts';
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_TIME_EXCEEDED_HOP_LIMIT,
  ICMPV6_UNREACH_NO_ROUTE,
} from '../wire/icmpv6.ts';
import { IPV6_HEADER_LEN } from '../wire/ipv6.ts';
import { isIpv6LinkLocal, isIpv6Unspecified } from '../wire/ipv6-address.ts';
import { completeTransportChecksum } from '../wire/offload.ts';
import { transportChecksumValid } from '../wire/virtio-net.ts';
import type { LinkLayer } from './ethernet.ts';
import type { InterfaceTable } from './interfaces.ts';
import type { Icmpv6, Ipv6Arrival } from './ipv6-icmp.ts';
import type { Ipv6Output } from './ipv6-output.ts';
import type { Ipv6Stats } from './ipv6-stats.ts';
import { checksumTrusted } from './network.ts';

export interface Ipv6ForwarderEnv {
  readonly stats: Ipv6Stats;
  readonly icmp: Icmpv6;
  readonly output: Ipv6Output;
  readonly table: InterfaceTable;
  readonly link: LinkLayer;
}

export class Ipv6Forwarder {
  readonly #env: Ipv6ForwarderEnv;

  constructor(env: Ipv6ForwarderEnv) {
    this.#env = env;
  }

  /**
   * A router forwards (RFC 8200 §3, RFC 4443): never link-local traffic (RFC 4291 §2.5.6),
   * Time Exceeded when the hop limit would reach 0, Packet Too Big when the next link is
   * too small (routers never fragment, RFC 8200 §5), Destination Unreachable with no route.
   */
  forward(a: Ipv6Arrival, pkt: Uint8Array): void {
    const { stats, icmp, output } = this.#env;
    if (isIpv6LinkLocal(a.dst) || isIpv6LinkLocal(a.src) || isIpv6Unspecified(a.src)) {
      stats.notForUs++;
      return;
    }
    if (a.hopLimit <= 1) {
      stats.hopLimitExceeded++;
      icmp.sendError(pkt, a, ICMPV6_TIME_EXCEEDED, ICMPV6_TIME_EXCEEDED_HOP_LIMIT);
      return;
    }
    const r = output.route(a.dst);
    if (typeof r === 'string' || r.local) {
      stats.noRoute++;
      icmp.sendError(pkt, a, ICMPV6_DEST_UNREACHABLE, ICMPV6_UNREACH_NO_ROUTE);
      return;
    }
    const mtu = output.pathMtu(r);
    // A TCP super-segment (come whole over a link carrying them, or a GRO run) is judged by the
    // segments it stands for (Linux ip6_pkt_too_big, skb_gso_validate_network_len), and leaves
    // whole or as those segments, even when it fits (as forward.ts for IPv4).
    const gsoSize = pkt.length >= 53 && pkt[6] === 6 ? superSegmentGsoSize(pkt) : 0;
    if (pkt.length > mtu && !(gsoSize > 0 && IPV6_HEADER_LEN + (pkt[52] >> 4) * 4 + gsoSize <= mtu)) {
      stats.tooBig++;
      icmp.sendError(pkt, a, ICMPV6_PACKET_TOO_BIG, 0, mtu);
      return;
    }
    // Deviation: checked before a device whose far end trusts it, as forward.ts for IPv4.
    if (
      gsoSize === 0 &&
      r.iface.device?.txChecksumOffload === true &&
      !checksumTrusted(a.iface) &&
      !transportChecksumValid(pkt, 'ip')
    ) {
      stats.outDiscards++;
      return;
    }
    const hr = r.linkRoom;
    const frame = gsoSize > 0 ? allocOwnFrame(hr + pkt.length, hr) : allocFrame(hr + pkt.length, hr);
    frame.set(pkt, hr);
    frame[hr + 7] = a.hopLimit - 1;
    if (gsoSize > 0) {
      stats.forwarded++;
      const dev = r.iface.device;
      if (dev !== null && dev.txChecksumOffload === true && (dev.gsoMaxSize ?? 0) >= pkt.length) {
        markSuperSegment(frame, gsoSize);
        output.linkOutput(r.iface, r.nextHop, frame.subarray(hr), hr === 0 ? undefined : frame, gsoSize);
        return;
      }
      const segs = segmentTcp(
        frame,
        hr,
        gsoSize,
        !(dev === null || dev.txChecksumOffload === true),
        allocFrame,
      );
      if (segs === null) {
        stats.outDiscards++;
        return;
      }
      for (const sg of segs)
        output.linkOutput(r.iface, r.nextHop, sg.subarray(hr), hr === 0 ? undefined : sg);
      return;
    }
    // Checksum offload: filled in for a device that needs it (as forward.ts for IPv4).
    if (checksumTrusted(a.iface) && !(r.iface.device === null || r.iface.device.txChecksumOffload === true))
      completeTransportChecksum(frame.subarray(hr));
    stats.forwarded++;
    output.linkOutput(r.iface, r.nextHop, frame.subarray(hr), hr === 0 ? undefined : frame);
  }

  /**
   * Forwards a group's packet out of the interfaces a static route names, hop limit
   * decremented (Linux ip6mr_forward2). No ICMPv6 error answers it (RFC 4443 §2.4 (e)): an
   * expiring hop limit or a link too small for it drops it, counted.
   */
  forwardMulticast(a: Ipv6Arrival, pkt: Uint8Array, outs: readonly string[]): void {
    const { stats, output, table, link } = this.#env;
    // RFC 4291 §2.5.6: a packet from a link-local (or unspecified) source never leaves its link.
    if (isIpv6LinkLocal(a.src) || isIpv6Unspecified(a.src)) return;
    if (a.hopLimit <= 1) {
      stats.hopLimitExceeded++;
      return;
    }
    for (const name of outs) {
      const out = table.get(name);
      if (out === undefined || !out.up || out.isLoopback || out === a.iface) continue;
      if (pkt.length > out.mtu) {
        stats.tooBig++;
        continue;
      }
      const hr = link.headroom(out);
      const frame = allocFrame(hr + pkt.length);
      frame.set(pkt, hr);
      frame[hr + 7] = a.hopLimit - 1;
      if (checksumTrusted(a.iface) && !(out.device === null || out.device.txChecksumOffload === true))
        completeTransportChecksum(frame.subarray(hr));
      stats.forwarded++;
      output.linkOutput(out, a.dst, frame.subarray(hr), hr === 0 ? undefined : frame);
    }
  }
}
