/**
 * The course page's playback (src/web/player.ts) with a hand-driven scheduler: play
 * advances one event per tick and stops at the end; step, back and toEnd pause; the
 * speed re-arms the tick.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SessionEvent } from '../../src/web/echo-session.ts';
import { Player } from '../../src/web/player.ts';

function harness(n: number) {
  const events = Array.from(
    { length: n },
    (_, i): SessionEvent => ({ kind: 'call', time: i, who: 'client', text: `call ${i}`, note: '' }),
  );
  const ticks: { tick: () => void; ms: number; stopped: boolean }[] = [];
  const schedule = (tick: () => void, ms: number) => {
    const entry = { tick, ms, stopped: false };
    ticks.push(entry);
    return () => {
      entry.stopped = true;
    };
  };
  let changes = 0;
  const p = new Player(events, schedule, () => changes++, 100);
  const live = () => ticks.filter((t) => !t.stopped);
  const fire = () => {
    const l = live();
    assert.ok(l.length <= 1, 'more than one live tick');
    l[0]?.tick();
  };
  return { p, live, fire, changes: () => changes };
}

test('play shows one event per tick and stops ticking at the end', () => {
  const { p, live, fire } = harness(3);
  assert.equal(p.state, 'paused');
  assert.equal(p.shown, 0);
  p.play();
  assert.equal(p.state, 'playing');
  assert.equal(live().length, 1);
  fire();
  fire();
  assert.equal(p.shown, 2);
  assert.deepEqual(
    p.visible().map((e) => (e.kind === 'call' ? e.text : '')),
    ['call 0', 'call 1'],
  );
  fire();
  assert.equal(p.shown, 3);
  assert.equal(p.state, 'done');
  assert.equal(live().length, 0);
  p.play(); // nothing left to play
  assert.equal(live().length, 0);
});

test('step, back and toEnd pause; back stops at zero; toggle resumes', () => {
  const { p, live, fire, changes } = harness(5);
  p.play();
  fire();
  p.step();
  assert.equal(p.state, 'paused');
  assert.equal(live().length, 0);
  assert.equal(p.shown, 2);
  p.back();
  p.back();
  p.back();
  assert.equal(p.shown, 0);
  p.toggle();
  assert.equal(p.state, 'playing');
  p.toggle();
  assert.equal(p.state, 'paused');
  p.toEnd();
  assert.equal(p.shown, 5);
  assert.equal(p.state, 'done');
  assert.ok(changes() >= 8);
});

test('setSpeed re-arms a playing tick at the new rate; dispose stops it', () => {
  const { p, live } = harness(4);
  p.setSpeed(50); // paused: nothing armed
  assert.equal(live().length, 0);
  p.play();
  assert.equal(live()[0].ms, 50);
  p.setSpeed(800);
  assert.equal(live().length, 1);
  assert.equal(live()[0].ms, 800);
  p.dispose();
  assert.equal(live().length, 0);
});
