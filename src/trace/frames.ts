/**
 * Frames as the trace tools see them (time, bytes, link type), from a pcap file
 * or from a live capture, and the tiny display filter `sockstack capture` takes.
 */
import type { PcapFile } from '../link/pcap.ts';
import { parseIpv4 } from '../wire/address.ts';
import { type Dissection, dissect, type FrameLinkType, frameLinkType } from './dissect.ts';

export interface TraceFrame {
  /** Timestamp in µs. */
  readonly time: number;
  readonly data: Uint8Array;
  readonly linkType: FrameLinkType;
}

/**
 * The frames of a pcap/pcapng file. Records on an interface whose link type we do
 * not understand are skipped and counted in `skipped`.
 */
export function framesFromPcap(file: PcapFile): { frames: TraceFrame[]; skipped: number } {
  const frames: TraceFrame[] = [];
  let skipped = 0;
  for (const r of file.records) {
    const lt = frameLinkType(file.interfaces[r.iface]?.linkType ?? file.linkType);
    if (lt === undefined) skipped++;
    else frames.push({ time: r.time, data: r.data, linkType: lt });
  }
  return { frames, skipped };
}

/** Dissects every frame. */
export function dissectAll(frames: readonly TraceFrame[]): Dissection[] {
  return frames.map((f) => dissect(f.data, f.linkType));
}

// ------------------------------------------------------------------ filter

/**
 * A compiled display filter. Grammar (a small subset of pcap-filter(7), not BPF):
 *
 *   expr    := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | '(' expr ')' | prim
 *   prim    := 'tcp' | 'udp' | 'icmp' | 'arp' | 'ip'
 *            | ['src' | 'dst'] 'port' N | ['src' | 'dst'] 'host' A.B.C.D
 *
 * `&&`, `||` and `!` are accepted for and/or/not.
 */
export type FrameFilter = (d: Dissection) => boolean;

export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

export function compileFilter(text: string): FrameFilter {
  const tokens = text
    .replace(/([()!])/g, ' $1 ')
    .replace(/&&/g, ' and ')
    .replace(/\|\|/g, ' or ')
    .split(/\s+/)
    .filter(Boolean)
    .map((t) => (t === '!' ? 'not' : t.toLowerCase()));
  if (tokens.length === 0) return () => true;
  let i = 0;
  const peek = () => tokens[i];
  const next = () => {
    const t = tokens[i++];
    if (t === undefined) throw new FilterError(`filter "${text}": unexpected end`);
    return t;
  };
  function expr(): FrameFilter {
    let f = and();
    while (peek() === 'or') {
      i++;
      const l = f;
      const r = and();
      f = (d) => l(d) || r(d);
    }
    return f;
  }
  function and(): FrameFilter {
    let f = unary();
    while (peek() === 'and') {
      i++;
      const l = f;
      const r = unary();
      f = (d) => l(d) && r(d);
    }
    return f;
  }
  function unary(): FrameFilter {
    const t = next();
    if (t === 'not') {
      const f = unary();
      return (d) => !f(d);
    }
    if (t === '(') {
      const f = expr();
      if (next() !== ')') throw new FilterError(`filter "${text}": missing ')'`);
      return f;
    }
    return prim(t);
  }
  function prim(t: string): FrameFilter {
    switch (t) {
      case 'tcp':
      case 'udp': {
        const proto: FrameFilter = t === 'tcp' ? (d) => d.tcp !== undefined : (d) => d.udp !== undefined;
        // tcpdump's protocol qualifier: 'tcp port 80', 'udp src port 53'.
        const q = peek();
        if (q !== 'port' && q !== 'src' && q !== 'dst') return proto;
        const f = prim(next());
        return (d) => proto(d) && f(d);
      }
      case 'icmp':
        return (d) => d.icmp !== undefined;
      case 'arp':
        return (d) => d.arp !== undefined;
      case 'ip':
        return (d) => d.ip !== undefined;
      case 'src':
      case 'dst': {
        const what = next();
        if (what !== 'port' && what !== 'host')
          throw new FilterError(`filter "${text}": '${t}' must be followed by port or host`);
        return what === 'port' ? portPrim(t) : hostPrim(t);
      }
      case 'port':
        return portPrim('either');
      case 'host':
        return hostPrim('either');
      default:
        throw new FilterError(
          `filter "${text}": unknown term '${t}' (try tcp, udp, icmp, arp, port N, host A.B.C.D)`,
        );
    }
  }
  function portPrim(side: 'src' | 'dst' | 'either'): FrameFilter {
    const t = next();
    const n = Number(t);
    if (!/^\d+$/.test(t) || n > 65535) throw new FilterError(`filter "${text}": bad port '${t}'`);
    return (d) => {
      const p = d.tcp ?? d.udp;
      if (!p) return false;
      return (side !== 'dst' && p.srcPort === n) || (side !== 'src' && p.dstPort === n);
    };
  }
  function hostPrim(side: 'src' | 'dst' | 'either'): FrameFilter {
    const t = next();
    const a = parseIpv4(t);
    if (a === undefined) throw new FilterError(`filter "${text}": bad IPv4 address '${t}'`);
    const dotted = t.split('.').map(Number).join('.');
    return (d) => {
      if (d.ip) return (side !== 'dst' && d.ip.src === a) || (side !== 'src' && d.ip.dst === a);
      if (d.arp)
        return (side !== 'dst' && d.arp.senderIp === dotted) || (side !== 'src' && d.arp.targetIp === dotted);
      return false;
    };
  }
  const f = expr();
  if (i < tokens.length) throw new FilterError(`filter "${text}": unexpected '${tokens[i]}'`);
  return f;
}
