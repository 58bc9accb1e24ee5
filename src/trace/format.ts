/**
 * Trace formatting: (a) a one-line, tcpdump-like summary per packet, and (b) the
 * "envelope" view for teaching — one nested box (or tree branch) per layer:
 * Ethernet frame ⊃ IP datagram ⊃ TCP segment ⊃ application bytes.
 *
 * Colour comes from an injected `StyleFn` (the CLI maps roles to util.styleText);
 * the core never imports node:util. Widths are computed on the unstyled text, so
 * boxes line up whatever the style function adds.
 */
import { formatIpv4 } from '../wire/address.ts';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from '../wire/tcp.ts';
import { describeEvents, type TcpObservation } from './conversation.ts';
import {
  type Dissection,
  ethertypeName,
  type Ipv6Layer,
  ipProtocolName,
  type TcpOptionItem,
} from './dissect.ts';

/** What a piece of text is, for colouring. */
export type StyleRole =
  | 'border'
  | 'title'
  | 'addr'
  | 'port'
  | 'flags'
  | 'field'
  | 'value'
  | 'data'
  | 'error'
  | 'label'
  | 'note'
  | 'dim';

export type StyleFn = (role: StyleRole, text: string) => string;

export const plain: StyleFn = (_role, text) => text;

type Piece = readonly [StyleRole, string];
type Line = Piece[];

/** Microseconds as seconds with 6 decimals (`12.000250`). */
export function formatTime(us: number): string {
  const neg = us < 0;
  const a = Math.abs(Math.round(us));
  const s = Math.floor(a / 1e6);
  return `${neg ? '-' : ''}${s}.${String(a - s * 1e6).padStart(6, '0')}`;
}

/** tcpdump's flag letters, in its order: F S R P . U E W; `none` when no flag is set. */
export function tcpFlagsText(flags: number): string {
  let s = '';
  if (flags & TCP_FIN) s += 'F';
  if (flags & TCP_SYN) s += 'S';
  if (flags & TCP_RST) s += 'R';
  if (flags & TCP_PSH) s += 'P';
  if (flags & TCP_ACK) s += '.';
  if (flags & TCP_URG) s += 'U';
  if (flags & TCP_ECE) s += 'E';
  if (flags & TCP_CWR) s += 'W';
  return s === '' ? 'none' : s;
}

/** Flag names spelled out: `SYN, ACK`. */
export function tcpFlagNames(flags: number): string {
  const names: string[] = [];
  const table: [number, string][] = [
    [TCP_CWR, 'CWR'],
    [TCP_ECE, 'ECE'],
    [TCP_URG, 'URG'],
    [TCP_ACK, 'ACK'],
    [TCP_PSH, 'PSH'],
    [TCP_RST, 'RST'],
    [TCP_SYN, 'SYN'],
    [TCP_FIN, 'FIN'],
  ];
  for (const [bit, name] of table) if (flags & bit) names.push(name);
  return names.length ? names.join(', ') : 'none';
}

/**
 * Options in tcpdump's spelling: `mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`.
 * SACK edges are shown relative to `sackBase` when given (tcpdump does the same).
 */
export function tcpOptionsText(items: readonly TcpOptionItem[], sackBase?: number): string {
  return items
    .map((o) => {
      switch (o.kind) {
        case 'nop':
          return 'nop';
        case 'eol':
          return 'eol';
        case 'mss':
          return `mss ${o.value}`;
        case 'wscale':
          return `wscale ${o.value}`;
        case 'sackOK':
          return 'sackOK';
        case 'sack': {
          const rel = (x: number) => (sackBase === undefined ? x : (x - sackBase) >>> 0);
          return `sack ${o.blocks.length} ${o.blocks.map((b) => `{${rel(b.left)}:${rel(b.right)}}`).join('')}`;
        }
        case 'ts':
          return `TS val ${o.val} ecr ${o.ecr}`;
        case 'unknown':
          return `opt-${o.code} len ${o.length}`;
        case 'bad':
          return `bad opt-${o.code} (${o.detail})`;
      }
      return '';
    })
    .join(',');
}

