import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { Device } from '../../src/link/device.ts';
import { RealtimeDriver } from '../../src/link/realtime.ts';
import { SeededRng } from '../../src/rand/rng.ts';
import { Stack } from '../../src/stack.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { TimerQueue } from '../../src/time/timers.ts';

/** Runs queued microtasks (the driver's coalesced kick). */
const flushMicrotasks = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function timerPollable(q: TimerQueue) {
  return { nextDeadline: () => q.nextDeadline(), poll: (now: number) => void q.runDue(now) };
}

describe('RealtimeDriver (mocked timers: no real sleeping)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('sleeps until the next deadline and polls then', async () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue();
    const fired: number[] = [];
    q.timer((now) => fired.push(now)).set(25_000);
    const d = new RealtimeDriver({ clock, pollables: [timerPollable(q)] });
    await flushMicrotasks();
    assert.deepEqual(fired, []);
    clock.set(24_000);
    mock.timers.tick(24);
    assert.deepEqual(fired, []);
    clock.set(25_000);
    mock.timers.tick(1);
    assert.deepEqual(fired, [25_000]);
    d.stop();
  });

  it('kick() notices deadlines added from outside; stop() cancels', async () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue();
    const fired: number[] = [];
    const d = new RealtimeDriver({ clock, pollables: [timerPollable(q)] });
    await flushMicrotasks();
    q.timer((now) => fired.push(now)).set(10_000);
    d.kick();
    d.kick(); // coalesced
    await flushMicrotasks();
    clock.set(10_000);
    mock.timers.tick(10);
    assert.deepEqual(fired, [10_000]);
    q.timer((now) => fired.push(now)).set(20_000);
    d.kick();
    await flushMicrotasks();
    d.stop();
    clock.set(20_000);
    mock.timers.tick(100);
    assert.deepEqual(fired, [10_000]);
    assert.equal(d.running, false);
  });

  it('a timer that fires early (clock behind) re-arms instead of polling too soon', async () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue();
    const fired: number[] = [];
    q.timer((now) => fired.push(now)).set(5_000);
    const d = new RealtimeDriver({ clock, pollables: [timerPollable(q)] });
    await flushMicrotasks();
    clock.set(4_500); // the OS timer fired, but the clock says we are early
    mock.timers.tick(5);
    assert.deepEqual(fired, []);
    clock.set(5_000);
    mock.timers.tick(1);
    assert.deepEqual(fired, [5_000]);
    d.stop();
  });

  it('reports poll errors to onError and keeps running', async () => {
    const clock = new ManualClock(0);
    const errors: unknown[] = [];
    let n = 0;
    const p = {
      nextDeadline: () => (n < 2 ? 0 : undefined),
      poll: () => {
        n++;
        throw new Error('bad poll');
      },
    };
    const d = new RealtimeDriver({ clock, pollables: [p], onError: (e) => errors.push(e) });
    await flushMicrotasks();
    assert.equal(errors.length, 1);
    mock.timers.tick(0);
    assert.equal(errors.length, 2);
    d.stop();
  });
});

describe('RealtimeDriver with injected timers (no host timer at all)', () => {
  it('sleeps on the timers it is given: one armed for the earliest deadline, cleared on stop', async () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue();
    const fired: number[] = [];
    q.timer((now) => fired.push(now)).set(7_000);
    const armed: { fn: () => void; ms: number; id: number }[] = [];
    const cleared: unknown[] = [];
    let ids = 0;
    const timers = {
      set: (fn: () => void, ms: number) => {
        armed.push({ fn, ms, id: ++ids });
        return ids;
      },
      clear: (h: unknown) => void cleared.push(h),
    };
    const d = new RealtimeDriver({ clock, timers, pollables: [timerPollable(q)] });
    await flushMicrotasks();
    assert.equal(armed.length, 1);
    assert.equal(armed[0]!.ms, 7);
    clock.set(7_000);
    armed[0]!.fn();
    assert.deepEqual(fired, [7_000]);
    q.timer(() => undefined).set(9_000);
    d.kick();
    await flushMicrotasks();
    assert.equal(armed.at(-1)!.ms, 2);
    d.stop();
    assert.deepEqual(cleared, [armed.at(-1)!.id]);
  });

  it('a stack on a real link: a frame only wakes the driver, which polls soon (not inside the callback)', async () => {
    const clock = new ManualClock(0);
    const dev: Device = { name: 'tap0', linkType: 'ip', mtu: 1500, transmit: () => {}, onReceive: null };
    const stack = new Stack({ clock, rng: new SeededRng(1) });
    stack.addInterface({ name: 'tap0', device: dev, addresses: ['10.0.0.2/24'] });
    const d = new RealtimeDriver({ clock, pollables: [stack] });
    let wakes = 0;
    stack.onWake = () => {
      wakes++;
      d.kick();
    };
    await flushMicrotasks();
    // A malformed IP packet: processing it counts it, so we can see when that happens.
    dev.onReceive!(new Uint8Array([0x45, 0, 0]));
    dev.onReceive!(new Uint8Array([0x45, 0, 0]));
    assert.equal(stack.stats.ip.received, 0, 'not processed inside the device callback');
    assert.equal(wakes, 1);
    await flushMicrotasks();
    assert.equal(stack.stats.ip.received, 2);
    assert.equal(stack.stats.ip.malformed, 2);
    d.stop();
  });
  it('a frame is processed in the wake-up itself when the clock moves on between reads (as a real clock does)', async () => {
    // Every read of this clock is 1 µs later than the one before: the stack's deadline for a
    // waiting frame must not be a fresh `now`, which would always lie after the driver's.
    let t = 0;
    const clock = { now: () => ++t };
    // Timers that never fire: only the kick's own turn can process the frame.
    const timers = { set: () => 0, clear: () => {} };
    const dev: Device = { name: 'tap0', linkType: 'ip', mtu: 1500, transmit: () => {}, onReceive: null };
    const stack = new Stack({ clock, rng: new SeededRng(1) });
    stack.addInterface({ name: 'tap0', device: dev, addresses: ['10.0.0.2/24'] });
    const d = new RealtimeDriver({ clock, timers, pollables: [stack] });
    stack.onWake = () => d.kick();
    await flushMicrotasks();
    for (let i = 1; i <= 3; i++) {
      dev.onReceive!(new Uint8Array([0x45, 0, 0]));
      await flushMicrotasks();
      assert.equal(stack.stats.ip.received, i, `frame ${i} processed in the wake-up's turn`);
    }
    d.stop();
  });
});
