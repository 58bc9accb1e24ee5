/**
 * The `sockstack` command line: dispatches to one module per subcommand, loaded
 * lazily so `sockstack capture` does not pay for the TCP stack.
 *
 * Run from a checkout with `node --import tsx src/cli/main.ts <command>` or via
 * bin/sockstack.mjs (which registers tsx itself).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  type CliIo,
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  processIo,
  runCommand,
} from './command.ts';

interface Entry {
  readonly summary: string;
  load?(): Promise<Command>;
}

const COMMANDS: Record<string, Entry> = {
  demo: {
    summary: 'watch a TCP conversation layer by layer',
    load: async () => (await import('./demo.ts')).command,
  },
  ping: {
    summary: 'ICMP echo across the built-in virtual network',
    load: async () => (await import('./ping.ts')).command,
  },
  nc: { summary: 'netcat over the virtual network', load: async () => (await import('./nc.ts')).command },
  serve: {
    summary: 'run echo/discard/http servers on a stack',
    load: async () => (await import('./serve.ts')).command,
  },
  sim: {
    summary: 'simulate a transfer under loss and delay',
    load: async () => (await import('./sim.ts')).command,
  },
  capture: {
    summary: 'print the packets of a pcap/pcapng file',
    load: async () => (await import('./capture.ts')).command,
  },
  plot: {
    summary: 'TCP time–sequence graph of a capture (SVG)',
    load: async () => (await import('./plot.ts')).command,
  },
  // src/cli/conformance.ts belongs to the conformance runner and parses its own arguments (see runConformance).
  conformance: { summary: 'run packetdrill scripts against the stack' },
  tap: {
    summary: 'attach a stack to a Linux TAP device',
    load: async () => (await import('./tap.ts')).command,
  },
  gateway: {
    summary: 'a network for a QEMU guest (DHCP, DNS, NAT)',
    load: async () => (await import('./gateway.ts')).command,
  },
  relay: {
    summary: 'join WebSocket clients to one Ethernet',
    load: async () => (await import('./relay.ts')).command,
  },
  wisp: {
    summary: "relay a page's sockets to real servers (Wisp)",
    load: async () => (await import('./wisp.ts')).command,
  },
  web: {
    summary: 'serve the course page (echo session in a browser)',
    load: async () => (await import('./web.ts')).command,
  },
};

async function runConformance(argv: string[], io: CliIo): Promise<number> {
  // A computed specifier keeps the typecheck independent of the module's presence.
  const spec = './conformance.ts';
  let mod: { conformanceCommand?: (argv: string[]) => Promise<number> };
  try {
    mod = await import(spec);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes('conformance.ts')) {
      io.err('sockstack conformance: not available yet (the packetdrill runner has not landed)');
      return EXIT_FAILURE;
    }
    throw e;
  }
  if (typeof mod.conformanceCommand !== 'function') {
    io.err('sockstack conformance: not available yet (src/cli/conformance.ts exports no conformanceCommand)');
    return EXIT_FAILURE;
  }
  return mod.conformanceCommand(argv);
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The command names, in the order `--help` lists them. */
export function commandNames(): string[] {
  return Object.keys(COMMANDS);
}

export function mainHelp(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'sockstack — a TCP/IP stack and BSD sockets in TypeScript',
    '',
    'Usage: sockstack <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([k, e]) => `  ${k.padEnd(w)}  ${e.summary}`),
    '',
    "Run 'sockstack <command> --help' for a command's options.",
    '',
    'Options:',
    '  -h, --help     show this help',
    '  -V, --version  print the version',
  ].join('\n');
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    (name === undefined ? io.err : io.out)(mainHelp());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    io.out(`sockstack ${version()}`);
    return EXIT_OK;
  }
  if (name === 'help') {
    if (rest.length === 0) {
      io.out(mainHelp());
      return EXIT_OK;
    }
    return main([rest[0], '--help'], io);
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    const near = Object.keys(COMMANDS).filter((k) => editDistance(k, name) <= 2);
    io.err(
      name.startsWith('-') ? `sockstack: unknown option '${name}'` : `sockstack: unknown command '${name}'`,
    );
    if (near.length && !name.startsWith('-')) io.err(`Did you mean: ${near.join(', ')}?`);
    io.err("Run 'sockstack --help' for the list of commands.");
    return EXIT_USAGE;
  }
  if (!entry.load) return runConformance(rest, io);
  const cmd = await entry.load();
  return runCommand(cmd, rest, io);
}

/** Entry point: sets the exit code, and turns unexpected errors into exit 1 with a message. */
export async function cli(argv: string[]): Promise<void> {
  // `sockstack capture big.pcap | head` closes stdout early: exit quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    process.stderr.write(`sockstack: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = EXIT_FAILURE;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await cli(process.argv.slice(2));
}
