/**
 * Issue #6: "a clear error ... when /dev/net/tun is missing". A child process
 * runs in a private mount namespace (`unshare --mount`) with an empty tmpfs over
 * /dev/net, so /dev/net/tun is gone for it alone; the rest of the machine is
 * untouched. openTap() must fail with a LinkError ENOENT that says what is
 * missing, and kernelLinkUnavailable() (what tests and benches use to skip) must
 * give the reason instead of undefined.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { skipUnless } from './helpers.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

function run(argv: string[], ms: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b;
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: no exit within ${ms} ms: ${out}`));
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('TAP without /dev/net/tun (private mount namespace)', () => {
  it('openTap fails with LinkError ENOENT naming /dev/net/tun; kernelLinkUnavailable says why', async (t) => {
    if (skipUnless(t, ['unshare', 'mount'])) return;
    const dir = mkdtempSync(join(tmpdir(), 'ss-notun-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'probe.mts');
    const tapUrl = new URL('../../src/node/tap.ts', import.meta.url).href;
    const netnsUrl = new URL('../../src/node/netns.ts', import.meta.url).href;
    writeFileSync(
      script,
      `import { openTap } from ${JSON.stringify(tapUrl)};
import { kernelLinkUnavailable } from ${JSON.stringify(netnsUrl)};
const why = kernelLinkUnavailable() ?? null;
try { const t = await openTap(); await t.close(); console.log(JSON.stringify({ opened: true, why })); }
catch (e) { console.log(JSON.stringify({ opened: false, why, code: e.code, name: e.name, syscall: e.syscall, message: e.message })); }
`,
    );
    const r = await run(
      [
        'unshare',
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        `mount -t tmpfs none /dev/net && exec "${process.execPath}" --import tsx "${script}"`,
      ],
      30_000,
    );
    assert.equal(r.code, 0, r.out);
    const line = r.out.split('\n').find((l) => l.startsWith('{'));
    assert.ok(line, r.out);
    const res = JSON.parse(line) as Record<string, unknown>;
    assert.equal(res.opened, false);
    assert.equal(res.name, 'LinkError');
    assert.equal(res.code, 'ENOENT');
    assert.equal(res.syscall, 'open');
    assert.match(String(res.message), /\/dev\/net\/tun does not exist/);
    assert.match(String(res.why), /\/dev\/net\/tun is missing/);
  });
});
