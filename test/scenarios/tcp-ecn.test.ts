/**
 * ECN end to end (RFC 3168): a bulk transfer over a memory link whose bottleneck queue has
 * a marking AQM (Impairments.ceThreshold). With ECN negotiated the queue marks CE instead
 * of dropping, the receiver echoes it, and the sender backs off without losing anything;
 * without ECN the same AQM drops, and the sender must retransmit. Virtual time, bytes
 * compared by SHA-256.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TcpConfig } from '../../src/tcp/config.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { duplexTransfer, pair, randomBytes, sha256 } from './tcp-net.ts';

const SIZE = 2 << 20;

/** 20 Mbit/s bottleneck a -> b, 10 ms each way, 100 KB of buffer, marking above 30 KB. */
async function run(tcp: Partial<TcpConfig>) {
  const net = pair({
    seed: 31,
    delay: millis(10),
    aToB: { bandwidth: 20e6, queueLimit: 100_000, ceThreshold: 30_000 },
    config: { tcp },
  });
  const data = randomBytes(SIZE, 77);
  const r = await duplexTransfer(net, data, new Uint8Array(0), seconds(60));
  assert.equal(r.atB.length, SIZE);
  assert.equal(await sha256(r.atB), await sha256(data));
  const link = net.cable.aToB.stats;
  return {
    retransmits: net.a.tcp.stats.retransmits,
    reductions: net.a.tcp.stats.ecnReductions,
    ceEchoed: net.b.tcp.stats.ecnCeReceived,
    marked: link.ceMarked,
    aqmDrops: link.dropped.aqm,
    queueDrops: link.dropped.queue,
    elapsed: r.elapsed,
  };
}

describe('ECN end to end over a marking AQM', () => {
  it('with ECN the queue marks instead of dropping, and the sender retransmits less than with drops', async (t) => {
    const ecn = await run({ ecn: 1 });
    const drop = await run({ ecn: 0 });
    const report = JSON.stringify({ ecn, drop });
    t.diagnostic(report);
    // With ECN: the AQM marked, the receiver saw the marks, the sender reduced its window.
    assert.ok(ecn.marked > 0, report);
    assert.ok(ecn.ceEchoed > 0, report);
    assert.ok(ecn.reductions > 0, report);
    assert.equal(ecn.aqmDrops, 0, report);
    // Without: the same AQM drops the Not-ECT data, which costs retransmissions.
    assert.equal(drop.marked, 0, report);
    assert.ok(drop.aqmDrops > 0, report);
    assert.ok(drop.retransmits > 0, report);
    assert.ok(ecn.retransmits < drop.retransmits, report);
  });

  it('tcp_ecn=2 on both ends negotiates nothing, so the AQM drops', async () => {
    const r = await run({ ecn: 2 });
    assert.equal(r.marked, 0);
    assert.ok(r.aqmDrops > 0);
  });
});
