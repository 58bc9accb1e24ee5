/**
 * Test harness for the TCP layer: a fake TcpEnv that records every segment, a
 * ManualClock driven through the TimerQueue, helpers per starting state, and a
 * two-layer in-memory pipe with seeded loss / reorder / duplication / delay.
 */
import assert from 'node:assert/strict';
import { SeededRng } from '../../src/rand/rng.ts';
import type { TcpConfig } from '../../src/tcp/config.ts';
import type { TcpConnection, TcpConnectionEvents } from '../../src/tcp/connection.ts';
import type { TcpCloseReason } from '../../src/tcp/errors.ts';
import { type TcpEnv, TcpLayer } from '../../src/tcp/layer.ts';
import type { TcpListener } from '../../src/tcp/listen.ts';
import { ManualClock } from '../../src/time/clock.ts';
import type { Instant } from '../../src/time/instant.ts';
import { TimerQueue } from '../../src/time/timers.ts';
import { type IpAddress, ipv4 } from '../../src/wire/address.ts';
import {
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  type TcpOptions,
  type TcpRepr,
} from '../../src/wire/tcp.ts';

export { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN };

export const A: IpAddress = { family: 4, v4: ipv4(10, 0, 0, 1) };
export const B: IpAddress = { family: 4, v4: ipv4(10, 0, 0, 2) };

export interface Sent {
  at: Instant;
  src: IpAddress;
  dst: IpAddress;
  repr: TcpRepr;
  payload: Uint8Array;
  /** The UDP ports around it, when it left tunnelled (TcpConfig.udpTunnelingPort). */
  udp?: { srcPort: number; dstPort: number };
}

function copyRepr(r: TcpRepr): TcpRepr {
  const o = r.options;
  const options: TcpOptions = {
    ...o,
    ...(o.timestamps ? { timestamps: { ...o.timestamps } } : {}),
    ...(o.sack ? { sack: o.sack.map((b) => ({ ...b })) } : {}),
  };
  return { ...r, options };
}

export function flagNames(f: number): string {
  const n: string[] = [];
  if (f & TCP_SYN) n.push('SYN');
  if (f & TCP_FIN) n.push('FIN');
  if (f & TCP_RST) n.push('RST');
  if (f & TCP_PSH) n.push('PSH');
  if (f & TCP_ACK) n.push('ACK');
  return n.join('|') || 'none';
}

/** Records events on a connection. */
export class EventLog implements TcpConnectionEvents {
  log: string[] = [];
  reason: TcpCloseReason | undefined | 'open' = 'open';
  onEstablished(): void {
    this.log.push('established');
  }
  onReadable(): void {
    this.log.push('readable');
  }
  onWritable(): void {
    this.log.push('writable');
  }
  onEnd(): void {
    this.log.push('end');
  }
  onClose(reason?: TcpCloseReason): void {
    this.log.push(`close:${reason ?? 'ok'}`);
    this.reason = reason;
  }
}

export interface HarnessOptions {
  seed?: number;
  config?: Partial<TcpConfig>;
  mss?: number;
  local?: IpAddress;
}

/** One TcpLayer whose peer is the test itself. */
export class Harness {
  readonly clock = new ManualClock(0);
  readonly timers = new TimerQueue();
  readonly rng: SeededRng;
  readonly sent: Sent[] = [];
  readonly layer: TcpLayer;
  readonly env: TcpEnv;
  mss: number;
  local: IpAddress;
  routes = true;

  constructor(o: HarnessOptions = {}) {
    this.rng = new SeededRng(o.seed ?? 1);
    this.mss = o.mss ?? 1460;
    this.local = o.local ?? A;
    this.env = {
      clock: this.clock,
      rng: this.rng,
      timers: this.timers,
      output: (src, dst, repr, payload, _ip, udp) => {
        this.sent.push({
          at: this.clock.now(),
          src,
          dst,
          repr: copyRepr(repr),
          payload: payload.slice(),
          ...(udp ? { udp: { ...udp } } : {}),
        });
      },
      routeSource: () => (this.routes ? this.local : undefined),
      mssFor: () => this.mss,
      isLocalAddress: (a) => a.family === 4 && this.local.family === 4 && a.v4 === this.local.v4,
    };
    // Quick-ACK mode is off unless a test asks for it: most tests here exercise the RFC
    // delayed-ACK rules from the first segment on (quick ACKs have their own tests).
    this.layer = new TcpLayer(this.env, { quickAck: false, ...o.config });
  }

  now(): Instant {
    return this.clock.now();
  }

