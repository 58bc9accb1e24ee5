/**
 * TCP and UDP over IPv6 between two stacks on a memory cable: the transports see one
 * dual-family network layer (src/ip/dual-network.ts); checksums use the IPv6
 * pseudo-header; the MSS comes from the IPv6 MTU (1500 - 40 - 20 = 1440); ICMPv6 errors
 * become transport errors as ICMP's do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { type IpAddress, parseIp } from '../../src/wire/address.ts';
import { ETHERTYPE_IPV6 } from '../../src/wire/ethernet.ts';
import { IPV6_NH_TCP } from '../../src/wire/ipv6.ts';

const ip = (s: string): IpAddress => parseIp(s)!;

function pair() {
  const sim = new Simulation({ seed: 11 });
  // Wire-sized frames only (no super-segments: test/link/gso.test.ts has those over IPv6).
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), gso: false }));
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['fd00:1::1/64'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['fd00:1::2/64'] });
  sim.runFor(seconds(2)); // DAD
  return { sim, cable, a, b };
}

test('TCP over IPv6: handshake, MSS 1440, 200 kB byte-exact both ways, IPv6 frames with TCP next header', () => {
  const { sim, cable, a, b } = pair();
  const frames: Uint8Array[] = [];
  const tx = cable.a.transmit.bind(cable.a);
  cable.a.transmit = (f: Uint8Array) => {
    frames.push(f.slice());
    tx(f);
  };
  const l = b.tcp.listen({ port: 8080, backlog: 4 });
  const c = a.tcp.connect({ remote: ip('fd00:1::2'), remotePort: 8080 });
  sim.runFor(millis(50));
  const s = l.accept();
  assert.ok(s, 'accepted');
  assert.equal(c.state, 'ESTABLISHED');
  assert.equal(c.mss, 1440);
  assert.deepEqual(s.remote.address, ip('fd00:1::1'));
  const up = new Uint8Array(200_000).map((_, i) => (i * 7 + 3) & 0xff);
  const down = new Uint8Array(150_000).map((_, i) => (i * 13 + 1) & 0xff);
  let upAt = 0;
  let downAt = 0;
  const gotUp: Uint8Array[] = [];
  const gotDown: Uint8Array[] = [];
  for (
    let step = 0;
    step < 2000 &&
    (gotUp.reduce((n, x) => n + x.length, 0) < up.length ||
      gotDown.reduce((n, x) => n + x.length, 0) < down.length);
    step++
  ) {
    if (upAt < up.length) upAt += c.write(up.subarray(upAt));
    if (downAt < down.length) downAt += s.write(down.subarray(downAt));
    sim.runFor(millis(5));
    for (let x = s.read(); x !== null; x = s.read()) gotUp.push(x);
    for (let x = c.read(); x !== null; x = c.read()) gotDown.push(x);
  }
  assert.deepEqual(Buffer.concat(gotUp), Buffer.from(up));
  assert.deepEqual(Buffer.concat(gotDown), Buffer.from(down));
  const tcpFrames = frames.filter(
    (f) => ((f[12] << 8) | f[13]) === ETHERTYPE_IPV6 && f[14 + 6] === IPV6_NH_TCP,
  );
  assert.ok(tcpFrames.length > 100);
  assert.ok(tcpFrames.every((f) => f.length <= 14 + 1500));
  assert.equal(b.tcpStats.badChecksum, 0);
});

test('UDP over IPv6: datagrams both ways with the sender address; port unreachable becomes ECONNREFUSED', () => {
  const { sim, a, b } = pair();
  const rx = b.udp.open();
  rx.bind(ip('::'), 5353);
  const tx = a.udp.open();
  tx.sendto(new TextEncoder().encode('hello v6'), ip('fd00:1::2'), 5353);
  sim.runFor(millis(20));
  const d = rx.recv();
  assert.ok(d);
  assert.equal(new TextDecoder().decode(d.data), 'hello v6');
  assert.deepEqual(d.srcAddr, ip('fd00:1::1'));
  assert.deepEqual(d.dstAddr, ip('fd00:1::2'));
  rx.sendto(new TextEncoder().encode('back'), d.srcAddr, d.srcPort);
  sim.runFor(millis(20));
  assert.equal(new TextDecoder().decode(tx.recv()!.data), 'back');
  // A connected socket to a closed port learns ECONNREFUSED from ICMPv6 port unreachable.
  const c = a.udp.open();
  c.connect(ip('fd00:1::2'), 9);
  c.sendto(new Uint8Array([1]));
  sim.runFor(millis(20));
  assert.equal(b.ip6.stats.icmpErrorsSent, 1);
  assert.equal(c.takeError(), 'ECONNREFUSED');
});

test('TCP connect to a closed IPv6 port is refused (RST); to an unreachable prefix fails with ENETUNREACH', () => {
  const { sim, a } = pair();
  const c = a.tcp.connect({ remote: ip('fd00:1::2'), remotePort: 1 });
  sim.runFor(millis(50));
  assert.equal(c.state, 'CLOSED');
  assert.throws(() => a.tcp.connect({ remote: ip('2001:db8::1'), remotePort: 80 }), /ENETUNREACH|unreach/i);
});
