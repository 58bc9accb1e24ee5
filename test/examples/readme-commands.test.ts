/**
 * The shell command lists in README.md and examples/README.md (`readme-test: commands`)
 * run here, each command in the form FORMS below states: as written where that is
 * cheap, else in a bounded form of the same command (a flag it has: --list, --quick,
 * --only, --check, --outdir...), and its exit status is checked. A README command with
 * no form here fails the test, so a new command cannot go unrun.
 *
 * A command ending in `&` starts in the background; the test waits until it prints
 * `listening on` (or the relay's `ws://` URL), runs the commands after it, and stops it
 * at the next blank line of the block (or the block's end). Stack-backend examples use a
 * hub of their own (SOCKSTACK_HUB, which the examples' README documents); kernel-backend
 * examples get `--port <free port>` instead of 5000.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { freeUdpPort } from '../socket/examples-run.ts';
import { blockCommands, readmeBlocks } from './readme-blocks.ts';

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'sockstack-readme-cmd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};
const isRoot = process.getuid?.() === 0;

interface Step {
  argv: string[];
  /** Started in the background; ready once its output matches. */
  ready?: RegExp;
  /** For a background step: checked once it is ready. */
  probe?: (out: string) => Promise<void>;
}
interface Form {
  /** How the command is run, said in the test's name. */
  how: string;
  /** Checks made instead of (or beside) running something. */
  check?: () => void;
  steps: Step[];
}

const node = (...args: string[]): string[] => [process.execPath, ...args];
const tsx = (...args: string[]): string[] => node('--import', 'tsx', ...args);

function npmTestForm(): Form {
  return {
    how: '`npm test -- architecture` (the whole suite is what this runs inside)',
    check: () => {
      assert.equal(pkg.scripts.test, 'node scripts/run-tests.mjs');
      assert.ok(existsSync(join(root, 'test/architecture')));
    },
    steps: [{ argv: ['npm', 'test', '--', 'architecture'] }],
  };
}

/** README.md's commands, each with the form it runs in. */
const FORMS: Record<string, () => Form> = {
  'npm ci && npm start': () => ({
    how: '`npm ci` not run (it would replace the node_modules this test runs from): the lock file and the `prepare` build are checked; then `npm start -- --no-pcap`',
    check: () => {
      assert.ok(existsSync(join(root, 'package-lock.json')));
      assert.equal(pkg.scripts.prepare, 'npm run build');
      assert.ok(pkg.scripts.build.startsWith('tsc '));
    },
    steps: [{ argv: ['npm', 'start', '--', '--no-pcap'] }],
  }),
  'npm test': npmTestForm,
  'npm run build:browser': () => ({
    how: 'as written, with `-- --outdir <temporary directory>` instead of dist/browser/',
    steps: [{ argv: ['npm', 'run', 'build:browser', '--', '--outdir', join(tmp, 'browser')] }],
  }),
  'npx sockstack relay': () => ({
    how: 'with `--port 0`; started, a WebSocket client connects to the URL it prints, then it is stopped',
    steps: [
      {
        argv: ['node', 'bin/sockstack.mjs', 'relay', '--port', '0'],
        ready: /ws:\/\/127\.0\.0\.1:\d+\//,
        probe: async (out) => {
          const url = (/ws:\/\/127\.0\.0\.1:\d+\//.exec(out) as RegExpExecArray)[0];
          const ws = new WebSocket(url);
          await new Promise<void>((resolve, reject) => {
            ws.once('open', () => resolve());
            ws.once('error', reject);
          });
          ws.close();
        },
      },
    ],
  }),
  'npx sockstack web': () => ({
    how: 'with `--port 0`; started, the page and its script are fetched from the URL it prints, then it is stopped',
    steps: [
      {
        argv: ['node', 'bin/sockstack.mjs', 'web', '--port', '0'],
        ready: /http:\/\/127\.0\.0\.1:\d+\//,
        probe: async (out) => {
          const url = (/http:\/\/127\.0\.0\.1:\d+\//.exec(out) as RegExpExecArray)[0];
          const page = await fetch(url);
          assert.equal(page.status, 200);
          assert.match(await page.text(), /<title>sockstack: watch an echo session/);
          const script = await fetch(new URL('page.js', url));
          assert.equal(script.status, 200);
          assert.ok((await script.arrayBuffer()).byteLength > 10_000);
        },
      },
    ],
  }),
  'npx sockstack gateway --socket /tmp/vm.sock --dns-upstream 127.0.0.53 -t 2222:22 &': () => {
    const sock = join(tmp, 'vm.sock');
    return {
      how: 'with the socket in a temporary directory, `-t 0:22` (an ephemeral host port) and `--status 0`; started, a client connects to the socket as QEMU would, then it is stopped',
      steps: [
        {
          argv: [
            'node',
            'bin/sockstack.mjs',
            'gateway',
            '--socket',
            sock,
            '--dns-upstream',
            '127.0.0.53',
            '-t',
            '0:22',
            '--status',
            '0',
          ],
          ready: /waiting for QEMU on /,
          probe: async () => {
            await new Promise<void>((resolve, reject) => {
              const c = net.connect(sock, () => {
                c.destroy();
                resolve();
              });
              c.once('error', reject);
            });
          },
        },
      ],
    };
  },
  'qemu-system-x86_64 -accel tcg -m 512 -nographic -kernel vmlinuz -initrd initrd.img -netdev stream,id=n0,server=off,addr.type=unix,addr.path=/tmp/vm.sock -device virtio-net-pci,netdev=n0':
    () => ({
      how: 'not run here: test/gateway/qemu.test.ts boots this guest (a Debian kernel, a busybox initramfs it builds) against the gateway',
      check: () => assert.ok(existsSync(join(root, 'test/gateway/qemu.test.ts'))),
      steps: [],
    }),
  'npm run bench': () => ({
    how: '`npm run bench -- --list` (lists the benchmarks it would run)',
    steps: [{ argv: ['npm', 'run', 'bench', '--', '--list'] }],
  }),
  'node --import tsx bench/tcp.ts --quick': () => ({
    how: 'with `--only rr --mtu 1500 --no-kernel` added (one short measurement)',
    steps: [{ argv: tsx('bench/tcp.ts', '--quick', '--only', 'rr', '--mtu', '1500', '--no-kernel') }],
  }),
  'node --import tsx bench/checksum.ts': () => ({
    how: 'as written',
    steps: [{ argv: tsx('bench/checksum.ts') }],
  }),
  'sudo node --import tsx bench/tap-tcp.ts': () => ({
    how: `with \`--only clean --bytes 1M --runs 1\`, without sudo (${isRoot ? 'already root' : 'not root: it says it skips and exits 0'})`,
    steps: [{ argv: tsx('bench/tap-tcp.ts', '--only', 'clean', '--bytes', '1M', '--runs', '1') }],
  }),
  'npm run typecheck && npm run lint': () => ({
    how: "`npm run typecheck -- --listFilesOnly` (the program resolves; the full check is CI's) and `npm run lint -- test/examples`",
    steps: [
      { argv: ['npm', 'run', 'typecheck', '--', '--listFilesOnly'] },
      { argv: ['npm', 'run', 'lint', '--', 'test/examples'] },
    ],
  }),
  'node --import tsx scripts/soak-tcp.ts --seeds 200': () => ({
    how: 'with `--seeds 1 --max-mib 1`',
    steps: [{ argv: tsx('scripts/soak-tcp.ts', '--seeds', '1', '--max-mib', '1') }],
  }),
  'node --import tsx scripts/conformance-table.ts': () => ({
    how: 'with `--check` (compares instead of rewriting the files)',
    steps: [{ argv: tsx('scripts/conformance-table.ts', '--check') }],
  }),
};

/** An examples/README.md command (`npx tsx examples/...`): run as written, on a private port or hub. */
function exampleForm(cmd: string, port: number): Form {
  const words = cmd.replace(/\s*&$/, '').split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ['npx', 'tsx'], `no form for '${cmd}'`);
  const args = words.slice(2);
  const kernel = !args.includes('--backend');
  return {
    how: kernel ? `as written, with --port ${port}` : 'as written, on a hub of its own',
    steps: [
      {
        argv: tsx(...args, ...(kernel ? ['--port', String(port)] : [])),
        ...(cmd.endsWith('&') ? { ready: /listening on/ } : {}),
      },
    ],
  };
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function start(argv: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; out: () => string } {
  const [cmd, ...args] = argv;
  const child = spawn(cmd === 'node' ? process.execPath : cmd, args, {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b) => {
    out += String(b);
  });
  child.stderr?.on('data', (b) => {
    out += String(b);
  });
  return { child, out: () => out };
}

const MS = 180_000;

/** Runs a foreground step to its exit (killed after MS); fails unless it exits 0. */
function runStep(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { child, out } = start(argv, env);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: no exit within ${MS} ms:\n${out()}`));
    }, MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${argv.join(' ')} exited ${code ?? signal}:\n${out()}`));
    });
  });
}

