/**
 * Multicast Listener Discovery version 2 (RFC 3810): the Multicast Listener Report
 * (§5.2, ICMPv6 type 143) with its address records, and the Query (§5.1, type 130; the
 * 24-byte MLDv1 form of RFC 2710 is also a query). Reports go to ff02::16 with hop
 * limit 1 and a hop-by-hop Router Alert (RFC 3810 §5).
 */
import { type WireError, wireError } from './error.ts';
import { buildIcmpv6, ICMPV6_MLD_QUERY, ICMPV6_MLD_REPORT_V2 } from './icmpv6.ts';

/** Record types (RFC 3810 §5.2.12). */
export const MLD_MODE_IS_INCLUDE = 1;
export const MLD_MODE_IS_EXCLUDE = 2;
export const MLD_CHANGE_TO_INCLUDE = 3;
export const MLD_CHANGE_TO_EXCLUDE = 4;
export const MLD_ALLOW_NEW_SOURCES = 5;
export const MLD_BLOCK_OLD_SOURCES = 6;

export interface MldRecord {
  readonly type: number;
  readonly group: Uint8Array;
  readonly sources: readonly Uint8Array[];
}

export interface MldQuery {
  /** Milliseconds (Maximum Response Code decoded, RFC 3810 §5.1.3). */
  readonly maxResponseDelay: number;
  /** :: for a general query. */
  readonly group: Uint8Array;
  readonly sources: readonly Uint8Array[];
}

/** Builds a report (the whole ICMPv6 message, checksummed). */
export function emitMldReport(records: readonly MldRecord[], src: Uint8Array, dst: Uint8Array): Uint8Array {
  let len = 4;
  for (const r of records) len += 20 + 16 * r.sources.length;
  const body = new Uint8Array(len - 4);
  let at = 0;
  for (const r of records) {
    body[at] = r.type;
    body[at + 1] = 0;
    body[at + 2] = r.sources.length >>> 8;
    body[at + 3] = r.sources.length;
    body.set(r.group.subarray(0, 16), at + 4);
    at += 20;
    for (const s of r.sources) {
      body.set(s.subarray(0, 16), at);
      at += 16;
    }
  }
  return buildIcmpv6({ type: ICMPV6_MLD_REPORT_V2, code: 0, word: records.length & 0xffff, body }, src, dst);
}

/** Parses a report (a whole, checksum-verified ICMPv6 message). */
export function parseMldReport(msg: Uint8Array): MldRecord[] | WireError {
  if (msg.length < 8) return wireError('truncated', `mld report: ${msg.length} < 8 bytes`);
  if (msg[0] !== ICMPV6_MLD_REPORT_V2) return wireError('unsupported', `mld report: type ${msg[0]}`);
  const n = (msg[6] << 8) | msg[7];
  const out: MldRecord[] = [];
  let at = 8;
  // n is at most 65535 and each record consumes at least 20 bytes of a bounded message.
  for (let i = 0; i < n; i++) {
    if (at + 20 > msg.length) return wireError('truncated', `mld report: record ${i} truncated`);
    const aux = msg[at + 1] * 4;
    const ns = (msg[at + 2] << 8) | msg[at + 3];
    const end = at + 20 + ns * 16 + aux;
    if (end > msg.length) return wireError('truncated', `mld report: record ${i} sources overrun`);
    const sources: Uint8Array[] = [];
    for (let k = 0; k < ns; k++) sources.push(msg.slice(at + 20 + 16 * k, at + 36 + 16 * k));
    out.push({ type: msg[at], group: msg.slice(at + 4, at + 20), sources });
    at = end;
  }
  return out;
}

/** Parses a query (MLDv1's 24 bytes or MLDv2's 28 and more). */
export function parseMldQuery(msg: Uint8Array): MldQuery | WireError {
  if (msg.length < 24) return wireError('truncated', `mld query: ${msg.length} < 24 bytes`);
  if (msg[0] !== ICMPV6_MLD_QUERY) return wireError('unsupported', `mld query: type ${msg[0]}`);
  const code = (msg[4] << 8) | msg[5];
  // RFC 3810 §5.1.3: codes from 32768 are a floating-point encoding.
  const delay = code < 32768 ? code : ((code & 0x0fff) | 0x1000) << (((code >>> 12) & 7) + 3);
  const group = msg.slice(8, 24);
  if (msg.length < 28) return { maxResponseDelay: delay, group, sources: [] };
  const ns = (msg[26] << 8) | msg[27];
  if (28 + ns * 16 > msg.length) return wireError('truncated', `mld query: ${ns} sources overrun`);
  const sources: Uint8Array[] = [];
  for (let k = 0; k < ns; k++) sources.push(msg.slice(28 + 16 * k, 44 + 16 * k));
  return { maxResponseDelay: delay, group, sources };
}
