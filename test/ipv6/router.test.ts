/**
 * A router stack between two hosts: its Router Advertisements configure the hosts
 * (SLAAC addresses, default router, on-link prefix), it forwards with the hop limit
 * decremented, answers Time Exceeded and Packet Too Big (never fragmenting), and the
 * hosts' path MTU follows (RFC 8201) so a large ping then goes through fragmented by
 * its source. The hosts send MLDv2 reports for their solicited-node groups.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';
import { formatIpv6, parseIpv6 } from '../../src/wire/address.ts';
import { ETHERTYPE_IPV6 } from '../../src/wire/ethernet.ts';
import { eui64, solicitedNode } from '../../src/wire/ipv6-address.ts';
import { parseMldReport } from '../../src/wire/mld.ts';

function net() {
  const sim = new Simulation({ seed: 5 });
  const left = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const right = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), mtu: 1280 }));
  const frames: Uint8Array[] = [];
  const tx = left.a.transmit.bind(left.a);
  left.a.transmit = (f: Uint8Array) => {
    frames.push(f.slice());
    tx(f);
  };
  const cfg = { ipv6: { enable: true } };
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', config: cfg }));
  const r = sim.add(
    new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'r', forwarding: true, config: cfg }),
  );
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b', config: cfg }));
  a.addInterface({ name: 'eth0', device: left.a });
  r.addInterface({ name: 'eth0', device: left.b, addresses: ['fd00:a::1/64'] });
  r.addInterface({ name: 'eth1', device: right.a, addresses: ['fd00:b::1/64'] });
  b.addInterface({ name: 'eth0', device: right.b });
  r.advertiseIpv6Prefix('eth0', 'fd00:a::/64');
  r.advertiseIpv6Prefix('eth1', 'fd00:b::/64');
  sim.runFor(seconds(10));
  return { sim, a, r, b, frames };
}

/** The address SLAAC forms from a /64 prefix and the interface's MAC (RFC 4862 §5.5.3, EUI-64). */
function slaacAddress(s: Stack, prefix: string): string {
  const a = parseIpv6(prefix)!;
  a.set(eui64(s.interfaces[1].mac), 8);
  return formatIpv6(a);
}

test('RAs configure the hosts: SLAAC address, default route via the router link-local, on-link prefix', () => {
  const { a, b, r } = net();
  const sa = a.ip6.state(a.interfaces[1])!;
  const sb = b.ip6.state(b.interfaces[1])!;
  assert.equal(sa.routers.length, 1);
  assert.equal(formatIpv6(sa.routers[0].address), formatIpv6(r.ip6.state(r.interfaces[1])!.linkLocal!));
  assert.deepEqual(
    sa.prefixes.map((p) => `${formatIpv6(p.prefix)}/${p.length}`),
    ['fd00:a::/64'],
  );
  const slaacA = sa.addresses.find((x) => x.origin === 'slaac');
  assert.equal(slaacA?.state, 'preferred');
  assert.equal(formatIpv6(slaacA!.address), slaacAddress(a, 'fd00:a::'));
  // The RA's MTU option: b's link is 1280.
  assert.equal(sb.mtu, 1280);
  assert.equal(r.ip6.stats.raSent > 0, true);
  assert.ok(a.ip6.stats.rsSent >= 1);
});

test('ping across the router: hop limit decremented; hop limit 1 gets Time Exceeded', async () => {
  const { sim, a, b } = net();
  const dst = formatIpv6(b.ip6.state(b.interfaces[1])!.addresses.find((x) => x.origin === 'slaac')!.address);
  const r = await sim.run(() => a.ping6(dst));
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.ttl, 63);
  const t = await sim.run(() => a.ping6(dst, { ttl: 1, seq: 2 }));
  assert.equal(t.ok, false);
  assert.equal(!t.ok && t.error, 'time-exceeded');
});

