/**
 * IPv6 output: route selection (interface, next hop, source address by the rules of
 * RFC 6724 §5 that matter on a host: same scope, then the longest matching prefix), the
 * fixed header written in place in front of a transport segment, source fragmentation to
 * the path MTU (RFC 8200 §4.5, §5), and the hand-off to the link: the loopback queue, a
 * raw-IP device, a multicast MAC (RFC 2464 §7), or Ethernet through NDP's neighbour cache.
 */
import { allocFrame } from '../link/frame-alloc.ts';
import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { IpAddress } from '../wire/address.ts';
import { pseudoHeaderSumV6 } from '../wire/checksum.ts';
import { ETHERTYPE_IPV6 } from '../wire/ethernet.ts';
import { segmentTcp } from '../wire/gso.ts';
import { emitIpv6, IPV6_HEADER_LEN } from '../wire/ipv6.ts';
import {
  IPV6_LOOPBACK,
  ipv6CommonPrefixLength,
  ipv6Key,
  ipv6MulticastMac,
  isIpv6LinkLocal,
  isIpv6LinkScopeMulticast,
  isIpv6Loopback,
  isIpv6Multicast,
  isIpv6Unspecified,
} from '../wire/ipv6-address.ts';
import type { LinkLayer } from './ethernet.ts';
import type { NetInterface } from './interface.ts';
import type { InterfaceTable } from './interfaces.ts';
import { fragmentIpv6 } from './ipv6-fragment.ts';
import type { Ipv6Interface } from './ipv6-iface.ts';
import type { Ipv6PmtuCache } from './ipv6-pmtu.ts';
import type { Ipv6RouteTable } from './ipv6-route.ts';
import type { Ipv6Stats } from './ipv6-stats.ts';
import type { NetRoute, RouteError, SendError, SendOptions } from './network.ts';

export const DEFAULT_HOP_LIMIT = 64;

/** Where an IPv6 packet to some destination goes. */
export class Ipv6Route implements NetRoute {
  readonly family = 6 as const;
  readonly iface: NetInterface;
  readonly nextHop: Uint8Array;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly broadcast = false;
  readonly local: boolean;
  readonly linkRoom: number;
  readonly mtu: number;
  readonly source: IpAddress;
  readonly destination: IpAddress;

  constructor(
    iface: NetInterface,
    nextHop: Uint8Array,
    src: Uint8Array,
    dst: Uint8Array,
    local: boolean,
    linkRoom: number,
    mtu: number,
  ) {
    this.iface = iface;
    this.nextHop = nextHop;
    this.src = src;
    this.dst = dst;
    this.local = local;
    this.linkRoom = linkRoom;
    this.mtu = mtu;
    // RFC 4007 §6: link-local addresses on a link are known with its zone (the interface).
    const zone = local ? undefined : iface.ifindex;
    this.source =
      zone !== undefined && isIpv6LinkLocal(src)
        ? { family: 6, v6: src, scope: zone }
        : { family: 6, v6: src };
    this.destination =
      zone !== undefined && isIpv6LinkLocal(dst)
        ? { family: 6, v6: dst, scope: zone }
        : { family: 6, v6: dst };
  }

  get headerRoom(): number {
    return this.linkRoom + IPV6_HEADER_LEN;
  }

  pseudoHeaderSum(protocol: number, length: number): number {
    return pseudoHeaderSumV6(this.src, this.dst, protocol, length);
  }
}

export interface Ipv6OutputEnv {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly stats: Ipv6Stats;
  readonly interfaces: InterfaceTable;
  readonly routes: Ipv6RouteTable;
  readonly link: LinkLayer;
  readonly pmtu: Ipv6PmtuCache;
  state(iface: NetInterface): Ipv6Interface | undefined;
  defaultHopLimit(): number;
  /** Is `a` a usable address of ours (any interface)? */
  isLocal(a: Uint8Array): boolean;
}

/**
 * ipv6(7) IPV6_MULTICAST_LOOP (default on): a packet to a group the outgoing interface
 * joined (and whose filter lets our source in) is delivered here too, through the loopback
 * queue (Linux ip6_finish_output2 loops a copy when "sk_mc_loop(sk) &&
 * ipv6_chk_mcast_addr(dev, daddr, saddr)"). Never for a packet already going out of lo.
 */
function loopsMulticast(st: Ipv6Interface | undefined, route: Ipv6Route, opts: SendOptions): boolean {
  return (
    st !== undefined &&
    opts.multicastLoop !== false &&
    !route.iface.isLoopback &&
    isIpv6Multicast(route.dst) &&
    st.groups.accepts(route.dst, route.src)
  );
}

export class Ipv6Output {
  readonly #env: Ipv6OutputEnv;

  constructor(env: Ipv6OutputEnv) {
    this.#env = env;
  }

