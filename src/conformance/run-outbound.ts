/**
 * Outbound packets: attributing them to the socket under test (as packetdrill does),
 * waiting for the one a `>` line expects, and comparing it field by field.
 */
import type { IpInfo, PacketEvent, ScriptEvent, TcpOptionSpec, TcpPacketSpec } from './ast.ts';
import {
  type decodePacket,
  F_ACK,
  F_CWR,
  F_FIN,
  F_PSH,
  F_SYN,
  flagsFromScript,
  formatFlags,
  formatTcpOptions,
  type LivePacket,
  type LiveTcp,
} from './packet.ts';
import { collect, waitOutbound } from './run-clock.ts';
import { Failure, fmt, type RunState } from './run-state.ts';
import { icmpCode, icmpType } from './symbols.ts';

/**
 * Outbound packets sent clearly before an event the script reached without expecting them.
 * As in packetdrill (run_packet.c sniff_outbound_live_packet), a packet that does not belong
 * to the socket under test is never looked at (dropped here); one that does is what the
 * next `>` line will read, so it fails now with a clearer message, unless no later `>` line
 * with a fixed time exists (packetdrill never reads it, or a `*`/range line may accept it).
 */
export function checkNoUnexpected(r: RunState, e: ScriptEvent, tol: number, index: number): void {
  collect(r);
  dropForeign(r, undefined);
  if (r.opts.allowUnexpectedPackets) return;
  const first = r.outbox[0];
  if (!first) return;
  if (first.time >= r.now() - tol) return;
  const next = r.script.events
    .slice(index + 1)
    .find((x) => x.kind === 'packet' && x.direction === 'outbound');
  if (!next || next.time.kind === 'any' || next.time.kind === 'range') return;
  const dec = r.decode(first.packet);
  if (!('error' in dec) && dec.proto === 'tcp') r.learnIsn(dec.tcp);
  const desc = 'error' in dec ? dec.error : describeLive(r, dec);
  r.fail(
    e.pos,
    `unexpected outbound packet at ${fmt(first.time)} before this event: ${desc}`,
    'packet',
    'no packet',
    desc,
  );
  r.outbox.shift();
}

/**
 * Drops queued packets packetdrill would not attribute to the socket under test
 * (find_socket_for_live_packet / find_connect_for_live_packet): TCP segments of another
 * 4-tuple, or any before the socket has one (a listener's RST to a stray SYN-ACK); ICMP
 * messages unless the script line expects ICMP (our own echo replies).
 */
function dropForeign(r: RunState, expect: 'tcp' | 'udp' | 'icmp' | undefined): void {
  while (r.outbox.length > 0) {
    const dec = r.decode(r.outbox[0]!.packet);
    if (belongs(r, dec, expect)) return;
    if (!('error' in dec) && dec.proto === 'tcp') r.learnIsn(dec.tcp);
    r.outbox.shift();
  }
}

function belongs(
  r: RunState,
  dec: ReturnType<typeof decodePacket>,
  expect: 'tcp' | 'udp' | 'icmp' | undefined,
): boolean {
  if ('error' in dec) return true; // reported by the comparison
  if (dec.proto === 'icmp') return expect === 'icmp';
  if (dec.proto !== 'tcp') return true;
  const t = dec.tcp;
  if (r.tcpLive) return t.srcPort === r.tcpFlow.localPort && t.dstPort === r.tcpFlow.remotePort;
  if (
    r.tcpConnecting &&
    (t.flags & F_SYN) !== 0 &&
    (t.flags & F_ACK) === 0 &&
    t.dstPort === r.tcpFlow.remotePort
  ) {
    // The SYN of a connect() names the socket's 4-tuple.
    r.tcpLive = true;
    r.tcpFlow.localPort = t.srcPort;
    return true;
  }
  return false;
}

