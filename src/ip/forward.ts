/**
 * IPv4 forwarding (RFC 1812): a datagram not addressed to us, on a stack with
 * forwarding on, goes out again with its TTL decremented, fragmented to the next
 * link's MTU when allowed, or answered with an ICMP error.
 */
import { checksumUpdate16 } from '../wire/checksum.ts';
import { isWireError } from '../wire/error.ts';
import { markSuperSegment, segmentTcp, superSegmentGsoSize } from '../wire/gso.ts';
import {
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_TIME_EXCEEDED,
  ICMPV4_UNREACH_FRAG_NEEDED,
  ICMPV4_UNREACH_NET,
} from '../wire/icmpv4.ts';
import { Ipv4View, parseIpv4Packet } from '../wire/ipv4.ts';
import { completeTransportChecksum } from '../wire/offload.ts';
import { transportChecksumValid } from '../wire/virtio-net.ts';
import { fragmentDatagram } from './fragment.ts';
import type { Icmpv4 } from './icmpv4.ts';
import type { NetInterface } from './interface.ts';
import type { InterfaceTable } from './interfaces.ts';
import { checksumTrusted } from './network.ts';
import type { Ipv4Output } from './output.ts';
import type { RouteTable } from './route.ts';
import type { StackStats } from './stats.ts';

export interface ForwarderEnv {
  readonly stats: StackStats;
  readonly interfaces: InterfaceTable;
  readonly routes: RouteTable;
  readonly output: Ipv4Output;
  readonly icmp: Icmpv4;
}

/**
 * The copy of `pkt` (view `v`, TTL above 1) that leaves through `out`: TTL decremented, the
 * header checksum updated, and the transport checksum completed when the sender left it to a
 * device and `out` needs it.
 */
function hopCopy(inIface: NetInterface, out: NetInterface, pkt: Uint8Array, v: Ipv4View): Uint8Array {
  const ttl = v.ttl;
  const copy = pkt.slice();
  const cv = new Ipv4View(copy);
  // RFC 1624 §3: HC' = ~(~HC + ~m + m') on the TTL/protocol word, no full recomputation.
  cv.ttl = ttl - 1;
  cv.checksum = checksumUpdate16(v.checksum, (ttl << 8) | v.protocol, ((ttl - 1) << 8) | v.protocol);
  // Checksum offload: a packet whose sender left its transport checksum to the device
  // leaves through one that needs it, so it is filled in here (Linux skb_checksum_help).
  if (checksumTrusted(inIface) && !(out.device === null || out.device.txChecksumOffload === true))
    completeTransportChecksum(copy);
  return copy;
}

export class Ipv4Forwarder {
  /** Forwarding is built in (forward-absent.ts, in the stack-alone bundle, refuses it). */
  static check(_on: boolean): void {}

  readonly #env: ForwarderEnv;

  constructor(env: ForwarderEnv) {
    this.#env = env;
  }

