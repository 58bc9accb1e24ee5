/**
 * The browser build (scripts/build-browser.ts): it bundles, imports no `node:` module,
 * stays under its gzip budget, exports what a page needs, and is tree-shakable (a
 * page that imports one function gets a small fraction of it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { type BundleSize, buildBrowser, CORE_GZIP_LIMIT } from '../../scripts/build-browser.ts';

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => join(dir, f));
}

describe('npm run build:browser', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'sockstack-browser-'));
  let sizes: BundleSize[] = [];
  before(async () => {
    sizes = await buildBrowser(outdir);
  });
  after(() => rmSync(outdir, { recursive: true, force: true }));

  it(`builds the stack under ${CORE_GZIP_LIMIT / 1000} KB gzipped, and the links bundle`, () => {
    const core = sizes.find((s) => s.name === 'stack');
    const links = sizes.find((s) => s.name === 'links');
    assert.ok(core && links);
    assert.ok(core.gzip <= CORE_GZIP_LIMIT, `core is ${core.gzip} bytes gzipped`);
    assert.ok(core.gzip > 10_000, `core is only ${core.gzip} bytes gzipped: is the stack in it?`);
    assert.ok(links.bytes < core.bytes / 10, 'the links bundle does not carry the stack');
  });

  it('imports no node: module (and no CommonJS require), in the bundles and in esm/', () => {
    const files = [...sizes.map((s) => s.file), ...jsFiles(join(outdir, 'esm'))];
    assert.ok(files.length > 20, `only ${files.length} files`);
    for (const f of files) {
      const code = readFileSync(f, 'utf8');
      assert.doesNotMatch(code, /["'`]node:/, `${f} mentions a node: module`);
      assert.doesNotMatch(code, /\brequire\(/, `${f} calls require`);
    }
    for (const s of sizes)
      assert.match(readFileSync(s.file, 'utf8'), /\bexport\s*\{/, `${s.name} is not ESM`);
  });

  it('exports the stack, the sockets API and the page links', async () => {
    const m = (await import(pathToFileURL(join(outdir, 'sockstack.js')).href)) as Record<string, unknown>;
    for (const name of [
      'Stack',
      'Simulation',
      'RealtimeDriver',
      'Cable',
      'Switch',
      'MessagePortLink',
      'WebSocketLink',
      'connectWebSocketLink',
      'Gateway',
      'V86Link',
      'WispDialer',
      'AF_INET',
      'SOCK_STREAM',
      'SOCK_DGRAM',
    ]) {
      assert.ok(m[name] !== undefined, `sockstack.js does not export ${name}`);
    }
    const l = (await import(pathToFileURL(join(outdir, 'links.js')).href)) as Record<string, unknown>;
    assert.equal(typeof l.WebSocketLink, 'function');
    assert.equal(typeof l.MessagePortLink, 'function');
  });

  it('leaves BBR out of the stack alone (TCP_CONGESTION "bbr": ENOENT, as Linux without tcp_bbr); sockstack.js has it', async () => {
    type Bundle = {
      Stack: new (o: object) => { socket(f: number, t: number): { setsockopt(...a: unknown[]): void } };
      ManualClock: new (t: number) => object;
      SeededRng: new (seed: number) => object;
      AF_INET: number;
      SOCK_STREAM: number;
      IPPROTO_TCP: number;
      TCP_CONGESTION: number;
    };
    const setCc = (m: Bundle, name: string): string | undefined => {
      const stack = new m.Stack({ clock: new m.ManualClock(0), rng: new m.SeededRng(1) });
      const s = stack.socket(m.AF_INET, m.SOCK_STREAM);
      try {
        s.setsockopt(m.IPPROTO_TCP, m.TCP_CONGESTION, name);
        return undefined;
      } catch (e) {
        return (e as { code?: string }).code;
      }
    };
    const alone = (await import(pathToFileURL(join(outdir, 'stack.js')).href)) as Bundle;
    const full = (await import(pathToFileURL(join(outdir, 'sockstack.js')).href)) as Bundle;
    assert.equal(setCc(alone, 'bbr'), 'ENOENT');
    assert.equal(setCc(alone, 'cubic'), undefined);
    assert.equal(setCc(full, 'bbr'), undefined);
  });

  it('leaves makefile(), sendfile(), forwarding and multicast routes out of the stack alone; sockstack.js has them', async () => {
    type Sock = { makefile(mode?: string): unknown; sendfile(f: Uint8Array): Promise<number>; close(): void };
    type Bundle = {
      Stack: new (o: object) => { socket(f: number, t: number): Sock; forwarding: boolean };
      ManualClock: new (t: number) => object;
      SeededRng: new (seed: number) => object;
      AF_INET: number;
      SOCK_STREAM: number;
    };
    const stack = (m: Bundle, config?: object, forwarding?: boolean) =>
      new m.Stack({
        clock: new m.ManualClock(0),
        rng: new m.SeededRng(1),
        ...(config ? { config } : {}),
        ...(forwarding ? { forwarding } : {}),
      });
    const code = (f: () => unknown) => {
      try {
        f();
        return undefined;
      } catch (e) {
        return (e as { code?: string }).code;
      }
    };
    const routes = { multicastRoutes: [{ group: '239.1.0.0/16', from: 'eth0', to: ['eth1'] }] };
    const alone = (await import(pathToFileURL(join(outdir, 'stack.js')).href)) as Bundle;
    const full = (await import(pathToFileURL(join(outdir, 'sockstack.js')).href)) as Bundle;
    const sa = stack(alone).socket(alone.AF_INET, alone.SOCK_STREAM);
    assert.equal(
      code(() => sa.makefile('rb')),
      'ERR_METHOD_NOT_IMPLEMENTED',
    );
    await assert.rejects(sa.sendfile(new Uint8Array(1)), { code: 'ERR_METHOD_NOT_IMPLEMENTED' });
    assert.equal(
      code(() => stack(alone, routes)),
      'ERR_METHOD_NOT_IMPLEMENTED',
    );
    assert.equal(typeof stack(alone).socket(alone.AF_INET, alone.SOCK_STREAM), 'object', 'no routes: starts');
    // A router's forwarding: refused at construction and when switched on later.
    assert.equal(
      code(() => stack(alone, undefined, true)),
      'ERR_METHOD_NOT_IMPLEMENTED',
    );
    const host = stack(alone);
    assert.equal(
      code(() => {
        host.forwarding = true;
      }),
      'ERR_METHOD_NOT_IMPLEMENTED',
    );
    assert.equal(host.forwarding, false);
    assert.equal(stack(full, undefined, true).forwarding, true);
    const sf = stack(full).socket(full.AF_INET, full.SOCK_STREAM);
    assert.equal(typeof sf.makefile('rb'), 'object');
    assert.equal(
      code(() => stack(full, routes)),
      undefined,
    );
  });

  it('leaves the DNS client out of the stack alone (nameservers: ERR_METHOD_NOT_IMPLEMENTED); getaddrinfo still answers numbers and the hosts tables; sockstack.js has DNS', async () => {
    type Bundle = {
      Stack: new (o: object) => { nameservers: string[]; backend: unknown };
      getaddrinfo(backend: unknown, host: string, port: number): Promise<[number, ...unknown[]][]>;
      ManualClock: new (t: number) => object;
      SeededRng: new (seed: number) => object;
      StubResolver?: unknown;
      parseDnsMessage?: unknown;
    };
    const make = (m: Bundle, nameservers?: string[]) =>
      new m.Stack({
        clock: new m.ManualClock(0),
        rng: new m.SeededRng(1),
        ...(nameservers ? { nameservers } : {}),
      });
    const alone = (await import(pathToFileURL(join(outdir, 'stack.js')).href)) as Bundle;
    const full = (await import(pathToFileURL(join(outdir, 'sockstack.js')).href)) as Bundle;
    assert.throws(() => make(alone, ['10.0.2.53']), { code: 'ERR_METHOD_NOT_IMPLEMENTED', message: /DNS/ });
    assert.equal(alone.StubResolver, undefined);
    assert.equal(alone.parseDnsMessage, undefined);
    const { backend } = make(alone);
    const families = [...new Set((await alone.getaddrinfo(backend, 'localhost', 80)).map((r) => r[0]))].sort(
      (a, b) => a - b,
    );
    assert.deepEqual(families, [2, 10], 'localhost: 127.0.0.1 and ::1 from the hosts table');
    assert.equal((await alone.getaddrinfo(backend, '10.0.0.1', 80))[0][0], 2);
    await assert.rejects(alone.getaddrinfo(backend, 'example.test', 80), { code: 'EAI_NONAME' });
    assert.deepEqual(make(full, ['10.0.2.53']).nameservers, ['10.0.2.53:53']);
    assert.equal(typeof full.StubResolver, 'function');
  });

  it('leaves the ping client out of the stack alone (ping, ping6: ERR_METHOD_NOT_IMPLEMENTED); sockstack.js pings', async () => {
    type Ping = Promise<{ ok: boolean; from?: number }>;
    type Stack = { ping(dst: string, o?: object): Ping; ping6(dst: string, o?: object): Ping };
    type Bundle = {
      Stack: new (o: object) => Stack;
      Simulation: new () => {
        clock: object;
        rng: object;
        add(s: Stack): Stack;
        run<T>(p: Promise<T>, o: { timeout: number }): Promise<T>;
      };
      ManualClock: new (t: number) => object;
      SeededRng: new (seed: number) => object;
    };
    const alone = (await import(pathToFileURL(join(outdir, 'stack.js')).href)) as Bundle;
    const full = (await import(pathToFileURL(join(outdir, 'sockstack.js')).href)) as Bundle;
    const host = new alone.Stack({ clock: new alone.ManualClock(0), rng: new alone.SeededRng(1) });
    await assert.rejects(host.ping('127.0.0.1'), { code: 'ERR_METHOD_NOT_IMPLEMENTED', message: /ping/ });
    await assert.rejects(host.ping6('::1'), { code: 'ERR_METHOD_NOT_IMPLEMENTED' });
    // The full bundle's client gets its answer over loopback (the stack answers echoes in both).
    const sim = new full.Simulation();
    const pinger = sim.add(new full.Stack({ clock: sim.clock, rng: sim.rng }));
    const r = await sim.run(pinger.ping('127.0.0.1', { timeout: 1_000_000 }), { timeout: 2_000_000 });
    assert.equal(r.ok, true);
  });

  it('is tree-shakable: a page importing parseIpv4 from esm/ gets under 2% of the core', async () => {
    const core = sizes.find((s) => s.name === 'sockstack');
    assert.ok(core);
    const r = await build({
      stdin: {
        contents: `import { parseIpv4 } from ${JSON.stringify(join(outdir, 'esm/index.js'))}; console.log(parseIpv4('10.0.0.1'));`,
        resolveDir: outdir,
      },
      bundle: true,
      format: 'esm',
      minify: true,
      write: false,
      logLevel: 'silent',
    });
    const bytes = r.outputFiles[0].contents.length;
    assert.ok(bytes < core.bytes * 0.02, `${bytes} bytes of ${core.bytes}`);
    // The per-module build is the same code: the whole of it still runs.
    const m = (await import(pathToFileURL(join(outdir, 'esm/index.js')).href)) as Record<string, unknown>;
    assert.equal(typeof m.Stack, 'function');
  });
});
