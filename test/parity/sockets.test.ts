/**
 * Socket behaviour every backend must share: each scenario is written once and
 * runs for every backend registered in ./backends.ts. The expected answers are
 * Linux's (what Python's socket module shows on Linux).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  IP_ADD_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_JOIN_GROUP,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  MSG_DONTWAIT,
  MSG_PEEK,
  SHUT_WR,
  SO_BROADCAST,
  SO_ERROR,
  SO_LINGER,
  SO_REUSEADDR,
  SO_TYPE,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_INFO,
  TCP_NODELAY,
} from '../../src/socket/constants.ts';
import {
  ArgumentTypeError,
  GaiError,
  OverflowError,
  SocketError,
  SocketTimeoutError,
  ValueError,
} from '../../src/socket/errno.ts';
import { getaddrinfo, gethostbyname, gethostname } from '../../src/socket/resolve.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { decodeTcpInfo } from '../../src/socket/tcp-info.ts';
import { hasCommand } from '../kernel/helpers.ts';
import { type Backend, parityBackends } from './backends.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (b: Uint8Array) => dec.decode(b);

async function rejects(p: Promise<unknown>, code: string, syscall?: string): Promise<SocketError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SocketError, `expected SocketError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, String(e));
    if (syscall) assert.equal(e.syscall, syscall);
    return e;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

/** A Python-kind argument error (TypeError, OverflowError, ValueError) from `syscall`, with its code. */
async function pyRejects<T extends Error & { code: string; syscall: string | undefined }>(
  p: Promise<unknown>,
  kind: new (...a: never[]) => T,
  syscall: string,
): Promise<T> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${String(e)}`);
    assert.ok(!(e instanceof SocketError), 'not an OSError');
    assert.match(e.code, /^ERR_/);
    assert.equal(e.syscall, syscall);
    return e;
  }
  assert.fail(`expected ${kind.name}, but the call succeeded`);
}

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof SocketError && e.code === code && e.errno > 0);
}

/** Reads until end of stream (bounded). */
async function readAll(s: Socket, limit = 10_000_000): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (let i = 0; i < 100_000 && n < limit; i++) {
    const c = await s.recv(65536);
    if (c.length === 0) break;
    parts.push(c);
    n += c.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Reads exactly n bytes (bounded). */
async function readExactly(s: Socket, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  for (let i = 0; i < 100_000 && off < n; i++) {
    const c = await s.recv(n - off);
    if (c.length === 0) throw new Error(`EOF after ${off} of ${n} bytes`);
    out.set(c, off);
    off += c.length;
  }
  return out;
}

for (const [name, factory] of parityBackends) {
  describe(`parity: ${name}`, () => {
    let b: Backend;
    const open: Socket[] = [];
    const sock = (family = AF_INET, type = SOCK_STREAM) => {
      const s = b.socket(family, type);
      open.push(s);
      return s;
    };
    const portOf = (s: Socket) => (s.getsockname() as [string, number])[1];

    async function listener(backlog = 8, family = AF_INET): Promise<{ srv: Socket; port: number }> {
      const srv = sock(family);
      await srv.bind([family === AF_INET6 ? b.host6! : b.host, 0]);
      await srv.listen(backlog);
      return { srv, port: portOf(srv) };
    }

    async function pair(): Promise<{ srv: Socket; cli: Socket; conn: Socket; port: number }> {
      const { srv, port } = await listener();
      const cli = sock();
      const acc = srv.accept();
      await cli.connect([b.host, port]);
      const [conn] = await acc;
      open.push(conn);
      return { srv, cli, conn, port };
    }

    before(async () => {
      b = await factory();
    });
    after(async () => {
      for (const s of open.splice(0)) await s.close();
      await b.cleanup();
    });

    it('echo round trip: 200 kB through an echoing server', async () => {
      const { srv, port } = await listener(1);
      const payload = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
      const server = (async () => {
        const [conn, addr] = await srv.accept();
        open.push(conn);
        assert.equal((addr as [string, number])[0], b.host);
        for await (const chunk of conn) await conn.sendall(chunk);
        await conn.close();
      })();
      const cli = sock();
      await cli.connect([b.host, port]);
      const reading = readAll(cli);
      await cli.sendall(payload);
      cli.shutdown(SHUT_WR);
      const got = await reading;
      await server;
      assert.equal(got.length, payload.length);
      assert.deepEqual(got, payload);
    });

    it('double bind fails EADDRINUSE at bind() time', async () => {
      const a = sock();
      await a.bind([b.host, 0]);
      const port = portOf(a);
      assert.ok(port > 0, 'bind to port 0 picks a port at once');
      const c = sock();
      const e = await rejects(c.bind([b.host, port]), 'EADDRINUSE', 'bind');
      assert.equal(e.errno, 98);
      assert.equal(e.port, port);
      await a.listen(1);
      await rejects(sock().bind([b.host, port]), 'EADDRINUSE', 'bind');
    });

    it('bind then connect: the connection leaves from the bound port, which a second bind cannot take', async () => {
      const { srv, port } = await listener();
      const cli = sock();
      await cli.bind([b.host, 0]);
      const bound = portOf(cli);
      await rejects(sock().bind([b.host, bound]), 'EADDRINUSE', 'bind');
      const acc = srv.accept();
      await cli.connect([b.host, port]);
      const [conn, peer] = await acc;
      open.push(conn);
      assert.deepEqual(peer, [b.host, bound]);
      assert.deepEqual(cli.getsockname(), [b.host, bound]);
      // The connection holds the port now (Linux inet_csk_bind_conflict).
      const e = await rejects(sock().bind([b.host, bound]), 'EADDRINUSE', 'bind');
      assert.equal(e.errno, 98);
      await cli.sendall(enc.encode('from the bound port'));
      assert.equal(text(await readExactly(conn, 19)), 'from the bound port');
    });

    it('SO_REUSEADDR on both lets two unlistened sockets share a port, as Linux does', async () => {
      const a = sock();
      a.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      await a.bind([b.host, 0]);
      const c = sock();
      c.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      await c.bind([b.host, portOf(a)]);
      assert.equal(portOf(c), portOf(a));
    });

    it('restarting a server over its TIME-WAIT connection: EADDRINUSE unless old and new both set SO_REUSEADDR', async () => {
      // Python on Linux: old/new SO_REUSEADDR 0/0, 0/1, 1/0 -> errno 98; 1/1 -> ok.
      for (const [oldReuse, newReuse, ok] of [
        [false, false, false],
        [false, true, false],
        [true, false, false],
        [true, true, true],
      ] as const) {
        const srv = sock();
        if (oldReuse) srv.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
        await srv.bind([b.host, 0]);
        await srv.listen(1);
        const port = portOf(srv);
        const cli = sock();
        const acc = srv.accept();
        await cli.connect([b.host, port]);
        const [conn] = await acc;
        // The server closes first (active close): its connection waits in TIME-WAIT on the port.
        await conn.close();
        await srv.close();
        assert.equal((await cli.recv(10)).length, 0);
        await cli.close();
        await b.sleep(20);
        const again = sock();
        if (newReuse) again.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
        const what = `old SO_REUSEADDR ${oldReuse}, new ${newReuse}`;
        // Where the backends differ: libuv sets SO_REUSEADDR on every TCP socket it binds, so on the
        // os backend the old connection always has it at the kernel level and a new socket with
        // SO_REUSEADDR gets in (Linux: errno 98 for 0/1). Without it the os backend refuses, as the
        // kernel would, by finding the TIME-WAIT entry in /proc/net/tcp.
        if (ok || (name === 'os' && newReuse)) {
          await again.bind([b.host, port]);
          await again.listen(1);
        } else {
          const e = await rejects(again.bind([b.host, port]), 'EADDRINUSE', 'bind').catch((err) => {
            throw new Error(`${what}: ${String(err)}`);
          });
          assert.equal(e.errno, 98, what);
        }
      }
    });

    it('connect to a closed port fails ECONNREFUSED with a readable message', async () => {
      const tmp = sock();
      await tmp.bind([b.host, 0]);
      const port = portOf(tmp);
      await tmp.close();
      const c = sock();
      const e = await rejects(c.connect([b.host, port]), 'ECONNREFUSED', 'connect');
      assert.equal(e.errno, 111);
      assert.match(
        e.message,
        new RegExp(`connect ECONNREFUSED ${b.host.replace(/\./g, '\\.')}:${port}: .*refused`),
      );
      const d = sock();
      assert.equal(await d.connectEx([b.host, port]), 111);
    });

    it('recv after the peer closes returns an empty array, every time', async () => {
      const { cli, conn } = await pair();
      await conn.sendall('bye');
      await conn.close();
      assert.equal(text(await readExactly(cli, 3)), 'bye');
      assert.equal((await cli.recv(10)).length, 0);
      assert.equal((await cli.recv(10)).length, 0);
    });

    it('send after the peer reset fails EPIPE or ECONNRESET', async () => {
      const { cli, conn } = await pair();
      conn.setsockopt(SOL_SOCKET, SO_LINGER, [1, 0]); // close() sends RST
      await conn.close();
      let err: SocketError | undefined;
      for (let i = 0; i < 200 && !err; i++) {
        try {
          await cli.send(enc.encode('are you there?'));
          await b.sleep(5);
        } catch (e) {
          err = e as SocketError;
        }
      }
      assert.ok(err instanceof SocketError, 'send kept succeeding after a RST');
      assert.ok(err.code === 'EPIPE' || err.code === 'ECONNRESET', String(err));
    });

    it('recv after the peer reset raises ECONNRESET once, then end of stream', async () => {
      const { cli, conn } = await pair();
      conn.setsockopt(SOL_SOCKET, SO_LINGER, [1, 0]);
      await conn.close();
      await rejects(cli.recv(10), 'ECONNRESET', 'recv');
      assert.equal((await cli.recv(10)).length, 0);
    });

    it('half-close: SHUT_WR sends EOF, the peer still answers', async () => {
      const { cli, conn } = await pair();
      await cli.sendall('request');
      cli.shutdown(SHUT_WR);
      await rejects(cli.send('more'), 'EPIPE', 'send');
      assert.equal(text(await readAll(conn)), 'request');
      await conn.sendall('response');
      await conn.close();
      assert.equal(text(await readAll(cli)), 'response');
    });

    it('listen backlog: clients connect while nobody accepts; all are accepted later', async () => {
      const { srv, port } = await listener(5);
      const clients: Socket[] = [];
      for (let i = 0; i < 5; i++) {
        const c = sock();
        await c.connect([b.host, port]);
        await c.sendall(`client ${i}`);
        clients.push(c);
      }
      const seen = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const [conn, addr] = await srv.accept();
        open.push(conn);
        const msg = text(await conn.recv(100));
        seen.add(msg);
        const [host, p] = addr as [string, number];
        assert.equal(host, b.host);
        const owner = clients.findIndex((c) => portOf(c) === p);
        assert.equal(msg, `client ${owner}`, 'the accept address is the client that sent the bytes');
      }
      assert.equal(seen.size, 5);
    });

    it('accept, getsockname and getpeername give address tuples', async () => {
      const { srv, port } = await listener();
      const cli = sock();
      const acc = srv.accept();
      await cli.connect([b.host, port]);
      const [conn, addr] = await acc;
      open.push(conn);
      assert.deepEqual(addr, cli.getsockname());
      assert.deepEqual(cli.getpeername(), [b.host, port]);
      assert.deepEqual(conn.getsockname(), [b.host, port]);
      assert.deepEqual(conn.getpeername(), addr);
      assert.equal(srv.getsockopt(SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    });

    it('IPv6: accept gives 4-tuples', async () => {
      if (!b.host6) {
        // Where the backends differ: sockstack has no IPv6 yet, and says so the kernel's way.
        throwsCode(() => b.socket(AF_INET6), 'EAFNOSUPPORT');
        return;
      }
      const { srv, port } = await listener(4, AF_INET6);
      const cli = sock(AF_INET6);
      const acc = srv.accept();
      await cli.connect([b.host6, port]);
      const [conn, addr] = await acc;
      open.push(conn);
      assert.equal((addr as unknown[]).length, 4);
      assert.equal((addr as [string, number, number, number])[0], b.host6);
      assert.deepEqual(cli.getpeername(), [b.host6, port, 0, 0]);
      await cli.sendall('v6');
      assert.equal(text(await conn.recv(10)), 'v6');
    });

    it('UDP: recvfrom truncates to the requested size and reports the sender', async () => {
      const rx = sock(AF_INET, SOCK_DGRAM);
      await rx.bind([b.host, 0]);
      const tx = sock(AF_INET, SOCK_DGRAM);
      await tx.bind([b.host, 0]);
      await tx.sendto('abcdefgh', rx.getsockname() as [string, number]);
      await tx.sendto('second', rx.getsockname() as [string, number]);
      const [peek] = await rx.recvfrom(2, MSG_PEEK);
      assert.equal(text(peek), 'ab');
      const [data, from] = await rx.recvfrom(3);
      assert.equal(text(data), 'abc', 'the datagram is cut to 3 bytes');
      assert.deepEqual(from, tx.getsockname());
      const [next] = await rx.recvfrom(100);
      assert.equal(text(next), 'second', 'the rest of the first datagram was discarded');
    });

    it('UDP: connected sockets use send/recv; send on an unconnected one is EDESTADDRREQ', async () => {
      const a = sock(AF_INET, SOCK_DGRAM);
      await a.bind([b.host, 0]);
      const c = sock(AF_INET, SOCK_DGRAM);
      await rejects(c.send('x'), 'EDESTADDRREQ', 'send');
      await c.connect(a.getsockname() as [string, number]);
      await c.send('ping');
      const [data, from] = await a.recvfrom(10);
      assert.equal(text(data), 'ping');
      await a.sendto('pong', from as [string, number]);
      assert.equal(text(await c.recv(10)), 'pong');
      assert.deepEqual(c.getpeername(), a.getsockname());
    });

    it('UDP: port unreachable on a connected socket raises ECONNREFUSED on a later call', async () => {
      const tmp = sock(AF_INET, SOCK_DGRAM);
      await tmp.bind([b.host, 0]);
      const dead = tmp.getsockname() as [string, number];
      await tmp.close();
      const c = sock(AF_INET, SOCK_DGRAM);
      await c.connect(dead);
      c.settimeout(2);
      await c.send('anyone?');
      await rejects(c.recv(10), 'ECONNREFUSED');
    });

    it('UDP bind conflicts: EADDRINUSE on a held port (the wildcard too); SO_REUSEADDR on both shares it', async () => {
      // Linux udp_lib_lport_inuse: overlapping addresses share a port only when both sockets set SO_REUSEADDR.
      const a = sock(AF_INET, SOCK_DGRAM);
      await a.bind([b.host, 0]);
      const port = portOf(a);
      const e = await rejects(sock(AF_INET, SOCK_DGRAM).bind([b.host, port]), 'EADDRINUSE', 'bind');
      assert.equal(e.errno, 98);
      assert.equal(e.port, port);
      await rejects(sock(AF_INET, SOCK_DGRAM).bind(['', port]), 'EADDRINUSE', 'bind');
      const late = sock(AF_INET, SOCK_DGRAM);
      late.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      await rejects(late.bind([b.host, port]), 'EADDRINUSE', 'bind'); // the holder lacks SO_REUSEADDR

      const r1 = sock(AF_INET, SOCK_DGRAM);
      r1.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      await r1.bind([b.host, 0]);
      const shared = portOf(r1);
      const r2 = sock(AF_INET, SOCK_DGRAM);
      r2.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      await r2.bind([b.host, shared]);
      assert.equal(portOf(r2), shared);
      await rejects(sock(AF_INET, SOCK_DGRAM).bind([b.host, shared]), 'EADDRINUSE', 'bind');
    });

    it('broadcast without SO_BROADCAST fails EACCES; with it the datagram arrives', async (t) => {
      if (!b.broadcast) return t.skip('no broadcast address on this backend');
      const rx = sock(AF_INET, SOCK_DGRAM);
      await rx.bind(['', 0]);
      const port = portOf(rx);
      const tx = sock(AF_INET, SOCK_DGRAM);
      const e = await rejects(tx.sendto('hello all', [b.broadcast, port]), 'EACCES', 'sendto');
      assert.equal(e.errno, 13);
      tx.setsockopt(SOL_SOCKET, SO_BROADCAST, 1);
      assert.equal(tx.getsockopt(SOL_SOCKET, SO_BROADCAST), 1);
      await tx.sendto('hello all', [b.broadcast, port]);
      rx.settimeout(2);
      const [data] = await rx.recvfrom(100);
      assert.equal(text(data), 'hello all');
    });

    it('UDP multicast on loopback: a member joined on 127.0.0.1 receives, once, loop on or off; after IP_DROP_MEMBERSHIP nothing', async () => {
      // Linux's lo carries IPv4 multicast when the socket names it (IP_MULTICAST_IF 127.0.0.1)
      // and the receiver joins there; the datagram goes out of lo and comes back once.
      const group = '239.255.77.1';
      const lo = new Uint8Array([127, 0, 0, 1]);
      const mreq = new Uint8Array([239, 255, 77, 1, 127, 0, 0, 1]);
      const rx = sock(AF_INET, SOCK_DGRAM);
      await rx.bind(['', 0]);
      const port = portOf(rx);
      rx.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq);
      await rejects(
        Promise.resolve().then(() => rx.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq)),
        'EADDRINUSE',
      );
      const tx = sock(AF_INET, SOCK_DGRAM);
      await tx.bind(['127.0.0.1', 0]);
      assert.equal(tx.getsockopt(IPPROTO_IP, IP_MULTICAST_TTL), 1);
      assert.equal(tx.getsockopt(IPPROTO_IP, IP_MULTICAST_LOOP), 1);
      tx.setsockopt(IPPROTO_IP, IP_MULTICAST_IF, lo);
      for (const loop of [1, 0]) {
        tx.setsockopt(IPPROTO_IP, IP_MULTICAST_LOOP, loop);
        await tx.sendto(`loop ${loop}`, [group, port]);
        rx.settimeout(2);
        const [data, from] = await rx.recvfrom(100);
        assert.equal(text(data), `loop ${loop}`);
        assert.equal((from as [string, number])[0], '127.0.0.1');
        rx.settimeout(0.2);
        await assert.rejects(rx.recvfrom(100), SocketTimeoutError, 'exactly one copy');
      }
      rx.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, mreq);
      await rejects(
        Promise.resolve().then(() => rx.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, mreq)),
        'EADDRNOTAVAIL',
      );
      await tx.sendto('after the drop', [group, port]);
      rx.settimeout(0.3);
      await assert.rejects(rx.recvfrom(100), SocketTimeoutError);
    });

    it('IPv6 multicast on loopback: joining on lo works, but lo has no route to groups (ENETUNREACH)', async () => {
      const rx = sock(AF_INET6, SOCK_DGRAM);
      await rx.bind(['::', 0]);
      const port = portOf(rx);
      const mreq6 = new Uint8Array(20);
      mreq6.set([0xff, 0x15], 0);
      mreq6[15] = 0x77;
      new DataView(mreq6.buffer).setUint32(16, 1, true);
      rx.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq6);
      const tx = sock(AF_INET6, SOCK_DGRAM);
      assert.equal(tx.getsockopt(IPPROTO_IPV6, IPV6_MULTICAST_LOOP), 1);
      tx.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, 1);
      await rejects(tx.sendto('to the group', ['ff15::77', port]), 'ENETUNREACH', 'sendto');
    });

    it('settimeout: recv raises the timeout error, and no data is lost', async () => {
      const { cli, conn } = await pair();
      cli.settimeout(0.05);
      assert.equal(cli.gettimeout(), 0.05);
      const e = await rejects(cli.recv(10), 'ETIMEDOUT', 'recv');
      assert.ok(e instanceof SocketTimeoutError);
      assert.equal(e.name, 'TimeoutError');
      assert.equal(e.message, 'timed out');
      await conn.sendall('late');
      assert.equal(text(await cli.recv(10)), 'late');
      const { srv } = await listener();
      srv.settimeout(0.05);
      await rejects(srv.accept(), 'ETIMEDOUT', 'accept');
    });

    it('non-blocking: recv and accept raise EAGAIN; connect raises EINPROGRESS then completes', async () => {
      const { cli, conn, srv, port } = await pair();
      cli.setblocking(false);
      assert.equal(cli.getblocking(), false);
      const e = await rejects(cli.recv(10), 'EAGAIN', 'recv');
      assert.equal(e.errno, 11);
      await rejects(conn.recv(10, MSG_DONTWAIT), 'EAGAIN', 'recv');
      srv.setblocking(false);
      await rejects(srv.accept(), 'EAGAIN', 'accept');
      srv.setblocking(true);
      const nb = sock();
      nb.setblocking(false);
      await rejects(nb.connect([b.host, port]), 'EINPROGRESS', 'connect');
      const [c2] = await srv.accept();
      open.push(c2);
      let code = -1;
      for (let i = 0; i < 200 && code !== 106; i++) {
        code = await nb.connectEx([b.host, port]);
        if (code !== 106) await b.sleep(5);
      }
      assert.equal(code, 106, 'EISCONN once the handshake is done');
      assert.equal(nb.getsockopt(SOL_SOCKET, SO_ERROR), 0);
    });

    it('a bind() the program forgot to await still happens before listen() (calls run in order)', async () => {
      const s = sock();
      const bound = s.bind([b.host, 0]); // no await
      await s.listen(1);
      await bound;
      const port = portOf(s);
      assert.ok(port > 0);
      const c = sock();
      const acc = s.accept();
      await c.connect([b.host, port]);
      const [conn] = await acc;
      open.push(conn);
      // A second bind while the first is still resolving says so.
      const t = sock();
      const first = t.bind([b.host, 0]);
      const e = await rejects(t.bind([b.host, 0]), 'EINVAL', 'bind');
      assert.match(e.message, /earlier bind\(\) .* not finished/);
      await first;
    });

    it('misuse errors: EBADF, EINVAL, ENOTCONN, EISCONN, EPIPE, EOPNOTSUPP, ENOPROTOOPT', async () => {
      const s = sock();
      await pyRejects(s.bind([b.host, 65536]), OverflowError, 'bind');
      await pyRejects(s.bind([b.host, -1]), OverflowError, 'bind');
      await pyRejects(s.bind([b.host, 1.5]), ArgumentTypeError, 'bind');
      await pyRejects(s.bind('nope' as never), ArgumentTypeError, 'bind');
      await pyRejects(s.connect([b.host, 70000]), OverflowError, 'connect');
      await rejects(s.send('x'), 'EPIPE', 'send'); // Linux tcp_sendmsg on an unconnected socket
      await rejects(s.recv(1), 'ENOTCONN', 'recv');
      await rejects(s.accept(), 'EINVAL', 'accept');
      throwsCode(() => s.getpeername(), 'ENOTCONN');
      throwsCode(() => s.shutdown(SHUT_WR), 'ENOTCONN');
      throwsCode(() => s.setsockopt(SOL_SOCKET, 9999, 1), 'ENOPROTOOPT');
      // A level the socket has not: Linux's IPv4 getsockopt says EOPNOTSUPP, setsockopt ENOPROTOOPT.
      throwsCode(() => s.getsockopt(77, 1), 'EOPNOTSUPP');
      throwsCode(() => s.setsockopt(77, 1, 1), 'ENOPROTOOPT');
      throwsCode(() => s.getsockopt(SOL_SOCKET, 9999), 'ENOPROTOOPT');
      s.setsockopt(IPPROTO_TCP, TCP_NODELAY, true);
      assert.equal(s.getsockopt(IPPROTO_TCP, TCP_NODELAY), 1);
      assert.deepEqual(s.getsockname(), ['0.0.0.0', 0]);
      await s.bind([b.host, 0]);
      await rejects(s.bind([b.host, 0]), 'EINVAL', 'bind');
      await s.listen(1);
      await rejects(s.recv(1), 'ENOTCONN', 'recv');
      await rejects(s.connect([b.host, portOf(s)]), 'EISCONN', 'connect');
      const u = sock(AF_INET, SOCK_DGRAM);
      await rejects(u.listen(1), 'EOPNOTSUPP', 'listen');
      await rejects(u.accept(), 'EOPNOTSUPP', 'accept');
      throwsCode(() => u.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1), 'ENOPROTOOPT');
      throwsCode(() => u.getsockopt(IPPROTO_TCP, TCP_INFO), 'EOPNOTSUPP');
      const { cli, port } = await pair();
      await rejects(cli.connect([b.host, port]), 'EISCONN', 'connect');
      await rejects(cli.listen(1), 'EINVAL', 'listen');
      await cli.close();
      await cli.close(); // idempotent
      for (const p of [
        cli.recv(1),
        cli.send('x'),
        cli.bind([b.host, 0]),
        cli.connect([b.host, port]),
        cli.accept(),
      ])
        await rejects(p, 'EBADF');
      throwsCode(() => cli.getsockname(), 'EBADF');
      await pyRejects(s.recv(-1), ValueError, 'recv');
    });

    it("names: gethostname, getaddrinfo and gethostbyname; 'localhost', '' and '0.0.0.0' in addresses", async () => {
      assert.equal(gethostname(b.backend), b.hostname);
      assert.deepEqual(await getaddrinfo(b.backend, 'localhost', 5000, AF_INET, SOCK_STREAM), [
        [AF_INET, SOCK_STREAM, IPPROTO_TCP, '', ['127.0.0.1', 5000]],
      ]);
      assert.deepEqual(await getaddrinfo(b.backend, '127.0.0.1', 'echo', AF_INET, SOCK_DGRAM), [
        [AF_INET, SOCK_DGRAM, 17, '', ['127.0.0.1', 7]],
      ]);
      assert.equal(await gethostbyname(b.backend, 'localhost'), '127.0.0.1');
      assert.equal(await gethostbyname(b.backend, '10.1.2.3'), '10.1.2.3');
      // Python on Linux: gethostbyname('') is 0.0.0.0, '<broadcast>' 255.255.255.255;
      // getaddrinfo('') is no name at all (EAI_NONAME), getaddrinfo(None) the loopback.
      assert.equal(await gethostbyname(b.backend, ''), '0.0.0.0');
      assert.equal(await gethostbyname(b.backend, '<broadcast>'), '255.255.255.255');
      await assert.rejects(
        getaddrinfo(b.backend, '', 80),
        (e: unknown) => e instanceof GaiError && e.code === 'EAI_NONAME',
      );
      assert.deepEqual(await getaddrinfo(b.backend, null, 80, AF_INET, SOCK_STREAM), [
        [AF_INET, SOCK_STREAM, IPPROTO_TCP, '', ['127.0.0.1', 80]],
      ]);
      for (const call of [
        () => getaddrinfo(b.backend, 'no-such-host.invalid', 80),
        () => gethostbyname(b.backend, 'no-such-host.invalid'),
      ]) {
        await assert.rejects(
          call(),
          (e: unknown) => e instanceof GaiError && e.code === 'EAI_NONAME' && e.errno === -2,
        );
      }
      await assert.rejects(
        getaddrinfo(b.backend, 'localhost', 'no-such-service'),
        (e: unknown) => e instanceof GaiError && e.code === 'EAI_SERVICE',
      );
      // '' and '0.0.0.0' mean any address; 'localhost' is resolved to 127.0.0.1.
      for (const type of [SOCK_STREAM, SOCK_DGRAM]) {
        for (const [host, shown] of [
          ['', '0.0.0.0'],
          ['0.0.0.0', '0.0.0.0'],
          ['localhost', '127.0.0.1'],
        ]) {
          const s = sock(AF_INET, type);
          await s.bind([host!, 0]);
          assert.equal((s.getsockname() as [string, number])[0], shown, `bind(('${host}', 0))`);
        }
      }
      // A server bound to '' is reached through 'localhost'.
      const srv = sock();
      await srv.bind(['', 0]);
      await srv.listen(1);
      const cli = sock();
      const acc = srv.accept();
      await cli.connect(['localhost', portOf(srv)]);
      const [conn] = await acc;
      open.push(conn);
      assert.deepEqual(cli.getpeername(), ['127.0.0.1', portOf(srv)]);
      // A name that does not resolve fails connect with the gaierror, not a TypeError.
      await assert.rejects(sock().connect(['no-such-host.invalid', 80]), GaiError);
    });

    it("wrong argument types raise Python's kinds: TypeError, OverflowError, ValueError (a gaierror for a bad host)", async () => {
      const s = sock();
      for (const bad of [[b.host], [b.host, 0, 0], [123, 80], [b.host, '80'], null, undefined, {}, 42]) {
        await pyRejects(s.bind(bad as never), ArgumentTypeError, 'bind');
        await pyRejects(s.connect(bad as never), ArgumentTypeError, 'connect');
      }
      // The port as a string: a TypeError whose message names the string (Python: TypeError).
      const e = await pyRejects(s.bind([b.host, '5002'] as never), ArgumentTypeError, 'bind');
      assert.equal(e.message, "bind(): port must be an integer 0-65535, got the string '5002'");
      const big = await pyRejects(s.bind([b.host, 70000]), OverflowError, 'bind');
      assert.ok(big instanceof RangeError);
      assert.equal(big.name, 'OverflowError');
      assert.equal(big.message, 'bind(): port must be 0-65535, got 70000');
      const { cli } = await pair();
      await pyRejects(cli.sendall(42 as never), ArgumentTypeError, 'sendall');
      await pyRejects(cli.send({} as never), ArgumentTypeError, 'send');
      await pyRejects(cli.recv(-1), ValueError, 'recv');
      await pyRejects(cli.recv('1024' as never), ArgumentTypeError, 'recv');
      assert.throws(() => cli.settimeout('1' as never), ArgumentTypeError);
      assert.throws(() => cli.settimeout(-1), ValueError);
      await pyRejects(sock().listen('5' as never), ArgumentTypeError, 'listen');
      // 256.1.1.1 is no dotted quad, so it is a name, and no such name exists (Python: gaierror -2).
      await assert.rejects(
        s.bind(['256.1.1.1', 0]),
        (e: unknown) => e instanceof GaiError && e.code === 'EAI_NONAME',
      );
      const u = sock(AF_INET, SOCK_DGRAM);
      await pyRejects(u.sendto('x', [b.host] as never), ArgumentTypeError, 'sendto');
      await pyRejects(u.sendto('x', [b.host, 65536]), OverflowError, 'sendto');
      assert.equal(s.closed, false, 'a rejected call leaves the socket usable');
      await s.bind([b.host, 0]);
    });

    it('bind to an address no interface has fails EADDRNOTAVAIL (TCP and UDP)', async () => {
      for (const type of [SOCK_STREAM, SOCK_DGRAM]) {
        const e = await rejects(sock(AF_INET, type).bind(['10.255.255.1', 0]), 'EADDRNOTAVAIL', 'bind');
        assert.equal(e.errno, 99);
      }
    });

    it('ports: 0-1023 need privileges (EACCES); port 0 picks an ephemeral port', async () => {
      // The course's rule. Where the backends differ: the os fixture may run as root (bind succeeds,
      // as on the kernel), the stack fixture is unprivileged; the kernel's ephemeral range is its
      // ip_local_port_range (32768-60999 on Linux), the stack's the RFC 6335 dynamic range 49152-65535.
      for (const type of [SOCK_STREAM, SOCK_DGRAM]) {
        if (b.privileged) {
          let bound = false;
          for (let port = 1023; port > 900 && !bound; port--) {
            const s = sock(AF_INET, type);
            try {
              await s.bind([b.host, port]);
              bound = true;
              assert.equal(portOf(s), port);
            } catch (e) {
              assert.ok(e instanceof SocketError && e.code === 'EADDRINUSE', String(e));
            }
          }
          assert.ok(bound, 'a privileged process binds a port below 1024');
        } else {
          const e = await rejects(sock(AF_INET, type).bind([b.host, 80]), 'EACCES', 'bind');
          assert.equal(e.errno, 13);
          await rejects(sock(AF_INET, type).bind([b.host, 1023]), 'EACCES', 'bind');
        }
        const s = sock(AF_INET, type);
        await s.bind([b.host, 0]);
        const p = portOf(s);
        assert.ok(p >= b.ephemeral[0] && p <= b.ephemeral[1], `port ${p} in ${b.ephemeral.join('-')}`);
      }
      // connect() without bind() also takes an ephemeral port.
      const { cli } = await pair();
      const p = portOf(cli);
      assert.ok(p >= b.ephemeral[0] && p <= b.ephemeral[1], `client port ${p} in ${b.ephemeral.join('-')}`);
    });

    it('UDP: 65507 bytes is the largest IPv4 datagram payload; 65508 fails EMSGSIZE', async () => {
      const rx = sock(AF_INET, SOCK_DGRAM);
      await rx.bind([b.host, 0]);
      const tx = sock(AF_INET, SOCK_DGRAM);
      const e = await rejects(
        tx.sendto(new Uint8Array(65508), rx.getsockname() as [string, number]),
        'EMSGSIZE',
        'sendto',
      );
      assert.equal(e.errno, 90);
      const big = new Uint8Array(65507).map((_, i) => i & 0xff);
      await tx.sendto(big, rx.getsockname() as [string, number]);
      rx.settimeout(2);
      const [data] = await rx.recvfrom(70000);
      assert.equal(data.length, 65507);
      assert.deepEqual(data, big);
      await tx.connect(rx.getsockname() as [string, number]);
      await rejects(tx.send(new Uint8Array(65508)), 'EMSGSIZE', 'send');
    });

    it('SO_LINGER {1, 0}: reads back; close() after a send resets: the peer reads the bytes, then ECONNRESET (as Python on Linux)', async () => {
      // On the os backend this needs the zero-length-write probe in src/node/os-backend.ts: libuv
      // reports EOF when the data and the RST arrive in one epoll wake-up (uv__stream_io).
      const { cli, conn } = await pair();
      assert.equal(conn.getsockopt(SOL_SOCKET, SO_LINGER), 0, 'off by default (l_onoff, as Python reads it)');
      conn.setsockopt(SOL_SOCKET, SO_LINGER, [1, 0]);
      assert.equal(conn.getsockopt(SOL_SOCKET, SO_LINGER), 1);
      await conn.sendall('unsent?');
      await conn.close();
      // Bytes that arrived before the RST may be read first (Linux keeps them); then the reset.
      let err: unknown;
      for (let i = 0; i < 10 && !err; i++) {
        try {
          const got = await cli.recv(100);
          assert.ok(got.length > 0, 'an abortive close is no EOF');
        } catch (e) {
          err = e;
        }
      }
      assert.ok(err instanceof SocketError && err.code === 'ECONNRESET', String(err));
      assert.equal(err.errno, 104);
    });

    it('TCP_INFO: struct tcp_info in Linux layout (bytes with buflen, its first 4 as an int without), read-only', async (t) => {
      // The os backend reads the kernel's through python3 (src/node/kernel-tcp-info.ts).
      if (b.name === 'os' && !hasCommand('python3')) return t.skip('python3 is not installed');
      // Linux include/net/tcp_states.h: TCP_ESTABLISHED 1, TCP_CLOSE 7, TCP_LISTEN 10.
      assert.equal(
        (sock().getsockopt(IPPROTO_TCP, TCP_INFO) as number) & 0xff,
        7,
        'TCP_CLOSE before connect',
      );
      const { srv, cli, conn } = await pair();
      assert.equal((srv.getsockopt(IPPROTO_TCP, TCP_INFO, 8) as Uint8Array)[0], 10, 'TCP_LISTEN');
      assert.equal((srv.getsockopt(IPPROTO_TCP, TCP_INFO, 8) as Uint8Array).length, 8, 'min(buflen, size)');
      const payload = new Uint8Array(5000).fill(7);
      await cli.sendall(payload);
      assert.deepEqual(await readExactly(conn, payload.length), payload);
      let tx = decodeTcpInfo(cli.getsockopt(IPPROTO_TCP, TCP_INFO, 1024) as Uint8Array);
      for (let i = 0; i < 50 && tx.unacked > 0; i++) {
        await b.sleep(20);
        tx = decodeTcpInfo(cli.getsockopt(IPPROTO_TCP, TCP_INFO, 1024) as Uint8Array);
      }
      const raw = conn.getsockopt(IPPROTO_TCP, TCP_INFO, 1024) as Uint8Array;
      assert.ok(raw.length >= 144 && raw.length <= 1024, `the struct through tcpi_segs_in: ${raw.length}`);
      const rx = decodeTcpInfo(raw);
      assert.equal(tx.state, 1);
      assert.equal(rx.state, 1);
      assert.equal(tx.unacked, 0, 'everything acknowledged');
      // Linux's bytes_acked counts the SYN (5001 here); bytes_received counts data only.
      assert.ok(tx.bytesAcked >= 5000n && tx.bytesAcked <= 5001n, `tcpi_bytes_acked ${tx.bytesAcked}`);
      assert.equal(rx.bytesReceived, 5000n);
      assert.equal(tx.options & 7, 7, 'timestamps, SACK and window scaling on loopback');
      assert.ok(
        tx.sndMss > 0 && tx.rtt > 0 && tx.rto > 0,
        JSON.stringify(tx, (_, v) => String(v)),
      );
      assert.ok(tx.segsOut >= 2 && rx.segsIn >= 2);
      assert.equal(
        (cli.getsockopt(IPPROTO_TCP, TCP_INFO) as number) & 0xff,
        1,
        'the int form: tcpi_state first',
      );
      throwsCode(() => cli.setsockopt(IPPROTO_TCP, TCP_INFO, 1), 'ENOPROTOOPT');
    });

    /** Connects clients with a short timeout until one times out; returns how many got in, and that error. */
    async function fillBacklog(port: number): Promise<{ connected: number; err: unknown }> {
      let connected = 0;
      for (let i = 0; i < 8; i++) {
        const c = sock();
        c.settimeout(0.3);
        try {
          await c.connect([b.host, port]);
          connected++;
        } catch (err) {
          return { connected, err };
        }
      }
      return { connected, err: undefined };
    }

    // Where the backends differ: Node's net.Server accepts every connection from the kernel at once
    // (libuv loops on accept(2)), so the os backend queues them in user space and the kernel's
    // backlog never fills; the kernel's behaviour itself is in test/kernel/sockets.test.ts.
    const nodeAcceptsEagerly = "Node accepts every connection at once, so the kernel's backlog never fills";

    it('a full accept queue drops SYNs: settimeout bounds connect (TimeoutError); accept() makes room', {
      skip: name === 'os' ? nodeAcceptsEagerly : false,
    }, async () => {
      const { srv, port } = await listener(1);
      const { connected, err } = await fillBacklog(port);
      assert.ok(connected >= 1, 'the queue holds at least one connection');
      assert.ok(
        err instanceof SocketTimeoutError,
        `connect #${connected + 1} did not time out: ${String(err)}`,
      );
      assert.equal(err.syscall, 'connect');
      assert.equal(err.message, 'timed out');
      const [first] = await srv.accept();
      open.push(first);
      const late = sock();
      late.settimeout(5);
      await late.connect([b.host, port]);
    });

    it('listen(1) holds backlog + 1 = 2 connections before dropping SYNs, as Linux (sk_acceptq_is_full)', {
      skip: name === 'os' ? nodeAcceptsEagerly : false,
    }, async () => {
      const { port } = await listener(1);
      assert.equal((await fillBacklog(port)).connected, 2);
    });

    it('settimeout applies to sendall and connect too; gettimeout/setblocking agree', async () => {
      const s = sock();
      assert.equal(s.gettimeout(), null);
      s.settimeout(1.5);
      assert.equal(s.gettimeout(), 1.5);
      assert.equal(s.getblocking(), true);
      s.setblocking(false);
      assert.equal(s.gettimeout(), 0);
      s.setblocking(true);
      assert.equal(s.gettimeout(), null);
      assert.throws(
        () => s.settimeout(-1),
        (e: unknown) => e instanceof ValueError && e.code === 'ERR_INVALID_ARG_VALUE',
      );
      // A peer that never reads: sendall of more than both buffers can hold times out.
      const { cli } = await pair();
      cli.settimeout(0.2);
      const e = await rejects(cli.sendall(new Uint8Array(64 * 1024 * 1024)), 'ETIMEDOUT', 'sendall');
      assert.ok(e instanceof SocketTimeoutError);
      // One send() of a large buffer takes what fits and reports the count, as the kernel does.
      const { cli: c2 } = await pair();
      const n = await c2.send(new Uint8Array(64 * 1024 * 1024));
      assert.ok(n > 0 && n < 64 * 1024 * 1024, `send took ${n} bytes`);
    });

    it('recvInto, async iteration and await using', async () => {
      const { cli, conn } = await pair();
      await conn.sendall('12345');
      const buf = new Uint8Array(16);
      const n = await cli.recvInto(buf, 3);
      assert.equal(n, 3);
      assert.equal(text(buf.subarray(0, 3)), '123');
      // MSG_PEEK leaves the bytes; a later recvInto waits for what is not there yet.
      const peeked = new Uint8Array(8);
      assert.equal(await cli.recvInto(peeked, 0, MSG_PEEK), 2);
      assert.equal(text(peeked.subarray(0, 2)), '45');
      const two = new Uint8Array(2);
      assert.equal(await cli.recvInto(two), 2);
      assert.equal(text(two), '45');
      const later = cli.recvInto(buf);
      await conn.sendall('6789');
      const m = await later;
      assert.ok(m >= 1 && m <= 4, `recvInto after a wait took ${m}`);
      await conn.close();
      const rest: string[] = [text(buf.subarray(0, m))];
      for await (const chunk of cli) rest.push(text(chunk));
      assert.equal(rest.join(''), '6789');
      assert.equal(await cli.recvInto(buf), 0, 'end of stream: 0');
      let inner: Socket;
      {
        await using s = b.socket();
        inner = s;
        await s.bind([b.host, 0]);
      }
      assert.equal(inner.closed, true);
    });

    it('AF_UNIX stream echo (kernel only: sockstack implements TCP/IP, not local IPC)', async () => {
      if (!b.unix) {
        // Where the backends differ: sockstack is a TCP/IP stack; AF_UNIX is the kernel's local IPC.
        throwsCode(() => b.socket(AF_UNIX), 'EAFNOSUPPORT');
        return;
      }
      const path = `${b.tempDir()}/echo.sock`;
      const srv = sock(AF_UNIX);
      await srv.bind(path);
      await rejects(sock(AF_UNIX).bind(path), 'EADDRINUSE', 'bind');
      await srv.listen(1);
      assert.equal(srv.getsockname(), path);
      const cli = sock(AF_UNIX);
      const acc = srv.accept();
      await cli.connect(path);
      const [conn, addr] = await acc;
      open.push(conn);
      assert.equal(addr, '');
      assert.equal(cli.getpeername(), path);
      await cli.sendall('over a unix socket');
      cli.shutdown(SHUT_WR);
      const got = await readAll(conn);
      await conn.sendall(got);
      await conn.close();
      assert.equal(text(await readAll(cli)), 'over a unix socket');
    });
  });
}
