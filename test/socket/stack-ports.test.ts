/**
 * Ports through the stack's sockets: bind(), listen() and connect() share the TCP
 * layer's one port table, so connect() never picks a port another socket has bound,
 * and fails EADDRNOTAVAIL (Linux __inet_hash_connect) when bind() holds them all.
 * Two stacks on a memory cable under the virtual clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AF_INET, SO_REUSEADDR, SOCK_STREAM, SOL_SOCKET } from '../../src/socket/constants.ts';
import { SocketError } from '../../src/socket/errno.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { pair } from '../scenarios/tcp-net.ts';

const code = (c: string) => (e: unknown) => e instanceof SocketError && e.code === c;
const portOf = (s: Socket) => (s.getsockname() as [string, number])[1];

describe('stack stream sockets: one port table for bind, listen and connect', () => {
  it('with every ephemeral port bound, connect() fails EADDRNOTAVAIL; a freed port is the one it takes', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind([net.bAddr, 5000]);
      await srv.listen(8);
      const { min, max } = net.a.tcp.ports; // the TCP layer's ephemeral range (RFC 6056)
      const bound = new Map<number, Socket>();
      for (let p = min; p <= max; p++) {
        const s = net.a.socket(AF_INET, SOCK_STREAM);
        await s.bind(['0.0.0.0', p]);
        bound.set(p, s);
      }
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await assert.rejects(cli.connect([net.bAddr, 5000]), code('EADDRNOTAVAIL'));
      const late = net.a.socket(AF_INET, SOCK_STREAM);
      await assert.rejects(late.bind(['0.0.0.0', 0]), code('EADDRINUSE'), 'bind(port 0) finds none either');
      assert.equal(net.a.tcp.connectionCount, 0);

      // Free one port: connect() takes exactly it, and the connection is made.
      const free = min + 1234;
      await bound.get(free)!.close();
      bound.delete(free);
      const c1 = net.a.socket(AF_INET, SOCK_STREAM);
      await c1.connect([net.bAddr, 5000]);
      assert.equal(portOf(c1), free);
      const [conn] = await srv.accept();
      assert.deepEqual(conn.getpeername(), [net.aAddr, free]);
      // The same 4-tuple cannot be made twice; the port is all there is.
      const c2 = net.a.socket(AF_INET, SOCK_STREAM);
      await assert.rejects(c2.connect([net.bAddr, 5000]), code('EADDRNOTAVAIL'));
      for (const s of [c1, conn, srv, ...bound.values()]) await s.close();
    });
  });

  it('a port another socket has bound (with or without SO_REUSEADDR) is never picked by connect()', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind([net.bAddr, 5000]);
      await srv.listen(128);
      const bound = new Set<number>();
      const socks: Socket[] = [srv];
      // Every other port of the range, some with SO_REUSEADDR, on the wildcard and on a's address.
      const { min, max } = net.a.tcp.ports;
      for (let p = min; p <= max; p += 2) {
        const s = net.a.socket(AF_INET, SOCK_STREAM);
        if (p % 3 === 0) s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
        await s.bind([p % 4 ? net.aAddr : '0.0.0.0', p]);
        bound.add(p);
        socks.push(s);
      }
      // And some by bind(port 0), which takes a port nobody holds.
      for (let i = 0; i < 100; i++) {
        const s = net.a.socket(AF_INET, SOCK_STREAM);
        await s.bind(['0.0.0.0', 0]);
        assert.ok(!bound.has(portOf(s)), 'bind(port 0) takes a port nobody holds');
        bound.add(portOf(s));
        socks.push(s);
      }
      for (let i = 0; i < 200; i++) {
        const c = net.a.socket(AF_INET, SOCK_STREAM);
        c.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
        await c.connect([net.bAddr, 5000]);
        assert.ok(!bound.has(portOf(c)), `connect() took port ${portOf(c)}, which another socket has bound`);
        const [conn] = await srv.accept();
        socks.push(c, conn);
      }
      for (const s of socks) await s.close();
    });
  });
});
