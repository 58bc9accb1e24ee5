/**
 * Syntax tree of a packetdrill script (google dialect plus the nplab and FreeBSD
 * additions used by the curated corpus). Grammar: google packetdrill parser.y;
 * see docs/conformance.md for what each node means to the runner.
 *
 * Times are integer microseconds. Sequence numbers are kept as written
 * (relative), and mapped to live values only by the runner.
 */

/** A position in the script: 1-based line and column. */
export interface Pos {
  readonly line: number;
  readonly col: number;
}

/** `--name=value` (or bare `--name`) at the top of the script. */
export interface ScriptOption {
  readonly name: string;
  readonly value: string | undefined;
  readonly pos: Pos;
}

export type TimeSpec =
  /** `0.100`: absolute, relative to the script start. */
  | { readonly kind: 'absolute'; readonly usecs: number }
  /** `+0.1`: relative to the previous event. */
  | { readonly kind: 'relative'; readonly usecs: number }
  /** `*`: any time (outbound packets only). */
  | { readonly kind: 'any' }
  /** `a~b` or `+a~+b`: a window (outbound packets only). */
  | { readonly kind: 'range'; readonly relative: boolean; readonly start: number; readonly end: number };

/** Syscall argument and result expressions. */
export type Expr =
  | { readonly kind: 'ellipsis'; readonly pos: Pos }
  | { readonly kind: 'int'; readonly value: number; readonly pos: Pos }
  | { readonly kind: 'word'; readonly name: string; readonly pos: Pos }
  | { readonly kind: 'string'; readonly value: string; readonly ellipsis: boolean; readonly pos: Pos }
  /** `a | b` */
  | { readonly kind: 'or'; readonly left: Expr; readonly right: Expr; readonly pos: Pos }
  /** `name=value` inside a struct, or `msg_iov(1)=[...]` (name carries the call form). */
  | { readonly kind: 'assign'; readonly name: string; readonly value: Expr; readonly pos: Pos }
  /** `[a, b]`: a pointer to an int, or an array. */
  | { readonly kind: 'array'; readonly items: readonly Expr[]; readonly pos: Pos }
  /** `{a=1, b=2}` or `{..., 4}`: linger, pollfd, sockaddr, iovec, ... */
  | { readonly kind: 'struct'; readonly items: readonly Expr[]; readonly pos: Pos }
  /** `htons(8080)`, `inet_addr("1.2.3.4")`, `msg_name(...)`. */
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Expr[]; readonly pos: Pos };

/** IP-level qualifiers: `(tos 0x20)`, `(ttl 4)`, `(ect0)`, `(flowlabel 0x1)`. */
export interface IpInfo {
  readonly tos?: number;
  /** ECN codepoint: 0 no_ecn, 1 ect1, 2 ect0, 3 ce; `ect01` means "ect0 or ect1". */
  readonly ecn?: 0 | 1 | 2 | 3 | 'ect01';
  readonly ttl?: number;
  readonly flowLabel?: number;
}

/** Outer encapsulation before the packet: `ipv4 1.2.3.4 > 5.6.7.8:`. */
export interface OuterIp {
  readonly version: 4 | 6;
  readonly src: string;
  readonly dst: string;
  readonly ip: IpInfo | undefined;
}

export type TcpOptionSpec =
  | { readonly kind: 'nop' }
  | { readonly kind: 'eol' }
  | { readonly kind: 'mss'; readonly value: number }
  | { readonly kind: 'wscale'; readonly value: number }
  | { readonly kind: 'sackOK' }
  | { readonly kind: 'sack'; readonly blocks: readonly { readonly left: number; readonly right: number }[] }
  | { readonly kind: 'ts'; readonly val: number; readonly ecr: number }
  | { readonly kind: 'md5'; readonly hex: string }
  /** RFC 7413 fast open (`FO`, kind 34) or the experimental form (`FOEXP`, kind 254). */
  | { readonly kind: 'fo'; readonly experimental: boolean; readonly cookie: string }
  | { readonly kind: 'accecn'; readonly e0b: number; readonly ceb: number; readonly e1b: number }
  /** Any other kind (only produced when decoding live packets). */
  | { readonly kind: 'unknown'; readonly type: number; readonly data: Uint8Array };

/** `start:end(len)`; `absolute` for nplab's `a:b(n)!`; `wildcard` for `...(n)`. */
export interface SeqSpec {
  readonly start: number;
  readonly end: number;
  readonly len: number;
  readonly absolute: boolean;
  readonly wildcard: boolean;
}

export interface TcpPacketSpec {
  readonly proto: 'tcp';
  /** Flag letters as written, without the ACK dot: `S`, `F`, `P`, `R`, `U`, `E`, `W`, `A`. */
  readonly flags: string;
  readonly ackFlag: boolean;
  readonly ports: { readonly src: number; readonly dst: number } | undefined;
  readonly seq: SeqSpec;
  readonly ack: number | undefined;
  readonly win: number | undefined;
  readonly urg: number | undefined;
  /** undefined: no `<...>` at all (no options); 'any': `<...>`. */
  readonly options: readonly TcpOptionSpec[] | 'any' | undefined;
  /** FreeBSD `/udp(sport > dport)` UDP encapsulation suffix. */
  readonly udpEncap: { readonly src: number; readonly dst: number } | undefined;
}

export interface UdpPacketSpec {
  readonly proto: 'udp';
  readonly ports: { readonly src: number; readonly dst: number } | undefined;
  readonly len: number;
}

export type IcmpEchoed =
  | { readonly kind: 'tcp'; readonly seq: SeqSpec }
  | { readonly kind: 'udp'; readonly len: number }
  | { readonly kind: 'raw'; readonly len: number };

export interface IcmpPacketSpec {
  readonly proto: 'icmp';
  readonly type: string;
  readonly code: string | undefined;
  readonly mtu: number | undefined;
  readonly id: number | undefined;
  readonly echoed: IcmpEchoed | undefined;
}

export type PacketSpec = TcpPacketSpec | UdpPacketSpec | IcmpPacketSpec;

interface EventBase {
  readonly pos: Pos;
  readonly time: TimeSpec;
}

export interface PacketEvent extends EventBase {
  readonly kind: 'packet';
  readonly direction: 'inbound' | 'outbound';
  readonly outer: readonly OuterIp[];
  readonly ip: IpInfo | undefined;
  readonly packet: PacketSpec;
}

export interface SyscallEvent extends EventBase {
  readonly kind: 'syscall';
  /** `A...B name(...)`: the call blocks and must return at B. */
  readonly end: TimeSpec | undefined;
  readonly name: string;
  readonly args: readonly Expr[];
  readonly result: Expr;
  readonly errno: string | undefined;
  /** The free text in parentheses after the result, ignored by the checks. */
  readonly note: string | undefined;
}

export interface CommandEvent extends EventBase {
  readonly kind: 'command';
  readonly command: string;
}

export interface CodeEvent extends EventBase {
  readonly kind: 'code';
  readonly code: string;
  /** Line of the first code character, for error messages. */
  readonly codePos: Pos;
}

export type ScriptEvent = PacketEvent | SyscallEvent | CommandEvent | CodeEvent;

export interface Script {
  readonly options: readonly ScriptOption[];
  /** A backtick command before the first event. */
  readonly initCommand: { readonly command: string; readonly pos: Pos } | undefined;
  readonly events: readonly ScriptEvent[];
  /** A backtick command after the last event. */
  readonly cleanupCommand: { readonly command: string; readonly pos: Pos } | undefined;
}
