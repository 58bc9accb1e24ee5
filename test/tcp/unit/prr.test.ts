/**
 * prr.ts (RFC 6937 Proportional Rate Reduction, PRR-SSRB as Linux runs it): the arithmetic on
 * a hand-made TCB, then the window it gives a SACK recovery driven by hand-made ACKs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ccContext } from '../../../src/tcp/cc.ts';
import { createCongestionControl } from '../../../src/tcp/congestion/factory.ts';
import { tcpOutput } from '../../../src/tcp/output.ts';
import { prrOnAck, prrStart, prrTransmitted } from '../../../src/tcp/prr.ts';
import { processAck } from '../../../src/tcp/sender.ts';
import { established, type FakeHost, fromPeer, MSS, ours, type TestTcb, theirs } from './tcb-fixture.ts';

/**
 * A TCB in fast recovery with `flight` bytes outstanding, a window before the reduction of
 * `priorCwnd` (default: the flight filled it) and ssthresh = flight/2 (NewReno).
 */
function recovering(flight: number, priorCwnd = flight): TestTcb {
  const { c } = established({ sackOk: true });
  c.cc = createCongestionControl('newreno', MSS, { renoSsthresh: 'rfc5681-flight-size' });
  c.sndBuf.push(new Uint8Array(flight));
  c.sndMax = ours(flight);
  c.snd.nxt = c.sndMax;
  c.inRecovery = true;
  c.priorCwnd = priorCwnd; // undo.ts undoStart, as enterRecovery runs it
  c.cc.onEnterRecovery(ccContext(c));
  prrStart(c, flight - MSS);
  return c;
}

describe('PRR arithmetic (unit)', () => {
  it('starts with prr_delivered = prr_out = 0 and RecoverFS = the window before the reduction (Linux prior_cwnd)', () => {
    const c = recovering(10 * MSS);
    assert.equal(c.prrDelivered, 0);
    assert.equal(c.prrOut, 0);
    assert.equal(c.prrRecoverFs, 10 * MSS);
    assert.equal(c.cc.ssthresh, 5 * MSS);
    // SACKed data above the hole made SND.NXT - SND.UNA outgrow the window: RecoverFS stays
    // the window (RFC 6937 would take the 14 segments outstanding).
    const d = recovering(14 * MSS, 10 * MSS);
    assert.equal(d.prrRecoverFs, 10 * MSS);
    d.prrOut = MSS; // the fast retransmit
    // ssthresh 7: four segments delivered release CEIL(4 * 7 / 10) = 3 (Linux), not 2.
    assert.equal(prrOnAck(d, 4 * MSS, 10 * MSS, false, false), 2 * MSS);
  });

  it('while pipe > ssthresh: sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out, in whole segments', () => {
    const c = recovering(10 * MSS);
    // The first ACK: 1 MSS delivered -> ceil(1 * 5 / 10) = one segment (and the fast
    // retransmit is forced anyway).
    assert.equal(prrOnAck(c, MSS, 8 * MSS, false, true), MSS);
    prrTransmitted(c, MSS);
    assert.equal(c.prrCwnd, 9 * MSS);
    // Second: prr_delivered 2 segments -> 1 - prr_out 1 = 0.
    assert.equal(prrOnAck(c, MSS, 8 * MSS, false, false), 0);
    // Third: 3 -> CEIL(1.5) = 2 - 1 = one segment (Linux counts packets; rounding up in bytes,
    // 1500 - 1000 = 500, would send nothing).
    assert.equal(prrOnAck(c, MSS, 7 * MSS, false, false), MSS);
    prrTransmitted(c, MSS);
    assert.equal(c.prrOut, 2 * MSS);
    // Fourth: 4 -> 2 - 2 = 0.
    assert.equal(prrOnAck(c, MSS, 7 * MSS, false, false), 0);
    // Over the recovery one segment per two delivered: ssthresh / RecoverFS.
    let sent = c.prrOut;
    for (let i = 5; i <= 10; i++) {
      const n = prrOnAck(c, MSS, 6 * MSS, false, false);
      const segs = Math.floor(n / MSS) * MSS;
      prrTransmitted(c, segs);
      sent += segs;
    }
    assert.equal(c.prrDelivered, 10 * MSS);
    assert.equal(sent, 5 * MSS, 'ssthresh worth sent for a RecoverFS worth delivered');
  });

  it('once pipe <= ssthresh, PRR-SSRB: MIN(ssthresh - pipe, MAX(prr_delivered - prr_out, DeliveredData) + MSS)', () => {
    const c = recovering(10 * MSS);
    c.prrDelivered = 6 * MSS;
    c.prrOut = 3 * MSS;
    // A cumulative ACK of 2 MSS, nothing newly lost: limit = max(8000 - 3000, 2000) + 1000.
    assert.equal(prrOnAck(c, 2 * MSS, 2 * MSS, true, false), 3 * MSS, 'ssthresh - pipe bounds it');
    c.prrDelivered = 6 * MSS;
    assert.equal(prrOnAck(c, 2 * MSS, 4 * MSS, true, false), MSS, 'ssthresh - pipe = 1000');
    // The slow-start bound: with pipe far below ssthresh, at most delivered + 1 MSS.
    const d = recovering(20 * MSS); // ssthresh 10 MSS
    d.prrDelivered = 0;
    d.prrOut = 5 * MSS;
    assert.equal(prrOnAck(d, MSS, 0, true, false), 2 * MSS, 'MAX(1000 - 5000, 1000) + MSS');
    // No extra MSS on an ACK that does not move SND.UNA (Linux), or that marks new losses.
    d.prrDelivered = 0;
    assert.equal(prrOnAck(d, MSS, 0, false, false), MSS);
    d.prrDelivered = 0;
    assert.equal(prrOnAck(d, MSS, 0, true, true), MSS);
  });

  it('an ACK that delivers nothing changes nothing; prr_out counts only during recovery', () => {
    const c = recovering(10 * MSS);
    const before = c.prrCwnd;
    prrOnAck(c, 0, 3 * MSS, false, false);
    assert.equal(c.prrCwnd, before);
    assert.equal(c.prrDelivered, 0);
    c.inRecovery = false;
    prrTransmitted(c, MSS);
    assert.equal(c.prrOut, 0);
  });
});

