import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/time/clock.ts';
import { TimerQueue } from '../../src/time/timers.ts';

describe('TimerQueue', () => {
  it('fires timers in deadline order, ties in arming order', () => {
    const q = new TimerQueue();
    const fired: string[] = [];
    const a = q.timer(() => fired.push('a'));
    const b = q.timer(() => fired.push('b'));
    const c = q.timer(() => fired.push('c'));
    c.set(30);
    a.set(10);
    b.set(10);
    assert.equal(q.nextDeadline(), 10);
    assert.equal(q.runDue(9), 0);
    assert.equal(q.runDue(10), 2);
    assert.deepEqual(fired, ['a', 'b']);
    assert.equal(q.nextDeadline(), 30);
    q.runDue(100);
    assert.deepEqual(fired, ['a', 'b', 'c']);
    assert.equal(q.nextDeadline(), undefined);
  });

  it('cancel and re-arm leave only the newest deadline live', () => {
    const q = new TimerQueue();
    let n = 0;
    const t = q.timer(() => n++);
    t.set(5);
    t.set(50);
    t.cancel();
    assert.equal(t.armed, false);
    assert.equal(q.nextDeadline(), undefined);
    t.set(20);
    assert.equal(q.nextDeadline(), 20);
    q.runDue(1000);
    assert.equal(n, 1);
  });

  it('a timer may re-arm itself from its callback', () => {
    const q = new TimerQueue();
    const times: number[] = [];
    const t = q.timer((now) => {
      times.push(now);
      if (times.length < 3) t.set(now + 10);
    });
    t.set(0);
    for (let i = 0; i < 10; i++) {
      const d = q.nextDeadline();
      if (d === undefined) break;
      q.runDue(d);
    }
    assert.deepEqual(times, [0, 10, 20]);
  });

  it('many re-armed timers stay bounded in heap size', () => {
    const q = new TimerQueue();
    const timers = Array.from({ length: 1000 }, () => q.timer(() => {}));
    for (let round = 0; round < 50; round++) for (const t of timers) t.set(1_000_000 + round);
    assert.ok(q.size < 5000, `heap grew to ${q.size}`);
    assert.equal(q.runDue(2_000_000), 1000);
  });

  it('matches a sorted reference under random arm/cancel', () => {
    const q = new TimerQueue();
    let seed = 7;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const live = new Map<number, number>();
    const fired: number[] = [];
    const timers = Array.from({ length: 200 }, (_, i) => q.timer(() => fired.push(i)));
    for (let k = 0; k < 5000; k++) {
      const i = rnd() % 200;
      if (rnd() % 4 === 0) {
        timers[i].cancel();
        live.delete(i);
      } else {
        const d = rnd() % 100000;
        timers[i].set(d);
        live.set(i, d);
      }
    }
    q.runDue(Number.MAX_SAFE_INTEGER);
    const expected = [...live.entries()].sort((x, y) => x[1] - y[1]).map(([i]) => i);
    assert.equal(fired.length, expected.length);
    const firedDeadlines = fired.map((i) => live.get(i)!);
    assert.deepEqual(
      firedDeadlines,
      [...firedDeadlines].sort((a, b) => a - b),
    );
  });

  it('the heap holds exactly the armed timers: re-arms move in place, cancels and firings leave', () => {
    const q = new TimerQueue();
    const fired: number[] = [];
    const timers = Array.from({ length: 100 }, (_, i) => q.timer(() => fired.push(i)));
    for (let round = 0; round < 20; round++)
      for (let i = 0; i < 100; i++) timers[i]!.set(1000 - i * 5 + round);
    assert.equal(q.size, 100);
    for (let i = 0; i < 100; i += 2) timers[i]!.cancel();
    timers[1]!.cancel();
    timers[1]!.cancel(); // twice: nothing more leaves
    assert.equal(q.size, 49);
    // Moved later and earlier in place: the order follows the newest deadlines.
    timers[3]!.set(5000);
    timers[99]!.set(1);
    assert.equal(q.size, 49);
    assert.equal(q.nextDeadline(), 1);
    assert.equal(q.runDue(1), 1);
    assert.equal(q.size, 48);
    q.runDue(10_000);
    assert.equal(q.size, 0);
    assert.equal(fired.length, 49);
    assert.equal(fired.at(-1), 3);
    assert.deepEqual(
      fired.slice(1, -1),
      [...fired.slice(1, -1)].sort((a, b) => b - a),
    );
  });

  it('a re-arm at the same deadline takes a fresh place among the ties', () => {
    const q = new TimerQueue();
    const fired: string[] = [];
    const a = q.timer(() => fired.push('a'));
    const b = q.timer(() => fired.push('b'));
    const c = q.timer(() => fired.push('c'));
    a.set(10);
    b.set(10);
    c.set(10);
    a.set(10);
    q.runDue(10);
    assert.deepEqual(fired, ['b', 'c', 'a']);
  });

  it('onEarliestChanged hears an arm that becomes the earliest, and only that', () => {
    const q = new TimerQueue();
    const heard: number[] = [];
    q.onEarliestChanged = (d) => heard.push(d);
    const a = q.timer(() => {});
    const b = q.timer(() => {});
    a.set(50);
    b.set(80);
    b.set(20);
    a.set(90);
    assert.deepEqual(heard, [50, 20]);
  });
});

describe('ManualClock', () => {
  it('moves forward only', () => {
    const c = new ManualClock(100);
    c.advance(50);
    assert.equal(c.now(), 150);
    assert.throws(() => c.set(10), RangeError);
  });
});
