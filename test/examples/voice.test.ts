/**
 * examples/rtp.ts, the voice examples' RTP (RFC 3550): the header round trip, and the
 * receiver statistics on hand-made arrivals: loss from the sequence numbers (also across
 * the 16-bit wrap), reordering and duplicates, and the §6.4.1 jitter (0 for a constant
 * transit time; for a transit alternating by d it converges to d).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRtp, encodeRtp, PT_PCMU, ReceiverStats, toneFrame } from '../../examples/rtp.ts';

const pkt = (seq: number, ts: number) => ({
  seq,
  timestamp: ts,
  ssrc: 7,
  payloadType: PT_PCMU,
  payload: toneFrame(0),
});

test('RTP header round trip (V=2, marker, PT, seq, timestamp, SSRC)', () => {
  const b = encodeRtp(
    { seq: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef, payloadType: PT_PCMU, payload: toneFrame(0) },
    true,
  );
  assert.equal(b.length, 12 + 160);
  assert.equal(b[0], 0x80);
  assert.equal(b[1], 0x80);
  const p = decodeRtp(b)!;
  assert.deepEqual(
    [p.seq, p.timestamp, p.ssrc, p.payloadType, p.payload.length],
    [65535, 0xfffffff0, 0xdeadbeef, 0, 160],
  );
  assert.equal(decodeRtp(b.subarray(0, 11)), undefined);
  const v1 = b.slice();
  v1[0] = 0x40;
  assert.equal(decodeRtp(v1), undefined);
});

test('loss across the sequence wrap, reordering, duplicates; jitter 0 at constant transit', () => {
  const s = new ReceiverStats();
  // Seq 65530..65535, 0..9 (16 sent): 65533 and 4 lost, 2 arrives after 3, 7 twice.
  const order = [65530, 65531, 65532, 65534, 65535, 0, 1, 3, 2, 5, 6, 7, 7, 8, 9];
  for (const seq of order) {
    const i = (seq - 65530 + 0x10000) % 0x10000;
    s.add(pkt(seq, i * 160), 1000 + i * 160);
  }
  assert.equal(s.expected, 16);
  assert.equal(s.received, 14);
  assert.equal(s.lost, 2);
  assert.equal(s.outOfOrder, 1);
  assert.equal(s.duplicates, 1);
  assert.equal(s.jitterMs, 0);
});

test('jitter: a transit alternating by 80 samples (10 ms) converges to 10 ms', () => {
  const s = new ReceiverStats();
  for (let i = 0; i < 400; i++) s.add(pkt(i, i * 160), i * 160 + (i % 2 === 0 ? 0 : 80));
  assert.ok(Math.abs(s.jitterMs - 10) < 0.01, `${s.jitterMs}`);
  assert.equal(s.lost, 0);
});
