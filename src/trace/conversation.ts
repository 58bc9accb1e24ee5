/**
 * TCP conversation tracker: follows each connection in a trace, maps absolute
 * sequence/ack numbers to relative ones (the first sequence number seen in each
 * direction — the ISN when the SYN was captured — becomes 0, as tcpdump's default
 * and Wireshark's "relative sequence numbers"), and names what each segment is:
 * handshake steps, FIN, RST, retransmissions (sequence space already seen),
 * duplicate ACKs, window updates, zero windows and keep-alives.
 *
 * The analysis follows Wireshark's TCP analysis (epan/dissectors/packet-tcp.c)
 * in spirit, simplified: a segment carrying data (or SYN/FIN) whose sequence
 * range starts below the highest sequence number already sent in that direction
 * is a retransmission.
 */
import { formatIpv4 } from '../wire/address.ts';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.ts';
import type { Dissection } from './dissect.ts';

export type TcpEvent =
  | 'syn'
  | 'syn-ack'
  | 'handshake-ack'
  | 'fin'
  | 'rst'
  | 'retransmission'
  | 'dup-ack'
  | 'window-update'
  | 'zero-window'
  | 'keep-alive';

/** Direction of a segment in its stream: a2b is from the side that sent the stream's first packet. */
export type StreamDirection = 'a2b' | 'b2a';

/** One end of a connection: its address as text (either family, as printed) and port. */
export interface TcpEndpoint {
  readonly addr: string;
  readonly port: number;
}

/** Per-direction state, for the data flowing from that side. */
export interface DirectionState {
  /** Absolute sequence number that maps to relative 0 (the ISN when the SYN was seen). */
  base: number;
  /** True when the base is this side's ISN (its SYN was captured). */
  sawSyn: boolean;
  /** Window scale announced in this side's SYN, if any. */
  wscale: number | undefined;
  sackPermitted: boolean;
  /** Highest relative sequence number sent so far (end of the furthest segment). */
  maxSeqEnd: number;
  /** Last ACK (relative to the peer's base) and window sent by this side; undefined before the first ACK. */
  lastAck: number | undefined;
  lastWindow: number | undefined;
  sawFin: boolean;
  segments: number;
  bytes: number;
  retransmissions: number;
}

export interface Conversation {
  /** Index in order of first appearance (Wireshark's tcp.stream). */
  readonly index: number;
  readonly a: TcpEndpoint;
  readonly b: TcpEndpoint;
  readonly a2b: DirectionState;
  readonly b2a: DirectionState;
  /** The side that sent the first SYN (without ACK), when captured. */
  client: StreamDirection | undefined;
  handshakeDone: boolean;
  firstTime: number;
  lastTime: number;
}

export interface TcpObservation {
  readonly conversation: Conversation;
  readonly direction: StreamDirection;
  /** Sequence number relative to this direction's base (mod 2^32). */
  readonly relSeq: number;
  /** ACK number relative to the peer's base, when the ACK flag is set and the peer's base is known. */
  readonly relAck: number | undefined;
  /** Sequence space consumed: payload + SYN + FIN. */
  readonly seqLength: number;
  /** Window in bytes: the raw field shifted by the sender's scale (never for SYNs, RFC 7323 §2.2). */
  readonly windowBytes: number;
  /** SACK blocks relative to the peer's base. */
  readonly sack: readonly { readonly left: number; readonly right: number }[];
  readonly events: readonly TcpEvent[];
}

const mod32 = (x: number) => x >>> 0;

function newDirection(base: number): DirectionState {
  return {
    base,
    sawSyn: false,
    wscale: undefined,
    sackPermitted: false,
    maxSeqEnd: 0,
    lastAck: undefined,
    lastWindow: undefined,
    sawFin: false,
    segments: 0,
    bytes: 0,
    retransmissions: 0,
  };
}

function key(a: string, ap: number, b: string, bp: number): string {
  return `${a}/${ap}-${b}/${bp}`;
}

