/**
 * `sockstack demo` (what `npm start` runs): the course's echo session between two
 * virtual hosts on two subnets joined by a router, printed as it happens — every
 * frame as nested envelopes, labelled, with the socket calls and TCP states that
 * caused it — and recorded to a pcapng file (one interface per subnet).
 */
import { formatEnvelope, formatTime, type StyleFn, summaryLine } from '../trace/format.ts';
import type { FrameEvent } from '../web/echo-session.ts';
import {
  type CliIo,
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  flag,
  num,
  oneOf,
  openCaptureOption,
  type Parsed,
  str,
  UsageError,
} from './command.ts';
import { styleFor } from './style.ts';

const DEFAULT_PCAP = 'sockstack-demo.pcapng';

export const command: Command = {
  spec: {
    name: 'demo',
    summary: 'watch a TCP conversation layer by layer (Ethernet → IP → TCP → data)',
    usage: ['[options]'],
    description:
      'Builds a virtual network in memory (no root, no real network):\n' +
      '  client 10.0.1.2 ── 10.0.1.0/24 ── router 10.0.1.1 | 10.0.2.1 ── 10.0.2.0/24 ── server 10.0.2.2\n' +
      "and runs the course's echo session over sockstack's sockets: the server does\n" +
      "socket, bind(('', 5000)), listen(1), accept, recv/send until the client closes,\n" +
      "close; the client does socket, connect(('10.0.2.2', 5000)), send, recv, close.\n\n" +
      'Every frame is printed as it is seen on its subnet (the client side and the\n' +
      "server side, so the router's forwarding shows: same datagram, TTL 64 → 63,\n" +
      'new MACs) as nested envelopes Ethernet → IP → TCP → data, labelled (ARP,\n' +
      'handshake, data, ACK, FIN, retransmission, fragment), between the socket calls\n' +
      'and TCP state changes of each end. Time is virtual (seconds since the start):\n' +
      'the run takes a fraction of a second and is the same for the same seed.\n\n' +
      '--loss and --jitter show retransmissions and reordering. With --mtu the server\n' +
      "subnet's MTU shrinks: TCP adapts its segment size (the MSS option) and never\n" +
      'lets IP fragment; add --udp to echo one UDP datagram instead and watch IP\n' +
      'fragment it at the client and again at the router.\n\n' +
      '--ipv6 runs the same session on AF_INET6 sockets over fd00:1::/64 and fd00:2::/64\n' +
      '(client fd00:1::2, router fd00:1::1 | fd00:2::1, server fd00:2::2): neighbour\n' +
      'discovery instead of ARP, and the envelopes show the IPv6 header (hop limit\n' +
      '64 → 63 across the router, no checksum, no fragmentation by the router).',
    options: {
      message: {
        type: 'string',
        short: 'm',
        value: 'TEXT',
        description: 'what the client sends',
        default: '"Hello, world"',
      },
      size: {
        type: 'string',
        short: 's',
        value: 'BYTES',
        description: 'send BYTES bytes of generated text instead of --message',
      },
      udp: { type: 'boolean', short: 'u', description: 'echo over UDP (SOCK_DGRAM) instead of TCP' },
      ipv6: { type: 'boolean', short: '6', description: 'run the session over IPv6 (AF_INET6)' },
      loss: {
        type: 'string',
        value: 'PERCENT',
        description: 'random loss on each link, each direction',
        default: '0',
      },
      delay: { type: 'string', value: 'MS', description: 'one-way delay of each link', default: '0.5' },
      jitter: {
        type: 'string',
        value: 'MS',
        description: 'random extra delay per frame (frames may overtake each other)',
        default: '0',
      },
      mtu: {
        type: 'string',
        value: 'BYTES',
        description: 'IP MTU of the server subnet 10.0.2.0/24',
        default: '1500',
      },
      seed: { type: 'string', value: 'N', description: 'random seed (same seed, same run)', default: '1' },
      quiet: {
        type: 'boolean',
        short: 'q',
        description: 'only the summary (frames, bytes, retransmissions, RTT, echo)',
      },
      brief: { type: 'boolean', short: 'b', description: 'one line per frame instead of envelopes' },
      layout: { type: 'string', value: 'box|tree', description: 'envelope layout', default: 'box' },
      'no-color': { type: 'boolean', description: 'no colours even on a terminal' },
      pcap: {
        type: 'string',
        short: 'w',
        value: 'FILE',
        description: 'where to write the capture (pcapng, one interface per subnet)',
        default: DEFAULT_PCAP,
      },
      'no-pcap': { type: 'boolean', description: 'do not write a capture file' },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: [
      'sockstack demo',
      'npm start',
      'sockstack demo --loss 10 --seed 3',
      'sockstack demo --jitter 2 --size 6000 --brief',
      'sockstack demo --udp --mtu 576 --size 2000',
      'sockstack demo --ipv6 --brief',
      'sockstack demo --quiet --pcap /tmp/echo.pcapng && sockstack capture -A /tmp/echo.pcapng',
    ],
  },
  run: runDemo,
};

/** `size` bytes of readable, checkable text. */
export function generatedText(size: number): string {
  const unit = 'The quick brown fox jumps over the lazy dog. ';
  let s = '';
  let i = 0;
  while (s.length < size) s += `${i++}:${unit}`;
  return s.slice(0, size);
}

interface DemoSettings {
  readonly message: string;
  readonly udp: boolean;
  readonly quiet: boolean;
  readonly brief: boolean;
  readonly layout: 'box' | 'tree';
  readonly style: StyleFn;
}

async function runDemo(p: Parsed, io: CliIo): Promise<number> {
  const size =
    str(p, 'size') === undefined ? undefined : num(p, 'size', 0, { min: 1, max: 10_000_000, integer: true });
  const message = size !== undefined ? generatedText(size) : (str(p, 'message') ?? 'Hello, world');
  if (message.length === 0) throw new UsageError('--message: empty');
  const lossPct = num(p, 'loss', 0, { min: 0, max: 90 });
  const delayMs = num(p, 'delay', 0.5, { min: 0, max: 10_000 });
  const jitterMs = num(p, 'jitter', 0, { min: 0, max: 10_000 });
  const mtu = num(p, 'mtu', 1500, { min: 68, max: 65535, integer: true });
  const seed = num(p, 'seed', 1, { integer: true });
  const layout = oneOf(p, 'layout', ['box', 'tree'] as const, 'box');
  const udp = flag(p, 'udp');
  const v6 = flag(p, 'ipv6');
  if (udp && new TextEncoder().encode(message).length > 65507)
    throw new UsageError('a UDP datagram holds at most 65507 bytes');
  const settings: DemoSettings = {
    message,
    udp,
    quiet: flag(p, 'quiet'),
    brief: flag(p, 'brief'),
    layout,
    style: styleFor(io.color && !flag(p, 'no-color')),
  };
  const pcapPath = flag(p, 'no-pcap') ? undefined : (str(p, 'pcap') ?? DEFAULT_PCAP);

  const { pyBytes, runEchoSession, SUBNETS: SUBNETS4, SUBNETS6 } = await import('../web/echo-session.ts');
  const SUBNETS = v6 ? SUBNETS6 : SUBNETS4;
  const capture = await openCaptureOption(pcapPath, 'demo', io);
  if (capture === 'failed') return EXIT_FAILURE;
  const st = settings.style;
  const out = (line: string) => {
    if (!settings.quiet) io.out(line);
  };

  out(
    st(
      'title',
      `sockstack demo — the course's echo session, ${udp ? 'over UDP' : 'over TCP'}${v6 ? ' over IPv6' : ''}, seed ${seed}`,
    ),
  );
  out('');
  out(
    v6
      ? '  client fd00:1::2 ── fd00:1::/64 ── router fd00:1::1 | fd00:2::1 ── fd00:2::/64 ── server fd00:2::2'
      : '  client 10.0.1.2 ── 10.0.1.0/24 ── router 10.0.1.1 | 10.0.2.1 ── 10.0.2.0/24 ── server 10.0.2.2',
  );
  out(
    `  links: ${delayMs} ms one way${jitterMs ? ` + up to ${jitterMs} ms jitter` : ''}, ${lossPct ? `${lossPct}% loss each way` : 'no loss'}, MTU 1500 | ${mtu}`,
  );
  out(
    '  time: virtual seconds since the start · ▸ socket call · ◆ TCP state change · #n a frame on a subnet',
  );
  out('');

  // The session runs on virtual time in a moment (src/web/echo-session.ts, which the
  // course page plays too); then its events are printed in the order they happened.
  const trace = await runEchoSession(
    { message, udp, lossPercent: lossPct, delayMs, jitterMs, mtu, seed, ipVersion: v6 ? 6 : 4 },
    { ...(capture ? { writer: capture.writer } : {}), application: 'sockstack demo' },
  );
  capture?.file.close();
  for (const e of trace.events) {
    const time = st('dim', formatTime(e.time));
    if (e.kind === 'call') {
      out(
        `${time}  ${st('title', e.who.padEnd(6))} ${st('label', `▸ ${e.text}`)}${e.note ? st('note', `  ${e.note}`) : ''}`,
      );
    } else if (e.kind === 'state') {
      const tag = e.to === 'CLOSED' && e.from === 'TIME-WAIT' ? '  (TIME-WAIT over: 2×MSL passed)' : '';
      out(
        `${time}  ${st('title', e.who.padEnd(6))} ${st('flags', `◆ ${e.from} → ${e.to}`)}${st('note', tag)}`,
      );
    } else if (!settings.quiet) printFrame(e, SUBNETS[e.subnet], settings, io);
  }

  const frames = [0, 1].map((s) => trace.frames.filter((f) => f.subnet === s));
  const bytes = frames.map((fs) => fs.reduce((n, f) => n + f.data.length, 0));
  const fragments = trace.frames.filter((f) => f.fragment).length;
  const echoed = trace.echoedBytes;
  const clientInfo = trace.clientInfo;
  const delay = Math.round(delayMs * 1000);
  const S = (s: string) => st('title', s);
  io.out('');
  io.out(S('Summary'));
  io.out(
    `  echoed:          ${pyBytes(echoed, 60)} (${echoed.length} bytes)${trace.ok ? ' — the same bytes the client sent' : ' — NOT what the client sent'}`,
  );
  io.out(
    `  frames:          ${trace.frames.length} (${frames[0].length} on ${SUBNETS[0]}, ${frames[1].length} on ${SUBNETS[1]}), ${bytes[0] + bytes[1]} bytes`,
  );
  io.out(`  retransmissions: ${trace.retransmissions}`);
  if (fragments > 0) io.out(`  IP fragments:    ${fragments}`);
  if (!udp && clientInfo) {
    const rtt = clientInfo.rtt !== undefined ? `${(clientInfo.rtt / 1000).toFixed(3)} ms` : 'no sample';
    io.out(
      `  RTT:             ${rtt} (client's SRTT; propagation alone is ${(4 * delay) / 1000} ms, the SYN's sample also waited for ${v6 ? 'neighbour discovery' : 'ARP'})`,
    );
    const ts = clientInfo.options.timestamps ? 12 : 0;
    io.out(
      `  MSS:             ${clientInfo.mss} bytes (the client's segments carry at most ${clientInfo.mss - ts} data bytes${ts ? ' beside the 12-byte timestamp option' : ''})`,
    );
  }
  if (!udp && mtu < 1500)
    io.out(
      `  note:            TCP set DF and sized its segments to the MTU (MSS option), so IP never had to fragment; --udp shows fragmentation`,
    );
  io.out(
    udp
      ? `  virtual time:    ${formatTime(trace.duration)} s`
      : `  virtual time:    ${formatTime(trace.duration)} s until both ends were CLOSED (TIME-WAIT included)`,
  );
  if (pcapPath !== undefined) {
    io.out(
      `  capture:         ${pcapPath} (pcapng: client.eth0 = ${SUBNETS[0]}, server.eth0 = ${SUBNETS[1]})`,
    );
    io.out(`                   open it with 'sockstack capture -v ${pcapPath}' or Wireshark`);
  }
  if (trace.failure !== undefined) {
    io.err(`sockstack demo: the session did not finish: ${trace.failure}`);
    return EXIT_FAILURE;
  }
  if (!trace.ok) {
    io.err('sockstack demo: the echo did not come back intact');
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}

/** One frame: a header line and the nested envelopes, or (--brief) a header and a summary line. */
function printFrame(f: FrameEvent, subnetName: string, settings: DemoSettings, io: CliIo): void {
  const st = settings.style;
  const tcp = f.tcp ? { tcp: { ...f.tcp, events: [] } } : {};
  if (settings.brief) {
    io.out(
      `${st('dim', `#${f.index} ${formatTime(f.time)}`)} ${st('dim', `[${subnetName}]`)} ${st('label', f.label)}`,
    );
    io.out(`      ${summaryLine(f.dissection, tcp)}`);
    return;
  }
  const to = f.to === 'everyone' ? 'everyone (broadcast)' : f.to;
  io.out('');
  io.out(
    formatEnvelope(f.dissection, {
      index: f.index,
      time: f.time,
      label: f.label,
      notes: [`on ${subnetName}: ${f.from} → ${to}`, ...f.notes],
      ...tcp,
      layout: settings.layout,
      style: st,
    }),
  );
}
