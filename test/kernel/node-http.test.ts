/**
 * Node's own HTTP code over sockstack, with real programs as the peer: a
 * `node:http` server attached to a stack on a TAP (`stackNet(...).attach`) and
 * `curl` in the kernel's namespace fetching from it (a small JSON answer, a
 * 4 MiB body checked by SHA-256, two URLs on one keep-alive connection, a 2 MiB
 * POST echoed back), and the reverse: `http.get` through `StackHttpAgent` from
 * the stack to `python3 -m http.server` in the namespace.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { StackHttpAgent } from '../../src/node/agents.ts';
import { type StackNet, stackNet } from '../../src/node/net-facade.ts';
import type { TapStackHost } from '../../src/node/tap-stack.ts';
import { host, lines, skipUnless } from './helpers.ts';

const MiB = 1 << 20;
const PORT = 8080;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-node-http-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Served {
  h: TapStackHost;
  net: StackNet;
  server: http.Server;
  /** Connections the server accepted. */
  connections: () => number;
  base: string;
}

/**
 * A tapStack with a node:http server attached on PORT:
 * - GET /json: a small JSON answer with the request's details
 * - GET /big: `big`
 * - POST /echo: the request body back
 */
async function serve(t: TestContext, big: Uint8Array = new Uint8Array(0)): Promise<Served> {
  const h = await host(t);
  const net = stackNet(h.stack, h.driver);
  let connections = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/json' || req.url?.startsWith('/json?'))) {
      const body = JSON.stringify({
        hello: 'from node:http on sockstack',
        method: req.method,
        url: req.url,
        userAgent: req.headers['user-agent'],
        remote: `${req.socket.remoteAddress}`,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } else if (req.method === 'GET' && req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': big.length });
      res.end(big);
    } else if (req.method === 'POST' && req.url === '/echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
    } else {
      res.writeHead(404).end('not found\n');
    }
  });
  server.on('connection', () => {
    connections++;
  });
  // Registered before host()'s cleanup runs (after hooks run in reverse order).
  t.after(async () => {
    net.closeAll();
    if (server.listening) await new Promise<void>((r) => server.close(() => r()));
  });
  await net.attach(server, PORT);
  return { h, net, server, connections: () => connections, base: `http://${h.stackIp}:${PORT}` };
}

describe('node:http on sockstack over a TAP, curl in the namespace', () => {
  it('GET a small JSON answer', async (t) => {
    if (skipUnless(t, ['curl'])) return;
    const s = await serve(t);
    const r = await s.h.exec(['curl', '-sS', '--fail', '--max-time', '10', `${s.base}/json`]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Record<string, string>;
    assert.equal(j.hello, 'from node:http on sockstack');
    assert.equal(j.method, 'GET');
    assert.equal(j.url, '/json');
    assert.match(j.userAgent, /^curl\//);
    assert.equal(j.remote, s.h.kernelIp);
  });

  it('GET a 4 MiB body, SHA-256 checked in the namespace', async (t) => {
    if (skipUnless(t, ['curl', 'sha256sum'])) return;
    const big = new Uint8Array(randomBytes(4 * MiB));
    const s = await serve(t, big);
    const dir = tempDir(t);
    const file = join(dir, 'big');
    const r = await s.h.exec(
      [
        'sh',
        '-c',
        'curl -sS --fail --max-time 30 -o "$1" -w "%{http_code} %{size_download}\\n" "$2" && sha256sum "$1"',
        'sh',
        file,
        `${s.base}/big`,
      ],
      { timeoutMs: 40_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const [status, hashLine] = r.stdout.trim().split('\n');
    assert.equal(status, `200 ${big.length}`);
    assert.equal(hashLine.split(/\s+/)[0], sha256(big));
  });

  it('keep-alive: two URLs in one curl run share one connection', async (t) => {
    if (skipUnless(t, ['curl'])) return;
    const s = await serve(t);
    const r = await s.h.exec([
      'curl',
      '-sS',
      '--fail',
      '--max-time',
      '10',
      '-o',
      '/dev/null',
      '-o',
      '/dev/null',
      '--write-out',
      '%{http_code} %{num_connects}\\n',
      `${s.base}/json`,
      `${s.base}/json?second`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    // num_connects counts the connections each transfer had to open: the second reuses the first's.
    assert.deepEqual(r.stdout.trim().split('\n'), ['200 1', '200 0']);
    assert.equal(s.connections(), 1);
  });

  it('POST a 2 MiB upload, echoed back byte-exact', async (t) => {
    if (skipUnless(t, ['curl'])) return;
    const s = await serve(t);
    const dir = tempDir(t);
    const up = new Uint8Array(randomBytes(2 * MiB));
    writeFileSync(join(dir, 'up'), up);
    const r = await s.h.exec(
      [
        'curl',
        '-sS',
        '--fail',
        '--max-time',
        '30',
        '-H',
        'content-type: application/octet-stream',
        '--data-binary',
        `@${join(dir, 'up')}`,
        '-o',
        join(dir, 'down'),
        '-w',
        '%{http_code} %{size_upload} %{size_download}',
        `${s.base}/echo`,
      ],
      { timeoutMs: 40_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `200 ${up.length} ${up.length}`);
    assert.equal(sha256(readFileSync(join(dir, 'down'))), sha256(up));
  });
});

describe('node:http client on sockstack over a TAP, python3 -m http.server in the namespace', () => {
  it('http.get through StackHttpAgent: a text file and 1 MiB of random bytes', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await host(t);
    const dir = tempDir(t);
    const blob = new Uint8Array(randomBytes(MiB));
    writeFileSync(join(dir, 'blob.bin'), blob);
    writeFileSync(join(dir, 'hello.txt'), 'hello from the kernel side\n');
    const py = h.spawn([
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
    await lines(py, 'python3 -m http.server').waitFor(/Serving HTTP/, 15_000);
    const net = stackNet(h.stack, h.driver);
    const agent = new StackHttpAgent(net);
    t.after(() => {
      agent.destroy();
      net.closeAll();
    });
    const get = (path: string) =>
      new Promise<{ status: number | undefined; type: string | undefined; body: Buffer }>(
        (resolve, reject) => {
          const req = http.get({ host: h.kernelIp, port: 8000, path, agent }, (res) => {
            const parts: Buffer[] = [];
            res.on('data', (b: Buffer) => parts.push(b));
            res.on('end', () =>
              resolve({
                status: res.statusCode,
                type: res.headers['content-type'],
                body: Buffer.concat(parts),
              }),
            );
            res.on('error', reject);
          });
          req.setTimeout(20_000, () => req.destroy(new Error(`GET ${path}: no answer within 20 s`)));
          req.on('error', reject);
        },
      );
    const a = await get('/hello.txt');
    assert.equal(a.status, 200);
    assert.match(a.type ?? '', /^text\/plain/);
    assert.equal(a.body.toString('utf8'), 'hello from the kernel side\n');
    const b = await get('/blob.bin');
    assert.equal(b.status, 200);
    assert.equal(b.body.length, blob.length);
    assert.equal(sha256(b.body), sha256(blob));
    const c = await get('/missing');
    assert.equal(c.status, 404);
  });
});
