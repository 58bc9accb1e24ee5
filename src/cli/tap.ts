/**
 * `sockstack tap`: attach a stack to a Linux TAP device so the host kernel can talk to it.
 *
 * The services run on the stack's public APIs, the way an application would:
 * echo and discard on stream sockets (`stack.socket(AF_INET, SOCK_STREAM)`), UDP
 * echo on a datagram socket, http as a `node:http` server attached through
 * `stackNet(...).attach`, and `--connect` as an nc-style relay over a stream socket.
 * With neither --service nor --connect the host just answers ARP and ping.
 * Addresses may be IPv6 (a comma-separated list of CIDRs of either family): the kernel
 * side then gets its IPv6 address too, and the services listen on dual-stack AF_INET6
 * sockets (IPv4 peers arrive as ::ffff:a.b.c.d).
 */

import type { NetInterface } from '../ip/interface.ts';
import type { Device } from '../link/device.ts';
import { captureDevice } from '../link/pcap.ts';
import { RealtimeDriver } from '../link/realtime.ts';
import { CryptoRng } from '../rand/rng.ts';
import {
  AF_INET,
  AF_INET6,
  SHUT_WR,
  SO_REUSEADDR,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOL_SOCKET,
} from '../socket/constants.ts';
import type { Socket } from '../socket/socket.ts';
import { Stack } from '../stack.ts';
import { SystemClock } from '../time/system.ts';
import { formatIpv6, parseIpv4, parseIpv6 } from '../wire/address.ts';
import {
  type CliIo,
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  flag,
  type Parsed,
  str,
  UsageError,
} from './command.ts';

const SERVICES = { echo: 7, discard: 9, http: 80 } as const;
type Service = keyof typeof SERVICES;

/** Largest N for `/bytes/N` (1 GiB). */

type Cleanup = () => void | Promise<void>;