export async function expectOutbound(
  r: RunState,
  e: PacketEvent,
  expected: number,
  lo: number,
  hi: number,
  tol: number,
): Promise<number> {
  const what = describeSpec(e);
  const expect = e.packet.proto === 'icmp' ? 'icmp' : e.packet.proto === 'udp' ? 'udp' : 'tcp';
  for (;;) {
    if (!(await waitOutbound(r, hi))) break;
    dropForeign(r, expect);
    if (r.outbox.length > 0) break;
  }
  if (r.outbox.length === 0) {
    throw new Failure(
      e.pos,
      `timed out waiting for packet: expected ${what} at ${fmt(expected)} (tolerance ${fmt(tol)}); nothing sent by ${fmt(r.now())}`,
      'packet',
      what,
      'no packet',
    );
  }
  const first = r.outbox.shift()!;
  const at = first.time;
  if (at < lo || at > hi) {
    const dec = r.decode(first.packet);
    r.fail(
      e.pos,
      `timing mismatch: packet sent at ${fmt(at)}, expected ${e.time.kind === 'range' ? `in ${fmt(lo)}..${fmt(hi)}` : `at ${fmt(expected)} ± ${fmt(tol)}`}`,
      'packet',
      what,
      'error' in dec ? dec.error : describeLive(r, dec),
    );
  }
  const dec = r.decode(first.packet);
  if ('error' in dec) {
    r.fail(e.pos, `malformed outbound packet: ${dec.error}`, 'packet', what, dec.error);
    return at;
  }
  if (dec.ip.version !== r.ipVersion)
    r.fail(e.pos, `outbound IPv${dec.ip.version} packet, expected IPv${r.ipVersion}`, 'packet');
  if (!dec.ip.checksumOk) r.fail(e.pos, 'outbound IPv4 header checksum is wrong', 'packet');
  if (dec.ip.dst !== r.remoteIp || dec.ip.src !== r.localIp) {
    r.fail(
      e.pos,
      `outbound packet ${dec.ip.src} > ${dec.ip.dst}, expected ${r.localIp} > ${r.remoteIp}`,
      'packet',
    );
  }
  checkIpInfo(r, e, e.ip, dec);
  const p = e.packet;
  if (p.proto === 'udp') {
    if (dec.proto !== 'udp') mismatch(r, e, 'expected a UDP datagram', what, dec);
    else {
      if (r.udpFlow.localPort === undefined) r.udpFlow.localPort = dec.srcPort;
      if (dec.payloadLength !== p.len)
        mismatch(r, e, `UDP payload length ${dec.payloadLength}, expected ${p.len}`, what, dec);
    }
    return at;
  }
  if (p.proto === 'icmp') {
    if (dec.proto !== 'icmp') mismatch(r, e, 'expected an ICMP message', what, dec);
    else {
      const type = icmpType(p.type, r.ipVersion)!;
      const code = icmpCode(type, p.code, r.ipVersion)!;
      if (dec.type !== type || dec.code !== code) {
        mismatch(r, e, `ICMP type/code ${dec.type}/${dec.code}, expected ${type}/${code}`, what, dec);
      }
    }
    return at;
  }
  if (dec.proto !== 'tcp') {
    mismatch(r, e, 'expected a TCP segment', what, dec);
    return at;
  }
  let tcp = dec.tcp;
  // Segment aggregation (TSO/GSO in the scripts' model): join until the payload reaches the script's length.
  if (!r.strictSegments && tcp.payloadLength < p.seq.len) {
    tcp = await aggregate(r, tcp, p.seq.len, hi);
  }
  compareTcp(r, e, p, tcp, what);
  return at;
}

