/**
 * A TCB driven alone: a hand-made host (no TcpLayer, no IP) whose output is a transmit
 * sink that records every segment, a ManualClock and a TimerQueue. The unit tests in this
 * folder build a Tcb in the state they need and call one part of TCP on it.
 */
import { SeededRng } from '../../../src/rand/rng.ts';
import { DEFAULT_TCP_CONFIG, type TcpConfig } from '../../../src/tcp/config.ts';
import { createCongestionControl } from '../../../src/tcp/congestion/factory.ts';
import type { TcpEnv } from '../../../src/tcp/env.ts';
import { FastOpen } from '../../../src/tcp/fastopen.ts';
import type { TcpHost, TcpTuple } from '../../../src/tcp/host.ts';
import { TcpMemory } from '../../../src/tcp/memory.ts';
import { type Seq, seq, seqAdd } from '../../../src/tcp/seq.ts';
import { newTcpStats } from '../../../src/tcp/stats.ts';
import { Tcb } from '../../../src/tcp/tcb.ts';
import { runTimers } from '../../../src/tcp/timers.ts';
import { ManualClock } from '../../../src/time/clock.ts';
import type { Instant } from '../../../src/time/instant.ts';
import { TimerQueue } from '../../../src/time/timers.ts';
import { ipv4 } from '../../../src/wire/address.ts';
import { TCP_ACK, type TcpOptions, type TcpRepr } from '../../../src/wire/tcp.ts';

/** A copy of a sent segment's options (TCP lends them for the output call only). */
function copyOptions(o: TcpOptions): TcpOptions {
  return {
    ...o,
    ...(o.timestamps ? { timestamps: { ...o.timestamps } } : {}),
    ...(o.sack ? { sack: o.sack.map((b) => ({ ...b })) } : {}),
  };
}

/** One segment handed to the transmit sink (copied: the stack lends them for the call only). */
export interface Sent {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  len: number;
  payload: Uint8Array;
  options: TcpOptions;
  /** The IP ECN field TCP asked for (RFC 3168 §5). */
  ecn: number;
}

/** A host for a lone TCB: records output, counts removals, answers routes with `mss`. */
export class FakeHost implements TcpHost {
  readonly clock = new ManualClock(1_000_000);
  readonly queue = new TimerQueue();
  readonly sent: Sent[] = [];
  readonly removed: TcpTuple[] = [];
  readonly env: TcpEnv;
  readonly config: TcpConfig;
  readonly stats = newTcpStats();
  readonly memory = new TcpMemory({ limit: Number.POSITIVE_INFINITY, pressure: 1 });
  readonly tsOffset = 0;
  readonly fastOpen: FastOpen;
  routeMssValue = 1460;

  constructor(config: Partial<TcpConfig> = {}) {
    this.config = { ...DEFAULT_TCP_CONFIG, ...config };
    const sent = this.sent;
    this.env = {
      clock: this.clock,
      rng: new SeededRng(1),
      timers: this.queue,
      output(_src, _dst, r: TcpRepr, payload: Uint8Array, _ip, _udp, ecn = 0) {
        sent.push({
          seq: r.seq,
          ack: r.ack,
          flags: r.flags,
          window: r.window,
          len: payload.length,
          payload: payload.slice(),
          // (The repr is lent for the call: TcpEnv.output.)
          options: copyOptions(r.options),
          ecn,
        });
      },
      routeSource: () => ({ family: 4, v4: ipv4(10, 0, 0, 1) }),
      mssFor: () => this.routeMssValue,
      isLocalAddress: () => true,
    };
    this.fastOpen = new FastOpen(this.env.rng, this.config.fastOpenKey);
  }
  /** Events go out at once, as from a layer driven without a Stack. */
  deferEvents(): boolean {
    return false;
  }
  /** Output goes at once, as from a layer driven without a Stack. */
  deferOutput(): boolean {
    return false;
  }
  allowChallengeAck(): boolean {
    return true;
  }
  routeMss(): number {
    return this.routeMssValue;
  }
  udpEncap(): undefined {
    return undefined;
  }
  add(): void {}
  remove(c: TcpTuple): void {
    this.removed.push(c);
  }
  /** Segments sent since the last take(). */
  take(): Sent[] {
    return this.sent.splice(0);
  }
  /** Moves the clock to `t` and runs the timers due. */
  runUntil(t: Instant): void {
    this.clock.set(t);
    this.queue.runDue(t);
  }
}

