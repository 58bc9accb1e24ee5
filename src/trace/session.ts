/**
 * Shared machinery of what runs conversations on the built-in
 * virtual network and shows them (the CLI's demo, nc, serve; the course page, src/web):
 *
 * - `buildWatchedNetwork`: the two-subnet network of topology.ts, with the
 *   client's and the server's interface both tapped (one pcapng interface per
 *   subnet) and every tapped frame handed to a live callback;
 * - `FrameLabeller`: names each frame for a reader ("ARP: who has 10.0.1.1?",
 *   "1/3 handshake: SYN", "data: client → server 'Hello'", "FIN from client",
 *   "retransmission", "IP fragment 2/3"), and recognises the router's forwarded
 *   copy of a datagram on the second subnet (same IP id, TTL one lower);
 * - `connectionOf`: the TCP connection behind a socket (for state and TCP info).
 */
import type { Device, LinkType } from '../link/device.ts';
import type { Impairments } from '../link/impair.ts';
import { Cable } from '../link/memory.ts';
import { type CaptureWriter, captureDevice, type Direction } from '../link/pcap.ts';
import { Simulation } from '../link/sim.ts';
import type { Socket } from '../socket/socket.ts';
import { Stack } from '../stack.ts';
import type { TcpConnection } from '../tcp/connection.ts';
import type { Instant } from '../time/instant.ts';
import { formatIpv4, ipEquals, parseIp, parseIpv4 } from '../wire/address.ts';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.ts';
import { type TcpObservation, TcpTracker } from './conversation.ts';
import type { Dissection, Ipv6Layer } from './dissect.ts';
import { dissect } from './dissect.ts';

export const CLIENT_ADDR = '10.0.1.2';
export const SERVER_ADDR = '10.0.2.2';
export const ROUTER_A_ADDR = '10.0.1.1';
export const ROUTER_B_ADDR = '10.0.2.1';
export const SUBNET_A = '10.0.1.0/24';
export const SUBNET_B = '10.0.2.0/24';
/** The same hosts on IPv6 (`ipv6: true`): two ULA prefixes. */
export const CLIENT_ADDR6 = 'fd00:1::2';
export const SERVER_ADDR6 = 'fd00:2::2';
export const ROUTER_A_ADDR6 = 'fd00:1::1';
export const ROUTER_B_ADDR6 = 'fd00:2::1';
export const SUBNET_A6 = 'fd00:1::/64';
export const SUBNET_B6 = 'fd00:2::/64';

// ------------------------------------------------------------------ the network

/** One frame seen on a tapped interface. */
export interface TappedFrame {
  readonly time: Instant;
  readonly data: Uint8Array;
  /** 0: the client's subnet (10.0.1.0/24), 1: the server's (10.0.2.0/24). */
  readonly subnet: 0 | 1;
  /** As seen from the tapped host: 'out' = it sent the frame. */
  readonly direction: Direction;
}

export interface WatchedNetworkOptions {
  seed?: number;
  /** One-way delay of each link, µs. Default 500 (a 2 ms round trip client–server). */
  delay?: number;
  /** Impairments of both directions of link A (client–router). */
  linkA?: Impairments;
  /** Impairments of both directions of link B (router–server). */
  linkB?: Impairments;
  /** IP MTU of link A / link B. Default 1500. */
  mtuA?: number;
  mtuB?: number;
  /** Also record every tapped frame here (pcapng: one interface per subnet). */
  writer?: CaptureWriter;
  /** Called for every tapped frame, while the simulation runs. */
  onFrame?: (f: TappedFrame) => void;
  /** Also number the hosts in IPv6 (fd00:1::/64, fd00:2::/64, static routes). */
  ipv6?: boolean;
}

export interface WatchedNetwork {
  readonly sim: Simulation;
  readonly client: Stack;
  readonly router: Stack;
  readonly server: Stack;
  readonly linkA: Cable;
  readonly linkB: Cable;
  /** Frames are reported (and recorded) only while this is true; false while the network settles. */
  watching: boolean;
}

