/** timers.ts and the TCB's timer state alone: one queue entry, run in order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { enterTimeWait } from '../../../src/tcp/lifecycle.ts';
import { tcpOutput } from '../../../src/tcp/output.ts';
import { T_DELACK, T_KEEP, T_RTX, T_WAIT } from '../../../src/tcp/tcb.ts';
import { TCP_ACK } from '../../../src/wire/tcp.ts';
import { established, MSS, ours, theirs } from './tcb-fixture.ts';

describe('connection timers (unit)', () => {
  it('one queue entry stands at the earliest deadline; a cleared or later deadline moves it lazily, when it comes due', () => {
    const { c, host } = established();
    const t = host.clock.now();
    c.setTimer(T_KEEP, t + 5_000_000);
    assert.equal(host.queue.nextDeadline(), t + 5_000_000);
    c.setTimer(T_DELACK, t + 40_000);
    assert.equal(host.queue.nextDeadline(), t + 40_000, 'an earlier deadline moves the entry at once');
    c.setTimer(T_RTX, t + 200_000);
    assert.equal(host.queue.nextDeadline(), t + 40_000, 'a later one leaves it');
    c.clearTimer(T_DELACK);
    c.clearTimer(T_RTX);
    // The entry stays at 40 ms: it fires with nothing due, sends nothing, and moves on.
    assert.equal(host.queue.nextDeadline(), t + 40_000);
    host.runUntil(t + 40_000);
    assert.equal(host.sent.length, 0, 'nothing due, nothing sent');
    assert.equal(host.queue.nextDeadline(), t + 5_000_000);
    c.clearTimer(T_KEEP);
    // Nothing armed: the entry still stands; it fires once with nothing due and is gone.
    assert.equal(host.queue.nextDeadline(), t + 5_000_000);
    c.setTimer(T_RTX, t + 6_000_000);
    assert.equal(host.queue.nextDeadline(), t + 5_000_000, 'a later deadline leaves the stale entry');
    c.clearTimer(T_RTX);
    host.runUntil(t + 5_000_000);
    assert.equal(host.sent.length, 0, 'nothing due, nothing sent');
    assert.equal(host.queue.nextDeadline(), undefined, 'nothing armed: no entry after it fired');
    c.setTimer(T_KEEP, t + 5_000_000);
    c.cancelTimers();
    assert.equal(host.queue.nextDeadline(), undefined);
    assert.ok(!c.timerArmed(T_KEEP));
  });

  it('the delayed-ACK timer sends the ACK it owes', () => {
    const { c, host } = established();
    c.rcv.nxt = theirs(100);
    const at = host.clock.now() + 40_000;
    c.setTimer(T_DELACK, at);
    host.runUntil(at - 1);
    assert.equal(host.sent.length, 0);
    host.runUntil(at);
    const [s, ...rest] = host.take();
    assert.equal(rest.length, 0);
    assert.deepEqual([s?.flags, s?.ack, s?.len], [TCP_ACK, theirs(100), 0]);
    assert.equal(host.stats.delayedAcks, 1);
    assert.equal(host.queue.nextDeadline(), undefined);
  });

  it('kinds due at one instant run in the order they were armed', () => {
    // Delayed ACK first: its ACK goes out, then TIME-WAIT ends the connection.
    const a = established();
    a.c.state = 'TIME-WAIT';
    const at = a.host.clock.now() + 1000;
    a.c.setTimer(T_DELACK, at);
    a.c.setTimer(T_WAIT, at);
    a.host.runUntil(at);
    assert.equal(a.host.take().length, 1);
    assert.equal(a.c.state, 'CLOSED');
    // TIME-WAIT first: the connection is gone before the delayed ACK could run.
    const b = established();
    b.c.state = 'TIME-WAIT';
    b.c.setTimer(T_WAIT, at);
    b.c.setTimer(T_DELACK, at);
    b.host.runUntil(at);
    assert.equal(b.host.take().length, 0);
    assert.equal(b.c.state, 'CLOSED');
    assert.equal(b.host.stats.delayedAcks, 0);
  });

  it('an RTO resends SND.UNA with cwnd = 1 SMSS and doubles the timeout (RFC 6298 §5.4-5.6)', () => {
    const { c, host } = established();
    c.sndBuf.push(new Uint8Array(3000));
    tcpOutput(c);
    host.take();
    const rto = c.rtt.rto;
    const at = c.timerAt(T_RTX);
    host.runUntil(at);
    const segs = host.take();
    assert.deepEqual(
      segs.map((s) => [s.seq, s.len]),
      [[ours(0), MSS]],
    );
    assert.equal(c.cc.cwnd, MSS);
    assert.equal(c.rtt.rto, 2 * rto);
    assert.equal(c.timerAt(T_RTX), at + 2 * rto);
    assert.equal(c.stats.timeouts, 1);
    assert.equal(c.snd.nxt, ours(1000));
  });

  it('TIME-WAIT ends after 2*MSL and the connection leaves its table', () => {
    const { c, host } = established();
    c.state = 'FIN-WAIT-2';
    enterTimeWait(c);
    const end = host.clock.now() + 2 * host.config.msl;
    host.runUntil(end - 1);
    assert.equal(c.state, 'TIME-WAIT');
    host.runUntil(end);
    assert.equal(c.state, 'CLOSED');
    assert.deepEqual(host.removed, [c]);
    assert.equal(host.stats.timeWaitExpired, 1);
  });
});
