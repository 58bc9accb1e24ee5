/**
 * The system under test, as the conformance runner sees it. A target is a TCP/IP
 * host with one IP interface whose link is a raw-IP pipe owned by the runner,
 * a sockets API, and a virtual clock the runner drives.
 *
 * The runner translates packetdrill's C-flavoured syscalls (`fcntl(3, F_SETFL,
 * O_RDWR|O_NONBLOCK)`, `setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8)`)
 * into the normalized `Syscall` values below, so a target never parses script text
 * and never sees script fds or relative sequence numbers.
 *
 * A target for the sockstack Stack (src/conformance/stack-target.ts, later) wraps a
 * Stack with a ManualClock and a raw-IP memory device: `inject` hands bytes to the
 * device's receive side, `takeOutbound` drains what the device transmitted, and
 * `syscall` calls `stack.socket(...)` methods. A call that returns a Promise is a
 * blocking call: the runner keeps driving the clock and packets and checks the
 * Promise's outcome when it settles.
 */
import type { Instant } from '../time/instant.ts';

/** How the runner configures a fresh target for one script. */
export interface TargetConfig {
  /** The IP version on the wire; the addresses below are of this family (IPv6 in RFC 5952 text). */
  readonly ipVersion: 4 | 6;
  /** Address of the target's interface. */
  readonly localIp: string;
  /** The scripted peer; the target routes it via `gatewayIp`. */
  readonly remoteIp: string;
  readonly gatewayIp: string;
  /** Prefix length of the local subnet. */
  readonly prefixLength: number;
  /** Interface MTU (`--mtu`, default 1500). */
  readonly mtu: number;
  /** Script dialect: which OS the script was written against (affects defaults a target may mimic). */
  readonly dialect: 'linux' | 'freebsd';
}

export type SockAddr = { readonly ip: string; readonly port: number };

/** Socket options by their POSIX/Linux/FreeBSD names, e.g. level 'SOL_SOCKET', name 'SO_REUSEADDR'. */
export type SockOptValue =
  | { readonly kind: 'int'; readonly value: number }
  /** A quoted name (TCP_CONGESTION, "bbr"). */
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'linger'; readonly onoff: boolean; readonly seconds: number };

export type Syscall =
  | {
      readonly op: 'socket';
      readonly family: 'inet' | 'inet6';
      readonly type: 'stream' | 'dgram' | 'raw' | number;
      /** 0, or an IPPROTO_* number (6 TCP, 17 UDP, ...). */
      readonly protocol: number;
    }
  | { readonly op: 'bind'; readonly fd: number; readonly addr: SockAddr }
  | { readonly op: 'listen'; readonly fd: number; readonly backlog: number }
  | { readonly op: 'accept'; readonly fd: number }
  | { readonly op: 'connect'; readonly fd: number; readonly addr: SockAddr }
  /** read/recv/recvfrom: `peek` is MSG_PEEK. Returns the byte count. */
  | {
      readonly op: 'recv';
      readonly fd: number;
      readonly length: number;
      readonly peek: boolean;
      readonly from: boolean;
      /** recvmsg: the control buffer's size; the outcome gives `cmsgs` and `msgFlags`. */
      readonly control?: number;
      /** MSG_DONTWAIT: EAGAIN rather than blocking. */
      readonly dontWait?: boolean;
    }
  /** write/send/sendto: `to` is set for sendto. Returns the byte count. */
  | {
      readonly op: 'send';
      readonly fd: number;
      readonly data: Uint8Array;
      readonly to: SockAddr | undefined;
      /** MSG_FASTOPEN (RFC 7413): connect with the data in the SYN. */
      readonly fastOpen?: boolean;
      /** MSG_MORE (more data follows: hold a partial segment) and MSG_EOR (the data ends a record). */
      readonly more?: boolean;
      readonly eor?: boolean;
      /** MSG_DONTWAIT: EAGAIN rather than blocking. */
      readonly dontWait?: boolean;
      /** sendmsg's control messages (Linux level and type numbers, data as the kernel reads it). */
      readonly control?: readonly {
        readonly level: number;
        readonly type: number;
        readonly data: Uint8Array;
      }[];
    }
  | { readonly op: 'close'; readonly fd: number }
  | { readonly op: 'shutdown'; readonly fd: number; readonly how: 'read' | 'write' | 'both' }
  | {
      readonly op: 'setsockopt';
      readonly fd: number;
      readonly level: string;
      readonly name: string;
      readonly value: SockOptValue;
    }
  /** Returns the option value in `value` (an errno name for SO_ERROR, or 0). */
  | { readonly op: 'getsockopt'; readonly fd: number; readonly level: string; readonly name: string }
  | { readonly op: 'getNonBlocking'; readonly fd: number }
  | { readonly op: 'setNonBlocking'; readonly fd: number; readonly nonBlocking: boolean }
  /** FIONREAD / SIOCINQ and friends: returns the value in `value`. */
  | { readonly op: 'ioctl'; readonly fd: number; readonly request: string }
  /**
   * poll(2): `fds` with their requested POLL* events (Linux values); waits up to `timeoutMs`
   * (-1: for ever) for one to be ready. The outcome's value is the count of fds with events,
   * and `revents` each fd's.
   */
  | {
      readonly op: 'poll';
      readonly fds: readonly { readonly fd: number; readonly events: number }[];
      readonly timeoutMs: number;
    }
  /** epoll(7): a new epoll instance (its fd is the value). */
  | { readonly op: 'epollCreate' }
  /** epoll_ctl: `op` 1 ADD, 2 DEL, 3 MOD; `events` with EPOLLET / EPOLLONESHOT (unsigned). */
  | {
      readonly op: 'epollCtl';
      readonly epfd: number;
      readonly ctl: number;
      readonly fd: number;
      readonly events: number;
    }
  /** epoll_wait: up to `max` ready items, waiting up to `timeoutMs` (-1: for ever); the value is the count, `ready` the items. */
  | { readonly op: 'epollWait'; readonly epfd: number; readonly max: number; readonly timeoutMs: number };

