import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PMTU_EXPIRY } from '../../src/ip/icmp.ts';
import {
  checksumTrusted,
  type IpPacketInfo,
  type NetworkLayer,
  pseudoHeaderSum,
  type ReceivedIcmpError,
  type SegmentEmitter,
  sendSegment,
} from '../../src/ip/network.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import { type IpAddress, parseIp } from '../../src/wire/address.ts';
import { checksumPartial, finishChecksum } from '../../src/wire/checksum.ts';

const ip = (s: string): IpAddress => parseIp(s)!;
const V6 = ip('2001:db8::1');

/** A stack on one end of a cable (10.0.1.2/24, gateway 10.0.1.1) and its loopback. */
function host() {
  const sim = new Simulation({ seed: 5 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const stack = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'h' }));
  stack.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.1.2/24'] });
  stack.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.1.1' });
  return { sim, stack, net: stack.net };
}

/** A test protocol's header: one 16-bit tag, then a 16-bit checksum over the pseudo-header. */
const TAGGED: SegmentEmitter<number> = {
  headerLength: () => 4,
  emit: (tag, payload, out, at, sum) => {
    out[at] = tag >> 8;
    out[at + 1] = tag & 0xff;
    out.set(payload, at + 4);
    if (sum === undefined) return; // checksum offload: the field stays 0
    const c = finishChecksum(checksumPartial(out.subarray(at, at + 4 + payload.length), sum));
    out[at + 2] = c >> 8;
    out[at + 3] = c & 0xff;
  },
};

const PROTO = 253; // RFC 3692 experimental

test('route handles carry the family, an IpAddress source, the interface, MTU and header room', () => {
  const { net } = host();
  const out = net.route(ip('8.8.8.8'));
  assert.ok(typeof out !== 'string');
  assert.equal(out.family, 4);
  assert.deepEqual(out.source, ip('10.0.1.2'));
  assert.deepEqual(out.destination, ip('8.8.8.8'));
  assert.equal(out.iface.name, 'eth0');
  assert.equal(out.mtu, 1500);
  assert.equal(out.headerRoom, 14 + 20); // Ethernet + IPv4
  assert.equal(out.local, false);
  // The route's pseudo-header sum is the one over its addresses.
  assert.equal(out.pseudoHeaderSum(17, 12), pseudoHeaderSum(out.source, out.destination, 17, 12));
  // A source the caller gives is kept (the same object).
  const src = ip('10.0.1.2');
  const pinned = net.route(ip('10.0.1.9'), src);
  assert.ok(typeof pinned !== 'string');
  assert.equal(pinned.source, src);
  // Our own address goes through loopback: no link header.
  const self = net.route(ip('10.0.1.2'));
  assert.ok(typeof self !== 'string');
  assert.equal(self.local, true);
  assert.equal(self.iface.name, 'lo');
  assert.equal(self.headerRoom, 20);
  // Directed broadcast of our subnet.
  const bcast = net.route(ip('10.0.1.255'));
  assert.ok(typeof bcast !== 'string' && bcast.broadcast);
  // A family the layer does not route.
  assert.equal(net.route(V6), 'ENETUNREACH');
});

test('local, broadcast, path MTU and transport room are answered for IpAddress', () => {
  const { net } = host();
  assert.equal(net.isLocalAddress(ip('10.0.1.2')), true);
  assert.equal(net.isLocalAddress(ip('127.0.0.5')), true);
  assert.equal(net.isLocalAddress(ip('10.0.1.3')), false);
  assert.equal(net.isLocalAddress(V6), false);
  assert.equal(net.isBroadcastAddress(ip('255.255.255.255')), true);
  assert.equal(net.isBroadcastAddress(ip('10.0.1.255')), true);
  assert.equal(net.isBroadcastAddress(ip('10.0.1.254')), false);
  assert.equal(net.isBroadcastAddress(V6), false);
  assert.equal(net.pathMtu(ip('8.8.8.8')), 1500);
  assert.equal(net.maxTransportSize(ip('8.8.8.8')), 1480);
  // Loopback's 65536-byte MTU is capped by IPv4's 65535-byte datagram.
  assert.equal(net.maxTransportSize(ip('127.0.0.1')), 65515);
  // IPv6's minimum MTU less its header, for a family not routed here.
  assert.equal(net.maxTransportSize(V6), 1240);
  assert.equal(net.defaultTtl, 64);
});

/** Two stacks on one cable (10.0.2.1 and 10.0.2.2), `offload` its checksum offload. */
function pair(offload: boolean) {
  const sim = new Simulation({ seed: 6 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), checksumOffload: offload }));
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.2.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.2.2/24'] });
  sim.runUntilIdle();
  return { sim, a, b };
}

function receiveTagged(net: NetworkLayer) {
  const got: { info: IpPacketInfo; payload: Uint8Array }[] = [];
  net.registerProtocol(PROTO, {
    receive: (info, payload) => got.push({ info, payload: payload.slice() }),
    icmpError: (_e: ReceivedIcmpError) => {},
  });
  return got;
}

