/**
 * The packetdrill interpreter: runs one parsed script against a fresh
 * ConformanceTarget on a virtual clock and reports passed / failed (first
 * mismatch) / skipped (reason). Rules follow google packetdrill's run.c,
 * run_packet.c and run_system_call.c as summarised in
 * conformance/packetdrill/NOTES.md; deviations are marked "Deviation:" and
 * listed in docs/conformance.md.
 */
import type {
  CodeEvent,
  Expr,
  IpInfo,
  PacketEvent,
  Pos,
  Script,
  ScriptEvent,
  SyscallEvent,
  TcpOptionSpec,
  TcpPacketSpec,
} from './ast.ts';
import { type CommandAction, planCommand } from './commands.ts';
import { type PyValue, runCode } from './expr.ts';
import { harnessFor } from './harness.ts';
import {
  buildIcmpPacket,
  buildTcpPacket,
  buildUdpPacket,
  decodePacket,
  F_ACK,
  F_CWR,
  F_FIN,
  F_PSH,
  F_SYN,
  flagsFromScript,
  formatFlags,
  formatTcpOptions,
  ipToNumber,
  type LivePacket,
  type LiveTcp,
  quotedDatagram,
} from './packet.ts';
import { ParseOptionsError, parseScriptSafe } from './script.ts';
import {
  CODE_CONSTANTS,
  canonicalErrno,
  type Dialect,
  ERRNO,
  FREEBSD_TCP_STATES,
  icmpCode,
  icmpType,
  isErrnoName,
  LINUX_TCP_STATES,
  optionSkipReason,
  syscallConstants,
} from './symbols.ts';
import type {
  ConformanceTarget,
  SockAddr,
  SockOptValue,
  Syscall,
  SyscallOutcome,
  TargetConfig,
  TargetFactory,
  TargetTcpInfo,
  TargetTcpState,
} from './target.ts';

export type OptionsMode = 'set' | 'exact';

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

export type ScriptResult =
  | { readonly status: 'passed'; readonly optionsMode: OptionsMode; readonly warnings: readonly string[] }
  | {
      readonly status: 'failed';
      readonly optionsMode: OptionsMode;
      readonly line: number;
      readonly column: number;
      readonly message: string;
      readonly expected?: string;
      readonly got?: string;
      readonly warnings: readonly string[];
    }
  | {
      readonly status: 'skipped';
      readonly optionsMode: OptionsMode;
      readonly reason: string;
      readonly line?: number;
    };

// ---- control flow ------------------------------------------------------------

