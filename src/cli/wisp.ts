/**
 * `sockstack wisp`: a Wisp v1 server, so a page's sockets (the `wisp` backend,
 * src/wisp/backend.ts) reach real TCP and UDP servers. The core is src/node/wisp-server.ts.
 */
import { parseWispRule } from '../node/wisp-policy.ts';
import {
  type CliIo,
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  num,
  type Parsed,
  str,
  UsageError,
} from './command.ts';

export const command: Command = {
  spec: {
    name: 'wisp',
    summary: "relay a page's TCP/UDP sockets to real servers (Wisp v1)",
    usage: ['[options]'],
    description:
      'Listens for WebSocket clients speaking Wisp v1 and opens the TCP and UDP\n' +
      'connections they ask for, until SIGINT/SIGTERM. Each stream is bounded (a\n' +
      'CONTINUE credit of --buffer packets) and each client may hold --max-streams.\n' +
      '\n' +
      'Destinations: with --allow rules, only those (HOST:PORT, HOST being *, an\n' +
      'address, a CIDR prefix or a name, PORT being *, N or LO-HI); without, anything\n' +
      'but link-local, cloud-metadata, unspecified, multicast and broadcast addresses.\n' +
      'There is no authentication: it listens on 127.0.0.1 unless told otherwise.\n' +
      '\n' +
      'In a page (after npm run build:browser):\n' +
      "  const backend = wispBackend(await WispClient.connect('ws://127.0.0.1:8080/'));\n" +
      '  const sock = new Socket(backend, AF_INET, SOCK_STREAM);',
    options: {
      host: { type: 'string', value: 'ADDR', description: 'address to listen on', default: '127.0.0.1' },
      port: {
        type: 'string',
        short: 'p',
        value: 'PORT',
        description: 'TCP port (0 picks one)',
        default: '8080',
      },
      path: {
        type: 'string',
        value: 'PATH',
        description: 'accept WebSockets only on this path (e.g. /wisp/)',
      },
      allow: {
        type: 'string',
        multiple: true,
        value: 'HOST:PORT',
        description: 'a destination clients may reach (repeatable)',
      },
      buffer: {
        type: 'string',
        value: 'PACKETS',
        description: 'per-stream buffer advertised by CONTINUE',
        default: '32',
      },
      'max-streams': { type: 'string', value: 'N', description: 'streams per client', default: '64' },
      'max-clients': {
        type: 'string',
        value: 'N',
        description: 'clients beyond N are turned away',
        default: '64',
      },
      quiet: { type: 'boolean', short: 'q', description: 'do not report clients and refused streams' },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: [
      'sockstack wisp                                   # ws://127.0.0.1:8080/',
      "sockstack wisp -p 9000 --allow '127.0.0.1:*' --allow example.com:443",
    ],
  },
  run: async (p: Parsed, io: CliIo) => {
    const port = num(p, 'port', 8080, { min: 0, max: 65535, integer: true });
    const bufferPackets = num(p, 'buffer', 32, { min: 1, max: 65536, integer: true });
    const maxStreams = num(p, 'max-streams', 64, { min: 1, max: 100_000, integer: true });
    const maxClients = num(p, 'max-clients', 64, { min: 1, max: 100_000, integer: true });
    const path = str(p, 'path');
    if (path !== undefined && !path.startsWith('/'))
      throw new UsageError(`--path: '${path}' does not start with /`);
    const allow = ((p.values.allow as string[] | undefined) ?? []).map((text) => {
      try {
        return parseWispRule(text);
      } catch (e) {
        throw new UsageError(`--allow: ${(e as Error).message}`);
      }
    });
    const quiet = p.values.quiet === true;
    const { startWispServer } = await import('../node/wisp-server.ts');
    const stop = interrupted();
    let server: Awaited<ReturnType<typeof startWispServer>>;
    try {
      server = await startWispServer({
        host: str(p, 'host') ?? '127.0.0.1',
        port,
        path,
        allow,
        bufferPackets,
        maxStreams,
        maxClients,
        log: quiet ? undefined : (line) => io.err(`sockstack wisp: ${line}`),
      });
    } catch (e) {
      stop.dispose();
      io.err(`sockstack wisp: ${(e as Error).message}`);
      return EXIT_FAILURE;
    }
    io.err(`sockstack wisp: ${server.url} (Wisp v1)`);
    io.err(`sockstack wisp: destinations: ${server.policy.describe()}`);
    io.err('sockstack wisp: Ctrl-C to stop');
    await stop.promise;
    stop.dispose();
    await server.close();
    const s = server.stats;
    io.err(
      `sockstack wisp: ${s.clients} client(s), ${s.streamsOpened} stream(s) opened, ${s.streamsRefused} refused`,
    );
    return EXIT_OK;
  },
};

/** Resolves on SIGINT/SIGTERM; `dispose` removes the handlers. */
function interrupted(): { promise: Promise<void>; dispose(): void } {
  let done = (): void => {};
  const promise = new Promise<void>((resolve) => {
    done = () => resolve();
  });
  const dispose = (): void => {
    process.off('SIGINT', done);
    process.off('SIGTERM', done);
  };
  process.on('SIGINT', done);
  process.on('SIGTERM', done);
  return { promise, dispose };
}
