import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Impairments } from '../../src/link/impair.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { type Instant, millis } from '../../src/time/instant.ts';

/** A frame carrying a 32-bit sequence number at offset 14 (after a fake Ethernet header). */
function frame(n: number, size = 64): Uint8Array {
  const f = new Uint8Array(size);
  new DataView(f.buffer).setUint32(14, n);
  return f;
}
const seqOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset).getUint32(14);

interface Rx {
  seq: number;
  at: Instant;
  bytes: Uint8Array;
}

/** Sends `n` frames a→b, one every `gap` µs, and records what b receives. */
function blast(imp: Impairments, n: number, gap = 100, seed = 1, size = 64) {
  const sim = new Simulation({ seed });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), aToB: imp }));
  const rx: Rx[] = [];
  cable.b.onReceive = (f) => rx.push({ seq: seqOf(f), at: sim.now, bytes: f });
  const sent: Uint8Array[] = [];
  let i = 0;
  const tx = sim.timers.timer(() => {
    const f = frame(i, size);
    sent.push(f.slice());
    cable.a.transmit(f);
    if (++i < n) tx.set(sim.now + gap);
  });
  tx.set(0);
  sim.runUntilIdle();
  return { rx, sent, stats: cable.aToB.stats, sim };
}

describe('Cable', () => {
  it('never delivers synchronously, even with zero delay', () => {
    const sim = new Simulation();
    const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng }));
    const got: Instant[] = [];
    cable.b.onReceive = () => got.push(sim.now);
    cable.a.transmit(frame(1));
    assert.equal(got.length, 0);
    assert.equal(cable.nextDeadline(), 0);
    sim.runUntilIdle();
    assert.deepEqual(got, [0]);
  });

  it('delivers with the configured delay, both directions independent', () => {
    const sim = new Simulation();
    const cable = sim.add(
      new Cable({ clock: sim.clock, rng: sim.rng, aToB: { delay: millis(5) }, bToA: { delay: millis(1) } }),
    );
    const log: string[] = [];
    cable.b.onReceive = (f) => {
      log.push(`b ${seqOf(f)} @${sim.now}`);
      cable.b.transmit(frame(seqOf(f) + 100));
    };
    cable.a.onReceive = (f) => log.push(`a ${seqOf(f)} @${sim.now}`);
    cable.a.transmit(frame(1));
    sim.runUntilIdle();
    assert.deepEqual(log, ['b 1 @5000', 'a 101 @6000']);
    assert.equal(cable.aToB.stats.delivered, 1);
    assert.equal(cable.bToA.stats.delivered, 1);
  });

  it('ends can be polled instead of the cable', () => {
    const sim = new Simulation();
    const cable = new Cable({ clock: sim.clock, rng: sim.rng, aToB: { delay: 10 } });
    sim.add(cable.a);
    sim.add(cable.b);
    let n = 0;
    cable.b.onReceive = () => n++;
    cable.a.transmit(frame(0));
    sim.runUntilIdle();
    assert.equal(n, 1);
    assert.equal(sim.now, 10);
  });

  it('perfect link keeps order and bytes', () => {
    const { rx, sent, stats } = blast({ delay: 1000 }, 500);
    assert.equal(rx.length, 500);
    rx.forEach((r, i) => {
      assert.equal(r.seq, i);
      assert.deepEqual(r.bytes, sent[i]);
      assert.equal(r.at, i * 100 + 1000);
    });
    assert.equal(stats.sent, 500);
    assert.equal(stats.delivered, 500);
  });
});

