/**
 * HTTP between sockstack and real programs in a namespace over a TAP: curl
 * fetching from a tiny HTTP/1.0 responder on sockstack, and sockstack's GET
 * client fetching from `python3 -m http.server`. The same HTTP code runs over two
 * transports: the stream-socket API (`stack.socket(AF_INET, SOCK_STREAM)`, skipped
 * with the reason until the stack has a stream backend) and the TCP engine
 * directly (`stack.tcp`), so the interop is covered either way.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { AF_INET, SOCK_STREAM } from '../../src/socket/constants.ts';
import type { Socket } from '../../src/socket/socket.ts';
import type { Stack } from '../../src/stack.ts';
import { host, lines, skipUnless } from './helpers.ts';
import { type RawConn, rawConnect, rawListen } from './raw-tcp.ts';

/** The few stream operations the HTTP code needs. */
interface Stream {
  sendall(data: Uint8Array): Promise<void>;
  /** Up to `n` bytes; empty at EOF. */
  recv(n: number): Promise<Uint8Array>;
  close(): Promise<void>;
}
interface Transport {
  name: string;
  /** Why this transport cannot run here, or undefined. */
  unavailable(stack: Stack): string | undefined;
  listen(stack: Stack, port: number): Promise<{ accept(): Promise<Stream>; close(): Promise<void> }>;
  connect(stack: Stack, host: string, port: number): Promise<Stream>;
}

function socketStream(s: Socket): Stream {
  return {
    sendall: (d) => s.sendall(d),
    recv: (n) => s.recv(n),
    close: () => s.close(),
  };
}

const sockets: Transport = {
  name: 'stream sockets',
  unavailable(stack) {
    try {
      const s = stack.socket(AF_INET, SOCK_STREAM);
      void s.close();
      return undefined;
    } catch (e) {
      return `stack.socket(AF_INET, SOCK_STREAM) is not available yet: ${(e as Error).message}`;
    }
  },
  async listen(stack, port) {
    const l = stack.socket(AF_INET, SOCK_STREAM);
    await l.bind(['', port]);
    await l.listen(8);
    l.settimeout(10);
    return {
      accept: async () => {
        const [c] = await l.accept();
        c.settimeout(20);
        return socketStream(c);
      },
      close: () => l.close(),
    };
  },
  async connect(stack, h, port) {
    const s = stack.socket(AF_INET, SOCK_STREAM);
    s.settimeout(20);
    await s.connect([h, port]);
    return socketStream(s);
  },
};

function rawStream(c: RawConn): Stream {
  return {
    sendall: async (d) => {
      await c.writeAll(d, 20_000);
    },
    async recv(n) {
      await c.waitUntil(() => c.c.readableLength > 0 || c.ended || c.c.eof || c.closed, 20_000, 'data');
      return c.c.read(n) ?? new Uint8Array(0);
    },
    close: async () => c.c.close(),
  };
}

const engine: Transport = {
  name: 'TCP engine',
  unavailable: () => undefined,
  async listen(stack, port) {
    const l = rawListen(stack, port);
    return {
      accept: async () => rawStream(await l.next(10_000)),
      close: async () => l.close(),
    };
  },
  async connect(stack, h, port) {
    const c = rawConnect(stack, h, port);
    await c.established();
    return rawStream(c);
  },
};

const enc = new TextEncoder();
const dec = new TextDecoder();

async function readAll(s: Stream, max = 64 << 20): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (let i = 0; i < 1_000_000 && n <= max; i++) {
    const b = await s.recv(65536);
    if (b.length === 0) break;
    parts.push(b);
    n += b.length;
  }
  return Buffer.concat(parts);
}

