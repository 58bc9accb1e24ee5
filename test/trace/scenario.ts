// Frames for trace/plot/CLI tests, built with the wire codecs: a small TCP transfer
// with one lost-and-retransmitted segment and SACKed data, plus ARP, ICMP and UDP.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '../../src/link/pcap.ts';
import type { TraceFrame } from '../../src/trace/frames.ts';
import { ipv4, localMac, MAC_BROADCAST, MAC_ZERO, type MacAddress } from '../../src/wire/address.ts';
import { ARP_OP_REPLY, ARP_OP_REQUEST, emitArp } from '../../src/wire/arp.ts';
import { pseudoHeaderSumV4 } from '../../src/wire/checksum.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, emitEthernet } from '../../src/wire/ethernet.ts';
import { emitIcmpv4, type Icmpv4Repr, icmpv4Length } from '../../src/wire/icmpv4.ts';
import { emitIpv4, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, type Ipv4Repr } from '../../src/wire/ipv4.ts';
import {
  emitTcp,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_SYN,
  type TcpOptions,
  tcpHeaderLength,
} from '../../src/wire/tcp.ts';
import { emitUdp } from '../../src/wire/udp.ts';

export const CLIENT = ipv4(10, 0, 1, 2);
export const SERVER = ipv4(10, 0, 2, 2);
export const CLIENT_MAC = localMac(1);
export const SERVER_MAC = localMac(2);
export const CPORT = 49152;
export const SPORT = 7;
export const CISN = 1000;
export const SISN = 5000;

let ipId = 1;

function ipFrame(
  src: number,
  dst: number,
  protocol: number,
  l4: Uint8Array,
  extra: Partial<Ipv4Repr> = {},
): Uint8Array {
  const repr: Ipv4Repr = {
    dscp: 0,
    ecn: 0,
    identification: ipId++,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol,
    src,
    dst,
    options: new Uint8Array(0),
    payloadLength: l4.length,
    ...extra,
  };
  const out = new Uint8Array(14 + 20 + l4.length);
  const fromClient = src === CLIENT;
  emitEthernet(
    {
      src: fromClient ? CLIENT_MAC : SERVER_MAC,
      dst: fromClient ? SERVER_MAC : CLIENT_MAC,
      ethertype: ETHERTYPE_IPV4,
    },
    out,
  );
  emitIpv4(repr, out.subarray(14));
  out.set(l4, 34);
  return out;
}

export interface Seg {
  seq: number;
  ack?: number;
  flags: number;
  win: number;
  options?: TcpOptions;
  payload?: Uint8Array;
}

export function tcpSegment(fromClient: boolean, s: Seg): Uint8Array {
  const src = fromClient ? CLIENT : SERVER;
  const dst = fromClient ? SERVER : CLIENT;
  const repr = {
    srcPort: fromClient ? CPORT : SPORT,
    dstPort: fromClient ? SPORT : CPORT,
    seq: s.seq >>> 0,
    ack: (s.ack ?? 0) >>> 0,
    flags: s.flags,
    window: s.win,
    urgentPointer: 0,
    options: s.options ?? {},
  };
  const payload = s.payload ?? new Uint8Array(0);
  const len = tcpHeaderLength(repr) + payload.length;
  const seg = new Uint8Array(len);
  emitTcp(repr, payload, seg, pseudoHeaderSumV4(src, dst, IP_PROTO_TCP, len));
  return ipFrame(src, dst, IP_PROTO_TCP, seg);
}

const data = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const ms = (x: number) => Math.round(x * 1000);

/**
 * Client 10.0.1.2:49152 sends 5000 bytes to server 10.0.2.2:7 in five 1000-byte
 * segments; the second (rel 1001) is lost, three SACKing duplicate ACKs come back
 * and the client retransmits it; then both sides close. Captured at the client.
 *
 * Expected: 6 data segments (1 retransmission), 3 duplicate ACKs carrying 3 SACK
 * blocks, handshake SYN / SYN-ACK / ACK, two FINs.
 */
