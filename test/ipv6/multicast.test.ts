/**
 * IPv6 multicast on datagram sockets (RFC 3493 §5.2): IPV6_JOIN_GROUP puts the
 * interface in the group and sends MLDv2 reports (RFC 3810), datagrams to the group
 * arrive, IPV6_LEAVE_GROUP (or close) leaves it; IPV6_MULTICAST_HOPS sets the hop limit
 * (default 1). A router does not forward multicast. An example streams to a group.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Switch } from '../../src/link/switch.ts';
import {
  AF_INET6,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_LEAVE_GROUP,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  SOCK_DGRAM,
} from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { parseIpv6 } from '../../src/wire/address.ts';

const GROUP = 'ff15::1234';

function mreq(group: string, ifindex: number): Uint8Array {
  const b = new Uint8Array(20);
  b.set(parseIpv6(group)!, 0);
  new DataView(b.buffer).setUint32(16, ifindex, true);
  return b;
}

/** A sender and two receivers on a switch. */
function lan() {
  const sim = new Simulation({ seed: 31 });
  const sw = sim.add(new Switch({ clock: sim.clock, rng: sim.rng.fork(), name: 'sw' }));
  const mk = (name: string, addr: string) => {
    const s = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name }));
    s.addInterface({ name: 'eth0', device: sw.port({ delay: millis(1) }), addresses: [addr] });
    return s;
  };
  const sender = mk('sender', 'fd00:5::1/64');
  const r1 = mk('r1', 'fd00:5::2/64');
  const r2 = mk('r2', 'fd00:5::3/64');
  sim.runFor(seconds(3));
  return { sim, sender, r1, r2 };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

test('join a group: MLDv2 reports go out, datagrams to the group arrive; leave: they stop', async () => {
  const { sim, sender, r1, r2 } = lan();
  await sim.run(async () => {
    const a = r1.socket(AF_INET6, SOCK_DGRAM);
    await a.bind(['::', 9999]);
    const b = r2.socket(AF_INET6, SOCK_DGRAM);
    await b.bind(['::', 9999]);
    const before = r1.ip6.stats.mldReportsSent;
    a.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq(GROUP, 0));
    assert.ok(r1.ip6.stats.mldReportsSent > before, 'a report on joining');
    assert.ok(r1.ip6.state(r1.interfaces[1])?.hasGroup(parseIpv6(GROUP)!));
    // Joining twice is EADDRINUSE; an index with no interface ENODEV; a unicast group EINVAL.
    assert.throws(() => a.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq(GROUP, 0)), { code: 'EADDRINUSE' });
    assert.throws(() => a.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq(GROUP, 9)), { code: 'ENODEV' });
    assert.throws(() => a.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq('fd00::1', 0)), { code: 'EINVAL' });
    assert.throws(() => a.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, new Uint8Array(8)), { code: 'EINVAL' });
    assert.throws(() => a.getsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP), { code: 'ENOPROTOOPT' });

    const s = sender.socket(AF_INET6, SOCK_DGRAM);
    assert.equal(s.getsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS), 1);
    await s.sendto('frame 1', [GROUP, 9999]);
    const [d, from] = await a.recvfrom(100);
    assert.equal(text(d), 'frame 1');
    assert.equal((from as [string, number])[0], 'fd00:5::1');
    // r2 never joined: the datagram is not delivered there.
    b.settimeout(0.5);
    await assert.rejects(b.recvfrom(100), (e: Error) => /timed out/.test(e.message));
    s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 5);
    assert.equal(s.getsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS), 5);
    assert.throws(() => s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 256), { code: 'EINVAL' });

    a.setsockopt(IPPROTO_IPV6, IPV6_LEAVE_GROUP, mreq(GROUP, 0));
    assert.equal(r1.ip6.state(r1.interfaces[1])?.hasGroup(parseIpv6(GROUP)!), false);
    assert.throws(() => a.setsockopt(IPPROTO_IPV6, IPV6_LEAVE_GROUP, mreq(GROUP, 0)), {
      code: 'EADDRNOTAVAIL',
    });
    a.close();
    b.close();
    s.close();
  });
});

