import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RealtimeDriver } from '../../src/link/realtime.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { ManualHostTimers } from '../../src/time/manual-host.ts';

test('ManualHostTimers: timers fire at their own instants, earliest first, ties in order set', () => {
  const clock = new ManualClock();
  const timers = new ManualHostTimers(clock);
  const seen: string[] = [];
  timers.set(() => seen.push(`b@${clock.now()}`), 20);
  timers.set(() => seen.push(`a@${clock.now()}`), 10);
  timers.set(() => seen.push(`c@${clock.now()}`), 20);
  const gone = timers.set(() => seen.push('never'), 15);
  timers.clear(gone);
  timers.advance(15);
  assert.deepEqual(seen, ['a@10000']);
  assert.equal(clock.now(), 15_000);
  // A timer set from a callback that falls inside the same advance also runs.
  timers.set(() => timers.set(() => seen.push(`d@${clock.now()}`), 1), 0);
  timers.advance(10);
  assert.deepEqual(seen, ['a@10000', 'd@16000', 'b@20000', 'c@20000']);
  assert.equal(clock.now(), 25_000);
  assert.equal(timers.pending, 0);
  assert.throws(() => timers.advance(-1), RangeError);
});

test('ManualHostTimers: a RealtimeDriver sleeping on them polls at virtual deadlines', async () => {
  const clock = new ManualClock();
  const timers = new ManualHostTimers(clock);
  const polls: number[] = [];
  let deadline: number | undefined = 5_000;
  const driver = new RealtimeDriver({
    clock,
    timers,
    pollables: [
      {
        nextDeadline: () => deadline,
        poll: (now) => {
          polls.push(now);
          deadline = polls.length < 3 ? now + 5_000 : undefined;
        },
      },
    ],
  });
  await Promise.resolve(); // the driver's first kick runs in a microtask
  assert.equal(driver.timers, timers);
  assert.deepEqual(polls, []);
  timers.advance(100);
  assert.deepEqual(polls, [5_000, 10_000, 15_000]);
  assert.equal(timers.pending, 0);
  driver.stop();
});
