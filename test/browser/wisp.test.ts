/**
 * The wisp socket backend in a real browser (Debian's chromium through playwright-core,
 * as chromium.test.ts): a page's `socket(AF_INET, SOCK_STREAM)` reaches a node:net echo
 * server on 127.0.0.1 through our Wisp server, reading with `await sock.recv(1024)`;
 * 1 MiB goes through byte-exact on a small CONTINUE credit; a UDP echo answers; a
 * destination outside the allow-list fails EACCES. Skips when chromium is not installed.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { buildBrowser } from '../../scripts/build-browser.ts';
import { startWispServer } from '../../src/node/wisp-server.ts';
import { serveStatic } from './static-server.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const skip = CHROMIUM === undefined ? 'chromium is not installed (apt-get install chromium)' : false;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

describe('wisp in Chromium', { skip }, () => {
  const outdir = mkdtempSync(join(tmpdir(), 'sockstack-wisp-chromium-'));
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

  it("a page's socket talks to a Node TCP echo server through our Wisp server", {
    timeout: 90_000,
  }, async (t) => {
    const echo = net.createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    t.after(() => echo.close());
    const port = (echo.address() as net.AddressInfo).port;
    const udp = dgram.createSocket('udp4');
    udp.on('message', (m, r) => udp.send(m, r.port, r.address));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    t.after(() => udp.close());
    const wisp = await startWispServer({
      allow: [`127.0.0.1:${port}`, `127.0.0.1:${udp.address().port}`],
      bufferPackets: 8,
    });
    t.after(() => wisp.close());

    const page = await browser.newPage();
    t.after(() => page.close());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/pages/blank.html`, { timeout: 10_000 });
    const args = {
      url: wisp.url,
      port,
      udpPort: udp.address().port,
      blockedPort: port === 65535 ? 1 : port + 1,
      message: 'Hello, world',
      bulkBytes: 1 << 20,
    };
    const r = await within(
      page.evaluate((a) => import('/pages/wisp.js' as string).then((m) => m.run(a)), args),
      60_000,
      'wisp.js',
    ).catch((e: Error) => {
      if (errors.length) e.message += `\npage errors: ${errors.join('; ')}`;
      throw e;
    });
    const res = r as {
      log: string[];
      echoed: { n: number; mismatches: number };
      udp: string;
      blocked: string;
      stats: { packetsIn: number; packetsOut: number; badPackets: number };
      initialCredit: number;
    };
    assert.deepEqual(res.log, ['client: received "Hello, world"']);
    assert.deepEqual(res.echoed, { n: 1 << 20, mismatches: 0 });
    assert.equal(res.udp, 'datagram');
    assert.match(res.blocked, /^EACCES: connect EACCES 127\.0\.0\.1:\d+: .*BLOCKED \(0x48\)/);
    assert.equal(res.initialCredit, 8);
    assert.equal(res.stats.badPackets, 0);
    // 1 MiB in DATA packets of at most 32 KiB on a credit of 8: the server granted credit many times.
    assert.ok(
      wisp.stats.packetsOut > 1 + (1 << 20) / (32 * 1024) / 8,
      `server sent ${wisp.stats.packetsOut} packets`,
    );
    assert.ok(wisp.stats.maxQueuedPackets <= 8);
    assert.equal(wisp.stats.streamsRefused, 1);
  });
});