test('closing the socket leaves its groups; a router does not forward multicast', async () => {
  const sim = new Simulation({ seed: 32 });
  const c1 = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const c2 = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const h1 = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'h1' }));
  const rt = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'rt', forwarding: true }));
  const h2 = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'h2' }));
  h1.addInterface({ name: 'eth0', device: c1.a, addresses: ['fd00:a::2/64'] });
  rt.addInterface({ name: 'eth0', device: c1.b, addresses: ['fd00:a::1/64'] });
  rt.addInterface({ name: 'eth1', device: c2.a, addresses: ['fd00:b::1/64'] });
  h2.addInterface({ name: 'eth0', device: c2.b, addresses: ['fd00:b::2/64'] });
  h1.addRoute({ destination: '::/0', gateway: 'fd00:a::1' });
  h2.addRoute({ destination: '::/0', gateway: 'fd00:b::1' });
  sim.runFor(seconds(3));
  await sim.run(async () => {
    const r = h2.socket(AF_INET6, SOCK_DGRAM);
    await r.bind(['::', 9999]);
    r.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq(GROUP, 0));
    const s = h1.socket(AF_INET6, SOCK_DGRAM);
    s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 10);
    await s.sendto('across?', [GROUP, 9999]);
    r.settimeout(1);
    await assert.rejects(r.recvfrom(100), (e: Error) => /timed out/.test(e.message));
    // Unicast still crosses the router: the network works, only multicast stays on its link.
    await s.sendto('unicast', ['fd00:b::2', 9999]);
    assert.equal(text((await r.recvfrom(100))[0]), 'unicast');
    const iface = h2.interfaces[1];
    assert.ok(h2.ip6.state(iface)?.hasGroup(parseIpv6(GROUP)!));
    r.close();
    assert.equal(h2.ip6.state(iface)?.hasGroup(parseIpv6(GROUP)!), false);
    s.close();
  });
});

test('IPV6_MULTICAST_LOOP: a member sender hears itself unless off; IPV6_MULTICAST_IF picks the interface', async () => {
  const { sim, sender, r1 } = lan();
  await sim.run(async () => {
    const s = sender.socket(AF_INET6, SOCK_DGRAM);
    await s.bind(['::', 9998]);
    const eth0 = sender.interfaces[1].ifindex;
    s.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq(GROUP, eth0));
    assert.equal(s.getsockopt(IPPROTO_IPV6, IPV6_MULTICAST_LOOP), 1);
    assert.equal(s.getsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF), 0);
    await s.sendto('me too', [GROUP, 9998]);
    assert.equal(text((await s.recvfrom(100))[0]), 'me too');
    s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
    // ipv6(7): only 0 or 1.
    assert.throws(() => s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 5), { code: 'EINVAL' });
    await s.sendto('not me', [GROUP, 9998]);
    s.settimeout(0.5);
    await assert.rejects(s.recvfrom(100), (e: Error) => /timed out/.test(e.message));
    // IPV6_MULTICAST_IF: an index with no interface is ENODEV; lo has no route to groups
    // (Linux: ENETUNREACH), eth0 does.
    assert.throws(() => s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, 99), { code: 'ENODEV' });
    s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, 1);
    await assert.rejects(s.sendto('via lo', [GROUP, 9998]), { code: 'ENETUNREACH' });
    s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, eth0);
    assert.equal(s.getsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF), eth0);
    const a = r1.socket(AF_INET6, SOCK_DGRAM);
    await a.bind(['::', 9998]);
    a.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq(GROUP, 0));
    await s.sendto('via eth0', [GROUP, 9998]);
    assert.equal(text((await a.recvfrom(100))[0]), 'via eth0');
    a.close();
    s.close();
  });
});
