/**
 * `sockstack tap` with and without `--no-offload`, run in a namespace the test creates
 * (vn...): the kernel's view of the TAP (`ethtool -k`) shows checksum and segmentation
 * offload on by default and off with the flag, and in both modes curl in the namespace
 * fetches 4 MB from `--service http` with the exact length and uploads 4 MB to its
 * /discard, and the kernel counts no checksum errors.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { describe, it, type TestContext } from 'node:test';
import { createNetns, deleteNetns, uniqueName } from '../../src/node/netns.ts';
import { exited, lines, skipUnless } from './helpers.ts';

const root = new URL('../..', import.meta.url).pathname;

function inNs(ns: string, argv: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.on('error', () => resolve({ code: null, out: '', err: `cannot run ${argv[0]}` }));
    let out = '';
    let err = '';
    c.stdout.on('data', (b) => {
      out += b;
    });
    c.stderr.on('data', (b) => {
      err += b;
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

function cli(t: TestContext, ns: string, args: string[]): ChildProcess {
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, `${root}bin/sockstack.mjs`, 'tap', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(async () => {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await exited(c, 5000).catch(() => c.kill('SIGKILL'));
    }
  });
  return c;
}

/** `ethtool -k` feature lines as name → on/off. */
function features(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const f = /^\s*([a-z0-9-]+): (on|off)/.exec(line);
    if (f) m.set(f[1], f[2]);
  }
  return m;
}

async function tcpCsumErrors(ns: string): Promise<number> {
  const r = await inNs(ns, ['cat', '/proc/net/snmp']);
  const rows = r.out.split('\n').filter((l) => l.startsWith('Tcp:'));
  const i = rows[0].trim().split(/\s+/).indexOf('InCsumErrors');
  assert.ok(i > 0, 'Tcp InCsumErrors in /proc/net/snmp');
  return Number(rows[1].trim().split(/\s+/)[i]);
}

describe('sockstack tap: offloads with the kernel', () => {
  for (const offload of [true, false]) {
    it(`${offload ? 'default (offloads on)' : '--no-offload'}: ethtool shows it, curl gets 4 MB exact and uploads 4 MB`, async (t) => {
      if (skipUnless(t, ['curl', 'ethtool'])) return;
      const ns = uniqueName('vncli');
      createNetns(ns);
      t.after(() => deleteNetns(ns));
      const tap = uniqueName('vntap');
      const c = cli(t, ns, [
        '--name',
        tap,
        '-a',
        '10.79.2.2/24',
        '-k',
        '10.79.2.1/24',
        '--service',
        'http',
        ...(offload ? [] : ['--no-offload']),
      ]);
      const log = lines(
        { stdout: c.stderr, stderr: null, once: c.once.bind(c) } as unknown as ChildProcess,
        'sockstack tap',
      );
      await log.waitFor(/Ctrl-C/, 15_000);
      const k = await inNs(ns, ['ethtool', '-k', tap]);
      assert.equal(k.code, 0, k.err);
      const f = features(k.out);
      const want = offload ? 'on' : 'off';
      assert.equal(f.get('tx-checksumming'), want, k.out);
      assert.equal(f.get('tcp-segmentation-offload'), want, k.out);
      const before = await tcpCsumErrors(ns);
      const n = 4_000_000;
      const d = await inNs(ns, [
        'curl',
        '-sS',
        '--fail',
        '--max-time',
        '25',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %{size_download}',
        `http://10.79.2.2/bytes/${n}`,
      ]);
      assert.equal(d.code, 0, d.err);
      assert.equal(d.out, `200 ${n}`);
      // And the other way: an upload of n bytes (chunked PUT from a pipe), which the service
      // reads whole and answers with the length it got.
      const u = await inNs(ns, [
        'sh',
        '-c',
        `head -c ${n} /dev/urandom | curl -sS --fail --max-time 25 -T - http://10.79.2.2/discard`,
      ]);
      assert.equal(u.code, 0, u.err);
      assert.equal(u.out, `${n}\n`);
      assert.equal(await tcpCsumErrors(ns), before, 'kernel TCP InCsumErrors');
      c.kill('SIGTERM');
      assert.equal(await exited(c, 5000), 0);
    });
  }
});
