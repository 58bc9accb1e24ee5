import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation, SimulationError } from '../../src/link/sim.ts';
import type { Pollable } from '../../src/time/clock.ts';
import { type Instant, millis, seconds } from '../../src/time/instant.ts';

/** A periodic timer: fires every `period` µs, counting. */
class Periodic implements Pollable {
  next: Instant;
  fired = 0;
  readonly period: number;
  constructor(start: Instant, period: number) {
    this.next = start + period;
    this.period = period;
  }
  nextDeadline(): Instant | undefined {
    return this.next;
  }
  poll(now: Instant): void {
    while (this.next <= now) {
      this.fired++;
      this.next += this.period;
    }
  }
}

describe('Simulation (sync)', () => {
  it('jumps time: one hour of a 1 s periodic timer runs fast', () => {
    const sim = new Simulation({ seed: 7 });
    const p = sim.add(new Periodic(0, seconds(1)));
    const r = sim.runUntilIdle({ maxTime: seconds(3600) });
    assert.equal(p.fired, 3600);
    assert.equal(sim.now, seconds(3600));
    assert.equal(r.idle, false);
    // One step per event: time jumps from one deadline to the next, never ticks through it.
    assert.equal(r.steps, 3600);
  });

  it('runUntilIdle stops when nothing is scheduled and leaves the clock at the last event', () => {
    const sim = new Simulation({ start: 100 });
    const fired: Instant[] = [];
    sim.timers.timer((now) => fired.push(now)).set(500);
    sim.timers.timer((now) => fired.push(now)).set(300);
    const r = sim.runUntilIdle();
    assert.deepEqual(fired, [300, 500]);
    assert.equal(r.idle, true);
    assert.equal(sim.now, 500);
  });

  it('runUntil lands on t and runs events at t', () => {
    const sim = new Simulation();
    const p = sim.add(new Periodic(0, 10));
    sim.runUntil(95);
    assert.equal(p.fired, 9);
    assert.equal(sim.now, 95);
    sim.runFor(5);
    assert.equal(p.fired, 10);
    assert.equal(sim.now, 100);
  });

  it('work created at the same instant is done in the same instant', () => {
    const sim = new Simulation();
    const order: string[] = [];
    const a = sim.timers.timer((now) => {
      order.push(`a@${now}`);
      b.set(now); // zero-delay follow-up
    });
    const b = sim.timers.timer((now) => order.push(`b@${now}`));
    a.set(10);
    sim.runUntilIdle();
    assert.deepEqual(order, ['a@10', 'b@10']);
  });

  it('detects a livelocked pollable', () => {
    const sim = new Simulation();
    sim.add({ nextDeadline: () => 0, poll: () => {} });
    assert.throws(
      () => sim.runUntilIdle(),
      (e: unknown) => e instanceof SimulationError && e.kind === 'livelock',
    );
  });

  it('remove stops polling', () => {
    const sim = new Simulation();
    const p = sim.add(new Periodic(0, 10));
    sim.runUntil(20);
    assert.equal(sim.remove(p), true);
    assert.equal(sim.remove(p), false);
    sim.runUntil(100);
    assert.equal(p.fired, 2);
  });
});