/**
 * A printable preview of application bytes: mostly-printable data is shown as a
 * quoted string with C escapes (`"GET / HTTP/1.1\r\n"`), anything else as hex.
 */
export function previewBytes(data: Uint8Array, max = 48): string {
  if (data.length === 0) return '';
  const shown = data.subarray(0, max);
  let printable = 0;
  for (const b of shown) if ((b >= 0x20 && b < 0x7f) || b === 9 || b === 10 || b === 13) printable++;
  const more = data.length > max ? '…' : '';
  if (printable >= shown.length * 0.75) {
    let s = '';
    for (const b of shown) {
      if (b === 0x5c) s += '\\\\';
      else if (b === 0x22) s += '\\"';
      else if (b === 10) s += '\\n';
      else if (b === 13) s += '\\r';
      else if (b === 9) s += '\\t';
      else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
      else s += `\\x${b.toString(16).padStart(2, '0')}`;
    }
    return `"${s}"${more}`;
  }
  const hexShown = data.subarray(0, Math.min(max, 24));
  const hex = Array.from(hexShown, (b) => b.toString(16).padStart(2, '0'));
  const groups: string[] = [];
  for (let i = 0; i < hex.length; i += 2) groups.push(hex.slice(i, i + 2).join(''));
  return `${groups.join(' ')}${data.length > hexShown.length ? '…' : ''}`;
}

export interface SummaryOptions {
  /** Timestamp in µs to print first; omitted when undefined. */
  time?: number;
  /** The tracker's view of this segment: enables relative seq/ack (tcpdump's default). */
  tcp?: TcpObservation;
  /** Append tracker events in brackets, Wireshark-style (`[retransmission]`). Default false. */
  events?: boolean;
}

function icmpSummary(d: Dissection): string {
  const i = d.icmp!;
  let s = `ICMP ${i.typeName}`;
  if (i.ident !== undefined) s += `, id ${i.ident}, seq ${i.seq}`;
  if (i.codeName) s += `, ${i.codeName}`;
  if (i.nextHopMtu !== undefined) s += ` (mtu ${i.nextHopMtu})`;
  if (i.gateway !== undefined) s += ` to ${formatIpv4(i.gateway)}`;
  if (i.quoted) {
    const q = i.quoted;
    const port = (p: number | undefined) => (p === undefined ? '' : `.${p}`);
    s += ` [quoting ${formatIpv4(q.src)}${port(q.srcPort)} > ${formatIpv4(q.dst)}${port(q.dstPort)} ${ipProtocolName(q.protocol)}]`;
  }
  return `${s}, length ${i.length}`;
}

/** The one-line, tcpdump-like summary (without the leading timestamp unless `time` is given). */
export function summaryLine(d: Dissection, opts: SummaryOptions = {}): string {
  const time = opts.time === undefined ? '' : `${formatTime(opts.time)} `;
  return time + summaryBody(d, opts);
}

