/**
 * Packet dissector: turns one captured frame into a layered, plain description
 * (Ethernet → ARP | IPv4 | IPv6 → TCP | UDP | ICMP | ICMPv6 → application bytes) for
 * the trace printer, the capture summariser and the plots.
 *
 * It never throws on bad bytes. Each layer that can be read is described; the
 * first layer that cannot is recorded in `problems` (and as `malformed` on the
 * layer) and dissection stops there. Captures truncated by a snap length are
 * dissected as far as the bytes go, with checksums reported as unknown.
 */
import { formatIpv4, formatIpv6, formatMac, type Ipv4Address } from '../wire/address.ts';
import { ARP_OP_REPLY, ARP_OP_REQUEST } from '../wire/arp.ts';
import { checksumPartial, foldChecksum, pseudoHeaderSumV4, pseudoHeaderSumV6 } from '../wire/checksum.ts';
import { isWireError } from '../wire/error.ts';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_VLAN,
  type VlanTag,
} from '../wire/ethernet.ts';
import { parseIgmp } from '../wire/igmp.ts';
import { IP_PROTO_ICMP, IP_PROTO_IGMP, IP_PROTO_TCP, IP_PROTO_UDP } from '../wire/ipv4.ts';
import {
  TCPOPT_EOL,
  TCPOPT_MSS,
  TCPOPT_NOP,
  TCPOPT_SACK,
  TCPOPT_SACK_PERMITTED,
  TCPOPT_TIMESTAMP,
  TCPOPT_WINDOW,
} from '../wire/tcp.ts';

/** What the frame starts with: an Ethernet header, or a bare IP packet (LINKTYPE_RAW, TUN). */
export type FrameLinkType = 'ethernet' | 'ip';

/** pcap link type numbers we understand, mapped to FrameLinkType; undefined for others. */
export function frameLinkType(pcapLinkType: number): FrameLinkType | undefined {
  if (pcapLinkType === 1) return 'ethernet';
  // 101 LINKTYPE_RAW, 228 LINKTYPE_IPV4, 12/14 are DLT_RAW on some BSDs.
  if (pcapLinkType === 101 || pcapLinkType === 228 || pcapLinkType === 12 || pcapLinkType === 14) return 'ip';
  return undefined;
}

export interface EthernetLayer {
  readonly src: string;
  readonly dst: string;
  readonly ethertype: number;
  readonly vlan?: VlanTag;
  readonly headerLength: number;
}

export interface ArpLayer {
  readonly op: 'request' | 'reply' | number;
  readonly senderMac: string;
  readonly senderIp: string;
  readonly targetMac: string;
  readonly targetIp: string;
}

export interface IpLayer {
  readonly version: 4;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly headerLength: number;
  readonly totalLength: number;
  readonly dscp: number;
  readonly ecn: number;
  readonly id: number;
  readonly df: boolean;
  readonly mf: boolean;
  /** Fragment offset in bytes. */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly checksum: number;
  /** Undefined when the header was not fully captured. */
  readonly checksumOk: boolean | undefined;
  readonly optionsLength: number;
  /** True when the capture holds fewer bytes than Total Length. */
  readonly truncated: boolean;
}

/** An IPv6 header (RFC 8200) and the extension headers walked to the upper layer. */
export interface Ipv6Layer {
  readonly version: 6;
  readonly src: string;
  readonly dst: string;
  readonly srcBytes: Uint8Array;
  readonly dstBytes: Uint8Array;
  readonly trafficClass: number;
  readonly flowLabel: number;
  readonly payloadLength: number;
  readonly hopLimit: number;
  /** The upper-layer protocol after the extension headers (Next Header of the last one). */
  readonly protocol: number;
  /** Extension headers in order ('hop-by-hop', 'routing', 'fragment', 'destination options'). */
  readonly extensions: readonly string[];
  /** Bytes of the fixed header and the extension headers. */
  readonly headerLength: number;
  /** From a Fragment header (RFC 8200 §4.5). */
  readonly fragment?: { readonly offset: number; readonly more: boolean; readonly id: number };
  /** True when the capture holds fewer bytes than 40 + Payload Length. */
  readonly truncated: boolean;
}