/** A CaptureWriter that forwards to an optional writer and to a callback, and can be paused. */
class Tap implements CaptureWriter {
  readonly #writer: CaptureWriter | undefined;
  readonly #onFrame: ((f: TappedFrame) => void) | undefined;
  readonly #subnetOf: number[] = [];
  readonly #state: { watching: boolean };
  constructor(
    writer: CaptureWriter | undefined,
    onFrame: ((f: TappedFrame) => void) | undefined,
    state: { watching: boolean },
  ) {
    this.#writer = writer;
    this.#onFrame = onFrame;
    this.#state = state;
  }
  interfaceFor(name: string, linkType: LinkType): number {
    const i = this.#writer ? this.#writer.interfaceFor(name, linkType) : this.#subnetOf.length;
    this.#subnetOf[i] = name.startsWith('server') ? 1 : 0;
    return i;
  }
  writePacket(time: Instant, data: Uint8Array, iface = 0, direction: Direction = 'out'): void {
    if (!this.#state.watching) return;
    this.#writer?.writePacket(time, data, iface, direction);
    this.#onFrame?.({ time, data: data.slice(), subnet: (this.#subnetOf[iface] ?? 0) as 0 | 1, direction });
  }
}

/**
 *   client 10.0.1.2 ── link A ── 10.0.1.1 router 10.0.2.1 ── link B ── 10.0.2.2 server
 *
 * Taps the client's interface (subnet A) and the server's (subnet B). Returns with
 * the gratuitous ARPs settled and `watching` on, and the neighbour caches empty, so
 * the first conversation starts with ARP.
 */
export function buildWatchedNetwork(opts: WatchedNetworkOptions = {}): WatchedNetwork {
  const sim = new Simulation({ seed: opts.seed ?? 1 });
  const delay = opts.delay ?? 500;
  // Both directions of a link: the same delay and impairments.
  const cable = (names: readonly [string, string], mtu = 1500, link?: Impairments) =>
    sim.add(
      new Cable({
        clock: sim.clock,
        rng: sim.rng.fork(),
        names,
        mtu,
        aToB: { delay, ...link },
        bToA: { delay, ...link },
      }),
    );
  const linkA = cable(['client.eth0', 'router.eth0'], opts.mtuA, opts.linkA);
  const linkB = cable(['router.eth1', 'server.eth0'], opts.mtuB, opts.linkB);
  // The server runs its services as root would (ports below 1024: echo 7, http 80).
  const stack = (name: string, forwarding = false, privileged = false) =>
    sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name, forwarding, privileged }));
  const client = stack('client');
  const router = stack('router', true);
  const server = stack('server', false, true);
  const state = { watching: false };
  const tap = new Tap(opts.writer, opts.onFrame, state);
  const clientDev: Device = captureDevice(linkA.a, tap, sim.clock);
  const serverDev: Device = captureDevice(linkB.b, tap, sim.clock);
  client.addInterface({ name: 'eth0', device: clientDev, addresses: [`${CLIENT_ADDR}/24`] });
  client.addRoute({ destination: '0.0.0.0/0', gateway: ROUTER_A_ADDR });
  router.addInterface({ name: 'eth0', device: linkA.b, addresses: [`${ROUTER_A_ADDR}/24`] });
  router.addInterface({ name: 'eth1', device: linkB.a, addresses: [`${ROUTER_B_ADDR}/24`] });
  server.addInterface({ name: 'eth0', device: serverDev, addresses: [`${SERVER_ADDR}/24`] });
  server.addRoute({ destination: '0.0.0.0/0', gateway: ROUTER_B_ADDR });
  if (opts.ipv6) {
    client.addAddress('eth0', `${CLIENT_ADDR6}/64`);
    client.addRoute({ destination: '::/0', gateway: ROUTER_A_ADDR6 });
    router.addAddress('eth0', `${ROUTER_A_ADDR6}/64`);
    router.addAddress('eth1', `${ROUTER_B_ADDR6}/64`);
    server.addAddress('eth0', `${SERVER_ADDR6}/64`);
    server.addRoute({ destination: '::/0', gateway: ROUTER_B_ADDR6 });
  }
  // Gratuitous ARPs (and IPv6's duplicate address detection) settle unwatched.
  sim.runUntilIdle();
  const net: WatchedNetwork = {
    sim,
    client,
    router,
    server,
    linkA,
    linkB,
    get watching() {
      return state.watching;
    },
    set watching(on: boolean) {
      state.watching = on;
    },
  };
  net.watching = true;
  return net;
}