/** tcpdump's form of an endpoint: `10.0.0.1.80`, `fd00::1.80`. */
export function endpointText(e: TcpEndpoint): string {
  return `${e.addr}.${e.port}`;
}

/** Tracks TCP connections across a trace. Feed it every dissected frame in capture order. */
export class TcpTracker {
  readonly conversations: Conversation[] = [];
  readonly #byKey = new Map<string, Conversation>();

  /** The observation for a TCP segment, or undefined for anything else. */
  observe(d: Dissection, time: number): TcpObservation | undefined {
    const tcp = d.tcp;
    // Either family: IPv4 and IPv6 endpoints are tracked alike, by their printed addresses.
    const ip = d.ip ? { src: formatIpv4(d.ip.src), dst: formatIpv4(d.ip.dst) } : d.ip6;
    if (!ip || !tcp) return undefined;
    const fwd = key(ip.src, tcp.srcPort, ip.dst, tcp.dstPort);
    let conv = this.#byKey.get(fwd);
    let direction: StreamDirection = 'a2b';
    if (conv) {
      direction = conv.a.addr === ip.src && conv.a.port === tcp.srcPort ? 'a2b' : 'b2a';
    }
    const syn = (tcp.flags & TCP_SYN) !== 0;
    const ackFlag = (tcp.flags & TCP_ACK) !== 0;
    const fin = (tcp.flags & TCP_FIN) !== 0;
    const rst = (tcp.flags & TCP_RST) !== 0;
    // A new SYN (no ACK) on a finished 4-tuple with a different ISN starts a new stream (port reuse).
    if (
      conv &&
      syn &&
      !ackFlag &&
      direction === 'a2b' &&
      conv.a2b.sawSyn &&
      mod32(tcp.seq - conv.a2b.base) !== 0
    ) {
      if (conv.a2b.sawFin || conv.b2a.sawFin || conv.a2b.segments > 2) conv = undefined;
    }
    if (!conv) {
      conv = {
        index: this.conversations.length,
        a: { addr: ip.src, port: tcp.srcPort },
        b: { addr: ip.dst, port: tcp.dstPort },
        a2b: newDirection(tcp.seq),
        b2a: newDirection(0),
        client: undefined,
        handshakeDone: false,
        firstTime: time,
        lastTime: time,
      };
      // b2a's base is unknown until b sends something.
      conv.b2a.segments = -1;
      this.conversations.push(conv);
      this.#byKey.set(fwd, conv);
      this.#byKey.set(key(ip.dst, tcp.dstPort, ip.src, tcp.srcPort), conv);
      direction = 'a2b';
    }
    conv.lastTime = time;
    const me = direction === 'a2b' ? conv.a2b : conv.b2a;
    const peer = direction === 'a2b' ? conv.b2a : conv.a2b;
    if (me.segments < 0) {
      me.segments = 0;
      me.base = tcp.seq;
    }
    const events: TcpEvent[] = [];
    if (syn && !me.sawSyn) {
      me.sawSyn = true;
      me.base = tcp.seq;
      me.maxSeqEnd = 0;
      for (const o of tcp.options) {
        if (o.kind === 'wscale') me.wscale = Math.min(o.value, 14);
        if (o.kind === 'sackOK') me.sackPermitted = true;
      }
    }
    const relSeq = mod32(tcp.seq - me.base);
    const seqLength = tcp.payloadLength + (syn ? 1 : 0) + (fin ? 1 : 0);
    const peerKnown = peer.segments >= 0;
    const relAck = ackFlag && peerKnown ? mod32(tcp.ack - peer.base) : undefined;
    // RFC 7323 §2.2: "The window field in a segment where the SYN bit is set ... MUST NOT be scaled."
    const scaleOn = me.wscale !== undefined && peer.wscale !== undefined;
    const windowBytes = syn || !scaleOn ? tcp.window : tcp.window * 2 ** (me.wscale ?? 0);
    const sack: { left: number; right: number }[] = [];
    for (const o of tcp.options) {
      if (o.kind === 'sack') {
        for (const blk of o.blocks) {
          sack.push(
            peerKnown
              ? { left: mod32(blk.left - peer.base), right: mod32(blk.right - peer.base) }
              : { left: blk.left, right: blk.right },
          );
        }
      }
    }

    // Events.
    if (syn && !ackFlag) {
      events.push('syn');
      if (conv.client === undefined) conv.client = direction;
    } else if (syn && ackFlag) events.push('syn-ack');
    else if (
      !conv.handshakeDone &&
      conv.client === direction &&
      ackFlag &&
      peer.sawSyn &&
      relAck === 1 &&
      !rst &&
      relSeq === 1
    ) {
      events.push('handshake-ack');
      conv.handshakeDone = true;
    }
    if (fin) events.push('fin');
    if (rst) events.push('rst');

    const end = relSeq + seqLength;
    const retransmission =
      seqLength > 0 && !rst && me.segments > 0 && relSeq < me.maxSeqEnd && !isKeepAlive();
    function isKeepAlive(): boolean {
      // Wireshark: a segment of 0 or 1 byte whose seq is one below the next expected, no SYN/FIN/RST.
      return (
        tcp!.payloadLength <= 1 && !syn && !fin && !rst && me.maxSeqEnd > 0 && relSeq === me.maxSeqEnd - 1
      );
    }
    if (me.segments > 0 && isKeepAlive()) events.push('keep-alive');
    if (retransmission) {
      events.push('retransmission');
      me.retransmissions++;
    }
    const pureAck = seqLength === 0 && !rst && ackFlag;
    if (tcp.window === 0 && !rst && !syn) events.push('zero-window');
    if (pureAck && relAck !== undefined && me.lastAck !== undefined && relAck === me.lastAck) {
      if (tcp.window === me.lastWindow && tcp.window !== 0) {
        // Wireshark also requires the ACKer to have no new data; seqLength 0 covers that.
        if (peer.maxSeqEnd > relAck) events.push('dup-ack');
      } else if (tcp.window !== me.lastWindow) events.push('window-update');
    }

    if (seqLength > 0 && (me.segments === 0 || end > me.maxSeqEnd) && end < 0x80000000) me.maxSeqEnd = end;
    if (ackFlag && relAck !== undefined) {
      me.lastAck = relAck;
      me.lastWindow = tcp.window;
    }
    if (fin) me.sawFin = true;
    me.segments++;
    if (!retransmission) me.bytes += tcp.payloadLength;
    return { conversation: conv, direction, relSeq, relAck, seqLength, windowBytes, sack, events };
  }
}

/** Human names for events, from a side's point of view ("client"/"server" once the SYN was seen). */
export function describeEvents(obs: TcpObservation): string[] {
  const conv = obs.conversation;
  const who =
    conv.client === undefined
      ? obs.direction === 'a2b'
        ? 'A'
        : 'B'
      : conv.client === obs.direction
        ? 'client'
        : 'server';
  const out: string[] = [];
  for (const e of obs.events) {
    switch (e) {
      case 'syn':
        out.push('3-way handshake: SYN');
        break;
      case 'syn-ack':
        out.push('3-way handshake: SYN-ACK');
        break;
      case 'handshake-ack':
        out.push('3-way handshake: ACK');
        break;
      case 'fin':
        out.push(`FIN from ${who}`);
        break;
      case 'rst':
        out.push(`RST from ${who}`);
        break;
      case 'retransmission':
        out.push('retransmission');
        break;
      case 'dup-ack':
        out.push('duplicate ACK');
        break;
      case 'window-update':
        out.push('window update');
        break;
      case 'zero-window':
        out.push('zero window');
        break;
      case 'keep-alive':
        out.push('keep-alive');
        break;
    }
  }
  return out;
}
