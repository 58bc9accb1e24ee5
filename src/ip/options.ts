/**
 * IPv4 options (RFC 791 §3.1) of datagrams we receive: validation, as Linux's
 * ip_options_compile does it (a malformed option drops the datagram and is answered
 * with ICMP Parameter Problem pointing at the bad octet, RFC 1122 §3.2.1.8), and the
 * Record Route and Timestamp options an echo reply returns (RFC 1122 §3.2.2.6).
 */
import type { Ipv4Address } from '../wire/address.ts';
import { IPV4_MIN_HEADER_LEN } from '../wire/ipv4.ts';

const IPOPT_EOL = 0;
const IPOPT_NOP = 1;
const IPOPT_RR = 7;
const IPOPT_TS = 68;
const IPOPT_LSRR = 131;
const IPOPT_SSRR = 137;
const IPOPT_RA = 148;
/** Timestamp option flags (RFC 791): timestamps only, address + timestamp, prespecified addresses. */
const TS_TSONLY = 0;
const TS_TSANDADDR = 1;
const TS_PRESPEC = 3;

/**
 * The offset in the IP header (options start at 20) of the first octet of `options` that
 * makes them malformed, as ip_options_compile reports it for an arriving datagram; undefined
 * when they are well formed. Unknown options are skipped (by their length), as on Linux.
 */
export function badOptionOffset(options: Uint8Array): number | undefined {
  const at = (i: number) => IPV4_MIN_HEADER_LEN + i;
  const seen = new Set<number>();
  for (let i = 0; i < options.length; ) {
    const type = options[i];
    if (type === IPOPT_EOL) break;
    if (type === IPOPT_NOP) {
      i++;
      continue;
    }
    const left = options.length - i;
    if (left < 2) return at(i);
    const len = options[i + 1];
    if (len < 2 || len > left) return at(i);
    const ptr = options[i + 2];
    switch (type) {
      case IPOPT_RR:
      case IPOPT_LSRR:
      case IPOPT_SSRR: {
        // RFC 1812 §5.2.4.1: one source route; and one record route.
        const kind = type === IPOPT_RR ? IPOPT_RR : IPOPT_LSRR;
        if (seen.has(kind)) return at(i);
        seen.add(kind);
        if (len < 3) return at(i + 1);
        if (ptr < 4) return at(i + 2);
        if (type === IPOPT_RR && ptr <= len && ptr + 3 > len) return at(i + 2);
        break;
      }
      case IPOPT_TS: {
        if (seen.has(IPOPT_TS)) return at(i);
        seen.add(IPOPT_TS);
        if (len < 4) return at(i + 1);
        if (ptr < 5) return at(i + 2);
        const flag = options[i + 3] & 0x0f;
        if (ptr <= len) {
          const room = flag === TS_TSONLY ? 3 : flag === TS_TSANDADDR || flag === TS_PRESPEC ? 7 : 0;
          if (ptr + room > len) return at(i + 2);
        } else if (options[i + 3] >> 4 === 15) {
          // Full, and its overflow counter too.
          return at(i + 3);
        }
        break;
      }
      case IPOPT_RA:
        if (len < 4) return at(i + 1);
        break;
      default:
        break;
    }
    i += len;
  }
  return undefined;
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** Adds this host to one (well-formed) Record Route or Timestamp option, in place. */
function stamp(
  o: Uint8Array,
  addr: Ipv4Address,
  ms: number,
  isLocal: (a: Ipv4Address) => boolean,
  arriving: boolean,
): void {
  const len = o[1];
  const ptr = o[2];
  if (o[0] === IPOPT_RR) {
    if (ptr + 3 <= len) {
      writeU32(o, ptr - 1, addr);
      o[2] = ptr + 4;
    }
    return;
  }
  if (ptr > len) {
    // RFC 791: "If the time stamp data area is already full ... the overflow count is
    // incremented" (once, as the datagram arrives).
    if (arriving && o[3] >> 4 < 15) o[3] += 16;
    return;
  }
  switch (o[3] & 0x0f) {
    case TS_TSONLY:
      writeU32(o, ptr - 1, ms);
      o[2] = ptr + 4;
      return;
    case TS_TSANDADDR:
      writeU32(o, ptr - 1, addr);
      writeU32(o, ptr + 3, ms);
      o[2] = ptr + 8;
      return;
    case TS_PRESPEC:
      if (isLocal(readU32(o, ptr - 1))) {
        writeU32(o, ptr + 3, ms);
        o[2] = ptr + 8;
      }
      return;
  }
}

/**
 * The options of the echo reply to a request that carried `options` (already validated):
 * RFC 1122 §3.2.2.6, "If a Record Route and/or Time Stamp option is received in an ICMP Echo
 * Request, this option (these options) SHOULD be updated to include the current host and
 * included in the IP header of the Echo Reply message, without 'truncation'." As Linux does
 * (ip_options_compile on input, then ip_options_echo and ip_options_build for the reply),
 * the host is recorded twice: as the request arrives (`arrivedAt`, the address it was sent
 * to) and as the reply leaves (`leavesFrom`). `ms`: the RFC 791 timestamp, milliseconds since
 * midnight UT (here: of virtual time). Other options are not returned. Empty when none.
 */
export function echoReplyOptions(
  options: Uint8Array,
  arrivedAt: Ipv4Address,
  leavesFrom: Ipv4Address,
  ms: number,
  isLocal: (a: Ipv4Address) => boolean,
): Uint8Array {
  const kept: Uint8Array[] = [];
  for (let i = 0; i < options.length; ) {
    const type = options[i];
    if (type === IPOPT_EOL) break;
    if (type === IPOPT_NOP) {
      i++;
      continue;
    }
    const len = options[i + 1];
    if (type === IPOPT_RR || type === IPOPT_TS) {
      const o = options.slice(i, i + len);
      stamp(o, arrivedAt, ms, isLocal, true);
      stamp(o, leavesFrom, ms, isLocal, false);
      kept.push(o);
    }
    i += len;
  }
  if (kept.length === 0) return new Uint8Array(0);
  const out = new Uint8Array(kept.reduce((n, o) => n + o.length, 0));
  let at = 0;
  for (const o of kept) {
    out.set(o, at);
    at += o.length;
  }
  return out;
}
