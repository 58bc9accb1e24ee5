/**
 * The window outside recovery with SACK and RACK (output.ts openFlight, Linux
 * tcp_packets_in_flight): SACKed segments have left the network, so each ACK that SACKs one
 * lets a new segment go before RACK has marked anything lost (Linux's Disorder state), also
 * when the ACK's window differs from the last (a receiver holding out-of-order data
 * advertises a changing window; such an ACK is no RFC 5681 duplicate, so limited transmit
 * does not answer it). Hand-made ACKs on a hand-made TCB at virtual times.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TcpConfig } from '../../../src/tcp/config.ts';
import { createCongestionControl } from '../../../src/tcp/congestion/factory.ts';
import { tcpOutput } from '../../../src/tcp/output.ts';
import { processAck } from '../../../src/tcp/sender.ts';
import { established, type FakeHost, fromPeer, MSS, ours, type TestTcb, theirs } from './tcb-fixture.ts';

const MS = 1000;

/** A SACK TCB whose cwnd is 5 segments, 5 segments sent, 20 more queued. */
function fiveOut(config: Partial<TcpConfig> = {}): { c: TestTcb; host: FakeHost } {
  const e = established({ sackOk: true, config });
  e.c.cc = createCongestionControl('newreno', MSS);
  e.c.cc.adopt?.(5 * MSS, 64 * MSS);
  e.c.minRtt = 100 * MS; // RACK's reordering window: min_RTT / 4
  e.c.sndBuf.push(new Uint8Array(25 * MSS));
  tcpOutput(e.c);
  assert.equal(e.host.take().length, 5);
  e.host.clock.advance(100 * MS);
  return e;
}

/** An ACK of segment 0 SACKing segments [1, to), its window `wnd` bytes; then output, as input.ts does. */
function sackAck(c: TestTcb, to: number, wnd: number): void {
  const a = ours(0);
  const sack = [{ left: ours(MSS), right: ours(to * MSS) }];
  processAck(c, fromPeer(c, { ack: a, window: wnd, options: { sack } }), theirs(0), a, 0);
  tcpOutput(c);
}

/** First new segment index of each data segment `host` sent since the last take. */
function sentSegs(host: FakeHost): number[] {
  return host
    .take()
    .filter((s) => s.len > 0)
    .map((s) => ((s.seq - ours(0)) >>> 0) / MSS);
}

describe('the window outside recovery (Linux tcp_packets_in_flight)', () => {
  it('each SACKed segment clocks out a new one before loss is marked, whatever window the ACK carries', () => {
    const { c, host } = fiveOut();
    const wnd = c.snd.wnd;
    // Segment 0 is missing; the ACK SACKing segment 1 shrinks the window by 1 KB (the
    // receiver holds it out of order): not a duplicate ACK, RACK waits its reordering window.
    sackAck(c, 2, wnd - 1024);
    assert.equal(c.dupAcks, 0, 'a window change: no RFC 5681 duplicate');
    assert.equal(c.inRecovery, false);
    assert.deepEqual(sentSegs(host), [5], 'one SACKed, one new');
    host.clock.advance(MS);
    sackAck(c, 3, wnd - 2048);
    assert.equal(c.inRecovery, false);
    assert.deepEqual(sentSegs(host), [6]);
    // Still at most cwnd in flight by Linux's count: SND.NXT - SND.UNA - SACKed = 5.
    assert.equal(((c.snd.nxt - c.snd.una) >>> 0) - 2 * MSS, 5 * MSS);
    // An ACK that SACKs nothing new sends nothing.
    sackAck(c, 3, wnd - 2048);
    assert.deepEqual(sentSegs(host), []);
  });

  it('without RACK (tcp_recovery = 0) the SACKed data still counts: the changed window sends nothing', () => {
    const { c, host } = fiveOut({ recovery: 0 });
    sackAck(c, 2, c.snd.wnd - 1024);
    assert.deepEqual(sentSegs(host), []);
  });
});