/** A Tcb whose timer entry runs timers.ts, as TcpConnection's does. */
export class TestTcb extends Tcb {
  protected override timerFired(now: Instant): void {
    runTimers(this, now);
  }
}

export const ISS = 1000;
export const IRS = 5000;
export const MSS = 1000;

/**
 * An ESTABLISHED TCB: ISS/IRS as above, both handshake SYNs acknowledged, send MSS `MSS`,
 * the peer offering `sndWnd`, our window `rcvWnd` (no window scaling, no timestamps).
 */
export function established(
  o: { config?: Partial<TcpConfig>; sndWnd?: number; rcvWnd?: number; sackOk?: boolean } = {},
): { c: TestTcb; host: FakeHost } {
  const host = new FakeHost(o.config);
  const opts = {
    noDelay: false,
    keepAlive: false,
    keepIdle: host.config.keepIdle,
    keepInterval: host.config.keepInterval,
    keepCount: host.config.keepCount,
    linger: undefined,
    rcvBuf: 65535,
    sndBuf: 65535,
    maxSeg: undefined,
    congestion: 'newreno' as const,
  };
  const c = new TestTcb(
    host,
    { address: { family: 4, v4: ipv4(10, 0, 0, 1) }, port: 40000 },
    { address: { family: 4, v4: ipv4(10, 0, 0, 2) }, port: 80 },
    opts,
  );
  // Connect or a listener makes a Tcb's controller; here, the one the tests' windows assume
  // (NewReno with the initial window of the default MSS 536). Tests needing another set theirs.
  c.cc = createCongestionControl(opts.congestion, 536);
  const iss = seq(ISS);
  c.state = 'ESTABLISHED';
  c.iss = iss;
  c.snd.una = seqAdd(iss, 1);
  c.snd.nxt = c.snd.una;
  c.sndMax = c.snd.una;
  c.sndBufSeq = c.snd.una;
  c.recover = iss;
  c.highRxt = iss;
  c.irs = seq(IRS);
  c.rcv.nxt = seqAdd(c.irs, 1);
  c.lastAckSent = c.rcv.nxt;
  c.mss = MSS;
  c.rcvMss = MSS;
  c.rcvMssEst = MSS;
  c.snd.wnd = o.sndWnd ?? 65535;
  c.maxSndWnd = c.snd.wnd;
  c.snd.wl1 = c.irs;
  c.snd.wl2 = c.snd.una;
  c.rcv.wnd = o.rcvWnd ?? 65535;
  c.rcvAdv = seqAdd(c.rcv.nxt, c.rcv.wnd);
  c.sackOk = o.sackOk ?? false;
  c.lastRecv = host.clock.now();
  c.lastSend = host.clock.now();
  return { c, host };
}

/** A segment from the peer: an ACK by default, at the peer's next sequence number. */
export function fromPeer(c: Tcb, o: Partial<TcpRepr> = {}): TcpRepr {
  return {
    srcPort: c.remote.port,
    dstPort: c.local.port,
    seq: c.rcv.nxt,
    ack: c.snd.una,
    flags: TCP_ACK,
    window: c.snd.wnd,
    urgentPointer: 0,
    options: {},
    ...o,
  };
}

/** Sequence number `n` bytes into our data stream (after the SYN). */
export const ours = (n: number): Seq => seq(ISS + 1 + n);
/** Sequence number `n` bytes into the peer's data stream. */
export const theirs = (n: number): Seq => seq(IRS + 1 + n);
