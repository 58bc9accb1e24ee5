/**
 * IGMP (RFC 3376, IGMPv3, with the IGMPv1 (RFC 1112) and IGMPv2 (RFC 2236) messages a
 * host must understand): the Membership Query of every version (told apart by length and
 * Max Resp Code, RFC 3376 §7.1), the version 3 Membership Report with its group records
 * (§4.2), and the version 1/2 reports and the version 2 Leave Group. Every message carries
 * the Internet checksum over the whole IGMP message (§4.1.2). IGMP travels in IPv4
 * protocol 2 with TTL 1 and the Router Alert option (RFC 2113).
 */
import type { Ipv4Address } from './address.ts';
import { internetChecksum } from './checksum.ts';
import { type WireError, wireError } from './error.ts';

export const IGMP_QUERY = 0x11;
export const IGMP_V1_REPORT = 0x12;
export const IGMP_V2_REPORT = 0x16;
export const IGMP_V2_LEAVE = 0x17;
export const IGMP_V3_REPORT = 0x22;

/** Group record types (RFC 3376 §4.2.12): the same numbers as MLDv2's (RFC 3810 §5.2.12). */
export const IGMP_MODE_IS_INCLUDE = 1;
export const IGMP_MODE_IS_EXCLUDE = 2;
export const IGMP_CHANGE_TO_INCLUDE = 3;
export const IGMP_CHANGE_TO_EXCLUDE = 4;
export const IGMP_ALLOW_NEW_SOURCES = 5;
export const IGMP_BLOCK_OLD_SOURCES = 6;

/** 224.0.0.1, all systems (RFC 1112): every host is in it and never reports it (RFC 3376 §5). */
export const IGMP_ALL_SYSTEMS = 0xe0000001;
/** 224.0.0.2, all routers: where IGMPv2 Leave Group goes (RFC 2236 §3). */
export const IGMP_ALL_ROUTERS = 0xe0000002;
/** 224.0.0.22, all IGMPv3-capable routers: where version 3 reports go (RFC 3376 §4.2.14). */
export const IGMP_V3_ROUTERS = 0xe0000016;

export interface IgmpQuery {
  /** 1, 2 or 3 (RFC 3376 §7.1). */
  readonly version: 1 | 2 | 3;
  /** Maximum Response Time in milliseconds (IGMPv1: 10 s, RFC 3376 §7.1). */
  readonly maxResponseMs: number;
  /** 0 for a general query. */
  readonly group: Ipv4Address;
  /** Sources of a group-and-source-specific query (version 3 only). */
  readonly sources: readonly Ipv4Address[];
  /** Querier's Robustness Variable (version 3; 0: not given). */
  readonly qrv: number;
  /** Querier's Query Interval in seconds (version 3, QQIC decoded). */
  readonly qqi: number;
}

export interface IgmpRecord {
  readonly type: number;
  readonly group: Ipv4Address;
  readonly sources: readonly Ipv4Address[];
}

/** What a host receives: a query, or another host's report or leave. */
export type IgmpMessage =
  | ({ readonly kind: 'query' } & IgmpQuery)
  | { readonly kind: 'report-v1' | 'report-v2' | 'leave-v2'; readonly group: Ipv4Address }
  | { readonly kind: 'report-v3'; readonly records: readonly IgmpRecord[] };

/** RFC 3376 §4.1.1 / §4.1.7: Max Resp Code and QQIC share one encoding (below 128 exact, then a float). */
export function decodeIgmpCode(code: number): number {
  return code < 128 ? code : ((code & 0x0f) | 0x10) << (((code >>> 4) & 7) + 3);
}

const u32 = (b: Uint8Array, at: number): number =>
  ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/**
 * Parses an IGMP message (the IPv4 payload). The checksum must verify; a message shorter
 * than its type needs, or whose counts run past its end, is rejected. Queries of 9 to 11
 * bytes are rejected too (RFC 3376 §7.1: "MUST be silently ignored").
 */
