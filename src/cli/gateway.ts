/**
 * `sockstack gateway`: a network for a QEMU guest, in the manner of passt. It listens
 * for QEMU's `-netdev stream` on a Unix socket (--socket) or a TCP port (--port) and is
 * the guest's router: DHCP, a DNS forwarder (--dns-upstream), NAT to host sockets, the
 * host's loopback behind the gateway address, port forwards (-t HOSTPORT:GUESTPORT).
 */
import type { Dialer } from '../gateway/dialer.ts';
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK, type Parsed, str, UsageError } from './command.ts';

function hostPort(text: string, what: string): { host: string; port: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(text);
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || !(port > 0 && port < 65536)) throw new UsageError(`${what}: '${text}' is not A.B.C.D[:PORT]`);
  return { host: m[1], port };
}

function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : [];
}

export const command: Command = {
  spec: {
    name: 'gateway',
    summary: 'a network for a QEMU guest: DHCP, DNS, NAT to host sockets (like passt)',
    usage: ['--socket PATH [options]', '--port PORT [options]'],
    description:
      'Waits for QEMU on a Unix socket or TCP port and gives the guest a network without\n' +
      "root. Address plan (slirp's): network 10.0.2.0/24, gateway 10.0.2.2 (also the\n" +
      "host's 127.0.0.1), DNS 10.0.2.3, the guest leases 10.0.2.15. The guest's TCP and\n" +
      "UDP to any address leave through host sockets; pings go out through the host's ping\n" +
      'sockets where it allows them (net.ipv4.ping_group_range), else the gateway answers.\n' +
      '\n' +
      '  $ sockstack gateway --socket /tmp/gw.sock --dns-upstream 192.168.1.1 -t 2222:22 &\n' +
      '  $ qemu-system-x86_64 ... -netdev stream,id=n0,server=off,addr.type=unix,\\\n' +
      '        addr.path=/tmp/gw.sock -device virtio-net-pci,netdev=n0',
    options: {
      socket: { type: 'string', short: 's', value: 'PATH', description: 'Unix socket for -netdev stream' },
      port: {
        type: 'string',
        short: 'p',
        value: 'PORT',
        description: 'TCP port on 127.0.0.1 for -netdev stream',
      },
      tcp: {
        type: 'string',
        short: 't',
        multiple: true,
        value: 'HOST:GUEST',
        description: 'forward host TCP port HOST (on 127.0.0.1) to guest port GUEST',
      },
      udp: {
        type: 'string',
        short: 'u',
        multiple: true,
        value: 'HOST:GUEST',
        description: 'forward host UDP port HOST (on 127.0.0.1) to guest port GUEST',
      },
      network: { type: 'string', value: 'CIDR', description: 'guest network', default: '10.0.2.0/24' },
      'ipv6-prefix': {
        type: 'string',
        value: 'CIDR',
        description: "advertise this /64 (e.g. fd00:0:0:2::/64) for SLAAC; PREFIX::2 is the host's [::1]",
      },
      'ipv6-default-route': {
        type: 'string',
        value: 'auto|on|off',
        description: "be the guest's IPv6 default router (auto: when the host has IPv6 beyond link-local)",
        default: 'auto',
      },
      ping: {
        type: 'string',
        value: 'auto|off',
        description: "forward pings through the host's ping sockets (off: the gateway answers them)",
        default: 'auto',
      },
      'dns-upstream': {
        type: 'string',
        value: 'ADDR[:PORT]',
        description: 'DNS server the forwarder asks (none: no DNS for the guest)',
      },
      deny: {
        type: 'string',
        multiple: true,
        value: 'CIDR',
        description: 'deny a destination prefix (default 169.254.0.0/16)',
      },
      allow: {
        type: 'string',
        multiple: true,
        value: 'CIDR',
        description: 'allow only these destination prefixes',
      },
      'max-flows': { type: 'string', value: 'N', description: 'flows at once', default: '1024' },
      mtu: {
        type: 'string',
        value: 'BYTES',
        description: 'guest MTU (DHCP option 26), as passt',
        default: '65520',
      },
      'link-sndbuf': {
        type: 'string',
        value: 'BYTES',
        description:
          "SO_SNDBUF for QEMU's socket (default: as much as net.core.wmem_max allows; 0: the kernel's default)",
      },
      wisp: {
        type: 'string',
        value: 'URL',
        description: "open the guest's flows through this Wisp server (ws://...) instead of host sockets",
      },
      pcap: {
        type: 'string',
        short: 'w',
        value: 'FILE',
        description: 'write the guest link to a pcapng file',
      },
      status: {
        type: 'string',
        value: 'SECONDS',
        description: 'print a status line this often (0: never)',
        default: '10',
      },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: [
      'sockstack gateway --socket /tmp/gw.sock --dns-upstream 127.0.0.53',
      'sockstack gateway --port 5555 -t 8080:80 -t 2222:22',
      'sockstack gateway --socket /tmp/gw.sock --wisp ws://127.0.0.1:8080/',
    ],
  },
  run: async (p: Parsed, io: CliIo) => {
    const socket = str(p, 'socket');
    const portText = str(p, 'port');
    if ((socket === undefined) === (portText === undefined))
      throw new UsageError('give --socket PATH or --port PORT');
    const port = portText === undefined ? undefined : Number(portText);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536))
      throw new UsageError(`--port: '${portText}' is not 0-65535`);
    const pairs = (name: string, flag: string) =>
      list(p, name).map((t) => {
        const m = /^(\d+):(\d+)$/.exec(t);
        const h = Number(m?.[1]);
        const g = Number(m?.[2]);
        if (!m || !(h >= 0 && h < 65536 && g > 0 && g < 65536))
          throw new UsageError(`${flag}: '${t}' is not HOSTPORT:GUESTPORT`);
        return { host: h, guest: g };
      });
    const udpForwards = pairs('udp', '-u');
    const forwards = pairs('tcp', '-t');
    const up = str(p, 'dns-upstream');
    const num = (name: string, dflt: number, min: number, max: number): number => {
      const t = str(p, name);
      const n = t === undefined ? dflt : Number(t);
      if (!(Number.isInteger(n) && n >= min && n <= max))
        throw new UsageError(`--${name}: '${t}' is not ${min}-${max}`);
      return n;
    };
    const maxFlows = num('max-flows', 1024, 1, 1_000_000);
    const linkSendBuffer = num('link-sndbuf', 1 << 30, 0, 1 << 30);
    const mtu = num('mtu', 65520, 576, 65520);
    const every = num('status', 10, 0, 86400);
    const choice = (name: string, allowed: readonly string[]): string => {
      const v = str(p, name) ?? 'auto';
      if (!allowed.includes(v)) throw new UsageError(`--${name}: '${v}' is not ${allowed.join('|')}`);
      return v;
    };
    const route6 = choice('ipv6-default-route', ['auto', 'on', 'off']);
    const ping = choice('ping', ['auto', 'off']);
    const { startGateway } = await import('../node/gateway.ts');
    let gw: Awaited<ReturnType<typeof startGateway>>;
    let wisp: { close(): void; onClose: (() => void) | null } | undefined;
    const wispUrl = str(p, 'wisp');
    if (wispUrl !== undefined && !/^wss?:\/\//.test(wispUrl))
      throw new UsageError(`--wisp: '${wispUrl}' is not a ws:// or wss:// URL`);
    try {
      let dialer: Dialer | undefined;
      if (wispUrl !== undefined) {
        const { connectWisp } = await import('../node/wisp-client.ts');
        const { WispDialer } = await import('../gateway/wisp-dialer.ts');
        const client = await connectWisp(wispUrl);
        wisp = client;
        client.onClose = () => io.err(`sockstack gateway: the Wisp server ${wispUrl} closed the connection`);
        dialer = new WispDialer(client);
      } else if (ping === 'off') {
        const { OsDialer } = await import('../node/gateway-dialer.ts');
        dialer = new OsDialer({ ping: false });
      }
      gw = await startGateway({
        dialer,
        socket,
        port,
        forwards,
        udpForwards,
        network: str(p, 'network'),
        ipv6Prefix: str(p, 'ipv6-prefix'),
        ipv6DefaultRoute: route6 === 'auto' ? undefined : route6 === 'on',
        dnsUpstream: up === undefined ? undefined : hostPort(up, '--dns-upstream'),
        deny: p.values.deny === undefined ? undefined : list(p, 'deny'),
        allow: list(p, 'allow'),
        maxFlows,
        linkSendBuffer,
        mtu,
        pcap: str(p, 'pcap'),
        log: (line) => io.err(`sockstack gateway: ${line}`),
      });
    } catch (e) {
      if (e instanceof UsageError) throw e;
      io.err(`sockstack gateway: ${(e as Error).message}`);
      return EXIT_FAILURE;
    }
    const where = 'path' in gw.address ? gw.address.path : `${gw.address.host}:${gw.address.port}`;
    io.err(`sockstack gateway: waiting for QEMU on ${where}`);
    for (const [i, f] of forwards.entries())
      io.err(`sockstack gateway: forwarding 127.0.0.1:${gw.forwardPorts[i]} -> guest port ${f.guest}`);
    for (const [i, f] of udpForwards.entries())
      io.err(`sockstack gateway: forwarding udp 127.0.0.1:${gw.udpForwardPorts[i]} -> guest port ${f.guest}`);
    void gw.connected.then(() => io.err('sockstack gateway: guest connected'));
    const timer =
      every > 0
        ? setInterval(() => io.err(`sockstack gateway: ${gw.statusLine()}`), every * 1000)
        : undefined;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        process.off('SIGINT', done);
        process.off('SIGTERM', done);
        resolve();
      };
      process.on('SIGINT', done);
      process.on('SIGTERM', done);
    });
    if (timer) clearInterval(timer);
    io.err(`sockstack gateway: ${gw.statusLine()}`);
    await gw.close();
    if (wisp) {
      wisp.onClose = null;
      wisp.close(); // the WebSocket would keep the process alive
    }
    return EXIT_OK;
  },
};