export const command: Command = {
  spec: {
    name: 'tap',
    summary: 'attach a stack to a Linux TAP device (needs CAP_NET_ADMIN)',
    usage: ['[options]', '[options] --service echo|discard|http', '[options] --connect HOST:PORT'],
    description:
      'Opens (or creates) a TAP interface, gives the stack an address on it and answers\n' +
      'ARP and ping from the host kernel until SIGINT/SIGTERM. It can also serve, or\n' +
      'connect, over its own TCP/IP:\n' +
      '  --service echo     echo on TCP and UDP port 7 (stream and datagram sockets)\n' +
      '  --service discard  read and drop everything on TCP port 9\n' +
      '  --service http     a node:http server on port 80: / (and any other path)\n' +
      '                     answers a small page describing the request; /bytes/N\n' +
      '                     sends N random bytes (N up to 1 GiB) for download tests;\n' +
      '                     POST /discard reads and drops the body (upload tests)\n' +
      '  --connect H:P      like nc: stdin goes to the connection (half-closed at EOF),\n' +
      '                     the connection goes to stdout; exits when the peer closes\n' +
      '\n' +
      'Trying it by hand. Needs root or CAP_NET_ADMIN. Run it inside a network\n' +
      'namespace so the host is left untouched: the TAP is created in the namespace\n' +
      "sockstack runs in, so the kernel peer is that namespace's network stack, and\n" +
      "--kernel-address gives the kernel's end of the TAP an address and brings it up\n" +
      '(or do it yourself: ip addr add 10.99.0.1/24 dev tap0; ip link set tap0 up).\n' +
      'The TAP disappears when sockstack exits; delete the namespace when done.\n' +
      '\n' +
      '  $ sudo ip netns add lab                                  # terminal 1\n' +
      '  $ sudo ip netns exec lab sockstack tap -k 10.99.0.1/24 --service http\n' +
      '  sockstack tap: 10.99.0.2 on tap0 (kernel side 10.99.0.1/24)\n' +
      '  sockstack tap: http on TCP port 80; Ctrl-C to stop\n' +
      '  $ sudo ip netns exec lab ping -c 2 10.99.0.2             # terminal 2\n' +
      '  $ sudo ip netns exec lab curl http://10.99.0.2/hello\n' +
      '  $ sudo ip netns exec lab curl -o /dev/null http://10.99.0.2/bytes/100000000\n' +
      '  ^C                                                       # terminal 1\n' +
      '  $ sudo ip netns del lab\n' +
      '\n' +
      'Add --pcap FILE to record what crossed the TAP (open it in Wireshark).\n' +
      '\n' +
      'IPv6: give --address and --kernel-address lists of both families, e.g.\n' +
      '  sockstack tap -a 10.99.0.2/24,fd00:99::2/64 -k 10.99.0.1/24,fd00:99::1/64 --service echo\n' +
      'then `ping -6 fd00:99::2` or connect to [fd00:99::2]:7 from the namespace\n' +
      '(the stack also has its fe80:: link-local address; --connect takes [ADDR]:PORT).\n' +
      'The http service listens on both families: curl -6 http://[fd00:99::2]/ works.',
    options: {
      name: {
        type: 'string',
        short: 'i',
        value: 'IFNAME',
        description: 'TAP interface name',
        default: 'tap0',
      },
      address: {
        type: 'string',
        short: 'a',
        value: 'CIDR[,CIDR]',
        description: "the stack's addresses (IPv4 and/or IPv6)",
        default: '10.99.0.2/24',
      },
      'kernel-address': {
        type: 'string',
        short: 'k',
        value: 'CIDR[,CIDR]',
        description: "give the kernel's side of the TAP these addresses and bring it up",
      },
      gateway: {
        type: 'string',
        short: 'g',
        value: 'ADDR[,ADDR]',
        description: 'default route via ADDR (one per family)',
      },
      service: { type: 'string', short: 's', value: 'NAME', description: 'serve echo, discard or http' },
      port: {
        type: 'string',
        short: 'p',
        value: 'PORT',
        description: 'port for --service (default its well-known port)',
      },
      connect: {
        type: 'string',
        short: 'c',
        value: 'HOST:PORT',
        description: 'connect and relay stdin/stdout ([IPV6]:PORT for IPv6)',
      },
      pcap: { type: 'string', short: 'w', value: 'FILE', description: 'write the packets to a pcapng file' },
      'no-offload': {
        type: 'boolean',
        description: 'plain frames: no virtio_net_hdr checksum/segmentation offloads with the kernel',
      },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: [
      'sudo ip netns exec lab sockstack tap -k 10.99.0.1/24                   # ARP + ping only',
      'sudo ip netns exec lab sockstack tap -k 10.99.0.1/24 --service echo',
      'sudo ip netns exec lab sockstack tap -k 10.99.0.1/24 --connect 10.99.0.1:8000 < file',
      'sudo ip netns exec lab sockstack tap -a 10.99.0.2/24,fd00:99::2/64 -k 10.99.0.1/24,fd00:99::1/64',
    ],
  },
  run: async (p: Parsed, io: CliIo) => {
    const addrs = cidrList('--address', str(p, 'address') ?? '10.99.0.2/24');
    const kaddrText = str(p, 'kernel-address');
    const kaddrs = kaddrText === undefined ? [] : cidrList('--kernel-address', kaddrText);
    const gwText = str(p, 'gateway');
    const gws = gwText === undefined ? [] : gwText.split(',');
    for (const g of gws)
      if (parseIpv4(g) === undefined && parseIpv6(g) === undefined)
        throw new UsageError(`--gateway: '${g}' is not an IPv4 or IPv6 address`);
    const service = str(p, 'service');
    const connect = str(p, 'connect');
    if (service !== undefined && !(service in SERVICES))
      throw new UsageError(`--service: '${service}' is not one of echo, discard, http`);
    if (service !== undefined && connect !== undefined)
      throw new UsageError('give --service or --connect, not both');
    let target: { host: string; port: number } | undefined;
    if (connect !== undefined) {
      const m =
        /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(connect) ?? /^\[([0-9A-Fa-f:.%\w]+)\]:(\d+)$/.exec(connect);
      const ok = m && (parseIpv4(m[1]) !== undefined || parseIpv6(m[1]) !== undefined);
      if (!m || !ok || Number(m[2]) < 1 || Number(m[2]) > 65535)
        throw new UsageError(`--connect: '${connect}' is not A.B.C.D:PORT or [IPV6]:PORT`);
      target = { host: m[1], port: Number(m[2]) };
    }
    const portText = str(p, 'port');
    const port = portText === undefined ? undefined : Number(portText);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))
      throw new UsageError(`--port: '${portText}' is not 1-65535`);
    if (port !== undefined && service === undefined) throw new UsageError('--port needs --service');
    return runTap(io, {
      name: str(p, 'name') ?? 'tap0',
      addrs,
      kaddrs,
      gws,
      service: service as Service | undefined,
      port,
      target,
      pcap: str(p, 'pcap'),
      offload: !flag(p, 'no-offload'),
    });
  },
};