export type SyscallOutcome =
  /** `value`: the return value (fd for socket/accept, byte count, 0) or, for getsockopt/ioctl/getNonBlocking, the option value. */
  | {
      readonly kind: 'ok';
      readonly value: number | string | boolean | { onoff: boolean; seconds: number };
      /** poll(2): each fd's returned events, in the call's order. */
      readonly revents?: readonly number[];
      /** epoll_wait: the ready items (the target's fds), in report order. */
      readonly ready?: readonly { readonly fd: number; readonly events: number }[];
      /** recvmsg: the control messages (Linux level and type numbers, data as the kernel lays it out) and msg_flags. */
      readonly cmsgs?: readonly {
        readonly level: number;
        readonly type: number;
        readonly data: Uint8Array;
      }[];
      readonly msgFlags?: number;
    }
  /** A failed call: errno name as in Linux headers ('ECONNREFUSED', 'EAGAIN', ...). */
  | { readonly kind: 'error'; readonly errno: string }
  /** The target cannot express this call: the script is skipped with `reason`. */
  | { readonly kind: 'unsupported'; readonly reason: string };

/** RFC 9293 state names (same spelling as src/tcp/state.ts). */
export type TargetTcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

/** What the runner turns into `tcpi_*` variables for `%{ }%` blocks. All optional except state. */
export interface TargetTcpInfo {
  readonly state: TargetTcpState;
  /** Congestion window and slow-start threshold in bytes. */
  readonly cwndBytes?: number;
  readonly ssthreshBytes?: number;
  /** Effective send MSS and the MSS we advertised. */
  readonly sndMss?: number;
  readonly advMss?: number;
  readonly rcvMss?: number;
  /** Retransmission timeout, smoothed RTT and RTT variance, in microseconds. */
  readonly rtoUs?: number;
  readonly rttUs?: number;
  readonly rttVarUs?: number;
  /** Segments sent and not yet acknowledged. */
  readonly unacked?: number;
  readonly sacked?: number;
  readonly lost?: number;
  readonly retrans?: number;
  /** Consecutive RTO expirations. */
  readonly retransmits?: number;
  readonly totalRetrans?: number;
  readonly backoff?: number;
  readonly timestamps?: boolean;
  readonly sack?: boolean;
  readonly windowScaling?: boolean;
  readonly ecn?: boolean;
  /** TCPI_OPT_SYN_DATA and TCPI_OPT_TFO_CHILD (RFC 7413 Fast Open). */
  readonly synData?: boolean;
  readonly tfoChild?: boolean;
  readonly sndWscale?: number;
  readonly rcvWscale?: number;
  readonly caState?: 'open' | 'disorder' | 'cwr' | 'recovery' | 'loss';
  /** Reordering degree in segments (tcpi_reordering). */
  readonly reordering?: number;
  readonly rcvSpace?: number;
  readonly sndWnd?: number;
  readonly rcvWnd?: number;
  /** Pacing and delivery rates, bytes/s. */
  readonly pacingRate?: number;
  readonly deliveryRate?: number;
}

/** One connection, for the FreeBSD `sockstat`-style state checks. */
export interface TargetConnection {
  readonly state: TargetTcpState;
  readonly localPort: number;
  readonly remotePort: number;
}

/**
 * A stack setting, named by the runner's mapping table (docs/conformance.md).
 * Values: booleans for on/off knobs, numbers (bytes, microseconds, counts), or
 * strings (congestion control name).
 */
export interface TargetSetting {
  readonly name: string;
  readonly value: number | boolean | string;
}

export interface ConformanceTarget {
  /** The target's clock; starts at 0 for a fresh target. */
  now(): Instant;
  /** Earliest pending timer, or undefined when the stack is idle. */
  nextDeadline(): Instant | undefined;
  /** Moves the clock to `to` (>= now()), running every timer due on the way, in order. */
  advance(to: Instant): void;
  /** Delivers one IP datagram (of the config's version) to the interface, at now(). */
  inject(packet: Uint8Array): void;
  /** Datagrams the interface transmitted since the last call, oldest first, with their send time. */
  takeOutbound(): { readonly time: Instant; readonly packet: Uint8Array }[];
  /** A socket call at now(); a Promise means the call blocked. Handles are target fds. */
  syscall(call: Syscall): SyscallOutcome | Promise<SyscallOutcome>;
  /** Applies a setting; false when the target has no such knob (the script is skipped). */
  configure(setting: TargetSetting): boolean;
  /** TCP_INFO-like snapshot for a socket; undefined when the fd has no TCP connection. */
  tcpInfo(fd: number): TargetTcpInfo | undefined;
  /** All TCP connections (for `sockstat ... | grep -c STATE`). */
  connections(): readonly TargetConnection[];
  /** Drops every connection in `state` (FreeBSD `tcpdrop -s STATE`); false if unsupported. */
  dropConnections?(state: TargetTcpState): boolean;
  /** Releases resources after the script. */
  close?(): void;
  /**
   * A documented deviation (deviations.ts) that explains this failure: the runner then reports
   * the script as skipped with the reason. Undefined: a real failure.
   */
  knownDeviation?(path: string | undefined, line: number, message: string): string | undefined;
}

export type TargetFactory = (config: TargetConfig) => ConformanceTarget | Promise<ConformanceTarget>;
