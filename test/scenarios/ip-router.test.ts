import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AF_INET, SO_BROADCAST, SOCK_DGRAM, SOL_SOCKET } from '../../src/socket/constants.ts';
import { millis } from '../../src/time/instant.ts';
import { twoSubnets } from './ip-net.ts';

test('ping across a router: reply TTL shows one hop, RTT is the path delay', async () => {
  const { sim, a, router } = twoSubnets();
  // First ping also resolves ARP on both subnets.
  const first = await sim.run(a.ping('10.0.2.2', { id: 1, seq: 1 }));
  assert.equal(first.ok, true);
  const r = await sim.run(a.ping('10.0.2.2', { id: 1, seq: 2, size: 56 }));
  assert.ok(r.ok);
  // b answers with TTL 64; the router decrements it once.
  assert.equal(r.ttl, 63);
  assert.equal(r.bytes, 64);
  assert.equal(r.rtt, millis(8));
  assert.equal(router.stats.ip.forwarded, 4);
  // The router itself answers with TTL 64 (no hop in between).
  const rr = await sim.run(a.ping('10.0.2.1', { id: 1, seq: 3 }));
  assert.ok(rr.ok);
  assert.equal(rr.ttl, 64);
});

test('ping with TTL 1 across a router gives time exceeded from the router', async () => {
  const { sim, a, router } = twoSubnets();
  const r = await sim.run(a.ping('10.0.2.2', { ttl: 1, id: 9 }));
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.equal(r.error, 'time-exceeded');
  assert.equal(r.from, 0x0a000101); // 10.0.1.1, the router's address towards a
  assert.equal(router.stats.ip.ttlExceeded, 1);
  assert.equal(router.stats.icmp.outTimeExceeded, 1);
});

test('ping to an unknown host on a connected subnet: ARP fails, host unreachable', async () => {
  const { sim, a, router } = twoSubnets();
  const r = await sim.run(a.ping('10.0.2.99', { timeout: millis(10_000) }));
  assert.ok(!r.ok);
  assert.equal(r.error, 'host-unreachable');
  assert.equal(router.stats.arp.resolutionFailures, 1);
  assert.equal(router.stats.arp.unresolvedDrops, 1);
  assert.equal(router.ip.getInterface('eth1')?.arp?.get(0x0a000263), undefined);
});

test('UDP echo across the router with the sockets API', async () => {
  const { sim, a, b } = twoSubnets();
  const server = b.socket(AF_INET, SOCK_DGRAM);
  await server.bind(['0.0.0.0', 7007]);
  const serve = (async () => {
    const [data, from] = await server.recvfrom(2048);
    assert.ok(from);
    await server.sendto(data, from);
  })();
  const client = a.socket(AF_INET, SOCK_DGRAM);
  const reply = await sim.run(async () => {
    await client.sendto(new TextEncoder().encode('hello across'), ['10.0.2.2', 7007]);
    return client.recvfrom(2048);
  });
  await serve;
  assert.equal(new TextDecoder().decode(reply[0]), 'hello across');
  assert.deepEqual(reply[1], ['10.0.2.2', 7007]);
  const [host, port] = client.getsockname() as [string, number];
  assert.equal(host, '0.0.0.0');
  assert.ok(port >= 49152 && port <= 65535, `ephemeral port ${port}`);
});

test('a connected UDP socket gets ECONNREFUSED after sending to a closed port', async () => {
  const { sim, a, b } = twoSubnets();
  const s = a.socket(AF_INET, SOCK_DGRAM);
  await s.connect(['10.0.2.2', 9999]);
  await sim.run(s.send(new Uint8Array([1, 2, 3])));
  // Let the datagram reach b and the ICMP port unreachable come back.
  await sim.advance(millis(50));
  assert.equal(b.stats.udp.noPorts, 1);
  assert.equal(b.stats.icmp.outDestUnreachable, 1);
  await assert.rejects(sim.run(s.recv(100)), (e: { code?: string }) => e.code === 'ECONNREFUSED');
  // Reported once: the next send works again.
  await sim.run(s.send(new Uint8Array([4])));
});