  /** The route to `dst`; `src` (unless unspecified) is kept as the source; `ifname` pins the interface. */
  route(dst: Uint8Array, src?: Uint8Array, ifname?: string): Ipv6Route | RouteError {
    const env = this.#env;
    const lo = env.interfaces.loopback;
    const wantSrc = src !== undefined && !isIpv6Unspecified(src) ? src : undefined;
    // A source that is not ours is allowed only out of a transparent interface, where a
    // gateway answers for every address beyond the link (NetInterface.transparent).
    const foreignSrc = wantSrc !== undefined && !env.isLocal(wantSrc);
    if (isIpv6Loopback(dst) || (!isIpv6Multicast(dst) && env.isLocal(dst))) {
      if (foreignSrc) return 'EADDRNOTAVAIL';
      if (!lo.up) return 'ENETDOWN';
      return new Ipv6Route(
        lo,
        dst,
        wantSrc ?? (isIpv6Loopback(dst) ? IPV6_LOOPBACK : dst),
        dst,
        true,
        0,
        lo.mtu,
      );
    }
    const r = env.routes.lookup(dst, (x) => {
      if (ifname !== undefined && x.interface !== ifname) return false;
      const i = env.interfaces.get(x.interface);
      return i?.up === true && env.state(i) !== undefined;
    });
    if (!r) {
      env.stats.noRoute++;
      return 'ENETUNREACH';
    }
    const iface = env.interfaces.get(r.interface)!;
    if (foreignSrc && !iface.transparent) return 'EADDRNOTAVAIL';
    const st = env.state(iface)!;
    const source = wantSrc ?? this.selectSource(st, dst);
    if (source === undefined) return 'EADDRNOTAVAIL';
    const linkRoom = env.link.headroom(iface);
    return new Ipv6Route(iface, r.gateway ?? dst, source, dst, false, linkRoom, st.mtu);
  }

  /**
   * RFC 6724 §5, the rules that decide on a host: a usable address (rule 3: not
   * deprecated when another will do), of the destination's scope (rule 2: link-local for
   * link-local and link-scope multicast destinations), with the longest common prefix
   * (rule 8). Falls back to any global address of ours (the weak host model).
   */
  selectSource(st: Ipv6Interface, dst: Uint8Array): Uint8Array | undefined {
    if (isIpv6LinkLocal(dst) || isIpv6LinkScopeMulticast(dst)) return st.linkLocal;
    let best: Uint8Array | undefined;
    let bestScore = -1;
    for (const a of st.addresses) {
      if (a.state !== 'preferred' && a.state !== 'deprecated') continue;
      if (isIpv6LinkLocal(a.address)) continue;
      const score = (a.state === 'preferred' ? 1000 : 0) + ipv6CommonPrefixLength(a.address, dst);
      if (score > bestScore) {
        best = a.address;
        bestScore = score;
      }
    }
    if (best !== undefined) return best;
    for (const i of this.#env.interfaces.list) {
      const o = this.#env.state(i);
      if (!o || i.isLoopback) continue;
      for (const a of o.addresses)
        if (a.state === 'preferred' && !isIpv6LinkLocal(a.address)) return a.address;
    }
    return st.linkLocal;
  }

  /** The path MTU towards `dst` along `route`. */
  pathMtu(route: Ipv6Route): number {
    if (route.local) return route.mtu;
    const p = this.#env.pmtu.get(route.dst, this.#env.clock.now());
    return p !== undefined ? Math.min(route.mtu, p) : route.mtu;
  }

  /**
   * Sends a packet laid out in its frame: `route.linkRoom` free bytes, 40 free bytes for
   * the fixed header, then `nextHeader`'s bytes (checksum done). Fragments (RFC 8200 §4.5)
   * when the packet exceeds the path MTU, unless `dontFragment` (IPV6_DONTFRAG): EMSGSIZE.
   * `gsoSize`: a TCP super-segment (checksum left out, see NetworkLayer.sendInPlace), which
   * goes whole to a device that takes it (GSO_TCPV6), else as its segments; never fragmented.
   */
  sendInPlace(
    route: Ipv6Route,
    opts: SendOptions,
    frame: Uint8Array,
    gsoSize?: number,
  ): SendError | undefined {
    const env = this.#env;
    const hr = route.linkRoom;
    const pl = frame.length - hr - IPV6_HEADER_LEN;
    if (pl > 0xffff) {
      env.stats.fragFails++;
      return 'EMSGSIZE';
    }
    const st = env.state(route.iface);
    const hopLimit = opts.ttl ?? (isIpv6Multicast(route.dst) ? 1 : (st?.hopLimit ?? env.defaultHopLimit()));
    emitIpv6(
      {
        trafficClass: ((opts.dscp ?? 0) << 2) | (opts.ecn ?? 0),
        flowLabel: 0,
        payloadLength: pl,
        nextHeader: opts.protocol,
        hopLimit,
        src: route.src,
        dst: route.dst,
      },
      frame,
      hr,
    );
    env.stats.sent++;
    const mtu = this.pathMtu(route);
    const pkt = hr === 0 ? frame : frame.subarray(hr);
    const loop = loopsMulticast(st, route, opts);
    if (pkt.length <= mtu) {
      if (loop) env.interfaces.enqueue(env.interfaces.loopback, pkt.slice());
      return this.linkOutput(route.iface, route.nextHop, pkt, hr === 0 ? undefined : frame);
    }
    if (gsoSize !== undefined && !route.local && !isIpv6Multicast(route.dst)) {
      // A TCP super-segment: whole to a device that takes it and whose MTU its segments fit
      // (the kernel's GSO_TCPV6), else cut here into those segments (software GSO).
      const dev = route.iface.device;
      const segLen = IPV6_HEADER_LEN + (pkt[IPV6_HEADER_LEN + 12] >> 4) * 4 + gsoSize;
      if (segLen > mtu) {
        env.stats.fragFails++;
        return 'EMSGSIZE';
      }
      if (dev !== null && dev.txChecksumOffload === true && (dev.gsoMaxSize ?? 0) >= pkt.length)
        return this.linkOutput(route.iface, route.nextHop, pkt, hr === 0 ? undefined : frame, gsoSize);
      return this.#softwareSegments(route.iface, route.nextHop, frame, hr, gsoSize);
    }
    if (opts.dontFragment) {
      env.stats.fragFails++;
      return 'EMSGSIZE';
    }
    const frags = fragmentIpv6(
      pkt.subarray(0, IPV6_HEADER_LEN),
      6,
      pkt.subarray(IPV6_HEADER_LEN),
      mtu,
      env.rng.nextU32(),
      hr,
    );
    if (!frags) {
      env.stats.fragFails++;
      return 'EMSGSIZE';
    }
    env.stats.fragOk++;
    env.stats.fragCreates += frags.length;
    let err: SendError | undefined;
    for (const f of frags) {
      if (loop) env.interfaces.enqueue(env.interfaces.loopback, f.slice(hr));
      err = this.linkOutput(route.iface, route.nextHop, f.subarray(hr), hr ? f : undefined) ?? err;
    }
    return err;
  }

