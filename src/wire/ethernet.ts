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

/**
 * Zero-copy view over an Ethernet frame. Construct via `EthernetView.check` for
 * untrusted bytes. Fields are read byte by byte (no DataView per frame);
 * `reset(bytes)` re-points the view.
 */
export class EthernetView {
  bytes: Uint8Array;
  #dv: DataView | undefined;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  /** Re-points the view at another frame (unchecked: see `check`). Returns the view. */
  reset(bytes: Uint8Array): this {
    this.bytes = bytes;
    this.#dv = undefined;
    return this;
  }
  /** A DataView over the bytes, made on first use. */
  get dv(): DataView {
    const b = this.bytes;
    this.#dv ??= new DataView(b.buffer, b.byteOffset, b.byteLength);
    return this.#dv;
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
    return (this.bytes[12] << 8) | this.bytes[13];
  }
  set outerEthertype(t: number) {
    writeU16(this.bytes, 12, t);
  }
  get tagged(): boolean {
    return this.outerEthertype === ETHERTYPE_VLAN;
  }
  /** Tag control information (valid only when tagged). */
  get tci(): number {
    return (this.bytes[14] << 8) | this.bytes[15];
  }
  set tci(v: number) {
    writeU16(this.bytes, 14, v);
  }
  /** The payload's EtherType. */
  get ethertype(): number {
    return this.tagged ? (this.bytes[16] << 8) | this.bytes[17] : this.outerEthertype;
  }
  set ethertype(t: number) {
    writeU16(this.bytes, this.tagged ? 16 : 12, t);
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
  if (repr.vlan) {
    writeEthernetHeader(out, 0, repr.dst, repr.src, ETHERTYPE_VLAN);
    const { pcp, dei, vid } = repr.vlan;
    writeU16(out, 14, ((pcp & 7) << 13) | (dei ? 0x1000 : 0) | (vid & 0x0fff));
    writeU16(out, 16, repr.ethertype);
  } else {
    writeEthernetHeader(out, 0, repr.dst, repr.src, repr.ethertype);
  }
  return len;
}

/**
 * Writes an untagged Ethernet II header (14 bytes) at out[at..]: the allocation-free
 * form of `emitEthernet` for a stack building frames in place.
 */
export function writeEthernetHeader(
  out: Uint8Array,
  at: number,
  dst: MacAddress,
  src: MacAddress,
  ethertype: number,
): void {
  for (let i = 0; i < 6; i++) {
    out[at + i] = dst[i];
    out[at + 6 + i] = src[i];
  }
  writeU16(out, at + 12, ethertype);
}

function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
