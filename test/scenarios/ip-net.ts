/**
 * Test network for IP/UDP scenarios: two subnets joined by a router.
 *
 *   a  10.0.1.2 ─┐                    ┌─ b  10.0.2.2
 *   a2 10.0.1.3 ─┼─ swA ── router ── swB ─┼─ b2 10.0.2.3
 *                      10.0.1.1  10.0.2.1
 *
 * Each link has a 1 ms one-way delay per cable (host→switch, switch→host), so a
 * round trip between subnets crosses 8 cables: 8 ms.
 */

import { Simulation } from '../../src/link/sim.ts';
import { Switch } from '../../src/link/switch.ts';
import { Stack, type StackConfig } from '../../src/stack.ts';
import { millis } from '../../src/time/instant.ts';

export interface NetOptions {
  seed?: number;
  /** MTU of subnet B (router eth1, b, b2). Default 1500. */
  mtuB?: number;
  routerConfig?: StackConfig;
  hostConfig?: StackConfig;
  delay?: number;
}

export function twoSubnets(opts: NetOptions = {}) {
  const sim = new Simulation({ seed: opts.seed ?? 7 });
  const delay = opts.delay ?? millis(1);
  const swA = sim.add(new Switch({ clock: sim.clock, rng: sim.rng.fork(), name: 'swA' }));
  const swB = sim.add(
    new Switch({ clock: sim.clock, rng: sim.rng.fork(), name: 'swB', mtu: opts.mtuB ?? 1500 }),
  );
  const mk = (name: string, forwarding = false, config?: StackConfig) =>
    sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name, forwarding, config }));
  const router = mk('router', true, opts.routerConfig);
  router.addInterface({ name: 'eth0', device: swA.port({ delay }), addresses: ['10.0.1.1/24'] });
  router.addInterface({ name: 'eth1', device: swB.port({ delay }), addresses: ['10.0.2.1/24'] });
  const host = (name: string, sw: Switch, addr: string, gw: string) => {
    const s = mk(name, false, opts.hostConfig);
    s.addInterface({ name: 'eth0', device: sw.port({ delay }), addresses: [addr] });
    s.addRoute({ destination: '0.0.0.0/0', gateway: gw });
    return s;
  };
  const a = host('a', swA, '10.0.1.2/24', '10.0.1.1');
  const a2 = host('a2', swA, '10.0.1.3/24', '10.0.1.1');
  const b = host('b', swB, '10.0.2.2/24', '10.0.2.1');
  const b2 = host('b2', swB, '10.0.2.3/24', '10.0.2.1');
  // Let the gratuitous ARPs settle.
  sim.runUntilIdle();
  return { sim, swA, swB, router, a, a2, b, b2 };
}