class Failure extends Error {
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

class Skip extends Error {
  readonly line: number | undefined;
  constructor(reason: string, line?: number) {
    super(reason);
    this.line = line;
  }
}

const DEFAULT_TOLERANCE_US = 4000;
const DEFAULT_TOLERANCE_PERCENT = 12.5;
const DEFAULT_PORT = 8080;
/** Deviation: packetdrill picks a random remote port for passive opens; we use a fixed one. */
const DEFAULT_REMOTE_PORT = 40000;
/** Longest wait for a `*` packet or the end of a blocking call. */
const MAX_WAIT_US = 3600 * 1_000_000;

const SUPPORTED_SYSCALLS = new Set([
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
]);

/** Runs script text. Never throws for script problems: syntax errors are failures at their line. */
export async function runScriptText(
  source: string,
  factory: TargetFactory,
  opts: RunOptions = {},
): Promise<ScriptResult> {
  const mode: OptionsMode = opts.exactOptions ? 'exact' : 'set';
  const parsed = parseScriptSafe(source, opts.defines ?? { STANDARD: '1' });
  if (!parsed.ok) {
    return {
      status: 'failed',
      optionsMode: mode,
      line: parsed.pos.line,
      column: parsed.pos.col,
      message: `syntax error: ${parsed.message}`,
      warnings: [],
    };
  }
  return runScript(parsed.script, factory, opts);
}

/** Runs a parsed script on a fresh target from `factory`. */
export async function runScript(
  script: Script,
  factory: TargetFactory,
  opts: RunOptions = {},
): Promise<ScriptResult> {
  const run = new Run(script, opts);
  return run.execute(factory);
}

/** Script dialect: FreeBSD if the script says so by path, state names or sysctls. */
export function detectDialect(script: Script, path: string | undefined): Dialect {
  if (path && /freebsd|\/bsd\//i.test(path)) return 'freebsd';
  for (const e of script.events) {
    if (e.kind === 'code' && /\bTCPI_(?!OPT_)[A-Z_]+\b/.test(e.code)) return 'freebsd';
    if (e.kind === 'command' && /net\.inet\./.test(e.command)) return 'freebsd';
  }
  return 'linux';
}

interface Pending {
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

class Run {
  private readonly script: Script;
  private readonly opts: RunOptions;
  private readonly warnings: string[] = [];
  private dialect: Dialect = 'linux';
  private consts: Record<string, number> = {};
  private defines: Record<string, string> = {};
  private target!: ConformanceTarget;

  // Options.
  private toleranceUs = DEFAULT_TOLERANCE_US;
  /** --udp_encapsulation=tcp. */
  private udpEncapsTcp = false;
  private tolerancePercent = DEFAULT_TOLERANCE_PERCENT;
  private tsTickUs: number | undefined;
  private strictSegments = false;
  private exact = false;
  private nonFatal = new Set<string>();
  private localIp = '192.168.0.1';
  private remoteIp = '192.0.2.1';
  private gatewayIp = '192.168.0.1';
  private prefixLength = 16;
  private mtu = 1500;

  // Connection mapping.
  private readonly fds = new Map<number, number>();
  private socketUnderTest: number | undefined;
  private localIsn: number | undefined;
  /** False while localIsn is the provisional 0 used before the stack's first SYN. */
  private isnLearned = false;
  private readonly remoteIsn: number;
  private readonly tcpFlow: Flow = { localPort: undefined, remotePort: DEFAULT_REMOTE_PORT };
  /** The socket under test has a TCP 4-tuple (packetdrill's socket->live). */
  private tcpLive = false;
  /** The socket under test called connect() and its SYN has not been seen yet. */
  private tcpConnecting = false;
  private readonly udpFlow: Flow = { localPort: undefined, remotePort: DEFAULT_REMOTE_PORT };
  private lastOutboundSeq: number | undefined;
  private readonly tsScriptToLive = new Map<number, number>();
  private tsOffset: number | undefined;
  private ipId = 1;

  // Time.
  private outbox: { time: number; packet: Uint8Array }[] = [];
  private readonly pending: Pending[] = [];
  private readonly codeSnapshots: { event: CodeEvent; vars: Map<string, PyValue> }[] = [];

  constructor(script: Script, opts: RunOptions) {
    this.script = script;
    this.opts = opts;
    this.remoteIsn = (opts.remoteIsn ?? 0) >>> 0;
  }

  async execute(factory: TargetFactory): Promise<ScriptResult> {
    const modeNow = (): OptionsMode => (this.exact ? 'exact' : 'set');
    try {
      this.applyOptions();
      this.dialect = this.opts.dialect ?? detectDialect(this.script, this.opts.path);
      this.consts = syscallConstants(this.dialect);
      const plans = this.prescan();
      const config: TargetConfig = {
        ipVersion: 4,
        localIp: this.localIp,
        remoteIp: this.remoteIp,
        gatewayIp: this.gatewayIp,
        prefixLength: this.prefixLength,
        mtu: this.mtu,
        dialect: this.dialect,
      };
      this.target = await factory(config);
      try {
        if (this.script.initCommand) this.runActions(plans.get(-1) ?? [], this.script.initCommand.pos);
        await this.events(plans);
        this.runCodeBlocks();
      } finally {
        this.target.close?.();
      }
      return { status: 'passed', optionsMode: modeNow(), warnings: this.warnings };
    } catch (e) {
      if (e instanceof Skip) {
        return {
          status: 'skipped',
          optionsMode: modeNow(),
          reason: e.message,
          ...(e.line ? { line: e.line } : {}),
        };
      }
      if (e instanceof Failure) {
        const why = this.target?.knownDeviation?.(this.opts.path, e.pos.line, e.message);
        if (why !== undefined) {
          return { status: 'skipped', optionsMode: modeNow(), reason: why, line: e.pos.line };
        }
        return {
          status: 'failed',
          optionsMode: modeNow(),
          line: e.pos.line,
          column: e.pos.col,
          message: e.message,
          ...(e.expected !== undefined ? { expected: e.expected } : {}),
          ...(e.got !== undefined ? { got: e.got } : {}),
          warnings: this.warnings,
        };
      }
      if (e instanceof ParseOptionsError) {
        return {
          status: 'failed',
          optionsMode: modeNow(),
          line: e.pos.line,
          column: e.pos.col,
          message: e.message,
          warnings: [],
        };
      }
      throw e;
    }
  }

  // ---- options and pre-scan ------------------------------------------------

  private applyOptions(): void {
    this.exact = this.opts.exactOptions === true;
    const harness = harnessFor(this.opts.path);
    this.toleranceUs = this.opts.toleranceUs ?? harness?.toleranceUs ?? DEFAULT_TOLERANCE_US;
    if (this.opts.toleranceUs === undefined && harness?.toleranceUs !== undefined) {
      this.warnings.push(
        `--tolerance_usecs=${harness.toleranceUs} from the ${harness.suite} harness (${harness.source})`,
      );
    }
    for (const o of this.script.options) {
      const v = o.value ?? '';
      const num = (): number => {
        const n = Number(v);
        if (!Number.isFinite(n)) throw new ParseOptionsError(o.pos, `--${o.name} needs a number, got '${v}'`);
        return n;
      };
      switch (o.name) {
        case 'tolerance_usecs':
          this.toleranceUs = num();
          break;
        case 'tolerance_percent':
          this.tolerancePercent = num();
          break;
        case 'tcp_ts_tick_usecs':
          this.tsTickUs = num() || undefined;
          break;
        case 'ip_version':
          if (v !== 'ipv4') throw new Skip(`IPv6 not supported yet (--ip_version=${v})`, o.pos.line);
          break;
        case 'mtu':
          this.mtu = num();
          break;
        case 'local_ip':
          this.localIp = v;
          break;
        case 'remote_ip':
          this.remoteIp = v;
          break;
        case 'gateway_ip':
          this.gatewayIp = v;
          break;
        case 'netmask_ip':
          this.prefixLength = (ipToNumber(v).toString(2).match(/1/g) ?? []).length;
          break;
        case 'strict_segments':
          this.strictSegments = true;
          break;
        case 'tcp_options_exact':
          this.exact = true;
          break;
        case 'non_fatal':
          for (const k of v.split(',')) this.nonFatal.add(k.trim());
          break;
        case 'define':
        case 'D': {
          const eq = v.indexOf('=');
          if (eq > 0) this.defines[v.slice(0, eq)] = v.slice(eq + 1);
          else this.defines[v] = '1';
          break;
        }
        case 'udp_encapsulation':
          // FreeBSD's TCP-over-UDP tunnelling: `/udp(sport > dport)` packets are TCP segments
          // in UDP datagrams, and outbound UDP datagrams are read as such.
          if (v !== 'tcp') throw new Skip(`--udp_encapsulation=${v}: SCTP is not supported`, o.pos.line);
          this.udpEncapsTcp = true;
          break;
        case 'speed':
        case 'verbose':
        case 'bind_port':
        case 'connect_port':
          if (o.name === 'bind_port' || o.name === 'connect_port') {
            throw new Skip(`--${o.name} not supported by this runner`, o.pos.line);
          }
          break;
        default:
          throw new Skip(`unsupported option --${o.name}`, o.pos.line);
      }
    }
  }

  /** Static checks that make a script skip before it starts; plans its commands. */
  private prescan(): Map<number, CommandAction[]> {
    const plans = new Map<number, CommandAction[]>();
    const plan = (text: string, key: number, line: number): void => {
      const p = planCommand(text);
      if (!p.ok) throw new Skip(p.reason, line);
      plans.set(key, p.actions);
    };
    if (this.script.initCommand) plan(this.script.initCommand.command, -1, this.script.initCommand.pos.line);
    this.script.events.forEach((e, i) => {
      const line = e.pos.line;
      if (e.kind === 'command') plan(e.command, i, line);
      if (e.kind === 'syscall' && !SUPPORTED_SYSCALLS.has(e.name)) {
        throw new Skip(`system call ${e.name}() not supported by the runner`, line);
      }
      if (e.kind === 'packet') {
        if (e.outer.length) throw new Skip('outer IP encapsulation (ipv4/ipv6 prefixes) not supported', line);
        if (e.ip?.flowLabel !== undefined) throw new Skip('IPv6 flow labels not supported yet', line);
        const p = e.packet;
        if (p.proto === 'tcp') {
          if (p.udpEncap && !this.udpEncapsTcp)
            throw new Failure(e.pos, "a '/udp(...)' packet needs --udp_encapsulation=tcp", 'other');
          if (p.seq.wildcard && e.direction === 'inbound') {
            throw new Skip("nplab '...(N)' sequence wildcard on an inbound packet", line);
          }
          if (Array.isArray(p.options)) {
            for (const o of p.options) {
              if (o.kind === 'md5') throw new Skip('TCP MD5 signatures (RFC 2385) not supported', line);
              if (o.kind === 'fo') throw new Skip('TCP Fast Open (RFC 7413) not supported', line);
              if (o.kind === 'accecn') throw new Skip('AccECN option not supported', line);
            }
          }
        }
        if (p.proto === 'icmp') {
          const t = icmpType(p.type);
          if (t === undefined) throw new Skip(`unknown ICMP type '${p.type}'`, line);
          if (icmpCode(t, p.code) === undefined)
            throw new Skip(`unknown ICMP code '${p.code}' for ${p.type}`, line);
        }
      }
    });
    if (this.script.cleanupCommand) {
      // The cleanup command always runs in packetdrill; we only need it to be harmless.
      const p = planCommand(this.script.cleanupCommand.command);
      if (!p.ok) this.warnings.push(`cleanup command ignored: ${p.reason}`);
    }
    return plans;
  }

  // ---- the event loop -----------------------------------------------------

  private async events(plans: Map<number, CommandAction[]>): Promise<void> {
    const evs = this.script.events;
    let anchorActual = 0; // actual time of the previous event
    let anchorScript = 0; // script (expected) time of the previous event
    let prevInbound = false;
    for (let i = 0; i < evs.length; i++) {
      const e = evs[i]!;
      const isInbound = e.kind === 'packet' && e.direction === 'inbound';
      // Consecutive inbound packets are anchored to the script time of the previous packet.
      const anchor = isInbound && prevInbound ? anchorScript : anchorActual;
      let expected: number;
      let lo: number;
      let hi: number;
      const t = e.time;
      if (t.kind === 'absolute') expected = lo = hi = t.usecs;
      else if (t.kind === 'relative') expected = lo = hi = anchor + t.usecs;
      else if (t.kind === 'range') {
        lo = (t.relative ? anchor : 0) + t.start;
        hi = (t.relative ? anchor : 0) + t.end;
        expected = lo;
      } else {
        expected = lo = this.now();
        hi = this.now() + MAX_WAIT_US;
      }
      const tol = Math.max(this.toleranceUs, (this.tolerancePercent / 100) * Math.max(0, expected - anchor));
      let actual: number;
      if (e.kind === 'packet' && e.direction === 'outbound') {
        const winLo = t.kind === 'any' ? Number.NEGATIVE_INFINITY : lo - tol;
        const winHi = t.kind === 'any' ? hi : hi + tol;
        actual = await this.expectOutbound(e, expected, winLo, winHi, tol);
      } else {
        await this.advanceTo(expected);
        this.checkNoUnexpected(e, tol, i);
        actual = this.now();
        if (e.kind === 'packet') this.injectPacket(e);
        else if (e.kind === 'syscall') {
          await this.joinPending();
          await this.syscall(e, expected);
        } else if (e.kind === 'command') this.runActions(plans.get(i) ?? [], e.pos);
        else this.snapshotCode(e);
        await this.settle();
      }
      anchorActual = actual;
      anchorScript = t.kind === 'absolute' || t.kind === 'relative' ? expected : actual;
      prevInbound = isInbound;
    }
    await this.joinPending();
    // Like packetdrill, packets still queued at the end are never read, so they do not fail.
  }

  private now(): number {
    return this.target.now();
  }

  private collect(): void {
    for (const o of this.target.takeOutbound()) this.outbox.push({ time: o.time, packet: o.packet });
  }

  /** Lets promise callbacks run (a blocking call's completion chain). */
  private async settle(): Promise<void> {
    const rounds = this.pending.some((p) => p.outcome === undefined) ? 32 : 2;
    for (let k = 0; k < rounds; k++) await Promise.resolve();
    this.collect();
  }

  /**
   * Waits for outstanding blocking calls and checks their return time and value.
   * Like packetdrill (one syscall thread), this happens before the next system
   * call and at the end of the script, not when the call returns.
   */
  private async joinPending(): Promise<void> {
    for (const p of [...this.pending]) {
      if (p.outcome === undefined) await this.advanceTo(p.expectedEnd + p.tol, p);
      this.pending.splice(this.pending.indexOf(p), 1);
      if (p.outcome === undefined) {
        throw new Failure(
          p.event.pos,
          `blocking ${p.event.name}() still blocked at ${fmt(this.now())}; expected to return at ${fmt(p.expectedEnd)}`,
          'syscall',
        );
      }
      const at = p.settledAt ?? this.now();
      if (Math.abs(at - p.expectedEnd) > p.tol) {
        this.fail(
          p.event.pos,
          `blocking ${p.event.name}() returned at ${fmt(at)}, expected at ${fmt(p.expectedEnd)} (tolerance ${fmt(p.tol)})`,
          'syscall',
        );
      }
      p.check(p.outcome);
    }
  }

  /** Advances timer by timer to `to`, settling blocking calls on the way; stops early once `until` settles. */
  private async advanceTo(to: number, until?: Pending): Promise<void> {
    for (;;) {
      if (until && until.outcome !== undefined) return;
      const d = this.target.nextDeadline();
      if (d === undefined || d > to) break;
      this.target.advance(Math.max(d, this.now()));
      await this.settle();
      if (d <= this.now() && this.target.nextDeadline() === d) break; // a stuck timer: stop
    }
    if (to > this.now()) this.target.advance(to);
    await this.settle();
  }

  /**
   * Outbound packets sent clearly before an event the script reached without expecting them.
   * As in packetdrill (run_packet.c sniff_outbound_live_packet), a packet that does not belong
   * to the socket under test is never looked at (dropped here); one that does is what the
   * next `>` line will read, so it fails now with a clearer message, unless no later `>` line
   * with a fixed time exists (packetdrill never reads it, or a `*`/range line may accept it).
   */
  private checkNoUnexpected(e: ScriptEvent, tol: number, index: number): void {
    this.collect();
    this.dropForeign(undefined);
    if (this.opts.allowUnexpectedPackets) return;
    const first = this.outbox[0];
    if (!first) return;
    if (first.time >= this.now() - tol) return;
    const next = this.script.events
      .slice(index + 1)
      .find((x) => x.kind === 'packet' && x.direction === 'outbound');
    if (!next || next.time.kind === 'any' || next.time.kind === 'range') return;
    const dec = this.decode(first.packet);
    if (!('error' in dec) && dec.proto === 'tcp') this.learnIsn(dec.tcp);
    const desc = 'error' in dec ? dec.error : this.describeLive(dec);
    this.fail(
      e.pos,
      `unexpected outbound packet at ${fmt(first.time)} before this event: ${desc}`,
      'packet',
      'no packet',
      desc,
    );
    this.outbox.shift();
  }

  /**
   * Drops queued packets packetdrill would not attribute to the socket under test
   * (find_socket_for_live_packet / find_connect_for_live_packet): TCP segments of another
   * 4-tuple, or any before the socket has one (a listener's RST to a stray SYN-ACK); ICMP
   * messages unless the script line expects ICMP (our own echo replies).
   */
  private dropForeign(expect: 'tcp' | 'udp' | 'icmp' | undefined): void {
    while (this.outbox.length > 0) {
      const dec = this.decode(this.outbox[0]!.packet);
      if (this.belongs(dec, expect)) return;
      if (!('error' in dec) && dec.proto === 'tcp') this.learnIsn(dec.tcp);
      this.outbox.shift();
    }
  }

  /** An outbound datagram, with UDP read as tunnelled TCP under --udp_encapsulation=tcp. */
  private decode(b: Uint8Array): ReturnType<typeof decodePacket> {
    return decodePacket(b, { udpEncapsTcp: this.udpEncapsTcp });
  }

  private belongs(dec: ReturnType<typeof decodePacket>, expect: 'tcp' | 'udp' | 'icmp' | undefined): boolean {
    if ('error' in dec) return true; // reported by the comparison
    if (dec.proto === 'icmp') return expect === 'icmp';
    if (dec.proto !== 'tcp') return true;
    const t = dec.tcp;
    if (this.tcpLive) return t.srcPort === this.tcpFlow.localPort && t.dstPort === this.tcpFlow.remotePort;
    if (
      this.tcpConnecting &&
      (t.flags & F_SYN) !== 0 &&
      (t.flags & F_ACK) === 0 &&
      t.dstPort === this.tcpFlow.remotePort
    ) {
      // The SYN of a connect() names the socket's 4-tuple.
      this.tcpLive = true;
      this.tcpFlow.localPort = t.srcPort;
      return true;
    }
    return false;
  }

  private fail(
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

  // ---- outbound packets ------------------------------------------------------

  /** Waits (advancing timers) until an outbound packet is queued or `limit` passes. */
  private async waitOutbound(limit: number): Promise<boolean> {
    this.collect();
    while (this.outbox.length === 0) {
      const d = this.target.nextDeadline();
      if (d === undefined || d > limit) {
        if (Number.isFinite(limit) && limit > this.now()) {
          this.target.advance(limit);
          await this.settle();
        }
        return this.outbox.length > 0;
      }
      this.target.advance(Math.max(d, this.now()));
      await this.settle();
    }
    return true;
  }

  private async expectOutbound(
    e: PacketEvent,
    expected: number,
    lo: number,
    hi: number,
    tol: number,
  ): Promise<number> {
    const what = this.describeSpec(e);
    const expect = e.packet.proto === 'icmp' ? 'icmp' : e.packet.proto === 'udp' ? 'udp' : 'tcp';
    for (;;) {
      if (!(await this.waitOutbound(hi))) break;
      this.dropForeign(expect);
      if (this.outbox.length > 0) break;
    }
    if (this.outbox.length === 0) {
      throw new Failure(
        e.pos,
        `timed out waiting for packet: expected ${what} at ${fmt(expected)} (tolerance ${fmt(tol)}); nothing sent by ${fmt(this.now())}`,
        'packet',
        what,
        'no packet',
      );
    }
    const first = this.outbox.shift()!;
    const at = first.time;
    if (at < lo || at > hi) {
      const dec = this.decode(first.packet);
      this.fail(
        e.pos,
        `timing mismatch: packet sent at ${fmt(at)}, expected ${e.time.kind === 'range' ? `in ${fmt(lo)}..${fmt(hi)}` : `at ${fmt(expected)} ± ${fmt(tol)}`}`,
        'packet',
        what,
        'error' in dec ? dec.error : this.describeLive(dec),
      );
    }
    const dec = this.decode(first.packet);
    if ('error' in dec) {
      this.fail(e.pos, `malformed outbound packet: ${dec.error}`, 'packet', what, dec.error);
      return at;
    }
    if (!dec.ip.checksumOk) this.fail(e.pos, 'outbound IPv4 header checksum is wrong', 'packet');
    if (dec.ip.dst !== this.remoteIp || dec.ip.src !== this.localIp) {
      this.fail(
        e.pos,
        `outbound packet ${dec.ip.src} > ${dec.ip.dst}, expected ${this.localIp} > ${this.remoteIp}`,
        'packet',
      );
    }
    this.checkIpInfo(e, e.ip, dec);
    const p = e.packet;
    if (p.proto === 'udp') {
      if (dec.proto !== 'udp') this.mismatch(e, 'expected a UDP datagram', what, dec);
      else {
        if (this.udpFlow.localPort === undefined) this.udpFlow.localPort = dec.srcPort;
        if (dec.payloadLength !== p.len)
          this.mismatch(e, `UDP payload length ${dec.payloadLength}, expected ${p.len}`, what, dec);
      }
      return at;
    }
    if (p.proto === 'icmp') {
      if (dec.proto !== 'icmp') this.mismatch(e, 'expected an ICMP message', what, dec);
      else {
        const type = icmpType(p.type)!;
        const code = icmpCode(type, p.code)!;
        if (dec.type !== type || dec.code !== code) {
          this.mismatch(e, `ICMP type/code ${dec.type}/${dec.code}, expected ${type}/${code}`, what, dec);
        }
      }
      return at;
    }
    if (dec.proto !== 'tcp') {
      this.mismatch(e, 'expected a TCP segment', what, dec);
      return at;
    }
    let tcp = dec.tcp;
    // Segment aggregation (TSO/GSO in the scripts' model): join until the payload reaches the script's length.
    if (!this.strictSegments && tcp.payloadLength < p.seq.len) {
      tcp = await this.aggregate(tcp, p.seq.len, hi);
    }
    this.compareTcp(e, p, tcp, what);
    return at;
  }

  private async aggregate(first: LiveTcp, want: number, hi: number): Promise<LiveTcp> {
    let merged = first;
    const size = first.payloadLength;
    while (merged.payloadLength < want) {
      if (!(await this.waitOutbound(hi))) break;
      const dec = this.decode(this.outbox[0]!.packet);
      if ('error' in dec || dec.proto !== 'tcp') break;
      const t = dec.tcp;
      const contiguous = (merged.seq + merged.payloadLength) >>> 0 === t.seq;
      const sameHeaders =
        t.srcPort === merged.srcPort &&
        t.dstPort === merged.dstPort &&
        t.ack === merged.ack &&
        t.window === merged.window &&
        (t.flags & ~(F_FIN | F_PSH | F_CWR)) === (merged.flags & ~(F_FIN | F_PSH | F_CWR)) &&
        formatTcpOptions(t.options.filter((o) => o.kind !== 'ts')) ===
          formatTcpOptions(merged.options.filter((o) => o.kind !== 'ts'));
      // All but the last fragment must have the first one's size.
      const prevFull = merged.payloadLength % size === 0;
      if (!contiguous || !sameHeaders || !prevFull || (merged.flags & F_FIN) !== 0) break;
      this.outbox.shift();
      merged = {
        ...merged,
        flags: (t.flags & ~F_CWR) | (merged.flags & F_CWR),
        payloadLength: merged.payloadLength + t.payloadLength,
      };
    }
    return merged;
  }

  private mismatch(e: PacketEvent, message: string, expected: string, got: LivePacket): void {
    this.fail(e.pos, message, 'packet', expected, this.describeLive(got));
  }

  private checkIpInfo(e: PacketEvent, ip: IpInfo | undefined, dec: LivePacket): void {
    if (!ip) return;
    if (ip.tos !== undefined && dec.ip.tos !== ip.tos) {
      this.fail(e.pos, `IP TOS 0x${dec.ip.tos.toString(16)}, expected 0x${ip.tos.toString(16)}`, 'packet');
    }
    if (ip.ttl !== undefined && dec.ip.ttl !== ip.ttl)
      this.fail(e.pos, `IP TTL ${dec.ip.ttl}, expected ${ip.ttl}`, 'packet');
    if (ip.ecn !== undefined) {
      const got = dec.ip.tos & 3;
      const ok = ip.ecn === 'ect01' ? got === 1 || got === 2 : got === ip.ecn;
      if (!ok) this.fail(e.pos, `IP ECN field ${got}, expected ${ip.ecn}`, 'packet');
    }
  }

  private compareTcp(e: PacketEvent, p: TcpPacketSpec, t: LiveTcp, what: string): void {
    const got = (): string => this.describeTcp(t);
    const bad = (msg: string): void => this.fail(e.pos, msg, 'packet', what, got());
    const wantFlags = flagsFromScript(p.flags, p.ackFlag);
    // Learn the stack's ISN from its SYN / SYN-ACK.
    if ((t.flags & F_SYN) !== 0 && (wantFlags & F_SYN) !== 0 && !p.seq.absolute && !p.seq.wildcard) {
      this.localIsn = (t.seq - p.seq.start) >>> 0;
      this.isnLearned = true;
    } else this.learnIsn(t);
    if (this.tcpFlow.localPort === undefined) this.tcpFlow.localPort = t.srcPort;
    // UDP tunnelling: the script's `/udp(sport > dport)`, or none (plain TCP), must match.
    const wantUdp = p.udpEncap;
    const gotUdp = t.udpEncap;
    if (gotUdp && !wantUdp) bad(`UDP-encapsulated (${gotUdp.src} > ${gotUdp.dst}), expected plain TCP`);
    if (wantUdp && !gotUdp) bad(`plain TCP, expected UDP encapsulation ${wantUdp.src} > ${wantUdp.dst}`);
    if (wantUdp && gotUdp && (wantUdp.src !== gotUdp.src || wantUdp.dst !== gotUdp.dst))
      bad(`UDP ports ${gotUdp.src} > ${gotUdp.dst}, expected ${wantUdp.src} > ${wantUdp.dst}`);
    if (p.ports) {
      if (t.srcPort !== p.ports.src || t.dstPort !== p.ports.dst) {
        bad(`ports ${t.srcPort}>${t.dstPort}, expected ${p.ports.src}>${p.ports.dst}`);
      }
    } else if (t.srcPort !== this.tcpFlow.localPort || t.dstPort !== this.tcpFlow.remotePort) {
      bad(`ports ${t.srcPort}>${t.dstPort}, expected ${this.tcpFlow.localPort}>${this.tcpFlow.remotePort}`);
    }
    if (t.flags !== wantFlags) bad(`flags ${formatFlags(t.flags)}, expected ${formatFlags(wantFlags)}`);
    if (t.reserved !== 0) bad(`reserved TCP header bits set (${t.reserved})`);
    const relSeq = this.relSeq(t.seq);
    if (!p.seq.wildcard) {
      const want = p.seq.absolute ? p.seq.start >>> 0 : p.seq.start >>> 0;
      const have = p.seq.absolute ? t.seq : relSeq;
      if (have !== want)
        bad(`sequence number ${have}, expected ${want}${p.seq.absolute ? ' (absolute)' : ''}`);
    }
    if (t.payloadLength !== p.seq.len) bad(`payload length ${t.payloadLength}, expected ${p.seq.len}`);
    this.lastOutboundSeq = relSeq;
    if (p.ack !== undefined) {
      const relAck = (t.ack - this.remoteIsn) >>> 0;
      if (relAck !== p.ack >>> 0) bad(`ack ${relAck}, expected ${p.ack}`);
    }
    if (p.win !== undefined && t.window !== p.win) bad(`window ${t.window}, expected ${p.win}`);
    if (p.urg !== undefined && t.urg !== p.urg) bad(`urgent pointer ${t.urg}, expected ${p.urg}`);
    this.compareOptions(e, p, t, bad);
  }

  /** An unexpected SYN still fixes the stack's ISN, so reports read relative. */
  private learnIsn(t: LiveTcp): void {
    if ((t.flags & F_SYN) !== 0 && !this.isnLearned) {
      this.localIsn = t.seq;
      this.isnLearned = true;
    }
  }

  private relSeq(live: number): number {
    return (live - (this.localIsn ?? 0)) >>> 0;
  }

  private compareOptions(e: PacketEvent, p: TcpPacketSpec, t: LiveTcp, bad: (m: string) => void): void {
    if (p.options === 'any') return;
    const want = p.options ?? [];
    const have = t.options;
    // Remember how script TSvals map to live TSvals, for inbound ecr.
    const wts = want.find((o) => o.kind === 'ts');
    const hts = have.find((o) => o.kind === 'ts');
    if (wts?.kind === 'ts' && hts?.kind === 'ts') {
      if (this.tsOffset === undefined) this.tsOffset = (hts.val - wts.val) >>> 0;
      this.tsScriptToLive.set(wts.val >>> 0, hts.val);
    }
    const label = this.exact ? 'exact' : 'set';
    if (this.exact) {
      if (want.length !== have.length) {
        bad(
          `TCP options <${formatTcpOptions(have)}>, expected <${formatTcpOptions(want)}> (${label} comparison)`,
        );
        return;
      }
      for (let k = 0; k < want.length; k++) {
        const why = this.optionDiff(want[k]!, have[k]!);
        if (why) {
          bad(
            `TCP option ${k + 1}: ${why}; got <${formatTcpOptions(have)}>, expected <${formatTcpOptions(want)}> (${label} comparison)`,
          );
          return;
        }
      }
      return;
    }
    const strip = (l: readonly TcpOptionSpec[]) => l.filter((o) => o.kind !== 'nop' && o.kind !== 'eol');
    const w = strip(want);
    const h = strip(have);
    const msg = `TCP options <${formatTcpOptions(have)}>, expected <${formatTcpOptions(want)}> (set comparison, padding and order ignored)`;
    if (w.length !== h.length) {
      bad(msg);
      return;
    }
    const used = new Set<number>();
    for (const wo of w) {
      const k = h.findIndex((ho, idx) => !used.has(idx) && ho.kind === wo.kind);
      if (k < 0) {
        bad(msg);
        return;
      }
      used.add(k);
      const why = this.optionDiff(wo, h[k]!);
      if (why) {
        bad(`${why}; ${msg}`);
        return;
      }
    }
    void e;
  }

  /** Why a live option differs from the script's, or undefined if it matches. */
  private optionDiff(w: TcpOptionSpec, h: TcpOptionSpec): string | undefined {
    if (w.kind !== h.kind) return `${h.kind} where ${w.kind} was expected`;
    switch (w.kind) {
      case 'mss':
      case 'wscale':
        return w.value === (h as typeof w).value
          ? undefined
          : `${w.kind} ${(h as typeof w).value}, expected ${w.value}`;
      case 'sack': {
        const hb = (h as typeof w).blocks.map(
          (b) => `${(b.left - this.remoteIsn) >>> 0}:${(b.right - this.remoteIsn) >>> 0}`,
        );
        const wb = w.blocks.map((b) => `${b.left}:${b.right}`);
        return hb.join(' ') === wb.join(' ')
          ? undefined
          : `sack ${hb.join(' ')}, expected sack ${wb.join(' ')}`;
      }
      case 'ts': {
        const ht = h as typeof w;
        if (ht.ecr !== w.ecr >>> 0) return `TS ecr ${ht.ecr}, expected ${w.ecr}`;
        if (this.tsTickUs !== undefined && this.tsOffset !== undefined) {
          const rel = (ht.val - this.tsOffset) >>> 0;
          const slack = Math.max(1, Math.ceil(this.toleranceUs / this.tsTickUs));
          const diff = Math.abs(((rel - w.val + 0x80000000) >>> 0) - 0x80000000);
          if (diff > slack) return `TS val ${rel} (mapped), expected ${w.val} ± ${slack}`;
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }

  // ---- inbound packets ---------------------------------------------------------

  private injectPacket(e: PacketEvent): void {
    const p = e.packet;
    const tos = (e.ip?.tos ?? 0) | (typeof e.ip?.ecn === 'number' ? e.ip.ecn : 0);
    const ip = { src: this.remoteIp, dst: this.localIp, tos, ttl: e.ip?.ttl ?? 64, id: this.ipId++ & 0xffff };
    let bytes: Uint8Array;
    if (p.proto === 'tcp') {
      if (this.tcpFlow.localPort === undefined) this.tcpFlow.localPort = DEFAULT_PORT;
      // packetdrill's handle_listen_for_script_packet: an inbound packet gives the socket its 4-tuple.
      if (!this.tcpConnecting) this.tcpLive = true;
      if (!this.isnLearned) {
        // A SYN the script did not match (allowUnexpectedPackets) still tells us the ISN.
        for (const o of this.outbox) {
          const d = this.decode(o.packet);
          if (!('error' in d) && d.proto === 'tcp') this.learnIsn(d.tcp);
        }
      }
      // Deviation: before the stack has sent a SYN, inbound ACKs are mapped with a provisional ISN 0.
      if (this.localIsn === undefined && p.ack !== undefined) this.localIsn = 0;
      const flags = flagsFromScript(p.flags, p.ackFlag);
      const options = Array.isArray(p.options) ? p.options.map((o) => this.mapInboundOption(o)) : [];
      if (p.options === 'any')
        throw new Failure(e.pos, "'<...>' is only allowed on outbound packets", 'other');
      bytes = buildTcpPacket(
        ip,
        {
          srcPort: p.ports?.src ?? this.tcpFlow.remotePort,
          dstPort: p.ports?.dst ?? this.tcpFlow.localPort,
          seq: p.seq.absolute ? p.seq.start >>> 0 : (p.seq.start + this.remoteIsn) >>> 0,
          ack: p.ack === undefined ? 0 : (p.ack + (this.localIsn ?? 0)) >>> 0,
          flags,
          window: p.win ?? 0,
          urg: p.urg ?? 0,
          options,
          payload: new Uint8Array(p.seq.len),
        },
        p.udpEncap,
      );
    } else if (p.proto === 'udp') {
      bytes = buildUdpPacket(
        ip,
        p.ports?.src ?? this.udpFlow.remotePort,
        p.ports?.dst ?? this.udpFlow.localPort ?? DEFAULT_PORT,
        new Uint8Array(p.len),
      );
    } else {
      const type = icmpType(p.type)!;
      const code = icmpCode(type, p.code)!;
      const rest = ((p.id ?? 0) << 16) | (p.mtu ?? 0);
      let body: Uint8Array;
      const quotedIp = { src: this.localIp, dst: this.remoteIp, ttl: 64, id: 0 };
      const echoed = p.echoed;
      if (echoed?.kind === 'udp') {
        const q = new Uint8Array(8);
        const v = new DataView(q.buffer);
        v.setUint16(0, this.udpFlow.localPort ?? DEFAULT_PORT);
        v.setUint16(2, this.udpFlow.remotePort);
        v.setUint16(4, 8 + echoed.len);
        body = quotedDatagram({ ...quotedIp, protocol: 17 }, q, 8 + echoed.len);
      } else if (echoed?.kind === 'raw') {
        body = quotedDatagram(
          { ...quotedIp, protocol: 255 },
          new Uint8Array(Math.min(8, echoed.len)),
          echoed.len,
        );
      } else {
        // A quoted TCP header: ports and the (mapped) sequence number.
        const q = new Uint8Array(8);
        const v = new DataView(q.buffer);
        v.setUint16(0, this.tcpFlow.localPort ?? DEFAULT_PORT);
        v.setUint16(2, this.tcpFlow.remotePort);
        const rel = echoed ? echoed.seq.start : (this.lastOutboundSeq ?? 0);
        const abs = echoed?.seq.absolute ? rel >>> 0 : (rel + (this.localIsn ?? 0)) >>> 0;
        v.setUint32(4, abs);
        body = quotedDatagram({ ...quotedIp, protocol: 6 }, q, 20 + (echoed?.seq.len ?? 0));
      }
      bytes = buildIcmpPacket(ip, type, code, rest, body);
    }
    this.target.inject(bytes);
  }

  private mapInboundOption(o: TcpOptionSpec): TcpOptionSpec {
    if (o.kind === 'sack') {
      const isn = this.localIsn ?? 0;
      return {
        kind: 'sack',
        blocks: o.blocks.map((b) => ({ left: (b.left + isn) >>> 0, right: (b.right + isn) >>> 0 })),
      };
    }
    if (o.kind === 'ts') {
      // ecr echoes one of our TSvals: map it back to the live value.
      let ecr = o.ecr >>> 0;
      if (ecr !== 0) {
        const live = this.tsScriptToLive.get(ecr);
        if (live !== undefined) ecr = live;
        else if (this.tsOffset !== undefined) ecr = (ecr + this.tsOffset) >>> 0;
      }
      return { kind: 'ts', val: o.val >>> 0, ecr };
    }
    return o;
  }

  // ---- system calls ----------------------------------------------------------

  private word(name: string): number | undefined {
    const d = this.defines[name];
    if (d !== undefined) {
      const n = Number(d);
      return Number.isFinite(n) ? n : this.word(d);
    }
    return this.consts[name];
  }

  /** Integer value of an argument expression. */
  private intArg(x: Expr, what: string): number {
    if (x.kind === 'int') return x.value;
    if (x.kind === 'word') {
      const v = this.word(x.name);
      if (v === undefined) {
        if (isErrnoName(x.name)) return ERRNO[canonicalErrno(x.name)]!;
        throw new Skip(`unknown symbol ${x.name} (${what})`, x.pos.line);
      }
      return v;
    }
    if (x.kind === 'or') return this.intArg(x.left, what) | this.intArg(x.right, what);
    if (x.kind === 'array' && x.items.length === 1) return this.intArg(x.items[0]!, what);
    throw new Failure(x.pos, `expected an integer for ${what}`, 'other');
  }

  private fdArg(x: Expr): number {
    const sfd = this.intArg(x, 'fd');
    const live = this.fds.get(sfd);
    if (live === undefined) throw new Failure(x.pos, `fd ${sfd} is not open in the script`, 'other');
    return live;
  }

  private addrArg(x: Expr | undefined, defaultAddr: SockAddr): SockAddr {
    if (!x || x.kind === 'ellipsis') return defaultAddr;
    if (x.kind === 'struct') {
      let ip = defaultAddr.ip;
      let port = defaultAddr.port;
      for (const f of x.items) {
        if (f.kind !== 'assign') continue;
        if (f.name === 'sa_family' || f.name === 'sin_family') {
          if (f.value.kind === 'word' && /INET6/.test(f.value.name))
            throw new Skip('IPv6 not supported yet', x.pos.line);
        } else if (f.name === 'sin_port') {
          port =
            f.value.kind === 'call' && f.value.args[0]
              ? this.intArg(f.value.args[0], 'port')
              : this.intArg(f.value, 'port');
        } else if (f.name === 'sin_addr') {
          const a = f.value.kind === 'call' ? f.value.args[0] : f.value;
          if (a?.kind === 'string') ip = a.value;
        }
      }
      return { ip, port };
    }
    throw new Skip(`unsupported address argument form`, x.pos.line);
  }

  private sockoptValue(x: Expr | undefined): SockOptValue {
    if (!x) return { kind: 'int', value: 0 };
    if (x.kind === 'struct') {
      let onoff = 0;
      let linger = 0;
      for (const f of x.items) {
        if (f.kind !== 'assign') continue;
        if (/onoff$/.test(f.name)) onoff = this.intArg(f.value, 'l_onoff');
        else if (/linger$/.test(f.name)) linger = this.intArg(f.value, 'l_linger');
      }
      return { kind: 'linger', onoff: onoff !== 0, seconds: linger };
    }
    return { kind: 'int', value: this.intArg(x, 'option value') };
  }

  private payload(buf: Expr | undefined, len: number): Uint8Array {
    if (buf?.kind === 'string') {
      const bytes = new TextEncoder().encode(buf.value);
      const out = new Uint8Array(len);
      out.set(bytes.subarray(0, len));
      return out;
    }
    return new Uint8Array(len);
  }

  /** Translates a script syscall to a target call (undefined: handled here). */
  private translate(e: SyscallEvent): Syscall {
    const a = e.args;
    const need = (n: number): void => {
      if (a.length < n) throw new Failure(e.pos, `${e.name}() needs ${n} arguments`, 'other');
    };
    const local: SockAddr = { ip: this.localIp, port: DEFAULT_PORT };
    const remote: SockAddr = { ip: this.remoteIp, port: DEFAULT_PORT };
    switch (e.name) {
      case 'socket': {
        need(3);
        const dom = a[0]!.kind === 'ellipsis' ? 2 : this.intArg(a[0]!, 'domain');
        if (dom !== 2) throw new Skip('IPv6 not supported yet', e.pos.line);
        const ty = this.intArg(a[1]!, 'type');
        const type = ty === 1 ? 'stream' : ty === 2 ? 'dgram' : ty === 3 ? 'raw' : ty;
        return { op: 'socket', family: 'inet', type, protocol: this.intArg(a[2]!, 'protocol') };
      }
      case 'bind': {
        need(1);
        const addr = this.addrArg(a[1], local);
        return { op: 'bind', fd: this.fdArg(a[0]!), addr };
      }
      case 'listen':
        need(2);
        return { op: 'listen', fd: this.fdArg(a[0]!), backlog: this.intArg(a[1]!, 'backlog') };
      case 'accept':
        need(1);
        return { op: 'accept', fd: this.fdArg(a[0]!) };
      case 'connect': {
        need(1);
        const addr = this.addrArg(a[1], remote);
        return { op: 'connect', fd: this.fdArg(a[0]!), addr };
      }
      case 'read':
      case 'recv':
      case 'recvfrom': {
        need(3);
        const flags = a[3] ? this.intArg(a[3], 'flags') : 0;
        if (flags & ~this.consts.MSG_PEEK!)
          throw new Skip(`${e.name}() flags 0x${flags.toString(16)} not supported`, e.pos.line);
        return {
          op: 'recv',
          fd: this.fdArg(a[0]!),
          length: this.intArg(a[2]!, 'length'),
          peek: (flags & this.consts.MSG_PEEK!) !== 0,
          from: e.name === 'recvfrom',
        };
      }
      case 'write':
      case 'send':
      case 'sendto': {
        need(3);
        const len = this.intArg(a[2]!, 'length');
        const flags = a[3] ? this.intArg(a[3], 'flags') : 0;
        if (flags !== 0)
          throw new Skip(`${e.name}() flags 0x${flags.toString(16)} not supported`, e.pos.line);
        const to =
          e.name === 'sendto'
            ? this.addrArg(a[4], { ip: this.remoteIp, port: this.udpFlow.remotePort })
            : undefined;
        return { op: 'send', fd: this.fdArg(a[0]!), data: this.payload(a[1], len), to };
      }
      case 'close':
        need(1);
        return { op: 'close', fd: this.fdArg(a[0]!) };
      case 'shutdown': {
        need(2);
        const how = this.intArg(a[1]!, 'how');
        return {
          op: 'shutdown',
          fd: this.fdArg(a[0]!),
          how: how === 0 ? 'read' : how === 1 ? 'write' : 'both',
        };
      }
      case 'setsockopt':
      case 'getsockopt': {
        need(3);
        const level = this.symbolName(a[1]!);
        const name = this.symbolName(a[2]!);
        const fd = this.fdArg(a[0]!);
        if (e.name === 'getsockopt') return { op: 'getsockopt', fd, level, name };
        return { op: 'setsockopt', fd, level, name, value: this.sockoptValue(a[3]) };
      }
      case 'fcntl': {
        need(2);
        const cmd = this.symbolName(a[1]!);
        const fd = this.fdArg(a[0]!);
        if (cmd === 'F_GETFL') return { op: 'getNonBlocking', fd };
        if (cmd === 'F_SETFL') {
          need(3);
          const flags = this.intArg(a[2]!, 'flags');
          return { op: 'setNonBlocking', fd, nonBlocking: (flags & this.consts.O_NONBLOCK!) !== 0 };
        }
        throw new Skip(`fcntl ${cmd} not supported`, e.pos.line);
      }
      case 'ioctl':
        need(2);
        return { op: 'ioctl', fd: this.fdArg(a[0]!), request: this.symbolName(a[1]!) };
    }
    throw new Skip(`system call ${e.name}() not supported by the runner`, e.pos.line);
  }

  private symbolName(x: Expr): string {
    if (x.kind === 'word') return x.name;
    if (x.kind === 'int') {
      // Numeric levels: map the common ones back to names.
      if (x.value === this.consts.SOL_SOCKET) return 'SOL_SOCKET';
      if (x.value === 6) return 'IPPROTO_TCP';
      if (x.value === 0) return 'IPPROTO_IP';
      return String(x.value);
    }
    throw new Failure(x.pos, 'expected a symbolic constant', 'other');
  }

  private async syscall(e: SyscallEvent, expectedStart: number): Promise<void> {
    const call = this.translate(e);
    const start = this.now();
    // The flow's ports are known from the call itself (a blocking connect sends its SYN before returning).
    if (call.op === 'socket') {
      // packetdrill: socket() makes a new socket under test, with no 4-tuple yet.
      this.tcpLive = false;
      this.tcpConnecting = false;
    }
    if (call.op === 'connect') {
      if (!this.tcpLive) this.tcpConnecting = true;
      this.tcpFlow.remotePort = call.addr.port;
      this.udpFlow.remotePort = call.addr.port;
    }
    if (call.op === 'bind') {
      this.tcpFlow.localPort = call.addr.port;
      this.udpFlow.localPort = call.addr.port;
    }
    let result: SyscallOutcome | Promise<SyscallOutcome>;
    result = this.target.syscall(call);
    const check = (o: SyscallOutcome): void => this.checkSyscall(e, call, o);
    if (e.end) {
      const endUs = e.end.kind === 'absolute' || e.end.kind === 'relative' ? e.end.usecs : 0;
      // The end time shares the start's base: absolute, or the same anchor as a '+' start.
      const anchor = e.time.kind === 'relative' ? expectedStart - e.time.usecs : 0;
      const expectedEnd = anchor + endUs;
      const endTol = Math.max(
        this.toleranceUs,
        (this.tolerancePercent / 100) * Math.max(0, expectedEnd - start),
      );
      const pending: Pending = {
        event: e,
        expectedEnd,
        tol: endTol,
        check,
        outcome: undefined,
        settledAt: undefined,
      };
      if (result instanceof Promise) {
        result.then(
          (o) => {
            pending.outcome = o;
            pending.settledAt = this.now();
          },
          (err: unknown) => {
            pending.outcome = { kind: 'unsupported', reason: `target threw: ${String(err)}` };
            pending.settledAt = this.now();
          },
        );
      } else {
        pending.outcome = result;
        pending.settledAt = start;
      }
      this.pending.push(pending);
      await this.settle();
      return;
    }
    if (result instanceof Promise) {
      let done: SyscallOutcome | undefined;
      result.then(
        (o) => {
          done = o;
        },
        (err: unknown) => {
          done = { kind: 'unsupported', reason: `target threw: ${String(err)}` };
        },
      );
      for (let k = 0; k < 32 && done === undefined; k++) await Promise.resolve();
      if (done === undefined) {
        this.fail(
          e.pos,
          `${e.name}() blocked, but the script expects it to return at once (use '...' for blocking calls)`,
          'syscall',
        );
        return;
      }
      result = done;
    }
    check(result);
  }

  private checkSyscall(e: SyscallEvent, call: Syscall, o: SyscallOutcome): void {
    if (o.kind === 'unsupported') {
      const name = call.op === 'setsockopt' || call.op === 'getsockopt' ? call.name : undefined;
      throw new Skip(
        name && /not supported/.test(o.reason) === false
          ? `${optionSkipReason(name)}: ${o.reason}`
          : o.reason,
        e.pos.line,
      );
    }
    const got =
      o.kind === 'error'
        ? `-1 with errno ${o.errno}`
        : String(typeof o.value === 'object' ? JSON.stringify(o.value) : o.value);
    const res = e.result;
    const fail = (msg: string, expected: string): void => this.fail(e.pos, msg, 'syscall', expected, got);
    // fd-returning calls: the script's number names the new fd.
    if (call.op === 'socket' || call.op === 'accept') {
      const want = this.intArg(res, 'result');
      if (want >= 0) {
        if (o.kind === 'error') {
          fail(`${e.name}: expected non-negative result but got -1 with errno ${o.errno}`, String(want));
          return;
        }
        this.fds.set(want, Number(o.value));
        this.socketUnderTest = want;
        return;
      }
      this.expectError(e, want, o, fail);
      return;
    }
    if (call.op === 'close') {
      const sfd = [...this.fds.entries()].find(([, l]) => l === call.fd)?.[0];
      if (o.kind === 'ok' && sfd !== undefined) this.fds.delete(sfd);
    }
    const want = this.intArg(res, 'result');
    if (want < 0) {
      this.expectError(e, want, o, fail);
      return;
    }
    if (o.kind === 'error') {
      fail(`${e.name}: expected result ${want} but got -1 with errno ${o.errno}`, String(want));
      return;
    }
    if (call.op === 'getNonBlocking') {
      const flags = this.consts.O_RDWR! | (o.value === true ? this.consts.O_NONBLOCK! : 0);
      if (flags !== want)
        fail(`fcntl(F_GETFL): expected 0x${want.toString(16)} but got 0x${flags.toString(16)}`, String(want));
      return;
    }
    if (call.op === 'getsockopt' || call.op === 'ioctl') {
      if (want !== 0) fail(`${e.name}: expected result ${want} but got 0`, String(want));
      const out = call.op === 'getsockopt' ? e.args[3] : e.args[2];
      if (out && out.kind !== 'ellipsis') this.compareOutValue(e, out, o.value);
      return;
    }
    const value = typeof o.value === 'number' ? o.value : 0;
    if (value !== want) fail(`${e.name}: expected result ${want} but got ${value}`, String(want));
  }

  private expectError(
    e: SyscallEvent,
    want: number,
    o: SyscallOutcome,
    fail: (msg: string, expected: string) => void,
  ): void {
    const expected = `${want}${e.errno ? ` ${e.errno}` : ''}`;
    if (o.kind !== 'error') {
      fail(
        `${e.name}: expected result ${want}${e.errno ? ` (${e.errno})` : ''} but got ${o.kind === 'ok' ? String(o.value) : '?'}`,
        expected,
      );
      return;
    }
    if (want !== -1) {
      fail(`${e.name}: expected result ${want} but got -1 with errno ${o.errno}`, expected);
      return;
    }
    if (e.errno && canonicalErrno(e.errno) !== canonicalErrno(o.errno)) {
      fail(`${e.name}: expected errno ${e.errno} but got ${o.errno}`, expected);
    }
  }

  private compareOutValue(e: SyscallEvent, out: Expr, value: unknown): void {
    const gotText = typeof value === 'object' ? JSON.stringify(value) : String(value);
    if (out.kind === 'struct') {
      const want = this.sockoptValue(out);
      const v = value as { onoff?: boolean; seconds?: number };
      if (want.kind === 'linger' && (v?.onoff !== want.onoff || v?.seconds !== want.seconds)) {
        this.fail(
          e.pos,
          `${e.name}: option value ${gotText}, expected ${JSON.stringify(want)}`,
          'syscall',
          JSON.stringify(want),
          gotText,
        );
      }
      return;
    }
    const item = out.kind === 'array' && out.items.length === 1 ? out.items[0]! : out;
    // Errno-valued options (SO_ERROR): compare by name.
    if (item.kind === 'word' && isErrnoName(item.name) && this.word(item.name) === undefined) {
      const ok =
        typeof value === 'string'
          ? canonicalErrno(value) === canonicalErrno(item.name)
          : value === ERRNO[canonicalErrno(item.name)];
      if (!ok)
        this.fail(e.pos, `${e.name}: value ${gotText}, expected ${item.name}`, 'syscall', item.name, gotText);
      return;
    }
    const want = this.intArg(item, 'option value');
    const have =
      typeof value === 'string'
        ? value === '' || value === '0'
          ? 0
          : (ERRNO[canonicalErrno(value)] ?? Number.NaN)
        : typeof value === 'boolean'
          ? Number(value)
          : Number(value);
    if (have !== want)
      this.fail(e.pos, `${e.name}: value ${gotText}, expected ${want}`, 'syscall', String(want), gotText);
  }

  // ---- commands and code -------------------------------------------------------

  private runActions(actions: readonly CommandAction[], pos: Pos): void {
    for (const a of actions) {
      if (a.kind === 'noop') continue;
      if (a.kind === 'setting') {
        const ok = this.target.configure(a.setting);
        if (!ok) {
          if (a.advisory)
            this.warnings.push(`ignored advisory setting ${a.setting.name}=${a.setting.value} (${a.source})`);
          else
            throw new Skip(
              `target has no setting ${a.setting.name}=${String(a.setting.value)} (from '${a.source.trim()}')`,
              pos.line,
            );
        }
        continue;
      }
      if (a.kind === 'state-count') {
        const n = this.target
          .connections()
          .filter(
            (c) =>
              c.state === a.state &&
              (a.port === undefined || c.localPort === a.port || c.remotePort === a.port),
          ).length;
        if (n !== a.count) {
          this.fail(
            pos,
            `state check: ${n} connection(s) in ${a.state}, expected ${a.count} ('${a.source.trim()}')`,
            'other',
            String(a.count),
            String(n),
          );
        }
        continue;
      }
      if (a.kind === 'drop') {
        if (!this.target.dropConnections?.(a.state as TargetTcpState)) {
          throw new Skip(`target cannot drop connections ('${a.source.trim()}')`, pos.line);
        }
      }
    }
  }

  private snapshotCode(e: CodeEvent): void {
    const sut = this.socketUnderTest === undefined ? undefined : this.fds.get(this.socketUnderTest);
    const info = sut === undefined ? undefined : this.target.tcpInfo(sut);
    this.codeSnapshots.push({ event: e, vars: tcpInfoVariables(info, this.dialect) });
  }

  /** packetdrill runs all blocks once, after the script, in one interpreter. */
  private runCodeBlocks(): void {
    const vars = new Map<string, PyValue>(Object.entries(CODE_CONSTANTS));
    for (const { event, vars: snap } of this.codeSnapshots) {
      for (const [k, v] of snap) vars.set(k, v);
      const r = runCode(event.code, vars);
      if (!r.ok) {
        const pos = { line: event.codePos.line + r.line - 1, col: r.line === 1 ? event.codePos.col : 1 };
        this.fail(pos, r.message, 'other');
      }
    }
  }

  // ---- descriptions ---------------------------------------------------------------

  private describeSpec(e: PacketEvent): string {
    const p = e.packet;
    if (p.proto === 'udp') return `udp(${p.len})`;
    if (p.proto === 'icmp') return `icmp ${p.type}${p.code ? ` ${p.code}` : ''}`;
    let s = `${p.flags}${p.ackFlag ? '.' : ''}`;
    if (!s) s = '-';
    s += ` ${p.seq.start}:${p.seq.end}(${p.seq.len})${p.seq.absolute ? '!' : ''}`;
    if (p.ack !== undefined) s += ` ack ${p.ack}`;
    if (p.win !== undefined) s += ` win ${p.win}`;
    if (p.options === 'any') s += ' <...>';
    else if (p.options) s += ` <${formatTcpOptions(p.options)}>`;
    return s;
  }

  private describeTcp(t: LiveTcp): string {
    const rel = this.relSeq(t.seq);
    let s = `${formatFlags(t.flags)} ${rel}:${(rel + t.payloadLength) >>> 0}(${t.payloadLength})`;
    if (t.flags & F_ACK) s += ` ack ${(t.ack - this.remoteIsn) >>> 0}`;
    s += ` win ${t.window}`;
    if (t.options.length) s += ` <${formatTcpOptions(t.options)}>`;
    if (t.udpEncap) s += `/udp(${t.udpEncap.src} > ${t.udpEncap.dst})`;
    return s;
  }

  private describeLive(d: LivePacket): string {
    if (d.proto === 'tcp') return this.describeTcp(d.tcp);
    if (d.proto === 'udp') return `udp ${d.srcPort}>${d.dstPort} (${d.payloadLength})`;
    if (d.proto === 'icmp') return `icmp type ${d.type} code ${d.code}`;
    return `IP protocol ${d.ip.protocol}`;
  }
}

/** `tcpi_*` variables for a snapshot, in the dialect's units (FreeBSD: cwnd in bytes; Linux: in segments). */
export function tcpInfoVariables(info: TargetTcpInfo | undefined, dialect: Dialect): Map<string, PyValue> {
  const vars = new Map<string, PyValue>();
  const states = dialect === 'freebsd' ? FREEBSD_TCP_STATES : LINUX_TCP_STATES;
  vars.set('tcpi_state', states[info?.state ?? 'CLOSED']!);
  if (!info) return vars;
  const mss = info.sndMss;
  const set = (k: string, v: number | undefined): void => {
    if (v !== undefined) vars.set(k, v);
  };
  const segs = (bytes: number | undefined): number | undefined =>
    bytes === undefined
      ? undefined
      : dialect === 'freebsd'
        ? bytes
        : mss
          ? Math.floor(bytes / mss)
          : undefined;
  set('tcpi_snd_cwnd', segs(info.cwndBytes));
  set('tcpi_snd_ssthresh', segs(info.ssthreshBytes));
  set('tcpi_snd_mss', info.sndMss);
  set('tcpi_rcv_mss', info.rcvMss);
  set('tcpi_advmss', info.advMss);
  set('tcpi_rto', info.rtoUs);
  set('tcpi_rtt', info.rttUs);
  set('tcpi_rttvar', info.rttVarUs);
  set('tcpi_unacked', info.unacked);
  set('tcpi_sacked', info.sacked);
  set('tcpi_lost', info.lost);
  set('tcpi_retrans', info.retrans);
  set('tcpi_retransmits', info.retransmits);
  set('tcpi_total_retrans', info.totalRetrans);
  set('tcpi_backoff', info.backoff);
  set('tcpi_snd_wscale', info.sndWscale);
  set('tcpi_rcv_wscale', info.rcvWscale);
  set('tcpi_rcv_space', info.rcvSpace);
  set('tcpi_snd_wnd', info.sndWnd);
  set('tcpi_rcv_wnd', info.rcvWnd);
  if (info.caState !== undefined) {
    vars.set('tcpi_ca_state', { open: 0, disorder: 1, cwr: 2, recovery: 3, loss: 4 }[info.caState]);
  }
  if (
    info.timestamps !== undefined ||
    info.sack !== undefined ||
    info.windowScaling !== undefined ||
    info.ecn !== undefined
  ) {
    vars.set(
      'tcpi_options',
      (info.timestamps ? 1 : 0) | (info.sack ? 2 : 0) | (info.windowScaling ? 4 : 0) | (info.ecn ? 8 : 0),
    );
  }
  return vars;
}

function fmt(us: number): string {
  if (!Number.isFinite(us)) return String(us);
  return `${(us / 1_000_000).toFixed(6).replace(/0{1,3}$/, '')}s`;
}