test('sendSegment builds header and payload into one frame; the receiver gets IpAddress and can verify the pseudo-header sum', () => {
  const { sim, a, b } = pair(false);
  const got = receiveTagged(b.net);
  const route = a.net.route(ip('10.0.2.2'));
  assert.ok(typeof route !== 'string');
  const data = new Uint8Array([1, 2, 3, 4, 5]);
  assert.equal(sendSegment(a.net, route, { protocol: PROTO }, TAGGED, 0xbeef, data), undefined);
  // Nothing is synchronous: nothing until the stacks poll.
  assert.equal(got.length, 0);
  sim.runUntilIdle();
  assert.equal(got.length, 1);
  const { info, payload } = got[0];
  assert.deepEqual(info.src, ip('10.0.2.1'));
  assert.deepEqual(info.dst, ip('10.0.2.2'));
  assert.equal(info.protocol, PROTO);
  assert.equal(info.broadcast, false);
  assert.equal(info.iface.name, 'eth0');
  assert.equal(checksumTrusted(info.iface), false, 'a cable without offload: checksums are checked');
  assert.deepEqual([...payload], [0xbe, 0xef, payload[2], payload[3], 1, 2, 3, 4, 5]);
  // The checksum verifies over the receiver's pseudo-header sum.
  const sum = pseudoHeaderSum(info.src, info.dst, PROTO, payload.length);
  assert.equal(finishChecksum(checksumPartial(payload, sum)), 0);
  // A corrupted byte does not.
  payload[5] ^= 0xff;
  assert.notEqual(finishChecksum(checksumPartial(payload, sum)), 0);
  assert.equal(b.stats.ip.delivered, 1);
});

test('checksum offload: on loopback and on an offloading cable the checksum is left out, and the receiver trusts the device', () => {
  for (const [where, dst] of [
    ['cable', '10.0.2.2'],
    ['loopback', '127.0.0.1'],
  ] as const) {
    const { sim, a, b } = pair(true);
    const receiver = where === 'cable' ? b : a;
    const got = receiveTagged(receiver.net);
    const route = a.net.route(ip(dst));
    assert.ok(typeof route !== 'string');
    assert.equal(
      sendSegment(a.net, route, { protocol: PROTO }, TAGGED, 0xbeef, new Uint8Array([7])),
      undefined,
    );
    sim.runUntilIdle();
    assert.equal(got.length, 1, where);
    assert.deepEqual([...got[0].payload], [0xbe, 0xef, 0, 0, 7], `${where}: checksum field left 0`);
    assert.equal(checksumTrusted(got[0].info.iface), true, where);
  }
  // A datagram that must be fragmented carries its checksum even on an offloading cable.
  const { sim, a, b } = pair(true);
  const got = receiveTagged(b.net);
  const route = a.net.route(ip('10.0.2.2'));
  assert.ok(typeof route !== 'string');
  const big = new Uint8Array(3000).fill(9);
  assert.equal(sendSegment(a.net, route, { protocol: PROTO }, TAGGED, 0xbeef, big), undefined);
  sim.runUntilIdle();
  assert.equal(got.length, 1);
  const { info, payload } = got[0];
  assert.equal(
    finishChecksum(checksumPartial(payload, pseudoHeaderSum(info.src, info.dst, PROTO, payload.length))),
    0,
  );
});

test('a datagram for no port is answered with ICMP port unreachable through the network layer', () => {
  const { sim, stack } = host();
  const s = stack.udp.open();
  s.connect(ip('127.0.0.1'), 9);
  s.sendto(new Uint8Array([1]));
  sim.runUntilIdle();
  assert.equal(stack.stats.udp.noPorts, 1);
  assert.equal(stack.stats.icmp.outDestUnreachable, 1);
  // The error came back to the connected socket as ECONNREFUSED.
  assert.equal(s.takeError(), 'ECONNREFUSED');
});

test('pseudoHeaderSum is the IPv4 or IPv6 pseudo-header by family, and 0 for mixed families', () => {
  const a = ip('10.0.0.1');
  const b = ip('10.0.0.2');
  assert.equal(pseudoHeaderSum(a, b, 17, 12), 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 12);
  const x = ip('::1');
  const y = ip('::2');
  assert.equal(pseudoHeaderSum(x, y, 6, 20), 1 + 2 + 6 + 20);
  assert.equal(pseudoHeaderSum(a, y, 6, 20), 0);
});

test('path MTU and TCP MSS follow a route added or an interface taken down after a lookup, and a learnt PMTU until it expires', () => {
  const { sim, stack, net } = host();
  const cable2 = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), mtu: 1280 }));
  stack.addInterface({ name: 'eth1', device: cable2.a, addresses: ['10.0.9.2/24'] });
  const dst = ip('8.8.8.8');
  const synMss = () => {
    const c = stack.tcp.connect({ remote: dst, remotePort: 80 });
    const m = c.info().rcvMss;
    c.abort();
    return m;
  };
  // Asked twice (the second from the cache), through the default route on eth0.
  assert.equal(net.pathMtu(dst), 1500);
  assert.equal(net.pathMtu(dst), 1500);
  assert.equal(synMss(), 1460);
  // A more specific route through eth1 (MTU 1280) is seen by the next lookup and connection.
  stack.addRoute({ destination: '8.8.8.0/24', gateway: '10.0.9.1' });
  assert.equal(net.pathMtu(dst), 1280);
  assert.equal(synMss(), 1240);
  // RFC 1191: a learnt path MTU applies at once, and lapses after PMTU_EXPIRY.
  assert.equal(net.learnPathMtu(dst, 1000), 1000);
  assert.equal(net.pathMtu(dst), 1000);
  assert.equal(synMss(), 960);
  sim.runUntil(sim.now + PMTU_EXPIRY + 1, { maxSteps: 1_000_000 });
  assert.equal(net.pathMtu(dst), 1280);
  // eth1 down: its routes are unusable, the default route through eth0 again.
  stack.setInterfaceUp('eth1', false);
  assert.equal(net.pathMtu(dst), 1500);
  assert.equal(synMss(), 1460);
  // No route at all: RFC 1122's 576-byte default.
  stack.setInterfaceUp('eth0', false);
  assert.equal(net.pathMtu(dst), 576);
});
