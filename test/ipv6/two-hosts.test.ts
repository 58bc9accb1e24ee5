import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';
import { formatIpv6, parseIpv6 } from '../../src/wire/address.ts';
import { ipv6Key, linkLocalFromMac } from '../../src/wire/ipv6-address.ts';

function pair(seed = 7) {
  const sim = new Simulation({ seed });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24', 'fd00:1::1/64'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24', 'fd00:1::2/64'] });
  return { sim, cable, a, b };
}

test('two stacks: link-local and ULA addresses pass DAD, ping both ways, NDP entries reachable', async () => {
  const { sim, a, b } = pair();
  const aState = a.ip6.state(a.interfaces[1])!;
  assert.ok(
    aState.addresses.every((x) => x.state === 'tentative'),
    'addresses start tentative',
  );
  sim.runFor(seconds(2));
  assert.ok(
    aState.addresses.every((x) => x.state === 'preferred'),
    aState.describe().join('; '),
  );
  assert.equal(a.ip6.stats.dadSucceeded, 2);
  const llB = formatIpv6(linkLocalFromMac(b.interfaces[1].mac));
  const r1 = await sim.run(() => a.ping6(`${llB}%eth0`));
  assert.ok(r1.ok, JSON.stringify(r1));
  assert.equal(formatIpv6(r1.from), llB);
  const r2 = await sim.run(() => b.ping6('fd00:1::1'));
  assert.ok(r2.ok, JSON.stringify(r2));
  assert.equal(r2.ttl, 64);
  const n = b.ip6.state(b.interfaces[1])!.ndp!.get(ipv6Key(parseIpv6('fd00:1::1')!));
  assert.equal(n?.state, 'reachable');
  assert.deepEqual(n?.mac, a.interfaces[1].mac);
  // IPv4 still works beside it.
  const r4 = await sim.run(() => a.ping('10.0.0.2'));
  assert.ok(r4.ok);
  // ::1 answers on loopback.
  const lo = await sim.run(() => a.ping6('::1'));
  assert.ok(lo.ok, JSON.stringify(lo));
});

test('DAD conflict: the second stack with the same address does not use it, and counts it', () => {
  const sim = new Simulation({ seed: 3 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['fd00:1::7/64'] });
  sim.runFor(seconds(2));
  b.addInterface({ name: 'eth0', device: cable.b });
  b.addAddress('eth0', 'fd00:1::7/64');
  sim.runFor(seconds(2));
  const st = b.ip6.state(b.interfaces[1])!;
  assert.equal(st.find(parseIpv6('fd00:1::7')!)?.state, 'duplicate');
  assert.equal(b.ip6.stats.dadConflicts, 1);
  assert.equal(b.ip6.isLocalAddress(parseIpv6('fd00:1::7')!), false);
  // The first owner keeps it.
  assert.equal(a.ip6.isLocalAddress(parseIpv6('fd00:1::7')!), true);
  // b's link-local address passed DAD and is usable.
  assert.ok(st.linkLocal !== undefined);
});
