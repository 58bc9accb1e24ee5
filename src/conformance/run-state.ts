/**
 * The packetdrill runner's shared state (RunState) and control flow: a Failure ends the
 * script at its line, a Skip reports why it cannot run here.
 */
import type { CodeEvent, Pos, Script, SyscallEvent } from './ast.ts';
import type { PyValue } from './expr.ts';
import { decodePacket, F_SYN, type LiveTcp } from './packet.ts';
import type { Dialect } from './symbols.ts';
import type { ConformanceTarget, SyscallOutcome } from './target.ts';

// ---- control flow ------------------------------------------------------------

export class Failure extends Error {
  readonly pos: Pos;
  readonly expected: string | undefined;
  readonly got: string | undefined;
  readonly category: 'packet' | 'syscall' | 'other';
  constructor(
    pos: Pos,
    message: string,
    category: 'packet' | 'syscall' | 'other',
    expected?: string,
    got?: string,
  ) {
    super(message);
    this.pos = pos;
    this.category = category;
    this.expected = expected;
    this.got = got;
  }
}

export class Skip extends Error {
  readonly line: number | undefined;
  constructor(reason: string, line?: number) {
    super(reason);
    this.line = line;
  }
}

export const DEFAULT_TOLERANCE_US = 4000;
const DEFAULT_TOLERANCE_PERCENT = 12.5;
export const DEFAULT_PORT = 8080;
/** Deviation: packetdrill picks a random remote port for passive opens; we use a fixed one. */
const DEFAULT_REMOTE_PORT = 40000;
/** Longest wait for a `*` packet or the end of a blocking call. */
export const MAX_WAIT_US = 3600 * 1_000_000;

export const SUPPORTED_SYSCALLS = new Set([
  'socket',
  'bind',
  'listen',
  'accept',
  'connect',
  'read',
  'recv',
  'recvfrom',
  'write',
  'send',
  'sendto',
  'close',
  'shutdown',
  'setsockopt',
  'getsockopt',
  'fcntl',
  'ioctl',
  'poll',
  'epoll_create',
  'epoll_create1',
  'epoll_ctl',
  'epoll_wait',
  'sendmsg',
  'recvmsg',
]);

export interface RunOptions {
  /** Compare outbound TCP options exactly (byte order, NOP/EOL padding) instead of as a set. */
  readonly exactOptions?: boolean;
  /** `#ifdef` symbols; default `{ STANDARD: '1' }` (the RFC branch of FreeBSD scripts). */
  readonly defines?: Readonly<Record<string, string>>;
  /** Script path, for dialect detection and messages. */
  readonly path?: string;
  /** Force the dialect instead of detecting it. */
  readonly dialect?: Dialect;
  /** Live value of the script's remote ISN 0 (default 0, as packetdrill). */
  readonly remoteIsn?: number;
  /** Do not fail on outbound packets the script does not mention. */
  readonly allowUnexpectedPackets?: boolean;
  /**
   * Timing tolerance in µs, as packetdrill's --tolerance_usecs on the command line
   * (default: the suite harness's value for the script's path, else 4000). A
   * `--tolerance_usecs` line in the script overrides it.
   */
  readonly toleranceUs?: number;
}

export interface Pending {
  readonly event: SyscallEvent;
  readonly expectedEnd: number;
  readonly tol: number;
  readonly check: (o: SyscallOutcome) => void;
  outcome: SyscallOutcome | undefined;
  settledAt: number | undefined;
}

interface Flow {
  localPort: number | undefined;
  remotePort: number;
}

/**
 * The state of one script run, shared by the runner's parts (run-setup, run-clock,
 * run-outbound, run-inbound, run-syscalls, run-code): options, the mapping between the
 * script's and the live connection, and the queues of outbound packets and pending calls.
 */
export class RunState {
  readonly script: Script;
  readonly opts: RunOptions;
  readonly warnings: string[] = [];
  dialect: Dialect = 'linux';
  consts: Record<string, number> = {};
  defines: Record<string, string> = {};
  target!: ConformanceTarget;

