/**
 * `sockstack demo` (what `npm start` runs): the course's echo session between two
 * virtual hosts on two subnets joined by a router, printed as it happens — every
 * frame as nested envelopes, labelled, with the socket calls and TCP states that
 * caused it — and recorded to a pcapng file (one interface per subnet).
 */
import type { TcpInfo } from '../tcp/info.ts';
import { formatEnvelope, formatTime, type StyleFn, summaryLine } from '../trace/format.ts';
import type { FrameLabel, TappedFrame, WatchedNetwork } from '../trace/session.ts';
import { formatMac } from '../wire/address.ts';
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

const PORT = 5000;
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
      'fragment it at the client and again at the router.',
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

function pyBytes(b: Uint8Array | string, max = 40): string {
  const s = typeof b === 'string' ? b : new TextDecoder().decode(b);
  const shown = s.length > max ? `${s.slice(0, max)}…` : s;
  return `b'${shown.replace(/[\\']/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}'`;
}

function tupleText(t: unknown): string {
  return Array.isArray(t) ? `('${t[0]}', ${t[1]})` : String(t);
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

  const { buildWatchedNetwork, FrameLabeller, StateWatcher, connectionOf, SERVER_ADDR } = await import(
    '../trace/session.ts'
  );
  const capture = await openCaptureOption(pcapPath, 'demo', io);
  if (capture === 'failed') return EXIT_FAILURE;
  const file = capture?.file;
  const writer = capture?.writer;

  const st = settings.style;
  const out = (line: string) => {
    if (!settings.quiet) io.out(line);
  };
  const labeller = new FrameLabeller();
  const stats = { frames: [0, 0], bytes: [0, 0], retransmissions: 0, fragments: 0, index: 0 };
  const macNames = new Map<string, string>();
  let watcher: InstanceType<typeof StateWatcher> | undefined;
  let net: WatchedNetwork | undefined;
  let t0 = 0;
  const now = () => (net ? net.sim.now - t0 : 0);

  let lastChange = 0;
  const reportStates = () => {
    for (const c of watcher?.check() ?? []) {
      lastChange = now();
      const tag = c.to === 'CLOSED' && c.from === 'TIME-WAIT' ? '  (TIME-WAIT over: 2×MSL passed)' : '';
      out(
        `${st('dim', formatTime(now()))}  ${st('title', c.who.padEnd(6))} ${st('flags', `◆ ${c.from ?? 'CLOSED'} → ${c.to}`)}${st('note', tag)}`,
      );
    }
  };
  const api = (who: string, call: string, result?: string) => {
    reportStates();
    out(
      `${st('dim', formatTime(now()))}  ${st('title', who.padEnd(6))} ${st('label', `▸ ${call}`)}${result ? st('note', `  ${result}`) : ''}`,
    );
  };

  // State changes caused by a frame happen right after it is captured: look again once
  // the stacks have processed this instant's frames.
  let checkPending = false;
  const scheduleCheck = () => {
    if (checkPending || !net) return;
    checkPending = true;
    net.sim.timers
      .timer(() => {
        checkPending = false;
        reportStates();
      })
      .set(net.sim.now);
  };
  const onFrame = (f: TappedFrame) => {
    reportStates();
    scheduleCheck();
    const l: FrameLabel = labeller.label(f);
    stats.index++;
    stats.frames[f.subnet]++;
    stats.bytes[f.subnet] += f.data.length;
    if (l.retransmission && !l.forwarded) stats.retransmissions++;
    if (l.fragment) stats.fragments++;
    if (settings.quiet) return;
    const subnetName = f.subnet === 0 ? '10.0.1.0/24' : '10.0.2.0/24';
    const eth = l.dissection.eth;
    const hop = eth
      ? `${macNames.get(eth.src) ?? eth.src} → ${macNames.get(eth.dst) ?? (eth.dst === 'ff:ff:ff:ff:ff:ff' ? 'everyone (broadcast)' : eth.dst)}`
      : '';
    const notes = [`on ${subnetName}: ${hop}`, ...l.notes];
    if (settings.brief) {
      io.out(
        `${st('dim', `#${stats.index} ${formatTime(f.time - t0)}`)} ${st('dim', `[${subnetName}]`)} ${st('label', l.label)}`,
      );
      io.out(`      ${summaryLine(l.dissection, l.tcp ? { tcp: { ...l.tcp, events: [] } } : {})}`);
      return;
    }
    io.out('');
    io.out(
      formatEnvelope(l.dissection, {
        index: stats.index,
        time: f.time - t0,
        label: l.label,
        notes,
        ...(l.tcp ? { tcp: { ...l.tcp, events: [] } } : {}),
        layout: settings.layout,
        style: st,
      }),
    );
  };

  const delay = Math.round(delayMs * 1000);
  const loss = lossPct / 100;
  const jitter = Math.round(jitterMs * 1000);
  const imp = { ...(loss > 0 ? { loss } : {}), ...(jitter > 0 ? { jitter } : {}) };
  net = buildWatchedNetwork({
    seed,
    delay,
    linkA: imp,
    linkB: imp,
    mtuB: mtu,
    ...(writer ? { writer } : {}),
    onFrame,
  });
  const { sim, client, router, server } = net;
  t0 = sim.now;
  for (const [name, s] of [
    ['client', client],
    ['router', router],
    ['server', server],
  ] as const) {
    for (const i of s.interfaces) macNames.set(formatMac(i.mac), name);
  }
  watcher = new StateWatcher([
    { name: 'client', stack: client },
    { name: 'server', stack: server },
  ]);
  // Frames delivered at one instant wait in a receive queue and are processed in one poll:
  // look before each, so each frame's state change shows on its own.
  client.traceReceive = reportStates;
  server.traceReceive = reportStates;

  const { AF_INET, SOCK_DGRAM, SOCK_STREAM } = await import('../socket/constants.ts');
  const bytesSent = new TextEncoder().encode(message);
  out(
    st('title', `sockstack demo — the course's echo session, ${udp ? 'over UDP' : 'over TCP'}, seed ${seed}`),
  );
  out('');
  out('  client 10.0.1.2 ── 10.0.1.0/24 ── router 10.0.1.1 | 10.0.2.1 ── 10.0.2.0/24 ── server 10.0.2.2');
  out(
    `  links: ${delayMs} ms one way${jitter ? ` + up to ${jitterMs} ms jitter` : ''}, ${lossPct ? `${lossPct}% loss each way` : 'no loss'}, MTU 1500 | ${mtu}`,
  );
  out(
    '  time: virtual seconds since the start · ▸ socket call · ◆ TCP state change · #n a frame on a subnet',
  );
  out('');

  let echoed: Uint8Array = new Uint8Array(0);
  let clientInfo: TcpInfo | undefined;
  let serverInfo: TcpInfo | undefined;
  let failure: string | undefined;
  const session = async (): Promise<void> => {
    if (udp) {
      await udpSession();
      return;
    }
    // ---- the server, as in the course: socket, bind, listen, accept, recv/send loop, close
    const s = server.socket(AF_INET, SOCK_STREAM);
    api('server', 's = socket(AF_INET, SOCK_STREAM)');
    await s.bind(['', PORT]);
    api('server', `s.bind(('', ${PORT}))`);
    await s.listen(1);
    api('server', 's.listen(1)', '→ LISTEN on 0.0.0.0:5000');
    const serverDone = (async () => {
      api('server', 's.accept()', 'blocks until a connection is ready');
      const [conn, addr] = await s.accept();
      api('server', `s.accept() returned ${tupleText(addr)}`, `state ${connectionOf(server, conn)?.state}`);
      for (;;) {
        const data = await conn.recv(1024);
        if (data.length === 0) {
          api('server', "conn.recv(1024) returned b''", 'end of stream: the client closed its side');
          break;
        }
        api('server', `conn.recv(1024) returned ${data.length} bytes ${pyBytes(data)}`);
        serverInfo = connectionOf(server, conn)?.info() ?? serverInfo;
        api('server', `conn.sendall(${pyBytes(data)})`, 'echo it back');
        await conn.sendall(data);
      }
      serverInfo = connectionOf(server, conn)?.info() ?? serverInfo;
      api('server', 'conn.close()', 'sends FIN');
      await conn.close();
      api('server', 's.close()', 'stops listening');
      await s.close();
    })();
    // ---- the client: socket, connect, send, recv, close
    const c = client.socket(AF_INET, SOCK_STREAM);
    api('client', 'c = socket(AF_INET, SOCK_STREAM)');
    api(
      'client',
      `c.connect(('${SERVER_ADDR}', ${PORT}))`,
      'sends a SYN and blocks until the handshake completes',
    );
    await c.connect([SERVER_ADDR, PORT]);
    api(
      'client',
      `c.connect() returned: connected from ${tupleText(c.getsockname())}`,
      `state ${connectionOf(client, c)?.state}`,
    );
    api('client', `c.sendall(${pyBytes(bytesSent)})`, `${bytesSent.length} bytes`);
    await c.sendall(bytesSent);
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < bytesSent.length) {
      const d = await c.recv(1024);
      if (d.length === 0) break;
      parts.push(d);
      got += d.length;
      api('client', `c.recv(1024) returned ${d.length} bytes ${pyBytes(d)}`);
    }
    echoed = concat(parts);
    clientInfo = connectionOf(client, c)?.info();
    api('client', 'c.close()', 'sends FIN');
    await c.close();
    await serverDone;
  };

  const udpSession = async (): Promise<void> => {
    const s = server.socket(AF_INET, SOCK_DGRAM);
    api('server', 's = socket(AF_INET, SOCK_DGRAM)');
    await s.bind(['', PORT]);
    api('server', `s.bind(('', ${PORT}))`);
    let clientDone = false;
    const serverDone = (async () => {
      api('server', 's.recvfrom(65535)', 'blocks until a datagram arrives');
      while (!clientDone) {
        let got: [Uint8Array, unknown];
        try {
          got = await s.recvfrom(65535);
        } catch {
          break; // closed under us at the end
        }
        const [data, addr] = got;
        api(
          'server',
          `s.recvfrom(65535) returned ${data.length} bytes ${pyBytes(data)} from ${tupleText(addr)}`,
        );
        api('server', `s.sendto(data, ${tupleText(addr)})`, 'echo it back');
        await s.sendto(data, addr as [string, number]);
      }
    })();
    const c = client.socket(AF_INET, SOCK_DGRAM);
    api('client', 'c = socket(AF_INET, SOCK_DGRAM)');
    c.settimeout(1);
    api('client', 'c.settimeout(1.0)');
    for (let attempt = 1; attempt <= 5; attempt++) {
      api(
        'client',
        `c.sendto(${pyBytes(bytesSent)}, ('${SERVER_ADDR}', ${PORT}))`,
        `${bytesSent.length} bytes`,
      );
      await c.sendto(bytesSent, [SERVER_ADDR, PORT]);
      try {
        const [d, addr] = await c.recvfrom(65535);
        echoed = d;
        api('client', `c.recvfrom(65535) returned ${d.length} bytes ${pyBytes(d)} from ${tupleText(addr)}`);
        break;
      } catch (e) {
        if ((e as Error).name !== 'TimeoutError' && !/timed out/i.test(String((e as Error).message))) throw e;
        api('client', 'c.recvfrom(65535) timed out', 'UDP does not retransmit: the application sends again');
      }
    }
    clientDone = true;
    api('client', 'c.close()', 'no packets: UDP has no connection to end');
    await c.close();
    api('server', 's.close()');
    await s.close();
    await serverDone;
  };

  try {
    await sim.run(session, { timeout: 600_000_000 });
  } catch (e) {
    failure = (e as Error).message;
  }
  // Let the closing handshake and TIME-WAIT run out (virtual time: 2×MSL costs nothing).
  if (failure === undefined) {
    try {
      // Event by event (no task is waiting), so each state change shows at its own instant.
      const limit = sim.now + 300_000_000;
      for (;;) {
        const next = sim.nextDeadline();
        if (next === undefined || next > limit || watcher.active === 0) break;
        sim.runUntil(Math.max(next, sim.now));
        reportStates();
      }
    } catch (e) {
      failure = (e as Error).message;
    }
  }
  reportStates();
  const endTime = lastChange;
  net.watching = false;
  file?.close();

  const echoText = new TextDecoder().decode(echoed);
  const ok = failure === undefined && echoText === message;
  const S = (s: string) => st('title', s);
  io.out('');
  io.out(S('Summary'));
  io.out(
    `  echoed:          ${pyBytes(echoed, 60)} (${echoed.length} bytes)${ok ? ' — the same bytes the client sent' : ' — NOT what the client sent'}`,
  );
  io.out(
    `  frames:          ${stats.frames[0] + stats.frames[1]} (${stats.frames[0]} on 10.0.1.0/24, ${stats.frames[1]} on 10.0.2.0/24), ${stats.bytes[0] + stats.bytes[1]} bytes`,
  );
  io.out(`  retransmissions: ${stats.retransmissions}`);
  if (stats.fragments > 0) io.out(`  IP fragments:    ${stats.fragments}`);
  if (!udp && clientInfo) {
    const rtt = clientInfo.rtt !== undefined ? `${(clientInfo.rtt / 1000).toFixed(3)} ms` : 'no sample';
    io.out(
      `  RTT:             ${rtt} (client's SRTT; propagation alone is ${(4 * delay) / 1000} ms, the SYN's sample also waited for ARP)`,
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
      ? `  virtual time:    ${formatTime(sim.now - t0)} s`
      : `  virtual time:    ${formatTime(endTime)} s until both ends were CLOSED (TIME-WAIT included)`,
  );
  if (pcapPath !== undefined) {
    io.out(`  capture:         ${pcapPath} (pcapng: client.eth0 = 10.0.1.0/24, server.eth0 = 10.0.2.0/24)`);
    io.out(`                   open it with 'sockstack capture -v ${pcapPath}' or Wireshark`);
  }
  if (failure !== undefined) {
    io.err(`sockstack demo: the session did not finish: ${failure}`);
    return EXIT_FAILURE;
  }
  if (!ok) {
    io.err('sockstack demo: the echo did not come back intact');
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
