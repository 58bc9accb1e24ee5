/** output.ts alone: what tcpOutput sends from a hand-made TCB into the transmit sink. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendAck, tcpOutput } from '../../../src/tcp/output.ts';
import { T_DELACK, T_PERSIST, T_RTX } from '../../../src/tcp/tcb.ts';
import { TCP_ACK, TCP_PSH } from '../../../src/wire/tcp.ts';
import { established, MSS, ours, theirs } from './tcb-fixture.ts';

describe('tcpOutput (unit)', () => {
  it('sends what the windows allow, one MSS per segment, PSH on the segment that empties the buffer', () => {
    const { c, host } = established();
    c.sndBuf.push(new Uint8Array(3000).fill(7));
    tcpOutput(c);
    const segs = host.take();
    assert.deepEqual(
      segs.map((s) => [s.seq, s.len, s.flags]),
      [
        [ours(0), MSS, TCP_ACK],
        [ours(1000), MSS, TCP_ACK],
        [ours(2000), MSS, TCP_ACK | TCP_PSH],
      ],
    );
    assert.ok(segs.every((s) => s.ack === theirs(0) && s.payload.every((b) => b === 7)));
    assert.equal(c.snd.nxt, ours(3000));
    assert.equal(c.sndMax, ours(3000));
    // RFC 6298 §5.1: the retransmission timer runs for the data in flight.
    assert.equal(c.timerAt(T_RTX), host.clock.now() + c.rtt.rto);
  });

  it("the peer's window bounds the flight", () => {
    const { c, host } = established({ sndWnd: 2000 });
    c.sndBuf.push(new Uint8Array(5000));
    tcpOutput(c);
    assert.deepEqual(
      host.take().map((s) => [s.seq, s.len]),
      [
        [ours(0), MSS],
        [ours(1000), MSS],
      ],
    );
    assert.equal(c.snd.nxt, ours(2000));
    assert.ok(!c.persistArmed, 'data in flight: the retransmission timer watches, not persist');
  });

  it('Nagle holds a runt while data is in flight, TCP_NODELAY sends it', () => {
    const { c, host } = established();
    c.sndBuf.push(new Uint8Array(1500));
    tcpOutput(c);
    assert.deepEqual(
      host.take().map((s) => s.len),
      [MSS],
    );
    c.ownOpts().noDelay = true;
    tcpOutput(c);
    assert.deepEqual(
      host.take().map((s) => [s.seq, s.len]),
      [[ours(1000), 500]],
    );
  });

  it('a zero window sends nothing and arms the persist timer instead of the RTO', () => {
    const { c, host } = established({ sndWnd: 0 });
    c.sndBuf.push(new Uint8Array(100));
    tcpOutput(c);
    assert.equal(host.take().length, 0);
    assert.ok(c.timerArmed(T_PERSIST));
    assert.ok(!c.rtxArmed);
  });

  it('an owed ACK goes out bare, carrying RCV.NXT, and settles the delayed ACK', () => {
    const { c, host } = established();
    c.rcv.nxt = theirs(300);
    c.ackNow = true;
    c.setTimer(T_DELACK, host.clock.now() + 40_000);
    tcpOutput(c);
    const [s, ...rest] = host.take();
    assert.equal(rest.length, 0);
    assert.deepEqual([s?.seq, s?.ack, s?.flags, s?.len], [ours(0), theirs(300), TCP_ACK, 0]);
    assert.equal(c.lastAckSent, theirs(300));
    assert.ok(!c.ackNow);
    assert.ok(!c.delackArmed);
    assert.equal(host.stats.segmentsOut, 1);
  });

  it('the window field offers the free receive space', () => {
    const { c, host } = established();
    c.rcvBuf.push(new Uint8Array(1000));
    sendAck(c);
    const [s] = host.take();
    // Receiver SWS avoidance keeps the edge offered before (RCV.NXT + 65535).
    assert.equal(s?.window, 65535);
    assert.equal(c.rcvAdv, (theirs(0) + 65535) >>> 0);
  });
});
