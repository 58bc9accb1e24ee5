import type { Rng } from '../rand/rng.ts';
import { SeededRng } from '../rand/rng.ts';
import type { Clock, Pollable } from '../time/clock.ts';
import type { Duration, Instant } from '../time/instant.ts';
import { ipOffset, segmentTcp } from '../wire/gso.ts';
import type { LinkType } from './device.ts';

/**
 * What happens to frames on one direction of a simulated link (netem-like).
 * Every field is optional; `{}` is a perfect zero-delay link (still delivered
 * asynchronously, in the next poll).
 *
 * Order of processing for each frame: mtu check → loss → queue limit → AQM marking →
 * serialisation (bandwidth) → propagation delay + jitter (+ reorder extra delay)
 * → corruption → duplication.
 */
export interface Impairments {
  /**
   * Probability in [0, 1] that a frame is lost. With `lossBurst` this is the loss
   * probability while in the Good state (default 0 then).
   */
  loss?: number;
  /**
   * Gilbert–Elliott two-state loss: before each frame the channel moves Good→Bad
   * with probability `enter` and Bad→Good with probability `exit`. Frames in the
   * Bad state are lost with probability `badLoss` (default 1). Mean burst length
   * is 1/exit; the stationary Bad fraction is enter/(enter+exit).
   */
  lossBurst?: { enter: number; exit: number; badLoss?: number };
  /** Probability that a frame is delivered twice (the copy right after the original). */
  duplicate?: number;
  /** With `probability`, a frame is held back an extra `extraDelay` µs so later frames overtake it. */
  reorder?: { probability: number; extraDelay: Duration };
  /** Probability that one uniformly chosen bit of the frame is flipped (in a copy). */
  corrupt?: number;
  /** Fixed one-way propagation delay in µs. */
  delay?: Duration;
  /**
   * Uniform extra delay in [0, jitter] µs per frame. Frames may overtake each other
   * when jitter exceeds their spacing (as with netem without rate limiting).
   */
  jitter?: Duration;
  /** Link rate in bits per second: frames are serialised one after another (FIFO). */
  bandwidth?: number;
  /**
   * Drop-tail queue limit in **bytes**. With `bandwidth` it bounds the bytes waiting
   * to be serialised (the bottleneck buffer, frame in service included); without it,
   * the bytes in flight on the link (sent but not yet delivered).
   */
  queueLimit?: number;
  /**
   * An AQM that marks instead of dropping (RFC 3168 §5, RFC 7567 §4.2.1), with a step
   * threshold in **bytes** (as DCTCP's K): a frame that arrives while more than this many
   * bytes wait (counted as queueLimit counts them) is marked CE when its IP header is
   * ECT(0) or ECT(1), and dropped when it is Not-ECT (or not IP). Below the threshold
   * frames pass untouched; queueLimit still drops what does not fit.
   */
  ceThreshold?: number;
  /**
   * IP MTU of this direction: frames longer than mtu + link header (14 for Ethernet,
   * 18 when 802.1Q-tagged, 0 for raw IP) are dropped and counted. Defaults to the link's MTU.
   */
  mtu?: number;
}

/** Per-direction counters. Plain mutable numbers: read them, do not write them. */
export interface ChannelStats {
  sent: number;
  sentBytes: number;
  delivered: number;
  deliveredBytes: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  /** Frames the AQM (ceThreshold) marked CE. */
  ceMarked: number;
  /** `aqm`: Not-ECT frames the AQM dropped above ceThreshold. */
  dropped: { loss: number; queue: number; mtu: number; aqm: number };
}

export function newChannelStats(): ChannelStats {
  return {
    sent: 0,
    sentBytes: 0,
    delivered: 0,
    deliveredBytes: 0,
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
    ceMarked: 0,
    dropped: { loss: 0, queue: 0, mtu: 0, aqm: 0 },
  };
}

/** An independent seeded stream derived from any Rng (deterministic when `rng` is seeded). */
export function forkRng(rng: Rng): Rng {
  return rng instanceof SeededRng ? rng.fork() : new SeededRng(rng.nextU32());
}

export interface ChannelOptions {
  clock: Clock;
  rng: Rng;
  impairments?: Impairments;
  /** The link's MTU (IP bytes), used when impairments.mtu is unset. Default 1500. */
  mtu?: number;
  linkType?: LinkType;
  /** Receives every delivered frame (called from `poll`). */
  deliver: (frame: Uint8Array) => void;
}

