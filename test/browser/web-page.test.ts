/**
 * The course page (`sockstack web`, src/web) in Debian's chromium, driven by
 * playwright-core: it plays the echo session the stack runs in the page; what it
 * shows (frames, labels, echoed text) is what the same session gives in Node; step,
 * pause and replay with a seed show the identical trace; the pcapng download parses
 * in tshark; the controls work from the keyboard; text colours keep WCAG contrast.
 * Load time is printed (t.diagnostic), never asserted. Skips when chromium is absent.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { buildWebPage, serveWebPage } from '../../src/cli/web.ts';
import { DEFAULT_SETTINGS, runEchoSession } from '../../src/web/echo-session.ts';
import { hasTshark, tsharkDissect } from '../helpers/tshark.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const skip = CHROMIUM === undefined ? 'chromium is not installed (apt-get install chromium)' : false;

describe('the course page in Chromium', { skip }, () => {
  let browser: Browser;
  let base = '';
  let closeServer = async (): Promise<void> => {};
  const tmp = mkdtempSync(join(tmpdir(), 'sockstack-web-'));

  before(async () => {
    const server = await serveWebPage(await buildWebPage());
    base = server.url;
    closeServer = server.close;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
      timeout: 30_000,
    });
  });

  after(async () => {
    await browser?.close();
    await closeServer();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Opens the page with `query`, waits until the session has run, and collects page errors. */
  async function open(query = ''): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ acceptDownloads: true });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}${query}`, { timeout: 15_000 });
    await page.waitForSelector('body[data-state]:not([data-state=running])', { timeout: 30_000 });
    return { page, errors };
  }

  /** The log as the page shows it: one line per event. */
  const logLines = (page: Page) =>
    page.$$eval('#log li', (lis) => lis.map((li) => (li.textContent ?? '').replace(/\s+/g, ' ').trim()));
  const frameLabels = (page: Page) =>
    page.$$eval('#log .frame-button', (bs) => bs.map((b) => (b.textContent ?? '').replace(/^#\d+ /, '')));
  const progress = (page: Page) => page.textContent('#progress');

  it('plays the echo session: the echo, every frame the simulation saw, envelopes', {
    timeout: 60_000,
  }, async (t) => {
    const { page, errors } = await open();
    const load = await page.evaluate(() => ({ ...document.body.dataset }));
    t.diagnostic(
      `first event on screen ${load.firstPaintMs} ms after the script started; the session ran in ${load.runMs} ms`,
    );
    // It plays on its own: wait for a few events to appear one after another.
    await page.waitForFunction(() => document.querySelectorAll('#log li').length >= 3, undefined, {
      timeout: 20_000,
    });
    await page.click('#end');
    assert.equal(await page.getAttribute('body', 'data-state'), 'done');
    const node = await runEchoSession(DEFAULT_SETTINGS);
    assert.deepEqual(
      await frameLabels(page),
      node.frames.map((f) => f.label),
    );
    assert.equal(await page.$$eval('#log li', (l) => l.length), node.events.length);
    assert.match(
      (await progress(page)) ?? '',
      new RegExp(`frames shown: ${node.frames.length} of ${node.frames.length}`),
    );
    assert.match(
      (await page.textContent('#summary-echoed')) ?? '',
      /^b'Hello, world' \(12 bytes\), the same bytes/,
    );
    assert.match((await page.textContent('#summary-frames')) ?? '', new RegExp(`^${node.frames.length} `));
    // The data segment's envelopes: Ethernet ⊃ IPv4 ⊃ TCP ⊃ data, as the CLI prints them.
    const data = node.frames.find((f) => f.label.startsWith("data: client → server 'Hello, world'"));
    assert.ok(data);
    await page.click(`.frame-button[data-index="${data.index}"]`);
    const titles = await page.$$eval('#envelope .r-title', (s) => s.map((x) => x.textContent));
    assert.deepEqual(
      titles.map((x) => x?.replace(/,.*$/, '')),
      ['Ethernet frame', 'IPv4 datagram', 'TCP segment', 'Data'],
    );
    const env = (await page.textContent('#envelope')) ?? '';
    assert.match(env, /10\.0\.1\.2 → 10\.0\.2\.2 {2}ttl 64/);
    assert.match(env, /Hello, world/);
    // The time–sequence graph has the client's one data segment and its SYN and FIN.
    assert.equal(await page.$$eval('#graph svg .seg', (s) => s.length), 1);
    assert.equal(await page.$$eval('#graph svg .mark.syn, #graph svg .mark.fin', (s) => s.length), 2);
    // Without the receive-window line, whose 64 KiB would flatten 12 bytes into the axis.
    assert.equal(await page.$$eval('#graph svg .win-line', (s) => s.length), 0);
    assert.equal(await page.$$eval('#graph svg .ack-line', (s) => s.length), 1);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('step, pause and replay with a seed show the identical trace', { timeout: 120_000 }, async () => {
    const query = `?seed=5&loss=20&message=${'z'.repeat(3000)}&autoplay=0`;
    // 1: step through it one event at a time, with the Step button.
    const a = await open(query);
    assert.equal(await a.page.getAttribute('body', 'data-state'), 'paused');
    const total = await a.page.evaluate(
      () =>
        (globalThis as unknown as { sockstackPage: { player: { total: number } } }).sockstackPage.player
          .total,
    );
    assert.ok(total > 20 && total < 2000, `${total} events`);
    for (let i = 1; i < total; i++) await a.page.click('#step');
    assert.equal(await a.page.getAttribute('body', 'data-state'), 'done');
    const stepped = await logLines(a.page);
    assert.equal(stepped.length, total);
    // Back one and forward again: the same last line.
    await a.page.click('#back');
    assert.equal((await logLines(a.page)).length, total - 1);
    await a.page.click('#step');
    assert.deepEqual(await logLines(a.page), stepped);
    // 2: "Run again" with the same settings, played, paused half way, then to the end.
    await a.page.click('#run');
    await a.page.waitForFunction(() => document.body.dataset.state === 'playing', undefined, {
      timeout: 20_000,
    });
    await a.page.click('#play');
    assert.equal(await a.page.getAttribute('body', 'data-state'), 'paused');
    const paused = (await logLines(a.page)).length;
    assert.ok(paused >= 1 && paused < total);
    await a.page.click('#end');
    assert.deepEqual(await logLines(a.page), stepped);
    await a.page.close();
    // 3: a fresh page with the same address: the same trace; another seed: another one.
    const b = await open(query);
    await b.page.click('#end');
    assert.deepEqual(await logLines(b.page), stepped);
    await b.page.fill('#seed', '6');
    await b.page.click('#run');
    await b.page.waitForFunction(() => document.body.dataset.state === 'playing', undefined, {
      timeout: 20_000,
    });
    await b.page.click('#end');
    assert.notDeepEqual(await logLines(b.page), stepped);
    // And what the page showed is what Node's run of the same session gives.
    const node = await runEchoSession({
      ...DEFAULT_SETTINGS,
      seed: 5,
      lossPercent: 20,
      message: 'z'.repeat(3000),
    });
    assert.equal(stepped.length, node.events.length);
    assert.deepEqual(stepped.filter((l) => / #\d+ /.test(` ${l}`)).length, node.frames.length);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    await b.page.close();
  });

  it('the downloaded pcapng parses in tshark: the same frames, TCP carrying the echo', {
    timeout: 60_000,
    skip: hasTshark() ? false : 'tshark is not installed',
  }, async () => {
    const { page } = await open('?autoplay=0');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    assert.equal(download.suggestedFilename(), 'sockstack-echo-tcp-seed1.pcapng');
    const file = join(tmp, 'echo.pcapng');
    await download.saveAs(file);
    const r = tsharkDissect(file);
    const node = await runEchoSession(DEFAULT_SETTINGS);
    assert.equal(r.packets, node.frames.length);
    assert.equal(r.malformed, 0);
    assert.equal(r.checksumErrors, 0);
    assert.equal(
      r.protocols.filter((p) => p === 'eth:ethertype:arp').length,
      node.frames.filter((f) => f.dissection.arp).length,
    );
    assert.ok(
      r.protocols.some((p) => p.startsWith('eth:ethertype:ip:tcp:data')),
      r.protocols.join(' '),
    );
    assert.match(r.text, /Data: 48656c6c6f2c20776f726c64/); // "Hello, world"
    await page.close();
  });

  it('works from the keyboard: Tab reaches the controls, Enter and the shortcuts act', {
    timeout: 60_000,
  }, async () => {
    const { page } = await open('?autoplay=0');
    const shown = async () => (await logLines(page)).length;
    assert.equal(await shown(), 1);
    // Tab from the top of the page to the Step button (bounded: the page has few stops).
    let focused = '';
    for (let i = 0; i < 40 && focused !== 'step'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id ?? '');
    }
    assert.equal(focused, 'step');
    // The focus is visible.
    const outline = await page.evaluate(
      () => getComputedStyle(document.activeElement as Element).outlineStyle,
    );
    assert.notEqual(outline, 'none');
    await page.keyboard.press('Enter');
    assert.equal(await shown(), 2);
    await page.keyboard.press('Space');
    assert.equal(await shown(), 3);
    // Shortcuts, with the focus outside the form.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press('ArrowRight');
    assert.equal(await shown(), 4);
    await page.keyboard.press('ArrowLeft');
    assert.equal(await shown(), 3);
    await page.keyboard.press('Space');
    assert.equal(await page.getAttribute('body', 'data-state'), 'playing');
    await page.keyboard.press('Space');
    assert.equal(await page.getAttribute('body', 'data-state'), 'paused');
    await page.keyboard.press('End');
    assert.equal(await page.getAttribute('body', 'data-state'), 'done');
    // The settings form: type a seed, submit with Enter; typing an arrow in a field does not step.
    await page.focus('#seed');
    await page.keyboard.press('ArrowRight');
    await page.fill('#seed', '2');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.body.dataset.state === 'playing', undefined, {
      timeout: 20_000,
    });
    assert.match((await page.textContent('#summary-seed')) ?? '', /^2$/);
    // A frame's envelopes open from the keyboard too.
    await page.keyboard.press('End');
    await page.focus('.frame-button[data-index="3"]');
    await page.keyboard.press('Enter');
    assert.match((await page.textContent('#envelope')) ?? '', /^#3 /);
    await page.close();
  });

  it('keeps text colours at WCAG contrast 4.5:1 (3:1 for large text) on their backgrounds', {
    timeout: 60_000,
  }, async (t) => {
    const { page } = await open('?loss=20&seed=3&autoplay=0');
    await page.click('#end');
    // A retransmission (red in the log) and a TCP frame's envelopes (every colour role) on screen.
    await page.click('#log li.retrans .frame-button');
    await page.addScriptTag({ path: new URL('./pages/web-contrast.js', import.meta.url).pathname });
    const report = await page.evaluate(() =>
      (
        globalThis as unknown as { contrastReport(): { text: string; ratio: number; large: boolean }[] }
      ).contrastReport(),
    );
    assert.ok(report.length > 100, `${report.length} text nodes`);
    const low = report.filter((r) => r.ratio < (r.large ? 3 : 4.5));
    assert.deepEqual(low, []);
    // The measure itself: light grey on the white page is caught.
    await page.evaluate(() => {
      const p = document.createElement('p');
      p.style.color = '#999999';
      p.textContent = 'a faint probe';
      document.body.append(p);
    });
    const probe = await page.evaluate(() =>
      (globalThis as unknown as { contrastReport(): { text: string; ratio: number }[] })
        .contrastReport()
        .find((r) => r.text === 'a faint probe'),
    );
    assert.ok(probe && probe.ratio > 2.6 && probe.ratio < 3, `probe ${probe?.ratio}`);
    t.diagnostic(
      `${report.length} text nodes, lowest contrast ${Math.min(...report.map((r) => r.ratio)).toFixed(2)}:1`,
    );
    await page.close();
  });
});