async function aggregate(r: RunState, first: LiveTcp, want: number, hi: number): Promise<LiveTcp> {
  let merged = first;
  const size = first.payloadLength;
  while (merged.payloadLength < want) {
    if (!(await waitOutbound(r, hi))) break;
    const dec = r.decode(r.outbox[0]!.packet);
    if ('error' in dec || dec.proto !== 'tcp') break;
    const t = dec.tcp;
    const contiguous = (merged.seq + merged.payloadLength) >>> 0 === t.seq;
    const sameHeaders =
      t.srcPort === merged.srcPort &&
      t.dstPort === merged.dstPort &&
      t.ack === merged.ack &&
      t.window === merged.window &&
      (t.flags & ~(F_FIN | F_PSH | F_CWR)) === (merged.flags & ~(F_FIN | F_PSH | F_CWR)) &&
      formatTcpOptions(t.options.filter((o) => o.kind !== 'ts')) ===
        formatTcpOptions(merged.options.filter((o) => o.kind !== 'ts'));
    // All but the last fragment must have the first one's size.
    const prevFull = merged.payloadLength % size === 0;
    if (!contiguous || !sameHeaders || !prevFull || (merged.flags & F_FIN) !== 0) break;
    r.outbox.shift();
    merged = {
      ...merged,
      flags: (t.flags & ~F_CWR) | (merged.flags & F_CWR),
      payloadLength: merged.payloadLength + t.payloadLength,
    };
  }
  return merged;
}

function mismatch(r: RunState, e: PacketEvent, message: string, expected: string, got: LivePacket): void {
  r.fail(e.pos, message, 'packet', expected, describeLive(r, got));
}

function checkIpInfo(r: RunState, e: PacketEvent, ip: IpInfo | undefined, dec: LivePacket): void {
  if (!ip) return;
  if (ip.tos !== undefined && dec.ip.tos !== ip.tos) {
    r.fail(e.pos, `IP TOS 0x${dec.ip.tos.toString(16)}, expected 0x${ip.tos.toString(16)}`, 'packet');
  }
  if (ip.ttl !== undefined && dec.ip.ttl !== ip.ttl)
    r.fail(e.pos, `IP TTL ${dec.ip.ttl}, expected ${ip.ttl}`, 'packet');
  if (ip.flowLabel !== undefined && dec.ip.flowLabel !== ip.flowLabel)
    r.fail(e.pos, `IPv6 flow label ${dec.ip.flowLabel}, expected ${ip.flowLabel}`, 'packet');
  if (ip.ecn !== undefined) {
    const got = dec.ip.tos & 3;
    const ok = ip.ecn === 'ect01' ? got === 1 || got === 2 : got === ip.ecn;
    if (!ok) r.fail(e.pos, `IP ECN field ${got}, expected ${ip.ecn}`, 'packet');
  }
}