/**
 * One direction of a simulated link. `send` never delivers synchronously: frames
 * come out of `poll(now)` once `now >= deliverAt`, in deliverAt order (ties in
 * send order).
 *
 * Storage: frames whose deliverAt is not earlier than the last FIFO entry go in a
 * FIFO (parallel arrays, the common case); the rest (reordered/jittered) go in a
 * small binary heap. `poll` merges the two.
 */
export class Channel implements Pollable {
  readonly stats: ChannelStats = newChannelStats();
  readonly #clock: Clock;
  readonly #rng: Rng;
  readonly #deliver: (frame: Uint8Array) => void;
  readonly #linkType: LinkType;
  #linkMtu: number;
  #cfg: Impairments = {};
  #maxFrame = 0;
  /** Gilbert–Elliott state. */
  #bad = false;
  /** When the transmitter finishes serialising the last accepted frame (fractional µs). */
  #busyUntil = 0;
  /** Bytes sent but not yet delivered (for queueLimit without bandwidth). */
  #inFlightBytes = 0;
  #seq = 0;
  // FIFO
  #fAt: number[] = [];
  #fSeq: number[] = [];
  #fFrame: Uint8Array[] = [];
  #fHead = 0;
  /**
   * Entries of the #f arrays in use: [#fHead, #fLen). The arrays are kept when the queue
   * empties (a length reset would free their storage, and the next frame allocate it again).
   */
  #fLen = 0;
  // heap
  #hAt: number[] = [];
  #hSeq: number[] = [];
  #hFrame: Uint8Array[] = [];

  constructor(options: ChannelOptions) {
    this.#clock = options.clock;
    this.#rng = options.rng;
    this.#deliver = options.deliver;
    this.#linkType = options.linkType ?? 'ethernet';
    this.#linkMtu = options.mtu ?? 1500;
    this.configure(options.impairments ?? {});
  }

  /** Replaces the impairments (frames already in flight keep their schedule). */
  configure(impairments: Impairments): void {
    const p = (name: string, v: number | undefined) => {
      if (v !== undefined && !(v >= 0 && v <= 1))
        throw new RangeError(`impairments.${name} must be in [0, 1]`);
    };
    p('loss', impairments.loss);
    p('duplicate', impairments.duplicate);
    p('corrupt', impairments.corrupt);
    p('reorder.probability', impairments.reorder?.probability);
    p('lossBurst.enter', impairments.lossBurst?.enter);
    p('lossBurst.exit', impairments.lossBurst?.exit);
    p('lossBurst.badLoss', impairments.lossBurst?.badLoss);
    if (impairments.bandwidth !== undefined && !(impairments.bandwidth > 0))
      throw new RangeError('impairments.bandwidth must be > 0 bits/s');
    if (impairments.ceThreshold !== undefined && !(impairments.ceThreshold >= 0))
      throw new RangeError('impairments.ceThreshold must be >= 0 bytes');
    this.#cfg = { ...impairments };
    const mtu = impairments.mtu ?? this.#linkMtu;
    this.#maxFrame = mtu + (this.#linkType === 'ethernet' ? 14 : 0);
  }

  get impairments(): Readonly<Impairments> {
    return this.#cfg;
  }

