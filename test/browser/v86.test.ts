/**
 * Issue #20 in a browser: v86 runs in Chromium (Debian's, through playwright-core), and
 * the page itself is the guest's network: a V86Link on the emulator's virtio card, a
 * Gateway in the page (DHCP, DNS forwarder, NAT) and a WispDialer to our Wisp server in
 * Node, which reaches a DNS server and an HTTP server on 127.0.0.1. The guest (Debian's
 * 686 kernel, busybox-static:i386) takes a lease, resolves a name through the forwarder
 * and downloads a file byte-exact. Skips when chromium or the v86 guest is missing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { buildBrowser } from '../../scripts/build-browser.ts';
import { startWispServer } from '../../src/node/wisp-server.ts';
import { dnsServer } from '../gateway/dns-peer.ts';
import { findV86Guest, V86_FETCH_INIT, type V86Guest } from '../gateway/v86-guest.ts';
import { buildInitramfs, UDHCPC } from '../gateway/vm.ts';
import { serveStatic } from './static-server.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const guest = await findV86Guest();
const skip =
  CHROMIUM === undefined
    ? 'chromium is not installed (apt-get install chromium)'
    : typeof guest === 'string'
      ? guest
      : false;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

describe('a v86 guest in Chromium, networked by the page', { skip }, () => {
  const outdir = mkdtempSync(join(tmpdir(), 'sockstack-v86-chromium-'));
  let browser: Browser;
  let base = '';
  let closeServer = async (): Promise<void> => {};

  before(async () => {
    const g = guest as V86Guest;
    await buildBrowser(join(outdir, 'bundle'));
    const guestDir = join(outdir, 'guest');
    mkdirSync(guestDir);
    symlinkSync(g.kernel.vmlinuz, join(guestDir, 'vmlinuz'));
    writeFileSync(
      join(guestDir, 'initrd.gz'),
      buildInitramfs(g.kernel, V86_FETCH_INIT, { 'udhcpc.sh': UDHCPC }, g.busybox),
    );
    const server = await serveStatic({
      '/': join(outdir, 'bundle'),
      '/pages/': new URL('./pages/', import.meta.url).pathname,
      '/v86/': dirname(g.wasm),
      '/seabios/': dirname(g.bios),
      '/guest/': guestDir,
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

  it('takes a DHCP lease, resolves a name and downloads a file through the gateway in the page', {
    timeout: 290_000,
  }, async (t) => {
    const file = randomBytes((1 << 19) + 777);
    const web = http.createServer((req, res) => {
      if (req.url !== '/file.bin') res.writeHead(404).end();
      else res.writeHead(200, { 'content-length': file.length }).end(file);
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    t.after(() => web.close());
    const webPort = (web.address() as AddressInfo).port;
    const dns = await dnsServer();
    t.after(() => dns.close());
    const wisp = await startWispServer({ allow: [`127.0.0.1:${webPort}`, `127.0.0.1:${dns.port}`] });
    t.after(() => wisp.close());

    const page = await browser.newPage();
    t.after(() => page.close());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/pages/blank.html`, { timeout: 10_000 });
    const args = {
      wispUrl: wisp.url,
      dnsPort: dns.port,
      cmdline: `console=ttyS0 loglevel=3 panic=-1 ipv6.disable=1 hostport=${webPort}`,
      ms: 240_000,
      done: 'GW-END',
    };
    const r = (await within(
      page.evaluate((a) => import('/pages/v86.js' as string).then((m) => m.run(a)), args),
      260_000,
      'v86.js',
    ).catch((e: Error) => {
      if (errors.length) e.message += `\npage errors: ${errors.join('; ')}`;
      throw e;
    })) as {
      out: string;
      link: Record<string, number>;
      status: string;
      stats: { tcpFlows: number; bytesIn: number };
    };
    try {
      assert.match(r.out, /GW-DHCP ip=10\.0\.2\.15 router=10\.0\.2\.2 dns=10\.0\.2\.3/);
      assert.match(
        r.out,
        /GW-NSLOOKUP .*Address:? *(1: *)?10\.0\.2\.2/,
        'the name resolved through the forwarder',
      );
      assert.ok(dns.queries.includes('files.test/1'), `upstream saw the query: ${dns.queries.join(' ')}`);
      assert.equal(
        /GW-SHA ([0-9a-f]{64})/.exec(r.out)?.[1],
        sha256(file),
        'the guest downloaded the file byte-exact',
      );
      assert.ok(r.stats.tcpFlows >= 1 && r.stats.bytesIn >= file.length, r.status);
      assert.ok(!/GW-FAIL/.test(r.out));
    } catch (e) {
      console.log(`--- guest console ---\n${r.out}\n--- ${r.status}; link ${JSON.stringify(r.link)}`);
      throw e;
    }
    console.log(`# in the page: ${r.status}; link: ${JSON.stringify(r.link)}`);
  });
});