function compareTcp(r: RunState, e: PacketEvent, p: TcpPacketSpec, t: LiveTcp, what: string): void {
  const got = (): string => describeTcp(r, t);
  const bad = (msg: string): void => r.fail(e.pos, msg, 'packet', what, got());
  const wantFlags = flagsFromScript(p.flags, p.ackFlag);
  // Learn the stack's ISN from its SYN / SYN-ACK.
  if ((t.flags & F_SYN) !== 0 && (wantFlags & F_SYN) !== 0 && !p.seq.absolute && !p.seq.wildcard) {
    r.localIsn = (t.seq - p.seq.start) >>> 0;
    r.isnLearned = true;
  } else r.learnIsn(t);
  if (r.tcpFlow.localPort === undefined) r.tcpFlow.localPort = t.srcPort;
  // UDP tunnelling: the script's `/udp(sport > dport)`, or none (plain TCP), must match.
  const wantUdp = p.udpEncap;
  const gotUdp = t.udpEncap;
  if (gotUdp && !wantUdp) bad(`UDP-encapsulated (${gotUdp.src} > ${gotUdp.dst}), expected plain TCP`);
  if (wantUdp && !gotUdp) bad(`plain TCP, expected UDP encapsulation ${wantUdp.src} > ${wantUdp.dst}`);
  if (wantUdp && gotUdp && (wantUdp.src !== gotUdp.src || wantUdp.dst !== gotUdp.dst))
    bad(`UDP ports ${gotUdp.src} > ${gotUdp.dst}, expected ${wantUdp.src} > ${wantUdp.dst}`);
  if (p.ports) {
    if (t.srcPort !== p.ports.src || t.dstPort !== p.ports.dst) {
      bad(`ports ${t.srcPort}>${t.dstPort}, expected ${p.ports.src}>${p.ports.dst}`);
    }
  } else if (t.srcPort !== r.tcpFlow.localPort || t.dstPort !== r.tcpFlow.remotePort) {
    bad(`ports ${t.srcPort}>${t.dstPort}, expected ${r.tcpFlow.localPort}>${r.tcpFlow.remotePort}`);
  }
  if (!t.checksumOk) bad('TCP checksum is wrong');
  if (t.flags !== wantFlags) bad(`flags ${formatFlags(t.flags)}, expected ${formatFlags(wantFlags)}`);
  if (t.reserved !== 0) bad(`reserved TCP header bits set (${t.reserved})`);
  const relSeq = r.relSeq(t.seq);
  if (!p.seq.wildcard) {
    const want = p.seq.absolute ? p.seq.start >>> 0 : p.seq.start >>> 0;
    const have = p.seq.absolute ? t.seq : relSeq;
    if (have !== want) bad(`sequence number ${have}, expected ${want}${p.seq.absolute ? ' (absolute)' : ''}`);
  }
  if (t.payloadLength !== p.seq.len) bad(`payload length ${t.payloadLength}, expected ${p.seq.len}`);
  r.lastOutboundSeq = relSeq;
  if (p.ack !== undefined) {
    const relAck = (t.ack - r.remoteIsn) >>> 0;
    if (relAck !== p.ack >>> 0) bad(`ack ${relAck}, expected ${p.ack}`);
  }
  if (p.win !== undefined && t.window !== p.win) bad(`window ${t.window}, expected ${p.win}`);
  if (p.urg !== undefined && t.urg !== p.urg) bad(`urgent pointer ${t.urg}, expected ${p.urg}`);
  compareOptions(r, e, p, t, bad);
}

function compareOptions(
  r: RunState,
  e: PacketEvent,
  p: TcpPacketSpec,
  t: LiveTcp,
  bad: (m: string) => void,
): void {
  if (p.options === 'any') return;
  const want = p.options ?? [];
  const have = t.options;
  // Remember how script TSvals map to live TSvals, for inbound ecr.
  const wts = want.find((o) => o.kind === 'ts');
  const hts = have.find((o) => o.kind === 'ts');
  if (wts?.kind === 'ts' && hts?.kind === 'ts') {
    if (r.tsOffset === undefined) r.tsOffset = (hts.val - wts.val) >>> 0;
    r.tsScriptToLive.set(wts.val >>> 0, hts.val);
  }
  const label = r.exact ? 'exact' : 'set';
  if (r.exact) {
    if (want.length !== have.length) {
      bad(
        `TCP options <${formatTcpOptions(have)}>, expected <${formatTcpOptions(want)}> (${label} comparison)`,
      );
      return;
    }
    for (let k = 0; k < want.length; k++) {
      const why = optionDiff(r, want[k]!, have[k]!);
      if (why) {
        bad(
          `TCP option ${k + 1}: ${why}; got <${formatTcpOptions(have)}>, expected <${formatTcpOptions(want)}> (${label} comparison)`,
        );
        return;
      }
    }
    return;
  }
  const strip = (l: readonly TcpOptionSpec[]) => l.filter((o) => o.kind !== 'nop' && o.kind !== 'eol');
  const w = strip(want);
  const h = strip(have);
  const msg = `TCP options <${formatTcpOptions(have)}>, expected <${formatTcpOptions(want)}> (set comparison, padding and order ignored)`;
  if (w.length !== h.length) {
    bad(msg);
    return;
  }
  const used = new Set<number>();
  for (const wo of w) {
    const k = h.findIndex((ho, idx) => !used.has(idx) && ho.kind === wo.kind);
    if (k < 0) {
      bad(msg);
      return;
    }
    used.add(k);
    const why = optionDiff(r, wo, h[k]!);
    if (why) {
      bad(`${why}; ${msg}`);
      return;
    }
  }
  void e;
}