// ------------------------------------------------------------------ sockets ↔ connections

/** The TCP connection of a connected stream socket on `stack` (by its 4-tuple), if any. */
export function connectionOf(stack: Stack, sock: Socket): TcpConnection | undefined {
  let local: [string, number];
  let peer: [string, number];
  try {
    local = sock.getsockname() as [string, number];
    peer = sock.getpeername() as [string, number];
  } catch {
    return undefined;
  }
  return findConnection(stack, local[1], peer[0], peer[1]);
}

/** The connection on `stack` with this local port and peer. */
export function findConnection(
  stack: Stack,
  localPort: number,
  peerHost?: string,
  peerPort?: number,
): TcpConnection | undefined {
  const want = peerHost === undefined ? undefined : parseIp(peerHost);
  let found: TcpConnection | undefined;
  for (const c of stack.tcp.connections()) {
    if (c.local.port !== localPort) continue;
    if (peerPort !== undefined && c.remote.port !== peerPort) continue;
    if (want !== undefined && !ipEquals(c.remote.address, want)) continue;
    found = c;
  }
  return found;
}

/**
 * Watches the TCP states of every connection on some stacks and reports changes
 * ("client: ESTABLISHED"). Call `check()` whenever something may have happened.
 */
export class StateWatcher {
  readonly #stacks: readonly { name: string; stack: Stack }[];
  readonly #last = new Map<TcpConnection, string>();
  constructor(stacks: readonly { name: string; stack: Stack }[]) {
    this.#stacks = stacks;
  }
  /** Changes since the last call, as "name: STATE" lines (with the old state). */
  check(): { who: string; from: string | undefined; to: string; conn: TcpConnection }[] {
    const out: { who: string; from: string | undefined; to: string; conn: TcpConnection }[] = [];
    const seen = new Set<TcpConnection>();
    for (const { name, stack } of this.#stacks) {
      for (const c of stack.tcp.connections()) {
        seen.add(c);
        const prev = this.#last.get(c);
        if (prev !== c.state) {
          out.push({ who: name, from: prev, to: c.state, conn: c });
          this.#last.set(c, c.state);
        }
      }
    }
    for (const [c, prev] of [...this.#last]) {
      if (!seen.has(c)) {
        this.#last.delete(c);
        if (prev !== 'CLOSED') {
          const who = this.#stacks.find((s) => s.stack.tcp === c.layer)?.name ?? 'host';
          out.push({ who, from: prev, to: 'CLOSED', conn: c });
        }
      }
    }
    return out;
  }
  /** Connections being watched that are not yet CLOSED. */
  get active(): number {
    let n = 0;
    for (const s of this.#last.values()) if (s !== 'CLOSED') n++;
    return n;
  }
  /** Marks the current states as known without reporting them. */
  sync(): void {
    this.check();
  }
}

// ------------------------------------------------------------------ labelling frames

export interface FrameLabel {
  /** What the frame is, for a reader. */
  readonly label: string;
  /** Extra lines (forwarding, fragment detail). */
  readonly notes: readonly string[];
  readonly tcp: TcpObservation | undefined;
  readonly dissection: Dissection;
  readonly retransmission: boolean;
  readonly fragment: boolean;
  readonly forwarded: boolean;
}

interface Origin {
  readonly subnet: 0 | 1;
  readonly ttl: number;
  readonly label: string;
  readonly retransmission: boolean;
}

const SUBNET_NAMES = ['10.0.1.0/24', '10.0.2.0/24'] as const;
const SUBNET_NAMES6 = [SUBNET_A6, SUBNET_B6] as const;

/** What the IPv6 labeller remembers of a TCP 4-tuple: enough to name the handshake's steps. */
interface Ipv6Stream {
  synAck: boolean;
  established: boolean;
  isn: number;
  peerIsn: number;
}

function quote(bytes: Uint8Array, max = 40): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, max));
  const printable = text.replace(/[^\x20-\x7e]/g, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : '.',
  );
  return `'${printable}${bytes.length > max ? '…' : ''}'`;
}

