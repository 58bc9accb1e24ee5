/**
 * A router forwards multicast only when configured (src/ip/mroute.ts, StackConfig
 * multicastRoutes), in both families: a group datagram crosses h1 → rt → h2 with its TTL or
 * hop limit decremented when a static route names the arrival and the outgoing interfaces;
 * never without a route, with forwarding off, with a TTL that would expire, for a group in
 * 224.0.0.0/24 or of link-local scope, or towards the interface it came from.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipv4Bytes } from '../../src/ip/igmp.ts';
import { MulticastRoutes } from '../../src/ip/mroute.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import {
  AF_INET,
  AF_INET6,
  IP_ADD_MEMBERSHIP,
  IP_MULTICAST_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_MULTICAST_HOPS,
  SOCK_DGRAM,
} from '../../src/socket/constants.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { Stack, type StackConfig } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';
import { parseIpv4, parseIpv6 } from '../../src/wire/address.ts';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

function mreq4(group: string): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, parseIpv4(group)!);
  return b;
}

function mreq6(group: string): Uint8Array {
  const b = new Uint8Array(20);
  b.set(parseIpv6(group)!, 0);
  return b;
}

async function noDatagram(s: Socket): Promise<void> {
  s.settimeout(0.5);
  await assert.rejects(s.recvfrom(100), (e: Error) => /timed out/.test(e.message));
  s.settimeout(null);
}

/** h1 — rt — h2, rt forwarding with `config`. */
function net(config: StackConfig) {
  const sim = new Simulation({ seed: 7 });
  const c1 = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const c2 = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const h1 = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'h1' }));
  const rt = sim.add(
    new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'rt', forwarding: true, config }),
  );
  const h2 = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'h2' }));
  h1.addInterface({ name: 'eth0', device: c1.a, addresses: ['10.1.0.2/24', 'fd00:a::2/64'] });
  rt.addInterface({ name: 'eth0', device: c1.b, addresses: ['10.1.0.1/24', 'fd00:a::1/64'] });
  rt.addInterface({ name: 'eth1', device: c2.a, addresses: ['10.2.0.1/24', 'fd00:b::1/64'] });
  h2.addInterface({ name: 'eth0', device: c2.b, addresses: ['10.2.0.2/24', 'fd00:b::2/64'] });
  h1.addRoute({ destination: '0.0.0.0/0', gateway: '10.1.0.1' });
  h2.addRoute({ destination: '0.0.0.0/0', gateway: '10.2.0.1' });
  h1.addRoute({ destination: '::/0', gateway: 'fd00:a::1' });
  h2.addRoute({ destination: '::/0', gateway: 'fd00:b::1' });
  sim.runFor(seconds(3));
  return { sim, h1, rt, h2 };
}

const ROUTES: StackConfig = {
  multicastRoutes: [
    { group: '239.1.0.0/16', from: 'eth0', to: ['eth1'] },
    { group: '224.0.0.0/4', source: '10.1.0.99', from: 'eth0', to: ['eth1'] },
    { group: '224.0.0.251', from: 'eth0', to: ['eth1', 'eth0'] },
    { group: 'ff15::/16', from: 'eth0', to: ['eth1'] },
    { group: 'ff12::1234', from: 'eth0', to: ['eth1'] },
  ],
};

test('IPv4: a configured router forwards a group across, TTL decremented; not 224.0.0.0/24, not an expiring TTL, not an unrouted group', async () => {
  const { sim, h1, rt, h2 } = net(ROUTES);
  // The TTL of the group datagrams h2 receives (IPv4 in Ethernet: byte 14 + 8).
  const ttls: number[] = [];
  h2.traceReceive = (_iface, f) => {
    if (f[12] === 0x08 && f[13] === 0x00 && f[14 + 9] === 17 && f[14 + 16] === 239) ttls.push(f[14 + 8]);
  };
  await sim.run(async () => {
    const r = h2.socket(AF_INET, SOCK_DGRAM);
    await r.bind(['0.0.0.0', 5012]);
    for (const g of ['239.1.2.3', '239.2.0.1', '224.0.0.251'])
      r.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq4(g));
    const s = h1.socket(AF_INET, SOCK_DGRAM);
    // TTL 1 (the default for groups): it would expire at the router.
    const ttlExceeded = rt.stats.ip.ttlExceeded;
    await s.sendto('ttl 1', ['239.1.2.3', 5012]);
    await noDatagram(r);
    assert.equal(rt.stats.ip.ttlExceeded, ttlExceeded + 1);
    s.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, 2);
    const forwarded = rt.stats.ip.forwarded;
    await s.sendto('across', ['239.1.2.3', 5012]);
    const [d, from] = await r.recvfrom(100);
    assert.equal(text(d), 'across');
    assert.equal((from as [string, number])[0], '10.1.0.2');
    assert.equal(rt.stats.ip.forwarded, forwarded + 1, 'forwarded once, out of eth1 only');
    assert.deepEqual(ttls, [1], 'sent with TTL 2, arrived with 1');
    // A group no route names, and the Local Network Control Block even though a route names it.
    await s.sendto('no route', ['239.2.0.1', 5012]);
    await s.sendto('link-local', ['224.0.0.251', 5012]);
    await noDatagram(r);
    assert.equal(rt.stats.ip.forwarded, forwarded + 1);
    r.close();
    s.close();
  });
});