/** A one-request HTTP/1.0 responder: GET /bytes/N answers N deterministic bytes, anything else a greeting. */
async function serveOne(s: Stream): Promise<string> {
  let head = '';
  for (let i = 0; i < 1000 && !head.includes('\r\n\r\n'); i++) {
    const b = await s.recv(4096);
    if (b.length === 0) break;
    head += dec.decode(b);
  }
  const [line] = head.split('\r\n');
  const path = line.split(' ')[1] ?? '/';
  const m = /^\/bytes\/(\d+)$/.exec(path);
  const body = m ? pattern(Number(m[1])) : enc.encode(`hello from sockstack, you asked for ${path}\n`);
  await s.sendall(
    enc.encode(
      `HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nServer: sockstack-test\r\n\r\n`,
    ),
  );
  await s.sendall(body);
  await s.close();
  return line;
}

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + (i >>> 8)) & 0xff;
  return b;
}
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function ready(t: TestContext, transport: Transport, stack: Stack): boolean {
  const why = transport.unavailable(stack);
  if (why === undefined) return true;
  t.skip(why);
  return false;
}

for (const transport of [sockets, engine]) {
  describe(`kernel peer over TAP: HTTP over ${transport.name}`, () => {
    it('curl in the namespace fetches pages from a sockstack HTTP/1.0 server', async (t) => {
      if (skipUnless(t, ['curl', 'sha256sum'])) return;
      const h = await host(t);
      if (!ready(t, transport, h.stack)) return;
      const l = await transport.listen(h.stack, 8080);
      t.after(() => l.close());
      const served = (async () => {
        const a = await serveOne(await l.accept());
        const b = await serveOne(await l.accept());
        return [a, b];
      })();
      const small = await h.exec([
        'curl',
        '-sS',
        '--max-time',
        '15',
        '-i',
        `http://${h.stackIp}:8080/index.html`,
      ]);
      assert.equal(small.code, 0, small.stderr);
      assert.match(small.stdout, /^HTTP\/1\.0 200 OK\r\n/);
      assert.match(small.stdout, /Server: sockstack-test/);
      assert.match(small.stdout, /\r\n\r\nhello from sockstack, you asked for \/index\.html\n$/);
      const N = 3 << 20;
      const big = await h.exec(`curl -sS --max-time 30 http://${h.stackIp}:8080/bytes/${N} | sha256sum`, {
        timeoutMs: 40_000,
      });
      assert.equal(big.code, 0, big.stderr);
      assert.equal(big.stdout.split(' ')[0], sha256(pattern(N)));
      assert.deepEqual(await served, ['GET /index.html HTTP/1.1', `GET /bytes/${N} HTTP/1.1`]);
    });

    it('sockstack’s HTTP GET client fetches from python3 -m http.server in the namespace', async (t) => {
      if (skipUnless(t, ['python3'])) return;
      const h = await host(t);
      if (!ready(t, transport, h.stack)) return;
      const dir = mkdtempSync(join(tmpdir(), 'sockstack-http-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const file = randomBytes(2 << 20);
      writeFileSync(join(dir, 'blob.bin'), file);
      const srv = h.spawn([
        'python3',
        '-u',
        '-m',
        'http.server',
        '--bind',
        h.kernelIp,
        '--directory',
        dir,
        '8000',
      ]);
      await lines(srv, 'http.server').waitFor(/Serving HTTP/);
      const s = await transport.connect(h.stack, h.kernelIp, 8000);
      await s.sendall(
        enc.encode(`GET /blob.bin HTTP/1.0\r\nHost: ${h.kernelIp}:8000\r\nUser-Agent: sockstack\r\n\r\n`),
      );
      const resp = await readAll(s);
      await s.close();
      const split = Buffer.from(resp).indexOf('\r\n\r\n');
      assert.ok(split > 0, 'a header block');
      const head = dec.decode(resp.subarray(0, split));
      const body = resp.subarray(split + 4);
      assert.match(head, /^HTTP\/1\.0 200 OK/);
      assert.match(head, new RegExp(`Content-Length: ${file.length}`));
      assert.equal(body.length, file.length);
      assert.equal(sha256(body), sha256(file));
    });
  });
}