/** An ICMPv6 message (RFC 4443; NDP, RFC 4861; MLDv2, RFC 3810). */
export interface Icmpv6Layer {
  readonly type: number;
  readonly code: number;
  readonly typeName: string;
  /** The NDP target, for solicitations and advertisements. */
  readonly target?: string;
  readonly ident?: number;
  readonly seq?: number;
  readonly length: number;
  readonly checksumOk: boolean | undefined;
}

/** One TCP option as it appears on the wire (in order, NOPs included). */
export type TcpOptionItem =
  | { readonly kind: 'nop' }
  | { readonly kind: 'eol' }
  | { readonly kind: 'mss'; readonly value: number }
  | { readonly kind: 'wscale'; readonly value: number }
  | { readonly kind: 'sackOK' }
  | { readonly kind: 'sack'; readonly blocks: readonly { readonly left: number; readonly right: number }[] }
  | { readonly kind: 'ts'; readonly val: number; readonly ecr: number }
  | { readonly kind: 'unknown'; readonly code: number; readonly length: number }
  | { readonly kind: 'bad'; readonly code: number; readonly detail: string };

export interface TcpLayer {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly urgentPointer: number;
  readonly headerLength: number;
  readonly options: readonly TcpOptionItem[];
  /** Payload bytes as given by the IP length (may exceed the captured bytes). */
  readonly payloadLength: number;
  readonly checksum: number;
  readonly checksumOk: boolean | undefined;
}

export interface UdpLayer {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly length: number;
  readonly checksum: number;
  /** Undefined when not verifiable; true for a zero ("none sent") field. */
  readonly checksumOk: boolean | undefined;
}

export interface IcmpQuoted {
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly protocol: number;
  readonly srcPort?: number;
  readonly dstPort?: number;
  /** TCP sequence number, when 8 quoted bytes of a TCP header are present. */
  readonly tcpSeq?: number;
}

export interface IcmpLayer {
  readonly type: number;
  readonly code: number;
  readonly typeName: string;
  readonly codeName?: string;
  readonly ident?: number;
  readonly seq?: number;
  readonly nextHopMtu?: number;
  readonly gateway?: Ipv4Address;
  readonly pointer?: number;
  readonly quoted?: IcmpQuoted;
  readonly length: number;
  readonly checksumOk: boolean | undefined;
}

export type LayerName = 'ethernet' | 'arp' | 'ipv4' | 'tcp' | 'udp' | 'icmp' | 'data';

export interface Problem {
  /** The layer that could not be read. */
  readonly layer: LayerName | 'ipv6' | 'link';
  readonly message: string;
}

/** An IGMP message (RFC 3376, and the v1/v2 messages), described as tcpdump does. */
export interface IgmpLayer {
  /** 'query', 'report' or 'leave'. */
  readonly kind: string;
  readonly version: number;
  /** tcpdump's text: `igmp v3 report, 1 group record(s) [gaddr 239.1.2.3 to_ex { }]`. */
  readonly text: string;
}

export interface Dissection {
  readonly linkType: FrameLinkType;
  /** Captured length. */
  readonly length: number;
  eth?: EthernetLayer;
  arp?: ArpLayer;
  ip?: IpLayer;
  ip6?: Ipv6Layer;
  icmp6?: Icmpv6Layer;
  tcp?: TcpLayer;
  udp?: UdpLayer;
  icmp?: IcmpLayer;
  igmp?: IgmpLayer;
  /** Application bytes (TCP/UDP payload, ICMP echo data, or a non-first fragment), as captured. */
  payload?: Uint8Array;
  /** Set when the datagram is a fragment other than the first: the transport header is elsewhere. */
  fragment?: boolean;
  /** EtherType or IP protocol we do not dissect further. */
  unknown?: string;
  readonly problems: Problem[];
}

const ETHERTYPE_NAMES: Record<number, string> = {
  [ETHERTYPE_IPV4]: 'IPv4',
  [ETHERTYPE_ARP]: 'ARP',
  [ETHERTYPE_IPV6]: 'IPv6',
  [ETHERTYPE_VLAN]: '802.1Q',
};

export function ethertypeName(t: number): string {
  return ETHERTYPE_NAMES[t] ?? `0x${t.toString(16).padStart(4, '0')}`;
}

const PROTO_NAMES: Record<number, string> = {
  [IP_PROTO_ICMP]: 'ICMP',
  2: 'IGMP',
  [IP_PROTO_TCP]: 'TCP',
  [IP_PROTO_UDP]: 'UDP',
  41: 'IPv6',
  47: 'GRE',
  50: 'ESP',
  58: 'ICMPv6',
  132: 'SCTP',
};

