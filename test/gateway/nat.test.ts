/**
 * The gateway on a memory network under the virtual clock: a guest stack (10.0.2.15,
 * default route via 10.0.2.2) on one end of a cable, the Gateway on the other, and a
 * fake dialer standing for the host's sockets. NAT by termination (TCP held SYNs,
 * refusal, policy, host alias, back-pressure, half-close), UDP flows and their idle
 * timeout, ICMP echo, the DNS forwarder, inbound forwards and the flow limit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildQuery, parseDnsMessage, TYPE_A } from '../../src/dns/message.ts';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { AF_INET, AF_INET6, SHUT_WR, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';
import { parseIpv6 } from '../../src/wire/address.ts';
import { FakeDialer } from './fake-dialer.ts';

function net(opts: Partial<GatewayOptions> = {}) {
  const sim = new Simulation({ seed: 20 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const dialer = new FakeDialer();
  const log: string[] = [];
  const gw = new Gateway({
    clock: sim.clock,
    rng: sim.rng.fork(),
    device: cable.b,
    dialer,
    dnsUpstream: { host: '127.0.0.53', port: 53 },
    log: (l) => log.push(l),
    ...opts,
  });
  sim.add(gw.stack);
  const guest = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'guest' }));
  guest.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.2.15/24'] });
  guest.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.2.2' });
  return { sim, gw, guest, dialer, log };
}

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

async function recvAll(s: ReturnType<Stack['socket']>, limit = 1 << 24): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (let i = 0; i < 100_000; i++) {
    const b = await s.recv(65536);
    if (b.length === 0) break;
    parts.push(b);
    n += b.length;
    if (n > limit) break;
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('gateway NAT (memory network, virtual clock)', () => {
  it('terminates a TCP connection to any address, answers the SYN after the dial, carries data and half-close both ways', async () => {
    const { sim, gw, guest, dialer } = net();
    const s = guest.socket(AF_INET, SOCK_STREAM);
    await sim.run(s.connect(['93.184.216.34', 80]), { timeout: seconds(10) });
    assert.deepEqual(dialer.calls, ['93.184.216.34:80']);
    const host = dialer.streams[0];
    assert.deepEqual(s.getpeername(), ['93.184.216.34', 80]);
    const up = bytes(200_000);
    await sim.run(s.sendall(up), { timeout: seconds(10) });
    s.shutdown(SHUT_WR);
    await sim.run(
      async () => {
        for (let i = 0; i < 1000 && !host.ended; i++) await new Promise((r) => setImmediate(r));
      },
      { timeout: seconds(10) },
    );
    assert.ok(host.ended, 'the guest FIN became end() on the host side');
    assert.deepEqual(host.received(), up);
    // Host → guest after the guest half-closed, then the host's EOF.
    const down = bytes(300_000, 7);
    host.onData?.(down);
    host.onEnd?.();
    const got = await sim.run(recvAll(s), { timeout: seconds(30) });
    assert.deepEqual(got, down);
    await sim.run(s.close(), { timeout: seconds(10) });
    sim.runFor(seconds(120));
    assert.equal(gw.stats.tcpFlows, 1);
    assert.equal(gw.stats.activeTcp, 0);
    assert.equal(gw.stats.bytesOut, up.length);
    assert.equal(gw.stats.bytesIn, down.length);
    assert.equal(host.destroyed, false, 'an orderly end does not reset the host side');
  });

  it('refuses with RST when the host refuses, and denies link-local/metadata without dialing', async () => {
    const { sim, guest, dialer, log, gw } = net();
    const a = guest.socket(AF_INET, SOCK_STREAM);
    await assert.rejects(sim.run(a.connect(['93.184.216.34', 9]), { timeout: seconds(10) }), {
      code: 'ECONNREFUSED',
    });
    const b = guest.socket(AF_INET, SOCK_STREAM);
    await assert.rejects(sim.run(b.connect(['169.254.169.254', 80]), { timeout: seconds(10) }), {
      code: 'ECONNREFUSED',
    });
    assert.deepEqual(dialer.calls, ['93.184.216.34:9']);
    assert.equal(gw.stats.refused, 2);
    assert.ok(
      log.some((l) => /refused tcp .*169\.254\.169\.254:80: destination denied/.test(l)),
      log.join('\n'),
    );
    assert.ok(
      log.some((l) => /refused tcp .*93\.184\.216\.34:9: host 93\.184\.216\.34:9: ECONNREFUSED/.test(l)),
    );
  });

  it('holds retransmitted SYNs while the dial is pending and sends one SYN-ACK', async () => {
    const { sim, guest, dialer, gw } = net();
    // A dial that takes 3 s of virtual time (the guest retransmits its SYN at 1 s and 3 s).
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const orig = dialer.connect.bind(dialer);
    dialer.connect = async (h, p) => {
      await gate;
      return orig(h, p);
    };
    const s = guest.socket(AF_INET, SOCK_STREAM);
    const conn = s.connect(['198.51.100.7', 443]);
    sim.runFor(seconds(3.5));
    assert.equal(gw.stack.tcp.stats.passiveOpens, 0, 'no connection while the host side is not there');
    assert.equal(gw.stack.tcp.connectionCount, 0);
    release();
    await sim.run(conn, { timeout: seconds(30) });
    assert.equal(gw.stack.tcp.stats.passiveOpens, 1);
    assert.equal(dialer.calls.length, 1, 'one dial for all the SYNs');
  });

  it('maps the gateway address to the host loopback', async () => {
    const { sim, guest, dialer } = net();
    const s = guest.socket(AF_INET, SOCK_STREAM);
    await sim.run(s.connect(['10.0.2.2', 8080]), { timeout: seconds(10) });
    assert.deepEqual(dialer.calls, ['127.0.0.1:8080']);
    // Other addresses of the guest network are on the guest's link, not behind the gateway:
    // nobody answers ARP for them, and nothing is dialled.
    const t = guest.socket(AF_INET, SOCK_STREAM);
    await assert.rejects(sim.run(t.connect(['10.0.2.77', 80]), { timeout: seconds(10) }), {
      code: 'EHOSTUNREACH',
    });
    assert.deepEqual(dialer.calls, ['127.0.0.1:8080']);
  });

  it('applies back-pressure: a host that does not read closes the guest window', async () => {
    const { sim, guest, dialer } = net();
    const s = guest.socket(AF_INET, SOCK_STREAM);
    await sim.run(s.connect(['203.0.113.5', 80]), { timeout: seconds(10) });
    const host = dialer.streams[0];
    host.highWater = 64 * 1024;
    const data = bytes(4 << 20, 3);
    let sent = false;
    const p = s.sendall(data).then(() => {
      sent = true;
    });
    sim.runFor(seconds(5));
    assert.equal(sent, false, 'the guest cannot send 4 MiB into a host that does not read');
    const held = host.buffered;
    assert.ok(
      held < 200 * 1024,
      `host side holds ${held} bytes (bounded by its high-water mark plus one read)`,
    );
    // The host reads: everything flows, byte-exact.
    await sim.run(
      async () => {
        for (
          let i = 0;
          i < 100_000 && !(sent && host.chunks.reduce((a, c) => a + c.length, 0) === data.length);
          i++
        ) {
          host.drain();
          await new Promise((r) => setImmediate(r));
        }
      },
      { timeout: seconds(600) },
    );
    await p;
    assert.deepEqual(host.received(), data);
  });

  it('pauses the host stream while the guest does not read', async () => {
    const { sim, guest, dialer } = net();
    const s = guest.socket(AF_INET, SOCK_STREAM);
    await sim.run(s.connect(['203.0.113.5', 80]), { timeout: seconds(10) });
    const host = dialer.streams[0];
    const big = bytes(8 << 20, 5);
    host.onData?.(big);
    sim.runFor(seconds(5));
    assert.equal(host.paused, true, 'the host stream is paused while the data waits for the guest');
    host.onEnd?.();
    const got = await sim.run(recvAll(s), { timeout: seconds(120) });
    assert.equal(got.length, big.length);
    assert.deepEqual(got, big);
    assert.equal(host.paused, false);
  });

  it('copies what the send buffer cannot take: host data may come in one reused buffer', async () => {
    // The OS dialer reads every connection into one shared buffer (gateway-dialer.ts), so
    // `onData`'s bytes are only valid during the call. Here the "host" scribbles over its
    // buffer after each call; the guest must still get every byte as sent.
    const { sim, guest, dialer } = net();
    const s = guest.socket(AF_INET, SOCK_STREAM);
    await sim.run(s.connect(['203.0.113.5', 80]), { timeout: seconds(10) });
    const host = dialer.streams[0];
    const data = bytes(6 << 20, 9); // more than the flow's 2 MiB send buffer
    const shared = new Uint8Array(256 * 1024);
    let at = 0;
    const got: Uint8Array[] = [];
    let have = 0;
    await sim.run(
      async () => {
        for (let i = 0; i < 100_000 && have < data.length; i++) {
          while (!host.paused && at < data.length) {
            const n = Math.min(shared.length, data.length - at);
            shared.set(data.subarray(at, at + n));
            host.onData?.(shared.subarray(0, n));
            shared.fill(0xee); // the next read reuses the buffer
            at += n;
          }
          if (at === data.length && !host.ended) host.onEnd?.();
          const b = await s.recv(1 << 20);
          if (b.length === 0) break;
          got.push(b);
          have += b.length;
        }
      },
      { timeout: seconds(600) },
    );
    const all = new Uint8Array(have);
    let o = 0;
    for (const b of got) {
      all.set(b, o);
      o += b.length;
    }
    assert.equal(all.length, data.length);
    assert.ok(
      all.every((v, i) => v === data[i]),
      'byte-exact',
    );
  });

  it('IPv6: advertises its /64, the guest takes an address by SLAAC, and TCP to the gateway reaches the host [::1]', async () => {
    const sim = new Simulation({ seed: 6 });
    const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
    const dialer = new FakeDialer();
    const gw = new Gateway({
      clock: sim.clock,
      rng: sim.rng.fork(),
      device: cable.b,
      dialer,
      ipv6Prefix: 'fd00:0:0:2::/64',
    });
    sim.add(gw.stack);
    const guest = sim.add(
      new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'guest', config: { ipv6: { enable: true } } }),
    );
    const eth0 = guest.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.2.15/24'] });
    guest.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.2.2' });
    // Router solicitation, the RA, then duplicate address detection (about a second).
    sim.runFor(seconds(5));
    const st = guest.ip6.state(eth0)!;
    const global = st.addresses.find((a) => a.state === 'preferred' && a.address[0] === 0xfd);
    assert.ok(global, `a SLAAC address from the prefix: ${st.describe().join(', ')}`);
    assert.deepEqual([...global!.address.subarray(0, 8)], [0xfd, 0, 0, 0, 0, 0, 0, 2]);
    assert.equal(global!.prefix, 64);
    // Router Lifetime 0 (ipv6DefaultRoute off, the core's default): an on-link prefix, no
    // IPv6 default route through the gateway.
    assert.equal(
      guest.ip6.routes.lookup(parseIpv6('2001:db8::1')!, () => true),
      undefined,
      'no IPv6 default route',
    );

    const s = guest.socket(AF_INET6, SOCK_STREAM);
    await sim.run(s.connect(['fd00:0:0:2::2', 8080]), { timeout: seconds(10) });
    assert.deepEqual(dialer.calls, ['::1:8080']);
    const host = dialer.streams[0];
    const up = bytes(100_000, 3);
    await sim.run(s.sendall(up), { timeout: seconds(10) });
    sim.runFor(seconds(1));
    assert.deepEqual(host.received(), up);
    const down = bytes(70_000, 4);
    host.onData?.(down);
    host.onEnd?.();
    assert.deepEqual(await sim.run(recvAll(s), { timeout: seconds(10) }), down);
    await sim.run(s.close(), { timeout: seconds(10) });
    // Other addresses of the guest's /64 are on the guest link, not behind the gateway:
    // nobody answers neighbour discovery for them, as for an absent host on the link.
    const t6 = guest.socket(AF_INET6, SOCK_STREAM);
    await assert.rejects(sim.run(t6.connect(['fd00:0:0:2::99', 80]), { timeout: seconds(30) }), {
      code: 'EHOSTUNREACH',
    });
    assert.equal(dialer.calls.length, 1);
    // IPv4 still works beside it.
    const s4 = guest.socket(AF_INET, SOCK_STREAM);
    await sim.run(s4.connect(['10.0.2.2', 80]), { timeout: seconds(10) });
    assert.deepEqual(dialer.calls, ['::1:8080', '127.0.0.1:80']);
  });

  it('refuses an IPv6 prefix that is not a /64', () => {
    const sim = new Simulation({ seed: 7 });
    const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
    assert.throws(
      () =>
        new Gateway({
          clock: sim.clock,
          rng: sim.rng.fork(),
          device: cable.b,
          dialer: new FakeDialer(),
          ipv6Prefix: 'fd00::/48',
        }),
      { code: 'EINVAL' },
    );
  });

  it('resets the guest connection when the host side fails, and the host side when the guest resets', async () => {
    const { sim, guest, dialer } = net();
    const s = guest.socket(AF_INET, SOCK_STREAM);
    await sim.run(s.connect(['203.0.113.5', 80]), { timeout: seconds(10) });
    dialer.streams[0].onClose?.(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    await assert.rejects(sim.run(s.recv(10), { timeout: seconds(10) }), { code: 'ECONNRESET' });
    assert.equal(dialer.streams[0].destroyed, true);
  });

  it('refuses flows over the limit', async () => {
    const { sim, guest, log } = net({ maxFlows: 1 });
    const a = guest.socket(AF_INET, SOCK_STREAM);
    await sim.run(a.connect(['203.0.113.5', 80]), { timeout: seconds(10) });
    const b = guest.socket(AF_INET, SOCK_STREAM);
    await assert.rejects(sim.run(b.connect(['203.0.113.5', 81]), { timeout: seconds(10) }), {
      code: 'ECONNREFUSED',
    });
    assert.ok(log.some((l) => /flow limit 1 reached/.test(l)));
  });

  it('carries UDP flows with address-dependent filtering and forgets them when idle', async () => {
    const { sim, guest, dialer, gw } = net({ udpIdleSeconds: 30 });
    const u = guest.socket(AF_INET, SOCK_DGRAM);
    await u.bind(['0.0.0.0', 40000]);
    await sim.run(u.sendto(new TextEncoder().encode('hello'), ['192.0.2.9', 5000]), { timeout: seconds(1) });
    sim.runFor(seconds(0.1));
    assert.equal(dialer.datagrams.length, 2, "the DNS forwarder's socket and this flow's");
    const d = dialer.datagrams[1];
    assert.deepEqual(
      d.sent.map((x) => [new TextDecoder().decode(x.data), x.host, x.port]),
      [['hello', '192.0.2.9', 5000]],
    );
    d.onMessage?.(new TextEncoder().encode('stranger'), '192.0.2.66', 5000); // never sent to: dropped
    d.onMessage?.(new TextEncoder().encode('world'), '192.0.2.9', 5000);
    const [data, from] = await sim.run(u.recvfrom(100), { timeout: seconds(1) });
    assert.equal(new TextDecoder().decode(data), 'world');
    assert.deepEqual(from, ['192.0.2.9', 5000]);
    assert.equal(gw.stats.activeUdp, 1);
    sim.runFor(seconds(31));
    assert.equal(gw.stats.activeUdp, 0, 'idle flow forgotten');
    assert.equal(d.closed, true);
  });

  it('answers ICMP echo to any address', async () => {
    const { sim, guest } = net();
    const r = await sim.run(guest.ping('8.8.4.4', { timeout: 2000 }), { timeout: seconds(5) });
    assert.equal(r.ok, true, JSON.stringify(r));
    if (r.ok) assert.equal(r.from, 0x08080404);
  });

  it('forwards DNS queries upstream under a new ID and answers the guest under its own', async () => {
    const { sim, guest, dialer, gw } = net();
    const u = guest.socket(AF_INET, SOCK_DGRAM);
    const q = buildQuery(0x4242, 'example.test', TYPE_A);
    await sim.run(u.sendto(q, ['10.0.2.3', 53]), { timeout: seconds(1) });
    sim.runFor(seconds(0.1));
    const up = dialer.datagrams[0].sent[0];
    assert.equal(up.host, '127.0.0.53');
    assert.equal(up.port, 53);
    assert.deepEqual(up.data.subarray(2), q.subarray(2));
    const answer = up.data.slice();
    answer[2] |= 0x80; // QR
    dialer.datagrams[0].onMessage?.(answer, '127.0.0.53', 53);
    const [data] = await sim.run(u.recvfrom(512), { timeout: seconds(1) });
    const m = parseDnsMessage(data);
    assert.ok(m.ok);
    assert.equal(m.message.id, 0x4242);
    assert.equal(m.message.qr, true);
    // Malformed queries are dropped and counted.
    await sim.run(u.sendto(new Uint8Array([1, 2, 3]), ['10.0.2.3', 53]), { timeout: seconds(1) });
    sim.runFor(seconds(0.1));
    assert.equal(gw.dns!.stats.malformed, 1);
    assert.equal(dialer.datagrams[0].sent.length, 1);
    // Over TCP: a length-prefixed query, the same way.
    const t = guest.socket(AF_INET, SOCK_STREAM);
    await sim.run(t.connect(['10.0.2.3', 53]), { timeout: seconds(5) });
    const framed = new Uint8Array(2 + q.length);
    framed[1] = q.length;
    framed.set(q, 2);
    await sim.run(t.sendall(framed), { timeout: seconds(5) });
    sim.runFor(seconds(0.1));
    const up2 = dialer.datagrams[0].sent[1];
    const a2 = up2.data.slice();
    a2[2] |= 0x80;
    dialer.datagrams[0].onMessage?.(a2, '127.0.0.53', 53);
    const reply = await sim.run(t.recv(1024), { timeout: seconds(5) });
    assert.equal((reply[0] << 8) | reply[1], q.length);
    assert.equal((reply[2] << 8) | reply[3], 0x4242);
  });

  it('forwards host datagrams to a guest port and the answers back, one gateway port per client', async () => {
    const { sim, gw, guest } = net({ udpIdleSeconds: 30 });
    const u = guest.socket(AF_INET, SOCK_DGRAM);
    await u.bind(['0.0.0.0', 5353]);
    const answers: string[] = [];
    gw.forwardDatagramToGuest(
      5353,
      new TextEncoder().encode('q1'),
      '127.0.0.1:1111',
      (d) => answers.push(`a:${new TextDecoder().decode(d)}`),
      0x0a00020f,
    );
    gw.forwardDatagramToGuest(
      5353,
      new TextEncoder().encode('q2'),
      '127.0.0.1:2222',
      (d) => answers.push(`b:${new TextDecoder().decode(d)}`),
      0x0a00020f,
    );
    const [d1, from1] = await sim.run(u.recvfrom(100), { timeout: seconds(1) });
    const [d2, from2] = await sim.run(u.recvfrom(100), { timeout: seconds(1) });
    assert.deepEqual([new TextDecoder().decode(d1), new TextDecoder().decode(d2)], ['q1', 'q2']);
    assert.ok(from1 && from2);
    assert.equal(from1[0], '10.0.2.2');
    assert.notEqual(from1[1], from2[1], 'each host client has its own gateway port');
    await sim.run(u.sendto(new TextEncoder().encode('r2'), from2), { timeout: seconds(1) });
    await sim.run(u.sendto(new TextEncoder().encode('r1'), from1), { timeout: seconds(1) });
    sim.runFor(seconds(0.1));
    assert.deepEqual(answers, ['b:r2', 'a:r1']);
    assert.equal(gw.stats.activeUdp, 2);
    sim.runFor(seconds(31));
    assert.equal(gw.stats.activeUdp, 0, 'idle forwards forgotten');
  });

  it('forwards an inbound host connection to a guest port', async () => {
    const { sim, gw, guest, dialer } = net();
    const l = guest.socket(AF_INET, SOCK_STREAM);
    await l.bind(['0.0.0.0', 8080]);
    await l.listen(4);
    const { FakeStream } = await import('./fake-dialer.ts');
    const host = new FakeStream('client', 0);
    gw.forwardToGuest(8080, host, 0x0a00020f);
    const [c, peer] = await sim.run(l.accept(), { timeout: seconds(5) });
    assert.deepEqual(peer[0], '10.0.2.2');
    host.onData?.(new TextEncoder().encode('GET /'));
    const got = await sim.run(c.recv(100), { timeout: seconds(5) });
    assert.equal(new TextDecoder().decode(got), 'GET /');
    await sim.run(c.sendall(new TextEncoder().encode('200 OK')), { timeout: seconds(5) });
    sim.runFor(seconds(0.5));
    assert.equal(new TextDecoder().decode(host.received()), '200 OK');
    assert.equal(gw.stats.forwardsIn, 1);
    void dialer;
  });
});
