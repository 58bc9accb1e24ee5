import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCidr, type Route, RouteTable } from '../../src/ip/route.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import { parseIpv4 } from '../../src/wire/address.ts';

const ip = (s: string) => parseIpv4(s)!;
function r(dest: string, iface: string, gw?: string, metric = 0): Route {
  const c = parseCidr(dest)!;
  return {
    destination: c.address,
    prefix: c.prefix,
    gateway: gw === undefined ? undefined : ip(gw),
    interface: iface,
    metric,
    source: undefined,
    origin: 'static',
  };
}

test('longest prefix wins, then the lowest metric', () => {
  const t = new RouteTable();
  t.add(r('0.0.0.0/0', 'eth0', '10.0.0.1'));
  t.add(r('10.0.0.0/8', 'eth1'));
  t.add(r('10.1.0.0/16', 'eth2', '10.0.0.9', 10));
  t.add(r('10.1.0.0/16', 'eth3', '10.0.0.8', 5));
  t.add(r('10.1.2.3/32', 'eth4'));
  assert.equal(t.lookup(ip('8.8.8.8'))?.interface, 'eth0');
  assert.equal(t.lookup(ip('10.9.9.9'))?.interface, 'eth1');
  assert.equal(t.lookup(ip('10.1.9.9'))?.interface, 'eth3');
  assert.equal(t.lookup(ip('10.1.2.3'))?.interface, 'eth4');
  // A filter (interface down) falls through to the next best.
  assert.equal(t.lookup(ip('10.1.9.9'), (x) => x.interface !== 'eth3')?.interface, 'eth2');
  assert.equal(
    t.remove((x) => x.prefix === 0),
    1,
  );
  assert.equal(t.lookup(ip('8.8.8.8')), undefined);
});

test('destinations are masked; re-adding the same route replaces it', () => {
  const t = new RouteTable();
  t.add(r('192.168.1.77/24', 'eth0'));
  t.add(r('192.168.1.0/24', 'eth0'));
  assert.equal(t.routes.length, 1);
  assert.equal(t.routes[0].destination, ip('192.168.1.0'));
});

test('parseCidr', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { address: ip('10.0.0.0'), prefix: 8 });
  assert.deepEqual(parseCidr('default'), { address: 0, prefix: 0 });
  assert.deepEqual(parseCidr('1.2.3.4'), { address: ip('1.2.3.4'), prefix: 32 });
  assert.equal(parseCidr('1.2.3.4/33'), undefined);
  assert.equal(parseCidr('1.2.3/8'), undefined);
});

test('stack routing: on-link routes from addresses, gateways, unreachable networks', () => {
  const sim = new Simulation();
  const cable = new Cable({ clock: sim.clock, rng: sim.rng.fork() });
  const s = new Stack({ clock: sim.clock, rng: sim.rng.fork() });
  s.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.1.2/24'] });
  assert.equal(s.ip.route(ip('8.8.8.8')), 'ENETUNREACH');
  const onLink = s.ip.route(ip('10.0.1.7'));
  assert.ok(typeof onLink !== 'string');
  assert.equal(onLink.nextHop, ip('10.0.1.7'));
  assert.equal(onLink.src, ip('10.0.1.2'));
  s.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.1.1' });
  const via = s.ip.route(ip('8.8.8.8'));
  assert.ok(typeof via !== 'string');
  assert.equal(via.nextHop, ip('10.0.1.1'));
  assert.equal(via.iface.name, 'eth0');
  // Our own addresses and 127/8 go through loopback.
  const self = s.ip.route(ip('10.0.1.2'));
  assert.ok(typeof self !== 'string' && self.local && self.iface.name === 'lo');
  // A gateway that is not on-link is refused.
  assert.throws(() => s.addRoute({ destination: '172.16.0.0/12', gateway: '192.168.9.1' }));
  // Interface down: its routes are unusable.
  s.setInterfaceUp('eth0', false);
  assert.equal(s.ip.route(ip('8.8.8.8')), 'ENETUNREACH');
});
