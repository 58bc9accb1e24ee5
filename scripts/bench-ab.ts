/**
 * bench/tcp.ts's memory-network workloads over two source trees in ONE process,
 * alternating short batches (A B, B A, A B, ...), so both see the same machine, the same
 * load and the same moment. Each pair gives a ratio (B's speed / A's); the median of the
 * pair ratios is robust against a busy machine in a way that separate runs are not.
 *
 *   node --import tsx scripts/bench-ab.ts [--base REV] [--head REV] [--rounds N] [--only bulk|rr|crr] [--mtu 1500,65535]
 *        [--offload] [--gso] [--read-into]
 *
 * `--offload`: the cable offloads checksums; `--gso`: and carries super-segments (a tree from
 * before TSO ignores it, so base vs head then measures TSO itself); `--read-into`: bulk's
 * receiver reads into a buffer it reuses (WorkloadOptions).
 *
 * A is --base (default HEAD~1), B is --head (default: the working tree), each other
 * revision checked out into a temporary git worktree. Times are the process's CPU time per batch. Not a test: prints numbers, never fails
 * on speed. (scripts/bench-compare.ts runs whole bench/tcp.ts processes instead.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadStackModules, tcpWorkloads, type Workloads } from '../bench/lib/workloads.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    base: { type: 'string', default: 'HEAD~1' },
    head: { type: 'string' },
    rounds: { type: 'string', default: '16' },
    only: { type: 'string' },
    mtu: { type: 'string', default: '1500,65535' },
    offload: { type: 'boolean', default: false },
    gso: { type: 'boolean', default: false },
    'read-into': { type: 'boolean', default: false },
  },
});
const rounds = Math.max(2, Number(values.rounds) || 16);
const mtus = values.mtu.split(',').map(Number);

function git(...args: string[]): string {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
const baseRev = git('rev-parse', '--short', values.base);
const headRev = git('rev-parse', '--short', values.head ?? 'HEAD');
const dirty = values.head === undefined && git('status', '--porcelain', '--untracked-files=no') !== '';
const tmp = mkdtempSync(join(tmpdir(), 'sockstack-ab-'));
const baseTree = join(tmp, 'base');
git('worktree', 'add', '--detach', baseTree, baseRev);
symlinkSync(join(root, 'node_modules'), join(baseTree, 'node_modules'));
const headTree = values.head === undefined ? root : join(tmp, 'head');
if (values.head !== undefined) {
  git('worktree', 'add', '--detach', headTree, headRev);
  symlinkSync(join(root, 'node_modules'), join(headTree, 'node_modules'));
}

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** One batch of each measure: sized to take about 0.1 s on this machine. */
const batches: { name: string; run: (w: Workloads, mtu: number) => void }[] = [
  { name: 'bulk, 1 connection', run: (w, mtu) => w.bulk(mtu, (mtu > 9000 ? 64 : 16) << 20) },
  { name: '1-byte request/response', run: (w, mtu) => w.rr(mtu, 20_000) },
  { name: 'connect + 1-byte echo + close', run: (w, mtu) => w.crr(mtu, 2_000) },
];
const median = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1]!;

try {
  const wopts = {
    checksumOffload: values.offload || values.gso,
    gso: values.gso,
    readInto: values['read-into'],
  };
  const A = tcpWorkloads(await loadStackModules(baseTree), cpu, wopts);
  const B = tcpWorkloads(await loadStackModules(headTree), cpu, wopts);
  console.log(
    `scripts/bench-ab.ts: A = ${baseRev}, B = ${headRev}${dirty ? ' + uncommitted changes' : ''}, ${rounds} pairs each, Node ${process.version}`,
  );
  const rows = [
    ['measure', 'MTU', 'A median ms', 'B median ms', 'B/A speed (median of pairs)', 'pairs B faster'],
  ];
  for (const b of batches) {
    if (
      values.only &&
      !b.name.startsWith(values.only === 'crr' ? 'connect' : values.only === 'rr' ? '1-byte' : values.only)
    )
      continue;
    for (const mtu of mtus) {
      for (let i = 0; i < 2; i++) {
        // warm-up
        b.run(A, mtu);
        b.run(B, mtu);
      }
      const ta: number[] = [];
      const tb: number[] = [];
      for (let i = 0; i < rounds; i++) {
        for (const which of i % 2 === 0 ? [A, B] : [B, A]) {
          const t0 = cpu();
          b.run(which, mtu);
          (which === A ? ta : tb).push(cpu() - t0);
        }
      }
      const ratios = ta.map((t, i) => t / tb[i]!);
      rows.push([
        b.name,
        String(mtu),
        median(ta).toFixed(1),
        median(tb).toFixed(1),
        `${median(ratios).toFixed(3)}×`,
        `${ratios.filter((r) => r > 1).length}/${rounds}`,
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => c.padEnd(widths[j]!)).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
} finally {
  git('worktree', 'remove', '--force', baseTree);
  if (headTree !== root) git('worktree', 'remove', '--force', headTree);
  rmSync(tmp, { recursive: true, force: true });
}
