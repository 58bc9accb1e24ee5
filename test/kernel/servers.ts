/**
 * Starting real servers for the kernel tests: a server inside a tapStack's namespace
 * (ready when its output says so, stopped when the test ends), commands run there,
 * skips that say what is missing, and PostgreSQL set up from scratch. Shared by
 * clients.test.ts and readme.test.ts.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { type StackNet, stackNet } from '../../src/node/net-facade.ts';
import type { TapStackHost } from '../../src/node/tap-stack.ts';
import { exited, hasCommand, host, skipUnless } from './helpers.ts';

export function tempDir(t: TestContext, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sockstack-${name}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Skips (printing why) unless TAP/namespaces and `binary` are available; true when skipped. */
export function skipWithout(t: TestContext, binary: string | undefined, what: string): boolean {
  if (skipUnless(t)) return true;
  if (binary === undefined || (binary.startsWith('/') ? !existsSync(binary) : !hasCommand(binary))) {
    t.skip(`${what} is not installed`);
    return true;
  }
  return false;
}

/** The newest /usr/lib/postgresql/<version>/bin directory, if any. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const v = readdirSync(root)
    .filter((d) => existsSync(join(root, d, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return v === undefined ? undefined : join(root, v, 'bin');
}

/**
 * Starts a server in the namespace and resolves once its stdout or stderr matches
 * `ready` (rejects on exit or after `ms`). When the test ends the server gets
 * `signal`, then SIGKILL if it has not exited within 10 s.
 */
export async function startServer(
  t: TestContext,
  h: TapStackHost,
  name: string,
  argv: readonly string[],
  ready: RegExp,
  { signal = 'SIGTERM' as NodeJS.Signals, ms = 30_000 } = {},
): Promise<ChildProcess> {
  const child = h.spawn(argv);
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    try {
      await exited(child, 10_000);
    } catch {
      child.kill('SIGKILL');
      await exited(child, 5000).catch(() => undefined);
    }
  });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new Error(`${name}: not ready within ${ms} ms; output:\n${log}`)),
      ms,
    );
    const onData = (b: Buffer): void => {
      log += b.toString('utf8');
      if (ready.test(log)) finish();
    };
    const onExit = (code: number | null): void =>
      finish(new Error(`${name} exited (${code}) before it was ready; output:\n${log}`));
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      // Keep draining its output so a chatty server never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
      if (err) reject(err);
      else resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
  return child;
}

/** Runs a command in the namespace and fails the test with its output when it does not exit 0. */
export async function run(h: TapStackHost, argv: readonly string[], timeoutMs = 120_000): Promise<string> {
  const r = await h.exec(argv, { timeoutMs });
  assert.equal(
    r.code,
    0,
    `${argv.join(' ')} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}):\n${r.stdout}\n${r.stderr}`,
  );
  return r.stdout;
}

/** A tapStack and its `net` facade; the facade's sockets are destroyed when the test ends. */
export async function stackHost(t: TestContext): Promise<{ h: TapStackHost; net: StackNet }> {
  const h = await host(t);
  const net = stackNet(h.stack, h.driver);
  t.after(() => net.closeAll());
  return { h, net };
}

/**
 * Starts PostgreSQL (binaries from `bin`, see postgresBin) in `h`'s namespace on
 * h.kernelIp:5432, trusting the stack's address, with its data in a temporary directory
 * removed when the test ends; resolves with the port once it accepts connections.
 */
export async function startPostgres(t: TestContext, h: TapStackHost, pgBin: string): Promise<number> {
  // initdb and postgres refuse to run as root: the directory belongs to the postgres user.
  const dir = tempDir(t, 'postgres');
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const asPostgres = ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'];
  await run(h, [
    ...asPostgres,
    join(pgBin, 'initdb'),
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '--no-locale',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  // Trust the stack's address (initdb's pg_hba.conf trusts only loopback for TCP).
  writeFileSync(join(data, 'pg_hba.conf'), `host all all ${h.stackIp}/32 trust\n`, { flag: 'a' });
  const port = 5432;
  await startServer(
    t,
    h,
    'postgres',
    [
      ...asPostgres,
      join(pgBin, 'postgres'),
      '-D',
      data,
      '-k',
      dir,
      '-h',
      h.kernelIp,
      '-p',
      String(port),
      '-c',
      'fsync=off',
    ],
    /database system is ready to accept connections/,
    { signal: 'SIGINT' },
  );
  return port;
}
