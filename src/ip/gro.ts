/**
 * Receive coalescing (the kernel's GRO: net/core/gro.c, inet_gro_receive / ipv6_gro_receive
 * and tcp_gro_receive in net/ipv4/tcp_offload.c). Consecutive TCP segments of one flow taken
 * from the receive queues in one poll batch are merged into one super-segment before IP and
 * TCP see them, so TCP input, the ACK decision and the socket wake-up run once per run instead
 * of once per segment. The super-segment is marked with its gso size (markSuperSegment), so
 * TCP counts the segments it stands for (segs_in, InSegs, delayed ACK) as the kernel counts
 * gso_segs.
 *
 * A segment joins the run when, as Linux requires: same link header, same addresses and ports
 * (IPv4 or IPv6), no IP options, fragments or extension headers, same TOS/traffic class and
 * flow label, TTL/hop limit and DF (IPv4 IDs counting up unless DF is set), same ACK number,
 * window and TCP option bytes (so equal timestamps), flags only ACK (PSH ends the run and is
 * kept on the super-segment), its sequence number is the run's next, and its payload is the
 * size of the run's first segment (a smaller one ends the run), 64 KiB at most in all. The
 * checksums of the segments merged are verified first (unless the device vouches for them);
 * a segment that fails ends the run and goes up alone, where IP or TCP drops and counts it.
 * A segment that cannot join goes up as it came. The run goes up at the end of the poll batch
 * (Stack.pollReceive calls `flush`), so no segment waits past the batch it came in (no timer,
 * no added latency).
 *
 * Capture devices (src/link/pcap.ts) record frames as they were on the wire: they sit below
 * the receive queue.
 * Deviation: on Linux, tcpdump on the receiving interface shows the merged packets (its tap
 * runs after GRO); our captures show the wire frames, as Linux does with `ethtool -K gro off`.
 */
import { allocOwnFrame } from '../link/frame-alloc.ts';
import { internetChecksumRange, pseudoHeaderSumV6 } from '../wire/checksum.ts';
import { allocRunFrame, ipOffset, markSuperSegment, RUN_BUFFER } from '../wire/gso.ts';
import type { NetInterface } from './interface.ts';
import { checksumTrusted } from './network.ts';
import type { GroStats } from './stats.ts';

const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
/** The largest IP datagram (IPv4 Total Length, IPv6 Payload Length + 40 is bounded the same). */
const MAX_DATAGRAM = 65535;

function be16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

