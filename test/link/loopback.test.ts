import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Loopback } from '../../src/link/loopback.ts';
import { Simulation } from '../../src/link/sim.ts';

describe('Loopback', () => {
  it('returns frames to itself in the next poll, not synchronously', () => {
    const sim = new Simulation({ start: 50 });
    const lo = sim.add(new Loopback({ clock: sim.clock }));
    const got: string[] = [];
    lo.onReceive = (f) => {
      got.push(`${f[0]}@${sim.now}`);
      if (f[0] < 3) lo.transmit(new Uint8Array([f[0] + 1]));
    };
    lo.transmit(new Uint8Array([1]));
    assert.deepEqual(got, []);
    sim.runUntilIdle();
    assert.deepEqual(got, ['1@50', '2@50', '3@50']);
    assert.equal(lo.delivered, 3);
    assert.equal(lo.linkType, 'ip');
  });

  it('drops frames over the MTU', () => {
    const sim = new Simulation();
    const lo = sim.add(new Loopback({ clock: sim.clock, mtu: 100 }));
    let n = 0;
    lo.onReceive = () => n++;
    lo.transmit(new Uint8Array(100));
    lo.transmit(new Uint8Array(101));
    sim.runUntilIdle();
    assert.equal(n, 1);
    assert.equal(lo.droppedMtu, 1);
  });
});