/** Why a live option differs from the script's, or undefined if it matches. */
function optionDiff(r: RunState, w: TcpOptionSpec, h: TcpOptionSpec): string | undefined {
  if (w.kind !== h.kind) return `${h.kind} where ${w.kind} was expected`;
  switch (w.kind) {
    case 'mss':
    case 'wscale':
      return w.value === (h as typeof w).value
        ? undefined
        : `${w.kind} ${(h as typeof w).value}, expected ${w.value}`;
    case 'sack': {
      const hb = (h as typeof w).blocks.map(
        (b) => `${(b.left - r.remoteIsn) >>> 0}:${(b.right - r.remoteIsn) >>> 0}`,
      );
      const wb = w.blocks.map((b) => `${b.left}:${b.right}`);
      return hb.join(' ') === wb.join(' ')
        ? undefined
        : `sack ${hb.join(' ')}, expected sack ${wb.join(' ')}`;
    }
    case 'ts': {
      const ht = h as typeof w;
      if (ht.ecr !== w.ecr >>> 0) return `TS ecr ${ht.ecr}, expected ${w.ecr}`;
      if (r.tsTickUs !== undefined && r.tsOffset !== undefined) {
        const rel = (ht.val - r.tsOffset) >>> 0;
        const slack = Math.max(1, Math.ceil(r.toleranceUs / r.tsTickUs));
        const diff = Math.abs(((rel - w.val + 0x80000000) >>> 0) - 0x80000000);
        if (diff > slack) return `TS val ${rel} (mapped), expected ${w.val} ± ${slack}`;
      }
      return undefined;
    }
    case 'fo': {
      // RFC 7413: a cookie request (no cookie) or the exact cookie, in the form the script names.
      const hf = h as typeof w;
      if (hf.experimental !== w.experimental)
        return `${hf.experimental ? 'FOEXP' : 'FO'}, expected ${w.experimental ? 'FOEXP' : 'FO'}`;
      return hf.cookie.toLowerCase() === w.cookie.toLowerCase()
        ? undefined
        : `FO cookie '${hf.cookie}', expected '${w.cookie}'`;
    }
    default:
      return undefined;
  }
}

function describeSpec(e: PacketEvent): string {
  const p = e.packet;
  if (p.proto === 'udp') return `udp(${p.len})`;
  if (p.proto === 'icmp') return `icmp ${p.type}${p.code ? ` ${p.code}` : ''}`;
  let s = `${p.flags}${p.ackFlag ? '.' : ''}`;
  if (!s) s = '-';
  s += ` ${p.seq.start}:${p.seq.end}(${p.seq.len})${p.seq.absolute ? '!' : ''}`;
  if (p.ack !== undefined) s += ` ack ${p.ack}`;
  if (p.win !== undefined) s += ` win ${p.win}`;
  if (p.options === 'any') s += ' <...>';
  else if (p.options) s += ` <${formatTcpOptions(p.options)}>`;
  return s;
}

function describeTcp(r: RunState, t: LiveTcp): string {
  const rel = r.relSeq(t.seq);
  let s = `${formatFlags(t.flags)} ${rel}:${(rel + t.payloadLength) >>> 0}(${t.payloadLength})`;
  if (t.flags & F_ACK) s += ` ack ${(t.ack - r.remoteIsn) >>> 0}`;
  s += ` win ${t.window}`;
  if (t.options.length) s += ` <${formatTcpOptions(t.options)}>`;
  if (t.udpEncap) s += `/udp(${t.udpEncap.src} > ${t.udpEncap.dst})`;
  return s;
}

function describeLive(r: RunState, d: LivePacket): string {
  if (d.proto === 'tcp') return describeTcp(r, d.tcp);
  if (d.proto === 'udp') return `udp ${d.srcPort}>${d.dstPort} (${d.payloadLength})`;
  if (d.proto === 'icmp') return `icmp type ${d.type} code ${d.code}`;
  return `IP protocol ${d.ip.protocol}`;
}
