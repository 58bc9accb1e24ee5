/**
 * Bulk TCP between two stacks in two workers over a MessagePort link, in chromium
 * (two Web Workers) and in Node (two worker_threads Workers) on the same machine, and
 * the ratio. Both run the same worker script (bench/browser-worker.js) on the same
 * bundle (dist/browser/sockstack.js, built into a temporary directory), with the same
 * link type (MessagePortLink over a MessageChannel), real-time drivers and the
 * sockets API; only the JavaScript engine's host differs.
 *
 *   node --import tsx bench/browser.ts [--mb 64] [--rounds 3]
 *
 * Each round runs Node then chromium, alternating; the best round of each is kept
 * (the machine is shared). MB/s is payload bytes over the server's time from
 * accept() to the end of the stream. Not a test: prints numbers, never fails on
 * speed; without chromium it says so and exits 0.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MessageChannel, Worker } from 'node:worker_threads';
import { chromium } from 'playwright-core';
import { buildBrowser } from '../scripts/build-browser.ts';

const { values } = parseArgs({
  options: { mb: { type: 'string', default: '64' }, rounds: { type: 'string', default: '3' } },
});
const bytes = Math.max(1, Number(values.mb)) * (1 << 20);
const rounds = Math.max(1, Math.min(20, Number(values.rounds)));
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const WORKER = fileURLToPath(new URL('./browser-worker.js', import.meta.url));
const TIMEOUT_MS = 300_000;

interface Result {
  bytes: number;
  ms: number;
}

// The page's side: the same orchestration as runNode, with Web Workers.
const PAGE = `
export async function run({ bytes, timeoutMs }) {
  const lib = new URL('/sockstack.js', location.href).href;
  const reply = (w) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer from a worker')), timeoutMs);
    w.onmessage = (e) => { clearTimeout(timer); e.data.error ? reject(new Error(e.data.error)) : resolve(e.data); };
    w.onerror = (e) => { clearTimeout(timer); reject(new Error('worker failed: ' + e.message)); };
  });
  const server = new Worker('/browser-worker.js', { type: 'module' });
  const client = new Worker('/browser-worker.js', { type: 'module' });
  try {
    const ch = new MessageChannel();
    const ready = reply(server);
    server.postMessage({ role: 'server', address: '10.0.0.1/24', port: ch.port1, bytes, lib }, [ch.port1]);
    await ready;
    const got = reply(server);
    const sent = reply(client);
    client.postMessage({ role: 'client', address: '10.0.0.2/24', port: ch.port2, bytes, lib }, [ch.port2]);
    await sent;
    return await got;
  } finally {
    server.terminate();
    client.terminate();
  }
}
`;

function reply(w: Worker): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer from a worker')), TIMEOUT_MS);
    w.once('message', (m: Record<string, unknown>) => {
      clearTimeout(timer);
      if (m.error) reject(new Error(String(m.error)));
      else resolve(m);
    });
    w.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function runNode(lib: string): Promise<Result> {
  const server = new Worker(WORKER);
  const client = new Worker(WORKER);
  try {
    const ch = new MessageChannel();
    const ready = reply(server);
    server.postMessage({ role: 'server', address: '10.0.0.1/24', port: ch.port1, bytes, lib }, [ch.port1]);
    await ready;
    const got = reply(server);
    const sent = reply(client);
    client.postMessage({ role: 'client', address: '10.0.0.2/24', port: ch.port2, bytes, lib }, [ch.port2]);
    await sent;
    return (await got) as unknown as Result;
  } finally {
    await Promise.all([server.terminate(), client.terminate()]);
  }
}

async function serve(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const files: Record<string, [string, () => Buffer | string]> = {
    '/': ['text/html', () => '<!doctype html><title>sockstack bench</title>'],
    '/bench.js': ['text/javascript', () => PAGE],
    '/browser-worker.js': ['text/javascript', () => readFileSync(WORKER)],
    '/sockstack.js': ['text/javascript', () => readFileSync(join(dir, 'sockstack.js'))],
  };
  const server = http.createServer((req, res) => {
    const f = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': `${f[0]}; charset=utf-8` });
    res.end(f[1]());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const mbps = (r: Result) => r.bytes / (1 << 20) / (r.ms / 1000);

async function main(): Promise<void> {
  if (!CHROMIUM) {
    console.log('bench/browser: chromium is not installed (apt-get install chromium); skipped');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-bench-browser-'));
  const [core] = await buildBrowser(dir);
  const lib = pathToFileURL(core.file).href;
  const server = await serve(dir);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  const page = await browser.newPage();
  await page.goto(server.url);
  console.log(
    `bulk TCP, ${bytes / (1 << 20)} MiB, two stacks in two workers over a MessagePort link (${rounds} rounds, best kept)`,
  );
  let bestNode = 0;
  let bestBrowser = 0;
  try {
    for (let r = 1; r <= rounds; r++) {
      const n = await runNode(lib);
      if (n.bytes !== bytes) throw new Error(`node: ${n.bytes} bytes arrived of ${bytes}`);
      const b = await page.evaluate(
        ([module, size, ms]) => import(module).then((m) => m.run({ bytes: size, timeoutMs: ms })),
        ['/bench.js', bytes, TIMEOUT_MS] as const,
      );
      if (b.bytes !== bytes) throw new Error(`chromium: ${b.bytes} bytes arrived of ${bytes}`);
      bestNode = Math.max(bestNode, mbps(n));
      bestBrowser = Math.max(bestBrowser, mbps(b));
      console.log(
        `  round ${r}: node ${mbps(n).toFixed(1)} MB/s, chromium ${mbps(b).toFixed(1)} MB/s (ratio ${(mbps(b) / mbps(n)).toFixed(2)})`,
      );
    }
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const version = browser.version();
  console.log(`node ${process.version}: ${bestNode.toFixed(1)} MB/s`);
  console.log(`chromium ${version}: ${bestBrowser.toFixed(1)} MB/s`);
  console.log(`chromium / node: ${(bestBrowser / bestNode).toFixed(2)}×`);
}

await main();