test('Packet Too Big from the router (no fragmentation by routers); the host learns the path MTU and fragments', async () => {
  const { sim, a, b, r } = net();
  const dst = formatIpv6(b.ip6.state(b.interfaces[1])!.addresses.find((x) => x.origin === 'slaac')!.address);
  const big = await sim.run(() => a.ping6(dst, { size: 1400 }));
  assert.equal(big.ok, false);
  assert.equal(!big.ok && big.error, 'frag-needed');
  assert.equal(r.ip6.stats.tooBig, 1);
  assert.equal(r.ip6.stats.fragCreates, 0);
  assert.equal(a.ip6.pathMtu(parseIpv6(dst)!), 1280);
  const again = await sim.run(() => a.ping6(dst, { size: 1400, seq: 3 }));
  assert.ok(again.ok, JSON.stringify(again));
  assert.ok(a.ip6.stats.fragCreates >= 2);
  assert.ok(b.ip6.stats.reasmOk >= 1);
});

test('MLDv2 reports for the solicited-node group of each address, to ff02::16 with hop limit 1', () => {
  const { a, frames } = net();
  const reports = frames
    .filter((f) => ((f[12] << 8) | f[13]) === ETHERTYPE_IPV6 && f[14 + 6] === 0 && f[14 + 40] === 58)
    .map((f) => ({
      hop: f[14 + 7],
      dst: formatIpv6(f.subarray(38, 54)),
      recs: parseMldReport(f.subarray(14 + 48)),
    }));
  assert.ok(reports.length > 0);
  assert.ok(reports.every((r) => r.hop === 1 && r.dst === 'ff02::16'));
  const groups = new Set(
    reports.flatMap((r) => ('wireError' in r.recs ? [] : r.recs.map((x) => formatIpv6(x.group)))),
  );
  for (const x of a.ip6.state(a.interfaces[1])!.addresses)
    assert.ok(
      groups.has(formatIpv6(solicitedNode(x.address))),
      `reported ${formatIpv6(solicitedNode(x.address))}`,
    );
  assert.ok(!groups.has('ff02::1'), 'all-nodes is never reported');
});

test('TCP across a smaller link: Packet Too Big lowers the path MTU and the MSS, the bytes arrive exactly', () => {
  const sim = new Simulation({ seed: 8 });
  const left = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const right = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const a = sim.add(
    new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', config: { ipv6: { enable: true } } }),
  );
  const r = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'r', forwarding: true }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: left.a });
  r.addInterface({ name: 'eth0', device: left.b, addresses: ['fd00:a::1/64'] });
  // The router's side of the right link is 1280 bytes; b (configured by hand, no RA there)
  // does not know, so it announces MSS 1440 and only PMTU discovery finds the bottleneck.
  r.addInterface({ name: 'eth1', device: right.a, addresses: ['fd00:b::1/64'], mtu: 1280 });
  b.addInterface({ name: 'eth0', device: right.b, addresses: ['fd00:b::2/64'] });
  b.addRoute({ destination: '::/0', gateway: 'fd00:b::1' });
  r.advertiseIpv6Prefix('eth0', 'fd00:a::/64');
  sim.runFor(seconds(10));
  const l = b.tcp.listen({ port: 9000, backlog: 2 });
  const c = a.tcp.connect({ remote: parseIp6('fd00:b::2'), remotePort: 9000 });
  sim.runFor(seconds(1));
  const s = l.accept();
  assert.ok(s, 'accepted');
  assert.equal(c.mss, 1440);
  const data = new Uint8Array(100_000).map((_, i) => (i * 31 + 7) & 0xff);
  let at = 0;
  const got: Uint8Array[] = [];
  for (let i = 0; i < 500 && got.reduce((n, x) => n + x.length, 0) < data.length; i++) {
    if (at < data.length) at += c.write(data.subarray(at));
    sim.runFor(seconds(0.05));
    for (let x = s.read(); x !== null; x = s.read()) got.push(x);
  }
  assert.deepEqual(Buffer.concat(got), Buffer.from(data));
  assert.ok(r.ip6.stats.tooBig >= 1, 'the router sent Packet Too Big');
  assert.equal(r.ip6.stats.fragCreates, 0, 'routers do not fragment');
  assert.equal(a.ip6.pathMtu(parseIpv6('fd00:b::2')!), 1280);
  assert.equal(c.mss, 1280 - 40 - 20);
});

function parseIp6(s: string): { family: 6; v6: Uint8Array } {
  return { family: 6, v6: parseIpv6(s)! };
}
