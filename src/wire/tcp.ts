/**
 * TCP header codec (RFC 9293 §3.1). Types first: the view, parse and emit follow.
 *
 * `TcpRepr` is the plain, owned description of a segment's header. Sequence and
 * acknowledgement numbers are unsigned 32-bit numbers; compare them only with
 * the mod-2^32 helpers in src/tcp/seq.ts.
 */

/** Flag bits as in the header's 13th/14th octets (RFC 9293 §3.1, RFC 3168 for ECE/CWR). */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** A SACK block: [left, right) edges (RFC 2018 §3). */
export interface SackBlock {
  readonly left: number;
  readonly right: number;
}

/** Parsed options. Absent options are undefined. Unknown options are skipped by length. */
export interface TcpOptions {
  /** Maximum segment size (kind 2). */
  readonly mss?: number;
  /** Window scale shift count (kind 3, RFC 7323 §2). */
  readonly windowScale?: number;
  /** SACK-permitted (kind 4, RFC 2018). */
  readonly sackPermitted?: boolean;
  /** SACK blocks (kind 5, RFC 2018), up to 4. */
  readonly sack?: readonly SackBlock[];
  /** Timestamps (kind 8, RFC 7323 §3): TSval and TSecr. */
  readonly timestamps?: { readonly tsVal: number; readonly tsEcr: number };
}

export interface TcpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** Bit set of TCP_* flags. */
  readonly flags: number;
  /** Raw 16-bit window field (unscaled). */
  readonly window: number;
  readonly urgentPointer: number;
  readonly options: TcpOptions;
}
