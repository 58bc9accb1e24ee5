/** `sockstack tap`: attach a stack to a Linux TAP device so the host kernel can talk to it. */

import type { Device } from '../link/device.ts';
import { captureDevice } from '../link/pcap.ts';
import { RealtimeDriver } from '../link/realtime.ts';
import { CryptoRng } from '../rand/rng.ts';
import { AF_INET, SOCK_DGRAM } from '../socket/constants.ts';
import { Stack } from '../stack.ts';
import type { TcpConnection } from '../tcp/connection.ts';
import { SystemClock } from '../time/system.ts';
import { parseIpv4 } from '../wire/address.ts';
import {
  type CliIo,
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  notAvailable,
  type Parsed,
  str,
  UsageError,
} from './command.ts';

const SERVICES = { echo: 7, discard: 9, http: 80 } as const;
type Service = keyof typeof SERVICES;

export const command: Command = {
  spec: {
    name: 'tap',
    summary: 'attach a stack to a Linux TAP device (needs CAP_NET_ADMIN)',
    usage: ['[options] --service echo|discard|http', '[options] --connect HOST:PORT'],
    description:
      'Opens (or creates) a TAP interface, gives the stack an address on it, answers\n' +
      'ARP and ping from the host kernel, and either serves a TCP service until\n' +
      'interrupted (--service: echo on 7 (TCP and UDP), discard on 9, a small HTTP/1.0\n' +
      'server on 80) or connects to HOST:PORT and copies stdin to the connection and\n' +
      'the connection to stdout, like nc (--connect). Needs root or CAP_NET_ADMIN;\n' +
      'run inside a network namespace to keep the host untouched. The kernel side of\n' +
      'the TAP is configured with --kernel-address, or by hand (ip addr add, ip link set up).',
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
        value: 'CIDR',
        description: "the stack's address",
        default: '10.99.0.2/24',
      },
      'kernel-address': {
        type: 'string',
        short: 'k',
        value: 'CIDR',
        description: "give the kernel's side of the TAP this address and bring it up",
      },
      gateway: { type: 'string', short: 'g', value: 'ADDR', description: 'default route via ADDR' },
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
        description: 'connect and relay stdin/stdout',
      },
      pcap: { type: 'string', short: 'w', value: 'FILE', description: 'write the packets to a pcapng file' },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: [
      'sudo ip netns add lab',
      'sudo ip netns exec lab sockstack tap --name tap0 --address 10.99.0.2/24 --kernel-address 10.99.0.1/24 --service http',
      'sudo ip netns exec lab curl http://10.99.0.2/',
    ],
  },
  run: async (p: Parsed, io: CliIo) => {
    const addr = str(p, 'address') ?? '10.99.0.2/24';
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/;
    if (!cidr.test(addr)) throw new UsageError(`--address: '${addr}' is not A.B.C.D/N`);
    const kaddr = str(p, 'kernel-address');
    if (kaddr !== undefined && !cidr.test(kaddr))
      throw new UsageError(`--kernel-address: '${kaddr}' is not A.B.C.D/N`);
    const gw = str(p, 'gateway');
    if (gw !== undefined && parseIpv4(gw) === undefined)
      throw new UsageError(`--gateway: '${gw}' is not A.B.C.D`);
    const service = str(p, 'service');
    const connect = str(p, 'connect');
    if (service !== undefined && !(service in SERVICES))
      throw new UsageError(`--service: '${service}' is not one of echo, discard, http`);
    if (service !== undefined && connect !== undefined)
      throw new UsageError('give --service or --connect, not both');
    let target: { host: string; port: number } | undefined;
    if (connect !== undefined) {
      const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(connect);
      if (!m || parseIpv4(m[1]) === undefined || Number(m[2]) < 1 || Number(m[2]) > 65535)
        throw new UsageError(`--connect: '${connect}' is not A.B.C.D:PORT`);
      target = { host: m[1], port: Number(m[2]) };
    }
    const portText = str(p, 'port');
    const port = portText === undefined ? undefined : Number(portText);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))
      throw new UsageError(`--port: '${portText}' is not 1-65535`);
    // Deviation from the first stub: a bare responder (ARP + ping only) is not offered,
    // so that `sockstack tap` alone never sits on tap0 forever by accident.
    if (service === undefined && target === undefined)
      return notAvailable('tap', 'give --service echo|discard|http or --connect HOST:PORT', io);
    return runTap(io, {
      name: str(p, 'name') ?? 'tap0',
      addr,
      kaddr,
      gw,
      service: service as Service | undefined,
      port,
      target,
      pcap: str(p, 'pcap'),
    });
  },
};

