/**
 * README.md's browser page (`readme-test: browser-page`) in Debian's Chromium: the block
 * is served as a page beside the bundle at ./dist/browser/sockstack.js (built into a
 * temporary directory), with the relay the README starts (`sockstack relay`; here
 * startRelay() on a free port, whose URL replaces ws://127.0.0.1:8080/) and, as the
 * page's comment says, a stack on the relay's Ethernet at 10.0.0.80: a Node stack on
 * its own WebSocket link serving node:http on port 80. The page must print the HTTP
 * response. Skips, saying chromium is not installed, when it is not.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { chromium } from 'playwright-core';
import { WebSocket } from 'ws';
import { buildBrowser } from '../../scripts/build-browser.ts';
import { connectWebSocketLink } from '../../src/link/websocket.ts';
import { stackNet } from '../../src/node/net-facade.ts';
import { startRelay } from '../../src/node/relay.ts';
import { StackRuntime } from '../../src/node/runtime.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { Stack } from '../../src/stack.ts';
import { readmeBlocks } from '../examples/readme-blocks.ts';
import { serveStatic } from './static-server.ts';

const root = new URL('../..', import.meta.url).pathname;
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const skip = CHROMIUM === undefined ? 'chromium is not installed (apt-get install chromium)' : false;

it("README.md's browser page prints the HTTP response of a Node stack on the relay", {
  skip,
  timeout: 120_000,
}, async (t) => {
  const blocks = readmeBlocks(join(root, 'README.md')).filter((b) => b.kind === 'browser-page');
  assert.equal(blocks.length, 1);
  const page = blocks[0].code;
  assert.ok(page.includes("'ws://127.0.0.1:8080/'"), 'the page connects to the relay the README starts');

  const dir = mkdtempSync(join(tmpdir(), 'sockstack-readme-page-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bundle = join(dir, 'dist', 'browser');
  mkdirSync(bundle, { recursive: true });
  await buildBrowser(bundle);

  const relay = await startRelay({ port: 0 });
  t.after(() => relay.close());
  writeFileSync(
    join(dir, 'index.html'),
    `<!doctype html>\n<meta charset="utf-8">\n${page.replace('ws://127.0.0.1:8080/', relay.url)}\n`,
  );
  const server = await serveStatic({ '/': dir });
  t.after(() => server.close());

  // Any stack on the relay's Ethernet at 10.0.0.80: a Node stack serving node:http.
  const rt = new StackRuntime();
  t.after(() => rt.stop());
  const link = await connectWebSocketLink(relay.url, { WebSocket, wake: () => rt.kick(), timeoutMs: 5000 });
  t.after(() => link.close());
  const stack = rt.addStack(
    new Stack({ clock: rt.clock, rng: new CryptoRng(), name: 'web', privileged: true }),
  );
  stack.addInterface({ name: 'eth0', device: link, addresses: ['10.0.0.80/24'] });
  const app = http.createServer((req, res) => {
    const body = `Hello from node:http, ${req.socket.remoteAddress}\n`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  const listening = await stackNet(stack, rt).attach(app, 80);
  t.after(() => new Promise<void>((r) => listening.close(() => r())));

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium's sandbox refuses to run as root.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    timeout: 30_000,
  });
  t.after(() => browser.close());
  const tab = await browser.newPage();
  const errors: string[] = [];
  tab.on('pageerror', (e) => errors.push(e.message));
  const printed = new Promise<string>((resolve) =>
    tab.on('console', (m) => {
      if (m.type() === 'log') resolve(m.text());
    }),
  );
  await tab.goto(`${server.url}/index.html`, { timeout: 10_000 });
  let timer: NodeJS.Timeout | undefined;
  const text = await Promise.race([
    printed,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the page printed nothing in 30 s; errors: ${errors.join('; ')}`)),
        30_000,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(text, /\r\n\r\nHello from node:http, 10\.0\.0\.2\n$/);
});