  /**
   * Sends a whole packet (fixed header first) out of `iface` to `nextHop` (the
   * destination itself for NDP, MLD and on-link traffic).
   */
  sendPacket(iface: NetInterface, nextHop: Uint8Array, packet: Uint8Array): SendError | undefined {
    const hr = this.#env.link.headroom(iface);
    if (iface.isLoopback || hr === 0) return this.linkOutput(iface, nextHop, packet);
    const frame = allocFrame(hr + packet.length);
    frame.set(packet, hr);
    this.#env.stats.sent++;
    return this.linkOutput(iface, nextHop, frame.subarray(hr), frame);
  }

  /**
   * Software GSO (the kernel's skb_gso_segment): the super-segment whose IPv6 header starts
   * at `frame[hr]` goes out as its segments, each with the same room in front and its
   * checksums filled in unless the device offloads them.
   */
  #softwareSegments(
    iface: NetInterface,
    nextHop: Uint8Array,
    frame: Uint8Array,
    hr: number,
    gsoSize: number,
  ): SendError | undefined {
    const dev = iface.device;
    const segs = segmentTcp(
      frame,
      hr,
      gsoSize,
      !(dev === null || dev.txChecksumOffload === true),
      allocFrame,
    );
    if (segs === null) {
      this.#env.stats.outDiscards++;
      return 'EMSGSIZE';
    }
    this.#env.stats.sent += segs.length - 1;
    let err: SendError | undefined;
    for (const s of segs)
      err = this.linkOutput(iface, nextHop, hr === 0 ? s : s.subarray(hr), hr === 0 ? undefined : s) ?? err;
    return err;
  }

  /**
   * Hands a finished packet to the link. `frame`, when given, has the link header's room in
   * front of `pkt`; `gsoSize`: `pkt` is a TCP super-segment for a device that takes it whole.
   */
  linkOutput(
    iface: NetInterface,
    nextHop: Uint8Array,
    pkt: Uint8Array,
    frame?: Uint8Array,
    gsoSize?: number,
  ): SendError | undefined {
    const env = this.#env;
    if (!iface.up) {
      env.stats.interfaceDown++;
      return 'ENETDOWN';
    }
    if (iface.isLoopback) {
      env.interfaces.enqueue(iface, pkt);
      return undefined;
    }
    if (iface.device!.linkType === 'ip') {
      env.link.transmitRaw(iface, pkt, gsoSize);
      return undefined;
    }
    if (isIpv6Multicast(nextHop)) {
      env.link.transmit(iface, ipv6MulticastMac(nextHop), ETHERTYPE_IPV6, pkt, frame);
      return undefined;
    }
    const ndp = env.state(iface)?.ndp;
    if (!ndp) {
      env.stats.outDiscards++;
      return 'ENETDOWN';
    }
    const key = ipv6Key(nextHop);
    const mac = ndp.resolved(key);
    if (mac !== undefined) {
      env.link.transmit(iface, mac, ETHERTYPE_IPV6, pkt, frame, gsoSize);
      return undefined;
    }
    // A super-segment waits for NDP as the segments it stands for (the pending queue keeps no gso size).
    if (gsoSize !== undefined) return this.#softwareSegments(iface, nextHop, pkt, 0, gsoSize);
    if (!ndp.send(key, frame === undefined ? { bytes: pkt } : { bytes: pkt, frame })) {
      env.stats.outDiscards++;
      return 'ENOBUFS';
    }
    return undefined;
  }
}