  /** Moves virtual time forward by `ms`, firing timers at their deadlines. */
  advance(ms: number): void {
    this.advanceTo(this.clock.now() + Math.round(ms * 1000));
  }

  advanceTo(t: Instant): void {
    for (;;) {
      const d = this.timers.nextDeadline();
      if (d === undefined || d > t) break;
      if (d > this.clock.now()) this.clock.set(d);
      this.timers.runDue(this.clock.now());
    }
    if (t > this.clock.now()) this.clock.set(t);
  }

  /** Returns and forgets the segments sent so far. */
  take(): Sent[] {
    return this.sent.splice(0, this.sent.length);
  }

  /** Exactly one segment was sent; returns it. */
  one(): Sent {
    const s = this.take();
    assert.equal(s.length, 1, `expected one segment, got ${s.length}: ${s.map(describe).join('; ')}`);
    return s[0];
  }

  none(): void {
    const s = this.take();
    assert.equal(s.length, 0, `expected no segment, got: ${s.map(describe).join('; ')}`);
  }

  /** Injects a segment from the peer (B) to us (A). */
  inject(
    r: Partial<TcpRepr> & { srcPort?: number; dstPort: number; flags: number },
    payload: Uint8Array = new Uint8Array(0),
    from: IpAddress = B,
    tunnelPort = 0,
  ): void {
    const repr: TcpRepr = {
      srcPort: r.srcPort ?? 5555,
      dstPort: r.dstPort,
      seq: (r.seq ?? 0) >>> 0,
      ack: (r.ack ?? 0) >>> 0,
      flags: r.flags,
      window: r.window ?? 65535,
      urgentPointer: 0,
      options: r.options ?? {},
    };
    this.layer.receive(from, this.local, repr, payload, tunnelPort);
  }
}

export function describe(s: Sent): string {
  const r = s.repr;
  return `${flagNames(r.flags)} seq=${r.seq} ack=${r.ack} win=${r.window} len=${s.payload.length}`;
}

/** Asserts a segment's header fields (only those given). */
export function expectSeg(
  s: Sent,
  want: { flags?: number; seq?: number; ack?: number; window?: number; len?: number },
): void {
  const r = s.repr;
  if (want.flags !== undefined) assert.equal(flagNames(r.flags), flagNames(want.flags), describe(s));
  if (want.seq !== undefined) assert.equal(r.seq, want.seq >>> 0, `seq: ${describe(s)}`);
  if (want.ack !== undefined) assert.equal(r.ack, want.ack >>> 0, `ack: ${describe(s)}`);
  if (want.window !== undefined) assert.equal(r.window, want.window, `window: ${describe(s)}`);
  if (want.len !== undefined) assert.equal(s.payload.length, want.len, `len: ${describe(s)}`);
}

export const PEER_PORT = 5555;
export const PEER_ISN = 0x10000;

export interface Opened {
  h: Harness;
  c: TcpConnection;
  ev: EventLog;
  /** Our ISS and the peer's ISN. */
  iss: number;
  irs: number;
  /** Our local port. */
  port: number;
  /** seq the peer sends next / ack the peer would send for all our data. */
  peerSeq: number;
}

/** Active open up to SYN-SENT: returns the SYN we sent. */
export function synSent(o: HarnessOptions & { connectOptions?: object } = {}): Opened & { syn: Sent } {
  const h = new Harness(o);
  const ev = new EventLog();
  const c = h.layer.connect({ remote: B, remotePort: PEER_PORT, events: ev, ...(o.connectOptions ?? {}) });
  const syn = h.one();
  return { h, c, ev, iss: syn.repr.seq, irs: PEER_ISN, port: c.local.port, peerSeq: PEER_ISN + 1, syn };
}

/**
 * Active open to ESTABLISHED. By default the peer offers no options (so the connection
 * runs without timestamps / SACK / window scaling and the MSS is 536 unless `peerMss`).
 */
export function established(
  o: HarnessOptions & {
    peerOptions?: TcpOptions;
    peerWindow?: number;
    irs?: number;
    connectOptions?: object;
    handshakeRtt?: number;
  } = {},
): Opened {
  const s = synSent(o);
  const irs = o.irs ?? PEER_ISN;
  // A 100 ms handshake RTT: SRTT 100 ms, RTO = 100 + 4*50 = 300 ms.
  s.h.advance(o.handshakeRtt ?? 100);
  s.h.inject({
    srcPort: PEER_PORT,
    dstPort: s.port,
    seq: irs,
    ack: s.iss + 1,
    flags: TCP_SYN | TCP_ACK,
    window: o.peerWindow ?? 65535,
    options: o.peerOptions ?? { mss: 1460 },
  });
  const ack = s.h.one();
  expectSeg(ack, { flags: TCP_ACK, seq: s.iss + 1, ack: irs + 1 });
  assert.equal(s.c.state, 'ESTABLISHED');
  return { ...s, irs, peerSeq: (irs + 1) >>> 0 };
}

