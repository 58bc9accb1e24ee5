/**
 * `sockstack relay`: a WebSocket relay so browser stacks and Node stacks share one
 * Ethernet. Each WebSocket client gets a port on a learning switch; each binary
 * message is one Ethernet frame (src/link/websocket.ts). With --tunnel-port, a
 * UDP-tunnel hub on the same switch lets stacks in other processes join with
 * `udpTunnel` (the examples' `--backend stack`). With --tap (root), a TAP device puts
 * the kernel on the same Ethernet. The core is src/node/relay.ts.
 */
import type { TunnelPeer } from '../node/udp-tunnel.ts';
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
    name: 'relay',
    summary: 'join WebSocket clients (browser stacks) to one Ethernet switch',
    usage: ['[options]'],
    description:
      'Listens for WebSocket clients and plugs each into a port of a learning Ethernet\n' +
      'switch, until SIGINT/SIGTERM. Every binary message is one Ethernet frame (no\n' +
      "FCS), the framing of v86's relays, so a page's sockstack (WebSocketLink), a Node\n" +
      'stack on the same link (with the ws package) and v86 can share the Ethernet.\n' +
      '--tunnel-port also plugs in a UDP-tunnel hub: stacks in other processes join it\n' +
      'with udpTunnel({ peers: [{ host, port }] }) and are learnt from what they send.\n' +
      '--tap NAME (root) plugs in a TAP device: give it an address and bring it up\n' +
      '(ip addr add 10.0.0.1/24 dev NAME; ip link set NAME up) and the browser stacks\n' +
      'reach the kernel; with forwarding and NAT on the host, the world beyond it.\n' +
      '\n' +
      'There is no authentication: it listens on 127.0.0.1 unless told otherwise.\n' +
      '\n' +
      'In a page (after npm run build:browser):\n' +
      "  const link = await connectWebSocketLink('ws://127.0.0.1:8080/', { wake: () => driver.kick() });\n" +
      "  stack.addInterface({ name: 'eth0', device: link, addresses: ['10.0.0.2/24'] });",
    options: {
      host: { type: 'string', value: 'ADDR', description: 'address to listen on', default: '127.0.0.1' },
      port: {
        type: 'string',
        short: 'p',
        value: 'PORT',
        description: 'TCP port (0 picks one)',
        default: '8080',
      },
      path: { type: 'string', value: 'PATH', description: 'accept WebSockets only on this path (e.g. /net)' },
      'max-clients': {
        type: 'string',
        value: 'N',
        description: 'clients beyond N are turned away',
        default: '64',
      },
      mtu: { type: 'string', value: 'BYTES', description: 'IP MTU of the Ethernet', default: '1500' },
      'tunnel-port': {
        type: 'string',
        value: 'PORT',
        description: 'also run a UDP-tunnel hub on this UDP port (0 picks one)',
      },
      'tunnel-peer': {
        type: 'string',
        multiple: true,
        value: 'HOST:PORT',
        description: 'a UDP-tunnel peer to send to from the start (repeatable)',
      },
      tap: {
        type: 'string',
        value: 'NAME',
        description: 'also plug in a TAP device of this name (needs root)',
      },
      quiet: { type: 'boolean', short: 'q', description: 'do not report clients arriving and leaving' },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: [
      'sockstack relay                          # ws://127.0.0.1:8080/',
      'sockstack relay -p 9000 --path /net --tunnel-port 7400',
      'sudo sockstack relay --tap ssweb0       # then: ip addr add 10.0.0.1/24 dev ssweb0; ip link set ssweb0 up',
    ],
  },
  run: async (p: Parsed, io: CliIo) => {
    const port = num(p, 'port', 8080, { min: 0, max: 65535, integer: true });
    const maxClients = num(p, 'max-clients', 64, { min: 1, max: 100_000, integer: true });
    const mtu = num(p, 'mtu', 1500, { min: 576, max: 65521, integer: true });
    const path = str(p, 'path');
    if (path !== undefined && !path.startsWith('/'))
      throw new UsageError(`--path: '${path}' does not start with /`);
    const tunnelPortText = str(p, 'tunnel-port');
    const tunnelPort =
      tunnelPortText === undefined
        ? undefined
        : num(p, 'tunnel-port', 0, { min: 0, max: 65535, integer: true });
    const peers: TunnelPeer[] = [];
    for (const text of (p.values['tunnel-peer'] as string[] | undefined) ?? []) {
      const m = /^(.+):(\d+)$/.exec(text);
      const pp = m ? Number(m[2]) : 0;
      if (!m || pp < 1 || pp > 65535) throw new UsageError(`--tunnel-peer: '${text}' is not HOST:PORT`);
      peers.push({ host: m[1].replace(/^\[(.*)\]$/, '$1'), port: pp });
    }
    if (peers.length > 0 && tunnelPort === undefined)
      throw new UsageError('--tunnel-peer needs --tunnel-port');
    const tapName = str(p, 'tap');
    if (tapName !== undefined && (tapName.length === 0 || tapName.length > 15 || /[\s/:]/.test(tapName)))
      throw new UsageError(
        `--tap: '${tapName}' is not an interface name (1-15 characters, no space, / or :)`,
      );
    const quiet = p.values.quiet === true;
    const { startRelay } = await import('../node/relay.ts');
    const stop = interrupted();
    let relay: Awaited<ReturnType<typeof startRelay>>;
    try {
      relay = await startRelay({
        host: str(p, 'host') ?? '127.0.0.1',
        port,
        path,
        maxClients,
        mtu,
        tunnel: tunnelPort === undefined ? undefined : { port: tunnelPort, peers },
        tap: tapName === undefined ? undefined : { name: tapName },
        log: quiet ? undefined : (line) => io.err(`sockstack relay: ${line}`),
      });
    } catch (e) {
      stop.dispose();
      io.err(`sockstack relay: ${(e as Error).message}`);
      return EXIT_FAILURE;
    }
    io.err(`sockstack relay: ${relay.url} (one Ethernet frame per binary message)`);
    if (relay.tunnel) io.err(`sockstack relay: UDP-tunnel hub on udp port ${relay.tunnel.localPort}`);
    if (relay.tap)
      io.err(
        `sockstack relay: TAP ${relay.tap.ifname} plugged in (ip addr add ADDR/PREFIX dev ${relay.tap.ifname}; ip link set ${relay.tap.ifname} up)`,
      );
    io.err('sockstack relay: Ctrl-C to stop');
    await stop.promise;
    stop.dispose();
    await relay.close();
    const s = relay.stats;
    io.err(`sockstack relay: ${s.clients} client(s), ${s.framesIn} frames in, ${s.framesOut} out`);
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
