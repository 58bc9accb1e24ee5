/**
 * sockstack in a real browser: Debian's `chromium`, driven by playwright-core pointed at
 * the system binary (nothing is downloaded). The bundle from scripts/build-browser.ts
 * and the pages in test/browser/pages/ are served by a small static server on
 * 127.0.0.1. Covered: 16 MiB byte-exact between two stacks in one page; two stacks in
 * two Web Workers over a MessagePort link; a page's stack and a Node stack joined by
 * WebSocket links through the relay, with node:http answering; the course's echo
 * session with `await sock.recv(1024)` in the page. Skips, saying chromium is not
 * installed, when it is not.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { buildBrowser } from '../../scripts/build-browser.ts';
import { connectWebSocketLink } from '../../src/link/websocket.ts';
import { stackNet } from '../../src/node/net-facade.ts';
import { startRelay } from '../../src/node/relay.ts';
import { StackRuntime } from '../../src/node/runtime.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { Stack } from '../../src/stack.ts';
import { serveStatic } from './static-server.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const skip = CHROMIUM === undefined ? 'chromium is not installed (apt-get install chromium)' : false;
const MiB = 1 << 20;

/** Rejects when `p` has not settled after `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

describe('in Chromium', { skip }, () => {
  const outdir = mkdtempSync(join(tmpdir(), 'sockstack-chromium-'));
  let browser: Browser;
  let base = '';
  let closeServer = async (): Promise<void> => {};

  before(async () => {
    await buildBrowser(outdir);
    const server = await serveStatic({
      '/': outdir,
      '/pages/': new URL('./pages/', import.meta.url).pathname,
    });
    base = server.url;
    closeServer = server.close;
    browser = await within(
      chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        // Chromium's sandbox refuses to run as root.
        args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
        timeout: 30_000,
      }),
      40_000,
      'launching chromium',
    );
  });

  after(async () => {
    await browser?.close();
    await closeServer();
    rmSync(outdir, { recursive: true, force: true });
  });

  /** Loads a blank page from the server and runs `run(args)` of the page module `module`. */
  async function inPage<T>(module: string, args: unknown, ms: number): Promise<T> {
    const page: Page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${base}/pages/blank.html`, { timeout: 10_000 });
      return await within(
        page.evaluate(([m, a]) => import(m as string).then((x) => x.run(a)), [
          `/pages/${module}`,
          args,
        ] as const),
        ms,
        module,
      );
    } catch (e) {
      if (errors.length) (e as Error).message += `\npage errors: ${errors.join('; ')}`;
      throw e;
    } finally {
      await page.close();
    }
  }

  it('two stacks in one page move 16 MiB byte-exact over a memory cable', { timeout: 180_000 }, async (t) => {
    const r = await inPage<{ bytes: number; mismatches: number; wallMs: number }>(
      'memory.js',
      { bytes: 16 * MiB },
      170_000,
    );
    assert.equal(r.bytes, 16 * MiB);
    assert.equal(r.mismatches, 0);
    t.diagnostic(`16 MiB in ${Math.round(r.wallMs)} ms of the page's time`);
  });

  it('two stacks in two Web Workers over a MessagePort link move 4 MiB byte-exact', {
    timeout: 90_000,
  }, async () => {
    const r = await inPage<{
      server: { bytes: number; mismatches: number; peer: string; frames: number };
      client: { sent: number; frames: number };
    }>('workers.js', { bytes: 4 * MiB, timeoutMs: 60_000 }, 80_000);
    assert.equal(r.server.bytes, 4 * MiB);
    assert.equal(r.server.mismatches, 0);
    assert.equal(r.server.peer, '10.0.0.2');
    // Counted where the bytes arrived: the client's count is taken when close() returns, and its
    // send buffer (autotuned up to 4 MiB) may still hold data then.
    assert.ok(r.server.frames > (4 * MiB) / 1500, `only ${r.server.frames} frames reached the server`);
  });

  it("a page's stack reaches node:http on a Node stack through the WebSocket relay", {
    timeout: 60_000,
  }, async (t) => {
    const relay = await startRelay();
    t.after(() => relay.close());
    // The Node side: a stack on its own WebSocket link (the `ws` package), serving node:http.
    const rt = new StackRuntime();
    t.after(() => rt.stop());
    const link = await connectWebSocketLink(relay.url, { WebSocket, wake: () => rt.kick(), timeoutMs: 5000 });
    t.after(() => link.close());
    const stack = rt.addStack(
      new Stack({ clock: rt.clock, rng: new CryptoRng(), name: 'web', privileged: true }),
    );
    stack.addInterface({ name: 'eth0', device: link, addresses: ['10.0.0.80/24'] });
    const app = http.createServer((req, res) => {
      const body = `Hello from node:http, ${req.socket.remoteAddress}, you asked for ${req.url}\n`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    const listening = await stackNet(stack, rt).attach(app, 80);
    t.after(() => new Promise<void>((r) => listening.close(() => r())));

    const r = await inPage<{ response: string; framesIn: number }>(
      'websocket.js',
      { url: relay.url, address: '10.0.0.2/24', server: '10.0.0.80', path: '/hello?from=page' },
      30_000,
    );
    assert.match(r.response, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(
      r.response,
      /\r\n\r\nHello from node:http, 10\.0\.0\.2, you asked for \/hello\?from=page\n$/,
    );
    assert.ok(relay.stats.framesIn >= 6, `relay saw ${relay.stats.framesIn} frames`);
  });

  it("the course's echo session runs in the page, reading with await sock.recv(1024)", {
    timeout: 60_000,
  }, async () => {
    const r = await inPage<{ log: string[] }>('echo.js', { message: 'Hello, world' }, 30_000);
    assert.equal(r.log.length, 2);
    assert.match(r.log[0], /^server: connected by 10\.0\.0\.2:\d+$/);
    assert.equal(r.log[1], 'client: received "Hello, world"');
  });
});
