/**
 * Command-line helper shared by the examples: `--backend os|stack` plus simple
 * `--name value` options. The backend comes from the registry ('os' is the
 * kernel; 'stack' appears once sockstack's stack backend registers itself).
 */
import { getBackend, Socket, type SocketBackend } from '../src/node/socket.ts';

export interface Cli {
  backend: SocketBackend;
  /** `--name value` options. */
  opts: Map<string, string>;
  /** Positional arguments. */
  args: string[];
  socket(family?: number, type?: number): Socket;
  num(name: string, dflt: number): number;
  str(name: string, dflt: string): string;
}

export async function cli(argv = process.argv.slice(2)): Promise<Cli> {
  const opts = new Map<string, string>();
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) opts.set(a.slice(2, eq), a.slice(eq + 1));
      else opts.set(a.slice(2), argv[++i] ?? '');
    } else args.push(a);
  }
  let backend: SocketBackend;
  try {
    backend = await getBackend(opts.get('backend') ?? 'os');
  } catch (e) {
    console.error(String((e as Error).message));
    process.exit(2);
  }
  return {
    backend,
    opts,
    args,
    socket: (family?: number, type?: number) => new Socket(backend, family, type),
    num(name, dflt) {
      const v = opts.get(name);
      if (v === undefined) return dflt;
      const n = Number(v);
      if (!Number.isFinite(n)) {
        console.error(`--${name} must be a number`);
        process.exit(2);
      }
      return n;
    },
    str: (name, dflt) => opts.get(name) ?? dflt,
  };
}

export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
