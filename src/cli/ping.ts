/**
 * `sockstack ping`: ICMP echo (or ICMPv6 echo, RFC 4443 §4, for an IPv6 address or
 * with -6) from the virtual client across the router, printed like ping(8).
 */
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/address.ts';
import {
  type CliIo,
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  flag,
  num,
  type Parsed,
  str,
  UsageError,
} from './command.ts';

export const command: Command = {
  spec: {
    name: 'ping',
    summary: 'ICMP echo from the virtual client across the router (like ping(8))',
    usage: ['[options] [HOST]'],
    description:
      'Builds the built-in virtual network\n' +
      '  client 10.0.1.2 ── router (10.0.1.1 | 10.0.2.1) ── server 10.0.2.2\n' +
      'and pings HOST (default the server; also "client", "router", "server" or any\n' +
      'address, to see unreachable and timeout answers) from the client. Time is\n' +
      'virtual: the run takes milliseconds and is the same for the same seed.\n' +
      'An IPv6 HOST (or -6 with a name) pings over IPv6: the network then also has\n' +
      '  client fd00:1::2 ── router (fd00:1::1 | fd00:2::1) ── server fd00:2::2',
    options: {
      count: { type: 'string', short: 'c', value: 'N', description: 'echo requests to send', default: '4' },
      interval: {
        type: 'string',
        short: 'i',
        value: 'SECONDS',
        description: 'wait between requests',
        default: '1',
      },
      size: { type: 'string', short: 's', value: 'BYTES', description: 'ICMP data bytes', default: '56' },
      ttl: { type: 'string', short: 't', value: 'TTL', description: 'IP time to live', default: '64' },
      timeout: {
        type: 'string',
        short: 'W',
        value: 'SECONDS',
        description: 'time to wait for a reply',
        default: '1',
      },
      delay: { type: 'string', value: 'MS', description: 'one-way delay of each link', default: '0.5' },
      loss: {
        type: 'string',
        value: 'PERCENT',
        description: 'random loss on each link, each direction',
        default: '0',
      },
      seed: { type: 'string', value: 'N', description: 'random seed', default: '1' },
      quiet: { type: 'boolean', short: 'q', description: 'only the summary' },
      ipv6: { type: 'boolean', short: '6', description: 'ping over IPv6 (names mean their IPv6 addresses)' },
      pcap: {
        type: 'string',
        short: 'w',
        value: 'FILE',
        description: "record the client's interface to a pcapng file",
      },
    },
    positionals: { min: 0, max: 1, names: 'HOST' },
    examples: [
      'sockstack ping',
      'sockstack ping -c 10 --loss 20 --seed 4',
      'sockstack ping -t 1 server',
      'sockstack ping 10.0.2.9',
      'sockstack ping fd00:2::2',
      'sockstack ping -6 -t 1 server',
    ],
  },
  run: runPing,
};

