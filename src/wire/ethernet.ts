/**
 * Ethernet II framing (IEEE 802.3 clause 3 with an EtherType, no preamble or FCS)
 * and one optional IEEE 802.1Q VLAN tag.
 *
 * Byte fields of a repr (MAC addresses) are copies; the payload is a subarray of
 * the input.
 */
import type { MacAddress } from './address.ts';
import { type WireError, wireError } from './error.ts';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

export const ETHERNET_HEADER_LEN = 14;
export const VLAN_TAG_LEN = 4;
/** Smallest frame without FCS (64 bytes on the wire minus the 4-byte FCS). */
export const ETHERNET_MIN_FRAME = 60;

/** An 802.1Q tag: priority code point, drop-eligible indicator, VLAN id. */
export interface VlanTag {
  readonly pcp: number;
  readonly dei: boolean;
  readonly vid: number;
}

export interface EthernetRepr {
  readonly dst: MacAddress;
  readonly src: MacAddress;
  /** The payload's EtherType (the inner one when the frame is VLAN-tagged). */
  readonly ethertype: number;
  readonly vlan?: VlanTag;
}

/** Zero-copy view over an Ethernet frame. Construct via `EthernetView.check` for untrusted bytes. */
export class EthernetView {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  static check(bytes: Uint8Array): EthernetView | WireError {
    if (bytes.length < ETHERNET_HEADER_LEN)
      return wireError('truncated', `ethernet: ${bytes.length} < 14 bytes`);
    const v = new EthernetView(bytes);
    if (v.outerEthertype === ETHERTYPE_VLAN && bytes.length < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) {
      return wireError('truncated', `ethernet: vlan-tagged frame of ${bytes.length} < 18 bytes`);
    }
    return v;
  }

  /** Destination MAC (a subarray aliasing the frame). */
  get dst(): MacAddress {
    return this.bytes.subarray(0, 6);
  }
  set dst(m: MacAddress) {
    this.bytes.set(m.subarray(0, 6), 0);
  }
  get src(): MacAddress {
    return this.bytes.subarray(6, 12);
  }
  set src(m: MacAddress) {
    this.bytes.set(m.subarray(0, 6), 6);
  }
  /** The EtherType at offset 12 (0x8100 for a tagged frame). */
  get outerEthertype(): number {
    return this.dv.getUint16(12);
  }
  set outerEthertype(t: number) {
    this.dv.setUint16(12, t);
  }
  get tagged(): boolean {
    return this.outerEthertype === ETHERTYPE_VLAN;
  }
  /** Tag control information (valid only when tagged). */
  get tci(): number {
    return this.dv.getUint16(14);
  }
  set tci(v: number) {
    this.dv.setUint16(14, v);
  }
  /** The payload's EtherType. */
  get ethertype(): number {
    return this.tagged ? this.dv.getUint16(16) : this.outerEthertype;
  }
  set ethertype(t: number) {
    this.dv.setUint16(this.tagged ? 16 : 12, t);
  }
  get headerLength(): number {
    return this.tagged ? ETHERNET_HEADER_LEN + VLAN_TAG_LEN : ETHERNET_HEADER_LEN;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

export function ethernetHeaderLength(repr: EthernetRepr): number {
  return repr.vlan ? ETHERNET_HEADER_LEN + VLAN_TAG_LEN : ETHERNET_HEADER_LEN;
}

export function parseEthernet(bytes: Uint8Array): { repr: EthernetRepr; payload: Uint8Array } | WireError {
  const v = EthernetView.check(bytes);
  if (!(v instanceof EthernetView)) return v;
  const ethertype = v.ethertype;
  if (ethertype < 0x0600) {
    // IEEE 802.3 length field (LLC/SNAP), not an EtherType.
    return wireError('unsupported', `ethernet: 802.3 length field ${ethertype}, not an EtherType`);
  }
  const dst = bytes.slice(0, 6);
  const src = bytes.slice(6, 12);
  if (v.tagged) {
    const tci = v.tci;
    const vlan: VlanTag = { pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff };
    return { repr: { dst, src, ethertype, vlan }, payload: v.payload };
  }
  return { repr: { dst, src, ethertype }, payload: v.payload };
}

/** Writes the header into `out` (which must hold it) and returns its length; the caller writes the payload after. */
export function emitEthernet(repr: EthernetRepr, out: Uint8Array): number {
  const len = ethernetHeaderLength(repr);
  if (out.length < len) throw new RangeError(`emitEthernet: buffer ${out.length} < ${len}`);
  out.set(repr.dst.subarray(0, 6), 0);
  out.set(repr.src.subarray(0, 6), 6);
  const dv = new DataView(out.buffer, out.byteOffset, len);
  if (repr.vlan) {
    const { pcp, dei, vid } = repr.vlan;
    dv.setUint16(12, ETHERTYPE_VLAN);
    dv.setUint16(14, ((pcp & 7) << 13) | (dei ? 0x1000 : 0) | (vid & 0x0fff));
    dv.setUint16(16, repr.ethertype);
  } else {
    dv.setUint16(12, repr.ethertype);
  }
  return len;
}