describe('PRR in a SACK recovery (unit)', () => {
  /** One segment lost out of 20 in flight, the rest SACKed one ACK at a time. */
  function run(
    controller: 'newreno' | 'cubic',
    prr: boolean,
  ): { c: TestTcb; host: FakeHost; perAck: number[] } {
    const { c, host } = established({ sackOk: true, config: { prr }, sndWnd: 1 << 20 });
    c.cc = createCongestionControl(controller, MSS);
    c.sndBuf.push(new Uint8Array(80 * MSS));
    // Grow cwnd to 20 segments first: ten ACKs in slow start.
    tcpOutput(c);
    for (let i = 1; i <= 10; i++) {
      host.clock.advance(1000);
      const a = ours(i * MSS);
      processAck(c, fromPeer(c, { ack: a }), theirs(0), a, 0);
      tcpOutput(c);
    }
    host.take();
    host.clock.advance(50_000);
    const una = 10;
    const high = (c.sndMax - ours(0)) >>> 0;
    const perAck: number[] = [];
    for (let k = una + 2; k <= high / MSS; k++) {
      host.clock.advance(500);
      const a = ours(una * MSS);
      const sack = [{ left: ours((una + 1) * MSS), right: ours(k * MSS) }];
      processAck(c, fromPeer(c, { ack: a, options: { sack } }), theirs(0), a, 0);
      tcpOutput(c);
      perAck.push(host.take().reduce((n, s) => n + s.len, 0));
    }
    return { c, host, perAck };
  }

  for (const controller of ['newreno', 'cubic'] as const) {
    it(`${controller}: sends ssthresh/RecoverFS per delivered byte, spread over the ACKs`, () => {
      const { c, perAck } = run(controller, true);
      assert.ok(c.inRecovery);
      const ssthresh = c.cc.ssthresh;
      const ratio = c.prrOut / c.prrDelivered;
      const expected = ssthresh / c.prrRecoverFs;
      assert.ok(
        Math.abs(ratio - expected) <= MSS / c.prrDelivered + 0.01,
        `sent/delivered ${ratio} vs ${expected}`,
      );
      assert.ok(Math.max(...perAck) <= 2 * MSS, `at most two segments per ACK: ${perAck}`);
      assert.ok(perAck.filter((n) => n > 0).length >= perAck.length / 3, `spread over the ACKs: ${perAck}`);
    });
  }

  it('without PRR (cwnd = ssthresh at once) the sender goes silent for many ACKs; with PRR it does not', () => {
    const longestSilence = (perAck: number[]): number => {
      let run = 0;
      let max = 0;
      for (const n of perAck) {
        run = n === 0 ? run + 1 : 0;
        max = Math.max(max, run);
      }
      return max;
    };
    const without = run('newreno', false).perAck;
    const withPrr = run('newreno', true).perAck;
    assert.ok(longestSilence(without) >= 5, `silent for several ACKs: ${without}`);
    // (Two silent ACKs after the forced fast retransmit, which ran PRR one MSS ahead.)
    assert.ok(longestSilence(withPrr) <= 2, `PRR: ${withPrr}`);
  });
});

describe('the recovery window counts segments as they are sent (unit)', () => {
  it("room for one segment is one segment's payload (the MSS less the timestamp option), not the bare MSS", () => {
    const { c, host } = established({ sackOk: true, config: { prr: true }, sndWnd: 1 << 20 });
    // Timestamps on: 12 option bytes, so a 1012-byte MSS carries 1000-byte payloads.
    c.tsOk = true;
    c.mss = MSS + 12;
    c.cc = createCongestionControl('cubic', c.mss);
    c.sndBuf.push(new Uint8Array(20 * MSS));
    // One segment in flight (say the retransmission of a lost one) in fast recovery, and an
    // ACK that delivered one segment gave PRR a credit of one (prr_delivered - prr_out):
    // the window is pipe + one segment's payload. Linux, counting packets, sends one new
    // segment now; its SACK is what shows the retransmission lost if it was (RACK), where
    // silence waits for the RTO.
    c.sndMax = ours(MSS);
    c.snd.nxt = c.sndMax;
    c.inRecovery = true;
    c.cc.onEnterRecovery(ccContext(c));
    c.prrCwnd = 2 * MSS;
    host.take();
    tcpOutput(c);
    const sent = host.take();
    assert.equal(sent.length, 1, 'one new segment');
    assert.equal(sent[0]!.len, MSS);
    assert.equal(sent[0]!.seq, ours(MSS));
    // And no more than the window: a second call sends nothing.
    tcpOutput(c);
    assert.equal(host.take().length, 0);
  });
});