interface TapRun {
  name: string;
  addr: string;
  kaddr: string | undefined;
  gw: string | undefined;
  service: Service | undefined;
  port: number | undefined;
  target: { host: string; port: number } | undefined;
  pcap: string | undefined;
}

async function runTap(io: CliIo, o: TapRun): Promise<number> {
  // Node-only pieces load here so `sockstack --help` works everywhere.
  const { openTap } = await import('../node/tap.ts');
  const { configureLink } = await import('../node/netns.ts');
  const { openPcapngFile } = await import('../node/pcap-file.ts');
  let tap: Awaited<ReturnType<typeof openTap>>;
  try {
    tap = await openTap({ name: o.name, mode: 'tap' });
  } catch (e) {
    io.err(`sockstack tap: ${(e as Error).message}`);
    return EXIT_FAILURE;
  }
  const clock = new SystemClock();
  const driver = new RealtimeDriver({ clock });
  const pcap = o.pcap ? openPcapngFile(o.pcap) : undefined;
  const cleanups: Array<() => void | Promise<void>> = [];
  let code = EXIT_OK;
  try {
    if (o.kaddr) configureLink(tap.ifname, { addresses: [o.kaddr], disableIpv6: true });
    const stack = new Stack({ clock, rng: new CryptoRng(), name: 'sockstack', privileged: true });
    stack.timers.onEarliestChanged = () => driver.kick();
    const device: Device = pcap ? captureDevice(tap, pcap.writer, clock) : tap;
    stack.addInterface({ name: 'eth0', device, addresses: [o.addr] });
    if (o.gw) stack.addRoute({ destination: '0.0.0.0/0', gateway: o.gw });
    const rx = tap.onReceive;
    tap.onReceive = (f) => {
      rx?.(f);
      driver.kick();
    };
    driver.add(stack);
    const ip = o.addr.split('/')[0];
    io.err(`sockstack tap: ${ip} on ${tap.ifname}${o.kaddr ? ` (kernel side ${o.kaddr})` : ''}`);
    if (o.service) await serve(io, stack, o.service, o.port ?? SERVICES[o.service], cleanups);
    else if (o.target) code = await relay(io, stack, o.target);
  } catch (e) {
    io.err(`sockstack tap: ${(e as Error).message}`);
    code = EXIT_FAILURE;
  } finally {
    for (const c of cleanups) await c();
    driver.stop();
    await tap.close();
    pcap?.file.close();
  }
  return code;
}

