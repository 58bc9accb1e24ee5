#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test under tsx.
// Node 20's `node --test` does not expand globs and passes with zero tests, so we
// find the files ourselves and fail when there are none.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'fixtures') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

let files = walk(join(root, 'test'), []).sort();
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
// npm 11 runs the project's own bin (`npx sockstack`, as the README writes it) by installing
// the project into its npx cache on first use; two test files doing that at once can leave
// a broken cache entry (ENOENT on its package.json). Do it once, before tests run in parallel.
spawnSync('npx', ['--yes', 'sockstack', '--version'], { cwd: root, stdio: 'ignore', timeout: 120_000 });
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  '--test-concurrency=2',
  '--test-timeout=300000',
  ...files,
];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
