/**
 * rack.ts (RFC 8985 §6, RACK) on a hand-made SACK TCB: segments sent at virtual times,
 * ACKs and SACK blocks built by hand, the reordering timer run by the fixture's clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TcpConfig } from '../../../src/tcp/config.ts';
import {
  RECOVERY_RACK,
  RECOVERY_RACK_NO_DUPTHRESH,
  RECOVERY_RACK_STATIC_REO_WND,
} from '../../../src/tcp/config.ts';
import { createCongestionControl } from '../../../src/tcp/congestion/factory.ts';
import { tcpOutput } from '../../../src/tcp/output.ts';
import { rackRecoveryEnded, rackReoWnd } from '../../../src/tcp/rack.ts';
import { processAck } from '../../../src/tcp/sender.ts';
import { T_REO } from '../../../src/tcp/tcb.ts';
import { established, type FakeHost, fromPeer, MSS, ours, type TestTcb, theirs } from './tcb-fixture.ts';

const MS = 1000;

/** A SACK TCB with a 10-segment initial window (MSS 1000). */
function sackConn(config: Partial<TcpConfig> = {}): { c: TestTcb; host: FakeHost } {
  const e = established({ sackOk: true, config });
  e.c.cc = createCongestionControl('newreno', MSS);
  return e;
}

/** Writes `segs` segments and sends what the windows allow now. */
function send(c: TestTcb, host: FakeHost, segs: number): void {
  c.sndBuf.push(new Uint8Array(segs * MSS));
  tcpOutput(c);
  host.take();
}

/** An ACK of `ackSegs` segments SACKing the [from, to) segment ranges, then output, as input.ts does. */
function ack(c: TestTcb, ackSegs: number, sack: [number, number][] = []): void {
  const a = ours(ackSegs * MSS);
  const blocks = sack.map(([l, r]) => ({ left: ours(l * MSS), right: ours(r * MSS) }));
  processAck(c, fromPeer(c, { ack: a, options: blocks.length ? { sack: blocks } : {} }), theirs(0), a, 0);
  tcpOutput(c);
}

/** The segment indexes retransmitted in `host`'s output since the last take. */
function retransmitted(host: FakeHost, below: number): number[] {
  return host
    .take()
    .filter((s) => s.len > 0 && (s.seq - ours(0)) >>> 0 < below * MSS)
    .map((s) => ((s.seq - ours(0)) >>> 0) / MSS);
}