/** Resolves on SIGINT/SIGTERM. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

const enc = new TextEncoder();

async function serve(
  io: CliIo,
  stack: Stack,
  service: Service,
  port: number,
  cleanups: Array<() => void | Promise<void>>,
): Promise<void> {
  const l = stack.tcp.listen({ port, backlog: 64 });
  cleanups.push(() => l.close());
  if (service === 'echo') {
    const u = stack.socket(AF_INET, SOCK_DGRAM);
    await u.bind(['', port]);
    cleanups.push(() => u.close());
    void (async () => {
      for (;;) {
        const [d, from] = await u.recvfrom(65536).catch(() => [undefined, undefined] as const);
        if (d === undefined) return;
        await u.sendto(d, from as [string, number]).catch(() => {});
      }
    })();
  }
  l.onAcceptable = () => {
    for (let c = l.accept(); c; c = l.accept()) handle(c, service);
  };
  io.err(
    `sockstack tap: ${service} on TCP port ${port}${service === 'echo' ? ' (and UDP)' : ''}; Ctrl-C to stop`,
  );
  await interrupted();
}

function handle(c: TcpConnection, service: Service): void {
  let head = '';
  let pending: Uint8Array[] = [];
  const flushOut = () => {
    while (pending.length) {
      const b = pending[0];
      const n = c.write(b);
      if (n === b.length) pending.shift();
      else {
        pending[0] = b.subarray(n);
        return;
      }
    }
  };
  const onData = () => {
    for (let b = c.read(); b !== null; b = c.read()) {
      if (service === 'echo') {
        pending.push(b.slice());
        flushOut();
      } else if (service === 'http' && head !== null) {
        head += new TextDecoder().decode(b);
        if (head.includes('\r\n\r\n')) {
          const line = head.split('\r\n')[0];
          const body = enc.encode(`<html><body><h1>sockstack</h1><p>${escapeHtml(line)}</p></body></html>\n`);
          pending.push(
            enc.encode(
              `HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nServer: sockstack\r\nConnection: close\r\n\r\n`,
            ),
            body,
          );
          flushOut();
          head = '';
          closeWhenFlushed();
        }
      }
    }
    if (c.eof) closeWhenFlushed();
  };
  let closing = false;
  const closeWhenFlushed = () => {
    closing = true;
    if (pending.length === 0) c.close();
  };
  c.events = {
    onReadable: onData,
    onEnd: onData,
    onWritable: () => {
      flushOut();
      if (closing && pending.length === 0) c.close();
    },
    onClose: () => {
      pending = [];
    },
  };
  onData();
}

function escapeHtml(s: string): string {
  return s.replace(/[<>&]/g, (ch) => (ch === '<' ? '&lt;' : ch === '>' ? '&gt;' : '&amp;'));
}

async function relay(io: CliIo, stack: Stack, target: { host: string; port: number }): Promise<number> {
  const a = parseIpv4(target.host);
  if (a === undefined) return EXIT_FAILURE;
  const c = stack.tcp.connect({ remote: { family: 4, v4: a }, remotePort: target.port });
  return new Promise<number>((resolve) => {
    let queue: Uint8Array[] = [];
    let stdinEnded = false;
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      process.stdin.pause();
      resolve(code);
    };
    const pump = () => {
      while (queue.length) {
        const b = queue[0];
        const n = c.write(b);
        if (n < b.length) {
          queue[0] = b.subarray(n);
          process.stdin.pause();
          return;
        }
        queue.shift();
      }
      if (stdinEnded) {
        if (c.state === 'ESTABLISHED' || c.state === 'CLOSE-WAIT') c.shutdown('write');
      } else process.stdin.resume();
    };
    c.events = {
      onEstablished: () => {
        process.stdin.on('data', (b: Buffer) => {
          queue.push(new Uint8Array(b));
          pump();
        });
        process.stdin.on('end', () => {
          stdinEnded = true;
          pump();
        });
        process.stdin.resume();
      },
      onReadable: () => {
        for (let b = c.read(); b !== null; b = c.read()) process.stdout.write(b);
      },
      onEnd: () => {
        // The peer is done (nc's default): print the rest, close our side, exit.
        for (let b = c.read(); b !== null; b = c.read()) process.stdout.write(b);
        c.close();
        finish(EXIT_OK);
      },
      onWritable: pump,
      onClose: (reason) => {
        queue = [];
        if (reason !== undefined) {
          io.err(
            `sockstack tap: connection to ${target.host}:${target.port} ${reason === 'refused' ? 'refused' : `ended: ${reason}`}`,
          );
          finish(EXIT_FAILURE);
        } else finish(EXIT_OK);
      },
    };
    void interrupted().then(() => {
      c.abort();
      finish(EXIT_FAILURE);
    });
  });
}
