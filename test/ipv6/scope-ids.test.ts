/**
 * Scope ids (RFC 4007 §6, sin6_scope_id) on a host with two links: a link-local address
 * names its link by interface index, connect/bind/sendto with one go out of that
 * interface only, getsockname/getpeername/recvfrom report it, and an unscoped
 * link-local address is EINVAL where two links could hold it (as Linux).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { AF_INET6, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';
import { formatIpv6 } from '../../src/wire/address.ts';

/** A on two links: eth0 to B, eth1 to C. B and C both hold fe80::9 (each on its own link). */
function twoLinks() {
  const sim = new Simulation({ seed: 15 });
  const c1 = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const c2 = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  const c = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'c' }));
  const eth0 = a.addInterface({ name: 'eth0', device: c1.a, addresses: ['fd00:1::1/64'] });
  const eth1 = a.addInterface({ name: 'eth1', device: c2.a, addresses: ['fd00:2::1/64'] });
  b.addInterface({ name: 'eth0', device: c1.b, addresses: ['fd00:1::2/64', 'fe80::9/64'] });
  c.addInterface({ name: 'eth0', device: c2.b, addresses: ['fd00:2::2/64', 'fe80::9/64'] });
  sim.runFor(seconds(3));
  return { sim, a, b, c, eth0, eth1 };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

function linkLocal(s: Stack, name: string): string {
  const iface = s.interfaces.find((i) => i.name === name)!;
  const ll = s.ip6.state(iface)?.linkLocal;
  assert.ok(ll, `${s.name} ${name} has a link-local address`);
  return formatIpv6(ll);
}

test('interfaces are numbered as Linux numbers them: lo 1, then the devices', () => {
  const { a, eth0, eth1 } = twoLinks();
  assert.equal(a.interfaces[0].ifindex, 1);
  assert.equal(eth0.ifindex, 2);
  assert.equal(eth1.ifindex, 3);
});

test('sendto fe80::9 with a scope id reaches the host on that link only; recvfrom reports the zone', async () => {
  const { sim, a, b, c, eth0, eth1 } = twoLinks();
  await sim.run(async () => {
    const rb = b.socket(AF_INET6, SOCK_DGRAM);
    await rb.bind(['::', 5000]);
    const rc = c.socket(AF_INET6, SOCK_DGRAM);
    await rc.bind(['::', 5000]);
    const s = a.socket(AF_INET6, SOCK_DGRAM);
    await s.sendto('to b', ['fe80::9', 5000, 0, eth0.ifindex]);
    await s.sendto('to c', ['fe80::9', 5000, 0, eth1.ifindex]);
    const [db, fromB] = await rb.recvfrom(100);
    const [dc, fromC] = await rc.recvfrom(100);
    assert.equal(text(db), 'to b');
    assert.equal(text(dc), 'to c');
    const port = (s.getsockname() as [string, number])[1];
    // Each receiver sees a's link-local address of that link, in its own zone (its eth0, index 2).
    assert.deepEqual(fromB, [linkLocal(a, 'eth0'), port, 0, 2]);
    assert.deepEqual(fromC, [linkLocal(a, 'eth1'), port, 0, 2]);
    // The replies come back with the zone they arrived in.
    await rb.sendto('from b', fromB);
    await rc.sendto('from c', fromC);
    const got = new Map<string, unknown>();
    for (let i = 0; i < 2; i++) {
      const [d, from] = await s.recvfrom(100);
      got.set(text(d), from);
    }
    // (An unbound sender answers from its interface's own link-local address.)
    assert.deepEqual(got.get('from b'), [linkLocal(b, 'eth0'), 5000, 0, eth0.ifindex]);
    assert.deepEqual(got.get('from c'), [linkLocal(c, 'eth0'), 5000, 0, eth1.ifindex]);
    s.close();
    rb.close();
    rc.close();
  });
});

test('TCP connect with a scope id pins the link; names on both ends carry the zone', async () => {
  const { sim, a, b, c, eth1 } = twoLinks();
  await sim.run(async () => {
    // Only c (on eth1) listens: the connection can succeed only if it goes out of eth1.
    const srv = c.socket(AF_INET6, SOCK_STREAM);
    await srv.bind(['::', 7000]);
    await srv.listen(2);
    const refuser = b.socket(AF_INET6, SOCK_STREAM);
    refuser.close();
    const cli = a.socket(AF_INET6, SOCK_STREAM);
    const acc = srv.accept();
    await cli.connect(['fe80::9', 7000, 0, eth1.ifindex]);
    const [conn, peer] = await acc;
    const port = (cli.getsockname() as [string, number])[1];
    assert.deepEqual(cli.getsockname(), [linkLocal(a, 'eth1'), port, 0, eth1.ifindex]);
    assert.deepEqual(cli.getpeername(), ['fe80::9', 7000, 0, eth1.ifindex]);
    assert.deepEqual(peer, [linkLocal(a, 'eth1'), port, 0, 2]);
    assert.deepEqual(conn.getsockname(), ['fe80::9', 7000, 0, 2]);
    await cli.sendall('pinned');
    assert.equal(text(await conn.recv(100)), 'pinned');
    cli.close();
    conn.close();
    srv.close();
    // The same address on the other link: b has no listener there, so b refuses.
    const other = a.socket(AF_INET6, SOCK_STREAM);
    await assert.rejects(other.connect(['fe80::9', 7000, 0, 2]), { code: 'ECONNREFUSED' });
    other.close();
  });
});

test('a link-local address without a scope id is EINVAL on a two-link host; an unknown index ENODEV', async () => {
  const { sim, a } = twoLinks();
  await sim.run(async () => {
    const t = a.socket(AF_INET6, SOCK_STREAM);
    await assert.rejects(t.connect(['fe80::9', 7000]), { code: 'EINVAL' });
    await assert.rejects(t.connect(['fe80::9', 7000, 0, 42]), { code: 'ENODEV' });
    t.close();
    const u = a.socket(AF_INET6, SOCK_DGRAM);
    await assert.rejects(u.sendto('x', ['fe80::9', 5000]), { code: 'EINVAL' });
    await assert.rejects(u.bind([linkLocal(a, 'eth0'), 0]), { code: 'EINVAL' });
    // The scope also travels in the textual form, fe80::…%index.
    await u.bind([`${linkLocal(a, 'eth0')}%2`, 0]);
    const [, , , scope] = u.getsockname() as [string, number, number, number];
    assert.equal(scope, 2);
    // Global addresses need no zone.
    await u.sendto('x', ['fd00:1::2', 5000]);
    u.close();
  });
});

test('on a host with one link an unscoped link-local address means that link (a deviation from Linux)', async () => {
  const sim = new Simulation({ seed: 16 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['fd00:1::1/64'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['fd00:1::2/64', 'fe80::9/64'] });
  sim.runFor(seconds(3));
  await sim.run(async () => {
    const srv = b.socket(AF_INET6, SOCK_STREAM);
    await srv.bind(['::', 7000]);
    await srv.listen(1);
    const cli = a.socket(AF_INET6, SOCK_STREAM);
    const acc = srv.accept();
    await cli.connect(['fe80::9', 7000]);
    await acc;
    assert.deepEqual(cli.getpeername(), ['fe80::9', 7000, 0, 2]);
    cli.close();
    srv.close();
  });
});
