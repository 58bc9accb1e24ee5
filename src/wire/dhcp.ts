/**
 * DHCP message codec (RFC 2131 §2, the BOOTP format of RFC 951) and the options this
 * project uses (RFC 2132). Pure: parse returns a WireError for bad bytes, never throws.
 *
 *   0       op, htype, hlen, hops     4 xid     8 secs, flags
 *   12 ciaddr  16 yiaddr  20 siaddr  24 giaddr  28 chaddr (16)  44 sname (64)
 *   108 file (128)  236 magic cookie 99.130.83.99  240 options (TLV; 0 pad, 255 end)
 */
import type { Ipv4Address } from './address.ts';
import { type WireError, wireError } from './error.ts';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** The fixed part up to the options, magic cookie included. */
export const DHCP_FIXED_LEN = 240;
/** RFC 1542 §3.1.1: relays may drop BOOTP messages shorter than 300 octets; we pad to it. */
export const DHCP_MIN_LEN = 300;
const MAGIC = 0x63825363;

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
/** RFC 2131 §2: the leftmost bit of `flags` asks the server to broadcast its replies. */
export const DHCP_FLAG_BROADCAST = 0x8000;

/** Option 53 values (RFC 2132 §9.6). */
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

/** Option codes (RFC 2132). */
export const OPT_PAD = 0;
export const OPT_SUBNET_MASK = 1;
export const OPT_ROUTER = 3;
export const OPT_DNS = 6;
export const OPT_HOSTNAME = 12;
export const OPT_DOMAIN_NAME = 15;
export const OPT_MTU = 26;
export const OPT_BROADCAST = 28;
export const OPT_REQUESTED_IP = 50;
export const OPT_LEASE_TIME = 51;
export const OPT_OVERLOAD = 52;
export const OPT_MESSAGE_TYPE = 53;
export const OPT_SERVER_ID = 54;
export const OPT_PARAM_LIST = 55;
export const OPT_MESSAGE = 56;
export const OPT_MAX_SIZE = 57;
export const OPT_RENEWAL_TIME = 58;
export const OPT_REBINDING_TIME = 59;
export const OPT_CLIENT_ID = 61;
export const OPT_END = 255;

/** The options we read and write; anything else is kept raw in `other`. */
export interface DhcpOptions {
  messageType?: number;
  subnetMask?: Ipv4Address;
  routers?: readonly Ipv4Address[];
  dns?: readonly Ipv4Address[];
  hostname?: string;
  domainName?: string;
  mtu?: number;
  broadcast?: Ipv4Address;
  requestedIp?: Ipv4Address;
  /** Seconds. */
  leaseTime?: number;
  serverId?: Ipv4Address;
  paramList?: Uint8Array;
  message?: string;
  maxSize?: number;
  /** T1 in seconds. */
  renewalTime?: number;
  /** T2 in seconds. */
  rebindingTime?: number;
  clientId?: Uint8Array;
  /** Other options by code, in arrival order (emitted as given). */
  other?: ReadonlyArray<readonly [code: number, value: Uint8Array]>;
}

export interface DhcpRepr {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: Ipv4Address;
  yiaddr: Ipv4Address;
  siaddr: Ipv4Address;
  giaddr: Ipv4Address;
  /** Client hardware address, 16 octets (the first `hlen` matter). */
  chaddr: Uint8Array;
  options: DhcpOptions;
}

const te = new TextEncoder();
const td = new TextDecoder();

function addrList(v: Uint8Array): Ipv4Address[] | undefined {
  if (v.length === 0 || v.length % 4 !== 0) return undefined;
  const out: Ipv4Address[] = [];
  for (let i = 0; i < v.length; i += 4)
    out.push(((v[i] << 24) | (v[i + 1] << 16) | (v[i + 2] << 8) | v[i + 3]) >>> 0);
  return out;
}

function u32(v: Uint8Array): number | undefined {
  return v.length === 4 ? ((v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]) >>> 0 : undefined;
}