function summaryBody(d: Dissection, opts: SummaryOptions): string {
  const problems = d.problems.length
    ? ` [${d.problems.map((p) => `${p.layer}: ${p.message}`).join('; ')}]`
    : '';
  if (d.arp) {
    const a = d.arp;
    if (a.op === 'request')
      return `ARP, Request who-has ${a.targetIp} tell ${a.senderIp}, length 28${problems}`;
    if (a.op === 'reply') return `ARP, Reply ${a.senderIp} is-at ${a.senderMac}, length 28${problems}`;
    return `ARP, op ${a.op}${problems}`;
  }
  const ip = d.ip;
  if (!ip && d.ip6) return summaryIpv6(d, d.ip6, opts, problems);
  if (!ip) {
    if (d.eth) {
      const what = d.unknown ?? ethertypeName(d.eth.ethertype);
      return `${d.eth.src} > ${d.eth.dst}, ${what}, length ${d.length}${problems}`;
    }
    return `${d.unknown ?? 'unreadable frame'}, length ${d.length}${problems}`;
  }
  const src = formatIpv4(ip.src);
  const dst = formatIpv4(ip.dst);
  const frag =
    ip.mf || ip.fragmentOffset > 0
      ? ` (frag ${ip.id}:${ip.totalLength - ip.headerLength}@${ip.fragmentOffset}${ip.mf ? '+' : ''})`
      : '';
  const badIp = ip.checksumOk === false ? ' [bad ip cksum]' : '';
  if (d.fragment) return `${src} > ${dst}: ${ipProtocolName(ip.protocol)}${frag}${badIp}${problems}`;
  if (d.tcp) return tcpSummary(d, src, dst, opts) + frag + badIp + problems;
  if (d.udp) {
    const u = d.udp;
    const bad = u.checksumOk === false ? ' [bad udp cksum]' : '';
    return `${src}.${u.srcPort} > ${dst}.${u.dstPort}: UDP, length ${Math.max(0, u.length - 8)}${bad}${frag}${badIp}${problems}`;
  }
  if (d.icmp) {
    const bad = d.icmp.checksumOk === false ? ' [bad icmp cksum]' : '';
    return `${src} > ${dst}: ${icmpSummary(d)}${bad}${frag}${badIp}${problems}`;
  }
  if (d.igmp) return `${src} > ${dst}: ${d.igmp.text}${frag}${badIp}${problems}`;
  const what = d.unknown ?? ipProtocolName(ip.protocol);
  return `${src} > ${dst}: ${what}, length ${ip.totalLength - ip.headerLength}${frag}${badIp}${problems}`;
}

/** tcpdump's line for a TCP segment between two printed addresses. */
function tcpSummary(d: Dissection, src: string, dst: string, opts: SummaryOptions): string {
  const t = d.tcp!;
  const o = opts.tcp;
  // tcpdump: absolute numbers on SYNs (where the ISN is announced), relative afterwards.
  const syn = (t.flags & TCP_SYN) !== 0;
  const seq = o && !syn ? o.relSeq : t.seq;
  const ack = o && !syn && o.relAck !== undefined ? o.relAck : t.ack;
  let s = `${src}.${t.srcPort} > ${dst}.${t.dstPort}: Flags [${tcpFlagsText(t.flags)}]`;
  if (t.payloadLength > 0 || (t.flags & (TCP_SYN | TCP_FIN | TCP_RST)) !== 0) {
    s += t.payloadLength > 0 ? `, seq ${seq}:${(seq + t.payloadLength) >>> 0}` : `, seq ${seq}`;
  }
  if (t.flags & TCP_ACK) s += `, ack ${ack}`;
  s += `, win ${t.window}`;
  if (t.flags & TCP_URG) s += `, urg ${t.urgentPointer}`;
  if (t.options.length) {
    const peerBase = o
      ? o.direction === 'a2b'
        ? o.conversation.b2a.base
        : o.conversation.a2b.base
      : undefined;
    s += `, options [${tcpOptionsText(t.options, peerBase)}]`;
  }
  s += `, length ${t.payloadLength}`;
  if (t.checksumOk === false) s += ' [bad tcp cksum]';
  if (opts.events && o?.events.length) s += ` [${describeEvents(o).join(', ')}]`;
  return s;
}