test('DF + small MTU on the next hop gives fragmentation needed with the next-hop MTU', async () => {
  const { sim, a, router } = twoSubnets({ mtuB: 576 });
  // Warm up ARP.
  assert.ok((await sim.run(a.ping('10.0.2.2'))).ok);
  const errs: { kind: string; mtu?: number }[] = [];
  // A TCP-like datagram (DF set by the TCP output path) of 1000 bytes.
  const env = a.tcpEnv();
  a.attachTcp(() => ({
    receive() {},
    icmpError(kind, _src, dst, _q, mtu) {
      errs.push({ kind, mtu });
      // RFC 5927 §4.1: the transport, having validated the quote, records the path MTU.
      if (kind === 'frag-needed' && mtu !== undefined) env.learnPathMtu(dst, mtu);
    },
  }));
  env.output(
    { family: 4, v4: 0x0a000102 },
    { family: 4, v4: 0x0a000202 },
    { srcPort: 40000, dstPort: 80, seq: 1, ack: 0, flags: 0x10, window: 1000, urgentPointer: 0, options: {} },
    new Uint8Array(1000),
  );
  await sim.advance(millis(50));
  assert.equal(router.stats.ip.fragNeeded, 1);
  assert.deepEqual(errs, [{ kind: 'frag-needed', mtu: 576 }]);
  // The sender now knows the path MTU.
  assert.equal(a.ip.pathMtu(0x0a000202), 576);
  assert.equal(env.mssFor({ family: 4, v4: 0x0a000202 }), 536);
});

test('a 60 KB datagram crosses a 576-byte-MTU link and is reassembled', async () => {
  const { sim, a, b, router } = twoSubnets({ mtuB: 576 });
  const server = b.socket(AF_INET, SOCK_DGRAM);
  await server.bind(['0.0.0.0', 5000]);
  const client = a.socket(AF_INET, SOCK_DGRAM);
  const big = new Uint8Array(60_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
  const [data, from] = await sim.run(async () => {
    await client.sendto(big, ['10.0.2.2', 5000]);
    return server.recvfrom(65535);
  });
  assert.equal(data.length, 60_000);
  assert.deepEqual(data, big);
  assert.equal(from?.[0], '10.0.1.2');
  // a fragmented at its own 1500 MTU; the router refragmented each piece for 576.
  assert.equal(a.stats.ip.fragOk, 1);
  assert.equal(a.stats.ip.fragCreates, Math.ceil(60_008 / 1480));
  assert.ok(router.stats.ip.fragCreates > 100);
  assert.equal(b.stats.ip.reasmOk, 1);
  assert.equal(b.stats.ip.reasmFails, 0);
  assert.equal(b.ip.reassembler.datagrams, 0);
  assert.equal(b.ip.reassembler.bytes, 0);
});

test('broadcast reaches every host of the subnet and not the other subnet', async () => {
  const { sim, a, a2, b, b2, router } = twoSubnets();
  const listeners = [a2, b, b2, router].map((s) => s.socket(AF_INET, SOCK_DGRAM));
  for (const l of listeners) await l.bind(['0.0.0.0', 6000]);
  const sender = a.socket(AF_INET, SOCK_DGRAM);
  // Without SO_BROADCAST: EACCES.
  await assert.rejects(
    sim.run(sender.sendto(new Uint8Array([1]), ['255.255.255.255', 6000])),
    (e: { code?: string }) => e.code === 'EACCES',
  );
  sender.setsockopt(SOL_SOCKET, SO_BROADCAST, 1);
  await sim.run(sender.sendto(new Uint8Array([42]), ['255.255.255.255', 6000]));
  await sim.run(sender.sendto(new Uint8Array([43]), ['10.0.1.255', 6000]));
  await sim.advance(millis(20));
  // a2 and the router (on subnet A) got both datagrams; b and b2 none.
  const count = (s: typeof a) => s.stats.udp.inDatagrams;
  assert.equal(count(a2), 2);
  assert.equal(count(router), 2);
  assert.equal(count(b), 0);
  assert.equal(count(b2), 0);
  const [d1] = await sim.run(listeners[0].recvfrom(10));
  const [d2] = await sim.run(listeners[0].recvfrom(10));
  assert.deepEqual([d1[0], d2[0]], [42, 43]);
  // Broadcasts to closed ports elicit no ICMP (RFC 1122 §3.2.2).
  assert.equal(a2.stats.icmp.outDestUnreachable, 0);
});
