import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RxQueue } from '../../src/ip/rx-queue.ts';
import type { Device } from '../../src/link/device.ts';
import { Simulation } from '../../src/link/sim.ts';
import { SeededRng } from '../../src/rand/rng.ts';
import { RX_BATCH, Stack } from '../../src/stack.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { localMac, MAC_BROADCAST } from '../../src/wire/address.ts';
import { emitEthernet } from '../../src/wire/ethernet.ts';

test('RxQueue: first in, first out across growth and wrap-around; full means dropped and counted', () => {
  const q = new RxQueue(40);
  const f = (n: number) => new Uint8Array([n]);
  let next = 0;
  let expect = 0;
  // Interleave pushes and shifts so the ring wraps while it grows.
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 7; i++) assert.equal(q.push(f(next++)), true);
    for (let i = 0; i < 3; i++) assert.equal(q.shift()?.[0], expect++);
  }
  assert.equal(q.length, 20);
  for (let i = 0; i < 20; i++) assert.equal(q.push(f(next++)), true);
  assert.equal(q.length, 40);
  assert.equal(q.push(f(999)), false);
  assert.equal(q.push(f(999)), false);
  assert.equal(q.drops, 2);
  while (q.length > 0) assert.equal(q.shift()?.[0], expect++);
  assert.equal(expect, next);
  assert.equal(q.shift(), undefined);
});

/** A device the test feeds by hand (as a TAP's reader would). */
class HandDevice implements Device {
  readonly name = 'hand0';
  readonly linkType = 'ethernet' as const;
  readonly mtu = 1500;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  readonly sent: Uint8Array[] = [];
  transmit(frame: Uint8Array): void {
    this.sent.push(frame);
  }
}

/** A broadcast frame of an EtherType nobody handles: each one processed is one `unknownEthertype`. */
function junk(): Uint8Array {
  const f = new Uint8Array(60);
  emitEthernet({ dst: MAC_BROADCAST, src: localMac(7), ethertype: 0x88b5 }, f); // IEEE local experimental
  return f;
}

function handStack(rxQueueLength?: number) {
  const clock = new ManualClock(1000);
  const stack = new Stack({
    clock,
    rng: new SeededRng(3),
    config: rxQueueLength === undefined ? {} : { rxQueueLength },
  });
  const dev = new HandDevice();
  stack.addInterface({ name: 'eth0', device: dev, addresses: ['10.0.0.2/24'] });
  // Settle the gratuitous ARP and anything else at the start.
  while ((stack.nextDeadline() ?? Infinity) <= clock.now()) stack.poll(clock.now());
  let wakes = 0;
  stack.onWake = () => wakes++;
  return { clock, stack, dev, wakes: () => wakes };
}

test('a device only queues: nothing is processed until poll, and the stack asks to be polled now', () => {
  const { clock, stack, dev, wakes } = handStack();
  assert.equal(stack.nextDeadline(), undefined);
  dev.onReceive!(junk());
  dev.onReceive!(junk());
  assert.equal(stack.stats.link.received, 0);
  assert.equal(stack.nextDeadline(), clock.now());
  // One wake for the idle → busy transition, not one per frame.
  assert.equal(wakes(), 1);
  stack.poll(clock.now());
  assert.equal(stack.stats.link.received, 2);
  assert.equal(stack.stats.link.unknownEthertype, 2);
  assert.equal(stack.nextDeadline(), undefined);
  dev.onReceive!(junk());
  assert.equal(wakes(), 2);
});

test('a flood larger than a batch is processed over several polls, RX_BATCH frames at a time', () => {
  const { clock, stack, dev } = handStack();
  const n = 3 * RX_BATCH + 10;
  for (let i = 0; i < n; i++) dev.onReceive!(junk());
  const seen: number[] = [];
  while (stack.nextDeadline() !== undefined) {
    stack.poll(clock.now());
    seen.push(stack.stats.link.received);
  }
  assert.deepEqual(seen, [RX_BATCH, 2 * RX_BATCH, 3 * RX_BATCH, n]);
  assert.equal(stack.stats.link.rxQueueDrops, 0);
});

test('a full receive queue drops and counts; what fits is processed', () => {
  const { clock, stack, dev } = handStack(100);
  for (let i = 0; i < 130; i++) dev.onReceive!(junk());
  assert.equal(stack.stats.link.rxQueueDrops, 30);
  while (stack.nextDeadline() !== undefined) stack.poll(clock.now());
  assert.equal(stack.stats.link.received, 100);
  // Room again once drained.
  dev.onReceive!(junk());
  stack.poll(clock.now());
  assert.equal(stack.stats.link.received, 101);
  assert.equal(stack.stats.link.rxQueueDrops, 30);
});

test('timers due at an instant run after that instant’s queued input is processed', () => {
  const { clock, stack, dev } = handStack();
  const fired: number[] = [];
  stack.timers.timer(() => fired.push(stack.stats.link.received)).set(clock.now());
  const n = 2 * RX_BATCH + 1;
  for (let i = 0; i < n; i++) dev.onReceive!(junk());
  stack.poll(clock.now());
  assert.deepEqual(fired, []); // input still waiting
  while (stack.nextDeadline() !== undefined) stack.poll(clock.now());
  assert.deepEqual(fired, [n]);
});

test('under a Simulation a flood at one instant is all processed at that instant', () => {
  const sim = new Simulation({ seed: 9 });
  const stack = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork() }));
  const dev = new HandDevice();
  stack.addInterface({ name: 'eth0', device: dev, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  const t = sim.now;
  for (let i = 0; i < 5 * RX_BATCH; i++) dev.onReceive!(junk());
  const r = sim.runUntilIdle();
  assert.equal(stack.stats.link.received, 5 * RX_BATCH);
  assert.equal(sim.now, t);
  assert.ok(r.steps >= 1);
});
