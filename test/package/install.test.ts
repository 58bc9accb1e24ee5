/**
 * The package as a new user gets it (issue #18, item 1 and "installed from a packed
 * tarball"):
 * - a fresh clone's `npm ci` builds dist/ (the `prepare` script), so
 *   `import … from 'sockstack/node'` works right away;
 * - `npm pack` of that clone, installed into an empty project, imports both entry
 *   points from plain Node, runs a socket round trip, runs the `sockstack` command,
 *   and type-checks a TypeScript consumer.
 *
 * Everything installs from npm's local cache (`--offline`): the test never needs the
 * network. When the cache lacks a dependency (a machine that never ran `npm ci`),
 * the test says so and skips.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { matchOutput, readmeBlocks } from '../examples/readme-blocks.ts';

const root = new URL('../..', import.meta.url).pathname;
const npmFlags = ['--offline', '--no-audit', '--no-fund', '--loglevel=error'];

/** The environment without what `npm test` itself exported (npm_config_*, npm_lifecycle_*). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^npm_(config|lifecycle|package)_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return env;
}

function run(cmd: string, args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
}

/**
 * An empty project that depends on the tarball. Its lockfile pins sockstack's own
 * dependencies to the versions (and integrity hashes) of sockstack's lockfile, so
 * `npm ci --offline` finds everything in npm's cache; a plain `npm install <tarball>`
 * would first ask the registry for their metadata.
 */
function writeConsumer(dir: string, tarball: string, lock: { packages: Record<string, LockEntry> }): void {
  const spec = `file:${tarball}`;
  const self = lock.packages[''];
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { sockstack: spec } },
    'node_modules/sockstack': {
      version: '0.1.0',
      resolved: spec,
      dependencies: self.dependencies,
      bin: { sockstack: 'bin/sockstack.mjs' },
    },
  };
  const todo = Object.keys(self.dependencies ?? {});
  while (todo.length) {
    const name = todo.pop() as string;
    const key = `node_modules/${name}`;
    const entry = lock.packages[key];
    if (!entry || packages[key]) continue;
    packages[key] = entry;
    todo.push(...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}));
  }
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { sockstack: spec } }),
  );
  writeFileSync(
    join(dir, 'package-lock.json'),
    JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }),
  );
}