describe('RACK loss detection (unit)', () => {
  it('is on for SACK connections under the Linux profile, off with tcp_recovery = 0 or without SACK', () => {
    const { c, host } = sackConn();
    send(c, host, 2);
    // One entry for the burst (two segments sent at one instant), as a TSO skb in Linux.
    assert.equal(c.txLog.size, 1);
    assert.equal(c.txLog.at(0).segs, 2);
    assert.equal(c.txLog.end, ours(2 * MSS));
    const off = sackConn({ recovery: 0 });
    send(off.c, off.host, 2);
    assert.ok(!off.c.hasTxLog);
    const noSack = established();
    send(noSack.c, noSack.host, 2);
    assert.ok(!noSack.c.hasTxLog);
  });

  it('reordering within the window is not treated as loss, and is remembered (RACK.reord)', () => {
    const { c, host } = sackConn();
    send(c, host, 10);
    host.clock.advance(50 * MS);
    // Segment 0 arrives, then 2 before 1: one SACKed segment above a hole.
    ack(c, 1);
    ack(c, 1, [[2, 3]]);
    assert.ok(!c.inRecovery);
    assert.deepEqual(retransmitted(host, 10), []);
    // RACK.rtt 50 ms, min_RTT 50 ms: the window is min_RTT/4 and the timer waits it out.
    assert.equal(rackReoWnd(c), 12.5 * MS);
    assert.equal(c.timerAt(T_REO), host.clock.now() + 12.5 * MS);
    assert.ok(!c.ptoArmed, 'no loss probe while the reordering timer runs');
    host.clock.advance(5 * MS);
    ack(c, 3); // segment 1 came after all
    assert.ok(!c.inRecovery);
    assert.ok(c.ptoArmed, 'the probe is scheduled again');
    assert.ok(c.rackReord, 'a segment delivered below RACK.fack, never retransmitted: reordering');
    assert.ok(!c.timerArmed(T_REO), 'nothing sent before RACK.xmit_ts is outstanding');
    host.runUntil(host.clock.now() + 100 * MS);
    // Only the tail loss probe (the last segment, RFC 8985 §7.3) goes out again.
    assert.deepEqual(retransmitted(host, 10), [9]);
    assert.equal(c.stats.lossProbes, 1);
    assert.equal(c.layer.stats.rackLosses, 0);
    assert.ok(!c.inRecovery);
  });

  it('the reordering timer marks a segment lost once RACK.rtt + reo_wnd has passed, and recovery resends it', () => {
    const { c, host } = sackConn();
    send(c, host, 10);
    host.clock.advance(50 * MS);
    ack(c, 1);
    ack(c, 1, [[2, 3]]);
    const due = c.timerAt(T_REO);
    host.runUntil(due - 1);
    assert.ok(!c.inRecovery, 'not before the window has passed');
    host.runUntil(due);
    assert.ok(c.inRecovery);
    assert.equal(c.layer.stats.rackTimeouts, 1);
    assert.deepEqual(retransmitted(host, 10), [1]);
    assert.equal(c.stats.fastRetransmits, 1);
  });

  it('marks segments lost on an ACK when a segment sent later than them by more than reo_wnd is delivered', () => {
    const { c, host } = sackConn();
    send(c, host, 5); // segments 0-4 at t0
    host.clock.advance(20 * MS);
    send(c, host, 5); // segments 5-9 at t0 + 20 ms
    host.clock.advance(50 * MS);
    // Segment 0 and segment 5 arrive: 1-4 went 20 ms before 5, more than min_RTT/4 = 17.5 ms.
    ack(c, 1, [[5, 6]]);
    assert.ok(c.inRecovery);
    assert.equal(c.txLog.lostBytes + MSS, 4 * MSS, 'four lost, one of them already resent');
    assert.deepEqual(retransmitted(host, 10), [1]);
  });

  it('DupThresh SACKed segments with no reordering seen close the window (unless TCP_RACK_NO_DUPTHRESH)', () => {
    for (const recovery of [RECOVERY_RACK, RECOVERY_RACK | RECOVERY_RACK_NO_DUPTHRESH]) {
      const { c, host } = sackConn({ recovery });
      send(c, host, 10);
      host.clock.advance(50 * MS);
      ack(c, 1, [[2, 5]]); // segment 1 missing, 2-4 SACKed, all sent together
      const noDupThresh = (recovery & RECOVERY_RACK_NO_DUPTHRESH) !== 0;
      assert.equal(c.inRecovery, !noDupThresh, `tcp_recovery=${recovery}`);
      assert.deepEqual(retransmitted(host, 10), noDupThresh ? [] : [1]);
    }
  });

  it('without RACK (tcp_recovery = 0) the same reordering and loss follow DupThresh', () => {
    const { c, host } = sackConn({ recovery: 0 });
    send(c, host, 10);
    host.clock.advance(50 * MS);
    ack(c, 1, [[2, 3]]);
    assert.ok(!c.timerArmed(T_REO));
    host.runUntil(host.clock.now() + 100 * MS);
    assert.ok(!c.inRecovery, 'one SACKed segment is below DupThresh, however long it waits');
  });

  it('a lost retransmission is found again by time', () => {
    const { c, host } = sackConn();
    c.sndBuf.push(new Uint8Array(10 * MSS)); // more to send later
    send(c, host, 10);
    host.clock.advance(50 * MS);
    ack(c, 1, [[2, 5]]); // 1 lost at once (DupThresh SACKed)
    assert.deepEqual(retransmitted(host, 10), [1]);
    // SACKs for 5..9 arrive, 1 ms apart; PRR sends new data (10, 11, ...) after the retransmission.
    for (let k = 6; k <= 10; k++) {
      host.clock.advance(1 * MS);
      ack(c, 1, [[2, k]]);
    }
    assert.ok(c.sndMax !== ours(10 * MSS), 'new data went out');
    host.take();
    // Segment 10, sent after the retransmission, is SACKed; the retransmission is not.
    host.clock.advance(80 * MS);
    ack(c, 1, [[2, 11]]);
    assert.ok(c.inRecovery);
    assert.deepEqual(retransmitted(host, 10), [1], 'segment 1 resent a second time');
    assert.equal(c.stats.timeouts, 0, 'without waiting for the RTO');
  });

  it('a segment still marked lost when a recovery ends starts the next one (Linux tcp_time_to_recover)', () => {
    const { c, host } = sackConn();
    c.sndBuf.push(new Uint8Array(10 * MSS));
    send(c, host, 10);
    host.clock.advance(50 * MS);
    ack(c, 1, [[2, 5]]); // segment 1 lost and resent; recovery until segment 10
    assert.ok(c.inRecovery);
    host.take();
    // Data sent during the recovery (segment 10 onwards) is marked lost, but the window
    // allows nothing more before the ACK that ends the recovery.
    const log = c.txLog;
    const i = log.indexEndingAfter(ours(10 * MSS));
    assert.ok(i < log.size, 'new data went out in recovery');
    log.setLost(log.at(i), true);
    c.prrCwnd = 0;
    host.clock.advance(10 * MS);
    ack(c, 10);
    assert.ok(c.inRecovery, 'a new recovery');
    assert.deepEqual(retransmitted(host, 11), [10]);
    assert.equal(c.stats.fastRetransmits, 2);
  });

  it('a D-SACK widens the window by min_RTT/4 per round, capped at SRTT; 16 D-SACK-free recoveries reset it', () => {
    const { c, host } = sackConn();
    send(c, host, 10);
    host.clock.advance(40 * MS);
    ack(c, 1);
    c.rackReord = true;
    const base = rackReoWnd(c);
    assert.equal(base, 10 * MS);
    // A D-SACK (RFC 2883: a block below SEG.ACK) for segment 0.
    const a = ours(2 * MSS);
    processAck(
      c,
      fromPeer(c, { ack: a, options: { sack: [{ left: ours(0), right: ours(MSS) }] } }),
      theirs(0),
      a,
      0,
    );
    assert.equal(c.rackReoWndMult, 2);
    assert.equal(rackReoWnd(c), 2 * base);
    // A second D-SACK in the same round does not widen it again.
    processAck(
      c,
      fromPeer(c, { ack: a, options: { sack: [{ left: ours(0), right: ours(MSS) }] } }),
      theirs(0),
      a,
      0,
    );
    assert.equal(c.rackReoWndMult, 2);
    c.rackReoWndMult = 10;
    assert.equal(rackReoWnd(c), c.rtt.srtt, 'never beyond SRTT');
    for (let i = 0; i < 16; i++) rackRecoveryEnded(c);
    assert.equal(c.rackReoWndMult, 1);
    const stat = sackConn({ recovery: RECOVERY_RACK | RECOVERY_RACK_STATIC_REO_WND });
    send(stat.c, stat.host, 4);
    stat.host.clock.advance(40 * MS);
    ack(stat.c, 1);
    stat.c.rackReord = true;
    stat.c.rackReoWndMult = 3;
    assert.equal(rackReoWnd(stat.c), 10 * MS, 'TCP_RACK_STATIC_REO_WND: min_RTT/4 always');
  });

  it('an RTO keeps the SACK marks, marks the rest lost, resends the head alone, then only what is lost (Linux tcp_timeout_mark_lost)', () => {
    const { c, host } = sackConn();
    send(c, host, 10);
    host.clock.advance(50 * MS);
    ack(c, 1, [[2, 3]]);
    host.runUntil(c.timerAt(T_REO)); // segment 1 lost, resent
    assert.ok(c.inRecovery);
    c.setTimer(T_REO, host.clock.now() + 1_000 * MS);
    assert.equal(c.txLog.sackedSegs, 1);
    assert.ok(!c.ptoArmed, 'recovery turned the loss probe back into the RTO');
    host.take();
    host.runUntil(c.timerAt(0));
    assert.equal(c.stats.timeouts, 1);
    assert.ok(!c.inRecovery);
    assert.notEqual(c.lossEnd, undefined, "Linux's Loss state");
    assert.equal(c.cc.cwnd, MSS);
    assert.deepEqual(retransmitted(host, 10), [1], 'the head alone, from the timer');
    assert.equal(c.txLog.sackedSegs, 1, 'segment 2 stays SACKed');
    assert.equal(c.scoreboard.sackedBytes, MSS);
    assert.equal(c.txLog.lostBytes, 7 * MSS, 'segments 3-9 are lost; the head was just resent');
    assert.ok(!c.timerArmed(T_REO));
    // The head's ACK covers the SACKed segment 2 too: cwnd grows by what it newly delivered
    // (one segment, not two), and the two segments it allows are the lost 3 and 4, not 2.
    host.clock.advance(50 * MS);
    ack(c, 3);
    assert.equal(c.cc.cwnd, 2 * MSS);
    assert.deepEqual(retransmitted(host, 10), [3, 4]);
    assert.equal(c.snd.nxt, ours(10 * MSS), 'SND.NXT did not go back');
  });

  it('an RTO with the head SACKed (the peer reneged) forgets the marks and goes back (RFC 2018 §8)', () => {
    const { c, host } = sackConn();
    send(c, host, 10);
    host.clock.advance(50 * MS);
    ack(c, 1, [[2, 3]]);
    host.clock.advance(1 * MS);
    ack(c, 2); // SND.UNA reaches segment 2, SACKed before and still not acknowledged
    assert.equal(c.scoreboard.sackedBytes, MSS);
    // (A loss probe or RACK's timer may run first.)
    for (let i = 0; i < 10 && c.stats.timeouts === 0; i++) {
      host.take();
      host.runUntil(c.timerAt(0));
    }
    assert.equal(c.stats.timeouts, 1);
    assert.equal(c.txLog.lostBytes, 0);
    assert.equal(c.txLog.sackedSegs, 0);
    assert.equal(c.scoreboard.sackedBytes, 0);
    assert.deepEqual(retransmitted(host, 10), [2]);
    assert.equal(c.snd.nxt, ours(3 * MSS), 'go-back-N from SND.UNA');
  });

  it('resending the head in recovery restarts the RTO from that copy (Linux tcp_xmit_retransmit_queue)', () => {
    const { c, host } = sackConn();
    send(c, host, 10);
    host.clock.advance(50 * MS);
    ack(c, 1, [[2, 3]]);
    const rtoAfterAck = c.timerAt(0);
    host.runUntil(c.timerAt(T_REO)); // segment 1 lost, resent as the head
    assert.ok(c.inRecovery);
    assert.deepEqual(retransmitted(host, 10), [1]);
    assert.equal(c.timerAt(0), host.clock.now() + c.rtt.rto);
    assert.ok(c.timerAt(0) > rtoAfterAck);
  });
});