  /** Forwards `pkt` (checked, bounded by Total Length; `v` its view) that arrived on `inIface`. */
  forward(inIface: NetInterface, pkt: Uint8Array, v: Ipv4View, linkBroadcast: boolean): void {
    const { stats: all, routes, interfaces, output, icmp } = this.#env;
    const stats = all.ip;
    const meta = { iface: inIface, broadcast: false, linkBroadcast };
    // RFC 1812 §5.3.4: a router SHOULD NOT forward a packet that arrived as a link-layer broadcast.
    if (linkBroadcast || v.src === 0) {
      stats.notForUs++;
      return;
    }
    const ttl = v.ttl;
    // RFC 1812 §5.3.1: "If the TTL is reduced to zero (or less), the packet MUST be
    // discarded, and if the destination is not a multicast address the router MUST
    // send an ICMP Time Exceeded message, Code 0 (TTL Exceeded in Transit)".
    if (ttl <= 1) {
      stats.ttlExceeded++;
      icmp.sendError(pkt, meta, ICMPV4_TIME_EXCEEDED, 0);
      return;
    }
    const r = routes.lookup(v.dst, (x) => output.usable(x) && x.interface !== 'lo');
    if (!r) {
      stats.noRoute++;
      // RFC 1812 §5.2.7.1: no route → Destination Unreachable, network unreachable.
      icmp.sendError(pkt, meta, ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_NET);
      return;
    }
    const out = interfaces.get(r.interface)!;
    // Deviation: no ICMP redirects (RFC 1812 §5.2.7.2 makes them optional); we forward.
    if (r.gateway === undefined && out.isDirectedBroadcast(v.dst)) {
      // RFC 2644: directed broadcasts are not forwarded by default.
      stats.notForUs++;
      return;
    }
    const mtu = out.mtu;
    // A TCP super-segment (one that came whole over a link carrying them, Device.gsoMaxSize, or
    // a run our GRO built) is judged by the segments it stands for (Linux ip_exceeds_mtu,
    // skb_gso_validate_network_len), and leaves whole to a device that takes it, else as those
    // segments even when the whole would fit (Linux validate_xmit_skb): a GRO run carries its
    // first segment's checksum.
    const gsoSize = v.protocol === 6 ? superSegmentGsoSize(pkt) : 0;
    const ipHl = (pkt[0] & 0x0f) * 4;
    const segLen = gsoSize > 0 && pkt.length >= ipHl + 13 ? ipHl + (pkt[ipHl + 12] >> 4) * 4 + gsoSize : 0;
    const superSegment = gsoSize > 0 && segLen <= mtu;
    if (pkt.length > mtu && v.dontFragment && !superSegment) {
      stats.fragNeeded++;
      // RFC 1191 §4: the router "MUST include the MTU of that next-hop network in the
      // low-order 16 bits of the ICMP header field that is labelled 'unused'".
      icmp.sendError(pkt, meta, ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_FRAG_NEEDED, mtu);
      return;
    }
    // Deviation: Linux forwards a datagram with a wrong transport checksum and its receiver
    // drops it (the skb stays CHECKSUM_NONE, across a veth too). Our devices carry no checksum
    // state per frame: the far end of one that offloads checksums trusts every frame
    // (Device.txChecksumOffload), so a datagram that arrived unchecked (a GRO run's segments
    // were checked) is checked before it goes there, and dropped when wrong.
    if (
      gsoSize === 0 &&
      out.device?.txChecksumOffload === true &&
      !checksumTrusted(inIface) &&
      !transportChecksumValid(pkt, 'ip')
    ) {
      stats.outDiscards++;
      return;
    }
    const copy = hopCopy(inIface, out, pkt, v);
    const nextHop = r.gateway ?? v.dst;
    stats.forwarded++;
    if (copy.length <= mtu && !superSegment) {
      output.linkOutput(out, nextHop, copy, false);
      return;
    }
    if (superSegment) {
      const dev = out.device;
      if (dev !== null && dev.txChecksumOffload === true && (dev.gsoMaxSize ?? 0) >= copy.length) {
        markSuperSegment(copy, gsoSize);
        output.linkOutput(out, nextHop, copy, false, undefined, gsoSize);
        return;
      }
      const segs = segmentTcp(copy, 0, gsoSize, true);
      if (segs === null) {
        stats.malformed++;
        return;
      }
      for (const s of segs) output.linkOutput(out, nextHop, s, false);
      return;
    }
    const parsed = parseIpv4Packet(copy, { verifyChecksum: false });
    if (isWireError(parsed)) {
      stats.malformed++;
      return;
    }
    const frags = fragmentDatagram(parsed.repr, parsed.payload, mtu);
    if (!frags) {
      stats.fragFails++;
      return;
    }
    stats.fragOk++;
    stats.fragCreates += frags.length;
    for (const f of frags) output.linkOutput(out, nextHop, f, false);
  }

  /**
   * Forwards a group datagram (`pkt`, checked; `v` its view) that arrived on `inIface` out of
   * the interfaces a static multicast route names (mroute.ts), with the TTL decremented, as
   * Linux's ipmr_queue_xmit. The caller still delivers it locally when we are a member.
   */
  forwardMulticast(inIface: NetInterface, pkt: Uint8Array, v: Ipv4View, outs: readonly string[]): void {
    const { stats: all, interfaces, output } = this.#env;
    const stats = all.ip;
    const ttl = v.ttl;
    // RFC 1812 §5.3.1: a TTL that would reach zero discards the datagram, and no ICMP error
    // answers a multicast destination (§4.3.2.7).
    if (ttl <= 1) {
      stats.ttlExceeded++;
      return;
    }
    for (const name of outs) {
      const out = interfaces.get(name);
      if (out === undefined || !out.up || out.isLoopback || out === inIface) continue;
      const copy = hopCopy(inIface, out, pkt, v);
      if (copy.length <= out.mtu) {
        stats.forwarded++;
        output.linkOutput(out, v.dst, copy, false);
        continue;
      }
      // Too big for this link: fragmented when allowed; with DF dropped, without an ICMP
      // error (a multicast destination, RFC 1812 §4.3.2.7; Linux ipmr counts FRAGFAILS).
      const parsed = v.dontFragment ? undefined : parseIpv4Packet(copy, { verifyChecksum: false });
      const frags =
        parsed === undefined || isWireError(parsed)
          ? null
          : fragmentDatagram(parsed.repr, parsed.payload, out.mtu);
      if (!frags) {
        stats.fragFails++;
        continue;
      }
      stats.forwarded++;
      stats.fragOk++;
      stats.fragCreates += frags.length;
      for (const f of frags) output.linkOutput(out, v.dst, f, false);
    }
  }
}
