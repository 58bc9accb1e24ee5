/**
 * Neighbor Discovery messages (RFC 4861 §4) and their options (§4.6): Router
 * Solicitation and Advertisement, Neighbor Solicitation and Advertisement, Redirect;
 * Source/Target Link-layer Address, Prefix Information, Redirected Header and MTU.
 *
 * `parseNdp` takes a checksum-verified ICMPv6 message (src/wire/icmpv6.ts) and returns a
 * repr; `emitNdp` returns the ICMPv6 message with its checksum. An option of length 0
 * makes the whole message invalid (RFC 4861 §4.6: "Nodes MUST silently discard an ND
 * packet that contains an option with length zero"); unknown options are skipped.
 */
import type { MacAddress } from './address.ts';
import { type WireError, wireError } from './error.ts';
import {
  buildIcmpv6,
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_ADVERTISEMENT,
  ICMPV6_ROUTER_SOLICITATION,
  type Icmpv6Repr,
} from './icmpv6.ts';

export const NDP_OPT_SOURCE_LLADDR = 1;
export const NDP_OPT_TARGET_LLADDR = 2;
export const NDP_OPT_PREFIX_INFO = 3;
export const NDP_OPT_REDIRECTED_HEADER = 4;
export const NDP_OPT_MTU = 5;

/** Options a message may carry (bounded: a message is at most one packet). */
export interface NdpOptions {
  sourceLinkAddress?: MacAddress;
  targetLinkAddress?: MacAddress;
  prefixes?: NdpPrefixInfo[];
  mtu?: number;
  /** The Redirected Header option's data (the start of the redirected packet). */
  redirected?: Uint8Array;
}

export interface NdpPrefixInfo {
  readonly prefixLength: number;
  /** L: the prefix is on-link. */
  readonly onLink: boolean;
  /** A: it may be used for SLAAC (RFC 4862). */
  readonly autonomous: boolean;
  /** Seconds; 0xffffffff is infinity. */
  readonly validLifetime: number;
  readonly preferredLifetime: number;
  readonly prefix: Uint8Array;
}

export type NdpRepr =
  | { readonly kind: 'rs'; readonly options: NdpOptions }
  | {
      readonly kind: 'ra';
      readonly curHopLimit: number;
      readonly managed: boolean;
      readonly other: boolean;
      /** Seconds; 0: not a default router. */
      readonly routerLifetime: number;
      /** Milliseconds; 0: unspecified. */
      readonly reachableTime: number;
      readonly retransTimer: number;
      readonly options: NdpOptions;
    }
  | { readonly kind: 'ns'; readonly target: Uint8Array; readonly options: NdpOptions }
  | {
      readonly kind: 'na';
      readonly router: boolean;
      readonly solicited: boolean;
      readonly override: boolean;
      readonly target: Uint8Array;
      readonly options: NdpOptions;
    }
  | {
      readonly kind: 'redirect';
      readonly target: Uint8Array;
      readonly destination: Uint8Array;
      readonly options: NdpOptions;
    };

/** Bytes of fixed fields (after the 4-byte ICMPv6 type/code/checksum) of each message. */
function fixedLength(type: number): number | undefined {
  switch (type) {
    case ICMPV6_ROUTER_SOLICITATION:
      return 4;
    case ICMPV6_ROUTER_ADVERTISEMENT:
      return 12;
    case ICMPV6_NEIGHBOR_SOLICITATION:
    case ICMPV6_NEIGHBOR_ADVERTISEMENT:
      return 20;
    case ICMPV6_REDIRECT:
      return 36;
    default:
      return undefined;
  }
}

export function isNdpType(type: number): boolean {
  return fixedLength(type) !== undefined;
}

