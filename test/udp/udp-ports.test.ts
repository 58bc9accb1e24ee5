/**
 * UDP ports through a stack's sockets: the UDP layer's one port table (PortTable under
 * bind-rules.ts `datagramConflict`). bind(port 0) and the implicit bind of an unbound
 * socket's first sendto()/connect() never take a port another socket holds; with the
 * whole ephemeral range held, bind(0) fails EADDRINUSE (Linux __inet_bind) and the
 * implicit bind EAGAIN (Linux inet_autobind). One stack on loopback, virtual clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Simulation } from '../../src/link/sim.ts';
import { AF_INET, SO_REUSEADDR, SO_REUSEPORT, SOCK_DGRAM, SOL_SOCKET } from '../../src/socket/constants.ts';
import { SocketError } from '../../src/socket/errno.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { Stack } from '../../src/stack.ts';

const code = (c: string, errno?: number) => (e: unknown) =>
  e instanceof SocketError && e.code === c && (errno === undefined || e.errno === errno);
const portOf = (s: Socket) => (s.getsockname() as [string, number])[1];

function lone() {
  const sim = new Simulation({ seed: 5 });
  const stack = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork() }));
  const dgram = () => stack.socket(AF_INET, SOCK_DGRAM);
  return { sim, stack, dgram };
}

describe('UDP sockets on a stack: one port table', () => {
  it('with every ephemeral port bound, an implicit bind fails EAGAIN and bind(0) EADDRINUSE; a freed port is the one taken', async () => {
    const { sim, stack, dgram } = lone();
    const { min, max } = stack.udp.portTable.ephemeral!; // RFC 6056: 49152-65535
    assert.equal(max - min + 1, 16384);
    const bound = new Map<number, Socket>();
    for (let p = min; p <= max; p++) {
      const s = dgram();
      await s.bind(['0.0.0.0', p]);
      bound.set(p, s);
    }
    const rx = dgram();
    await rx.bind(['127.0.0.1', 4000]);
    const sent = stack.stats.udp.outDatagrams;

    // Linux inet_sendmsg -> inet_autobind: "if (sk->sk_prot->get_port(sk, 0)) ... return -EAGAIN".
    const tx = dgram();
    await assert.rejects(tx.sendto('x', ['127.0.0.1', 4000]), code('EAGAIN', 11));
    assert.deepEqual(tx.getsockname(), ['0.0.0.0', 0], 'still unbound');
    assert.equal(stack.stats.udp.outDatagrams, sent, 'nothing was sent');
    // inet_dgram_connect: "if (!inet_sk(sk)->inet_num && inet_autobind(sk)) return -EAGAIN".
    const cx = dgram();
    await assert.rejects(cx.connect(['127.0.0.1', 4000]), code('EAGAIN', 11));
    assert.throws(() => cx.getpeername(), code('ENOTCONN'), 'not connected');
    assert.deepEqual(cx.getsockname(), ['0.0.0.0', 0]);
    // An explicit bind(port 0): __inet_bind turns the failed get_port into EADDRINUSE.
    await assert.rejects(dgram().bind(['0.0.0.0', 0]), code('EADDRINUSE', 98));
    await assert.rejects(dgram().bind(['127.0.0.1', 0]), code('EADDRINUSE', 98));

    // Free one port: the next implicit bind takes exactly it, and the datagram goes out from it.
    const free = min + 777;
    await bound.get(free)!.close();
    bound.delete(free);
    assert.equal(await tx.sendto('hello', ['127.0.0.1', 4000]), 5);
    assert.equal(portOf(tx), free);
    const [data, from] = await sim.run(rx.recvfrom(100));
    assert.equal(new TextDecoder().decode(data), 'hello');
    assert.deepEqual(from, ['127.0.0.1', free]);
    await assert.rejects(cx.connect(['127.0.0.1', 4000]), code('EAGAIN'), 'and then none is left again');
    for (const s of [tx, cx, rx, ...bound.values()]) await s.close();
    assert.equal(stack.udp.endpoints().length, 0, 'close() gives every port back');
  });

  it('a port another socket holds (any address, with or without SO_REUSEADDR) is never picked', async () => {
    const { stack, dgram } = lone();
    const { min, max } = stack.udp.portTable.ephemeral!;
    const held = new Set<number>();
    const socks: Socket[] = [];
    // Every other port of the range, some with SO_REUSEADDR or SO_REUSEPORT, on the wildcard or on 127.0.0.1.
    for (let p = min; p <= max; p += 2) {
      const s = dgram();
      if (p % 3 === 0) s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      if (p % 5 === 0) s.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
      await s.bind([p % 4 ? '127.0.0.1' : '0.0.0.0', p]);
      held.add(p);
      socks.push(s);
    }
    const take = (s: Socket, how: string) => {
      const p = portOf(s);
      assert.ok(p >= min && p <= max, `${how} took ${p}, outside the ephemeral range`);
      assert.ok(!held.has(p), `${how} took port ${p}, which another socket holds`);
      held.add(p);
      socks.push(s);
    };
    for (let i = 0; i < 300; i++) {
      const s = dgram();
      await s.bind([i % 2 ? '127.0.0.1' : '0.0.0.0', 0]);
      take(s, 'bind(port 0)');
    }
    for (let i = 0; i < 300; i++) {
      const s = dgram();
      await s.sendto('x', ['127.0.0.1', 9]);
      take(s, 'sendto()');
      const c = dgram();
      await c.connect(['127.0.0.1', 9]);
      take(c, 'connect()');
    }
    assert.equal(stack.udp.endpoints().length, socks.length);
    for (const s of socks) await s.close();
  });

  it('SO_REUSEADDR on both, or SO_REUSEPORT on both, shares a port; a third socket without fails EADDRINUSE', async () => {
    const { dgram } = lone();
    for (const [opt, port] of [
      [SO_REUSEADDR, 6000],
      [SO_REUSEPORT, 6001],
    ] as const) {
      const a = dgram();
      const b = dgram();
      a.setsockopt(SOL_SOCKET, opt, 1);
      b.setsockopt(SOL_SOCKET, opt, 1);
      await a.bind(['0.0.0.0', port]);
      await b.bind(['127.0.0.1', port]);
      assert.equal(portOf(b), port);
      const e = await dgram()
        .bind(['127.0.0.1', port])
        .catch((x: unknown) => x);
      assert.ok(code('EADDRINUSE', 98)(e), String(e));
      assert.equal((e as SocketError).port, port);
      // One flag each is not enough: both sockets must set the same one.
      const other = dgram();
      other.setsockopt(SOL_SOCKET, opt === SO_REUSEADDR ? SO_REUSEPORT : SO_REUSEADDR, 1);
      await assert.rejects(other.bind(['0.0.0.0', port]), code('EADDRINUSE'));
      // A socket with the flag joins them.
      const c = dgram();
      c.setsockopt(SOL_SOCKET, opt, 1);
      await c.bind(['0.0.0.0', port]);
    }
  });

  it('SO_REUSEPORT: each flow keeps reaching the same socket, chosen among those bound in order', async () => {
    const { sim, stack, dgram } = lone();
    const rx: Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = dgram();
      s.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
      await s.bind(['127.0.0.1', 7000]);
      rx.push(s);
    }
    const txs: Socket[] = [];
    for (let i = 0; i < 16; i++) txs.push(dgram());
    const owner = new Map<number, number>();
    for (let round = 0; round < 3; round++) {
      for (const t of txs) await t.sendto('x', ['127.0.0.1', 7000]);
      sim.runUntilIdle();
      // The endpoints on the port, in bind order (the order the flow hash indexes).
      const eps = [...stack.udp.portTable.on(7000)];
      assert.equal(eps.length, rx.length);
      for (let r = 0; r < eps.length; r++) {
        for (let d = eps[r]!.recv(); d; d = eps[r]!.recv()) {
          const prev = owner.get(d.srcPort);
          assert.ok(
            prev === undefined || prev === r,
            `flow from ${d.srcPort} moved from socket ${prev} to ${r}`,
          );
          owner.set(d.srcPort, r);
        }
      }
    }
    assert.equal(owner.size, txs.length);
    assert.ok(new Set(owner.values()).size > 1, 'the flows spread over the sockets');
  });
});
