/**
 * ARP for IPv4 over Ethernet (RFC 826): htype 1, ptype 0x0800, hlen 6, plen 4.
 * Other hardware/protocol combinations are reported as 'unsupported'.
 */
import type { Ipv4Address, MacAddress } from './address.ts';
import { type WireError, wireError } from './error.ts';
import { ETHERTYPE_IPV4 } from './ethernet.ts';

export const ARP_HTYPE_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;
/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_LEN = 28;

export type ArpOperation = typeof ARP_OP_REQUEST | typeof ARP_OP_REPLY;

export interface ArpRepr {
  readonly op: ArpOperation;
  readonly senderMac: MacAddress;
  readonly senderIp: Ipv4Address;
  readonly targetMac: MacAddress;
  readonly targetIp: Ipv4Address;
}

/** Zero-copy view over an ARP packet. */
export class ArpView {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Checks the length and that this is Ethernet/IPv4 ARP. */
  static check(bytes: Uint8Array): ArpView | WireError {
    if (bytes.length < 8) return wireError('truncated', `arp: ${bytes.length} < 8 bytes`);
    const v = new ArpView(bytes);
    if (v.htype !== ARP_HTYPE_ETHERNET || v.ptype !== ETHERTYPE_IPV4 || v.hlen !== 6 || v.plen !== 4) {
      return wireError(
        'unsupported',
        `arp: htype ${v.htype} ptype 0x${v.ptype.toString(16)} hlen ${v.hlen} plen ${v.plen}`,
      );
    }
    if (bytes.length < ARP_LEN) return wireError('truncated', `arp: ${bytes.length} < 28 bytes`);
    return v;
  }

  get htype(): number {
    return this.dv.getUint16(0);
  }
  get ptype(): number {
    return this.dv.getUint16(2);
  }
  get hlen(): number {
    return this.bytes[4];
  }
  get plen(): number {
    return this.bytes[5];
  }
  get op(): number {
    return this.dv.getUint16(6);
  }
  set op(v: number) {
    this.dv.setUint16(6, v);
  }
  get senderMac(): MacAddress {
    return this.bytes.subarray(8, 14);
  }
  set senderMac(m: MacAddress) {
    this.bytes.set(m.subarray(0, 6), 8);
  }
  get senderIp(): Ipv4Address {
    return this.dv.getUint32(14);
  }
  set senderIp(a: Ipv4Address) {
    this.dv.setUint32(14, a);
  }
  get targetMac(): MacAddress {
    return this.bytes.subarray(18, 24);
  }
  set targetMac(m: MacAddress) {
    this.bytes.set(m.subarray(0, 6), 18);
  }
  get targetIp(): Ipv4Address {
    return this.dv.getUint32(24);
  }
  set targetIp(a: Ipv4Address) {
    this.dv.setUint32(24, a);
  }
}

export function arpHeaderLength(_repr?: ArpRepr): number {
  return ARP_LEN;
}

/** Parses an ARP packet; `payload` is whatever follows the 28 bytes (link padding). */
export function parseArp(bytes: Uint8Array): { repr: ArpRepr; payload: Uint8Array } | WireError {
  const v = ArpView.check(bytes);
  if (!(v instanceof ArpView)) return v;
  const op = v.op;
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) return wireError('unsupported', `arp: operation ${op}`);
  return {
    repr: {
      op,
      senderMac: bytes.slice(8, 14),
      senderIp: v.senderIp,
      targetMac: bytes.slice(18, 24),
      targetIp: v.targetIp,
    },
    payload: bytes.subarray(ARP_LEN),
  };
}

export function emitArp(repr: ArpRepr, out: Uint8Array): number {
  if (out.length < ARP_LEN) throw new RangeError(`emitArp: buffer ${out.length} < 28`);
  const v = new ArpView(out);
  v.dv.setUint16(0, ARP_HTYPE_ETHERNET);
  v.dv.setUint16(2, ETHERTYPE_IPV4);
  out[4] = 6;
  out[5] = 4;
  v.op = repr.op;
  v.senderMac = repr.senderMac;
  v.senderIp = repr.senderIp;
  v.targetMac = repr.targetMac;
  v.targetIp = repr.targetIp;
  return ARP_LEN;
}
