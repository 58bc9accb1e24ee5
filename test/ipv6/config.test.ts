/**
 * Configuring IPv6 on a stack: addresses and routes beside IPv4, the routing table's
 * longest-prefix match, and bad calls rejected with a Node-style `code`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ipv6RouteTable, parseCidr6 } from '../../src/ip/ipv6-route.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import { formatIpv6, parseIpv6 } from '../../src/wire/address.ts';

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;

function host() {
  const sim = new Simulation({ seed: 1 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const s = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'h' }));
  s.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  return { sim, s };
}

test('parseCidr6 and longest-prefix match with metrics', () => {
  assert.deepEqual(parseCidr6('fd00::/8')?.prefix, 8);
  assert.equal(parseCidr6('fd00::1')?.prefix, 128);
  assert.equal(parseCidr6('default')?.prefix, 0);
  for (const bad of ['fd00::/129', 'fd00::/x', 'nope', '1.2.3.4/8', 'fd00:::1/64'])
    assert.equal(parseCidr6(bad), undefined, bad);
  const t = new Ipv6RouteTable();
  const a = (s: string) => parseIpv6(s)!;
  t.add({
    destination: a('::'),
    prefix: 0,
    gateway: a('fe80::1'),
    interface: 'eth0',
    metric: 1024,
    origin: 'static',
  });
  t.add({
    destination: a('fd00:1::5'),
    prefix: 64,
    gateway: undefined,
    interface: 'eth1',
    metric: 256,
    origin: 'connected',
  });
  t.add({
    destination: a('fd00:1::'),
    prefix: 64,
    gateway: undefined,
    interface: 'eth2',
    metric: 100,
    origin: 'static',
  });
  assert.equal(t.lookup(a('fd00:1::9'))?.interface, 'eth2', 'lower metric wins at the same length');
  assert.equal(formatIpv6(t.lookup(a('fd00:1::9'))!.destination), 'fd00:1::', 'stored masked');
  assert.equal(t.lookup(a('2001:db8::1'))?.interface, 'eth0');
  assert.equal(t.lookup(a('fd00:1::9'), (r) => r.interface === 'eth1')?.interface, 'eth1');
  // Re-adding the same route replaces it.
  t.add({
    destination: a('::'),
    prefix: 0,
    gateway: a('fe80::1'),
    interface: 'eth0',
    metric: 5,
    origin: 'static',
  });
  assert.equal(t.routes.filter((r) => r.prefix === 0).length, 1);
});

test('IPv6 addresses and routes beside IPv4; bad calls throw with a code', async () => {
  const { s } = host();
  s.addAddress('eth0', 'fd00:5::1/64');
  s.addRoute({ destination: 'fd00:9::/48', gateway: 'fd00:5::fe' });
  s.addRoute({ destination: '::/0', gateway: 'fe80::1', interface: 'eth0' });
  assert.ok(s.ip6.routes.routes.some((r) => r.prefix === 48 && r.interface === 'eth0'));
  // IPv4 untouched.
  assert.equal(s.routes.filter((r) => r.interface === 'eth0').length, 1);
  assert.throws(() => s.addAddress('eth0', 'fd00::1/129'), code('EINVAL'));
  assert.throws(() => s.addAddress('eth0', 'ff02::1/64'), code('EINVAL'));
  assert.throws(() => s.addAddress('eth9', 'fd00::1/64'), code('ENODEV'));
  assert.throws(() => s.addRoute({ destination: 'fd00:7::/64', gateway: 'fd00:77::1' }), code('ENETUNREACH'));
  assert.throws(() => s.addRoute({ destination: '::/0', gateway: 'fe80::1' }), code('EINVAL'));
  assert.throws(() => s.addRoute({ destination: 'fd00:zz::/64', interface: 'eth0' }), code('EINVAL'));
  assert.throws(() => s.advertiseIpv6Prefix('eth0', 'fd00::/80'), code('EINVAL'));
  await assert.rejects(s.ping6('not-an-address'), code('EINVAL'));
});

test('without an IPv6 address or enableIpv6, an interface ignores IPv6 (counted) and sends none', () => {
  const sim = new Simulation({ seed: 2 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  const sent: Uint8Array[] = [];
  const tx = cable.a.transmit.bind(cable.a);
  cable.a.transmit = (f: Uint8Array) => {
    sent.push(f);
    tx(f);
  };
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24', 'fd00::2/64'] });
  sim.runFor(2_000_000);
  assert.ok(
    sent.every((f) => ((f[12] << 8) | f[13]) !== 0x86dd),
    'a sent no IPv6',
  );
  // b's NDP and MLD multicasts are frames to groups a never joined: not ours at the link layer.
  assert.equal(a.ip6.stats.received, 0);
  assert.ok(a.stats.link.notForUs > 0);
  assert.equal(a.ip6.state(a.interfaces[1]), undefined);
  const st = a.enableIpv6('eth0');
  sim.runFor(2_000_000);
  assert.equal(st.linkLocal !== undefined, true);
  assert.ok(
    sent.some((f) => ((f[12] << 8) | f[13]) === 0x86dd),
    'now it does',
  );
});