/** Parses the options in `bytes` (a whole number of 8-octet options). */
export function parseNdpOptions(bytes: Uint8Array): NdpOptions | WireError {
  const o: NdpOptions = {};
  let i = 0;
  // Every option is at least 8 bytes (length 0 is refused): bounded by the message length.
  while (i < bytes.length) {
    if (i + 2 > bytes.length) return wireError('truncated', `ndp option at ${i}: no length`);
    const type = bytes[i];
    const len = bytes[i + 1] * 8;
    if (len === 0) return wireError('malformed', `ndp option ${type} at ${i}: length 0`);
    if (i + len > bytes.length)
      return wireError('truncated', `ndp option ${type} at ${i}: ${len} bytes overrun`);
    const b = bytes.subarray(i, i + len);
    switch (type) {
      case NDP_OPT_SOURCE_LLADDR:
      case NDP_OPT_TARGET_LLADDR: {
        // RFC 2464 §6: on Ethernet the option is 1 unit (8 bytes) with a 6-byte address.
        if (len !== 8) return wireError('malformed', `ndp link-layer address option of ${len} bytes`);
        if (type === NDP_OPT_SOURCE_LLADDR) o.sourceLinkAddress = b.slice(2, 8);
        else o.targetLinkAddress = b.slice(2, 8);
        break;
      }
      case NDP_OPT_PREFIX_INFO: {
        // RFC 4861 §4.6.2: Length 4.
        if (len !== 32) return wireError('malformed', `ndp prefix information of ${len} bytes`);
        const u32 = (k: number) => ((b[k] << 24) | (b[k + 1] << 16) | (b[k + 2] << 8) | b[k + 3]) >>> 0;
        (o.prefixes ??= []).push({
          prefixLength: b[2],
          onLink: (b[3] & 0x80) !== 0,
          autonomous: (b[3] & 0x40) !== 0,
          validLifetime: u32(4),
          preferredLifetime: u32(8),
          prefix: b.slice(16, 32),
        });
        break;
      }
      case NDP_OPT_MTU: {
        if (len !== 8) return wireError('malformed', `ndp mtu option of ${len} bytes`);
        o.mtu = ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0;
        break;
      }
      case NDP_OPT_REDIRECTED_HEADER:
        o.redirected = b.subarray(8);
        break;
      default:
        // RFC 4861 §4.6: "Receivers MUST silently ignore any options they do not recognize".
        break;
    }
    i += len;
  }
  return o;
}

/**
 * Parses an NDP message. `msg` is the whole ICMPv6 message (checksum already verified),
 * code checked to be 0 by the caller or here (RFC 4861 §6.1.1, §7.1.1: "ICMP Code is 0").
 */
export function parseNdp(msg: Uint8Array): NdpRepr | WireError {
  if (msg.length < 4) return wireError('truncated', `ndp: ${msg.length} < 4 bytes`);
  const type = msg[0];
  const fixed = fixedLength(type);
  if (fixed === undefined) return wireError('unsupported', `ndp: ICMPv6 type ${type}`);
  if (msg.length < 4 + fixed)
    return wireError('truncated', `ndp type ${type}: ${msg.length} < ${4 + fixed} bytes`);
  if (msg[1] !== 0) return wireError('malformed', `ndp type ${type}: code ${msg[1]}`);
  const opts = parseNdpOptions(msg.subarray(4 + fixed));
  if ('wireError' in opts) return opts as WireError;
  const options = opts as NdpOptions;
  switch (type) {
    case ICMPV6_ROUTER_SOLICITATION:
      return { kind: 'rs', options };
    case ICMPV6_ROUTER_ADVERTISEMENT:
      return {
        kind: 'ra',
        curHopLimit: msg[4],
        managed: (msg[5] & 0x80) !== 0,
        other: (msg[5] & 0x40) !== 0,
        routerLifetime: (msg[6] << 8) | msg[7],
        reachableTime: ((msg[8] << 24) | (msg[9] << 16) | (msg[10] << 8) | msg[11]) >>> 0,
        retransTimer: ((msg[12] << 24) | (msg[13] << 16) | (msg[14] << 8) | msg[15]) >>> 0,
        options,
      };
    case ICMPV6_NEIGHBOR_SOLICITATION:
      return { kind: 'ns', target: msg.slice(8, 24), options };
    case ICMPV6_NEIGHBOR_ADVERTISEMENT:
      return {
        kind: 'na',
        router: (msg[4] & 0x80) !== 0,
        solicited: (msg[4] & 0x40) !== 0,
        override: (msg[4] & 0x20) !== 0,
        target: msg.slice(8, 24),
        options,
      };
    default:
      return { kind: 'redirect', target: msg.slice(8, 24), destination: msg.slice(24, 40), options };
  }
}

