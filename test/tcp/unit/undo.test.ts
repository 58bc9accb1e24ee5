/**
 * undo.ts: a window reduction undone when D-SACKs show every retransmission was spurious
 * (RFC 2883 §4, Linux tcp_try_undo_dsack / tcp_try_undo_loss), on a hand-made SACK TCB.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCongestionControl } from '../../../src/tcp/congestion/factory.ts';
import { segmentArrives } from '../../../src/tcp/input.ts';
import { tcpOutput } from '../../../src/tcp/output.ts';
import { TCP_ACK } from '../../../src/wire/tcp.ts';
import { established, fromPeer, MSS, ours } from './tcb-fixture.ts';

const EMPTY = new Uint8Array(0);
const MS = 1000;

function sender(segs: number) {
  const e = established({ sackOk: true, sndWnd: 1 << 20 });
  e.c.cc = createCongestionControl('newreno', MSS);
  // An ACK within min_RTT of a retransmission is ambiguous (RFC 8985 §6.2 step 2): it may be
  // for the original, so RACK takes no RTT from it and marks nothing after it.
  e.c.minRtt = 10 * MS;
  e.c.sndBuf.push(new Uint8Array(segs * MSS));
  tcpOutput(e.c);
  e.host.take();
  /** An ACK of `n` segments with SACK blocks in segment units, in the order given. */
  const ack = (n: number, sack: [number, number][] = []) =>
    segmentArrives(
      e.c,
      fromPeer(e.c, {
        ack: ours(n * MSS),
        flags: TCP_ACK,
        options: sack.length
          ? { sack: sack.map(([l, r]) => ({ left: ours(l * MSS), right: ours(r * MSS) })) }
          : {},
      }),
      EMPTY,
    );
  return { ...e, ack };
}

describe('undo on D-SACK (RFC 2883 §4)', () => {
  it('a fast retransmission the peer D-SACKs restores cwnd and ssthresh and ends the recovery', () => {
    const { c, host, ack } = sender(10);
    const cwndBefore = c.cc.cwnd;
    host.clock.advance(10 * MS);
    ack(0, [[1, 4]]); // 0 looks lost (three SACKed above)
    assert.ok(c.inRecovery);
    const rtx = host.take().filter((s) => s.seq === ours(0));
    assert.equal(rtx.length, 1, 'segment 0 retransmitted');
    assert.ok(c.cc.cwnd < cwndBefore);
    // The original was only late: the cumulative ACK covers it, then the retransmission's
    // duplicate is D-SACKed.
    host.clock.advance(MS);
    ack(4, []);
    ack(4, [[0, 1]]);
    assert.equal(host.stats.spuriousUndos, 1);
    assert.ok(!c.inRecovery);
    assert.ok(c.cc.cwnd >= cwndBefore, `cwnd ${c.cc.cwnd} < ${cwndBefore}`);
    assert.equal(c.undoMarker, undefined);
  });

  it('no undo while retransmitted bytes are not all D-SACKed, nor for a D-SACK above SND.UNA of a segment never retransmitted', () => {
    const { c, host, ack } = sender(10);
    host.clock.advance(10 * MS);
    ack(0, [[1, 4]]);
    assert.ok(c.inRecovery);
    host.take();
    host.clock.advance(MS);
    ack(4, []);
    const reducedSsthresh = c.cc.ssthresh;
    // A D-SACK of a duplicate above SND.UNA: not evidence about the retransmission.
    ack(4, [
      [5, 6],
      [5, 7],
    ]);
    assert.equal(host.stats.spuriousUndos, 0);
    // Half the retransmitted segment D-SACKed: not yet.
    const half = { left: ours(0), right: ours(MSS / 2) };
    segmentArrives(c, fromPeer(c, { ack: ours(4 * MSS), options: { sack: [half] } }), EMPTY);
    assert.equal(host.stats.spuriousUndos, 0);
    assert.equal(c.cc.ssthresh, reducedSsthresh);
    assert.ok(c.inRecovery);
    // The other half: every retransmitted byte was a duplicate.
    const rest = { left: ours(MSS / 2), right: ours(MSS) };
    segmentArrives(c, fromPeer(c, { ack: ours(4 * MSS), options: { sack: [rest] } }), EMPTY);
    assert.equal(host.stats.spuriousUndos, 1);
    assert.ok(c.cc.ssthresh > reducedSsthresh, `ssthresh ${c.cc.ssthresh}`);
    assert.ok(!c.inRecovery);
  });

  it('a D-SACK above SND.UNA counts for a retransmitted segment (Linux tcp_sacktag_one)', () => {
    const { c, host, ack } = sender(10);
    const cwndBefore = c.cc.cwnd;
    host.clock.advance(10 * MS);
    ack(0, [[2, 8]]); // 0 and 1 look lost
    assert.deepEqual(
      host.take().map((s) => (s.seq - ours(0)) / MSS),
      [0, 1],
      'segments 0 and 1 retransmitted',
    );
    assert.equal(c.undoRetrans, 2 * MSS);
    host.clock.advance(MS);
    // The original 1 was only reordered; its retransmission arrives above the hole at 0, so
    // the peer reports it as a D-SACK inside the block that holds it.
    ack(0, [[1, 8]]);
    ack(0, [
      [1, 2],
      [1, 8],
    ]);
    assert.equal(c.undoRetrans, MSS, 'the retransmission of 1 was a duplicate');
    assert.equal(host.stats.spuriousUndos, 0);
    // The original 0 arrives late too, then its retransmission: every retransmission of the
    // episode was needless.
    ack(8, []);
    ack(8, [[0, 1]]);
    assert.equal(host.stats.spuriousUndos, 1);
    assert.ok(!c.inRecovery);
    assert.ok(c.cc.cwnd >= cwndBefore, `cwnd ${c.cc.cwnd} < ${cwndBefore}`);
  });

  it('an RTO whose retransmission is D-SACKed: Loss ends, the window returns, go-back-N stops', () => {
    const { c, host, ack } = sender(4);
    const cwndBefore = c.cc.cwnd;
    for (let i = 1; i <= 10 && c.stats.timeouts === 0; i++) host.runUntil(host.clock.now() + 500 * MS);
    assert.equal(c.stats.timeouts, 1);
    assert.equal(c.cc.cwnd, MSS);
    assert.ok(c.lossEnd !== undefined);
    host.take();
    // Everything had arrived; the ACK was only slow. The retransmitted segment 0 comes back
    // as a D-SACK.
    ack(4, [[0, 1]]);
    assert.equal(host.stats.spuriousUndos, 1);
    assert.equal(c.lossEnd, undefined);
    assert.ok(c.cc.cwnd >= cwndBefore);
    assert.equal(c.snd.nxt, c.sndMax);
  });

  it('a connection without SACK never undoes', () => {
    const { c, host, ack } = sender(10);
    c.sackOk = false;
    host.clock.advance(10 * MS);
    for (let i = 0; i < 3; i++) ack(0);
    assert.ok(c.inRecovery);
    ack(10, [[0, 1]]);
    assert.equal(host.stats.spuriousUndos, 0);
  });
});