/** 'A.B.C.D/N' and 'IPV6/N' items, comma-separated. */
function cidrList(option: string, text: string): string[] {
  const out = text.split(',').map((x) => x.trim());
  for (const c of out) {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(c);
    const v4 = m ? parseIpv4(m[1]) : undefined;
    const v6 = m && v4 === undefined ? parseIpv6(m[1]) : undefined;
    const max = v4 !== undefined ? 32 : 128;
    if (!m || (v4 === undefined && v6 === undefined) || Number(m[2]) > max)
      throw new UsageError(`${option}: '${c}' is not A.B.C.D/N or IPV6/N`);
  }
  return out;
}

interface TapRun {
  name: string;
  addrs: string[];
  kaddrs: string[];
  gws: string[];
  service: Service | undefined;
  port: number | undefined;
  target: { host: string; port: number } | undefined;
  pcap: string | undefined;
  offload: boolean;
}

async function runTap(io: CliIo, o: TapRun): Promise<number> {
  // Node-only pieces load here so `sockstack --help` works everywhere.
  const { openTap } = await import('../node/tap.ts');
  const { configureLink } = await import('../node/netns.ts');
  const { openPcapngFile } = await import('../node/pcap-file.ts');
  let tap: Awaited<ReturnType<typeof openTap>>;
  try {
    // Receive buffers lent to the stack and reused once read (as tapStack does), unless a
    // capture, which may keep a frame past its delivery, sits between the TAP and the stack.
    tap = await openTap({ name: o.name, mode: 'tap', offload: o.offload, lendRx: o.pcap === undefined });
  } catch (e) {
    io.err(`sockstack tap: ${(e as Error).message}`);
    return EXIT_FAILURE;
  }
  const clock = new SystemClock();
  const driver = new RealtimeDriver({ clock });
  const pcap = o.pcap ? openPcapngFile(o.pcap) : undefined;
  const cleanups: Cleanup[] = [];
  // Listen from the start: a signal that arrives while we set up still stops us.
  const stop = interrupted();
  let code = EXIT_OK;
  try {
    const v6 = o.addrs.some((a) => a.includes(':'));
    // The kernel side speaks IPv6 only when asked to (else its router solicitations and
    // MLD reports would be the only traffic on an idle TAP).
    if (o.kaddrs.length > 0)
      configureLink(tap.ifname, { addresses: o.kaddrs, disableIpv6: !o.kaddrs.some((a) => a.includes(':')) });
    const stack = new Stack({ clock, rng: new CryptoRng(), name: 'sockstack', privileged: true });
    stack.timers.onEarliestChanged = () => driver.kick();
    // Frames from the TAP wait in the stack's receive queue; the stack wakes the driver.
    stack.onWake = () => driver.kick();
    const device: Device = pcap ? captureDevice(tap, pcap.writer, clock) : tap;
    const iface = stack.addInterface({ name: 'eth0', device, addresses: o.addrs });
    for (const gw of o.gws)
      stack.addRoute({ destination: gw.includes(':') ? '::/0' : '0.0.0.0/0', gateway: gw });
    driver.add(stack);
    const ip = o.addrs.map((a) => a.split('/')[0]).join(', ');
    const kside = o.kaddrs.length > 0 ? ` (kernel side ${o.kaddrs.join(', ')})` : '';
    io.err(`sockstack tap: ${ip} on ${tap.ifname}${kside}`);
    if (v6) await dadDone(io, stack, iface);
    if (o.service) {
      const port = o.port ?? SERVICES[o.service];
      if (o.service === 'http') await serveHttp(stack, driver, port, cleanups);
      else await serveStream(stack, o.service, port, cleanups, v6);
      io.err(
        `sockstack tap: ${o.service} on TCP port ${port}${o.service === 'echo' ? ' (and UDP)' : ''}; Ctrl-C to stop`,
      );
      await stop.promise;
    } else if (o.target) {
      code = await relay(io, stack, o.target, stop.promise);
    } else {
      io.err(`sockstack tap: answering ${v6 ? 'ARP, NDP' : 'ARP'} and ping on ${ip}; Ctrl-C to stop`);
      await stop.promise;
    }
  } catch (e) {
    io.err(`sockstack tap: ${(e as Error).message}`);
    code = EXIT_FAILURE;
  } finally {
    stop.dispose();
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        // Teardown goes on regardless.
      }
    }
    driver.stop();
    await tap.close();
    pcap?.file.close();
  }
  return code;
}