async function runPing(p: Parsed, io: CliIo): Promise<number> {
  const count = num(p, 'count', 4, { min: 1, max: 1_000_000, integer: true });
  const interval = num(p, 'interval', 1, { min: 0.001 });
  const size = num(p, 'size', 56, { min: 0, max: 65507, integer: true });
  const ttl = num(p, 'ttl', 64, { min: 1, max: 255, integer: true });
  const timeout = num(p, 'timeout', 1, { min: 0.001 });
  const delayMs = num(p, 'delay', 0.5, { min: 0 });
  const lossPct = num(p, 'loss', 0, { min: 0, max: 100 });
  const seed = num(p, 'seed', 1, { integer: true });
  const quiet = flag(p, 'quiet');
  const pcapPath = str(p, 'pcap');
  const { HOST_NAMES, HOST_NAMES6, SERVER_ADDR, SERVER_ADDR6, buildTopology } = await import('./topology.ts');
  const given = p.positionals[0];
  const v6 = flag(p, 'ipv6') || given?.includes(':') === true;
  const hostText = given ?? (v6 ? SERVER_ADDR6 : SERVER_ADDR);
  const names = v6 ? HOST_NAMES6 : HOST_NAMES;
  const dst = v6 ? undefined : parseIpv4(names[hostText] ?? hostText);
  const dst6 = v6 ? parseIpv6(names[hostText] ?? hostText) : undefined;
  if (dst === undefined && dst6 === undefined)
    throw new UsageError(
      `'${hostText}' is not an ${v6 ? 'IPv6' : 'IPv4'} address or one of ${Object.keys(names).join(', ')}`,
    );

  let file: { close(): void } | undefined;
  let capture: import('../link/pcap.ts').CaptureWriter | undefined;
  if (pcapPath !== undefined) {
    const { openPcapngFile } = await import('../node/pcap-file.ts');
    try {
      const opened = openPcapngFile(pcapPath);
      file = opened.file;
      capture = opened.writer;
    } catch (e) {
      io.err(`sockstack ping: cannot write ${pcapPath}: ${(e as Error).message}`);
      return EXIT_FAILURE;
    }
  }
  const loss = lossPct / 100;
  const net = buildTopology({
    seed,
    delay: Math.round(delayMs * 1000),
    ...(loss > 0 ? { linkA: { loss }, linkB: { loss } } : {}),
    ...(capture ? { capture } : {}),
    ipv6: v6,
  });
  const { sim, client } = net;
  const dstText = dst6 !== undefined ? formatIpv6(dst6) : formatIpv4(dst!);
  // iputils ping prints the IPv6 banner without the IP+ICMP sizes.
  if (v6) io.out(`PING ${dstText} (${dstText}) ${size} data bytes`);
  else io.out(`PING ${dstText} (${dstText}) ${size}(${size + 28}) bytes of data.`);
  const rtts: number[] = [];
  let errors = 0;
  const start = sim.now;
  let lastSent = start;
  const ident = 0x5353;
  for (let seq = 1; seq <= count; seq++) {
    const sentAt = sim.now;
    lastSent = sentAt;
    const opts = { id: ident, seq, size, ttl, timeout: Math.round(timeout * 1e6) };
    const r = await sim.run<PingOutcome>(
      dst6 !== undefined ? client.ping6(dstText, opts) : client.ping(dst!, opts),
      {
        timeout: Math.round(timeout * 1e6) + 1_000_000,
      },
    );
    const fmt = (a: number | Uint8Array) => (typeof a === 'number' ? formatIpv4(a) : formatIpv6(a));
    if (r.ok) {
      rtts.push(r.rtt);
      if (!quiet) {
        io.out(
          `${r.bytes} bytes from ${fmt(r.from)}: icmp_seq=${r.seq} ttl=${r.ttl} time=${(r.rtt / 1000).toFixed(3)} ms`,
        );
      }
    } else if (r.error !== 'timeout') {
      errors++;
      if (!quiet) {
        const from =
          r.from !== undefined
            ? fmt(r.from)
            : v6
              ? `${(await import('./topology.ts')).CLIENT_ADDR6}`
              : formatIpv4(client.interfaces[0]?.addresses?.[0]?.address ?? 0);
        io.out(`From ${from} icmp_seq=${seq} ${v6 ? errorText6(r.error) : errorText(r.error)}`);
      }
    }
    if (seq < count) {
      const next = sentAt + Math.round(interval * 1e6);
      if (next > sim.now) await sim.advance(next - sim.now);
    }
  }
  file?.close();
  const received = rtts.length;
  const lossOut = Math.round(((count - received) / count) * 100);
  io.out('');
  io.out(`--- ${dstText} ping statistics ---`);
  io.out(
    `${count} packets transmitted, ${received} received${errors ? `, +${errors} errors` : ''}, ${lossOut}% packet loss, time ${Math.round((lastSent - start) / 1000)}ms`,
  );
  if (received > 0) {
    const ms = rtts.map((r) => r / 1000);
    const min = Math.min(...ms);
    const max = Math.max(...ms);
    const avg = ms.reduce((a, b) => a + b, 0) / ms.length;
    // ping(8)'s mdev: sqrt(mean(x²) − mean(x)²).
    const mdev = Math.sqrt(Math.max(0, ms.reduce((a, b) => a + b * b, 0) / ms.length - avg * avg));
    io.out(
      `rtt min/avg/max/mdev = ${min.toFixed(3)}/${avg.toFixed(3)}/${max.toFixed(3)}/${mdev.toFixed(3)} ms`,
    );
  }
  if (pcapPath !== undefined) io.err(`wrote ${pcapPath}`);
  return received > 0 ? EXIT_OK : EXIT_FAILURE;
}

type PingOutcome =
  | { ok: true; rtt: number; ttl: number; bytes: number; from: number | Uint8Array; seq: number }
  | { ok: false; error: string; from?: number | Uint8Array; seq: number };

/** iputils ping's words for ICMPv6 errors (RFC 4443 §3). */
function errorText6(e: string): string {
  switch (e) {
    case 'time-exceeded':
      return 'Time exceeded: Hop limit';
    case 'host-unreachable':
      return 'Destination unreachable: Address unreachable';
    case 'net-unreachable':
      return 'Destination unreachable: No route';
    case 'port-unreachable':
      return 'Destination unreachable: Port unreachable';
    case 'frag-needed':
      return 'Packet too big';
    case 'unreachable':
      return 'Destination unreachable';
    default:
      return `send failed: ${e}`;
  }
}

function errorText(e: string): string {
  switch (e) {
    case 'time-exceeded':
      return 'Time to live exceeded';
    case 'host-unreachable':
      return 'Destination Host Unreachable';
    case 'net-unreachable':
      return 'Destination Net Unreachable';
    case 'port-unreachable':
      return 'Destination Port Unreachable';
    case 'proto-unreachable':
      return 'Destination Protocol Unreachable';
    case 'frag-needed':
      return 'Frag needed and DF set';
    case 'unreachable':
      return 'Destination Unreachable';
    default:
      return `send failed: ${e}`;
  }
}