/** Starts a background step and resolves once it is ready (and probed). */
async function startStep(
  step: Step,
  env: NodeJS.ProcessEnv,
  stop: Array<() => Promise<void>>,
): Promise<void> {
  const { child, out } = start(step.argv, env);
  stop.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${step.argv.join(' ')}: not ready in 30 s:\n${out()}`)),
      30_000,
    );
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`${step.argv.join(' ')} exited ${code} before it was ready:\n${out()}`));
    };
    const check = (): void => {
      if (!step.ready?.test(out())) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      resolve();
    };
    child.once('exit', onExit);
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
  });
  await step.probe?.(out());
}

for (const doc of ['README.md', 'examples/README.md'])
  describe(`${doc}: every command list runs (each command in the form named)`, () => {
    const blocks = readmeBlocks(join(root, doc)).filter((b) => b.kind === 'commands');
    it('has command lists', () => assert.ok(blocks.length >= 2));
    for (const b of blocks) {
      // A blank line ends a section: what it started in the background stops there.
      const sections = b.code.split(/\n\s*\n/).map(blockCommands);
      it(`${doc}:${b.line}: ${sections.flat().join(' ; ')}`, { timeout: 600_000 }, async (t) => {
        const port = await freeTcpPort();
        const env = { ...process.env, SOCKSTACK_HUB: String(await freeUdpPort()) };
        for (const section of sections) {
          const stop: Array<() => Promise<void>> = [];
          try {
            for (const cmd of section) {
              const form = FORMS[cmd]?.() ?? exampleForm(cmd, port);
              t.diagnostic(`${cmd}  →  ${form.how}`);
              form.check?.();
              for (const step of form.steps) {
                if (step.ready) await startStep(step, env, stop);
                else await runStep(step.argv, env);
              }
            }
          } finally {
            for (const s of stop.reverse()) await s();
          }
        }
      });
    }
  });

describe('README.md: the command forms above cover every README command', () => {
  it('every form is used by some README command (none is stale)', () => {
    const used = readmeBlocks(join(root, 'README.md'))
      .filter((b) => b.kind === 'commands')
      .flatMap((b) => blockCommands(b.code));
    for (const cmd of Object.keys(FORMS))
      assert.ok(used.includes(cmd), `FORMS has '${cmd}', which README.md no longer says`);
  });
});