/** Passive open up to SYN-RECEIVED: a listener on port 80 got a SYN from B. */
export function synReceived(o: HarnessOptions & { peerOptions?: TcpOptions; backlog?: number } = {}): {
  h: Harness;
  l: TcpListener;
  synAck: Sent;
  iss: number;
  irs: number;
} {
  const h = new Harness(o);
  const l = h.layer.listen({ port: 80, backlog: o.backlog ?? 8 });
  h.inject({
    srcPort: PEER_PORT,
    dstPort: 80,
    seq: PEER_ISN,
    flags: TCP_SYN,
    options: o.peerOptions ?? { mss: 1460 },
  });
  const synAck = h.one();
  expectSeg(synAck, { flags: TCP_SYN | TCP_ACK, ack: PEER_ISN + 1 });
  return { h, l, synAck, iss: synAck.repr.seq, irs: PEER_ISN };
}

/** Passive open to ESTABLISHED and accepted. */
export function accepted(o: HarnessOptions & { peerOptions?: TcpOptions } = {}): Opened & { l: TcpListener } {
  const s = synReceived(o);
  // With timestamps negotiated, the completing ACK must carry one (RFC 7323 §3.2).
  const ts = o.peerOptions?.timestamps;
  const sentTs = s.synAck.repr.options.timestamps;
  s.h.inject({
    srcPort: PEER_PORT,
    dstPort: 80,
    seq: PEER_ISN + 1,
    ack: s.iss + 1,
    flags: TCP_ACK,
    ...(ts && sentTs ? { options: { timestamps: { tsVal: ts.tsVal, tsEcr: sentTs.tsVal } } } : {}),
  });
  s.h.none();
  const c = s.l.accept();
  // (A message, so a failure does not make node:assert re-parse the source file.)
  assert.ok(c, 'accept() returned no connection');
  assert.equal(c.state, 'ESTABLISHED');
  const ev = new EventLog();
  c.events = ev;
  return { h: s.h, c, ev, iss: s.iss, irs: s.irs, port: 80, peerSeq: PEER_ISN + 1, l: s.l };
}

/** ESTABLISHED, then close(): FIN-WAIT-1 with our FIN sent. */
export function finWait1(o: HarnessOptions = {}): Opened & { fin: Sent } {
  const e = established(o);
  e.c.shutdown('write');
  const fin = e.h.one();
  expectSeg(fin, { flags: TCP_FIN | TCP_ACK, seq: e.iss + 1, ack: e.peerSeq });
  assert.equal(e.c.state, 'FIN-WAIT-1');
  return { ...e, fin };
}

/** FIN-WAIT-2: our FIN acknowledged. */
export function finWait2(o: HarnessOptions = {}): Opened {
  const e = finWait1(o);
  e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 2, flags: TCP_ACK });
  e.h.none();
  assert.equal(e.c.state, 'FIN-WAIT-2');
  return e;
}

/** CLOSE-WAIT: the peer's FIN received and acknowledged. */
export function closeWait(o: HarnessOptions = {}): Opened {
  const e = established(o);
  e.h.inject({
    srcPort: PEER_PORT,
    dstPort: e.port,
    seq: e.peerSeq,
    ack: e.iss + 1,
    flags: TCP_FIN | TCP_ACK,
  });
  expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 1 });
  assert.equal(e.c.state, 'CLOSE-WAIT');
  return { ...e, peerSeq: e.peerSeq + 1 };
}

// ----------------------------------------------------------------------------
// Two layers over an in-memory pipe.

export interface Impairments {
  loss?: number;
  dup?: number;
  reorder?: number;
  /** One-way delay in ms, and jitter in ms (uniform extra). */
  delay?: number;
  jitter?: number;
}

interface InFlight {
  at: Instant;
  order: number;
  to: 0 | 1;
  src: IpAddress;
  dst: IpAddress;
  repr: TcpRepr;
  payload: Uint8Array;
}

