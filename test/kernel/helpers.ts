/**
 * Shared bits of the kernel-peer tests: a tapStack per test with cleanup
 * registered on the test (success and failure alike), a line waiter for child
 * processes, and command checks that turn into skips with a printed reason.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { kernelLinkUnavailable } from '../../src/node/netns.ts';
import { type TapStackHost, type TapStackOptions, tapStack } from '../../src/node/tap-stack.ts';

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Skips (printing why) when TAP/namespaces or one of `commands` are missing; true when skipped. */
export function skipUnless(t: TestContext, commands: readonly string[] = []): boolean {
  const why = kernelLinkUnavailable();
  if (why !== undefined) {
    t.skip(why);
    return true;
  }
  for (const c of commands) {
    if (!hasCommand(c)) {
      t.skip(`\`${c}\` is not installed`);
      return true;
    }
  }
  return false;
}

/** A tapStack whose namespace, TAP and children are removed when the test ends. */
export async function host(t: TestContext, options: TapStackOptions = {}): Promise<TapStackHost> {
  const h = await tapStack(options);
  t.after(() => h.close());
  return h;
}

/** Collects a child's stdout; `waitFor(re)` resolves on the first match, rejects on timeout or exit. */
export function lines(child: ChildProcess, name = 'child') {
  let out = '';
  let err = '';
  let exited = false;
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString('utf8');
    for (const l of listeners) l();
  });
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString('utf8');
  });
  child.once('exit', () => {
    exited = true;
    for (const l of listeners) l();
  });
  return {
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    waitFor(re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
      return new Promise((resolve, reject) => {
        const done = () => {
          listeners.delete(check);
          clearTimeout(timer);
        };
        const check = () => {
          const m = out.match(re);
          if (m) {
            done();
            resolve(m);
          } else if (exited) {
            done();
            reject(new Error(`${name} exited before printing ${re}; stdout:\n${out}\nstderr:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${name}: no ${re} within ${ms} ms; stdout:\n${out}\nstderr:\n${err}`));
        }, ms);
        listeners.add(check);
        check();
      });
    },
  };
}

/** Resolves with the exit code when `child` exits; rejects after `ms`. */
export function exited(child: ChildProcess, ms = 30_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not exit within ${ms} ms`)), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Polls `cond` (cheap, synchronous) on real time until it holds; rejects after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string, stepMs = 20): Promise<void> {
  const end = Date.now() + ms;
  for (let i = 0; i < 100_000; i++) {
    if (cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}

export const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8');
