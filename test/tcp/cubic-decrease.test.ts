/**
 * CUBIC's multiplicative decrease starts from the window the loss happened in (RFC 9438 §4.6
 * with cwnd for flight_size, as Linux's bictcp_recalc_ssthresh and FreeBSD's
 * cubic_ssthresh_update), and the ACK that shows the loss does not grow that window first
 * (Linux tcp_ack: tcp_fastretrans_alert before tcp_cong_control). Hand-made ACKs at virtual
 * times; the peer SACKs, the Linux profile's RACK finds the loss.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, type Opened, PEER_PORT, TCP_ACK } from './harness.ts';

const MSS = 1460;
const at = (e: Opened, i: number) => (e.iss + 1 + i * MSS) >>> 0;

function ackTo(e: Opened, i: number, sack: [number, number][] = []): void {
  e.h.inject({
    srcPort: PEER_PORT,
    dstPort: e.port,
    seq: e.peerSeq,
    ack: at(e, i),
    flags: TCP_ACK,
    window: 65535,
    options: sack.length ? { sack: sack.map(([l, r]) => ({ left: at(e, l), right: at(e, r) })) } : {},
  });
}

const inFlight = (e: Opened) => ((e.c.sndMax - e.c.snd.una) >>> 0) / MSS;

/** A CUBIC sender with twenty segments in flight and cwnd 20 (one RTT of slow start). */
function twentyOut(): Opened {
  const e = established({ peerOptions: { mss: MSS, sackPermitted: true }, handshakeRtt: 100 });
  assert.equal(e.c.cc.name, 'cubic');
  e.c.write(new Uint8Array(200 * MSS));
  assert.equal(e.h.take().length, 10);
  e.h.advance(100);
  ackTo(e, 10);
  assert.equal(e.h.take().length, 20);
  assert.equal(e.c.cc.cwnd, 20 * MSS);
  e.h.advance(100);
  return e;
}

describe('CUBIC multiplicative decrease (RFC 9438 §4.6, Linux bictcp_recalc_ssthresh)', () => {
  it('a stretch ACK that also shows a loss: ssthresh = 0.7 x the window (20), not x the flight left (10)', () => {
    const e = twentyOut();
    // Ten segments acknowledged at once, segment 20 missing, three above it SACKed: RACK's
    // loss (three SACKed above, Linux tcp_time_to_recover) starts recovery on this ACK.
    ackTo(e, 20, [[21, 24]]);
    assert.equal(e.c.info().caState, 'recovery');
    assert.equal(e.c.cc.ssthresh, 14 * MSS);
    // W_max is the window before the reduction, in segments.
    const st = (e.c.cc as unknown as { state: { wMax: number | undefined } }).state;
    assert.equal(st.wMax, 20);
    // PRR (RFC 6937 §3.1, the flight of 6 below ssthresh: slow start reduction bound) sends
    // the retransmission and new data up to ssthresh: the flight was 10 and becomes 17.
    assert.ok(inFlight(e) > 10, `flight ${inFlight(e)}`);
  });

  it('an ACK that shows no loss grows the window by what it delivered, as before', () => {
    const e = twentyOut();
    ackTo(e, 20);
    assert.equal(e.c.info().caState, 'open');
    assert.equal(e.c.cc.cwnd, 30 * MSS);
  });

  it('the flight below the window after a recovery does not deepen the next reduction', () => {
    const e = twentyOut();
    ackTo(e, 20, [[21, 24]]);
    const ssthresh1 = e.c.cc.ssthresh;
    // The hole is filled: recovery ends, cwnd = ssthresh (14).
    const sent = e.h.take();
    assert.ok(sent.length > 0);
    e.h.advance(100);
    ackTo(e, 24, [[25, 28]]);
    ackTo(e, ((e.c.sndMax - e.iss - 1) >>> 0) / MSS);
    assert.equal(e.c.info().caState, 'open');
    assert.equal(e.c.cc.cwnd, ssthresh1);
    e.h.take();
    // The next loss: the window is 14; 0.7 x 14 = 9.8, 9 segments (Linux counts packets:
    // 14 * 717 / 1024), whatever is in flight.
    e.h.advance(100);
    const una = ((e.c.snd.una - e.iss - 1) >>> 0) / MSS;
    ackTo(e, una + 2, [[una + 3, una + 6]]);
    assert.equal(e.c.info().caState, 'recovery');
    assert.equal(e.c.cc.ssthresh, 9 * MSS);
  });
});