export function ipProtocolName(p: number): string {
  return PROTO_NAMES[p] ?? `proto-${p}`;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Dissects one frame. Never throws. */
export function dissect(frame: Uint8Array, linkType: FrameLinkType = 'ethernet'): Dissection {
  const d: Dissection = { linkType, length: frame.length, problems: [] };
  try {
    if (linkType === 'ethernet') dissectEthernet(d, frame);
    else dissectIp(d, frame);
  } catch (e) {
    // Defensive: the code below bounds-checks everything, but a dissector must not
    // take a capture viewer down with it.
    d.problems.push({ layer: 'link', message: `dissector error: ${(e as Error).message}` });
  }
  return d;
}

function dissectEthernet(d: Dissection, b: Uint8Array): void {
  if (b.length < 14) {
    d.problems.push({ layer: 'ethernet', message: `truncated: ${b.length} < 14 bytes` });
    return;
  }
  let ethertype = u16(b, 12);
  let hl = 14;
  let vlan: VlanTag | undefined;
  if (ethertype === ETHERTYPE_VLAN) {
    if (b.length < 18) {
      d.problems.push({ layer: 'ethernet', message: `truncated 802.1Q tag: ${b.length} < 18 bytes` });
      return;
    }
    const tci = u16(b, 14);
    vlan = { pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff };
    ethertype = u16(b, 16);
    hl = 18;
  }
  const eth: EthernetLayer = {
    src: formatMac(b.subarray(6, 12)),
    dst: formatMac(b.subarray(0, 6)),
    ethertype,
    headerLength: hl,
    ...(vlan ? { vlan } : {}),
  };
  d.eth = eth;
  const rest = b.subarray(hl);
  if (ethertype < 0x0600) {
    d.unknown = `802.3 length ${ethertype} (LLC)`;
    return;
  }
  if (ethertype === ETHERTYPE_ARP) dissectArp(d, rest);
  else if (ethertype === ETHERTYPE_IPV4) dissectIp(d, rest);
  else if (ethertype === ETHERTYPE_IPV6) dissectIpv6(d, rest);
  else d.unknown = `ethertype ${ethertypeName(ethertype)}`;
}

function dissectArp(d: Dissection, b: Uint8Array): void {
  if (b.length < 8) {
    d.problems.push({ layer: 'arp', message: `truncated: ${b.length} < 8 bytes` });
    return;
  }
  const htype = u16(b, 0);
  const ptype = u16(b, 2);
  if (htype !== 1 || ptype !== ETHERTYPE_IPV4 || b[4] !== 6 || b[5] !== 4) {
    d.problems.push({
      layer: 'arp',
      message: `unsupported: htype ${htype} ptype 0x${ptype.toString(16)} hlen ${b[4]} plen ${b[5]}`,
    });
    return;
  }
  if (b.length < 28) {
    d.problems.push({ layer: 'arp', message: `truncated: ${b.length} < 28 bytes` });
    return;
  }
  const op = u16(b, 6);
  d.arp = {
    op: op === ARP_OP_REQUEST ? 'request' : op === ARP_OP_REPLY ? 'reply' : op,
    senderMac: formatMac(b.subarray(8, 14)),
    senderIp: formatIpv4(u32(b, 14)),
    targetMac: formatMac(b.subarray(18, 24)),
    targetIp: formatIpv4(u32(b, 24)),
  };
}

function dissectIp(d: Dissection, b: Uint8Array): void {
  if (b.length < 1) {
    d.problems.push({ layer: 'ipv4', message: 'empty packet' });
    return;
  }
  const version = b[0] >>> 4;
  if (version === 6) {
    dissectIpv6(d, b);
    return;
  }
  if (version !== 4) {
    d.problems.push({ layer: 'ipv4', message: `bad version ${version}` });
    return;
  }
  if (b.length < 20) {
    d.problems.push({ layer: 'ipv4', message: `truncated: ${b.length} < 20 bytes` });
    return;
  }
  const hl = (b[0] & 0x0f) * 4;
  if (hl < 20) {
    d.problems.push({ layer: 'ipv4', message: `bad header length ${hl} (IHL ${hl / 4} < 5)` });
    return;
  }
  const total = u16(b, 2);
  const fw = u16(b, 6);
  const headerCaptured = b.length >= hl;
  const ip: IpLayer = {
    version: 4,
    src: u32(b, 12),
    dst: u32(b, 16),
    headerLength: hl,
    totalLength: total,
    dscp: b[1] >>> 2,
    ecn: b[1] & 3,
    id: u16(b, 4),
    df: (fw & 0x4000) !== 0,
    mf: (fw & 0x2000) !== 0,
    fragmentOffset: (fw & 0x1fff) * 8,
    ttl: b[8],
    protocol: b[9],
    checksum: u16(b, 10),
    checksumOk: headerCaptured ? foldChecksum(checksumPartial(b.subarray(0, hl), 0)) === 0xffff : undefined,
    optionsLength: hl - 20,
    truncated: b.length < total,
  };
  d.ip = ip;
  if (!headerCaptured) {
    d.problems.push({ layer: 'ipv4', message: `header of ${hl} bytes truncated to ${b.length}` });
    return;
  }
  if (total < hl) {
    d.problems.push({ layer: 'ipv4', message: `total length ${total} < header length ${hl}` });
    return;
  }
  // Bounded by Total Length (link padding excluded) and by what was captured.
  const payload = b.subarray(hl, Math.min(total, b.length));
  const payloadLength = total - hl;
  if (ip.fragmentOffset > 0) {
    d.fragment = true;
    d.payload = payload;
    return;
  }
  const complete = !ip.truncated && !ip.mf;
  const pseudo = (length: number) => pseudoHeaderSumV4(ip.src, ip.dst, ip.protocol, length);
  switch (ip.protocol) {
    case IP_PROTO_TCP:
      dissectTcp(d, pseudo, payload, payloadLength, complete);
      break;
    case IP_PROTO_UDP:
      dissectUdp(d, pseudo, payload, complete);
      break;
    case IP_PROTO_ICMP:
      dissectIcmp(d, payload, payloadLength, complete);
      break;
    case IP_PROTO_IGMP:
      dissectIgmp(d, payload);
      break;
    default:
      d.unknown = `IP protocol ${ipProtocolName(ip.protocol)}`;
      d.payload = payload;
  }
}

/** Walks the options area in wire order; a malformed option ends the walk with a 'bad' item. */
export function walkTcpOptions(o: Uint8Array): TcpOptionItem[] {
  const out: TcpOptionItem[] = [];
  let i = 0;
  while (i < o.length) {
    const kind = o[i];
    if (kind === TCPOPT_EOL) {
      out.push({ kind: 'eol' });
      break;
    }
    if (kind === TCPOPT_NOP) {
      out.push({ kind: 'nop' });
      i++;
      continue;
    }
    if (i + 1 >= o.length) {
      out.push({ kind: 'bad', code: kind, detail: 'no length byte' });
      break;
    }
    const len = o[i + 1];
    if (len < 2 || i + len > o.length) {
      out.push({ kind: 'bad', code: kind, detail: `length ${len}` });
      break;
    }
    const at = i + 2;
    const bad = (detail: string) => out.push({ kind: 'bad', code: kind, detail });
    switch (kind) {
      case TCPOPT_MSS:
        if (len === 4) out.push({ kind: 'mss', value: u16(o, at) });
        else bad(`mss length ${len}`);
        break;
      case TCPOPT_WINDOW:
        if (len === 3) out.push({ kind: 'wscale', value: o[at] });
        else bad(`wscale length ${len}`);
        break;
      case TCPOPT_SACK_PERMITTED:
        if (len === 2) out.push({ kind: 'sackOK' });
        else bad(`sackOK length ${len}`);
        break;
      case TCPOPT_SACK:
        if ((len - 2) % 8 === 0 && len > 2) {
          const blocks: { left: number; right: number }[] = [];
          for (let k = at; k < i + len; k += 8) blocks.push({ left: u32(o, k), right: u32(o, k + 4) });
          out.push({ kind: 'sack', blocks });
        } else bad(`sack length ${len}`);
        break;
      case TCPOPT_TIMESTAMP:
        if (len === 10) out.push({ kind: 'ts', val: u32(o, at), ecr: u32(o, at + 4) });
        else bad(`TS length ${len}`);
        break;
      default:
        out.push({ kind: 'unknown', code: kind, length: len });
    }
    i += len;
  }
  return out;
}

/** The pseudo-header sum of the IP layer under a transport segment of `length` bytes. */
type PseudoSum = (length: number) => number;

function transportChecksumOk(
  pseudo: PseudoSum,
  seg: Uint8Array,
  length: number,
  complete: boolean,
): boolean | undefined {
  if (!complete || seg.length < length) return undefined;
  return foldChecksum(checksumPartial(seg.subarray(0, length), pseudo(length))) === 0xffff;
}

const IGMP_RECORD_NAMES = ['', 'is_in', 'is_ex', 'to_in', 'to_ex', 'allow', 'block'];

function dissectIgmp(d: Dissection, b: Uint8Array): void {
  const m = parseIgmp(b);
  if (isWireError(m)) {
    d.problems.push({ layer: 'ipv4', message: `IGMP: ${m.detail}` });
    d.unknown = 'IGMP';
    d.payload = b;
    return;
  }
  const g = formatIpv4;
  switch (m.kind) {
    case 'query': {
      const what = m.group === 0 ? 'general' : `gaddr ${g(m.group)}`;
      const src = m.sources.length > 0 ? ` [${m.sources.map(g).join(', ')}]` : '';
      d.igmp = {
        kind: 'query',
        version: m.version,
        text: `igmp query v${m.version}, ${what}${src}, max resp time ${m.maxResponseMs / 1000} s`,
      };
      return;
    }
    case 'report-v3': {
      const recs = m.records.map(
        (r) =>
          `gaddr ${g(r.group)} ${IGMP_RECORD_NAMES[r.type] ?? `type ${r.type}`} { ${r.sources.map(g).join(' ')}${r.sources.length ? ' ' : ''}}`,
      );
      d.igmp = {
        kind: 'report',
        version: 3,
        text: `igmp v3 report, ${m.records.length} group record(s) [${recs.join('] [')}]`,
      };
      return;
    }
    case 'leave-v2':
      d.igmp = { kind: 'leave', version: 2, text: `igmp leave ${g(m.group)}` };
      return;
    default:
      d.igmp = {
        kind: 'report',
        version: m.kind === 'report-v1' ? 1 : 2,
        text: `igmp v${m.kind === 'report-v1' ? 1 : 2} report ${g(m.group)}`,
      };
  }
}

const IPV6_EXTENSIONS: Record<number, string> = {
  0: 'hop-by-hop',
  43: 'routing',
  44: 'fragment',
  60: 'destination options',
};

/** At most this many extension headers are walked (a chain is bounded by the packet too). */
const MAX_IPV6_EXTENSIONS = 8;

function dissectIpv6(d: Dissection, b: Uint8Array): void {
  if (b.length < 40) {
    d.problems.push({ layer: 'ipv6', message: `truncated: ${b.length} < 40 bytes` });
    return;
  }
  const payloadLength = u16(b, 4);
  const end = Math.min(b.length, 40 + payloadLength);
  const extensions: string[] = [];
  let next = b[6];
  let at = 40;
  let fragment: Ipv6Layer['fragment'];
  for (let n = 0; n < MAX_IPV6_EXTENSIONS && IPV6_EXTENSIONS[next] !== undefined; n++) {
    if (at + 8 > end) {
      d.problems.push({ layer: 'ipv6', message: `${IPV6_EXTENSIONS[next]} header truncated` });
      break;
    }
    extensions.push(IPV6_EXTENSIONS[next]);
    const len = next === 44 ? 8 : (b[at + 1] + 1) * 8;
    if (next === 44) {
      const fo = u16(b, at + 2);
      fragment = { offset: fo & 0xfff8, more: (fo & 1) !== 0, id: u32(b, at + 4) };
    }
    next = b[at];
    at += len;
  }
  const srcBytes = b.slice(8, 24);
  const dstBytes = b.slice(24, 40);
  const ip6: Ipv6Layer = {
    version: 6,
    src: formatIpv6(srcBytes),
    dst: formatIpv6(dstBytes),
    srcBytes,
    dstBytes,
    trafficClass: ((b[0] & 0x0f) << 4) | (b[1] >>> 4),
    flowLabel: ((b[1] & 0x0f) << 16) | u16(b, 2),
    payloadLength,
    hopLimit: b[7],
    protocol: next,
    extensions,
    headerLength: at,
    ...(fragment ? { fragment } : {}),
    truncated: b.length < 40 + payloadLength,
  };
  d.ip6 = ip6;
  if (at > end) return;
  const payload = b.subarray(at, end);
  const upperLength = 40 + payloadLength - at;
  if (fragment && fragment.offset > 0) {
    d.fragment = true;
    d.payload = payload;
    return;
  }
  const complete = !ip6.truncated && !(fragment?.more ?? false);
  const pseudo = (length: number) => pseudoHeaderSumV6(srcBytes, dstBytes, next, length);
  switch (next) {
    case IP_PROTO_TCP:
      dissectTcp(d, pseudo, payload, upperLength, complete);
      break;
    case IP_PROTO_UDP:
      dissectUdp(d, pseudo, payload, complete);
      break;
    case 58:
      dissectIcmpv6(d, pseudo, payload, upperLength, complete);
      break;
    case 59:
      break; // No Next Header (RFC 8200 §4.7)
    default:
      d.unknown = `IPv6 next header ${ipProtocolName(next)}`;
      d.payload = payload;
  }
}

const ICMPV6_TYPES: Record<number, string> = {
  1: 'destination unreachable',
  2: 'packet too big',
  3: 'time exceeded',
  4: 'parameter problem',
  128: 'echo request',
  129: 'echo reply',
  130: 'MLD query',
  131: 'MLDv1 report',
  132: 'MLDv1 done',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbour solicitation',
  136: 'neighbour advertisement',
  137: 'redirect',
  143: 'MLDv2 report',
};

function dissectIcmpv6(
  d: Dissection,
  pseudo: PseudoSum,
  b: Uint8Array,
  length: number,
  complete: boolean,
): void {
  if (b.length < 4) {
    d.problems.push({ layer: 'icmp', message: `ICMPv6 truncated: ${b.length} < 4 bytes` });
    return;
  }
  const type = b[0];
  const base = {
    type,
    code: b[1],
    typeName: ICMPV6_TYPES[type] ?? `type ${type}`,
    length,
    checksumOk: transportChecksumOk(pseudo, b, length, complete),
  };
  if ((type === 128 || type === 129) && b.length >= 8) {
    d.icmp6 = { ...base, ident: u16(b, 4), seq: u16(b, 6) };
    d.payload = b.subarray(8);
  } else if ((type === 135 || type === 136 || type === 137) && b.length >= 24) {
    d.icmp6 = { ...base, target: formatIpv6(b.subarray(8, 24)) };
  } else d.icmp6 = base;
}

function dissectTcp(
  d: Dissection,
  pseudo: PseudoSum,
  b: Uint8Array,
  segLen: number,
  complete: boolean,
): void {
  if (b.length < 20) {
    d.problems.push({ layer: 'tcp', message: `truncated: ${b.length} < 20 bytes` });
    return;
  }
  const hl = (b[12] >>> 4) * 4;
  if (hl < 20) {
    d.problems.push({ layer: 'tcp', message: `bad data offset ${hl / 4} < 5` });
    return;
  }
  if (hl > b.length) {
    d.problems.push({ layer: 'tcp', message: `header of ${hl} bytes runs past the ${b.length} captured` });
    return;
  }
  const options = walkTcpOptions(b.subarray(20, hl));
  d.tcp = {
    srcPort: u16(b, 0),
    dstPort: u16(b, 2),
    seq: u32(b, 4),
    ack: u32(b, 8),
    flags: b[13],
    window: u16(b, 14),
    checksum: u16(b, 16),
    urgentPointer: u16(b, 18),
    headerLength: hl,
    options,
    payloadLength: Math.max(0, segLen - hl),
    checksumOk: transportChecksumOk(pseudo, b, segLen, complete),
  };
  const bad = options.find((o) => o.kind === 'bad');
  if (bad && bad.kind === 'bad')
    d.problems.push({ layer: 'tcp', message: `bad option ${bad.code}: ${bad.detail}` });
  d.payload = b.subarray(hl);
}

function dissectUdp(d: Dissection, pseudo: PseudoSum, b: Uint8Array, complete: boolean): void {
  if (b.length < 8) {
    d.problems.push({ layer: 'udp', message: `truncated: ${b.length} < 8 bytes` });
    return;
  }
  const length = u16(b, 4);
  const checksum = u16(b, 6);
  let checksumOk: boolean | undefined;
  if (checksum === 0) checksumOk = true;
  else if (length >= 8) checksumOk = transportChecksumOk(pseudo, b, length, complete);
  d.udp = { srcPort: u16(b, 0), dstPort: u16(b, 2), length, checksum, checksumOk };
  if (length < 8) {
    d.problems.push({ layer: 'udp', message: `bad length field ${length} < 8` });
    return;
  }
  if (complete && length > b.length) {
    d.problems.push({ layer: 'udp', message: `length field ${length} > ${b.length} bytes` });
  }
  d.payload = b.subarray(8, Math.min(length, b.length));
}

const ICMP_TYPES: Record<number, string> = {
  0: 'echo reply',
  3: 'destination unreachable',
  4: 'source quench',
  5: 'redirect',
  8: 'echo request',
  9: 'router advertisement',
  10: 'router solicitation',
  11: 'time exceeded',
  12: 'parameter problem',
  13: 'timestamp request',
  14: 'timestamp reply',
};

const UNREACH_CODES = [
  'net unreachable',
  'host unreachable',
  'protocol unreachable',
  'port unreachable',
  'fragmentation needed and DF set',
  'source route failed',
  'destination network unknown',
  'destination host unknown',
  'source host isolated',
  'network administratively prohibited',
  'host administratively prohibited',
  'network unreachable for TOS',
  'host unreachable for TOS',
  'communication administratively prohibited',
  'host precedence violation',
  'precedence cutoff in effect',
];

function icmpCodeName(type: number, code: number): string | undefined {
  switch (type) {
    case 3:
      return UNREACH_CODES[code] ?? `code ${code}`;
    case 5:
      return [
        'redirect for network',
        'redirect for host',
        'redirect for TOS and network',
        'redirect for TOS and host',
      ][code];
    case 11:
      return code === 0
        ? 'TTL exceeded in transit'
        : code === 1
          ? 'fragment reassembly time exceeded'
          : undefined;
    case 12:
      return ['pointer indicates the error', 'missing a required option', 'bad length'][code];
    default:
      return undefined;
  }
}

function dissectIcmp(d: Dissection, b: Uint8Array, length: number, complete: boolean): void {
  if (b.length < 8) {
    d.problems.push({ layer: 'icmp', message: `truncated: ${b.length} < 8 bytes` });
    return;
  }
  const type = b[0];
  const code = b[1];
  const checksumOk = complete ? foldChecksum(checksumPartial(b, 0)) === 0xffff : undefined;
  const base = {
    type,
    code,
    typeName: ICMP_TYPES[type] ?? `type ${type}`,
    length,
    checksumOk,
  };
  const codeName = icmpCodeName(type, code);
  const body = b.subarray(8);
  let icmp: IcmpLayer;
  if (type === 0 || type === 8 || type === 13 || type === 14) {
    icmp = { ...base, ident: u16(b, 4), seq: u16(b, 6) };
    d.payload = body;
  } else if (type === 3 || type === 11 || type === 12 || type === 5 || type === 4) {
    const quoted = parseQuoted(body);
    icmp = {
      ...base,
      ...(codeName !== undefined ? { codeName } : {}),
      ...(type === 3 && code === 4 ? { nextHopMtu: u16(b, 6) } : {}),
      ...(type === 5 ? { gateway: u32(b, 4) } : {}),
      ...(type === 12 ? { pointer: b[4] } : {}),
      ...(quoted ? { quoted } : {}),
    };
    if (!quoted) d.problems.push({ layer: 'icmp', message: 'quoted datagram unreadable' });
  } else {
    icmp = { ...base, ...(codeName !== undefined ? { codeName } : {}) };
    d.payload = body;
  }
  d.icmp = icmp;
}

function parseQuoted(q: Uint8Array): IcmpQuoted | undefined {
  if (q.length < 20 || q[0] >>> 4 !== 4) return undefined;
  const hl = (q[0] & 0x0f) * 4;
  if (hl < 20 || q.length < hl) return undefined;
  const protocol = q[9];
  const out: { -readonly [K in keyof IcmpQuoted]: IcmpQuoted[K] } = {
    src: u32(q, 12),
    dst: u32(q, 16),
    protocol,
  };
  const offset = (u16(q, 6) & 0x1fff) * 8;
  if (offset === 0 && (protocol === IP_PROTO_TCP || protocol === IP_PROTO_UDP) && q.length >= hl + 4) {
    out.srcPort = u16(q, hl);
    out.dstPort = u16(q, hl + 2);
    if (protocol === IP_PROTO_TCP && q.length >= hl + 8) out.tcpSeq = u32(q, hl + 4);
  }
  return out;
}
