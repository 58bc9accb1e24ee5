/**
 * The TCP layer's memory account, like Linux's tcp_mem / tcp_memory_allocated: the send
 * buffer, receive buffer and out-of-order queue of every connection charge the bytes they
 * hold to one account per TcpLayer, so a host with many connections (or a peer that fills
 * every window it is offered while nobody reads) has a bound.
 *
 * - Below the pressure threshold (Linux tcp_mem[1]) the account changes nothing.
 * - Under pressure, a receive window grows by at most 4 MSS at a time (Linux
 *   tcp_select_window clamps rcv_ssthresh to 4 * advmss under memory pressure); the right
 *   edge already offered is never pulled back (RFC 9293 §3.8.6.2.2).
 * - Send buffers take nothing more once the layer is under pressure (Linux shrinks them
 *   then, sk_stream_moderate_sndbuf): write() takes fewer bytes (or none). The rest, up to
 *   the limit, stays for arriving data; without that reserve two hosts whose memory is
 *   full of data for each other would each drop everything the other sends, for ever.
 * - At the limit (Linux tcp_mem[2]) receive buffers and out-of-order queues accept nothing
 *   more: a data segment that would go beyond it is dropped after the connection's
 *   out-of-order data above it is pruned (Linux tcp_prune_queue / tcp_prune_ofo_queue).
 *   Bytes already acknowledged are never dropped.
 *
 * Deviation: ring bytes are counted as payload held, not as allocated memory (Linux charges
 * an skb's truesize); a ring's storage grows by doubling (up to twice what it holds). An
 * out-of-order piece is charged what it costs, its bytes plus PIECE_OVERHEAD, and a small
 * piece is copied out of its frame so it does not keep a frame slab alive (reassembly.ts;
 * measured in test/scenarios/memory-caps.test.ts).
 */

import type { Clock } from '../time/clock.ts';
import type { Timer, TimerQueue } from '../time/timers.ts';
import { TcpError } from './errors.ts';
import { EV_WRITABLE } from './events.ts';

/** What a ByteRing or ReassemblyQueue needs of the account. */
export interface MemoryAccount {
  /** Bytes that may still be charged before the limit. */
  readonly available: number;
  charge(n: number): void;
  credit(n: number): void;
}

/** A connection whose write() came up short, as the account sees it. */
export interface BlockedWriter {
  /** The writer still waits to hear it may write (cleared when told). */
  wantWritable: boolean;
  readonly state: string;
  readonly sndBuf: { readonly space: number };
  /** Pending-event bits (events.ts), delivered by flush(). */
  pending: number;
  flush(): void;
}

export interface TcpMemoryOptions {
  /** Hard limit in bytes (Infinity: no bound). */
  limit: number;
  /** Fraction of the limit at which memory pressure starts, in (0, 1]. */
  pressure: number;
  /** For waking writers blocked by the limit; without it they wait for their own ACKs. */
  clock?: Clock;
  timers?: TimerQueue;
}

export class TcpMemory implements MemoryAccount {
  /** Hard limit in bytes (config.memoryLimit). */
  readonly limit: number;
  /** Bytes above which the layer is under memory pressure. */
  readonly pressure: number;
  #inUse = 0;
  #peak = 0;
  readonly #clock: Clock | undefined;
  readonly #wakeTimer: Timer | undefined;
  /** Connections whose write() came up short, until they are told they may write again. */
  readonly #writers = new Set<BlockedWriter>();
  /** Send room fell below #wakeRoom: writers are woken when it is back (not on every ACK). */
  #sendTight = false;
  /** The account as send buffers see it: room only up to the pressure threshold. */
  readonly forSend: MemoryAccount;

  constructor(o: TcpMemoryOptions) {
    if (!(o.limit > 0)) throw new TcpError('EINVAL', `memoryLimit must be > 0 (got ${o.limit})`);
    if (!(o.pressure > 0 && o.pressure <= 1))
      throw new TcpError('EINVAL', `memoryPressure must be in (0, 1] (got ${o.pressure})`);
    this.limit = o.limit;
    this.pressure = o.limit === Number.POSITIVE_INFINITY ? o.limit : Math.floor(o.limit * o.pressure);
    this.#clock = o.clock;
    this.#wakeTimer = o.timers?.timer(() => this.#wakeWriters());
    this.forSend = new SendView(this);
  }

