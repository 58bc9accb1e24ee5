/**
 * Command-line helper shared by the examples: `--backend os|stack` plus simple
 * `--name value` options.
 *
 * `--backend os` (default) uses the kernel's sockets. `--backend stack` makes this
 * process a host on sockstack's virtual Ethernet (src/node/stack-backend.ts): every
 * example process joins the same hub on loopback UDP, by default 127.0.0.1:47000
 * (plus uid mod 2000: one hub per user).
 * Stack-only options:
 *
 *   --address 10.99.0.N/24   this host's address (servers default to .1, clients to
 *                            .2-.254 from the process id)
 *   --hub 127.0.0.1:47000    the hub's UDP address (the first process binds it; default per user)
 *   --nameserver A.B.C.D     a DNS server on the virtual network
 *
 * See examples/README.md.
 */
import { getBackend, Socket, type SocketBackend } from '../src/node/socket.ts';
import { configureStackBackend, DEFAULT_PREFIX, stackHost } from '../src/node/stack-backend.ts';

export interface CliOptions {
  /** A server binds; a client connects. Decides the default host and stack address. */
  role?: 'server' | 'client';
  argv?: string[];
}

export interface Cli {
  backend: SocketBackend;
  /** 'os' or 'stack'. */
  backendName: string;
  /**
   * The default --host: what a server binds or a client connects to.
   * os: localhost. stack: a server binds 0.0.0.0, a client connects to the server's
   * default address, 10.99.0.1.
   */
  defaultHost: string;
  /**
   * This host's own IPv4 address: 127.0.0.1 on os (the loopback interface), the virtual
   * host's address on stack. The multicast examples join and send on its interface.
   */
  localAddress: string;
  /** `--name value` options. */
  opts: Map<string, string>;
  /** Positional arguments. */
  args: string[];
  socket(family?: number, type?: number): Socket;
  num(name: string, dflt: number): number;
  str(name: string, dflt: string): string;
}

/** The server's default address on the stack backend's virtual subnet. */
export const STACK_SERVER = `${DEFAULT_PREFIX}.1`;

export async function cli(options: CliOptions = {}): Promise<Cli> {
  const argv = options.argv ?? process.argv.slice(2);
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
  const backendName = opts.get('backend') ?? 'os';
  let backend: SocketBackend;
  try {
    if (backendName === 'stack') {
      const ns = opts.get('nameserver');
      configureStackBackend({
        address: opts.get('address') ?? (options.role === 'server' ? `${STACK_SERVER}/24` : undefined),
        hub: opts.get('hub'),
        nameservers: ns ? ns.split(',') : undefined,
      });
    }
    backend = await getBackend(backendName);
    if (backendName === 'stack') {
      const h = stackHost();
      console.log(`stack host ${h.address} (${h.link.role} on 127.0.0.1:${h.link.hub.port})`);
    }
  } catch (e) {
    console.error(String((e as Error).message));
    process.exit(2);
  }
  const onStack = backendName === 'stack';
  return {
    backend,
    backendName,
    defaultHost: onStack ? (options.role === 'server' ? '0.0.0.0' : STACK_SERVER) : 'localhost',
    localAddress: onStack ? stackHost().address : '127.0.0.1',
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
