/** receiver.ts alone: text, FIN and the ACK policy on a hand-made TCB. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EV_END, EV_READABLE } from '../../../src/tcp/events.ts';
import { armDelayedAck, receiveText } from '../../../src/tcp/receiver.ts';
import { T_DELACK, T_WAIT } from '../../../src/tcp/tcb.ts';
import { established, MSS, theirs } from './tcb-fixture.ts';

const bytes = (n: number, v = 1) => new Uint8Array(n).fill(v);
const noQuickAck = { config: { quickAck: false } };

describe('receiveText (unit)', () => {
  it('in-order text goes to the receive buffer and leaves the ACK to the delayed-ACK timer', () => {
    const { c, host } = established(noQuickAck);
    receiveText(c, theirs(0), bytes(500, 9), false);
    assert.equal(c.rcv.nxt, theirs(500));
    assert.deepEqual(c.rcvBuf.take(1000), bytes(500, 9));
    assert.ok(c.pending & EV_READABLE);
    assert.ok(!c.ackNow);
    armDelayedAck(c, host.clock.now());
    assert.equal(c.timerAt(T_DELACK), host.clock.now() + host.config.delayedAckTimeout);
  });

  it('every second full-sized segment is acknowledged at once (RFC 9293 §3.8.6.3)', () => {
    const { c } = established(noQuickAck);
    receiveText(c, theirs(0), bytes(MSS), false);
    assert.ok(!c.ackNow);
    receiveText(c, theirs(MSS), bytes(MSS), false);
    assert.ok(c.ackNow);
  });

  it('quick-ACK mode acknowledges the first data of a connection at once', () => {
    const { c } = established();
    receiveText(c, theirs(0), bytes(100), false);
    assert.ok(c.ackNow);
    assert.ok(c.quickAcks > 0);
  });

  it('out-of-order text is held and ACKed at once, then delivered when the gap fills', () => {
    const { c, host } = established(noQuickAck);
    receiveText(c, theirs(1000), bytes(1000, 2), false);
    assert.equal(c.rcvBuf.length, 0);
    assert.equal(c.rcv.nxt, theirs(0));
    assert.ok(c.hasReasm);
    assert.ok(c.ackNow);
    assert.equal(host.stats.outOfOrder, 1);
    c.ackNow = false;
    receiveText(c, theirs(0), bytes(1000, 1), false);
    assert.equal(c.rcv.nxt, theirs(2000));
    assert.equal(c.rcvBuf.length, 2000);
    assert.ok(!c.hasReasm);
    assert.ok(c.ackNow, 'RFC 5681 §4.2: filling a gap is acknowledged at once');
  });

  it('a duplicate below RCV.NXT is reported as a D-SACK block (RFC 2883)', () => {
    const { c } = established({ sackOk: true, ...noQuickAck });
    receiveText(c, theirs(0), bytes(1000), false);
    receiveText(c, theirs(0), bytes(1000), false);
    assert.deepEqual(c.dsack, { left: theirs(0), right: theirs(1000) });
    assert.equal(c.rcv.nxt, theirs(1000));
    assert.ok(c.ackNow);
  });

  it('a FIN in ESTABLISHED: CLOSE-WAIT, end of data, ACK at once', () => {
    const { c } = established();
    receiveText(c, theirs(0), bytes(0), true);
    assert.equal(c.state, 'CLOSE-WAIT');
    assert.ok(c.finReceived);
    assert.equal(c.rcv.nxt, theirs(1));
    assert.ok(c.pending & EV_END);
    assert.ok(c.ackNow);
  });

  it('a FIN in FIN-WAIT-2 enters TIME-WAIT and starts the 2*MSL timer', () => {
    const { c, host } = established();
    c.state = 'FIN-WAIT-2';
    receiveText(c, theirs(0), bytes(0), true);
    assert.equal(c.state, 'TIME-WAIT');
    assert.equal(c.timerAt(T_WAIT), host.clock.now() + 2 * host.config.msl);
  });
});
