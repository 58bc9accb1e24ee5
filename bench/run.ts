/**
 * Runs every benchmark in bench/ (each *.ts but this file), one after another,
 * each in its own child process (`node --import tsx bench/<file>`), and prints a
 * summary of what ran, how long it took and how it ended. Benchmarks that need
 * root or tools this machine lacks skip themselves with a message.
 *
 *   node --import tsx bench/run.ts [--only tcp,checksum] [--timeout 600] [--list] [-- args for every bench]
 *
 * Every .ts file in bench/ is a benchmark (tools such as the profile summariser live
 * in scripts/). Not a test: never fails on speed; a benchmark that cannot run here
 * (no root, no ethtool) prints why and exits 0; exits 1 only if a benchmark crashed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { values, positionals } = parseArgs({
  options: {
    only: { type: 'string' },
    timeout: { type: 'string', default: '600' },
    list: { type: 'boolean' },
  },
  allowPositionals: true,
});
const only = values.only?.split(',').map((s) => s.trim());
const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== basename(fileURLToPath(import.meta.url)))
  .filter((f) => !only || only.includes(f.replace(/\.ts$/, '')))
  .sort();

if (values.list) {
  for (const f of files) console.log(`bench/${f}`);
  process.exit(0);
}

const summary: string[] = [];
let crashed = 0;
for (const f of files) {
  console.log(`\n===== bench/${f} =====`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('bench', f), ...positionals], {
    cwd: root,
    stdio: 'inherit',
    timeout: Number(values.timeout) * 1000,
  });
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  const how = r.error
    ? `error: ${r.error.message}`
    : r.signal
      ? `killed by ${r.signal}`
      : r.status === 0
        ? 'ok'
        : `exit ${r.status}`;
  if (how !== 'ok') crashed++;
  summary.push(`${f.padEnd(16)} ${s.padStart(7)} s  ${how}`);
}
console.log('\n===== summary =====');
for (const l of summary) console.log(l);
process.exit(crashed > 0 ? 1 : 0);
