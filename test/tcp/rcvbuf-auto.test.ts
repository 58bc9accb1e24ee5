/**
 * Receive-buffer autotuning (src/tcp/rcvbuf-auto.ts, Linux tcp_rcv_space_adjust) with
 * hand-made segments at virtual times: the test plays a peer in slow start with a 10 ms
 * round trip that sends, each round, what its window from our last ACK and its doubling
 * cwnd allow; our application reads after every round. Under the Linux profile the buffer
 * (and the window we offer) follows what is read per round trip, up to tcp_rmem[2];
 * SO_RCVBUF, a slow reader and the FreeBSD profile keep it as it is.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type TcpConfig, tcpConfigFor } from '../../src/tcp/config.ts';
import { FREEBSD } from '../../src/tcp/profile.ts';
import { established, PEER_PORT, TCP_ACK } from './harness.ts';

const MSS = 1460;
const WSCALE_SHIFT_PEER = 7;
const ROUND_MS = 10;

interface Round {
  /** Bytes the peer sent in the round (its flight). */
  flight: number;
  /** Our receive buffer's limit after the application read. */
  limit: number;
  /** The largest window our ACKs offered in the round (bytes, scaled). */
  offered: number;
}

function rounds(o: {
  rounds: number;
  config?: Partial<TcpConfig>;
  /** SO_RCVBUF given to connect(). */
  connectRcvBuf?: number;
  setRcvBuf?: number;
  /** Bytes the application reads per round (default: all). */
  readPerRound?: number;
}): { rounds: Round[]; wscale: number; read: number; sent: number } {
  const e = established({
    config: o.config,
    ...(o.connectRcvBuf !== undefined ? { connectOptions: { options: { rcvBuf: o.connectRcvBuf } } } : {}),
    peerOptions: { mss: MSS, windowScale: WSCALE_SHIFT_PEER },
  });
  if (o.setRcvBuf !== undefined) e.c.setOptions({ rcvBuf: o.setRcvBuf });
  const wscale = e.c.info().options.windowScale?.rcv ?? 0;
  let nxt = e.peerSeq;
  let edge = nxt + 10 * MSS;
  let cwnd = 10 * MSS;
  let read = 0;
  const out: Round[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const start = nxt;
    const flightEnd = Math.min(edge, start + cwnd);
    for (let i = 0; i < 100_000 && nxt + MSS <= flightEnd; i++) {
      e.h.inject(
        { srcPort: PEER_PORT, dstPort: e.port, seq: nxt, ack: e.iss + 1, flags: TCP_ACK },
        new Uint8Array(MSS),
      );
      nxt += MSS;
    }
    let want = o.readPerRound ?? Number.POSITIVE_INFINITY;
    for (let i = 0; i < 100_000 && want > 0; i++) {
      const d = e.c.read(want);
      if (d === null) break;
      read += d.length;
      want -= d.length;
    }
    let offered = 0;
    for (const s of e.h.take()) {
      const w = s.repr.window << wscale;
      offered = Math.max(offered, w);
      edge = Math.max(edge, ((s.repr.ack - e.peerSeq) >>> 0) + e.peerSeq + w);
    }
    // Slow start: every byte acknowledged opens the peer's cwnd by as much.
    cwnd *= 2;
    out.push({ flight: nxt - start, limit: e.c.rcvBuf.limit, offered });
    e.h.advance(ROUND_MS);
  }
  return { rounds: out, wscale, read, sent: nxt - e.peerSeq };
}

const DEFAULT = 256 * 1024;
const MAX = 6 * 1024 * 1024;

