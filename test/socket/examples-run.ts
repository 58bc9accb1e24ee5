/** Runs an example as a child process and watches its output (test/socket/examples*.test.ts). */
import { type ChildProcess, spawn } from 'node:child_process';
import * as dgram from 'node:dgram';

const root = new URL('../..', import.meta.url).pathname;
const children: ChildProcess[] = [];

export interface Run {
  child: ChildProcess;
  out: () => string;
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited(ms?: number): Promise<number | null>;
}

/** Starts `examples/<example>`; with `stdin: true` the test writes its standard input (`child.stdin`). */
export function run(example: string, args: string[], options: { stdin?: boolean } = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', `examples/${example}`, ...args], {
    cwd: root,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (b) => {
    out += String(b);
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (b) => {
    out += String(b);
  });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    out: () => out,
    waitFor(re, ms = 15000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) {
            listeners.delete(check);
            clearTimeout(t);
            resolve(m);
          }
        };
        const t = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${re} in output of ${example}:\n${out}`));
        }, ms);
        listeners.add(check);
        check();
      });
    },
    exited(ms = 15000) {
      let t: ReturnType<typeof setTimeout> | undefined;
      const limit = new Promise<number | null>((_, reject) => {
        t = setTimeout(() => reject(new Error(`${example} did not exit:\n${out}`)), ms);
      });
      return Promise.race([exit, limit]).finally(() => clearTimeout(t));
    },
  };
}

/** Kills the children still running (call from `after`). */
export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
}

/** A UDP port on 127.0.0.1 that was free a moment ago (for a private stack hub per test). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