/** Parses a DHCP message (a UDP payload). Options with a wrong length make the message malformed. */
export function parseDhcp(bytes: Uint8Array): { repr: DhcpRepr } | WireError {
  if (bytes.length < DHCP_FIXED_LEN)
    return wireError('truncated', `dhcp: ${bytes.length} < ${DHCP_FIXED_LEN} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(236) !== MAGIC) return wireError('malformed', 'dhcp: no magic cookie');
  const hlen = bytes[2];
  if (hlen > 16) return wireError('malformed', `dhcp: hlen ${hlen} > 16`);
  const o: DhcpOptions = {};
  const other: [number, Uint8Array][] = [];
  let i = DHCP_FIXED_LEN;
  let ended = false;
  const seen = new Set<number>();
  while (i < bytes.length) {
    const code = bytes[i];
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    if (code === OPT_END) {
      ended = true;
      break;
    }
    if (i + 1 >= bytes.length) return wireError('truncated', `dhcp: option ${code} without a length`);
    const len = bytes[i + 1];
    if (i + 2 + len > bytes.length)
      return wireError('truncated', `dhcp: option ${code} overruns the message`);
    const v = bytes.subarray(i + 2, i + 2 + len);
    i += 2 + len;
    // Deviation: RFC 3396 concatenates repeated options; we keep the first (no client we
    // serve splits the options we read).
    if (seen.has(code)) continue;
    seen.add(code);
    let ok = true;
    switch (code) {
      case OPT_MESSAGE_TYPE:
        ok = len === 1 && v[0] >= DHCPDISCOVER && v[0] <= DHCPINFORM;
        if (ok) o.messageType = v[0];
        break;
      case OPT_SUBNET_MASK:
        o.subnetMask = u32(v);
        ok = o.subnetMask !== undefined;
        break;
      case OPT_ROUTER:
        o.routers = addrList(v);
        ok = o.routers !== undefined;
        break;
      case OPT_DNS:
        o.dns = addrList(v);
        ok = o.dns !== undefined;
        break;
      case OPT_HOSTNAME:
        o.hostname = td.decode(v);
        break;
      case OPT_DOMAIN_NAME:
        o.domainName = td.decode(v);
        break;
      case OPT_MTU:
        ok = len === 2 && ((v[0] << 8) | v[1]) >= 68;
        if (ok) o.mtu = (v[0] << 8) | v[1];
        break;
      case OPT_BROADCAST:
        o.broadcast = u32(v);
        ok = o.broadcast !== undefined;
        break;
      case OPT_REQUESTED_IP:
        o.requestedIp = u32(v);
        ok = o.requestedIp !== undefined;
        break;
      case OPT_LEASE_TIME:
        o.leaseTime = u32(v);
        ok = o.leaseTime !== undefined;
        break;
      case OPT_SERVER_ID:
        o.serverId = u32(v);
        ok = o.serverId !== undefined;
        break;
      case OPT_PARAM_LIST:
        o.paramList = v.slice();
        break;
      case OPT_MESSAGE:
        o.message = td.decode(v);
        break;
      case OPT_MAX_SIZE:
        ok = len === 2 && ((v[0] << 8) | v[1]) >= 576;
        if (ok) o.maxSize = (v[0] << 8) | v[1];
        break;
      case OPT_RENEWAL_TIME:
        o.renewalTime = u32(v);
        ok = o.renewalTime !== undefined;
        break;
      case OPT_REBINDING_TIME:
        o.rebindingTime = u32(v);
        ok = o.rebindingTime !== undefined;
        break;
      case OPT_CLIENT_ID:
        // RFC 2132 §9.14: "The minimum length for this option is 2."
        ok = len >= 2;
        if (ok) o.clientId = v.slice();
        break;
      default:
        // Deviation: option overload (52) is not followed into sname/file; its value is kept raw.
        other.push([code, v.slice()]);
    }
    if (!ok) return wireError('malformed', `dhcp: option ${code} has a bad value (length ${len})`);
  }
  // RFC 2131 §4.1: the options field ends with the end option (a sender may pad after it).
  if (!ended) return wireError('truncated', 'dhcp: options without an end option');
  if (other.length > 0) o.other = other;
  const repr: DhcpRepr = {
    op: bytes[0],
    htype: bytes[1],
    hlen,
    hops: bytes[3],
    xid: dv.getUint32(4),
    secs: dv.getUint16(8),
    flags: dv.getUint16(10),
    ciaddr: dv.getUint32(12),
    yiaddr: dv.getUint32(16),
    siaddr: dv.getUint32(20),
    giaddr: dv.getUint32(24),
    chaddr: bytes.slice(28, 44),
    options: o,
  };
  return { repr };
}

function putAddrs(out: number[], code: number, addrs: readonly Ipv4Address[]): void {
  out.push(code, addrs.length * 4);
  for (const a of addrs) out.push((a >>> 24) & 255, (a >>> 16) & 255, (a >>> 8) & 255, a & 255);
}

function putU32(out: number[], code: number, v: number): void {
  out.push(code, 4, (v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
}

function putBytes(out: number[], code: number, v: Uint8Array): void {
  if (v.length > 255) throw new RangeError(`dhcp option ${code} longer than 255 octets`);
  out.push(code, v.length, ...v);
}

/** The options' bytes, message type first (RFC 2131 §4.1 needs none in any order but it helps readers). */
function emitOptions(o: DhcpOptions): number[] {
  const out: number[] = [];
  if (o.messageType !== undefined) out.push(OPT_MESSAGE_TYPE, 1, o.messageType);
  if (o.serverId !== undefined) putU32(out, OPT_SERVER_ID, o.serverId);
  if (o.leaseTime !== undefined) putU32(out, OPT_LEASE_TIME, o.leaseTime);
  if (o.renewalTime !== undefined) putU32(out, OPT_RENEWAL_TIME, o.renewalTime);
  if (o.rebindingTime !== undefined) putU32(out, OPT_REBINDING_TIME, o.rebindingTime);
  if (o.subnetMask !== undefined) putU32(out, OPT_SUBNET_MASK, o.subnetMask);
  if (o.routers?.length) putAddrs(out, OPT_ROUTER, o.routers);
  if (o.dns?.length) putAddrs(out, OPT_DNS, o.dns);
  if (o.broadcast !== undefined) putU32(out, OPT_BROADCAST, o.broadcast);
  if (o.mtu !== undefined) out.push(OPT_MTU, 2, (o.mtu >> 8) & 255, o.mtu & 255);
  if (o.maxSize !== undefined) out.push(OPT_MAX_SIZE, 2, (o.maxSize >> 8) & 255, o.maxSize & 255);
  if (o.requestedIp !== undefined) putU32(out, OPT_REQUESTED_IP, o.requestedIp);
  if (o.hostname !== undefined) putBytes(out, OPT_HOSTNAME, te.encode(o.hostname));
  if (o.domainName !== undefined) putBytes(out, OPT_DOMAIN_NAME, te.encode(o.domainName));
  if (o.paramList !== undefined) putBytes(out, OPT_PARAM_LIST, o.paramList);
  if (o.clientId !== undefined) putBytes(out, OPT_CLIENT_ID, o.clientId);
  if (o.message !== undefined) putBytes(out, OPT_MESSAGE, te.encode(o.message));
  for (const [code, v] of o.other ?? []) putBytes(out, code, v);
  out.push(OPT_END);
  return out;
}

/** Encodes a DHCP message, padded to DHCP_MIN_LEN. Throws RangeError for an option over 255 octets. */
export function emitDhcp(r: DhcpRepr): Uint8Array {
  const opts = emitOptions(r.options);
  const out = new Uint8Array(Math.max(DHCP_MIN_LEN, DHCP_FIXED_LEN + opts.length));
  const dv = new DataView(out.buffer);
  out[0] = r.op;
  out[1] = r.htype;
  out[2] = r.hlen;
  out[3] = r.hops;
  dv.setUint32(4, r.xid >>> 0);
  dv.setUint16(8, r.secs);
  dv.setUint16(10, r.flags);
  dv.setUint32(12, r.ciaddr >>> 0);
  dv.setUint32(16, r.yiaddr >>> 0);
  dv.setUint32(20, r.siaddr >>> 0);
  dv.setUint32(24, r.giaddr >>> 0);
  out.set(r.chaddr.subarray(0, 16), 28);
  dv.setUint32(236, MAGIC);
  out.set(opts, DHCP_FIXED_LEN);
  return out;
}
