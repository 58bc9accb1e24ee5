/**
 * The wisp socket backend through our Wisp server, in Node over loopback: real TCP and
 * UDP echo servers on 127.0.0.1, the allow-list, error mapping, stream limits and
 * back-pressure both ways. Every destination is on loopback; refused destinations are
 * refused before any packet leaves.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startWispServer, type WispServer } from '../../src/node/wisp-server.ts';
import type { SocketBackend } from '../../src/socket/backend.ts';
import { AF_INET, AF_INET6, AF_UNIX, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Socket } from '../../src/socket/socket.ts';
import { wispBackend } from '../../src/wisp/backend.ts';
import { WispClient, type WispClientOptions, type WispTransportConstructor } from '../../src/wisp/client.ts';

const MiB = 1 << 20;
const WS = WebSocket as unknown as WispTransportConstructor;

/** Polls `cond` every 10 ms, at most `tries` times; fails with `what` if it never holds. */
async function until(cond: () => boolean, what: string, tries = 1000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never happened: ${what}`);
}

function pattern(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >>> 8)) & 0xff;
  return b;
}

async function listenTcp(onConn: (s: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => {
    s.on('error', () => {}); // resets are part of some tests
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const { server, port } = await listenTcp(() => {});
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Remembers a value between polls. */
const lastWritten = {
  v: -1,
  swap(w: number): number {
    const old = this.v;
    this.v = w;
    return old;
  },
};

async function recvExactly(sock: Socket, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  for (let i = 0; got < n && i < 100_000; i++) {
    const d = await sock.recv(Math.min(65536, n - got));
    if (d.length === 0) break;
    out.set(d, got);
    got += d.length;
  }
  assert.equal(got, n, 'stream ended early');
  return out;
}

describe('wisp: the socket backend through our server, over loopback', () => {
  let echo: net.Server;
  let echoPort = 0;
  let udpEcho: dgram.Socket;
  let udpPort = 0;
  let server: WispServer;
  const clients: WispClient[] = [];
  const extraServers: WispServer[] = [];

  async function connectClient(url: string, opts: WispClientOptions = {}): Promise<WispClient> {
    const c = await WispClient.connect(url, { ...opts, WebSocket: WS });
    clients.push(c);
    return c;
  }
  async function backendFor(
    url = server.url,
    opts: WispClientOptions = {},
  ): Promise<[SocketBackend, WispClient]> {
    const c = await connectClient(url, opts);
    return [wispBackend(c), c];
  }

  before(async () => {
    ({ server: echo, port: echoPort } = await listenTcp((s) => s.pipe(s)));
    udpEcho = dgram.createSocket('udp4');
    udpEcho.on('message', (m, r) => udpEcho.send(m, r.port, r.address));
    await new Promise<void>((r) => udpEcho.bind(0, '127.0.0.1', r));
    udpPort = udpEcho.address().port;
    server = await startWispServer({
      allow: ['127.0.0.1:*', 'echo.test:*'],
      lookup: async (name) => (name === 'echo.test' ? ['127.0.0.1'] : []),
    });
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const s of [server, ...extraServers]) await s?.close();
    echo?.close();
    udpEcho?.close();
  });

  it('TCP: 2 MiB through a node:net echo server, byte-exact, with await sock.recv', async () => {
    const [backend] = await backendFor();
    const sock = new Socket(backend, AF_INET, SOCK_STREAM);
    await sock.connect(['127.0.0.1', echoPort]);
    assert.deepEqual(sock.getpeername(), ['127.0.0.1', echoPort]);
    await sock.sendall('hello');
    assert.equal(new TextDecoder().decode(await sock.recv(1024)), 'hello');
    const data = pattern(2 * MiB);
    const [, back] = await Promise.all([sock.sendall(data), recvExactly(sock, data.length)]);
    assert.ok(Buffer.from(back).equals(Buffer.from(data)), 'echoed bytes differ');
    await sock.close();
  });

  it('TCP: the peer closing reads as end of stream, every time', async () => {
    const { server: once, port } = await listenTcp((s) => s.end('bye'));
    const [backend] = await backendFor();
    const sock = new Socket(backend, AF_INET, SOCK_STREAM);
    await sock.connect(['127.0.0.1', port]);
    assert.equal(new TextDecoder().decode(await recvExactly(sock, 3)), 'bye');
    assert.equal((await sock.recv(10)).length, 0);
    assert.equal((await sock.recv(10)).length, 0);
    await sock.close();
    once.close();
  });

  it('TCP: a peer reset raises ECONNRESET once, then end of stream', async () => {
    const { server: rst, port } = await listenTcp((s) => s.once('data', () => s.resetAndDestroy()));
    const [backend] = await backendFor();
    const sock = new Socket(backend, AF_INET, SOCK_STREAM);
    await sock.connect(['127.0.0.1', port]);
    await sock.sendall('x');
    await assert.rejects(sock.recv(10), { code: 'ECONNRESET' });
    assert.equal((await sock.recv(10)).length, 0);
    await assert.rejects(sock.send('y'), { code: 'EPIPE' });
    await sock.close();
    rst.close();
  });

  it('TCP: a closed port fails ECONNREFUSED with a readable message', async () => {
    const port = await closedPort();
    const [backend] = await backendFor();
    const sock = new Socket(backend, AF_INET, SOCK_STREAM);
    await assert.rejects(sock.connect(['127.0.0.1', port]), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ECONNREFUSED');
      assert.match(
        e.message,
        new RegExp(`connect ECONNREFUSED 127\\.0\\.0\\.1:${port}: .*REFUSED \\(0x44\\)`),
      );
      return true;
    });
  });

  it('names are resolved by the server: a stand-in address here, the name in the CONNECT', async () => {
    const [backend] = await backendFor();
    const sock = new Socket(backend, AF_INET, SOCK_STREAM);
    await sock.connect(['echo.test', echoPort]);
    const [peer] = sock.getpeername() as [string, number];
    assert.match(peer, /^198\.1[89]\./);
    await sock.sendall('via name');
    assert.equal(new TextDecoder().decode(await recvExactly(sock, 8)), 'via name');
    await sock.close();
    const bad = new Socket(backend, AF_INET, SOCK_STREAM);
    await assert.rejects(bad.connect(['nowhere.test', 80]), { code: 'EHOSTUNREACH' });
    const local = new Socket(backend, AF_INET, SOCK_STREAM);
    await local.connect(['localhost', echoPort]);
    assert.deepEqual(local.getpeername(), ['127.0.0.1', echoPort]);
    await local.close();
  });

  it('the allow-list: a destination outside it fails EACCES and is counted, nothing is opened', async () => {
    const strict = await startWispServer({ allow: [`127.0.0.1:${echoPort}`] });
    extraServers.push(strict);
    const [backend] = await backendFor(strict.url);
    const other = await closedPort();
    const sock = new Socket(backend, AF_INET, SOCK_STREAM);
    await assert.rejects(sock.connect(['127.0.0.1', other]), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EACCES');
      assert.match(e.message, /BLOCKED \(0x48\)/);
      return true;
    });
    const ok = new Socket(backend, AF_INET, SOCK_STREAM);
    await ok.connect(['127.0.0.1', echoPort]);
    await ok.close();
    assert.equal(strict.stats.streamsRefused, 1);
    assert.equal(strict.stats.streamsOpened, 1);
  });

  it('the default policy refuses link-local and metadata addresses (before any packet leaves)', async () => {
    const open = await startWispServer();
    extraServers.push(open);
    const [backend] = await backendFor(open.url);
    for (const host of ['169.254.169.254', '0.0.0.0', '224.0.0.1']) {
      const sock = new Socket(backend, AF_INET, SOCK_STREAM);
      await assert.rejects(sock.connect([host, 80]), { code: 'EACCES' }, host);
    }
    assert.equal(open.stats.streamsOpened, 0);
    assert.equal(open.stats.streamsRefused, 3);
  });

  it('streams per client are bounded: beyond maxStreams a connect is refused (THROTTLED)', async () => {
    const small = await startWispServer({ allow: ['127.0.0.1:*'], maxStreams: 2 });
    extraServers.push(small);
    const [backend] = await backendFor(small.url);
    const a = new Socket(backend, AF_INET, SOCK_STREAM);
    const b = new Socket(backend, AF_INET, SOCK_STREAM);
    await a.connect(['127.0.0.1', echoPort]);
    await b.connect(['127.0.0.1', echoPort]);
    const c = new Socket(backend, AF_INET, SOCK_STREAM);
    await assert.rejects(c.connect(['127.0.0.1', echoPort]), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ECONNREFUSED');
      assert.match(e.message, /THROTTLED \(0x49\)/);
      return true;
    });
    await a.close();
    await until(() => small.openStreams === 1, 'the server freed the closed stream');
    const d = new Socket(backend, AF_INET, SOCK_STREAM);
    await d.connect(['127.0.0.1', echoPort]);
    await d.close();
    await b.close();
  });

  it('WispClient.connect to a port where no server listens fails ECONNREFUSED', async () => {
    const port = await closedPort();
    await assert.rejects(WispClient.connect(`ws://127.0.0.1:${port}/`, { WebSocket: WS, timeoutMs: 5000 }), {
      code: 'ECONNREFUSED',
    });
  });

  it('IPv6: an AF_INET6 socket reaches an echo server on ::1', async () => {
    const echo6 = net.createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => echo6.listen(0, '::1', r));
    const port = (echo6.address() as net.AddressInfo).port;
    const v6 = await startWispServer({ allow: ['[::1]:*'] });
    extraServers.push(v6);
    const [backend] = await backendFor(v6.url);
    const sock = new Socket(backend, AF_INET6, SOCK_STREAM);
    await sock.connect(['::1', port]);
    assert.deepEqual(sock.getpeername(), ['::1', port, 0, 0]);
    await sock.sendall('six');
    assert.equal(new TextDecoder().decode(await recvExactly(sock, 3)), 'six');
    await sock.close();
    echo6.close();
    const v4 = new Socket(backend, AF_INET, SOCK_STREAM);
    await assert.rejects(v4.connect(['127.0.0.1', echoPort]), { code: 'EACCES' });
  });

  it('UDP: connected send/recv through a UDP echo; sendto/recvfrom to an address', async () => {
    const [backend] = await backendFor();
    const sock = new Socket(backend, AF_INET, SOCK_DGRAM);
    await sock.connect(['127.0.0.1', udpPort]);
    await sock.send('ping');
    assert.equal(new TextDecoder().decode(await sock.recv(1024)), 'ping');
    await sock.send('truncated!');
    assert.equal(new TextDecoder().decode(await sock.recv(5)), 'trunc');
    await sock.close();
    const un = new Socket(backend, AF_INET, SOCK_DGRAM);
    await un.sendto('hi', ['127.0.0.1', udpPort]);
    const [data, from] = await un.recvfrom(100);
    assert.equal(new TextDecoder().decode(data), 'hi');
    assert.deepEqual(from, ['127.0.0.1', udpPort]);
    await un.close();
  });

  it('bind, listen and AF_UNIX are not possible over Wisp: EOPNOTSUPP / EAFNOSUPPORT with a reason', async () => {
    const [backend] = await backendFor();
    const s = new Socket(backend, AF_INET, SOCK_STREAM);
    await assert.rejects(s.bind(['127.0.0.1', 0]), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EOPNOTSUPP');
      assert.match(e.message, /only makes outgoing connections/);
      return true;
    });
    const l = new Socket(backend, AF_INET, SOCK_STREAM);
    await assert.rejects(l.listen(1), { code: 'EOPNOTSUPP' });
    const u = new Socket(backend, AF_INET, SOCK_DGRAM);
    await assert.rejects(u.bind(['', 0]), { code: 'EOPNOTSUPP' });
    assert.throws(() => new Socket(backend, AF_UNIX, SOCK_STREAM), { code: 'EAFNOSUPPORT' });
    const c = new Socket(backend, AF_INET, SOCK_STREAM);
    await c.connect(['127.0.0.1', echoPort]);
    assert.throws(() => c.shutdown(1), { code: 'EOPNOTSUPP' });
    await c.close();
  });

  it('back-pressure client → destination: a destination that does not read stops the client at its credit', async () => {
    let peer: net.Socket | undefined;
    const { server: slow, port } = await listenTcp((s) => {
      peer = s;
      s.pause();
    });
    const bp = await startWispServer({ allow: ['127.0.0.1:*'], bufferPackets: 8 });
    extraServers.push(bp);
    const [backend, client] = await backendFor(bp.url, {
      sendBufferBytes: 64 * 1024,
      maxDataPayload: 16 * 1024,
    });
    const sock = new Socket(backend, AF_INET, SOCK_STREAM);
    await sock.connect(['127.0.0.1', port]);
    const total = 16 * MiB;
    const data = pattern(total, 3);
    const sending = sock.sendall(data);
    // The kernel buffers fill, then the server's FIFO, then the client's credit and queue.
    await until(() => bp.stats.maxQueuedPackets >= 8, "the server's FIFO filled");
    const [stream] = [...client.streams];
    await until(
      () => stream!.credit === 0 && stream!.queuedBytes === 64 * 1024,
      'the client is out of credit',
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(bp.stats.maxQueuedPackets <= 8, `FIFO held ${bp.stats.maxQueuedPackets} packets`);
    assert.ok(bp.stats.maxQueuedBytes <= 8 * 16 * 1024, `FIFO held ${bp.stats.maxQueuedBytes} bytes`);
    // Now the destination reads: everything arrives, in order.
    const got: Buffer[] = [];
    let n = 0;
    const done = new Promise<void>((resolve) => {
      peer!.on('data', (b: Buffer) => {
        got.push(b);
        n += b.length;
        if (n >= total) resolve();
      });
    });
    peer!.resume();
    await sending;
    await done;
    assert.ok(Buffer.concat(got).equals(Buffer.from(data)));
    assert.ok(bp.stats.maxQueuedPackets <= 8);
    await sock.close();
    slow.close();
  });

  it('back-pressure destination → client: a page that does not read pauses the relay, memory stays bounded', async () => {
    const total = 32 * MiB;
    const src = pattern(total, 5);
    let written = 0;
    const { server: fast, port } = await listenTcp((s) => {
      const push = (): void => {
        while (written < total) {
          const chunk = src.subarray(written, Math.min(total, written + 256 * 1024));
          written += chunk.length;
          if (!s.write(chunk)) {
            s.once('drain', push);
            return;
          }
        }
        s.end();
      };
      push();
    });
    const bp = await startWispServer({ allow: ['127.0.0.1:*'], maxBufferedBytes: 256 * 1024 });
    extraServers.push(bp);
    const limit = 512 * 1024;
    const [backend, client] = await backendFor(bp.url, { receiveBufferBytes: limit });
    const sock = new Socket(backend, AF_INET, SOCK_STREAM);
    await sock.connect(['127.0.0.1', port]);
    await until(() => client.stats.pauses > 0 && bp.stats.pauses > 0, 'the client and the relay paused');
    // While nobody reads, the source stalls well short of the total and the page holds a bounded amount.
    let still = 0;
    await until(
      () => {
        still = written === lastWritten.swap(written) ? still + 1 : 0;
        return still >= 10;
      },
      'the source stopped writing',
      1000,
    );
    assert.ok(written < total, 'the source wrote everything although nobody read');
    // One WebSocket read's worth of messages may arrive after the pause.
    assert.ok(
      client.stats.maxStreamBytes <= limit + 1 * MiB,
      `the page held ${client.stats.maxStreamBytes} bytes`,
    );
    const got = await recvExactly(sock, total);
    assert.ok(Buffer.from(got).equals(Buffer.from(src)));
    assert.equal((await sock.recv(10)).length, 0);
    await sock.close();
    fast.close();
  });
});
