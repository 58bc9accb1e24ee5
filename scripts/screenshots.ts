/**
 * Screenshots of the course page (`sockstack web`) for docs/, taken in Debian's
 * chromium with playwright-core:
 *
 *   docs/web-page.png       the echo session over TCP, played to the end
 *   docs/web-page-loss.png  the same with 20% loss per link (seed 3): retransmissions
 *   docs/web-page-udp.png   UDP with MTU 576 on the server's subnet: IP fragments
 *
 *   node --import tsx scripts/screenshots.ts [--outdir docs]
 *
 * Also prints how long the page took to show the session's first event.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildWebPage, serveWebPage } from '../src/cli/web.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

const SHOTS = [
  { file: 'web-page.png', query: '', pick: 'data: client' },
  {
    file: 'web-page-loss.png',
    query: `?loss=20&seed=3&message=${encodeURIComponent('x'.repeat(4000))}`,
    pick: 'retransmission',
  },
  {
    file: 'web-page-udp.png',
    query: `?udp=1&mtu=576&message=${encodeURIComponent('y'.repeat(2000))}`,
    pick: 'IP fragment 2',
  },
];

async function main(): Promise<number> {
  if (!CHROMIUM) {
    console.error('screenshots: chromium is not installed (apt-get install chromium)');
    return 1;
  }
  const i = process.argv.indexOf('--outdir');
  const outdir = i > 0 ? process.argv[i + 1] : join(root, 'docs');
  mkdirSync(outdir, { recursive: true });
  const server = await serveWebPage(await buildWebPage());
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1250 } });
    for (const s of SHOTS) {
      await page.goto(`${server.url}${s.query}`);
      await page.waitForSelector('body[data-state]:not([data-state=running])', { timeout: 30_000 });
      const ms = await page.evaluate(() => document.body.dataset.firstPaintMs);
      await page.click('#end');
      // Show the envelopes of the first frame whose label has `pick`.
      await page.locator('.frame-button', { hasText: s.pick }).first().click();
      await page.screenshot({ path: join(outdir, s.file), fullPage: true });
      console.log(`${join(outdir, s.file)}  (first event on screen ${ms} ms after the script started)`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
  return 0;
}

process.exitCode = await main();
