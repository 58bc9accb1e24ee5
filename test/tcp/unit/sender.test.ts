/** sender.ts alone: ACK processing on a hand-made TCB. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tcpOutput } from '../../../src/tcp/output.ts';
import { processAck } from '../../../src/tcp/sender.ts';
import { seq } from '../../../src/tcp/seq.ts';
import { T_PERSIST } from '../../../src/tcp/tcb.ts';
import { established, fromPeer, IRS, MSS, ours, theirs } from './tcb-fixture.ts';

/** Our TCB with `n` bytes written and sent. */
function sending(n: number, o: Parameters<typeof established>[0] = {}) {
  const e = established(o);
  e.c.sndBuf.push(new Uint8Array(n));
  tcpOutput(e.c);
  e.host.take();
  return e;
}

describe('processAck (unit)', () => {
  it('a new ACK frees the send buffer, moves SND.UNA, grows cwnd and stops the RTO when all is acknowledged', () => {
    const { c } = sending(2000);
    const cwnd = c.cc.cwnd;
    processAck(c, fromPeer(c, { ack: ours(2000) }), theirs(0), ours(2000), 0);
    assert.equal(c.snd.una, ours(2000));
    assert.equal(c.sndBuf.length, 0);
    assert.equal(c.sndBufSeq, ours(2000));
    assert.equal(c.stats.bytesAcked, 2000);
    // RFC 3465 slow start: cwnd += min(acked, 2*SMSS).
    assert.equal(c.cc.cwnd, cwnd + 2 * MSS);
    assert.ok(!c.rtxArmed);
  });

  it('a partial ACK restarts the RTO for what is still outstanding', () => {
    const { c, host } = sending(2000);
    host.clock.advance(50_000);
    processAck(c, fromPeer(c, { ack: ours(1000) }), theirs(0), ours(1000), 0);
    assert.equal(c.sndBuf.length, 1000);
    assert.ok(c.rtxArmed);
    assert.equal(c.timerAt[0], host.clock.now() + c.rtt.rto);
  });

  it('the third duplicate ACK retransmits SND.UNA and enters recovery (RFC 5681 §3.2)', () => {
    const { c, host } = sending(5000);
    for (let i = 1; i <= 3; i++) {
      processAck(c, fromPeer(c, { ack: ours(0) }), theirs(0), ours(0), 0);
      assert.equal(c.dupAcks, i);
      if (i < 3) assert.equal(host.sent.length, 0, 'no new data for limited transmit');
    }
    const [s, ...rest] = host.take();
    assert.equal(rest.length, 0);
    assert.deepEqual([s?.seq, s?.len], [ours(0), MSS]);
    assert.ok(c.inRecovery);
    assert.equal(c.recover, ours(5000));
    assert.equal(c.stats.fastRetransmits, 1);
    // ssthresh = max(FlightSize / 2, 2*SMSS); NewReno inflates by 3*SMSS.
    assert.equal(c.cc.ssthresh, 2500);
    assert.equal(c.nrInflate, 3 * MSS);
  });

  it('the send window follows only newer segments (SND.WL1, SND.WL2)', () => {
    const { c } = sending(0);
    processAck(c, fromPeer(c, { window: 1000 }), theirs(0), ours(0), 0);
    assert.equal(c.snd.wnd, 1000);
    assert.equal(c.snd.wl1, theirs(0));
    const older = seq(IRS - 9);
    processAck(c, fromPeer(c, { seq: older, window: 5000 }), older, ours(0), 0);
    assert.equal(c.snd.wnd, 1000, 'an older segment does not update the window');
    processAck(c, fromPeer(c, { seq: theirs(10), window: 5000 }), theirs(10), ours(0), 0);
    assert.equal(c.snd.wnd, 5000);
    assert.equal(c.maxSndWnd, 65535);
  });

  it('a window that opens ends zero-window probing', () => {
    const { c, host } = established({ sndWnd: 0 });
    c.sndBuf.push(new Uint8Array(100));
    tcpOutput(c);
    assert.ok(c.timerArmed(T_PERSIST));
    c.persistCount = 2;
    processAck(c, fromPeer(c, { seq: theirs(1), window: 4000 }), theirs(1), ours(0), 0);
    assert.ok(!c.timerArmed(T_PERSIST));
    assert.equal(c.persistCount, 0);
    assert.equal(c.snd.wnd, 4000);
    assert.equal(host.sent.length, 0, 'processAck decides; output sends');
  });
});
