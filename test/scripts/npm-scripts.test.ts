/**
 * `npm test` and `npm run bench` read as they ended (issue #18, item 9): a passing
 * run prints no "failing tests" list, and the bench runner runs only benchmarks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;

test('a passing run of the parity suite prints no ✖ (no todo test listed as failing)', () => {
  const r = spawnSync(process.execPath, ['scripts/run-tests.mjs', 'test/parity/sockets'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
    // Without node:test's context variable the child reports as `npm test` does, not to us.
    env: { ...process.env, NODE_TEST_CONTEXT: undefined },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /✖|failing tests/);
  assert.match(r.stdout, /ℹ fail 0/);
});

test('no test is marked todo: a behaviour a backend cannot show is a skip with the reason', () => {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'fixtures') continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.ts') && e.name !== 'npm-scripts.test.ts') files.push(p);
    }
  };
  walk(join(root, 'test'));
  for (const f of files) assert.doesNotMatch(readFileSync(f, 'utf8'), /\btodo: |\.todo\(|\{ todo\b/, f);
});

test('npm run bench runs only benchmarks (the profile summariser is a script)', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--list'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const listed = r.stdout.trim().split('\n');
  assert.ok(listed.includes('bench/tcp.ts'), r.stdout);
  for (const f of listed) {
    const head = readFileSync(join(root, f), 'utf8').slice(0, 2000);
    assert.doesNotMatch(head, /cpuprofile/, `${f} is not a benchmark`);
  }
});