describe('receive-buffer autotuning (Linux tcp_rcv_space_adjust)', () => {
  it('a reader that keeps up: the buffer and window grow past SO_RCVBUF, to tcp_rmem[2]', () => {
    const run = rounds({ rounds: 14 });
    assert.equal(run.read, run.sent, 'every byte sent was read');
    assert.ok(run.wscale >= 7, `the window scale covers 6 MiB (got ${run.wscale})`);
    const limits = run.rounds.map((r) => r.limit);
    // It never shrinks, never passes the bound, and reaches it.
    for (let i = 1; i < limits.length; i++) assert.ok(limits[i] >= limits[i - 1], `limits ${limits}`);
    assert.ok(Math.max(...limits) <= MAX, `limits ${limits}`);
    assert.equal(limits[limits.length - 1], MAX, `limits ${limits}`);
    // The peer's flight passed what the default buffer allows: the window was no cap.
    const flights = run.rounds.map((r) => r.flight);
    assert.ok(Math.max(...flights) > 4 * DEFAULT, `flights ${flights}`);
    assert.ok(Math.max(...run.rounds.map((r) => r.offered)) > 4 * DEFAULT);
    // Each growth follows what was read in the round trip before it: at least twice that.
    for (let i = 1; i < run.rounds.length; i++) {
      if (limits[i] > limits[i - 1] && limits[i] < MAX)
        assert.ok(limits[i] >= 2 * flights[i - 1], `round ${i}: limit ${limits[i]} after ${flights[i - 1]}`);
    }
  });

  it('until one receiver RTT was measured nothing grows; then at most once per RTT', () => {
    const run = rounds({ rounds: 3 });
    // Round 0 starts the measure; the first window-arrival sample needs a window's worth.
    assert.equal(run.rounds[0].limit, DEFAULT);
    const more = rounds({ rounds: 8 });
    const grows = more.rounds.filter((r, i) => i > 0 && r.limit > more.rounds[i - 1].limit).length;
    assert.ok(grows >= 1 && grows <= 7, `grew ${grows} times in 8 rounds`);
  });

  it('SO_RCVBUF set: the buffer keeps its size and the peer its window', () => {
    const run = rounds({ rounds: 12, setRcvBuf: DEFAULT });
    for (const r of run.rounds) {
      assert.equal(r.limit, DEFAULT);
      assert.ok(r.flight <= DEFAULT + MSS, `flight ${r.flight}`);
    }
    // Given to connect() (Linux: SOCK_RCVBUF_LOCK from setsockopt before connect).
    const before = rounds({ rounds: 12, connectRcvBuf: 300_000 });
    for (const r of before.rounds) {
      assert.equal(r.limit, 300_000);
      assert.ok(r.flight <= 300_000 + MSS, `flight ${r.flight}`);
    }
  });

  it('a reader slower than the sender: the buffer stops growing at what it reads', () => {
    const run = rounds({ rounds: 16, readPerRound: 8 * 1024 });
    const limits = run.rounds.map((r) => r.limit);
    // The first measure spans the rounds until a window's worth arrived (5 of them: 40 KiB
    // read against the initial 10 segments), as Linux's does from the handshake on; after
    // that each RTT reads 8 KiB, less than the last measure, and nothing grows.
    const last = limits[limits.length - 1];
    assert.ok(last < 4 * DEFAULT, `limits ${limits}`);
    for (const l of limits.slice(8)) assert.equal(l, last, `limits ${limits}`);
  });

  it('a connection that carried a few bytes holds no measure (memory per idle connection)', () => {
    const e = established({ peerOptions: { mss: MSS, windowScale: WSCALE_SHIFT_PEER } });
    e.h.inject(
      { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
      new Uint8Array(100),
    );
    assert.equal(e.c.read()?.length, 100);
    assert.equal(e.c.rcvSpace, null);
    // A bulk one does, from the first data past the initial ten segments.
    const run = rounds({ rounds: 2 });
    assert.ok(run.rounds[1].flight > 0);
  });

  it('rcvBufAuto off, and the FreeBSD profile (no tcp_autorcvbuf here): no growth', () => {
    const off = rounds({ rounds: 12, config: { rcvBufAuto: false } });
    for (const r of off.rounds) assert.equal(r.limit, DEFAULT);
    const bsd = rounds({ rounds: 12, config: { ...tcpConfigFor(FREEBSD), quickAck: false } });
    const first = bsd.rounds[0].limit;
    for (const r of bsd.rounds) assert.equal(r.limit, first);
  });
});