/** tcpdump's line for an IPv6 packet. */
function summaryIpv6(d: Dissection, ip: Ipv6Layer, opts: SummaryOptions, problems: string): string {
  const src = ip.src;
  const dst = ip.dst;
  const f = ip.fragment;
  const frag = f ? ` (frag ${f.id}:${ip.payloadLength}@${f.offset}${f.more ? '+' : ''})` : '';
  if (d.fragment) return `${src} > ${dst}: ${ipProtocolName(ip.protocol)}${frag}${problems}`;
  if (d.tcp) return tcpSummary(d, src, dst, opts) + frag + problems;
  if (d.udp) {
    const u = d.udp;
    const bad = u.checksumOk === false ? ' [bad udp cksum]' : '';
    return `${src}.${u.srcPort} > ${dst}.${u.dstPort}: UDP, length ${Math.max(0, u.length - 8)}${bad}${frag}${problems}`;
  }
  if (d.icmp6) {
    const i = d.icmp6;
    let s = `ICMP6, ${i.typeName}`;
    if (i.target !== undefined) s += i.type === 135 ? `, who has ${i.target}` : `, tgt is ${i.target}`;
    if (i.ident !== undefined) s += `, id ${i.ident}, seq ${i.seq}`;
    const bad = i.checksumOk === false ? ' [bad icmp6 cksum]' : '';
    return `${src} > ${dst}: ${s}, length ${i.length}${bad}${frag}${problems}`;
  }
  const what = d.unknown ?? ipProtocolName(ip.protocol);
  return `${src} > ${dst}: ${what}, length ${ip.payloadLength}${frag}${problems}`;
}

// ------------------------------------------------------------------ envelopes

interface Envelope {
  readonly title: string;
  readonly lines: Line[];
  readonly error?: string;
}

const ok = (b: boolean | undefined) => (b === undefined ? 'unverified' : b ? 'ok' : 'BAD');

function kv(name: string, value: string, role: StyleRole = 'value'): Piece[] {
  return [
    ['field', `${name} `],
    [role, value],
  ];
}

function joinPieces(groups: Piece[][], sep = '  '): Line {
  const out: Line = [];
  groups.forEach((g, i) => {
    if (i > 0) out.push(['dim', sep]);
    out.push(...g);
  });
  return out;
}

