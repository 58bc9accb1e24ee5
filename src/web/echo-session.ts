/**
 * The course's echo session, run on a Simulation (virtual time, seeded randomness)
 * and recorded as a list of events for the course page to play back: the socket
 * calls of each end, the TCP state changes, and every frame seen on the two subnets
 * (labelled as `sockstack demo` labels them), plus the same frames as a pcapng file.
 *
 *   client 10.0.1.2 ── 10.0.1.0/24 ── router 10.0.1.1 | 10.0.2.1 ── 10.0.2.0/24 ── server 10.0.2.2
 *
 * With `ipVersion: 6` the same hosts also have fd00:1::2, fd00:1::1 | fd00:2::1 and
 * fd00:2::2, and the session runs on AF_INET6 sockets (neighbour discovery instead of ARP).
 *
 * No DOM and no node: here, so the page (src/web/page.ts), `sockstack demo`
 * (src/cli/demo.ts) and the tests run the very same session: same settings and
 * seed, same events, byte for byte.
 */
import type { LinkType } from '../link/device.ts';
import { type CaptureWriter, type Direction, PcapngWriter } from '../link/pcap.ts';
import { AF_INET, AF_INET6, SOCK_DGRAM, SOCK_STREAM } from '../socket/constants.ts';
import type { TcpInfo } from '../tcp/info.ts';
import type { Instant } from '../time/instant.ts';
import type { TcpObservation } from '../trace/conversation.ts';
import type { Dissection } from '../trace/dissect.ts';
import {
  buildWatchedNetwork,
  connectionOf,
  FrameLabeller,
  SERVER_ADDR,
  SERVER_ADDR6,
  StateWatcher,
  SUBNET_A6,
  SUBNET_B6,
  type TappedFrame,
  type WatchedNetwork,
} from '../trace/session.ts';
import { formatMac } from '../wire/address.ts';

export const ECHO_PORT = 5000;

export interface EchoSettings {
  /** What the client sends. */
  readonly message: string;
  /** Echo one UDP datagram (SOCK_DGRAM) instead of a TCP stream. */
  readonly udp: boolean;
  /** Random loss on each link, each direction, in percent (0–90). */
  readonly lossPercent: number;
  /** One-way delay of each link, ms. */
  readonly delayMs: number;
  /** Random extra delay per frame, up to this many ms (frames may overtake each other). */
  readonly jitterMs: number;
  /** IP MTU of the server's subnet 10.0.2.0/24 (68–65535). */
  readonly mtu: number;
  /** Seed of the simulation: the same seed and settings give the same run. */
  readonly seed: number;
  /** IP version of the sockets: 4 (AF_INET) or 6 (AF_INET6 over the fd00:: prefixes). */
  readonly ipVersion: 4 | 6;
}

export const DEFAULT_SETTINGS: EchoSettings = {
  message: 'Hello, world',
  udp: false,
  lossPercent: 0,
  delayMs: 0.5,
  jitterMs: 0,
  mtu: 1500,
  seed: 1,
  ipVersion: 4,
};

export type Who = 'client' | 'server';

export interface CallEvent {
  readonly kind: 'call';
  /** µs since the start of the session. */
  readonly time: number;
  readonly who: Who;
  /** The call, in the course's Python spelling: `c.connect(('10.0.2.2', 5000))`. */
  readonly text: string;
  /** What it did or returned, for a reader. */
  readonly note: string;
}

export interface StateEvent {
  readonly kind: 'state';
  readonly time: number;
  readonly who: string;
  readonly from: string;
  readonly to: string;
}

export interface FrameEvent {
  readonly kind: 'frame';
  readonly time: number;
  /** 1-based, in the order the frames were seen (as `sockstack demo` numbers them). */
  readonly index: number;
  /** 0: the client's subnet 10.0.1.0/24, 1: the server's 10.0.2.0/24. */
  readonly subnet: 0 | 1;
  /** Which host sent it on that subnet, and to whom ('client', 'router', 'server', 'everyone'). */
  readonly from: string;
  readonly to: string;
  readonly label: string;
  readonly notes: readonly string[];
  readonly data: Uint8Array;
  readonly dissection: Dissection;
  readonly tcp: TcpObservation | undefined;
  readonly retransmission: boolean;
  /** An IP fragment (MF set or a non-zero offset). */
  readonly fragment: boolean;
  /** The router's copy of a datagram already seen on the other subnet. */
  readonly forwarded: boolean;
}

export type SessionEvent = CallEvent | StateEvent | FrameEvent;