describe('TLP with RACK (unit)', () => {
  it("the probe's SACK lets RACK mark the tail before it lost (RFC 8985 §7.4 with §6)", () => {
    const { c, host } = sackConn();
    send(c, host, 5);
    host.clock.advance(50 * MS);
    ack(c, 2); // 2, 3, 4 are lost
    assert.ok(c.ptoArmed);
    host.runUntil(c.timerAt(0));
    const probe = host.take();
    assert.equal(probe.length, 1);
    assert.equal(probe[0]!.seq, ours(4 * MSS), 'the last segment is probed');
    host.clock.advance(50 * MS);
    ack(c, 2, [[4, 5]]);
    assert.ok(c.inRecovery);
    assert.deepEqual(retransmitted(host, 5)[0], 2);
  });
});

describe('recover over a long connection (unit)', () => {
  it('after more than 2^31 bytes without a loss RACK still starts recovery (no sequence wrap)', () => {
    const { c, host } = sackConn();
    /** As if `n` more bytes had been sent and acknowledged: then one segment, acknowledged. */
    const skip = (n: number): void => {
      const una = ((c.snd.una + n) >>> 0) as typeof c.snd.una;
      c.snd.una = una;
      c.snd.nxt = una;
      c.sndMax = una;
      c.sndBufSeq = una;
      c.sndBuf.push(new Uint8Array(MSS));
      tcpOutput(c);
      host.clock.advance(50 * MS);
      const a = ((una + MSS) >>> 0) as typeof una;
      processAck(c, fromPeer(c, { ack: a }), theirs(0), a, 0);
      host.take();
    };
    skip(1.5 * 2 ** 30);
    skip(1.5 * 2 ** 30); // 3 GiB since the last recovery point in all
    const start = c.snd.una;
    c.sndBuf.push(new Uint8Array(10 * MSS));
    tcpOutput(c);
    host.take();
    host.clock.advance(50 * MS);
    const at = (k: number) => ((start + k * MSS) >>> 0) as typeof start;
    processAck(c, fromPeer(c, { ack: at(1) }), theirs(0), at(1), 0);
    const blocks = [{ left: at(2), right: at(5) }];
    processAck(c, fromPeer(c, { ack: at(1), options: { sack: blocks } }), theirs(0), at(1), 0);
    assert.ok(c.inRecovery);
    tcpOutput(c);
    assert.equal(host.take()[0]?.seq, at(1));
  });
});