/**
 * RFC 4862 §5.4: an IPv6 address is used only once duplicate address detection is over
 * (about a second). Waits for it, bounded, so a --connect or a service starts on usable
 * addresses; a duplicate is reported (the address then stays unused).
 */
async function dadDone(io: CliIo, stack: Stack, iface: NetInterface): Promise<void> {
  const st = stack.ip6.state(iface);
  if (!st) return;
  for (let i = 0; i < 100 && st.addresses.some((a) => a.state === 'tentative'); i++)
    await new Promise((r) => setTimeout(r, 50));
  for (const a of st.addresses)
    if (a.state === 'duplicate')
      io.err(`sockstack tap: ${formatIpv6(a.address)} is in use on the link (DAD)`);
}

/** Resolves on SIGINT/SIGTERM; `dispose` removes the handlers. */
function interrupted(): { promise: Promise<void>; dispose(): void } {
  let done = (): void => {};
  const promise = new Promise<void>((resolve) => {
    done = () => {
      dispose();
      resolve();
    };
  });
  const dispose = (): void => {
    process.off('SIGINT', done);
    process.off('SIGTERM', done);
  };
  process.on('SIGINT', done);
  process.on('SIGTERM', done);
  return { promise, dispose };
}

// ------------------------------------------------------------------ echo / discard

/**
 * echo or discard on a listening stream socket (and UDP echo): one task per connection.
 * With IPv6 the sockets are AF_INET6 on '::', which (IPV6_V6ONLY off) take IPv4 too.
 */
async function serveStream(
  stack: Stack,
  service: 'echo' | 'discard',
  port: number,
  cleanups: Cleanup[],
  v6 = false,
): Promise<void> {
  const open = new Set<Socket>();
  const family = v6 ? AF_INET6 : AF_INET;
  const any = v6 ? '::' : '';
  const l = stack.socket(family, SOCK_STREAM);
  cleanups.push(async () => {
    await l.close();
    for (const c of open) await c.close();
  });
  l.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  await l.bind([any, port]);
  await l.listen(64);
  if (service === 'echo') {
    const u = stack.socket(family, SOCK_DGRAM);
    cleanups.push(() => u.close());
    await u.bind([any, port]);
    void (async () => {
      for (;;) {
        const got = await u.recvfrom(65536).catch(() => undefined);
        if (got === undefined) return; // closed
        const [d, from] = got;
        if (from) await u.sendto(d, from).catch(() => {});
      }
    })();
  }
  void (async () => {
    for (;;) {
      const got = await l.accept().catch(() => undefined);
      if (got === undefined) return; // closed
      const [c] = got;
      open.add(c);
      void (service === 'echo' ? echo(c) : discard(c))
        .catch(() => {
          // A reset connection ends its task; the service goes on.
        })
        .finally(() => {
          open.delete(c);
          void c.close();
        });
    }
  })();
}

