/** Inbound packets: a `<` line built into a datagram, mapped onto the live connection, and injected. */
import type { PacketEvent, TcpOptionSpec } from './ast.ts';
import {
  buildIcmpPacket,
  buildTcpPacket,
  buildUdpPacket,
  flagsFromScript,
  quotedDatagram,
} from './packet.ts';
import { DEFAULT_PORT, Failure, type RunState } from './run-state.ts';
import { icmpCode, icmpType } from './symbols.ts';

export function injectPacket(r: RunState, e: PacketEvent): void {
  const p = e.packet;
  const tos = (e.ip?.tos ?? 0) | (typeof e.ip?.ecn === 'number' ? e.ip.ecn : 0);
  const ip = {
    src: r.remoteIp,
    dst: r.localIp,
    tos,
    ttl: e.ip?.ttl ?? 64,
    id: r.ipId++ & 0xffff,
    ...(e.ip?.flowLabel !== undefined ? { flowLabel: e.ip.flowLabel } : {}),
  };
  let bytes: Uint8Array;
  if (p.proto === 'tcp') {
    if (r.tcpFlow.localPort === undefined) r.tcpFlow.localPort = DEFAULT_PORT;
    // packetdrill's handle_listen_for_script_packet: an inbound packet gives the socket its 4-tuple.
    if (!r.tcpConnecting) r.tcpLive = true;
    if (!r.isnLearned) {
      // A SYN the script did not match (allowUnexpectedPackets) still tells us the ISN.
      for (const o of r.outbox) {
        const d = r.decode(o.packet);
        if (!('error' in d) && d.proto === 'tcp') r.learnIsn(d.tcp);
      }
    }
    // Deviation: before the stack has sent a SYN, inbound ACKs are mapped with a provisional ISN 0.
    if (r.localIsn === undefined && p.ack !== undefined) r.localIsn = 0;
    const flags = flagsFromScript(p.flags, p.ackFlag);
    const options = Array.isArray(p.options) ? p.options.map((o) => mapInboundOption(r, o)) : [];
    if (p.options === 'any') throw new Failure(e.pos, "'<...>' is only allowed on outbound packets", 'other');
    bytes = buildTcpPacket(
      ip,
      {
        srcPort: p.ports?.src ?? r.tcpFlow.remotePort,
        dstPort: p.ports?.dst ?? r.tcpFlow.localPort,
        seq: p.seq.absolute ? p.seq.start >>> 0 : (p.seq.start + r.remoteIsn) >>> 0,
        ack: p.ack === undefined ? 0 : (p.ack + (r.localIsn ?? 0)) >>> 0,
        flags,
        window: p.win ?? 0,
        urg: p.urg ?? 0,
        options,
        payload: new Uint8Array(p.seq.len),
      },
      p.udpEncap,
    );
  } else if (p.proto === 'udp') {
    bytes = buildUdpPacket(
      ip,
      p.ports?.src ?? r.udpFlow.remotePort,
      p.ports?.dst ?? r.udpFlow.localPort ?? DEFAULT_PORT,
      new Uint8Array(p.len),
    );
  } else {
    const type = icmpType(p.type, r.ipVersion)!;
    const code = icmpCode(type, p.code, r.ipVersion)!;
    // IPv4 frag_needed carries the MTU in the low 16 bits (RFC 1191 §4); ICMPv6 Packet Too Big
    // in all 32 (RFC 4443 §3.2).
    const rest = r.ipVersion === 6 ? (p.mtu ?? 0) >>> 0 : ((p.id ?? 0) << 16) | (p.mtu ?? 0);
    let body: Uint8Array;
    const quotedIp = { src: r.localIp, dst: r.remoteIp, ttl: 64, id: 0 };
    const echoed = p.echoed;
    if (echoed?.kind === 'udp') {
      const q = new Uint8Array(8);
      const v = new DataView(q.buffer);
      v.setUint16(0, r.udpFlow.localPort ?? DEFAULT_PORT);
      v.setUint16(2, r.udpFlow.remotePort);
      v.setUint16(4, 8 + echoed.len);
      body = quotedDatagram({ ...quotedIp, protocol: 17 }, q, 8 + echoed.len);
    } else if (echoed?.kind === 'raw') {
      body = quotedDatagram(
        { ...quotedIp, protocol: 255 },
        new Uint8Array(Math.min(8, echoed.len)),
        echoed.len,
      );
    } else {
      // A quoted TCP header: ports and the (mapped) sequence number.
      const q = new Uint8Array(8);
      const v = new DataView(q.buffer);
      v.setUint16(0, r.tcpFlow.localPort ?? DEFAULT_PORT);
      v.setUint16(2, r.tcpFlow.remotePort);
      const rel = echoed ? echoed.seq.start : (r.lastOutboundSeq ?? 0);
      const abs = echoed?.seq.absolute ? rel >>> 0 : (rel + (r.localIsn ?? 0)) >>> 0;
      v.setUint32(4, abs);
      body = quotedDatagram({ ...quotedIp, protocol: 6 }, q, 20 + (echoed?.seq.len ?? 0));
    }
    bytes = buildIcmpPacket(ip, type, code, rest, body);
  }
  r.target.inject(bytes);
}

function mapInboundOption(r: RunState, o: TcpOptionSpec): TcpOptionSpec {
  if (o.kind === 'sack') {
    const isn = r.localIsn ?? 0;
    return {
      kind: 'sack',
      blocks: o.blocks.map((b) => ({ left: (b.left + isn) >>> 0, right: (b.right + isn) >>> 0 })),
    };
  }
  if (o.kind === 'ts') {
    // ecr echoes one of our TSvals: map it back to the live value.
    let ecr = o.ecr >>> 0;
    if (ecr !== 0) {
      const live = r.tsScriptToLive.get(ecr);
      if (live !== undefined) ecr = live;
      else if (r.tsOffset !== undefined) ecr = (ecr + r.tsOffset) >>> 0;
    }
    return { kind: 'ts', val: o.val >>> 0, ecr };
  }
  return o;
}