describe('the package as installed', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sockstack-pkg-'));
  const clone = join(tmp, 'clone');
  const app = join(tmp, 'app');
  let skip: string | undefined;
  let tarball = '';

  before(() => {
    // A fresh clone: the files git would check out (tracked and new, not ignored), no dist/, no node_modules.
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
      cwd: root,
      encoding: 'utf8',
    })
      .split('\0')
      .filter((f) => f && f !== 'node_modules' && !f.startsWith('dist/') && existsSync(join(root, f)));
    for (const f of files) cpSync(join(root, f), join(clone, f), { dereference: false });
    const ci = run('npm', ['ci', ...npmFlags], clone);
    if (ci.status !== 0) {
      if (/ENOTCACHED|offline/i.test(ci.out))
        skip = `npm's cache lacks the dependencies (run npm ci once): ${ci.out}`;
      else assert.fail(`npm ci in a fresh clone failed:\n${ci.out}`);
    }
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('npm ci in a fresh clone builds dist/, so sockstack/node imports at once', (t) => {
    if (skip) return t.skip(skip);
    assert.ok(existsSync(join(clone, 'dist/index.js')), 'dist/index.js');
    assert.ok(existsSync(join(clone, 'dist/node/index.d.ts')), 'dist/node/index.d.ts');
    const r = run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('sockstack/node'); console.log(typeof m.socket, typeof m.stackBackend)",
      ],
      clone,
    );
    assert.equal(r.out.trim(), 'function function', r.out);
  });

  it('npm pack, installed into an empty project, works from plain Node', (t) => {
    if (skip) return t.skip(skip);
    const pack = run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp, ...npmFlags], clone);
    assert.equal(pack.status, 0, pack.out);
    tarball = join(tmp, readdirSync(tmp).find((f) => f.endsWith('.tgz')) ?? '');
    mkdirSync(app);
    writeConsumer(app, tarball, JSON.parse(readFileSync(join(clone, 'package-lock.json'), 'utf8')));
    const inst = run('npm', ['ci', ...npmFlags], app);
    assert.equal(inst.status, 0, inst.out);
    assert.ok(
      existsSync(join(app, 'node_modules/sockstack/dist/node/index.js')),
      'installed from the tarball',
    );
    // Both entry points, and a TCP round trip between two virtual hosts, as the README shows.
    writeFileSync(
      join(app, 'main.mjs'),
      `import { AF_INET, SOCK_STREAM, Stack } from 'sockstack';
import { virtualNetwork, socket, socketpair, stackBackend, getBackend } from 'sockstack/node';
const vn = virtualNetwork({ hosts: { a: '10.0.0.1/24', b: '10.0.0.2/24' } });
const srv = vn.stacks.a.socket(AF_INET, SOCK_STREAM);
await srv.bind(['', 7]);
await srv.listen(1);
const cli = vn.stacks.b.socket(AF_INET, SOCK_STREAM);
cli.settimeout(5);
await cli.connect(['a', 7]);
const [conn] = await srv.accept();
await cli.sendall('ping');
const got = new TextDecoder().decode(await conn.recv(100));
await cli.close(); await conn.close(); await srv.close();
await vn.close();
// The OS backend from sockstack/node: a socket pair as a file.
const [x, y] = await socketpair();
await x.sendall('line\\n');
const line = await y.makefile('r').readline();
await x.close(); await y.close();
console.log(got, line.trim(), typeof Stack, typeof socket, typeof stackBackend, typeof getBackend);
`,
    );
    const r = run(process.execPath, ['main.mjs'], app);
    assert.equal(r.status, 0, r.out);
    assert.equal(r.out.trim(), 'ping line function function function function');
    // The command runs from dist/ (no tsx in the consumer).
    const bin = run(join(app, 'node_modules/.bin/sockstack'), ['sim', '--help'], app);
    assert.equal(bin.status, 0, bin.out);
    assert.match(bin.out, /lossy-wan/);
    // The shipped scenarios are in the package (issue #18 item 5).
    const sim = run(join(app, 'node_modules/.bin/sockstack'), ['sim', 'clean-lan'], app);
    assert.equal(sim.status, 0, sim.out);
    assert.match(sim.out, /virtual time/);
  });

  it("the README's runnable blocks run against the installed package, printing what the README shows", (t) => {
    if (skip || !tarball) return t.skip(skip ?? 'no package installed');
    // tsx from this repository runs the TypeScript blocks; 'sockstack' resolves to the app's node_modules.
    const tsx = import.meta.resolve('tsx');
    const blocks = readmeBlocks(join(root, 'README.md'));
    let ran = 0;
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i];
      if (b.kind !== 'run' || b.flags.length > 0) continue;
      const file = join(app, `readme-${b.line}.mts`);
      writeFileSync(file, b.code);
      const r = run(process.execPath, ['--import', tsx, file], app);
      assert.equal(r.status, 0, `README.md:${b.line}:\n${r.out}`);
      const next = blocks[i + 1];
      if (next?.kind === 'output') assert.equal(matchOutput(r.out, next.code), undefined);
      ran++;
    }
    assert.ok(ran >= 3, `ran ${ran} blocks`);
  });

  it('a TypeScript consumer type-checks against the shipped declarations', (t) => {
    if (skip || !tarball) return t.skip(skip ?? 'no package installed');
    mkdirSync(join(app, 'node_modules/@types'), { recursive: true });
    symlinkSync(join(root, 'node_modules/@types/node'), join(app, 'node_modules/@types/node'));
    writeFileSync(
      join(app, 'check.ts'),
      `import { AF_INET, SOCK_STREAM, type Socket, Stack } from 'sockstack';
import { socket, stackFetch, virtualNetwork, type StackHost, stackHost } from 'sockstack/node';
const s: Socket = socket(AF_INET, SOCK_STREAM);
const n: number = s.family;
const vn = virtualNetwork({ hosts: { a: '10.0.0.1/24' } });
const st: Stack = vn.stacks.a;
const h: () => StackHost = stackHost;
export const used = [n, st, h, stackFetch];
// @ts-expect-error recv takes a number
s.recv('x');
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          types: ['node'],
        },
        files: ['check.ts'],
      }),
    );
    const r = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', app], app);
    assert.equal(r.status, 0, r.out);
  });
});