/** `n` bytes equal at `a[ai..]` and `b[bi..]`. */
function same(a: Uint8Array, b: Uint8Array, at: number, n: number): boolean {
  for (let i = at, end = at + n; i < end; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class Gro {
  readonly #deliver: (iface: NetInterface, frame: Uint8Array) => void;
  readonly #stats: { readonly gro: GroStats; readonly link: { received: number } };
  /** The stack-wide switch (each interface has its own too, `NetInterface.gro`). */
  enabled = true;
  // The run: its frames in order, all with the first frame's offsets.
  readonly #frames: Uint8Array[] = [];
  #iface: NetInterface | undefined = undefined;
  #l3 = 0;
  #tcp = 0;
  #data = 0;
  #v6 = false;
  /** Payload bytes of each segment but the last (the gso size). */
  #gso = 0;
  /** Payload bytes in the run. */
  #bytes = 0;
  #nextSeq = 0;
  /** The payload bytes of the last frame. */
  #lastLen = 0;
  /** The first frame's checksums are verified (done when a second joins). */
  #verified = false;

  /** `stats`: the stack's (its `link.received` counts wire frames, a run's each). */
  constructor(
    stats: { readonly gro: GroStats; readonly link: { received: number } },
    deliver: (iface: NetInterface, frame: Uint8Array) => void,
  ) {
    this.#stats = stats;
    this.#deliver = deliver;
  }

  /** A frame taken from `iface`'s receive queue: held in the run, or handed up. */
  input(iface: NetInterface, frame: Uint8Array): void {
    if (this.#take(iface, frame)) return;
    this.flush();
    this.#deliver(iface, frame);
  }

  /** Puts `frame` in the run (true), or says it goes up as it is, after the run (false). */
  #take(iface: NetInterface, frame: Uint8Array): boolean {
    const dev = iface.device;
    // A link that carries super-segments (Device.gsoMaxSize: a memory link with offloads, the
    // vnet TAP) brings a sender's runs whole already; like Linux's veth (GRO off unless turned
    // on), its frames go up as they came.
    if (!this.enabled || dev === null || !iface.gro || (dev.gsoMaxSize ?? 0) > 0) return false;
    const l3 = ipOffset(frame, dev.linkType);
    if (l3 < 0) return false;
    const v6 = frame[l3] >> 4 === 6;
    let ipLen: number;
    if (v6) {
      if (frame.length < l3 + 60 || frame[l3 + 6] !== 6) return false;
      ipLen = 40 + be16(frame, l3 + 4);
    } else {
      // Version 4, no options (IHL 5), TCP, not a fragment (MF clear, offset 0).
      if (frame.length < l3 + 40 || frame[l3] !== 0x45 || frame[l3 + 9] !== 6) return false;
      if ((frame[l3 + 6] & 0x3f) !== 0 || frame[l3 + 7] !== 0) return false;
      ipLen = be16(frame, l3 + 2);
    }
    const tcp = l3 + (v6 ? 40 : 20);
    const data = tcp + (frame[tcp + 12] >> 4) * 4;
    const end = l3 + ipLen;
    const len = end - data;
    const flags = frame[tcp + 13];
    // Pure ACKs, control flags, bad lengths and super-segments already go up as they are.
    if (
      len <= 0 ||
      data < tcp + 20 ||
      end > frame.length ||
      ipLen > iface.mtu ||
      (flags & ~TCP_PSH) !== TCP_ACK
    )
      return false;
    const seq =
      ((frame[tcp + 4] << 24) | (frame[tcp + 5] << 16) | (frame[tcp + 6] << 8) | frame[tcp + 7]) >>> 0;
    const frames = this.#frames;
    if (frames.length > 0) {
      if (
        iface === this.#iface &&
        l3 === this.#l3 &&
        data === this.#data &&
        seq === this.#nextSeq &&
        len <= this.#gso &&
        data - l3 + this.#bytes + len <= MAX_DATAGRAM &&
        this.#sameFlow(frames[0], frame, frames.length)
      ) {
        let join = true;
        if (!this.#verified) {
          const first = frames[0];
          if (this.#valid(iface, first, data + this.#gso)) this.#verified = true;
          else {
            // The run's first segment is bad: it goes up alone (IP or TCP drops and counts
            // it), and this one starts the run instead.
            frames.length = 0;
            this.#deliver(iface, first);
            join = false;
          }
        }
        if (join) {
          if (!this.#valid(iface, frame, end)) {
            // Linux tcp_gro_receive: a segment failing its checksum flushes the run and goes up
            // alone, to be dropped and counted (TCP's badChecksum, IP's header errors).
            return false;
          }
          frames.push(frame);
          this.#bytes += len;
          this.#nextSeq = (seq + len) >>> 0;
          this.#lastLen = len;
          // A smaller segment or PSH ends the run (tcp_gro_receive's out_check_final).
          if (len < this.#gso || flags & TCP_PSH) this.flush();
          return true;
        }
      } else this.flush();
    }
    if (flags & TCP_PSH) return false;
    frames.push(frame);
    this.#iface = iface;
    this.#l3 = l3;
    this.#tcp = tcp;
    this.#data = data;
    this.#v6 = v6;
    this.#gso = len;
    this.#bytes = len;
    this.#lastLen = len;
    this.#nextSeq = (seq + len) >>> 0;
    this.#verified = false;
    return true;
  }

  /** Hands the run up: one segment as it came, two or more as one super-segment. */
  flush(): void {
    const frames = this.#frames;
    const n = frames.length;
    if (n === 0) return;
    const iface = this.#iface!;
    const first = frames[0];
    if (n === 1) {
      frames.length = 0;
      this.#deliver(iface, first);
      return;
    }
    const l3 = this.#l3;
    const head = this.#data;
    const gso = this.#gso;
    // A run goes into a run buffer its reader hands back (recycleRunFrame): a long one once
    // read, a short one as soon as the receive queue has copied it out (RecvQueue keeps by
    // reference only a piece that fills half of its buffer). A fresh buffer of the run's size
    // per short run cost ~9 % of a bulk transfer at MTU 1500 (scripts/bench-ab.ts: 1.09x).
    const total = head + this.#bytes;
    const out = total <= RUN_BUFFER ? allocRunFrame(total) : allocOwnFrame(total, head);
    out.set(first.subarray(0, head), 0);
    let at = head;
    for (let i = 0; i < n; i++) {
      const len = i === n - 1 ? this.#lastLen : gso;
      out.set(frames[i].subarray(head, head + len), at);
      at += len;
    }
    const ipLen = at - l3;
    if (this.#v6) {
      out[l3 + 4] = (ipLen - 40) >> 8;
      out[l3 + 5] = (ipLen - 40) & 0xff;
    } else {
      out[l3 + 2] = ipLen >> 8;
      out[l3 + 3] = ipLen & 0xff;
      out[l3 + 10] = 0;
      out[l3 + 11] = 0;
      const c = internetChecksumRange(out, l3, l3 + 20);
      out[l3 + 10] = c >> 8;
      out[l3 + 11] = c & 0xff;
    }
    // The last segment's PSH is the super-segment's (tcp_gro_receive ORs it into the first).
    out[this.#tcp + 13] |= frames[n - 1][this.#tcp + 13] & TCP_PSH;
    // The TCP checksum field is left as the first segment's: every segment was verified, and
    // a super-segment's checksum is not verified again (tcp-glue.ts, as CHECKSUM_UNNECESSARY).
    markSuperSegment(out, gso);
    frames.length = 0;
    const stats = this.#stats;
    stats.gro.coalesced += n;
    stats.gro.runs++;
    // The link layer counts the run once; the device received its frames (Linux rx_packets).
    stats.link.received += n - 1;
    this.#deliver(iface, out);
  }

  /** Frame `b` belongs to the run whose first frame is `a` and which holds `count` frames. */
  #sameFlow(a: Uint8Array, b: Uint8Array, count: number): boolean {
    const l3 = this.#l3;
    const tcp = this.#tcp;
    if (!same(a, b, 0, l3)) return false; // the link header (gro_list_prepare)
    if (this.#v6) {
      // Version, traffic class and flow label; hop limit; addresses (ipv6_gro_receive).
      if (!same(a, b, l3, 4) || a[l3 + 7] !== b[l3 + 7] || !same(a, b, l3 + 8, 32)) return false;
    } else {
      // TOS, DF, TTL and addresses (inet_gro_receive); with DF clear the IDs count up.
      if (a[l3 + 1] !== b[l3 + 1] || a[l3 + 6] !== b[l3 + 6] || a[l3 + 8] !== b[l3 + 8]) return false;
      if (!same(a, b, l3 + 12, 8)) return false;
      if (!(a[l3 + 6] & 0x40) && be16(b, l3 + 4) !== ((be16(a, l3 + 4) + count) & 0xffff)) return false;
    }
    // Ports; ACK number and header length; window; option bytes (tcp_gro_receive).
    return (
      same(a, b, tcp, 4) &&
      same(a, b, tcp + 8, 5) &&
      same(a, b, tcp + 14, 2) &&
      same(a, b, tcp + 20, this.#data - tcp - 20)
    );
  }

  /** The IPv4 header checksum and the TCP checksum of `f` (TCP ends at `end`) are right. */
  #valid(iface: NetInterface, f: Uint8Array, end: number): boolean {
    const l3 = this.#l3;
    const tcp = this.#tcp;
    // (internetChecksumRange is 0 where the sum folds to 0xffff: no views of the ranges made.)
    if (!this.#v6 && internetChecksumRange(f, l3, tcp) !== 0) return false;
    if (checksumTrusted(iface)) return true;
    const tcpLen = end - tcp;
    const sum = this.#v6
      ? pseudoHeaderSumV6(f.subarray(l3 + 8, l3 + 24), f.subarray(l3 + 24, l3 + 40), 6, tcpLen)
      : be16(f, l3 + 12) + be16(f, l3 + 14) + be16(f, l3 + 16) + be16(f, l3 + 18) + 6 + tcpLen;
    return internetChecksumRange(f, tcp, end, sum) === 0;
  }
}
