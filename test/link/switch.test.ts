import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SimDevice } from '../../src/link/device.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Switch } from '../../src/link/switch.ts';
import { seconds } from '../../src/time/instant.ts';

const mac = (n: number) => [0x02, 0, 0, 0, 0, n];
function eth(dst: number[], src: number[], tag: number): Uint8Array {
  const f = new Uint8Array(60);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5; // local experimental ethertype
  f[14] = tag;
  return f;
}
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

function setup(ports: number, agingTime?: number) {
  const sim = new Simulation({ seed: 3 });
  const sw = sim.add(new Switch({ clock: sim.clock, rng: sim.rng.fork(), agingTime }));
  const devs: SimDevice[] = [];
  const got: number[][] = [];
  for (let i = 0; i < ports; i++) {
    const d = sw.port({ delay: 10 });
    const list: number[] = [];
    d.onReceive = (f) => list.push(f[14]);
    devs.push(d);
    got.push(list);
  }
  return { sim, sw, devs, got };
}

describe('Switch', () => {
  it('floods unknown unicast and broadcast to every other port', () => {
    const { sim, sw, devs, got } = setup(4);
    devs[0].transmit(eth(mac(9), mac(1), 1));
    devs[1].transmit(eth(BCAST, mac(2), 2));
    sim.runUntilIdle();
    assert.deepEqual(got, [[2], [1], [1, 2], [1, 2]]);
    assert.equal(sw.stats.flooded, 2);
    assert.equal(sim.now, 20); // 10 µs in, 10 µs out
  });

  it('learns source addresses and then forwards to one port only', () => {
    const { sim, sw, devs, got } = setup(4);
    devs[0].transmit(eth(BCAST, mac(1), 1)); // learn mac1 on port 0
    devs[2].transmit(eth(BCAST, mac(3), 2)); // learn mac3 on port 2
    sim.runUntilIdle();
    for (const g of got) g.length = 0;
    devs[0].transmit(eth(mac(3), mac(1), 3));
    devs[2].transmit(eth(mac(1), mac(3), 4));
    sim.runUntilIdle();
    assert.deepEqual(got, [[4], [], [3], []]);
    assert.equal(sw.stats.forwarded, 2);
    assert.deepEqual(
      sw
        .macTable()
        .map((e) => `${e.mac}=${e.port}`)
        .sort(),
      ['02:00:00:00:00:01=0', '02:00:00:00:00:03=2'],
    );
  });

  it('filters frames whose destination is on the ingress port, follows a moved station', () => {
    const { sim, sw, devs, got } = setup(3);
    devs[0].transmit(eth(BCAST, mac(1), 1));
    sim.runUntilIdle();
    devs[0].transmit(eth(mac(1), mac(5), 2)); // dst on the same port
    sim.runUntilIdle();
    assert.equal(sw.stats.filtered, 1);
    // mac1 moves to port 1
    devs[1].transmit(eth(BCAST, mac(1), 3));
    sim.runUntilIdle();
    for (const g of got) g.length = 0;
    devs[2].transmit(eth(mac(1), mac(7), 4));
    sim.runUntilIdle();
    assert.deepEqual(got, [[], [4], []]);
  });

  it('ages entries out and floods again', () => {
    const { sim, sw, devs, got } = setup(3, seconds(10));
    devs[0].transmit(eth(BCAST, mac(1), 1));
    sim.runUntilIdle();
    sim.runFor(seconds(11));
    assert.equal(sw.macTable().length, 0);
    for (const g of got) g.length = 0;
    devs[2].transmit(eth(mac(1), mac(7), 2));
    sim.runUntilIdle();
    assert.deepEqual(got, [[2], [2], []]);
  });

  it('multicast is flooded and never learned as a source', () => {
    const { sim, sw, devs, got } = setup(3);
    devs[0].transmit(eth([0x01, 0x00, 0x5e, 0, 0, 1], [0x01, 0, 0, 0, 0, 1], 1));
    sim.runUntilIdle();
    assert.deepEqual(got, [[], [1], [1]]);
    assert.equal(sw.macTable().length, 0);
  });

  it('flooded copies are independent buffers', () => {
    const { sim, sw, devs } = setup(3);
    const frames: Uint8Array[] = [];
    devs[1].onReceive = (f) => frames.push(f);
    devs[2].onReceive = (f) => frames.push(f);
    devs[0].transmit(eth(BCAST, mac(1), 1));
    sim.runUntilIdle();
    assert.equal(frames.length, 2);
    assert.notEqual(frames[0].buffer, frames[1].buffer);
    assert.equal(sw.portCount, 3);
  });
});