export function parseIgmp(msg: Uint8Array): IgmpMessage | WireError {
  if (msg.length < 8) return wireError('truncated', `igmp: ${msg.length} < 8 bytes`);
  if (internetChecksum(msg) !== 0) return wireError('checksum', 'igmp: bad checksum');
  const type = msg[0];
  switch (type) {
    case IGMP_QUERY: {
      const code = msg[1];
      const group = u32(msg, 4);
      if (msg.length === 8) {
        // RFC 3376 §7.1: IGMPv1 queries have Max Resp Code 0 (and mean 10 s, RFC 2236 §4).
        if (code === 0)
          return { kind: 'query', version: 1, maxResponseMs: 10_000, group, sources: [], qrv: 0, qqi: 0 };
        return { kind: 'query', version: 2, maxResponseMs: code * 100, group, sources: [], qrv: 0, qqi: 0 };
      }
      if (msg.length < 12)
        return wireError('truncated', `igmp query: ${msg.length} bytes (9-11 is no version)`);
      const n = (msg[10] << 8) | msg[11];
      if (12 + 4 * n > msg.length) return wireError('truncated', `igmp query: ${n} sources overrun`);
      const sources: number[] = [];
      for (let i = 0; i < n; i++) sources.push(u32(msg, 12 + 4 * i));
      return {
        kind: 'query',
        version: 3,
        maxResponseMs: decodeIgmpCode(code) * 100,
        group,
        sources,
        qrv: msg[8] & 7,
        qqi: decodeIgmpCode(msg[9]),
      };
    }
    case IGMP_V1_REPORT:
      return { kind: 'report-v1', group: u32(msg, 4) };
    case IGMP_V2_REPORT:
      return { kind: 'report-v2', group: u32(msg, 4) };
    case IGMP_V2_LEAVE:
      return { kind: 'leave-v2', group: u32(msg, 4) };
    case IGMP_V3_REPORT: {
      const n = (msg[6] << 8) | msg[7];
      const records: IgmpRecord[] = [];
      let at = 8;
      // n is at most 65535 and each record consumes at least 8 bytes of a bounded message.
      for (let i = 0; i < n; i++) {
        if (at + 8 > msg.length) return wireError('truncated', `igmp report: record ${i} truncated`);
        const aux = msg[at + 1] * 4;
        const ns = (msg[at + 2] << 8) | msg[at + 3];
        const end = at + 8 + 4 * ns + aux;
        if (end > msg.length) return wireError('truncated', `igmp report: record ${i} overruns`);
        const sources: number[] = [];
        for (let k = 0; k < ns; k++) sources.push(u32(msg, at + 8 + 4 * k));
        records.push({ type: msg[at], group: u32(msg, at + 4), sources });
        at = end;
      }
      return { kind: 'report-v3', records };
    }
    default:
      return wireError('unsupported', `igmp: type 0x${type.toString(16)}`);
  }
}

function finish(msg: Uint8Array): Uint8Array {
  msg[2] = 0;
  msg[3] = 0;
  const c = internetChecksum(msg);
  msg[2] = c >>> 8;
  msg[3] = c & 0xff;
  return msg;
}

/** A version 3 Membership Report (RFC 3376 §4.2) holding `records`, checksummed. */
export function emitIgmpV3Report(records: readonly IgmpRecord[]): Uint8Array {
  let len = 8;
  for (const r of records) len += 8 + 4 * r.sources.length;
  const msg = new Uint8Array(len);
  msg[0] = IGMP_V3_REPORT;
  msg[6] = records.length >>> 8;
  msg[7] = records.length & 0xff;
  let at = 8;
  for (const r of records) {
    msg[at] = r.type;
    msg[at + 2] = r.sources.length >>> 8;
    msg[at + 3] = r.sources.length & 0xff;
    put32(msg, at + 4, r.group);
    at += 8;
    for (const s of r.sources) {
      put32(msg, at, s);
      at += 4;
    }
  }
  return finish(msg);
}

/** An 8-byte message: a version 1 or 2 report, a version 2 leave, or a version 1/2 query. */
export function emitIgmpV2(type: number, group: Ipv4Address, maxRespCode = 0): Uint8Array {
  const msg = new Uint8Array(8);
  msg[0] = type;
  msg[1] = maxRespCode;
  put32(msg, 4, group);
  return finish(msg);
}

/** A version 3 query (RFC 3376 §4.1): what a querier (or a test) sends. */
export function emitIgmpV3Query(q: {
  maxRespCode: number;
  group: Ipv4Address;
  sources?: readonly Ipv4Address[];
  qrv?: number;
  qqic?: number;
}): Uint8Array {
  const sources = q.sources ?? [];
  const msg = new Uint8Array(12 + 4 * sources.length);
  msg[0] = IGMP_QUERY;
  msg[1] = q.maxRespCode;
  put32(msg, 4, q.group);
  msg[8] = (q.qrv ?? 2) & 7;
  msg[9] = q.qqic ?? 125;
  msg[10] = sources.length >>> 8;
  msg[11] = sources.length & 0xff;
  for (let i = 0; i < sources.length; i++) put32(msg, 12 + 4 * i, sources[i]);
  return finish(msg);
}

/** The Ethernet address of an IPv4 group (RFC 1112 §6.4): 01:00:5e and the group's low 23 bits. */
export function ipv4MulticastMac(group: Ipv4Address): Uint8Array {
  return new Uint8Array([0x01, 0x00, 0x5e, (group >>> 16) & 0x7f, (group >>> 8) & 0xff, group & 0xff]);
}
