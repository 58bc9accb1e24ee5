/**
 * AF_INET6 sockets on the stack backend, as Linux gives them: 4-tuples, dual-stack
 * listeners (IPv4 peers shown as ::ffff:a.b.c.d), IPV6_V6ONLY, connecting to a mapped
 * address over IPv4, and UDP over IPv6.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SOCK_DGRAM,
  SOCK_STREAM,
} from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';

function pair() {
  const sim = new Simulation({ seed: 9 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24', 'fd00:1::1/64'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24', 'fd00:1::2/64'] });
  sim.runFor(seconds(2));
  return { sim, a, b };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

test('AF_INET6 stream: connect, accept with 4-tuples, data both ways', async () => {
  const { sim, a, b } = pair();
  await sim.run(async () => {
    const srv = b.socket(AF_INET6, SOCK_STREAM);
    await srv.bind(['::', 8080]);
    await srv.listen(4);
    assert.deepEqual(srv.getsockname(), ['::', 8080, 0, 0]);
    const cli = a.socket(AF_INET6, SOCK_STREAM);
    const acc = srv.accept();
    await cli.connect(['fd00:1::2', 8080]);
    const [conn, peer] = await acc;
    const port = (cli.getsockname() as [string, number])[1];
    assert.deepEqual(peer, ['fd00:1::1', port, 0, 0]);
    assert.deepEqual(cli.getpeername(), ['fd00:1::2', 8080, 0, 0]);
    assert.deepEqual(conn.getsockname(), ['fd00:1::2', 8080, 0, 0]);
    await cli.sendall('over v6');
    assert.equal(text(await conn.recv(100)), 'over v6');
    await conn.sendall('back');
    assert.equal(text(await cli.recv(100)), 'back');
    cli.close();
    conn.close();
    srv.close();
  });
});

test('dual stack: an AF_INET6 wildcard listener takes IPv4 peers as ::ffff:a.b.c.d; IPV6_V6ONLY refuses them', async () => {
  const { sim, a, b } = pair();
  await sim.run(async () => {
    const srv = b.socket(AF_INET6, SOCK_STREAM);
    await srv.bind(['', 9000]);
    await srv.listen(4);
    const cli = a.socket(AF_INET, SOCK_STREAM);
    const acc = srv.accept();
    await cli.connect(['10.0.0.2', 9000]);
    const [conn, peer] = await acc;
    assert.equal((peer as [string, number])[0], '::ffff:10.0.0.1');
    assert.equal((conn.getsockname() as [string, number])[0], '::ffff:10.0.0.2');
    conn.close();
    cli.close();
    // An AF_INET6 client to a mapped address goes over IPv4.
    const c6 = a.socket(AF_INET6, SOCK_STREAM);
    const acc2 = srv.accept();
    await c6.connect(['::ffff:10.0.0.2', 9000]);
    const [conn2] = await acc2;
    assert.equal((c6.getsockname() as [string, number])[0], '::ffff:10.0.0.1');
    conn2.close();
    c6.close();
    srv.close();

    const only = b.socket(AF_INET6, SOCK_STREAM);
    only.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
    assert.equal(only.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY), 1);
    await only.bind(['', 9001]);
    await only.listen(4);
    const v4 = a.socket(AF_INET, SOCK_STREAM);
    await assert.rejects(
      v4.connect(['10.0.0.2', 9001]),
      (e: unknown) => (e as { code?: string }).code === 'ECONNREFUSED',
    );
    const c = a.socket(AF_INET6, SOCK_STREAM);
    c.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
    await assert.rejects(
      c.connect(['::ffff:10.0.0.2', 9001]),
      (e: unknown) => (e as { code?: string }).code === 'ENETUNREACH',
    );
    // An AF_INET wildcard listener does not take IPv6.
    const s4 = b.socket(AF_INET, SOCK_STREAM);
    await s4.bind(['', 9002]);
    await s4.listen(4);
    const c6b = a.socket(AF_INET6, SOCK_STREAM);
    await assert.rejects(
      c6b.connect(['fd00:1::2', 9002]),
      (e: unknown) => (e as { code?: string }).code === 'ECONNREFUSED',
    );
    only.close();
    s4.close();
  });
});

test('AF_INET6 datagrams: sendto/recvfrom with 4-tuples', async () => {
  const { sim, a, b } = pair();
  await sim.run(async () => {
    const rx = b.socket(AF_INET6, SOCK_DGRAM);
    await rx.bind(['::', 5300]);
    const tx = a.socket(AF_INET6, SOCK_DGRAM);
    assert.deepEqual(tx.getsockname(), ['::', 0, 0, 0]);
    await tx.sendto('dgram v6', ['fd00:1::2', 5300]);
    const [data, from] = await rx.recvfrom(100);
    assert.equal(text(data), 'dgram v6');
    assert.equal((from as [string, number])[0], 'fd00:1::1');
    assert.equal((from as unknown[]).length, 4);
    await rx.sendto('re', from!);
    const [d2, f2] = await tx.recvfrom(100);
    assert.equal(text(d2), 're');
    assert.deepEqual(f2, ['fd00:1::2', 5300, 0, 0]);
    rx.close();
    tx.close();
  });
});

test('UDP wildcards by family: AF_INET6 takes IPv4 as mapped unless IPV6_V6ONLY; AF_INET takes no IPv6', async () => {
  const { sim, a, b } = pair();
  await sim.run(async () => {
    const dual = b.socket(AF_INET6, SOCK_DGRAM);
    await dual.bind(['', 5400]);
    const v4 = a.socket(AF_INET, SOCK_DGRAM);
    await v4.sendto('from v4', ['10.0.0.2', 5400]);
    const [d, from] = await dual.recvfrom(100);
    assert.equal(text(d), 'from v4');
    assert.equal((from as [string, number])[0], '::ffff:10.0.0.1');
    dual.close();

    const only = b.socket(AF_INET6, SOCK_DGRAM);
    only.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
    await only.bind(['', 5401]);
    const plain4 = b.socket(AF_INET, SOCK_DGRAM);
    await plain4.bind(['', 5402]);
    await v4.sendto('x', ['10.0.0.2', 5401]);
    const v6 = a.socket(AF_INET6, SOCK_DGRAM);
    await v6.sendto('y', ['fd00:1::2', 5402]);
    await v6.sendto('z', ['fd00:1::2', 5401]);
    const [dz] = await only.recvfrom(10);
    assert.equal(text(dz), 'z');
    // z came down the same cable after x and y: neither of those found a socket.
    assert.equal(b.stats.udp.noPorts, 2);
    for (const s of [only, plain4, v4, v6]) s.close();
  });
});