/** Sends back everything until the peer's FIN, then closes (after the data). */
async function echo(c: Socket): Promise<void> {
  for await (const chunk of c) await c.sendall(chunk);
}

async function discard(c: Socket): Promise<void> {
  for await (const _ of c) {
    // dropped
  }
}

// ------------------------------------------------------------------ http

async function serveHttp(stack: Stack, driver: RealtimeDriver, port: number, cleanups: Cleanup[]) {
  const http = await import('node:http');
  const { transferRoute } = await import('./http-service.ts');
  const { stackNet } = await import('../node/net-facade.ts');
  const net = stackNet(stack, driver);
  const server = http.createServer((req, res) => {
    if (transferRoute(req, res)) return;
    const s = req.socket;
    const rows: [string, string][] = [
      ['client', `${s.remoteAddress}:${s.remotePort}`],
      ['server', `${s.localAddress}:${s.localPort} (${stack.name})`],
      ...Object.entries(req.headers).map(([k, v]): [string, string] => [k, String(v)]),
    ];
    const body =
      '<!doctype html>\n<html><head><title>sockstack</title></head><body>' +
      `<h1>sockstack</h1><p>${escapeHtml(`${req.method} ${req.url} HTTP/${req.httpVersion}`)}</p>\n<table>\n` +
      rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>\n`).join('') +
      '</table>\n<p>Try <a href="/bytes/1048576">/bytes/1048576</a> for 1 MiB of random bytes.</p>\n' +
      '</body></html>\n';
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      server: 'sockstack',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  cleanups.push(async () => {
    net.closeAll();
    if (server.listening) await new Promise<void>((r) => server.close(() => r()));
  });
  await net.attach(server, port);
}

function escapeHtml(s: string): string {
  return s.replace(/[<>&"]/g, (ch) =>
    ch === '<' ? '&lt;' : ch === '>' ? '&gt;' : ch === '&' ? '&amp;' : '&quot;',
  );
}

// ------------------------------------------------------------------ --connect

/**
 * nc-style: stdin → socket (then a half-close, FIN), socket → stdout. Done when the
 * peer closes its side (exit 0), the connection fails (exit 1) or on a signal (exit 1).
 */
async function relay(
  io: CliIo,
  stack: Stack,
  target: { host: string; port: number },
  stop: Promise<void>,
): Promise<number> {
  const where = `${target.host}:${target.port}`;
  const s = stack.socket(target.host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
  const stdin = process.stdin;
  let stopped = false;
  const onStop = stop.then(() => {
    stopped = true;
    return 'stopped' as const;
  });
  try {
    const connected = await Promise.race([
      s.connect([target.host, target.port]).then(() => 'ok' as const),
      onStop,
    ]);
    if (connected === 'stopped') return EXIT_FAILURE;
    // stdin → socket, one chunk at a time (paused while sendall waits: backpressure).
    const up = (async () => {
      for await (const chunk of stdin) {
        if (stopped) return;
        await s.sendall(new Uint8Array(chunk as Buffer));
      }
      s.shutdown(SHUT_WR);
    })();
    // Errors on the way up (EPIPE after the peer reset) surface on the way down too.
    up.catch(() => {});
    const down = (async () => {
      for await (const chunk of s) {
        if (!process.stdout.write(chunk)) await drained();
      }
    })();
    const r = await Promise.race([down.then(() => 'eof' as const), onStop]);
    return r === 'eof' ? EXIT_OK : EXIT_FAILURE;
  } catch (e) {
    io.err(`sockstack tap: connection to ${where}: ${(e as Error).message}`);
    return EXIT_FAILURE;
  } finally {
    stdin.pause();
    stdin.destroy();
    await s.close();
  }
}

function drained(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.stdout.off('drain', done);
      process.stdout.off('close', done);
      resolve();
    };
    process.stdout.once('drain', done);
    process.stdout.once('close', done);
  });
}
