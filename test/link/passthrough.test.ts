/**
 * PassThroughDevice forwards what it does not override: the inner device's identity and
 * offload capabilities, transmit (with and without gsoSize), received frames, and
 * poll/nextDeadline only when the inner device has them.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Device } from '../../src/link/device.ts';
import { Cable } from '../../src/link/memory.ts';
import { PassThroughDevice } from '../../src/link/passthrough.ts';
import { Simulation } from '../../src/link/sim.ts';
import { millis } from '../../src/time/instant.ts';

/** A device with no poll: records what it is asked to send. */
function handDevice(caps: Partial<Device>): Device & { sent: unknown[][] } {
  const sent: unknown[][] = [];
  return {
    name: 'hand0',
    linkType: 'ip',
    mtu: 9000,
    onReceive: null,
    sent,
    transmit(...args: unknown[]) {
      sent.push(args);
    },
    ...caps,
  };
}

it('forwards identity and capabilities, absent ones as false/0', () => {
  const bare = new PassThroughDevice(handDevice({}));
  assert.deepEqual(
    [bare.name, bare.linkType, bare.mtu, bare.txChecksumOffload, bare.rxChecksumValid, bare.gsoMaxSize],
    ['hand0', 'ip', 9000, false, false, 0],
  );
  const offload = new PassThroughDevice(
    handDevice({ txChecksumOffload: true, rxChecksumValid: true, gsoMaxSize: 65535 }),
  );
  assert.deepEqual(
    [offload.txChecksumOffload, offload.rxChecksumValid, offload.gsoMaxSize],
    [true, true, 65535],
  );
});

it('forwards transmit with gsoSize only when given, and received frames to onReceive', () => {
  const inner = handDevice({});
  const d = new PassThroughDevice(inner);
  const a = new Uint8Array([0x45]);
  const b = new Uint8Array([0x60]);
  d.transmit(a);
  d.transmit(b, 1448);
  assert.deepEqual(inner.sent, [[a], [b, 1448]]);
  // No onReceive yet: a frame is dropped without error.
  inner.onReceive?.(a);
  const got: Uint8Array[] = [];
  d.onReceive = (f) => got.push(f);
  inner.onReceive?.(b);
  assert.deepEqual(got, [b]);
  // Not pollable: nothing to wait for, poll does nothing.
  assert.equal(d.nextDeadline(), undefined);
  d.poll(0);
});

it('is polled through to a simulated link (only the wrappers are polled) and delivers', () => {
  const sim = new Simulation();
  const cable = new Cable({ clock: sim.clock, rng: sim.rng.fork(), aToB: { delay: millis(5) } });
  const a = new PassThroughDevice(cable.a);
  const b = new PassThroughDevice(cable.b);
  sim.add(a);
  sim.add(b);
  const got: Uint8Array[] = [];
  b.onReceive = (f) => got.push(f);
  const frame = new Uint8Array(60).fill(7);
  a.transmit(frame);
  // The frame waits in the channel towards b: b's deadline is its arrival, 5 ms on.
  assert.equal(b.nextDeadline(), millis(5));
  sim.runFor(millis(10));
  assert.equal(got.length, 1);
  assert.deepEqual(got[0], new Uint8Array(60).fill(7));
});