/** Two TcpLayers (A and B) sharing a clock and a timer queue, joined by an impaired pipe. */
export class Pipe {
  readonly clock = new ManualClock(0);
  readonly timers = new TimerQueue();
  readonly rng: SeededRng;
  readonly layers: [TcpLayer, TcpLayer];
  readonly addrs: [IpAddress, IpAddress] = [A, B];
  imp: Impairments;
  #queue: InFlight[] = [];
  #order = 0;
  delivered = 0;
  dropped = 0;
  /** When set, every segment is first offered to this filter (return false to drop it). */
  filter: ((from: 0 | 1, repr: TcpRepr, payload: Uint8Array) => boolean) | undefined;
  log: Sent[] = [];
  keepLog = false;

  constructor(
    seed: number,
    imp: Impairments = {},
    config: [Partial<TcpConfig>?, Partial<TcpConfig>?] = [],
    mss = 1460,
  ) {
    this.rng = new SeededRng(seed);
    this.imp = imp;
    const mk = (i: 0 | 1): TcpLayer =>
      new TcpLayer(
        {
          clock: this.clock,
          rng: this.rng.fork(),
          timers: this.timers,
          output: (src, dst, repr, payload) => this.#send(i, src, dst, repr, payload),
          routeSource: () => this.addrs[i],
          mssFor: () => mss,
          isLocalAddress: (a) => a.family === 4 && a.v4 === (this.addrs[i] as { v4: number }).v4,
        },
        config[i],
      );
    this.layers = [mk(0), mk(1)];
  }

  #send(from: 0 | 1, src: IpAddress, dst: IpAddress, repr: TcpRepr, payload: Uint8Array): void {
    const r = copyRepr(repr);
    const p = payload.slice();
    if (this.keepLog) this.log.push({ at: this.clock.now(), src, dst, repr: r, payload: p });
    if (this.filter && !this.filter(from, r, p)) {
      this.dropped++;
      return;
    }
    const imp = this.imp;
    if (imp.loss && this.rng.nextFloat() < imp.loss) {
      this.dropped++;
      return;
    }
    const copies = imp.dup && this.rng.nextFloat() < imp.dup ? 2 : 1;
    for (let k = 0; k < copies; k++) {
      let delay =
        (imp.delay ?? 1) * 1000 + (imp.jitter ? this.rng.below(Math.round(imp.jitter * 1000) + 1) : 0);
      if (imp.reorder && this.rng.nextFloat() < imp.reorder) delay += (imp.delay ?? 1) * 1000 * 2;
      this.#queue.push({
        at: this.clock.now() + delay,
        order: this.#order++,
        to: from === 0 ? 1 : 0,
        src,
        dst,
        repr: r,
        payload: p,
      });
    }
  }

  /** Injects a raw segment as if sent by `from` (for attacks). */
  injectTo(to: 0 | 1, repr: TcpRepr, payload: Uint8Array = new Uint8Array(0), src?: IpAddress): void {
    this.layers[to].receive(src ?? this.addrs[to === 0 ? 1 : 0], this.addrs[to], repr, payload);
  }

  #nextPacket(): InFlight | undefined {
    let best: InFlight | undefined;
    for (const p of this.#queue)
      if (!best || p.at < best.at || (p.at === best.at && p.order < best.order)) best = p;
    return best;
  }

  /** Runs events until `done()` or `limitMs` of virtual time; returns whether done() held. */
  run(done: () => boolean, limitMs = 600_000): boolean {
    const limit = this.clock.now() + limitMs * 1000;
    for (let steps = 0; steps < 10_000_000; steps++) {
      if (done()) return true;
      const p = this.#nextPacket();
      const t = this.timers.nextDeadline();
      const next = Math.min(p ? p.at : Number.POSITIVE_INFINITY, t ?? Number.POSITIVE_INFINITY);
      if (next === Number.POSITIVE_INFINITY || next > limit) {
        if (limit > this.clock.now()) this.clock.set(limit);
        return done();
      }
      if (next > this.clock.now()) this.clock.set(next);
      if (p && p.at <= (t ?? Number.POSITIVE_INFINITY)) {
        this.#queue.splice(this.#queue.indexOf(p), 1);
        this.delivered++;
        this.layers[p.to].receive(p.src, p.dst, p.repr, p.payload);
      } else {
        this.timers.runDue(this.clock.now());
      }
    }
    throw new Error('Pipe.run: too many steps');
  }

  /** Runs for `ms` of virtual time. */
  runFor(ms: number): void {
    this.run(() => false, ms);
  }

  get queued(): number {
    return this.#queue.length;
  }
}
