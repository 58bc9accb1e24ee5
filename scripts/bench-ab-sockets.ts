/**
 * bench/sockets.ts's sockets-API transfer over two source trees in ONE process (as
 * scripts/bench-ab.ts does for bench/tcp.ts): alternating A B / B A pairs of one `sendall` +
 * `recvInto` (or `recv`) transfer each, timed by the process's CPU time, and the JS heap each
 * allocates in one transfer (young generation, v8.GCProfiler, as bench/tcp.ts counts it), with
 * the callback API's allocation over the same network for reference.
 *
 *   node --import tsx scripts/bench-ab-sockets.ts [--base REV] [--rounds N] [--mib 32] [--recv]
 *
 * A is --base (default main), checked out into a temporary git worktree; B is this working tree.
 * Not a test: prints numbers, never fails on speed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GCProfiler, getHeapSpaceStatistics } from 'node:v8';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    base: { type: 'string', default: 'main' },
    rounds: { type: 'string', default: '12' },
    mib: { type: 'string', default: '32' },
    recv: { type: 'boolean', default: false },
  },
});
const rounds = Math.max(2, Number(values.rounds) || 12);
const bytes = Number(values.mib) << 20;
const into = !values.recv;

function git(...args: string[]): string {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
const baseRev = git('rev-parse', '--short', values.base);
const tmp = mkdtempSync(join(tmpdir(), 'sockstack-ab-sockets-'));
const baseTree = join(tmp, 'base');
git('worktree', 'add', '--detach', baseTree, baseRev);
symlinkSync(join(root, 'node_modules'), join(baseTree, 'node_modules'));

async function load(tree: string) {
  const [memory, sim, stack, constants, instant] = await Promise.all([
    import(`${tree}/src/link/memory.ts`),
    import(`${tree}/src/link/sim.ts`),
    import(`${tree}/src/stack.ts`),
    import(`${tree}/src/socket/constants.ts`),
    import(`${tree}/src/time/instant.ts`),
  ]);
  return {
    Cable: memory.Cable,
    Simulation: sim.Simulation,
    Stack: stack.Stack,
    ...constants,
    micros: instant.micros,
  };
}
type Modules = Awaited<ReturnType<typeof load>>;

/** Two Stacks on a memory Cable, as bench/sockets.ts builds them (10 µs each way, 4 MiB buffers). */
function net(m: Modules) {
  const sim = new m.Simulation({ seed: 1 });
  const delay = m.micros(10);
  const cable = sim.add(
    new m.Cable({ clock: sim.clock, rng: sim.rng.fork(), mtu: 1500, aToB: { delay }, bToA: { delay } }),
  );
  const tcp = { sndBuf: 4 << 20, rcvBuf: 4 << 20 };
  const a = sim.add(new m.Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', config: { tcp } }));
  const b = sim.add(new m.Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b', config: { tcp } }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  return { sim, a, b };
}

/** One transfer through the sockets API; the process CPU time (ms) its data phase took. */
async function sockets(m: Modules): Promise<number> {
  const { sim, a, b } = net(m);
  let ms = 0;
  await sim.run(
    async () => {
      const srv = b.socket(m.AF_INET, m.SOCK_STREAM);
      await srv.bind(['10.0.0.2', 5001]);
      await srv.listen(4);
      const cli = a.socket(m.AF_INET, m.SOCK_STREAM);
      await cli.connect(['10.0.0.2', 5001]);
      const [conn] = await srv.accept();
      const chunk = new Uint8Array(64 * 1024);
      const sink = new Uint8Array(64 * 1024);
      const t0 = cpu();
      const sending = (async () => {
        for (let sent = 0; sent < bytes; sent += chunk.length) await cli.sendall(chunk);
      })();
      for (let got = 0; got < bytes; ) {
        const n = into ? await conn.recvInto(sink) : (await conn.recv(64 * 1024)).length;
        if (n === 0) throw new Error('bench: early EOF');
        got += n;
      }
      await sending;
      ms = cpu() - t0;
      await cli.close();
      await conn.close();
      await srv.close();
    },
    { maxSteps: 1e9 },
  );
  return ms;
}

/** The same transfer through TcpConnection's callbacks (readInto), under the async driver. */
async function callbacks(m: Modules): Promise<void> {
  const { sim, a, b } = net(m);
  const l = b.tcp.listen({ port: 5001, backlog: 4 });
  const c = a.tcp.connect({ remote: { family: 4, v4: 0x0a000002 }, remotePort: 5001 });
  sim.runFor(m.micros(5000));
  const s = l.accept();
  if (!s) throw new Error('nothing to accept');
  const chunk = new Uint8Array(64 * 1024);
  const sink = new Uint8Array(64 * 1024);
  let sent = 0;
  let got = 0;
  let finish = () => {};
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const pump = () => {
    while (sent < bytes) {
      const n = c.write(chunk);
      sent += n;
      if (n < chunk.length) return;
    }
  };
  c.events = { onWritable: pump };
  s.events = {
    onReadable: () => {
      for (let n = s.readInto(sink); n !== null; n = s.readInto(sink)) got += n;
      if (got >= bytes) finish();
    },
  };
  pump();
  await sim.run(done, { maxSteps: 1e9 });
}

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const YOUNG = ['new_space', 'new_large_object_space'];
const youngNow = (spaces = getHeapSpaceStatistics()) =>
  spaces.reduce((s, x) => s + (YOUNG.includes(x.space_name) ? x.space_used_size : 0), 0);
/** Bytes `f` allocates in the young generation (bench/tcp.ts's allocPerSegment). */
async function allocated(f: () => Promise<unknown>): Promise<number> {
  const profiler = new GCProfiler();
  profiler.start();
  let after = youngNow();
  await f();
  const end = youngNow();
  let sum = 0;
  for (const gc of profiler.stop()?.statistics ?? []) {
    const use = (s: { spaceName: string; spaceUsedSize: number }[]) =>
      s.reduce((t, x) => t + (YOUNG.includes(x.spaceName) ? x.spaceUsedSize : 0), 0);
    sum += use(gc.beforeGC.heapSpaceStatistics) - after;
    after = use(gc.afterGC.heapSpaceStatistics);
  }
  return sum + end - after;
}
const median = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1]!;
const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;

try {
  const A = await load(baseTree);
  const B = await load(root);
  for (let i = 0; i < 2; i++) {
    await sockets(A);
    await sockets(B);
  }
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const [first, second] = i % 2 === 0 ? [A, B] : [B, A];
    const t1 = await sockets(first);
    const t2 = await sockets(second);
    ratios.push(first === A ? t1 / t2 : t2 / t1);
  }
  const what = into ? 'sendall + recvInto' : 'sendall + recv';
  console.log(
    `scripts/bench-ab-sockets.ts: A = ${baseRev}, B = this tree, ${bytes >> 20} MiB, ${what}, Node ${process.version}`,
  );
  console.log(
    `B/A speed (median of ${rounds} pairs): ${median(ratios).toFixed(3)}× (${ratios.filter((r) => r > 1).length}/${rounds} B faster)`,
  );
  console.log(
    `JS heap allocated per transfer: A ${mb(await allocated(() => sockets(A)))}, B ${mb(await allocated(() => sockets(B)))}; callback API (B) ${mb(await allocated(() => callbacks(B)))}`,
  );
} finally {
  git('worktree', 'remove', '--force', baseTree);
  rmSync(tmp, { recursive: true, force: true });
}