  /** Whether this channel may corrupt frames now (then checksums must be computed and checked). */
  get corrupts(): boolean {
    return (this.#cfg.corrupt ?? 0) > 0;
  }

  /** Frames waiting for delivery. */
  get queued(): number {
    return this.#fLen - this.#fHead + this.#hAt.length;
  }

  /** Bytes waiting to be serialised (0 without bandwidth). */
  get backlogBytes(): number {
    const bw = this.#cfg.bandwidth;
    if (bw === undefined) return 0;
    const left = this.#busyUntil - this.#clock.now();
    return left > 0 ? (left * bw) / 8e6 : 0;
  }

  /**
   * Whether a TCP super-segment (Device.gsoMaxSize) crosses this direction whole: only when
   * nothing here acts on single wire frames, i.e. no impairment but a fixed propagation
   * delay (as a veth pair carries GSO packets whole). Otherwise `send` cuts it into the
   * segments a wire would carry, and loss, queues, reordering act on those.
   */
  get carriesSuperSegments(): boolean {
    for (const k in this.#cfg) {
      const v = this.#cfg[k as keyof Impairments];
      if (v === undefined || k === 'delay') continue;
      if (k === 'mtu' && v === this.#linkMtu) continue;
      return false;
    }
    return true;
  }

  /**
   * Accepts one frame (ownership passes to the channel). `gsoSize`: the frame is a TCP
   * super-segment (see Device.transmit), delivered whole or as its segments
   * (`carriesSuperSegments`).
   */
  send(frame: Uint8Array, gsoSize?: number): void {
    if (gsoSize !== undefined && gsoSize > 0) {
      if (this.carriesSuperSegments) {
        this.stats.sent++;
        this.stats.sentBytes += frame.length;
        this.#enqueue(this.#clock.now() + (this.#cfg.delay ?? 0), frame);
        return;
      }
      const at = ipOffset(frame, this.#linkType);
      const segs = at < 0 ? null : segmentTcp(frame, at, gsoSize, false);
      if (segs === null) {
        this.stats.sent++;
        this.stats.dropped.mtu++;
        return;
      }
      for (const seg of segs) this.send(seg);
      return;
    }
    const cfg = this.#cfg;
    const rng = this.#rng;
    const st = this.stats;
    const len = frame.length;
    st.sent++;
    st.sentBytes += len;
    if (len > this.#maxFrame && !(len <= this.#maxFrame + 4 && isVlanTagged(frame, this.#linkType))) {
      st.dropped.mtu++;
      return;
    }
    // Loss (Bernoulli or Gilbert–Elliott).
    const burst = cfg.lossBurst;
    let lossP = cfg.loss ?? 0;
    if (burst !== undefined) {
      if (this.#bad) {
        if (rng.nextFloat() < burst.exit) this.#bad = false;
      } else if (rng.nextFloat() < burst.enter) this.#bad = true;
      if (this.#bad) lossP = burst.badLoss ?? 1;
    }
    if (lossP > 0 && rng.nextFloat() < lossP) {
      st.dropped.loss++;
      return;
    }
    const now = this.#clock.now();
    // Serialisation and queue limit.
    let departAt: number = now;
    const bw = cfg.bandwidth;
    const limit = cfg.queueLimit;
    const waiting = bw !== undefined ? (Math.max(this.#busyUntil - now, 0) * bw) / 8e6 : this.#inFlightBytes;
    if (limit !== undefined && waiting + len > limit + (bw !== undefined ? 1e-6 : 0)) {
      st.dropped.queue++;
      return;
    }
    if (cfg.ceThreshold !== undefined && waiting > cfg.ceThreshold + 1e-6) {
      if (!markCe(frame, this.#linkType)) {
        st.dropped.aqm++;
        return;
      }
      st.ceMarked++;
    }
    if (bw !== undefined) {
      const start = Math.max(this.#busyUntil, now);
      this.#busyUntil = start + (len * 8e6) / bw;
      departAt = Math.ceil(this.#busyUntil - 1e-9);
    }
    let at = departAt + (cfg.delay ?? 0);
    if (cfg.jitter) at += Math.floor(rng.nextFloat() * (cfg.jitter + 1));
    const ro = cfg.reorder;
    if (ro !== undefined && ro.probability > 0 && rng.nextFloat() < ro.probability) {
      at += ro.extraDelay;
      st.reordered++;
    }
    if (cfg.corrupt && rng.nextFloat() < cfg.corrupt && len > 0) {
      const copy = frame.slice();
      const bit = rng.below(len * 8);
      copy[bit >> 3] ^= 1 << (bit & 7);
      frame = copy;
      st.corrupted++;
    }
    this.#enqueue(at, frame);
    if (cfg.duplicate && rng.nextFloat() < cfg.duplicate) {
      st.duplicated++;
      this.#enqueue(at, frame.slice());
    }
  }

  #enqueue(at: Instant, frame: Uint8Array): void {
    this.#inFlightBytes += frame.length;
    const seq = this.#seq++;
    const n = this.#fLen;
    if (n === this.#fHead || this.#fAt[n - 1] <= at) {
      if (n < this.#fAt.length) {
        this.#fAt[n] = at;
        this.#fSeq[n] = seq;
        this.#fFrame[n] = frame;
      } else {
        this.#fAt.push(at);
        this.#fSeq.push(seq);
        this.#fFrame.push(frame);
      }
      this.#fLen = n + 1;
      return;
    }
    // Heap insert.
    const hAt = this.#hAt;
    const hSeq = this.#hSeq;
    const hFrame = this.#hFrame;
    let i = hAt.length;
    hAt.push(at);
    hSeq.push(seq);
    hFrame.push(frame);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (hAt[p] < at || (hAt[p] === at && hSeq[p] < seq)) break;
      hAt[i] = hAt[p];
      hSeq[i] = hSeq[p];
      hFrame[i] = hFrame[p];
      i = p;
    }
    hAt[i] = at;
    hSeq[i] = seq;
    hFrame[i] = frame;
  }

  nextDeadline(): Instant | undefined {
    const f = this.#fHead < this.#fLen ? this.#fAt[this.#fHead] : undefined;
    const h = this.#hAt.length ? this.#hAt[0] : undefined;
    if (f === undefined) return h;
    if (h === undefined) return f;
    return Math.min(f, h);
  }

  /** Delivers every frame due at or before `now`. */
  poll(now: Instant): void {
    for (;;) {
      const fi = this.#fHead;
      const hasF = fi < this.#fLen && this.#fAt[fi] <= now;
      const hasH = this.#hAt.length > 0 && this.#hAt[0] <= now;
      let frame: Uint8Array;
      if (
        hasF &&
        (!hasH ||
          this.#fAt[fi] < this.#hAt[0] ||
          (this.#fAt[fi] === this.#hAt[0] && this.#fSeq[fi] < this.#hSeq[0]))
      ) {
        frame = this.#fFrame[fi];
        this.#fFrame[fi] = EMPTY;
        this.#fHead = fi + 1;
        if (this.#fHead === this.#fLen) {
          this.#fHead = 0;
          this.#fLen = 0;
        } else if (this.#fHead > 1024 && this.#fHead * 2 > this.#fLen) {
          this.#fAt = this.#fAt.slice(this.#fHead, this.#fLen);
          this.#fSeq = this.#fSeq.slice(this.#fHead, this.#fLen);
          this.#fFrame = this.#fFrame.slice(this.#fHead, this.#fLen);
          this.#fLen -= this.#fHead;
          this.#fHead = 0;
        }
      } else if (hasH) {
        frame = this.#heapPop();
      } else return;
      this.#inFlightBytes -= frame.length;
      this.stats.delivered++;
      this.stats.deliveredBytes += frame.length;
      this.#deliver(frame);
    }
  }

  #heapPop(): Uint8Array {
    const hAt = this.#hAt;
    const hSeq = this.#hSeq;
    const hFrame = this.#hFrame;
    const top = hFrame[0];
    const last = hAt.length - 1;
    const at = hAt[last];
    const seq = hSeq[last];
    const fr = hFrame[last];
    hAt.pop();
    hSeq.pop();
    hFrame.pop();
    if (last > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const r = l + 1;
        let m = l;
        if (r < last && (hAt[r] < hAt[l] || (hAt[r] === hAt[l] && hSeq[r] < hSeq[l]))) m = r;
        if (at < hAt[m] || (at === hAt[m] && seq < hSeq[m])) break;
        hAt[i] = hAt[m];
        hSeq[i] = hSeq[m];
        hFrame[i] = hFrame[m];
        i = m;
      }
      hAt[i] = at;
      hSeq[i] = seq;
      hFrame[i] = fr;
    }
    return top;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Sets CE in the IP header of an ECN-capable packet (RFC 3168 §5: ECT(0) or ECT(1) becomes
 * CE; CE stays CE), updating the IPv4 header checksum incrementally (RFC 1624 eqn. 3).
 * Returns false for a Not-ECT packet (or a frame that is not IP), which is left alone.
 */
function markCe(frame: Uint8Array, linkType: LinkType): boolean {
  let at = 0;
  if (linkType === 'ethernet') {
    if (frame.length < 14) return false;
    let type = (frame[12] << 8) | frame[13];
    at = 14;
    if (type === 0x8100 && frame.length >= 18) {
      type = (frame[16] << 8) | frame[17];
      at = 18;
    }
    if (type !== 0x0800 && type !== 0x86dd) return false;
  }
  if (frame.length < at + 20) return false;
  const version = frame[at] >> 4;
  if (version === 4) {
    const ecn = frame[at + 1] & 3;
    if (ecn === 0) return false;
    if (ecn === 3) return true;
    const old = (frame[at] << 8) | frame[at + 1];
    frame[at + 1] |= 3;
    const now = (frame[at] << 8) | frame[at + 1];
    // HC' = ~(~HC + ~m + m')
    let sum = (~((frame[at + 10] << 8) | frame[at + 11]) & 0xffff) + (~old & 0xffff) + now;
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    const hc = ~sum & 0xffff;
    frame[at + 10] = hc >> 8;
    frame[at + 11] = hc & 0xff;
    return true;
  }
  if (version === 6) {
    // The Traffic Class straddles bytes 0 and 1; its ECN bits are byte 1's 0x30.
    if ((frame[at + 1] & 0x30) === 0) return false;
    frame[at + 1] |= 0x30;
    return true;
  }
  return false;
}

function isVlanTagged(frame: Uint8Array, linkType: LinkType): boolean {
  return linkType === 'ethernet' && frame.length >= 18 && frame[12] === 0x81 && frame[13] === 0x00;
}