function layersOf(d: Dissection, obs: TcpObservation | undefined, previewMax: number): Envelope[] {
  const out: Envelope[] = [];
  const problem = (layer: string) => d.problems.find((p) => p.layer === layer)?.message;
  if (d.linkType === 'ethernet') {
    const e = d.eth;
    if (!e) out.push({ title: `Ethernet frame, ${d.length} bytes`, lines: [], error: problem('ethernet') });
    else {
      const groups: Piece[][] = [
        [
          ['addr', e.src],
          ['dim', ' → '],
          ['addr', e.dst],
        ],
        kv('type', `${ethertypeName(e.ethertype)} (0x${e.ethertype.toString(16).padStart(4, '0')})`),
      ];
      if (e.vlan) groups.push(kv('vlan', `${e.vlan.vid} pcp ${e.vlan.pcp}${e.vlan.dei ? ' DEI' : ''}`));
      out.push({ title: `Ethernet frame, ${d.length} bytes`, lines: [joinPieces(groups)] });
    }
  }
  if (d.arp) {
    const a = d.arp;
    const text =
      a.op === 'request'
        ? `who has ${a.targetIp}? tell ${a.senderIp}`
        : a.op === 'reply'
          ? `${a.senderIp} is at ${a.senderMac}`
          : `operation ${a.op}`;
    out.push({
      title: `ARP ${typeof a.op === 'string' ? a.op : 'packet'}`,
      lines: [
        [['value', text]],
        joinPieces([
          kv('sender', `${a.senderMac} ${a.senderIp}`),
          kv('target', `${a.targetMac} ${a.targetIp}`),
        ]),
      ],
    });
  } else if (problem('arp')) out.push({ title: 'ARP packet', lines: [], error: problem('arp') });
  const ip = d.ip;
  if (ip) {
    const flags = [ip.df ? 'DF' : '', ip.mf ? 'MF' : ''].filter(Boolean).join(' ') || 'none';
    out.push({
      title: `IPv4 datagram, ${ip.totalLength} bytes`,
      lines: [
        joinPieces([
          [
            ['addr', formatIpv4(ip.src)],
            ['dim', ' → '],
            ['addr', formatIpv4(ip.dst)],
          ],
          kv('ttl', String(ip.ttl)),
          kv('proto', `${ipProtocolName(ip.protocol)} (${ip.protocol})`),
        ]),
        joinPieces([
          kv('id', `0x${ip.id.toString(16).padStart(4, '0')}`),
          kv('flags', flags, 'flags'),
          kv('frag offset', String(ip.fragmentOffset)),
          kv('header', `${ip.headerLength} bytes`),
          kv(
            'checksum',
            `0x${ip.checksum.toString(16).padStart(4, '0')} ${ok(ip.checksumOk)}`,
            ip.checksumOk === false ? 'error' : 'value',
          ),
        ]),
        ...(ip.truncated ? [[['error', `capture truncated: Total Length ${ip.totalLength}`] as Piece]] : []),
      ],
      error: problem('ipv4'),
    });
  } else if (problem('ipv4')) out.push({ title: 'IPv4 datagram', lines: [], error: problem('ipv4') });
  const ip6 = d.ip6;
  if (ip6) {
    const f = ip6.fragment;
    const lines: Line[] = [
      joinPieces([
        [
          ['addr', ip6.src],
          ['dim', ' → '],
          ['addr', ip6.dst],
        ],
      ]),
      joinPieces([
        kv('hop limit', String(ip6.hopLimit)),
        kv('next header', `${ipProtocolName(ip6.protocol)} (${ip6.protocol})`),
        kv('traffic class', `0x${ip6.trafficClass.toString(16).padStart(2, '0')}`),
        kv('flow label', `0x${ip6.flowLabel.toString(16).padStart(5, '0')}`),
      ]),
    ];
    if (ip6.extensions.length) lines.push(kv('extension headers', ip6.extensions.join(', ')));
    if (f)
      lines.push(
        kv('fragment', `id 0x${f.id.toString(16)} offset ${f.offset}${f.more ? ' M' : ''}`, 'flags'),
      );
    if (ip6.truncated)
      lines.push([['error', `capture truncated: Payload Length ${ip6.payloadLength}`] as Piece]);
    out.push({
      title: `IPv6 packet, ${40 + ip6.payloadLength} bytes (40-byte header, no checksum)`,
      lines,
      error: problem('ipv6'),
    });
  } else if (problem('ipv6')) out.push({ title: 'IPv6 packet', lines: [], error: problem('ipv6') });
  if (d.fragment && ip6?.fragment) {
    out.push({
      title: `Fragment, ${ip6.payloadLength - (ip6.headerLength - 40)} bytes at offset ${ip6.fragment.offset}`,
      lines: [[['note', `${ipProtocolName(ip6.protocol)} header is in the first fragment`]]],
    });
  }
  if (d.icmp6) {
    const i = d.icmp6;
    const second: Piece[][] = [];
    if (i.target !== undefined) second.push(kv('target', i.target, 'addr'));
    if (i.ident !== undefined) second.push(kv('id', String(i.ident)), kv('seq', String(i.seq)));
    second.push(kv('checksum', ok(i.checksumOk), i.checksumOk === false ? 'error' : 'value'));
    out.push({
      title: `ICMPv6 ${i.typeName}, ${i.length} bytes`,
      lines: [
        joinPieces([kv('type', `${i.type} (${i.typeName})`), kv('code', String(i.code))]),
        joinPieces(second),
      ],
      error: problem('icmp'),
    });
  }
  if (d.fragment && ip) {
    out.push({
      title: `Fragment, ${ip.totalLength - ip.headerLength} bytes at offset ${ip.fragmentOffset}`,
      lines: [[['note', `${ipProtocolName(ip.protocol)} header is in the first fragment`]]],
    });
  }
  if (d.tcp) {
    const t = d.tcp;
    const seqText = obs ? `${obs.relSeq} (abs ${t.seq})` : String(t.seq);
    const ackText =
      t.flags & TCP_ACK
        ? obs && obs.relAck !== undefined
          ? `${obs.relAck} (abs ${t.ack})`
          : String(t.ack)
        : '-';
    const lines: Line[] = [
      joinPieces([
        [
          ['port', String(t.srcPort)],
          ['dim', ' → '],
          ['port', String(t.dstPort)],
        ],
        kv('flags', `[${tcpFlagNames(t.flags)}]`, 'flags'),
      ]),
      joinPieces([kv('seq', seqText), kv('ack', ackText)]),
      joinPieces([
        kv(
          'win',
          obs && obs.windowBytes !== t.window
            ? `${t.window} (${obs.windowBytes} bytes scaled)`
            : String(t.window),
        ),
        kv('header', `${t.headerLength} bytes`),
        kv('checksum', ok(t.checksumOk), t.checksumOk === false ? 'error' : 'value'),
      ]),
    ];
    if (t.options.length) {
      const peerBase = obs
        ? obs.direction === 'a2b'
          ? obs.conversation.b2a.base
          : obs.conversation.a2b.base
        : undefined;
      lines.push(kv('options', tcpOptionsText(t.options, peerBase)));
    }
    out.push({ title: `TCP segment, ${t.payloadLength} bytes of data`, lines, error: problem('tcp') });
  } else if (problem('tcp')) out.push({ title: 'TCP segment', lines: [], error: problem('tcp') });
  if (d.udp) {
    const u = d.udp;
    out.push({
      title: `UDP datagram, ${Math.max(0, u.length - 8)} bytes of data`,
      lines: [
        joinPieces([
          [
            ['port', String(u.srcPort)],
            ['dim', ' → '],
            ['port', String(u.dstPort)],
          ],
          kv('length', String(u.length)),
          kv(
            'checksum',
            u.checksum === 0 ? 'none' : ok(u.checksumOk),
            u.checksumOk === false ? 'error' : 'value',
          ),
        ]),
      ],
      error: problem('udp'),
    });
  } else if (problem('udp')) out.push({ title: 'UDP datagram', lines: [], error: problem('udp') });
  if (d.igmp) out.push({ title: `IGMPv${d.igmp.version} ${d.igmp.kind}`, lines: [[['value', d.igmp.text]]] });
  if (d.icmp) {
    const i = d.icmp;
    const groups: Piece[][] = [
      kv('type', `${i.type} (${i.typeName})`),
      kv('code', `${i.code}${i.codeName ? ` (${i.codeName})` : ''}`),
    ];
    const lines: Line[] = [joinPieces(groups)];
    const second: Piece[][] = [];
    if (i.ident !== undefined) second.push(kv('id', String(i.ident)), kv('seq', String(i.seq)));
    if (i.nextHopMtu !== undefined) second.push(kv('next-hop mtu', String(i.nextHopMtu)));
    if (i.gateway !== undefined) second.push(kv('gateway', formatIpv4(i.gateway), 'addr'));
    if (i.pointer !== undefined) second.push(kv('pointer', String(i.pointer)));
    second.push(kv('checksum', ok(i.checksumOk), i.checksumOk === false ? 'error' : 'value'));
    lines.push(joinPieces(second));
    if (i.quoted) {
      const q = i.quoted;
      const p = (x: number | undefined) => (x === undefined ? '' : `.${x}`);
      lines.push(
        kv(
          'quoting',
          `${formatIpv4(q.src)}${p(q.srcPort)} → ${formatIpv4(q.dst)}${p(q.dstPort)} ${ipProtocolName(q.protocol)}${q.tcpSeq !== undefined ? ` seq ${q.tcpSeq}` : ''}`,
        ),
      );
    }
    out.push({ title: `ICMP ${i.typeName}`, lines, error: problem('icmp') });
  } else if (problem('icmp')) out.push({ title: 'ICMP message', lines: [], error: problem('icmp') });
  if (d.unknown) out.push({ title: d.unknown, lines: [[['note', 'not dissected']]] });
  if (d.payload && d.payload.length > 0 && !d.fragment) {
    out.push({
      title: `Data, ${d.payload.length} bytes`,
      lines: [[['data', previewBytes(d.payload, previewMax)]]],
    });
  }
  return out;
}

