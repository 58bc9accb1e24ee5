/**
 * bench/tcp.ts on two trees in one run: a base revision (checked out into a temporary git
 * worktree) and the working tree, alternating, so both see the same machine and the same
 * load. Prints one table: each measure's best figure before and after, and after/before.
 *
 *   node --import tsx scripts/bench-compare.ts [--base REV] [--rounds N] [-- args for bench/tcp.ts]
 *
 * Defaults: --base HEAD~1 (give the commit before a change), --rounds 2, bench args
 * `--no-kernel --repeat 3 --cpu-time` (process CPU time, so other jobs on the machine count
 * less). Each tree runs its own bench/tcp.ts against its own src/.
 * Not a test: prints numbers, never fails on speed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values, positionals } = parseArgs({
  options: {
    base: { type: 'string', default: 'HEAD~1' },
    rounds: { type: 'string', default: '2' },
  },
  allowPositionals: true,
});
const benchArgs = positionals.length ? positionals : ['--no-kernel', '--repeat', '3', '--cpu-time'];
const rounds = Math.max(1, Number(values.rounds) || 1);

function git(...args: string[]): string {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

const baseRev = git('rev-parse', '--short', values.base);
const headRev = git('rev-parse', '--short', 'HEAD');
const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
const tmp = mkdtempSync(join(tmpdir(), 'sockstack-bench-'));
const baseTree = join(tmp, 'base');
git('worktree', 'add', '--detach', baseTree, baseRev);
symlinkSync(join(root, 'node_modules'), join(baseTree, 'node_modules'));

/** One row of bench/tcp.ts's table: measure + MTU → the sockstack figure and its unit. */
type Figures = Map<string, { value: number; unit: string }>;

function runBench(tree: string): Figures {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/tcp.ts', ...benchArgs], {
    cwd: tree,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench/tcp.ts in ${tree} failed:\n${r.stderr}`);
  const out: Figures = new Map();
  for (const line of r.stdout.split('\n')) {
    const cols = line.split(/ {2,}/);
    if (cols.length < 3 || !/^\d+$/.test(cols[1]!.trim())) continue;
    const m = /^([\d,.]+)\s*(\S+)/.exec(cols[2]!.trim());
    if (!m) continue;
    out.set(`${cols[0]!.trim()} @ MTU ${cols[1]!.trim()}`, {
      value: Number(m[1]!.replace(/,/g, '')),
      unit: m[2]!,
    });
  }
  return out;
}

function keepBest(into: Figures, from: Figures): void {
  for (const [k, v] of from) {
    const old = into.get(k);
    if (!old || v.value > old.value) into.set(k, v);
  }
}

const before: Figures = new Map();
const after: Figures = new Map();
try {
  for (let i = 0; i < rounds; i++) {
    process.stderr.write(`round ${i + 1}/${rounds}: base ${baseRev}\n`);
    keepBest(before, runBench(baseTree));
    process.stderr.write(
      `round ${i + 1}/${rounds}: HEAD ${headRev}${dirty ? ' (with uncommitted changes)' : ''}\n`,
    );
    keepBest(after, runBench(root));
  }
} finally {
  git('worktree', 'remove', '--force', baseTree);
  if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
}

const rows = [['measure', `before (${baseRev})`, `after (${headRev}${dirty ? '+' : ''})`, 'after/before']];
for (const [k, b] of before) {
  const a = after.get(k);
  rows.push([
    k,
    `${b.value.toLocaleString('en-US')} ${b.unit}`,
    a ? `${a.value.toLocaleString('en-US')} ${a.unit}` : 'n/a',
    a ? `${(a.value / b.value).toFixed(2)}×` : 'n/a',
  ]);
}
console.log(
  `scripts/bench-compare.ts — bench/tcp.ts ${benchArgs.join(' ')}, best of ${rounds} rounds × the bench's own repeats`,
);
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const [i, r] of rows.entries()) {
  console.log(`| ${r.map((c, j) => c.padEnd(widths[j]!)).join(' | ')} |`);
  if (i === 0) console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
}
