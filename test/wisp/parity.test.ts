/**
 * The parity suite's client-side scenarios (test/parity/sockets.test.ts), run with the
 * client on the `os` backend and on the `wisp` backend (through our server over
 * loopback), the server side always on the kernel. The scenarios that need a client to
 * bind, listen or half-close are not here: Wisp cannot express them (relay.test.ts
 * checks that they fail EOPNOTSUPP).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { osBackend } from '../../src/node/os-backend.ts';
import { startWispServer, type WispServer } from '../../src/node/wisp-server.ts';
import type { SocketBackend } from '../../src/socket/backend.ts';
import {
  AF_INET,
  MSG_DONTWAIT,
  SO_ERROR,
  SO_LINGER,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOL_SOCKET,
} from '../../src/socket/constants.ts';
import { SocketError, SocketTimeoutError } from '../../src/socket/errno.ts';
import { Socket } from '../../src/socket/socket.ts';
import { wispBackend } from '../../src/wisp/backend.ts';
import { WispClient, type WispTransportConstructor } from '../../src/wisp/client.ts';

const HOST = '127.0.0.1';
const enc = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejects(p: Promise<unknown>, code: string, syscall?: string): Promise<SocketError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SocketError, `expected a SocketError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (syscall) assert.equal(e.syscall, syscall);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

async function readExactly(s: Socket, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  for (let i = 0; off < n && i < 100_000; i++) {
    const c = await s.recv(n - off);
    if (c.length === 0) throw new Error(`EOF after ${off} of ${n} bytes`);
    out.set(c, off);
    off += c.length;
  }
  return out;
}

interface ClientSide {
  name: string;
  backend(): SocketBackend;
  setup(): Promise<void>;
  teardown(): Promise<void>;
}

let relay: WispServer | undefined;
let client: WispClient | undefined;

const SIDES: ClientSide[] = [
  { name: 'os', backend: osBackend, setup: async () => {}, teardown: async () => {} },
  {
    name: 'wisp',
    backend: () => wispBackend(client!),
    async setup() {
      relay = await startWispServer({ allow: [`${HOST}:*`] });
      client = await WispClient.connect(relay.url, {
        WebSocket: WebSocket as unknown as WispTransportConstructor,
      });
    },
    async teardown() {
      client?.close();
      await relay?.close();
    },
  },
];

for (const side of SIDES) {
  describe(`client-side parity: ${side.name}`, () => {
    const server = osBackend();
    let cb: SocketBackend;
    const open: Socket[] = [];
    const track = (s: Socket) => {
      open.push(s);
      return s;
    };
    const cli = (type = SOCK_STREAM) => track(new Socket(cb, AF_INET, type));
    const srvSock = (type = SOCK_STREAM) => track(new Socket(server, AF_INET, type));

    async function listener(): Promise<{ srv: Socket; port: number }> {
      const srv = srvSock();
      await srv.bind([HOST, 0]);
      await srv.listen(8);
      return { srv, port: (srv.getsockname() as [string, number])[1] };
    }
    async function pair(): Promise<{ c: Socket; conn: Socket; port: number; srv: Socket }> {
      const { srv, port } = await listener();
      const c = cli();
      const acc = srv.accept();
      await c.connect([HOST, port]);
      const [conn] = await acc;
      track(conn);
      return { c, conn, port, srv };
    }

    before(async () => {
      await side.setup();
      cb = side.backend();
    });
    after(async () => {
      for (const s of open.splice(0)) await s.close();
      await side.teardown();
    });

    it('echo round trip: 200 kB through an echoing server', async () => {
      const { srv, port } = await listener();
      const payload = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
      const serving = (async () => {
        const [conn] = await srv.accept();
        track(conn);
        for await (const chunk of conn) await conn.sendall(chunk);
        await conn.close();
      })();
      const c = cli();
      await c.connect([HOST, port]);
      const reading = readExactly(c, payload.length);
      await c.sendall(payload);
      assert.deepEqual(await reading, payload);
      await c.close();
      await serving;
    });

    it('connect to a closed port fails ECONNREFUSED with a readable message', async () => {
      const tmp = srvSock();
      await tmp.bind([HOST, 0]);
      const port = (tmp.getsockname() as [string, number])[1];
      await tmp.close();
      const e = await rejects(cli().connect([HOST, port]), 'ECONNREFUSED', 'connect');
      assert.equal(e.errno, 111);
      assert.match(e.message, new RegExp(`connect ECONNREFUSED 127\\.0\\.0\\.1:${port}: .*refused`));
      assert.equal(await cli().connectEx([HOST, port]), 111);
    });

    it('recv after the peer closes returns an empty array, every time', async () => {
      const { c, conn } = await pair();
      await conn.sendall('bye');
      await conn.close();
      assert.equal(text(await readExactly(c, 3)), 'bye');
      assert.equal((await c.recv(10)).length, 0);
      assert.equal((await c.recv(10)).length, 0);
    });

    it('send after the peer reset fails EPIPE or ECONNRESET', async () => {
      const { c, conn } = await pair();
      conn.setsockopt(SOL_SOCKET, SO_LINGER, [1, 0]);
      await conn.close();
      let err: SocketError | undefined;
      for (let i = 0; i < 200 && !err; i++) {
        try {
          await c.send(enc.encode('are you there?'));
          await sleep(5);
        } catch (e) {
          err = e as SocketError;
        }
      }
      assert.ok(err instanceof SocketError, 'send kept succeeding after a RST');
      assert.ok(err.code === 'EPIPE' || err.code === 'ECONNRESET', String(err));
    });

    it('recv after the peer reset raises ECONNRESET once, then end of stream', async () => {
      const { c, conn } = await pair();
      conn.setsockopt(SOL_SOCKET, SO_LINGER, [1, 0]);
      await conn.close();
      await rejects(c.recv(10), 'ECONNRESET', 'recv');
      assert.equal((await c.recv(10)).length, 0);
    });

    it('close() after sendall still delivers every byte, then end of stream', async () => {
      const { c, conn } = await pair();
      const payload = new Uint8Array(300_000).map((_, i) => (i * 13) & 0xff);
      await c.sendall(payload);
      await c.close();
      assert.deepEqual(await readExactly(conn, payload.length), payload);
      assert.equal((await conn.recv(10)).length, 0);
    });

    it('settimeout: recv raises the timeout error, and no data is lost', async () => {
      const { c, conn } = await pair();
      c.settimeout(0.05);
      const e = await rejects(c.recv(10), 'ETIMEDOUT', 'recv');
      assert.ok(e instanceof SocketTimeoutError);
      assert.equal(e.message, 'timed out');
      await conn.sendall('late');
      assert.equal(text(await c.recv(10)), 'late');
    });

    it('non-blocking: recv raises EAGAIN; connect raises EINPROGRESS then completes', async () => {
      const { c, srv, port } = await pair();
      c.setblocking(false);
      await rejects(c.recv(10), 'EAGAIN', 'recv');
      c.setblocking(true);
      await rejects(c.recv(10, MSG_DONTWAIT), 'EAGAIN', 'recv');
      const nb = cli();
      nb.setblocking(false);
      await rejects(nb.connect([HOST, port]), 'EINPROGRESS', 'connect');
      const [c2] = await srv.accept();
      track(c2);
      let code = -1;
      for (let i = 0; i < 200 && code !== 106; i++) {
        code = await nb.connectEx([HOST, port]);
        if (code !== 106) await sleep(5);
      }
      assert.equal(code, 106, 'EISCONN once the handshake is done');
      assert.equal(nb.getsockopt(SOL_SOCKET, SO_ERROR), 0);
    });

    it('misuse: EBADF after close, EPIPE sending before connect (as Linux), EISCONN connecting twice', async () => {
      const { c, port } = await pair();
      await rejects(c.connect([HOST, port]), 'EISCONN', 'connect');
      const fresh = cli();
      await rejects(fresh.send('x'), 'EPIPE');
      await c.close();
      await rejects(c.recv(1), 'EBADF');
    });

    it('recvInto and async iteration', async () => {
      const { c, conn } = await pair();
      await conn.sendall('abcdef');
      const buf = new Uint8Array(4);
      assert.equal(await c.recvInto(buf), 4);
      assert.equal(text(buf), 'abcd');
      await conn.close();
      const rest: string[] = [];
      for await (const chunk of c) rest.push(text(chunk));
      assert.equal(rest.join(''), 'ef');
    });

    it('UDP: connected send/recv; send on an unconnected one is EDESTADDRREQ; recv truncates', async () => {
      const a = srvSock(SOCK_DGRAM);
      await a.bind([HOST, 0]);
      const c = cli(SOCK_DGRAM);
      await rejects(c.send('x'), 'EDESTADDRREQ', 'send');
      await c.connect(a.getsockname() as [string, number]);
      await c.send('ping');
      const [data, from] = await a.recvfrom(10);
      assert.equal(text(data), 'ping');
      await a.sendto('pong-pong', from as [string, number]);
      assert.equal(text(await c.recv(4)), 'pong');
      assert.deepEqual(c.getpeername(), a.getsockname());
    });

    it('UDP: port unreachable on a connected socket raises ECONNREFUSED on a later call', async () => {
      const tmp = srvSock(SOCK_DGRAM);
      await tmp.bind([HOST, 0]);
      const dead = tmp.getsockname() as [string, number];
      await tmp.close();
      const c = cli(SOCK_DGRAM);
      await c.connect(dead);
      c.settimeout(2);
      await c.send('anyone?');
      await rejects(c.recv(10), 'ECONNREFUSED');
    });
  });
}