  // Options.
  toleranceUs = DEFAULT_TOLERANCE_US;
  /** --udp_encapsulation=tcp. */
  udpEncapsTcp = false;
  tolerancePercent = DEFAULT_TOLERANCE_PERCENT;
  tsTickUs: number | undefined;
  strictSegments = false;
  exact = false;
  nonFatal = new Set<string>();
  localIp = '192.168.0.1';
  remoteIp = '192.0.2.1';
  gatewayIp = '192.168.0.1';
  prefixLength = 16;
  mtu = 1500;
  /** The IP version on the wire (`--ip_version`: ipv4 and ipv4-mapped-ipv6 are 4, ipv6 is 6). */
  ipVersion: 4 | 6 = 4;
  /** The sockets' family: AF_INET6 for ipv6 and ipv4-mapped-ipv6 (packetdrill's socket_domain). */
  socketFamily: 'inet' | 'inet6' = 'inet';

  // Connection mapping.
  readonly fds = new Map<number, number>();
  socketUnderTest: number | undefined;
  localIsn: number | undefined;
  /** False while localIsn is the provisional 0 used before the stack's first SYN. */
  isnLearned = false;
  readonly remoteIsn: number;
  readonly tcpFlow: Flow = { localPort: undefined, remotePort: DEFAULT_REMOTE_PORT };
  /** The socket under test has a TCP 4-tuple (packetdrill's socket->live). */
  tcpLive = false;
  /** The socket under test called connect() and its SYN has not been seen yet. */
  tcpConnecting = false;
  readonly udpFlow: Flow = { localPort: undefined, remotePort: DEFAULT_REMOTE_PORT };
  lastOutboundSeq: number | undefined;
  readonly tsScriptToLive = new Map<number, number>();
  tsOffset: number | undefined;
  ipId = 1;

  // Time.
  outbox: { time: number; packet: Uint8Array }[] = [];
  readonly pending: Pending[] = [];
  readonly codeSnapshots: { event: CodeEvent; vars: Map<string, PyValue> }[] = [];

  constructor(script: Script, opts: RunOptions) {
    this.script = script;
    this.opts = opts;
    this.remoteIsn = (opts.remoteIsn ?? 0) >>> 0;
  }

  now(): number {
    return this.target.now();
  }

  fail(
    pos: Pos,
    message: string,
    category: 'packet' | 'syscall' | 'other',
    expected?: string,
    got?: string,
  ): void {
    if (this.nonFatal.has(category)) {
      this.warnings.push(`${pos.line}:${pos.col}: ${message}`);
      return;
    }
    throw new Failure(pos, message, category, expected, got);
  }

  /** An outbound datagram, with UDP read as tunnelled TCP under --udp_encapsulation=tcp. */
  decode(b: Uint8Array): ReturnType<typeof decodePacket> {
    return decodePacket(b, { udpEncapsTcp: this.udpEncapsTcp });
  }

  /** An unexpected SYN still fixes the stack's ISN, so reports read relative. */
  learnIsn(t: LiveTcp): void {
    if ((t.flags & F_SYN) !== 0 && !this.isnLearned) {
      this.localIsn = t.seq;
      this.isnLearned = true;
    }
  }

  /**
   * An address as the sockets see it: an IPv4 address is IPv4-mapped (`::ffff:a.b.c.d`,
   * RFC 4291 §2.5.5.2) on an AF_INET6 socket (packetdrill's ipv4-mapped-ipv6 mode).
   */
  sockIp(ip: string): string {
    return this.socketFamily === 'inet6' && !ip.includes(':') ? `::ffff:${ip}` : ip;
  }

  relSeq(live: number): number {
    return (live - (this.localIsn ?? 0)) >>> 0;
  }
}

export function fmt(us: number): string {
  if (!Number.isFinite(us)) return String(us);
  return `${(us / 1_000_000).toFixed(6).replace(/0{1,3}$/, '')}s`;
}