test('IPv4: with forwarding off the same routes forward nothing', async () => {
  const { sim, h1, rt, h2 } = net(ROUTES);
  rt.forwarding = false;
  await sim.run(async () => {
    const r = h2.socket(AF_INET, SOCK_DGRAM);
    await r.bind(['0.0.0.0', 5012]);
    r.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq4('239.1.2.3'));
    const s = h1.socket(AF_INET, SOCK_DGRAM);
    s.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, 8);
    await s.sendto('across?', ['239.1.2.3', 5012]);
    await noDatagram(r);
    assert.equal(rt.stats.ip.forwarded, 0);
    r.close();
    s.close();
  });
});

test('IPv6: a configured router forwards a group across, hop limit decremented; never a link-local-scope group', async () => {
  const { sim, h1, rt, h2 } = net(ROUTES);
  // The hop limit of the UDP packets to ff15::/16 that h2 receives (IPv6 in Ethernet).
  const hops: number[] = [];
  h2.traceReceive = (_iface, f) => {
    if (f[12] === 0x86 && f[13] === 0xdd && f[14 + 6] === 17 && f[14 + 24] === 0xff && f[14 + 25] === 0x15)
      hops.push(f[14 + 7]);
  };
  await sim.run(async () => {
    const r = h2.socket(AF_INET6, SOCK_DGRAM);
    await r.bind(['::', 9999]);
    for (const g of ['ff15::1234', 'ff15::99', 'ff12::1234'])
      r.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq6(g));
    const s = h1.socket(AF_INET6, SOCK_DGRAM);
    const hopLimitExceeded = rt.ip6.stats.hopLimitExceeded;
    await s.sendto('hops 1', ['ff15::1234', 9999]);
    await noDatagram(r);
    assert.equal(rt.ip6.stats.hopLimitExceeded, hopLimitExceeded + 1);
    s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 2);
    const forwarded = rt.ip6.stats.forwarded;
    await s.sendto('across', ['ff15::1234', 9999]);
    const [d, from] = await r.recvfrom(100);
    assert.equal(text(d), 'across');
    assert.equal((from as [string, number])[0], 'fd00:a::2');
    assert.equal(rt.ip6.stats.forwarded, forwarded + 1);
    assert.deepEqual(hops, [1], 'sent with hop limit 2, arrived with 1');
    // ff15::99 is routed too (ff15::/16); ff12::1234 is link-local scope: never forwarded.
    await s.sendto('prefix', ['ff15::99', 9999]);
    assert.equal(text((await r.recvfrom(100))[0]), 'prefix');
    await s.sendto('link scope', ['ff12::1234', 9999]);
    await noDatagram(r);
    assert.equal(rt.ip6.stats.forwarded, forwarded + 2);
    r.close();
    s.close();
  });
});

test('MulticastRoutes: prefixes, sources, no route back out of the arrival interface; bad entries throw', () => {
  const v4 = new MulticastRoutes(ROUTES.multicastRoutes, 4);
  const b4 = (s: string) => ipv4Bytes(parseIpv4(s)!);
  assert.equal(v4.size, 3);
  assert.deepEqual(v4.outputs('eth0', b4('239.1.9.9'), b4('10.1.0.2')), ['eth1']);
  assert.deepEqual(v4.outputs('eth1', b4('239.1.9.9'), b4('10.1.0.2')), []);
  assert.deepEqual(v4.outputs('eth0', b4('238.0.0.1'), b4('10.1.0.2')), []);
  assert.deepEqual(v4.outputs('eth0', b4('238.0.0.1'), b4('10.1.0.99')), ['eth1'], 'source-specific route');
  assert.deepEqual(v4.outputs('eth0', b4('224.0.0.251'), b4('10.1.0.2')), ['eth1'], 'never back out of eth0');
  assert.ok(v4.routesFrom('eth0'));
  assert.equal(v4.routesFrom('eth1'), false);
  const v6 = new MulticastRoutes(ROUTES.multicastRoutes, 6);
  assert.equal(v6.size, 2);
  assert.deepEqual(v6.outputs('eth0', parseIpv6('ff15::1:2')!, parseIpv6('fd00:a::2')!), ['eth1']);
  for (const bad of [
    { group: '10.0.0.0/8', from: 'eth0', to: ['eth1'] },
    { group: '239.0.0.0/33', from: 'eth0', to: ['eth1'] },
    { group: '239.0.0.1', source: 'nope', from: 'eth0', to: ['eth1'] },
    { group: '239.0.0.1', from: 'eth0', to: [] },
  ]) {
    assert.throws(() => new MulticastRoutes([bad], 4), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  assert.throws(() => new MulticastRoutes([{ group: 'fd00::/8', from: 'a', to: ['b'] }], 6), {
    code: 'ERR_INVALID_ARG_VALUE',
  });
});