export function transferFrames(): TraceFrame[] {
  const f: TraceFrame[] = [];
  const c = (t: number, s: Seg) => f.push({ time: ms(t), data: tcpSegment(true, s), linkType: 'ethernet' });
  const sv = (t: number, s: Seg) => f.push({ time: ms(t), data: tcpSegment(false, s), linkType: 'ethernet' });
  const synOpts: TcpOptions = {
    mss: 1460,
    sackPermitted: true,
    timestamps: { tsVal: 1, tsEcr: 0 },
    windowScale: 7,
  };
  c(0, { seq: CISN, flags: TCP_SYN, win: 64240, options: synOpts });
  sv(10, {
    seq: SISN,
    ack: CISN + 1,
    flags: TCP_SYN | TCP_ACK,
    win: 65160,
    options: { mss: 1460, sackPermitted: true, timestamps: { tsVal: 7, tsEcr: 1 }, windowScale: 7 },
  });
  c(20, { seq: CISN + 1, ack: SISN + 1, flags: TCP_ACK, win: 502 });
  for (let i = 0; i < 5; i++) {
    c(20.1 + i * 0.1, {
      seq: CISN + 1 + i * 1000,
      ack: SISN + 1,
      flags: TCP_ACK | TCP_PSH,
      win: 502,
      payload: data(1000, 0x41 + i),
    });
  }
  const s1 = SISN + 1;
  sv(30.1, { seq: s1, ack: CISN + 1001, flags: TCP_ACK, win: 509 });
  sv(30.3, {
    seq: s1,
    ack: CISN + 1001,
    flags: TCP_ACK,
    win: 509,
    options: { sack: [{ left: CISN + 2001, right: CISN + 3001 }] },
  });
  sv(30.4, {
    seq: s1,
    ack: CISN + 1001,
    flags: TCP_ACK,
    win: 509,
    options: { sack: [{ left: CISN + 2001, right: CISN + 4001 }] },
  });
  sv(30.5, {
    seq: s1,
    ack: CISN + 1001,
    flags: TCP_ACK,
    win: 509,
    options: { sack: [{ left: CISN + 2001, right: CISN + 5001 }] },
  });
  c(30.6, { seq: CISN + 1001, ack: s1, flags: TCP_ACK, win: 502, payload: data(1000, 0x42) });
  sv(40.6, { seq: s1, ack: CISN + 5001, flags: TCP_ACK, win: 501 });
  c(41, { seq: CISN + 5001, ack: s1, flags: TCP_FIN | TCP_ACK, win: 502 });
  sv(51, { seq: s1, ack: CISN + 5002, flags: TCP_FIN | TCP_ACK, win: 501 });
  c(61, { seq: CISN + 5002, ack: s1 + 1, flags: TCP_ACK, win: 502 });
  return f;
}

export function arpRequest(): Uint8Array {
  const out = new Uint8Array(42);
  emitEthernet({ src: CLIENT_MAC, dst: MAC_BROADCAST, ethertype: ETHERTYPE_ARP }, out);
  emitArp(
    {
      op: ARP_OP_REQUEST,
      senderMac: CLIENT_MAC,
      senderIp: CLIENT,
      targetMac: MAC_ZERO,
      targetIp: ipv4(10, 0, 1, 1),
    },
    out.subarray(14),
  );
  return out;
}

export function arpReply(mac: MacAddress = localMac(9)): Uint8Array {
  const out = new Uint8Array(42);
  emitEthernet({ src: mac, dst: CLIENT_MAC, ethertype: ETHERTYPE_ARP }, out);
  emitArp(
    {
      op: ARP_OP_REPLY,
      senderMac: mac,
      senderIp: ipv4(10, 0, 1, 1),
      targetMac: CLIENT_MAC,
      targetIp: CLIENT,
    },
    out.subarray(14),
  );
  return out;
}

export function icmpFrame(src: number, dst: number, repr: Icmpv4Repr): Uint8Array {
  const m = new Uint8Array(icmpv4Length(repr));
  emitIcmpv4(repr, m);
  return ipFrame(src, dst, IP_PROTO_ICMP, m, { dontFragment: false });
}

export function udpFrame(
  src: number,
  dst: number,
  sport: number,
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const len = 8 + payload.length;
  const u = new Uint8Array(len);
  emitUdp({ srcPort: sport, dstPort: dport }, payload, u, pseudoHeaderSumV4(src, dst, IP_PROTO_UDP, len));
  return ipFrame(src, dst, IP_PROTO_UDP, u, { dontFragment: false });
}

/** A mixed capture: ARP, ping, a UDP datagram answered by port unreachable, then the TCP transfer. */
export function mixedFrames(): TraceFrame[] {
  const frames: TraceFrame[] = [];
  const add = (t: number, d: Uint8Array) => frames.push({ time: ms(t), data: d, linkType: 'ethernet' });
  add(0, arpRequest());
  add(0.5, arpReply());
  const echo = new TextEncoder().encode('ping data');
  add(1, icmpFrame(CLIENT, SERVER, { kind: 'echoRequest', ident: 77, seq: 1, data: echo }));
  add(3, icmpFrame(SERVER, CLIENT, { kind: 'echoReply', ident: 77, seq: 1, data: echo }));
  const dgram = udpFrame(CLIENT, SERVER, 5000, 9999, new TextEncoder().encode('hello udp\n'));
  add(4, dgram);
  add(
    6,
    icmpFrame(SERVER, CLIENT, {
      kind: 'destUnreachable',
      code: 3,
      nextHopMtu: 0,
      invoking: dgram.subarray(14, 14 + 28),
    }),
  );
  for (const fr of transferFrames()) frames.push({ ...fr, time: fr.time + ms(100) });
  return frames;
}

/** Writes frames as a classic Ethernet pcap in a fresh temp dir; returns its path. */
export function writePcap(frames: readonly TraceFrame[], name = 'trace.pcap'): string {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-trace-'));
  const chunks: Uint8Array[] = [];
  const w = new PcapWriter((c) => chunks.push(c), { linkType: 'ethernet' });
  for (const fr of frames) w.writePacket(fr.time, fr.data);
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(chunks));
  return path;
}