export interface EnvelopeOptions {
  /** Frame number shown in the header line. */
  index?: number;
  /** Timestamp (µs) shown in the header line. */
  time?: number;
  /** A caller's label for the packet ("3-way handshake: SYN", "ARP request"). */
  label?: string;
  /** More notes shown under the header (socket state annotations and the like). */
  notes?: readonly string[];
  /** The tracker's view of a TCP segment: relative numbers and event labels. */
  tcp?: TcpObservation;
  /** 'box' (nested boxes, default) or 'tree' (indented branches). */
  layout?: 'box' | 'tree';
  style?: StyleFn;
  /** Bytes of application data to preview. Default 48. */
  preview?: number;
}

const width = (l: Line) => l.reduce((n, [, t]) => n + [...t].length, 0);

function render(l: Line, style: StyleFn): string {
  return l.map(([r, t]) => style(r, t)).join('');
}

/** The multi-line envelope view of one packet. */
export function formatEnvelope(d: Dissection, opts: EnvelopeOptions = {}): string {
  const style = opts.style ?? plain;
  const envs = layersOf(d, opts.tcp, opts.preview ?? 48);
  const head: Line = [];
  if (opts.index !== undefined) head.push(['dim', `#${opts.index} `]);
  if (opts.time !== undefined) head.push(['dim', `${formatTime(opts.time)} `]);
  const labels = [...(opts.label ? [opts.label] : []), ...(opts.tcp ? describeEvents(opts.tcp) : [])];
  const uniq = [...new Set(labels)];
  if (uniq.length) head.push(['label', uniq.join(' · ')]);
  else head.push(['dim', summaryBody(d, { tcp: opts.tcp })]);
  const out: Line[] = [head];
  for (const n of opts.notes ?? []) out.push([['note', `  ${n}`]]);
  const body = (opts.layout ?? 'box') === 'tree' ? tree(envs) : boxes(envs, 0);
  return [...out, ...body].map((l) => render(l, style)).join('\n');
}