function optionBytes(o: NdpOptions): Uint8Array[] {
  const out: Uint8Array[] = [];
  const ll = (type: number, mac: MacAddress) => {
    const b = new Uint8Array(8);
    b[0] = type;
    b[1] = 1;
    b.set(mac.subarray(0, 6), 2);
    out.push(b);
  };
  if (o.sourceLinkAddress) ll(NDP_OPT_SOURCE_LLADDR, o.sourceLinkAddress);
  if (o.targetLinkAddress) ll(NDP_OPT_TARGET_LLADDR, o.targetLinkAddress);
  if (o.mtu !== undefined) {
    const b = new Uint8Array(8);
    b[0] = NDP_OPT_MTU;
    b[1] = 1;
    new DataView(b.buffer).setUint32(4, o.mtu >>> 0);
    out.push(b);
  }
  for (const p of o.prefixes ?? []) {
    const b = new Uint8Array(32);
    const dv = new DataView(b.buffer);
    b[0] = NDP_OPT_PREFIX_INFO;
    b[1] = 4;
    b[2] = p.prefixLength;
    b[3] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0);
    dv.setUint32(4, p.validLifetime >>> 0);
    dv.setUint32(8, p.preferredLifetime >>> 0);
    b.set(p.prefix.subarray(0, 16), 16);
    out.push(b);
  }
  if (o.redirected) {
    // RFC 4861 §4.6.3: 8 bytes of type, length, reserved, then the packet, padded to 8.
    const n = (o.redirected.length + 7) & ~7;
    const b = new Uint8Array(8 + n);
    b[0] = NDP_OPT_REDIRECTED_HEADER;
    b[1] = (8 + n) / 8;
    b.set(o.redirected, 8);
    out.push(b);
  }
  return out;
}

/** The ICMPv6 repr of an NDP message (its 32-bit word and body). */
export function ndpIcmpRepr(m: NdpRepr): Icmpv6Repr {
  const opts = optionBytes(m.options);
  const optLen = opts.reduce((n, b) => n + b.length, 0);
  let type: number;
  let word = 0;
  let fixedBody: Uint8Array;
  switch (m.kind) {
    case 'rs':
      type = ICMPV6_ROUTER_SOLICITATION;
      fixedBody = new Uint8Array(0);
      break;
    case 'ra': {
      type = ICMPV6_ROUTER_ADVERTISEMENT;
      word =
        ((m.curHopLimit & 0xff) << 24) |
        ((m.managed ? 0x80 : 0) << 16) |
        ((m.other ? 0x40 : 0) << 16) |
        (m.routerLifetime & 0xffff);
      fixedBody = new Uint8Array(8);
      const dv = new DataView(fixedBody.buffer);
      dv.setUint32(0, m.reachableTime >>> 0);
      dv.setUint32(4, m.retransTimer >>> 0);
      break;
    }
    case 'ns':
      type = ICMPV6_NEIGHBOR_SOLICITATION;
      fixedBody = m.target.slice(0, 16);
      break;
    case 'na':
      type = ICMPV6_NEIGHBOR_ADVERTISEMENT;
      word = ((m.router ? 0x80 : 0) | (m.solicited ? 0x40 : 0) | (m.override ? 0x20 : 0)) << 24;
      fixedBody = m.target.slice(0, 16);
      break;
    default:
      type = ICMPV6_REDIRECT;
      fixedBody = new Uint8Array(32);
      fixedBody.set(m.target.subarray(0, 16));
      fixedBody.set(m.destination.subarray(0, 16), 16);
      break;
  }
  const body = new Uint8Array(fixedBody.length + optLen);
  body.set(fixedBody);
  let at = fixedBody.length;
  for (const b of opts) {
    body.set(b, at);
    at += b.length;
  }
  return { type, code: 0, word: word >>> 0, body };
}

/** The whole ICMPv6 message of an NDP repr, checksummed for `src` -> `dst`. */
export function emitNdp(m: NdpRepr, src: Uint8Array, dst: Uint8Array): Uint8Array {
  return buildIcmpv6(ndpIcmpRepr(m), src, dst);
}