export interface SessionTrace {
  readonly settings: EchoSettings;
  readonly events: readonly SessionEvent[];
  /** The frame events alone, in order. */
  readonly frames: readonly FrameEvent[];
  /** What came back to the client, as text and as bytes. */
  readonly echoed: string;
  readonly echoedBytes: Uint8Array;
  /** The echo came back intact and the session finished. */
  readonly ok: boolean;
  /** Why the session did not finish, when it did not. */
  readonly failure: string | undefined;
  readonly retransmissions: number;
  /** The client's TCP_INFO just after its last recv (TCP only): RTT, MSS, options. */
  readonly clientInfo: TcpInfo | undefined;
  /** The frames as a pcapng file: interface 0 = client.eth0 (10.0.1.0/24), 1 = server.eth0 (10.0.2.0/24). */
  readonly pcapng: Uint8Array;
  /**
   * Virtual time the session took, µs: over TCP until both ends were CLOSED (TIME-WAIT
   * included, the last state change); over UDP until the last socket closed.
   */
  readonly duration: number;
}

export const SUBNETS = ['10.0.1.0/24', '10.0.2.0/24'] as const;
/** The subnets' names when the session runs over IPv6. */
export const SUBNETS6 = [SUBNET_A6, SUBNET_B6] as const;

/** Checks settings from a form or a URL; throws an Error with code EINVAL naming the bad one. */
export function checkSettings(s: EchoSettings): EchoSettings {
  const bad = (what: string): never => {
    throw Object.assign(new Error(`echo session: ${what}`), { code: 'EINVAL' });
  };
  if (typeof s.message !== 'string' || s.message.length === 0) bad('the message is empty');
  const bytes = new TextEncoder().encode(s.message).length;
  if (s.udp && bytes > 65507) bad(`the message is ${bytes} bytes; a UDP datagram holds at most 65507`);
  if (bytes > 10_000_000) bad(`the message is ${bytes} bytes; at most 10000000`);
  if (!(s.lossPercent >= 0 && s.lossPercent <= 90)) bad(`loss ${s.lossPercent}% is not in 0–90`);
  if (!(s.delayMs >= 0 && s.delayMs <= 10_000)) bad(`delay ${s.delayMs} ms is not in 0–10000`);
  if (!(s.jitterMs >= 0 && s.jitterMs <= 10_000)) bad(`jitter ${s.jitterMs} ms is not in 0–10000`);
  if (!Number.isInteger(s.mtu) || s.mtu < 68 || s.mtu > 65535)
    bad(`MTU ${s.mtu} is not an integer in 68–65535`);
  if (!Number.isSafeInteger(s.seed)) bad(`seed ${s.seed} is not an integer`);
  if (s.ipVersion !== 4 && s.ipVersion !== 6) bad(`IP version ${s.ipVersion} is not 4 or 6`);
  return s;
}

export interface RunOptions {
  /** Also record the frames here (a pcapng file being written, for the CLI). */
  writer?: CaptureWriter;
  /** The pcapng's shb_userappl. Default 'sockstack'. */
  application?: string;
}

/** Hands every frame to two capture writers (they number their interfaces alike). */
class TeeWriter implements CaptureWriter {
  readonly #a: CaptureWriter;
  readonly #b: CaptureWriter | undefined;
  constructor(a: CaptureWriter, b: CaptureWriter | undefined) {
    this.#a = a;
    this.#b = b;
  }
  interfaceFor(name: string, linkType: LinkType): number {
    this.#b?.interfaceFor(name, linkType);
    return this.#a.interfaceFor(name, linkType);
  }
  writePacket(time: Instant, data: Uint8Array, iface?: number, direction?: Direction): void {
    this.#a.writePacket(time, data, iface, direction);
    this.#b?.writePacket(time, data, iface, direction);
  }
}