/**
 * Names frames for a reader. Feed every tapped frame in order. Each subnet has its
 * own TCP tracker (so the router's copy of a segment is not a "retransmission");
 * a datagram seen first on one subnet and then on the other (same src, dst,
 * protocol, id and fragment offset) is the router's forwarded copy and keeps the
 * first sighting's label.
 */
export class FrameLabeller {
  readonly #trackers = [new TcpTracker(), new TcpTracker()];
  readonly #origins = new Map<string, Origin>();
  readonly #names: Map<number, string>;
  readonly #fragCount = new Map<string, number>();
  readonly #highest = new Map<string, number>();
  /** Subnet and TTL where each IP datagram (by src, dst, protocol, id) was first seen. */
  readonly #datagrams = new Map<string, { subnet: 0 | 1; ttl: number }>();
  /** Bytes of data seen per direction key, to say "bytes 1–536". */
  constructor(
    names: Readonly<Record<string, string>> = { [CLIENT_ADDR]: 'client', [SERVER_ADDR]: 'server' },
  ) {
    this.#names = new Map(Object.entries(names).map(([a, n]) => [parseIpv4(a) ?? 0, n]));
  }

  #who(addr: number): string {
    return this.#names.get(addr) ?? formatIpv4(addr);
  }

  readonly #names6 = new Map<string, string>([
    [CLIENT_ADDR6, 'client'],
    [SERVER_ADDR6, 'server'],
    [ROUTER_A_ADDR6, 'router'],
    [ROUTER_B_ADDR6, 'router'],
  ]);
  readonly #streams6 = new Map<string, Ipv6Stream>();

  label(f: TappedFrame): FrameLabel {
    const d = dissect(f.data, 'ethernet');
    if (d.ip6) return this.#labelIpv6(f, d, d.ip6);
    const notes: string[] = [];
    const tcpObs = this.#trackers[f.subnet].observe(d, f.time);
    const ip = d.ip;
    if (d.arp) {
      const a = d.arp;
      const label =
        a.op === 'request'
          ? a.senderIp === a.targetIp
            ? `ARP: gratuitous announcement of ${a.senderIp}`
            : `ARP: who has ${a.targetIp}? tell ${a.senderIp}`
          : a.op === 'reply'
            ? `ARP: ${a.senderIp} is at ${a.senderMac}`
            : `ARP op ${a.op}`;
      return {
        label,
        notes,
        tcp: undefined,
        dissection: d,
        retransmission: false,
        fragment: false,
        forwarded: false,
      };
    }
    if (!ip) {
      return {
        label: 'frame',
        notes,
        tcp: undefined,
        dissection: d,
        retransmission: false,
        fragment: false,
        forwarded: false,
      };
    }
    // Where this segment falls relative to what this subnet has already seen of its stream.
    let order: 'in' | 'ahead' | 'late' = 'in';
    let prevHigh: number | undefined;
    if (tcpObs && tcpObs.seqLength > 0) {
      const hk = `${f.subnet}|${tcpObs.conversation.index}|${tcpObs.direction}`;
      prevHigh = this.#highest.get(hk);
      const end = tcpObs.relSeq + tcpObs.seqLength;
      if (prevHigh !== undefined && tcpObs.relSeq > prevHigh) order = 'ahead';
      else if (prevHigh !== undefined && tcpObs.relSeq < prevHigh) order = 'late';
      if (prevHigh === undefined || end > prevHigh) this.#highest.set(hk, end);
    }
    const key = `${ip.src}>${ip.dst}/${ip.protocol}#${ip.id}@${ip.fragmentOffset}+${ip.totalLength}`;
    const idKey = `${ip.src}>${ip.dst}/${ip.protocol}#${ip.id}`;
    const origin = this.#origins.get(key);
    const fragment = ip.mf || ip.fragmentOffset > 0;
    if (origin && origin.subnet !== f.subnet) {
      notes.push(
        `forwarded by the router from ${SUBNET_NAMES[origin.subnet]} to ${SUBNET_NAMES[f.subnet]}: TTL ${origin.ttl} → ${ip.ttl}, new MACs, same IP id 0x${ip.id.toString(16).padStart(4, '0')}`,
      );
      let label = origin.label;
      if (order === 'ahead')
        label += ` · out of order: arrived before bytes ${prevHigh}–${(tcpObs?.relSeq ?? 1) - 1}`;
      else if (order === 'late' && !origin.retransmission) label += ' · out of order: overtaken on the way';
      return {
        label,
        notes,
        tcp: tcpObs,
        dissection: d,
        retransmission: origin.retransmission,
        fragment,
        forwarded: true,
      };
    }
    let label: string;
    let retransmission = false;
    const from = this.#who(ip.src);
    const to = this.#who(ip.dst);
    const first = this.#datagrams.get(idKey);
    const refragmented = first !== undefined && first.subnet !== f.subnet;
    if (fragment) {
      const fk = `${f.subnet}|${idKey}`;
      const n = (this.#fragCount.get(fk) ?? 0) + 1;
      this.#fragCount.set(fk, n);
      const end = ip.fragmentOffset + ip.totalLength - ip.headerLength;
      const idHex = `0x${ip.id.toString(16).padStart(4, '0')}`;
      label = `IP fragment ${n}${ip.mf ? '' : ' (last)'}: ${from} → ${to}, bytes ${ip.fragmentOffset}–${end - 1} of datagram ${idHex}`;
      if (ip.fragmentOffset === 0 && d.udp) label += `, UDP ${d.udp.srcPort} → ${d.udp.dstPort}`;
      if (refragmented)
        notes.push(
          `the router fragmented it again to fit ${SUBNET_NAMES[f.subnet]}: TTL ${first.ttl} → ${ip.ttl}, offsets still count from the original datagram`,
        );
      notes.push(
        `offset ${ip.fragmentOffset}, ${ip.mf ? 'MF set: more fragments follow' : 'MF clear: the last piece'}; only the destination reassembles`,
      );
    } else if (d.tcp && tcpObs) {
      const t = d.tcp;
      const parts: string[] = [];
      const ev = tcpObs.events;
      if (ev.includes('syn')) parts.push(`1/3 handshake: SYN (${from} → ${to})`);
      else if (ev.includes('syn-ack')) parts.push(`2/3 handshake: SYN-ACK (${from} → ${to})`);
      else if (ev.includes('handshake-ack')) parts.push(`3/3 handshake: ACK (${from} → ${to})`);
      if (t.payloadLength > 0) {
        const start = tcpObs.relSeq;
        const bytes = d.payload ?? new Uint8Array(0);
        parts.push(
          `data: ${from} → ${to} ${quote(bytes)}${t.payloadLength > 40 ? ` (${t.payloadLength} bytes, stream bytes ${start}–${start + t.payloadLength - 1})` : ''}`,
        );
      }
      if ((t.flags & TCP_FIN) !== 0) parts.push(`FIN from ${from}`);
      if ((t.flags & TCP_RST) !== 0) parts.push(`RST from ${from}`);
      if (ev.includes('retransmission')) {
        parts.unshift('retransmission');
        retransmission = true;
      }
      if (ev.includes('dup-ack')) parts.push(`duplicate ACK from ${from}`);
      if (ev.includes('zero-window')) parts.push('zero window');
      if (ev.includes('keep-alive')) parts.push('keep-alive');
      if (parts.length === 0 || (parts.length === 1 && ev.includes('window-update'))) {
        if ((t.flags & (TCP_SYN | TCP_FIN | TCP_RST)) === 0 && (t.flags & TCP_ACK) !== 0) {
          const peer = tcpObs.direction === 'a2b' ? tcpObs.conversation.b2a : tcpObs.conversation.a2b;
          const ack = tcpObs.relAck;
          const what =
            ack === undefined
              ? ''
              : peer.sawFin && ack === peer.maxSeqEnd
                ? ` for the ${to}'s FIN`
                : `: ${to}'s bytes 1–${ack - 1} received`;
          parts.push(`ACK from ${from}${what}${ev.includes('window-update') ? ' (window update)' : ''}`);
        } else parts.push(`TCP ${from} → ${to}`);
      }
      label = parts.join(' · ');
    } else if (d.udp) {
      const bytes = d.payload ?? new Uint8Array(0);
      label = `UDP datagram: ${from}:${d.udp.srcPort} → ${to}:${d.udp.dstPort} ${quote(bytes)}`;
    } else if (d.icmp) {
      const i = d.icmp;
      label = `ICMP ${i.typeName}${i.codeName ? ` (${i.codeName})` : ''}: ${from} → ${to}`;
      if (i.nextHopMtu !== undefined) label += `, next-hop MTU ${i.nextHopMtu}`;
    } else label = `IP ${from} → ${to}`;
    this.#origins.set(key, { subnet: f.subnet, ttl: ip.ttl, label, retransmission });
    if (!first) this.#datagrams.set(idKey, { subnet: f.subnet, ttl: ip.ttl });
    if (this.#datagrams.size > 50_000) this.#datagrams.delete(this.#datagrams.keys().next().value as string);
    if (this.#origins.size > 50_000) this.#origins.delete(this.#origins.keys().next().value as string);
    return { label, notes, tcp: tcpObs, dissection: d, retransmission, fragment, forwarded: refragmented };
  }

  /**
   * An IPv6 packet: NDP and MLD by their message, TCP by its flags (the handshake's three
   * steps, data, FIN, RST; sequence numbers relative to each side's ISN), UDP and ICMPv6
   * echo. A packet seen again on the other subnet with the hop limit one lower is the
   * router's forwarded copy (IPv6 has no identification field: src, dst, hop limit and
   * the transport's numbers identify it).
   */
  #labelIpv6(f: TappedFrame, d: Dissection, ip: Ipv6Layer): FrameLabel {
    const notes: string[] = [];
    const who = (a: string) => this.#names6.get(a) ?? a;
    const from = who(ip.src);
    const to = who(ip.dst);
    const t = d.tcp;
    const u = d.udp;
    const i = d.icmp6;
    const what = t
      ? `${t.srcPort}>${t.dstPort}#${t.seq}/${t.ack}/${t.flags}/${t.payloadLength}`
      : u
        ? `${u.srcPort}>${u.dstPort}/${u.length}`
        : i
          ? `${i.type}/${i.ident ?? ''}/${i.seq ?? ''}/${i.target ?? ''}`
          : String(ip.payloadLength);
    const key = `${ip.src}>${ip.dst}/${ip.protocol}/${what}`;
    const origin = this.#origins.get(key);
    const base = { tcp: undefined, dissection: d, fragment: ip.fragment !== undefined };
    if (origin && origin.subnet !== f.subnet && ip.hopLimit === origin.ttl - 1) {
      notes.push(
        `forwarded by the router from ${SUBNET_NAMES6[origin.subnet]} to ${SUBNET_NAMES6[f.subnet]}: hop limit ${origin.ttl} → ${ip.hopLimit}, new MACs, the same packet otherwise`,
      );
      return { ...base, label: origin.label, notes, retransmission: origin.retransmission, forwarded: true };
    }
    let label: string;
    let retransmission = false;
    if (i) {
      const mac = d.eth?.src ?? '?';
      if (i.type === 135)
        label = `NDP: who has ${i.target}? tell ${ip.src === '::' ? 'me (duplicate address detection)' : from}`;
      else if (i.type === 136) label = `NDP: ${i.target} is at ${mac}`;
      else if (i.type === 133) label = `NDP: router solicitation from ${from}`;
      else if (i.type === 134) label = `NDP: router advertisement from ${from}`;
      else if (i.type === 143) label = `MLDv2 report from ${from}: the multicast groups it listens to`;
      else if (i.type === 128 || i.type === 129)
        label = `ICMPv6 ${i.typeName}: ${from} → ${to}, seq ${i.seq}`;
      else label = `ICMPv6 ${i.typeName}: ${from} → ${to}`;
    } else if (t) {
      const fwd = `${ip.src}.${t.srcPort}>${ip.dst}.${t.dstPort}`;
      const rev = `${ip.dst}.${t.dstPort}>${ip.src}.${t.srcPort}`;
      const syn = (t.flags & TCP_SYN) !== 0;
      const ackf = (t.flags & TCP_ACK) !== 0;
      const parts: string[] = [];
      let st = this.#streams6.get(fwd);
      const peer = this.#streams6.get(rev);
      if (syn && !ackf) {
        retransmission = st !== undefined && st.isn === t.seq;
        st = { synAck: false, established: false, isn: t.seq, peerIsn: 0 };
        this.#streams6.set(fwd, st);
        parts.push(`1/3 handshake: SYN (${from} → ${to})`);
      } else if (syn && ackf) {
        retransmission = st !== undefined && st.isn === t.seq;
        st = { synAck: true, established: false, isn: t.seq, peerIsn: (t.ack - 1) >>> 0 };
        this.#streams6.set(fwd, st);
        if (peer) peer.peerIsn = t.seq;
        parts.push(`2/3 handshake: SYN-ACK (${from} → ${to})`);
      } else if (st && peer?.synAck && !st.established && t.payloadLength === 0) {
        st.established = true;
        parts.push(`3/3 handshake: ACK (${from} → ${to})`);
      }
      if (t.payloadLength > 0) {
        const start = st ? (t.seq - st.isn) >>> 0 : t.seq;
        parts.push(
          `data: ${from} → ${to} ${quote(d.payload ?? new Uint8Array(0))}${t.payloadLength > 40 ? ` (${t.payloadLength} bytes, stream bytes ${start}–${start + t.payloadLength - 1})` : ''}`,
        );
        if (st) st.established = true;
      }
      if ((t.flags & TCP_FIN) !== 0) parts.push(`FIN from ${from}`);
      if ((t.flags & TCP_RST) !== 0) parts.push(`RST from ${from}`);
      if (parts.length === 0) parts.push(ackf ? `ACK from ${from}` : `TCP ${from} → ${to}`);
      if (retransmission) parts.unshift('retransmission');
      label = parts.join(' · ');
    } else if (u) {
      label = `UDP datagram: [${from}]:${u.srcPort} → [${to}]:${u.dstPort} ${quote(d.payload ?? new Uint8Array(0))}`;
    } else label = `IPv6 ${from} → ${to}`;
    if (ip.fragment)
      notes.push(
        `fragment at offset ${ip.fragment.offset}${ip.fragment.more ? ', more follow' : ', the last'}: only the source fragments in IPv6`,
      );
    this.#origins.set(key, { subnet: f.subnet, ttl: ip.hopLimit, label, retransmission });
    if (this.#origins.size > 50_000) this.#origins.delete(this.#origins.keys().next().value as string);
    if (this.#streams6.size > 10_000) this.#streams6.delete(this.#streams6.keys().next().value as string);
    return { ...base, label, notes, retransmission, forwarded: false };
  }
}
