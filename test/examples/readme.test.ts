/**
 * Every README block marked runnable runs here, and where the README shows output,
 * the printed output must match it (test/examples/readme-blocks.ts has the markers).
 * Imports of 'sockstack' and 'sockstack/node' run against src/ (the installed
 * package runs the same blocks in test/package/install.test.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { freeUdpPort } from '../socket/examples-run.ts';
import { type Block, matchOutput, readmeBlocks, unmarkedCodeBlocks } from './readme-blocks.ts';

const root = new URL('../..', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'sockstack-readme-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

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

interface Ran {
  code: number | null;
  out: string;
}

/** Runs examples/echo-server.ts as a stack host on a hub of its own; resolves with the hub port once it listens. */
async function stackEchoServer(): Promise<{ hub: number; stop: () => void }> {
  const hub = await freeUdpPort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'examples/echo-server.ts', '--backend', 'stack', '--hub', String(hub)],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`echo-server did not listen:\n${out}`)), 30_000);
    const seen = (b: Buffer): void => {
      out += String(b);
      if (out.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
  });
  return { hub, stop: () => child.kill() };
}

/** Runs a command line from the README (`npx tsx X`, `npx sockstack X`) from the repository root. */
function runArgs(
  args: string[],
  onStart?: (out: () => string) => Promise<void>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => {
      out += String(b);
    });
    child.stderr.on('data', (b) => {
      out += String(b);
    });
    const t = setTimeout(() => {
      child.kill();
      reject(new Error(`${args.join(' ')} did not exit within 60 s:\n${out}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
    onStart?.(() => out).catch((e) => {
      child.kill();
      reject(e);
    });
  });
}

export function commandArgs(cmd: string): string[] {
  const words = cmd.trim().split(/\s+/);
  if (words[0] === 'npx' && words[1] === 'tsx') return ['--import', 'tsx', ...words.slice(2)];
  if (words[0] === 'npx' && words[1] === 'sockstack') return ['bin/sockstack.mjs', ...words.slice(2)];
  throw new Error(`the README test cannot run '${cmd}'`);
}

/** A client for the echo server block: connect (retrying until it listens), send, read the echo. */
async function echoClient(port: number): Promise<void> {
  for (let tries = 0; ; tries++) {
    const got = await new Promise<string | Error>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => c.end('Hello'));
      let data = '';
      c.on('data', (b) => {
        data += String(b);
      });
      c.on('end', () => resolve(data));
      c.on('error', (e) => resolve(e));
    });
    if (typeof got === 'string') {
      assert.equal(got, 'Hello');
      return;
    }
    if (tries > 200) throw got;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runBlock(b: Block): Promise<Ran> {
  assert.equal(b.lang, 'ts', `line ${b.line}: only ts blocks run`);
  let code = b.code
    .replaceAll(`from 'sockstack/node'`, `from '${root}src/node/index.ts'`)
    .replaceAll(`from 'sockstack'`, `from '${root}src/index.ts'`);
  let port = 0;
  if (b.flags.includes('echo-client')) {
    port = await freeTcpPort();
    code = code.replaceAll('5000', String(port));
  }
  const file = join(tmp, `block-${b.line}-${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(file, code);
  if (b.flags.includes('stack-echo-server')) {
    const server = await stackEchoServer();
    try {
      return await runArgs(['--import', 'tsx', file], undefined, {
        ...process.env,
        SOCKSTACK_HUB: String(server.hub),
      });
    } finally {
      server.stop();
    }
  }
  return runArgs(['--import', 'tsx', file], port ? () => echoClient(port) : undefined);
}

for (const doc of ['README.md', 'examples/README.md'])
  describe(`${doc}: every runnable block runs, and prints what the README shows`, () => {
    const blocks = readmeBlocks(join(root, doc));
    it('has runnable blocks', () => {
      assert.ok(
        blocks.filter((b) => b.kind === 'run').length >= (doc === 'README.md' ? 4 : 1),
        'the README marks its snippets',
      );
    });
    it('marks every code block, so each one runs in some test', () => {
      assert.deepEqual(
        unmarkedCodeBlocks(join(root, doc)),
        [],
        `${doc}: code blocks without a readme-test marker`,
      );
    });
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i];
      // output goes with its run block; the other kinds run in their own files (readme-blocks.ts lists them).
      if (b.kind !== 'run' && b.kind !== 'transcript') continue;
      it(`${doc}:${b.line} (${b.kind}${b.flags.length ? `, ${b.flags.join(', ')}` : ''})`, async () => {
        if (b.kind === 'transcript') {
          const [first, ...rest] = b.code.split('\n');
          assert.match(first, /^\$ /, `line ${b.line}: a transcript starts with '$ command'`);
          const r = await runArgs(commandArgs(first.slice(2)));
          assert.equal(r.code, 0, r.out);
          assert.equal(matchOutput(r.out, rest.join('\n')), undefined);
          return;
        }
        const r = await runBlock(b);
        assert.equal(r.code, 0, `${doc}:${b.line} exited ${r.code}:\n${r.out}`);
        const next = blocks[i + 1];
        if (next?.kind === 'output') assert.equal(matchOutput(r.out, next.code), undefined);
      });
    }
  });

describe('README.md and examples/README.md: links and promises a clone keeps', () => {
  for (const doc of ['README.md', 'examples/README.md']) {
    it(`${doc}: every relative link points into the repository`, () => {
      const text = readFileSync(join(root, doc), 'utf8');
      const base = join(root, dirname(doc));
      for (const m of text.matchAll(/\]\((?!https?:|#)([^)\s]+)\)|`(\.\.\/[^`\s]+)`/g)) {
        const target = resolve(base, (m[1] ?? m[2]).split('#')[0]);
        assert.ok(target.startsWith(root), `${doc} links ${m[1] ?? m[2]}, outside the repository`);
        assert.ok(existsSync(target), `${doc} links ${m[1] ?? m[2]}, which does not exist`);
      }
    });
  }
  it('package.json names a license, and the LICENSE file says the same', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { license: string };
    assert.equal(pkg.license, 'MIT');
    assert.match(readFileSync(join(root, 'LICENSE'), 'utf8'), /^MIT License/);
  });
});
