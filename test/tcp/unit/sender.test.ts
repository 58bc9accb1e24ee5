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
    // All the window's full segments in flight: in slow start the window may grow (it is below
    // twice what is out, Linux tcp_is_cwnd_limited).
    const n = Math.floor(established().c.cc.cwnd / MSS) * MSS;
    const { c } = sending(n);
    const cwnd = c.cc.cwnd;
    processAck(c, fromPeer(c, { ack: ours(n) }), theirs(0), ours(n), 0);
    assert.equal(c.snd.una, ours(n));
    assert.equal(c.sndBuf.length, 0);
    assert.equal(c.sndBufSeq, ours(n));
    assert.equal(c.stats.bytesAcked, n);
    // RFC 3465 slow start: cwnd += min(acked, 2*SMSS).
    assert.equal(c.cc.cwnd, cwnd + 2 * MSS);
    assert.ok(!c.rtxArmed);
  });

  it('an application-limited sender does not grow cwnd (Linux tcp_is_cwnd_limited, RFC 7661)', () => {
    // 2000 bytes out of a 10-segment window: in slow start the window may only grow while it
    // is below twice what was in flight.
    const { c } = sending(2000);
    const cwnd = c.cc.cwnd;
    assert.ok(cwnd >= 2 * 2000);
    processAck(c, fromPeer(c, { ack: ours(2000) }), theirs(0), ours(2000), 0);
    assert.equal(c.snd.una, ours(2000));
    assert.equal(c.cc.cwnd, cwnd);
    // Half a window out: slow start may still double what was in flight.
    const e = sending(1000);
    e.c.cc.onRto({ now: 0, mss: MSS, flightSize: 1000 });
    const small = e.c.cc.cwnd;
    e.c.sndBuf.push(new Uint8Array(small));
    tcpOutput(e.c);
    const before = e.c.cc.cwnd;
    processAck(e.c, fromPeer(e.c, { ack: ours(1000) }), theirs(0), ours(1000), 0);
    assert.ok(e.c.cc.cwnd > before, 'cwnd-limited after the RTO: it grows');
  });

  it('a partial ACK restarts the RTO for what is still outstanding', () => {
    const { c, host } = sending(2000);
    host.clock.advance(50_000);
    processAck(c, fromPeer(c, { ack: ours(1000) }), theirs(0), ours(1000), 0);
    assert.equal(c.sndBuf.length, 1000);
    assert.ok(c.rtxArmed);
    assert.equal(c.timerAt(0), host.clock.now() + c.rtt.rto);
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
