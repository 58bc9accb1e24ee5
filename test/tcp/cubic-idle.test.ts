/**
 * CUBIC after an application-limited pause (RFC 9438 §5.8; Linux tcp_cubic's
 * CA_EVENT_TX_START): the epoch moves forward by the idle time, so the window resumes on the
 * cubic curve where it left off instead of jumping by the time nothing was sent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cubic } from '../../src/tcp/congestion/cubic.ts';
import type { CongestionContext } from '../../src/tcp/congestion/types.ts';
import { millis, seconds } from '../../src/time/instant.ts';

const MSS = 1000;
const ctx = (now: number, lastSend?: number): CongestionContext => ({
  now,
  mss: MSS,
  flightSize: 40 * MSS,
  rtt: millis(100),
  minRtt: millis(100),
  ...(lastSend !== undefined ? { lastSend } : {}),
});

/** A CUBIC after one loss at 40 segments, then `ms` of ACKs (one segment per 2.5 ms). */
function afterLoss(): { cc: Cubic; t: number } {
  const cc = new Cubic(MSS, { slowStartExit: 'none' });
  cc.onEnterRecovery(ctx(0));
  cc.onExitRecovery({ ...ctx(0), prrExit: true });
  let t = 0;
  for (let i = 0; i < 200; i++) cc.onAck(MSS, ctx((t += 2500)));
  return { cc, t };
}

describe('CUBIC after idle (RFC 9438 §5.8)', () => {
  it('the idle time does not count in t: the next ACKs grow cwnd as before the pause', () => {
    const { cc, t } = afterLoss();
    const before = cc.cwnd;
    // The application pauses 5 s; then sending resumes (nothing in flight).
    const resume = t + seconds(5);
    cc.onTxStart(ctx(resume, t), true);
    cc.onAck(MSS, ctx(resume + 2500));
    const shifted = cc.cwnd - before;

    const b = afterLoss();
    const w = b.cc.cwnd;
    b.cc.onAck(MSS, ctx(b.t + seconds(5) + 2500)); // no TX_START: t includes the 5 s
    const unshifted = b.cc.cwnd - w;
    assert.ok(shifted < MSS, `one ACK after the pause grows cwnd by ${shifted} bytes`);
    assert.ok(unshifted > 2 * shifted, `without the shift it jumps by ${unshifted}`);
    assert.equal(cc.state.epochStart, seconds(5) + 2500, 'the epoch moved forward by the idle time');
  });
});