describe('Impairments', () => {
  it('Bernoulli loss ≈ rate over 10k frames', () => {
    const { rx, stats } = blast({ loss: 0.1 }, 10_000);
    const rate = stats.dropped.loss / 10_000;
    assert.ok(Math.abs(rate - 0.1) < 0.015, `loss rate ${rate}`);
    assert.equal(rx.length + stats.dropped.loss, 10_000);
    // Survivors stay in order.
    for (let i = 1; i < rx.length; i++) assert.ok(rx[i].seq > rx[i - 1].seq);
  });

  it('Gilbert–Elliott losses cluster into bursts', () => {
    const enter = 0.01;
    const exit = 0.2;
    const { rx, stats } = blast({ lossBurst: { enter, exit } }, 20_000);
    const got = new Set(rx.map((r) => r.seq));
    const bursts: number[] = [];
    let run = 0;
    for (let i = 0; i < 20_000; i++) {
      if (!got.has(i)) run++;
      else if (run > 0) {
        bursts.push(run);
        run = 0;
      }
    }
    if (run) bursts.push(run);
    const mean = bursts.reduce((a, b) => a + b, 0) / bursts.length;
    const rate = stats.dropped.loss / 20_000;
    const expectedRate = enter / (enter + exit); // ≈ 0.0476
    assert.ok(Math.abs(rate - expectedRate) < 0.02, `rate ${rate}`);
    // Mean burst ≈ 1/exit = 5; independent loss at the same rate would give ≈ 1.05.
    assert.ok(mean > 3.5 && mean < 7, `mean burst ${mean}`);
  });

  it('duplication delivers extra identical copies', () => {
    const { rx, stats } = blast({ duplicate: 0.2 }, 5000);
    assert.ok(Math.abs(stats.duplicated / 5000 - 0.2) < 0.03);
    assert.equal(rx.length, 5000 + stats.duplicated);
    let dups = 0;
    for (let i = 1; i < rx.length; i++) {
      if (rx[i].seq === rx[i - 1].seq) {
        dups++;
        assert.deepEqual(rx[i].bytes, rx[i - 1].bytes);
        assert.notEqual(rx[i].bytes, rx[i - 1].bytes, 'the copy must be a separate buffer');
      }
    }
    assert.equal(dups, stats.duplicated);
  });

  it('reordering actually reorders', () => {
    const { rx, stats } = blast({ delay: 1000, reorder: { probability: 0.1, extraDelay: 350 } }, 2000);
    assert.equal(rx.length, 2000);
    assert.ok(stats.reordered > 150 && stats.reordered < 250, `reordered ${stats.reordered}`);
    let inversions = 0;
    for (let i = 1; i < rx.length; i++) if (rx[i].seq < rx[i - 1].seq) inversions++;
    assert.ok(inversions > 100, `inversions ${inversions}`);
    // Delivery times are non-decreasing (the driver never goes back in time).
    for (let i = 1; i < rx.length; i++) assert.ok(rx[i].at >= rx[i - 1].at);
  });

  it('jitter spreads delivery within [delay, delay + jitter]', () => {
    const { rx } = blast({ delay: 1000, jitter: 500 }, 2000, 1000);
    for (const r of rx) {
      const sentAt = r.seq * 1000;
      assert.ok(r.at - sentAt >= 1000 && r.at - sentAt <= 1500);
    }
    const spread = new Set(rx.map((r) => r.at - r.seq * 1000)).size;
    assert.ok(spread > 300);
  });

  it('corruption flips exactly one bit', () => {
    const { rx, sent, stats } = blast({ corrupt: 0.3 }, 3000);
    assert.equal(rx.length, sent.length);
    let changed = 0;
    rx.forEach((r, k) => {
      const orig = sent[k]; // no loss or reordering: delivery order is send order
      let bits = 0;
      for (let i = 0; i < orig.length; i++) {
        let x = orig[i] ^ r.bytes[i];
        while (x) {
          bits += x & 1;
          x >>= 1;
        }
      }
      assert.ok(bits === 0 || bits === 1, `frame ${k} differs in ${bits} bits`);
      if (bits) changed++;
    });
    assert.equal(changed, stats.corrupted);
    assert.ok(Math.abs(stats.corrupted / 3000 - 0.3) < 0.03);
  });

  it('bandwidth gives the right serialisation time, FIFO', () => {
    // 1500-byte frames on 1 Mbit/s: 12 ms each; all sent at t=0.
    const sim = new Simulation();
    const cable = sim.add(
      new Cable({ clock: sim.clock, rng: sim.rng, aToB: { bandwidth: 1_000_000, delay: millis(2) } }),
    );
    const at: Instant[] = [];
    cable.b.onReceive = () => at.push(sim.now);
    for (let i = 0; i < 5; i++) cable.a.transmit(new Uint8Array(1500));
    sim.runUntilIdle();
    assert.deepEqual(
      at,
      [1, 2, 3, 4, 5].map((k) => k * 12_000 + 2000),
    );
  });

  it('queue limit drops the tail', () => {
    const sim = new Simulation();
    const cable = sim.add(
      new Cable({ clock: sim.clock, rng: sim.rng, aToB: { bandwidth: 1_000_000, queueLimit: 4500 } }),
    );
    const got: number[] = [];
    cable.b.onReceive = (f) => got.push(seqOf(f));
    for (let i = 0; i < 10; i++) cable.a.transmit(frame(i, 1500));
    assert.equal(cable.aToB.stats.dropped.queue, 7);
    sim.runUntilIdle();
    assert.deepEqual(got, [0, 1, 2]);
    // Once drained, the queue accepts again.
    cable.a.transmit(frame(99, 1500));
    sim.runUntilIdle();
    assert.deepEqual(got, [0, 1, 2, 99]);
  });

  it('queue limit without bandwidth bounds bytes in flight', () => {
    const sim = new Simulation();
    const cable = sim.add(
      new Cable({ clock: sim.clock, rng: sim.rng, aToB: { delay: 100, queueLimit: 1000 } }),
    );
    let n = 0;
    cable.b.onReceive = () => n++;
    for (let i = 0; i < 20; i++) cable.a.transmit(new Uint8Array(100));
    sim.runUntilIdle();
    assert.equal(n, 10);
    assert.equal(cable.aToB.stats.dropped.queue, 10);
  });

  it('mtu drops oversize frames and counts them', () => {
    const sim = new Simulation();
    const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng, mtu: 1500 }));
    const got: number[] = [];
    cable.b.onReceive = (f) => got.push(f.length);
    cable.a.transmit(new Uint8Array(1514));
    cable.a.transmit(new Uint8Array(1515));
    const tagged = new Uint8Array(1518);
    tagged[12] = 0x81;
    cable.a.transmit(tagged);
    sim.runUntilIdle();
    assert.deepEqual(got, [1514, 1518]);
    assert.equal(cable.aToB.stats.dropped.mtu, 1);
    cable.aToB.configure({ mtu: 576 });
    cable.a.transmit(new Uint8Array(600));
    sim.runUntilIdle();
    assert.equal(cable.aToB.stats.dropped.mtu, 2);
  });

  it('same seed → identical delivery trace; different seed → different', () => {
    const imp: Impairments = {
      loss: 0.05,
      duplicate: 0.02,
      corrupt: 0.01,
      delay: 500,
      jitter: 300,
      reorder: { probability: 0.05, extraDelay: 400 },
      bandwidth: 10_000_000,
    };
    const trace = (seed: number) =>
      blast(imp, 3000, 50, seed)
        .rx.map((r) => `${r.seq}@${r.at}:${r.bytes.join(',')}`)
        .join('|');
    assert.equal(trace(42), trace(42));
    assert.notEqual(trace(42), trace(43));
  });
});
