/**
 * F-RTO (RFC 5682) as Linux runs it (net.ipv4.tcp_frto = 2): after a retransmission timeout
 * only the first segment is resent; the ACKs that follow decide whether the timeout was
 * spurious (the window comes back) or the loss real (go-back-N from SND.UNA). Hand-made
 * ACKs at virtual times.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { established, type Opened, PEER_PORT, TCP_ACK } from './harness.ts';

const MSS = 1460;

/** `segs` full segments written; cwnd (10) lets ten go; the RTO fires and resends the first. */
function timedOut(segs: number, frto = 2): Opened & { cwnd: number; ssthresh: number } {
  const e = established({ config: { frto } });
  e.c.write(new Uint8Array(segs * MSS));
  const first = e.h.take();
  assert.equal(first.length, 10);
  const cwnd = e.c.cc.cwnd;
  const ssthresh = e.c.cc.ssthresh;
  e.h.advance(300);
  const rtx = e.h.take();
  assert.deepEqual(
    rtx.map((s) => s.repr.seq - e.iss - 1),
    [0],
    'the RTO resends the first segment only',
  );
  assert.equal(e.c.info().caState, 'loss');
  return { ...e, cwnd, ssthresh };
}

function ack(e: Opened, upTo: number): void {
  e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1 + upTo, flags: TCP_ACK });
}

const seqs = (e: Opened) => e.h.take().map((s) => (s.repr.seq - e.iss - 1) / MSS);

describe('F-RTO (RFC 5682)', () => {
  it('spurious: the first ACK after the timeout covers never-retransmitted data; the window comes back', () => {
    const e = timedOut(10);
    ack(e, 10 * MSS);
    assert.equal(e.h.layer.stats.spuriousRtos, 1);
    assert.equal(e.c.info().caState, 'open');
    assert.ok(e.c.cc.cwnd >= e.cwnd, `cwnd ${e.c.cc.cwnd} restored (was ${e.cwnd})`);
    // undo.ts's prior ssthresh: max(ssthresh, 3/4 cwnd) from before the timeout.
    assert.ok(e.c.cc.ssthresh >= (e.cwnd * 3) >> 2, `ssthresh ${e.c.cc.ssthresh}`);
  });

  it('step 2b: the ACK of the retransmission lets new data go, not the rest again; ACKs of the originals then undo', () => {
    const e = timedOut(14);
    ack(e, MSS);
    assert.deepEqual(seqs(e), [10, 11], 'two new segments (RFC 5682 §3.1 step 2b)');
    ack(e, 12 * MSS);
    assert.equal(e.h.layer.stats.spuriousRtos, 1);
    assert.equal(e.c.info().caState, 'open');
    assert.ok(e.c.cc.cwnd >= e.cwnd);
  });

  it('real loss: a duplicate ACK after the new data resumes go-back-N from SND.UNA', () => {
    const e = timedOut(14);
    ack(e, MSS);
    assert.deepEqual(seqs(e), [10, 11]);
    ack(e, MSS); // the new data arrived above a hole: a duplicate ACK
    assert.equal(e.h.layer.stats.spuriousRtos, 0);
    assert.deepEqual(seqs(e).slice(0, 1), [1], 'the first hole is resent');
    assert.ok(e.c.cc.cwnd < e.cwnd, 'the reduction stands');
  });

  it('off (net.ipv4.tcp_frto = 0): the ACK of the retransmission continues go-back-N', () => {
    const e = timedOut(14, 0);
    ack(e, MSS);
    assert.deepEqual(seqs(e), [1, 2]);
    ack(e, 12 * MSS);
    assert.equal(e.h.layer.stats.spuriousRtos, 0);
  });
});