describe('Simulation (async)', () => {
  it('run returns the value of a task that waits on virtual delays', async () => {
    const sim = new Simulation();
    const v = await sim.run(
      async () => {
        const seen: Instant[] = [];
        await sim.sleep(millis(250));
        seen.push(sim.now);
        await Promise.all([sim.delay(seconds(10)), sim.delay(seconds(5))]);
        seen.push(sim.now);
        for (let i = 0; i < 100; i++) await sim.sleep(seconds(60));
        seen.push(sim.now);
        return seen;
      },
      { timeout: seconds(7200) },
    );
    assert.deepEqual(v, [millis(250), millis(250) + seconds(10), millis(250) + seconds(10) + seconds(6000)]);
    // Two hours of virtual time in one event-loop yield per instant with activity (103 of them).
    assert.ok(sim.yields <= 110, `yields=${sim.yields}`);
  });

  it('continuations see the virtual time of the event that woke them', async () => {
    const sim = new Simulation();
    const log: string[] = [];
    await sim.run(async () => {
      const a = (async () => {
        await sim.delay(100);
        log.push(`a ${sim.now}`);
        await sim.delay(100);
        log.push(`a ${sim.now}`);
      })();
      const b = (async () => {
        await sim.delay(150);
        log.push(`b ${sim.now}`);
      })();
      await Promise.all([a, b]);
    });
    assert.deepEqual(log, ['a 100', 'b 150', 'a 200']);
  });

  it('a periodic timer alongside a long task does not make it slow', async () => {
    const sim = new Simulation();
    const p = sim.add(new Periodic(0, seconds(1)));
    await sim.run(() => sim.delay(seconds(3600)));
    assert.equal(p.fired, 3600);
    // One event-loop yield per instant with activity, no more: the cost does not grow with the task.
    assert.ok(sim.yields <= 3602, `yields=${sim.yields}`);
  });

  it('rejects with deadlock when nothing is scheduled and the task is pending', async () => {
    const sim = new Simulation();
    await assert.rejects(
      sim.run(() => new Promise<void>(() => {})),
      (e: unknown) =>
        e instanceof SimulationError &&
        e.kind === 'deadlock' &&
        /awaited task never finished/.test(e.message),
    );
  });

  it('rejects on virtual timeout and leaves the clock at the timeout', async () => {
    const sim = new Simulation();
    sim.add(new Periodic(0, seconds(1)));
    await assert.rejects(
      sim.run(() => sim.delay(seconds(100)), { timeout: seconds(30) }),
      (e: unknown) => e instanceof SimulationError && e.kind === 'timeout',
    );
    assert.equal(sim.now, seconds(30));
  });

  it('propagates the task error', async () => {
    const sim = new Simulation();
    await assert.rejects(
      sim.run(async () => {
        await sim.delay(5);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(sim.now, 5);
  });

  it('advance/sleep from the top level drive time and land exactly', async () => {
    const sim = new Simulation();
    const p = sim.add(new Periodic(0, 7));
    await sim.advance(100);
    assert.equal(sim.now, 100);
    assert.equal(p.fired, 14);
    await sim.sleep(1000);
    assert.equal(sim.now, 1100);
    sim.remove(p);
    await sim.sleep(seconds(1)); // idle: just jumps
    assert.equal(sim.now, 1100 + seconds(1));
  });

  it('refuses re-entrant driving', async () => {
    const sim = new Simulation();
    await assert.rejects(
      sim.run(async () => {
        await sim.advance(10);
      }),
      /re-entrant/,
    );
  });
  it('a request/response over a lossy cable, awaited as promises', async () => {
    const sim = new Simulation({ seed: 11 });
    const cable = sim.add(
      new Cable({
        clock: sim.clock,
        rng: sim.rng.fork(),
        aToB: { delay: millis(10), loss: 0.3 },
        bToA: { delay: millis(10) },
      }),
    );
    // b echoes; a retries every 50 ms until the echo arrives (a tiny ARQ).
    cable.b.onReceive = (f) => cable.b.transmit(f);
    let waiter: ((f: Uint8Array) => void) | null = null;
    cable.a.onReceive = (f) => waiter?.(f);
    const rtts = await sim.run(async () => {
      const out: number[] = [];
      for (let i = 0; i < 20; i++) {
        const start = sim.now;
        for (;;) {
          const reply = new Promise<Uint8Array | null>((resolve) => {
            waiter = resolve;
            sim.delay(millis(50)).then(() => resolve(null));
          });
          cable.a.transmit(new Uint8Array([i]));
          const f = await reply;
          if (f !== null && f[0] === i) break;
        }
        out.push(sim.now - start);
      }
      return out;
    });
    assert.equal(rtts.length, 20);
    for (const r of rtts) assert.equal(r % millis(50), millis(20)); // 20 ms RTT after k timeouts
    assert.ok(
      rtts.some((r) => r > millis(20)),
      'some request was lost and retried',
    );
    assert.equal(
      cable.aToB.stats.dropped.loss,
      rtts.reduce((a, r) => a + (r - millis(20)) / millis(50), 0),
    );
  });
});