  /** Bytes held by every connection's buffers and out-of-order queue. */
  get inUse(): number {
    return this.#inUse;
  }
  /** The most ever held at once. */
  get peak(): number {
    return this.#peak;
  }
  get available(): number {
    return Math.max(0, this.limit - this.#inUse);
  }
  /** Bytes send buffers may still take: up to the pressure threshold. */
  get sendAvailable(): number {
    return Math.max(0, this.pressure - this.#inUse);
  }
  /** At or above the pressure threshold (Linux tcp_memory_pressure). */
  get underPressure(): boolean {
    return this.#inUse >= this.pressure;
  }

  charge(n: number): void {
    this.#inUse += n;
    if (this.#inUse > this.#peak) this.#peak = this.#inUse;
    if (this.sendAvailable < this.#wakeRoom) this.#sendTight = true;
  }

  credit(n: number): void {
    if (n === 0) return;
    this.#inUse -= n;
    if (this.#inUse < 0) throw new Error(`TcpMemory: credited more than charged (${this.#inUse})`);
    if (this.#sendTight && this.sendAvailable >= this.#wakeRoom) {
      this.#sendTight = false;
      // Not from inside whoever freed the bytes (an input step, a read): the timer queue
      // runs the wake-up from the driver, where callbacks may run.
      if (this.#writers.size > 0 && this.#clock && this.#wakeTimer && !this.#wakeTimer.armed)
        this.#wakeTimer.set(this.#clock.now());
    }
  }

  /** Room worth waking a blocked writer for (a sixteenth of the threshold, at most 64 KiB). */
  get #wakeRoom(): number {
    return Math.max(1, Math.min(this.pressure / 16, 65536));
  }

  /**
   * How much new receive window a connection may offer beyond its buffer's free space
   * (which is itself capped by `available`, see ByteRing.space): under pressure at most
   * 4 MSS at a time, like Linux's tcp_select_window.
   */
  windowRoom(mss: number): number {
    return this.underPressure ? Math.min(this.available, 4 * mss) : Number.POSITIVE_INFINITY;
  }

  /** Snapshot for stats displays. */
  snapshot(): { inUse: number; peak: number; limit: number; pressure: number; underPressure: boolean } {
    return {
      inUse: this.#inUse,
      peak: this.#peak,
      limit: this.limit,
      pressure: this.pressure,
      underPressure: this.underPressure,
    };
  }

  /** @internal A write() on `c` came up short: tell it when the limit lets it write again. */
  blockedWriter(c: BlockedWriter): void {
    this.#writers.add(c);
  }

  /** @internal The connection is gone. */
  forget(c: BlockedWriter): void {
    this.#writers.delete(c);
  }

  /** Connections waiting to be told they may write (diagnostics and tests). */
  get blockedWriters(): number {
    return this.#writers.size;
  }

  #wakeWriters(): void {
    for (const c of [...this.#writers]) {
      if (!c.wantWritable || c.state === 'CLOSED') {
        this.#writers.delete(c);
        continue;
      }
      // Still full on its own account: its ACKs will wake it (sender.ts newAck).
      if (c.sndBuf.space === 0) continue;
      this.#writers.delete(c);
      c.wantWritable = false;
      c.pending |= EV_WRITABLE;
      c.flush();
    }
  }
}

/** TcpMemory as a send buffer sees it (ByteRing.space stops at the pressure threshold). */
class SendView implements MemoryAccount {
  readonly #mem: TcpMemory;
  constructor(mem: TcpMemory) {
    this.#mem = mem;
  }
  get available(): number {
    return this.#mem.sendAvailable;
  }
  charge(n: number): void {
    this.#mem.charge(n);
  }
  credit(n: number): void {
    this.#mem.credit(n);
  }
}
