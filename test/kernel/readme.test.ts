/**
 * README.md's blocks that need root and a kernel peer:
 * - `readme-test: pg-client`: the pg block, run as written (its `import pg from 'pg'`
 *   becomes the pg package handed in, `net` is `stackNet(stack, driver)` of a tapStack()
 *   host, as the README says) against PostgreSQL started in the host's namespace by
 *   servers.ts, as clients.test.ts does; what it prints must be the README's comment.
 * - `readme-test: tap-recipe`: the TAP shell recipe, run by `bash -e -o pipefail` as root
 *   with each `sudo ` dropped (or through `sudo -n` when not root) and the namespace `lab` renamed to a
 *   unique name; curl's count must be 1000000. Bounded to 90 s; the namespace and
 *   whatever still runs in it are removed whatever happens.
 * Both skip, saying why, without root/TAP or without PostgreSQL.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { format } from 'node:util';
import pg from 'pg';
import { uniqueName } from '../../src/node/netns.ts';
import { readmeBlocks } from '../examples/readme-blocks.ts';
import { exited, hasCommand, skipUnless } from './helpers.ts';
import { postgresBin, skipWithout, stackHost, startPostgres } from './servers.ts';

const root = new URL('../..', import.meta.url).pathname;
const blocks = readmeBlocks(join(root, 'README.md'));
const block = (kind: string) => {
  const b = blocks.filter((x) => x.kind === kind);
  assert.equal(b.length, 1, `README.md has one '${kind}' block`);
  return b[0];
};

describe('README.md: the blocks that need a kernel peer', () => {
  it('the pg client block runs against PostgreSQL over the stack', { timeout: 120_000 }, async (t) => {
    const b = block('pg-client');
    const bin = postgresBin();
    if (skipWithout(t, bin && join(bin, 'postgres'), 'PostgreSQL (Debian postgresql)')) return;
    const { h, net } = await stackHost(t);
    const port = await startPostgres(t, h, bin as string);
    // The block's address and port are the tapStack's defaults.
    assert.equal(port, 5432);
    assert.match(b.code, new RegExp(`host: '${h.kernelIp.replaceAll('.', '\\.')}'`));
    const importLine = "import pg from 'pg';";
    assert.ok(b.code.startsWith(`${importLine}\n`), 'the block starts by importing pg');
    const printed: string[] = [];
    const log = { log: (...a: unknown[]) => printed.push(format(...a)) };
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
      ...args: string[]
    ) => (...a: unknown[]) => Promise<void>;
    const body = b.code.slice(importLine.length);
    const run = new AsyncFunction('pg', 'net', 'console', body);
    await Promise.race([
      run(pg, net, log),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the pg block: no end in 60 s')), 60_000).unref(),
      ),
    ]);
    const shown = (/console\.log\(.*\); \/\/ (.*)$/m.exec(b.code) as RegExpExecArray)[1];
    assert.deepEqual(printed, [shown]);
  });

  it('the TAP recipe serves 1000000 bytes to curl in a namespace of its own', {
    timeout: 120_000,
  }, async (t) => {
    if (skipUnless(t, ['curl', 'bash'])) return;
    const asRoot = process.getuid?.() === 0;
    if (!asRoot && !hasCommand('sudo')) {
      t.skip('needs root (or sudo)');
      return;
    }
    const b = block('tap-recipe');
    const ns = uniqueName('sslab');
    // `lab` is only the namespace's name: five uses, each renamed.
    assert.equal(b.code.match(/\blab\b/g)?.length, 5);
    const script = b.code.replace(/\blab\b/g, ns).replace(/\bsudo /g, asRoot ? '' : 'sudo -n ');
    const cleanup = (): void => {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', ns], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        for (const pid of pids.split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    };
    t.after(cleanup);
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // What the recipe starts writes to its stdout: whatever still holds that pipe when the
    // recipe is over was left running by it.
    const pipe = readlinkSync(`/proc/${child.pid}/fd/1`);
    const holders = (): number[] =>
      readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((d) => {
          try {
            return readlinkSync(`/proc/${d}/fd/1`) === pipe || readlinkSync(`/proc/${d}/fd/2`) === pipe;
          } catch {
            return false;
          }
        })
        .map(Number);
    t.after(() => {
      for (const pid of holders()) process.kill(pid, 'SIGKILL');
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    const started = Date.now();
    await exited(child, 90_000);
    // The stack the recipe stopped lets go of the pipe as it exits (polled, up to 20 s).
    for (let i = 0; i < 100 && holders().length > 0; i++) await new Promise((r) => setTimeout(r, 200));
    t.diagnostic(
      `${Date.now() - started} ms from the recipe's start until its processes were gone (or 20 s after its exit)`,
    );
    assert.deepEqual(holders(), [], 'the recipe left processes running');
    assert.equal(
      child.exitCode,
      0,
      `the recipe exited ${child.exitCode ?? child.signalCode}:\n${out}\n${err}`,
    );
    // The recipe's own comment says what curl | wc -c prints.
    assert.equal(out.trim(), '1000000', err);
  });
});
