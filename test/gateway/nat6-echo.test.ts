/**
 * The gateway's IPv6 to any destination and its forwarded pings, on a memory network under
 * the virtual clock with a fake dialer and a fake pinger standing for the host: the RA
 * names the gateway as default router (or not), TCP and UDP to any IPv6 address leave
 * through the dialer, the policy applies to IPv6 as to IPv4, and echo requests to any
 * address are forwarded (the reply carries the host's TTL less one), not answered when the
 * target is silent, answered by the gateway where the host cannot ping, and bounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.ts';
import { DestinationPolicy } from '../../src/gateway/policy.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { AF_INET6, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';
import { formatIpv6, parseIp, parseIpv6 } from '../../src/wire/address.ts';
import { FakeDialer, FakePinger } from './fake-dialer.ts';

function net(opts: Partial<GatewayOptions> = {}, pinger?: FakePinger) {
  const sim = new Simulation({ seed: 66 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const dialer = new FakeDialer();
  dialer.pinger = pinger;
  const log: string[] = [];
  const gw = new Gateway({
    clock: sim.clock,
    rng: sim.rng.fork(),
    device: cable.b,
    dialer,
    ipv6Prefix: 'fd00:0:0:2::/64',
    ipv6DefaultRoute: true,
    log: (l) => log.push(l),
    ...opts,
  });
  sim.add(gw.stack);
  const guest = sim.add(
    new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'guest', config: { ipv6: { enable: true } } }),
  );
  const eth0 = guest.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.2.15/24'] });
  guest.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.2.2' });
  // Router solicitation, the RA, then duplicate address detection (about a second).
  sim.runFor(seconds(5));
  return { sim, gw, guest, eth0, dialer, log };
}

describe('gateway IPv6 to any destination and forwarded ICMP echo (memory network, virtual clock)', () => {
  it('advertises itself as the IPv6 default router only when asked', () => {
    const on = net();
    const r = on.guest.ip6.routes.lookup(parseIpv6('2001:db8::1')!, () => true);
    assert.ok(r, 'an IPv6 default route');
    assert.equal(r!.interface, 'eth0');
    assert.equal(r!.gateway?.[0], 0xfe, 'through the gateway link-local address');
    const off = net({ ipv6DefaultRoute: false });
    assert.equal(
      off.guest.ip6.routes.lookup(parseIpv6('2001:db8::1')!, () => true),
      undefined,
    );
  });

  it('carries TCP to any IPv6 address through the dialer, byte-exact both ways, from the address the guest used', async () => {
    const { sim, guest, dialer } = net();
    const s = guest.socket(AF_INET6, SOCK_STREAM);
    await sim.run(s.connect(['2001:db8:1::5', 443]), { timeout: seconds(10) });
    assert.deepEqual(dialer.calls, ['2001:db8:1::5:443']);
    assert.equal(s.getpeername()[0], '2001:db8:1::5');
    const host = dialer.streams[0];
    await sim.run(s.sendall(new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n')), { timeout: seconds(5) });
    sim.runFor(seconds(0.1));
    assert.equal(new TextDecoder().decode(host.received()), 'GET / HTTP/1.0\r\n\r\n');
    host.onData?.(new TextEncoder().encode('HTTP/1.0 200 OK\r\n\r\nhi'));
    host.onEnd?.();
    const got: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) {
      const b = await sim.run(s.recv(1000), { timeout: seconds(5) });
      if (b.length === 0) break;
      got.push(b);
    }
    assert.equal(new TextDecoder().decode(Buffer.concat(got)), 'HTTP/1.0 200 OK\r\n\r\nhi');
    // A refusal from the host is a RST, as for IPv4.
    const r = guest.socket(AF_INET6, SOCK_STREAM);
    await assert.rejects(sim.run(r.connect(['2001:db8:1::5', 9]), { timeout: seconds(10) }), {
      code: 'ECONNREFUSED',
    });
  });

  it('applies the policy to IPv6: the default deny list, --deny prefixes and an allow list', async () => {
    const denied = net({ deny: ['2001:db8:bad::/48'] });
    const s = denied.guest.socket(AF_INET6, SOCK_STREAM);
    await assert.rejects(denied.sim.run(s.connect(['2001:db8:bad::1', 80]), { timeout: seconds(10) }), {
      code: 'ECONNREFUSED',
    });
    assert.deepEqual(denied.dialer.calls, []);
    assert.ok(denied.log.some((l) => /refused tcp .*2001:db8:bad::1:80: destination denied/.test(l)));
    // The default list holds the EC2 IPv6 metadata address.
    const dflt = net();
    const m = dflt.guest.socket(AF_INET6, SOCK_STREAM);
    await assert.rejects(dflt.sim.run(m.connect(['fd00:ec2::254', 80]), { timeout: seconds(10) }), {
      code: 'ECONNREFUSED',
    });
    assert.deepEqual(dflt.dialer.calls, []);
    // What no list opens: IPv4-mapped (a host socket would reach IPv4 around its rules),
    // multicast, loopback, unspecified; and the link-local default.
    const p = new DestinationPolicy({ deny: [] });
    for (const a of ['::ffff:1.2.3.4', 'ff02::1', 'ff0e::1', '::1', '::', '224.0.0.1', '127.0.0.1'])
      assert.equal(p.permits(parseIp(a)!), false, a);
    assert.equal(p.permits(parseIp('2001:db8::1')!), true);
    assert.equal(new DestinationPolicy().permits(parseIp('fe80::1')!), false);
    assert.equal(new DestinationPolicy().permits(parseIp('169.254.169.254')!), false);
    assert.throws(() => new DestinationPolicy({ deny: ['2001:db8::/129'] }), { code: 'EINVAL' });
    assert.throws(() => new DestinationPolicy({ deny: ['2001:zz::/32'] }), { code: 'EINVAL' });
    // An IPv4-only allow list lets no IPv6 out; one with an IPv6 prefix lets that in.
    const v4only = net({ allow: ['203.0.113.0/24'] });
    const a = v4only.guest.socket(AF_INET6, SOCK_STREAM);
    await assert.rejects(v4only.sim.run(a.connect(['2001:db8::1', 80]), { timeout: seconds(10) }), {
      code: 'ECONNREFUSED',
    });
    const v6 = net({ allow: ['2001:db8::/32'] });
    const b = v6.guest.socket(AF_INET6, SOCK_STREAM);
    await v6.sim.run(b.connect(['2001:db8::1', 80]), { timeout: seconds(10) });
    const c = v6.guest.socket(AF_INET6, SOCK_STREAM);
    await assert.rejects(v6.sim.run(c.connect(['2001:db9::1', 80]), { timeout: seconds(10) }), {
      code: 'ECONNREFUSED',
    });
    assert.deepEqual(v6.dialer.calls, ['2001:db8::1:80']);
  });

  it('carries IPv6 UDP through an IPv6 host socket, with the same filtering as IPv4', async () => {
    const { sim, guest, dialer } = net();
    const u = guest.socket(AF_INET6, SOCK_DGRAM);
    await u.bind(['::', 40000]);
    await sim.run(u.sendto(new TextEncoder().encode('q'), ['2001:db8::53', 53]), { timeout: seconds(1) });
    sim.runFor(seconds(0.1));
    assert.deepEqual(dialer.datagramFamilies, [6]);
    const hd = dialer.datagrams[0];
    assert.deepEqual(
      hd.sent.map((x) => `${x.host}:${x.port}`),
      ['2001:db8::53:53'],
    );
    // The host spells the peer its own way (no zero compression): still the same peer.
    hd.onMessage?.(new TextEncoder().encode('answer'), '2001:0db8:0:0:0:0:0:0053', 53);
    // A peer the guest never sent to is filtered.
    hd.onMessage?.(new TextEncoder().encode('stranger'), '2001:db8::54', 53);
    const [data, from] = await sim.run(u.recvfrom(100), { timeout: seconds(1) });
    assert.equal(new TextDecoder().decode(data), 'answer');
    assert.equal(from?.[0], '2001:db8::53');
    assert.equal(from?.[1], 53);
    // Nothing more came: the stranger's datagram was dropped.
    await assert.rejects(sim.run(u.recvfrom(100), { timeout: seconds(1) }));
  });

  it('forwards echo requests of both families and replies with the target TTL less one', async () => {
    const pinger = new FakePinger();
    pinger.answers.set('203.0.113.7', 50);
    pinger.answers.set('2001:db8::7', 60);
    const { sim, guest, gw } = net({}, pinger);
    const r4 = await sim.run(guest.ping('203.0.113.7', { size: 24, timeout: seconds(2) }), {
      timeout: seconds(3),
    });
    assert.ok(r4.ok, JSON.stringify(r4));
    assert.equal(r4.ok && r4.ttl, 49);
    const r6 = await sim.run(guest.ping6('2001:db8::7', { size: 24, timeout: seconds(2) }), {
      timeout: seconds(3),
    });
    assert.ok(r6.ok, JSON.stringify(r6));
    assert.equal(r6.ok && r6.ttl, 59);
    assert.equal(r6.ok && formatIpv6(r6.from), '2001:db8::7');
    assert.deepEqual(
      pinger.calls.map((c) => `${c.family} ${c.host} ${c.data.length}`),
      ['4 203.0.113.7 24', '6 2001:db8::7 24'],
    );
    assert.equal(gw.stats.echoForwarded, 2);
    assert.equal(gw.stats.echoReplies, 2);
    // The gateway's own addresses are answered by the gateway, not forwarded.
    const own = await sim.run(guest.ping('10.0.2.2', { timeout: seconds(2) }), { timeout: seconds(3) });
    assert.ok(own.ok);
    assert.equal(own.ok && own.ttl, 64);
    assert.equal(pinger.calls.length, 2);
  });

  it('does not answer for a target that does not answer, and frees the echo after its timeout', async () => {
    const pinger = new FakePinger();
    const { sim, guest, gw } = net({ echoTimeoutSeconds: 3, echoOutstanding: 2 }, pinger);
    const r = await sim.run(guest.ping('198.51.100.1', { timeout: seconds(2) }), { timeout: seconds(3) });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error, 'timeout');
    // Two outstanding at most per guest: the third in the same second is dropped unsent.
    const p = [1, 2, 3].map((seq) => guest.ping('198.51.100.1', { seq, timeout: seconds(1) }));
    await sim.run(Promise.all(p), { timeout: seconds(2) });
    assert.equal(pinger.calls.length, 2, 'the first echo still waits; one more fits');
    assert.equal(gw.stats.echoDropped, 2);
    // After the timeouts, room again.
    sim.runFor(seconds(4));
    await sim.run(guest.ping('198.51.100.1', { seq: 9, timeout: seconds(1) }), { timeout: seconds(2) });
    assert.equal(pinger.calls.length, 3);
  });

  it('limits the rate of forwarded echoes', async () => {
    const pinger = new FakePinger();
    pinger.answers.set('203.0.113.7', 64);
    const { sim, guest, gw } = net({ echoRate: 5 }, pinger);
    const p = Array.from({ length: 8 }, (_, i) => guest.ping('203.0.113.7', { seq: i, timeout: seconds(1) }));
    const res = await sim.run(Promise.all(p), { timeout: seconds(2) });
    assert.equal(res.filter((x) => x.ok).length, 5);
    assert.equal(gw.stats.echoDropped, 3);
    sim.runFor(seconds(1));
    const later = await sim.run(guest.ping('203.0.113.7', { seq: 99, timeout: seconds(1) }), {
      timeout: seconds(2),
    });
    assert.ok(later.ok, 'tokens come back with time');
  });

  it('answers pings itself where the host cannot ping, and denies what the policy denies', async () => {
    const pinger = new FakePinger();
    pinger.code = 'EACCES';
    const { sim, guest, log, gw } = net({ deny: ['192.0.2.0/24'] }, pinger);
    const r = await sim.run(guest.ping('203.0.113.7', { timeout: seconds(2) }), { timeout: seconds(3) });
    assert.ok(r.ok, 'the gateway answered');
    assert.equal(r.ok && r.ttl, 64, "with the gateway's own TTL");
    assert.ok(log.some((l) => /host cannot ping \(EACCES\)/.test(l)));
    // Once known, the stack answers at once, without asking the host again.
    const again = await sim.run(guest.ping('203.0.113.8', { timeout: seconds(2) }), { timeout: seconds(3) });
    assert.ok(again.ok);
    assert.equal(pinger.calls.length, 1);
    // Denied: no reply, nothing forwarded.
    const denied = await sim.run(guest.ping('192.0.2.1', { timeout: seconds(1) }), { timeout: seconds(2) });
    assert.equal(denied.ok, false);
    assert.equal(gw.stats.echoDropped, 1);
  });
});