/** Runs the session to its end (TIME-WAIT included) and returns what happened. */
export async function runEchoSession(
  input: EchoSettings = DEFAULT_SETTINGS,
  options: RunOptions = {},
): Promise<SessionTrace> {
  const settings = checkSettings(input);
  const events: SessionEvent[] = [];
  const frames: FrameEvent[] = [];
  const chunks: Uint8Array[] = [];
  const pcapng = new PcapngWriter((c) => chunks.push(c), { application: options.application ?? 'sockstack' });
  const writer = new TeeWriter(pcapng, options.writer);
  const labeller = new FrameLabeller();
  const macNames = new Map<string, string>();
  let retransmissions = 0;
  let net: WatchedNetwork | undefined;
  let watcher: StateWatcher | undefined;
  let t0 = 0;
  const now = () => (net ? net.sim.now - t0 : 0);

  const reportStates = () => {
    for (const c of watcher?.check() ?? [])
      events.push({ kind: 'state', time: now(), who: c.who, from: c.from ?? 'CLOSED', to: c.to });
  };
  const call = (who: Who, text: string, note = '') => {
    reportStates();
    events.push({ kind: 'call', time: now(), who, text, note });
  };
  // A frame's state change happens right after it is captured: look again once the
  // stacks have processed this instant's frames.
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
    const l = labeller.label(f);
    if (l.retransmission && !l.forwarded) retransmissions++;
    const eth = l.dissection.eth;
    const e: FrameEvent = {
      kind: 'frame',
      time: f.time - t0,
      index: frames.length + 1,
      subnet: f.subnet,
      from: eth ? (macNames.get(eth.src) ?? eth.src) : '?',
      to: eth ? (macNames.get(eth.dst) ?? (eth.dst === 'ff:ff:ff:ff:ff:ff' ? 'everyone' : eth.dst)) : '?',
      label: l.label,
      notes: l.notes,
      data: f.data,
      dissection: l.dissection,
      tcp: l.tcp,
      retransmission: l.retransmission,
      fragment: l.fragment,
      forwarded: l.forwarded,
    };
    frames.push(e);
    events.push(e);
  };

  const jitter = Math.round(settings.jitterMs * 1000);
  const impairments = {
    ...(settings.lossPercent > 0 ? { loss: settings.lossPercent / 100 } : {}),
    ...(jitter > 0 ? { jitter } : {}),
  };
  net = buildWatchedNetwork({
    seed: settings.seed,
    delay: Math.round(settings.delayMs * 1000),
    linkA: impairments,
    linkB: impairments,
    mtuB: settings.mtu,
    ipv6: settings.ipVersion === 6,
    writer,
    onFrame,
  });
  const { sim, client, router, server } = net;
  t0 = sim.now;
  for (const [name, s] of [
    ['client', client],
    ['router', router],
    ['server', server],
  ] as const)
    for (const i of s.interfaces) macNames.set(formatMac(i.mac), name);
  watcher = new StateWatcher([
    { name: 'client', stack: client },
    { name: 'server', stack: server },
  ]);
  client.traceReceive = reportStates;
  server.traceReceive = reportStates;

  const sent = new TextEncoder().encode(settings.message);
  let echoed: Uint8Array = new Uint8Array(0);
  let clientInfo: TcpInfo | undefined;

  const v6 = settings.ipVersion === 6;
  const family = v6 ? AF_INET6 : AF_INET;
  const af = v6 ? 'AF_INET6' : 'AF_INET';
  const serverAddr = v6 ? SERVER_ADDR6 : SERVER_ADDR;
  const any = v6 ? '::' : '';

  const tcpSession = async (): Promise<void> => {
    const s = server.socket(family, SOCK_STREAM);
    call('server', `s = socket(${af}, SOCK_STREAM)`);
    await s.bind([any, ECHO_PORT]);
    call('server', `s.bind(('${any}', ${ECHO_PORT}))`);
    await s.listen(1);
    call('server', 's.listen(1)', `→ LISTEN on ${v6 ? '[::]' : '0.0.0.0'}:${ECHO_PORT}`);
    const serverDone = (async () => {
      call('server', 's.accept()', 'blocks until a connection is ready');
      const [conn, addr] = await s.accept();
      call('server', `s.accept() returned ${tuple(addr)}`, `state ${connectionOf(server, conn)?.state}`);
      for (let i = 0; i < 100_000; i++) {
        const data = await conn.recv(1024);
        if (data.length === 0) {
          call('server', "conn.recv(1024) returned b''", 'end of stream: the client closed its side');
          break;
        }
        call('server', `conn.recv(1024) returned ${data.length} bytes ${pyBytes(data)}`);
        call('server', `conn.sendall(${pyBytes(data)})`, 'echo it back');
        await conn.sendall(data);
      }
      call('server', 'conn.close()', 'sends FIN');
      await conn.close();
      call('server', 's.close()', 'stops listening');
      await s.close();
    })();
    const c = client.socket(family, SOCK_STREAM);
    call('client', `c = socket(${af}, SOCK_STREAM)`);
    call(
      'client',
      `c.connect(('${serverAddr}', ${ECHO_PORT}))`,
      'sends a SYN and blocks until the handshake completes',
    );
    await c.connect([serverAddr, ECHO_PORT]);
    call(
      'client',
      `c.connect() returned: connected from ${tuple(c.getsockname())}`,
      `state ${connectionOf(client, c)?.state}`,
    );
    call('client', `c.sendall(${pyBytes(sent)})`, `${sent.length} bytes`);
    await c.sendall(sent);
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < sent.length) {
      const d = await c.recv(1024);
      if (d.length === 0) break;
      parts.push(d);
      got += d.length;
      call('client', `c.recv(1024) returned ${d.length} bytes ${pyBytes(d)}`);
    }
    echoed = concat(parts);
    clientInfo = connectionOf(client, c)?.info();
    call('client', 'c.close()', 'sends FIN');
    await c.close();
    await serverDone;
  };

  const udpSession = async (): Promise<void> => {
    const s = server.socket(family, SOCK_DGRAM);
    call('server', `s = socket(${af}, SOCK_DGRAM)`);
    await s.bind([any, ECHO_PORT]);
    call('server', `s.bind(('${any}', ${ECHO_PORT}))`);
    let clientDone = false;
    const serverDone = (async () => {
      call('server', 's.recvfrom(65535)', 'blocks until a datagram arrives');
      while (!clientDone) {
        let got: [Uint8Array, unknown];
        try {
          got = await s.recvfrom(65535);
        } catch {
          break; // closed under us at the end
        }
        const [data, addr] = got;
        call(
          'server',
          `s.recvfrom(65535) returned ${data.length} bytes ${pyBytes(data)} from ${tuple(addr)}`,
        );
        call('server', `s.sendto(data, ${tuple(addr)})`, 'echo it back');
        await s.sendto(data, addr as [string, number, number, number]);
      }
    })();
    const c = client.socket(family, SOCK_DGRAM);
    call('client', `c = socket(${af}, SOCK_DGRAM)`);
    c.settimeout(1);
    call('client', 'c.settimeout(1.0)');
    for (let attempt = 1; attempt <= 5; attempt++) {
      call('client', `c.sendto(${pyBytes(sent)}, ('${serverAddr}', ${ECHO_PORT}))`, `${sent.length} bytes`);
      await c.sendto(sent, [serverAddr, ECHO_PORT]);
      try {
        const [d, addr] = await c.recvfrom(65535);
        echoed = d;
        call('client', `c.recvfrom(65535) returned ${d.length} bytes ${pyBytes(d)} from ${tuple(addr)}`);
        break;
      } catch (e) {
        if ((e as Error).name !== 'TimeoutError' && !/timed out/i.test(String((e as Error).message))) throw e;
        call('client', 'c.recvfrom(65535) timed out', 'UDP does not retransmit: the application sends again');
      }
    }
    clientDone = true;
    call('client', 'c.close()', 'no packets: UDP has no connection to end');
    await c.close();
    call('server', 's.close()');
    await s.close();
    await serverDone;
  };

  let failure: string | undefined;
  try {
    await sim.run(settings.udp ? udpSession : tcpSession, { timeout: 600_000_000 });
    // Let the closing handshake and TIME-WAIT run out (virtual time: 2×MSL costs nothing),
    // event by event so each state change shows at its own instant.
    const limit = sim.now + 300_000_000;
    for (let i = 0; i < 100_000; i++) {
      const next = sim.nextDeadline();
      if (next === undefined || next > limit || watcher.active === 0) break;
      sim.runUntil(Math.max(next, sim.now));
      reportStates();
    }
  } catch (e) {
    failure = (e as Error).message;
  }
  reportStates();
  net.watching = false;
  const end = settings.udp
    ? sim.now - t0
    : events.reduce((last, e) => (e.kind === 'state' ? e.time : last), 0);
  const echoText = new TextDecoder().decode(echoed);
  return {
    settings,
    events,
    frames,
    echoed: echoText,
    echoedBytes: echoed,
    ok: failure === undefined && echoText === settings.message,
    failure,
    retransmissions,
    clientInfo,
    pcapng: concat(chunks),
    duration: end,
  };
}

/** Python's repr of bytes, cut at `max` characters: b'Hello, world'. */
export function pyBytes(b: Uint8Array, max = 40): string {
  const s = new TextDecoder().decode(b);
  const shown = s.length > max ? `${s.slice(0, max)}…` : s;
  return `b'${shown.replace(/[\\']/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}'`;
}

/** Python's repr of an address tuple: ('10.0.1.2', 49152) or ('fd00:1::2', 49152, 0, 0). */
function tuple(t: unknown): string {
  if (!Array.isArray(t)) return String(t);
  return t.length === 4 ? `('${t[0]}', ${t[1]}, ${t[2]}, ${t[3]})` : `('${t[0]}', ${t[1]})`;
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
