/**
 * Loss recovery end to end (RACK-TLP, RFC 8985; PRR, RFC 6937) on memory links under the
 * virtual clock: transfers complete byte-exact, and on a reordering path RACK's time-based
 * detection retransmits far less than DupThresh counting (net.ipv4.tcp_recovery = 0).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Impairments } from '../../src/link/impair.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { duplexTransfer, pair, randomBytes, sha256 } from './tcp-net.ts';

const KiB = 1024;

interface Run {
  retransmits: number;
  fastRetransmits: number;
  elapsed: number;
  rackLosses: number;
}

/** a sends `size` bytes to b over `aToB` (ACKs clean), with tcp_recovery = `recovery`. */
async function transfer(recovery: number, aToB: Impairments, size: number, seed: number): Promise<Run> {
  const config = { tcp: { recovery } };
  const net = pair({ seed, aToB, delay: millis(10), config });
  const data = randomBytes(size, seed);
  const r = await duplexTransfer(net, data, new Uint8Array(0), seconds(120));
  assert.equal(r.atB.length, size, `recovery=${recovery} seed ${seed}: length`);
  assert.equal(await sha256(r.atB), await sha256(data), `recovery=${recovery} seed ${seed}: bytes differ`);
  const st = net.a.tcp.stats;
  return {
    retransmits: st.retransmits,
    fastRetransmits: st.fastRetransmits,
    elapsed: r.elapsed,
    rackLosses: st.rackLosses,
  };
}

describe('loss recovery on memory links (RACK-TLP, PRR)', () => {
  // 20 Mbit/s, 10 ms each way; 2 % of data frames held back 4 ms, so about six later segments
  // overtake each: no loss at all, so every retransmission is spurious.
  const reordering: Impairments = {
    bandwidth: 20_000_000,
    reorder: { probability: 0.02, extraDelay: millis(4) },
  };

  it('reordering without loss: RACK retransmits far less than DupThresh, both byte-exact', async () => {
    for (const seed of [11, 12]) {
      const rack = await transfer(1, reordering, 768 * KiB, seed);
      const dup = await transfer(0, reordering, 768 * KiB, seed);
      assert.ok(
        dup.retransmits >= 5,
        `seed ${seed}: the path reorders beyond DupThresh (${dup.retransmits})`,
      );
      assert.ok(
        rack.retransmits * 2 < dup.retransmits,
        `seed ${seed}: RACK ${rack.retransmits} spurious retransmissions vs DupThresh ${dup.retransmits}`,
      );
    }
  });

  it('random loss with reordering: RACK finds the losses by time and completes byte-exact', async () => {
    const lossy: Impairments = { ...reordering, loss: 0.02 };
    for (const seed of [21, 22]) {
      const rack = await transfer(1, lossy, 512 * KiB, seed);
      assert.ok(rack.rackLosses > 0, `seed ${seed}: RACK marked losses`);
      assert.ok(rack.retransmits > 0);
      await transfer(0, lossy, 512 * KiB, seed);
    }
  });

  it('burst loss (Gilbert-Elliott) completes byte-exact under RACK with PRR', async () => {
    const bursty: Impairments = { bandwidth: 20_000_000, lossBurst: { enter: 0.01, exit: 0.3 } };
    const r = await transfer(1, bursty, 512 * KiB, 31);
    assert.ok(r.retransmits > 0);
  });
});