function envLines(e: Envelope): Line[] {
  const lines = [...e.lines];
  if (e.error) lines.push([['error', `malformed: ${e.error}`]]);
  return lines;
}

function boxes(envs: Envelope[], i: number): Line[] {
  if (i >= envs.length) return [];
  const e = envs[i];
  const inner = [...envLines(e), ...boxes(envs, i + 1)];
  const t = [...e.title].length;
  const w = Math.max(t + 3, ...inner.map(width));
  const top: Line = [
    ['border', '┌─ '],
    ['title', e.title],
    ['border', ` ${'─'.repeat(w - t - 1)}┐`],
  ];
  const mid = inner.map(
    (l): Line => [['border', '│ '], ...l, ['dim', ' '.repeat(w - width(l))], ['border', ' │']],
  );
  const bottom: Line = [['border', `└${'─'.repeat(w + 2)}┘`]];
  return [top, ...mid, bottom];
}

function tree(envs: Envelope[]): Line[] {
  const out: Line[] = [];
  envs.forEach((e, depth) => {
    const pad = `${'   '.repeat(depth)}  `;
    out.push([
      ['border', depth === 0 ? '' : `${'   '.repeat(depth - 1)}└─ `],
      ['title', e.title],
    ]);
    for (const l of envLines(e)) out.push([['border', pad], ...l]);
  });
  return out;
}
