/**
 * struct virtio_net_hdr: the header in front of every frame on a Linux TAP opened with
 * IFF_VNET_HDR (and on a virtio-net queue). It carries the checksum and segmentation
 * offload state of the frame behind it: whether the transport checksum is left partial
 * (NEEDS_CSUM, with where to fill it in), or was already checked (DATA_VALID), and
 * whether the frame is a super-segment (GSO) the receiver would cut into gso_size pieces.
 *
 * Layout (Virtio 1.2 §5.1.6 "Device Operation", linux/virtio_net.h), all fields in the
 * device's byte order: little-endian for a TAP after TUNSETVNETLE, or native on a
 * little-endian host (virtio "legacy"), which is what we ask for:
 *
 *   u8  flags        NEEDS_CSUM = 1, DATA_VALID = 2, RSC_INFO = 4
 *   u8  gso_type     NONE = 0, TCPV4 = 1, UDP = 3, TCPV6 = 4, UDP_L4 = 5; | ECN = 0x80
 *   u16 hdr_len      length of the headers (a hint for GSO)
 *   u16 gso_size     payload bytes per segment once segmented
 *   u16 csum_start   where checksumming starts (from the frame's first byte)
 *   u16 csum_offset  where the result goes (from csum_start)
 *   u16 num_buffers  only in the 12-byte form (VIRTIO_NET_F_MRG_RXBUF / TUNSETVNETHDRSZ 12)
 */
import { checksumPartial, finishChecksum, pseudoHeaderSumV4, pseudoHeaderSumV6 } from './checksum.ts';
import { type WireError, wireError } from './error.ts';

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;
/** The header without num_buffers. */
export const VIRTIO_NET_HDR_LEN = 10;
/** The header with num_buffers (struct virtio_net_hdr_mrg_rxbuf). */
export const VIRTIO_NET_HDR_MRG_LEN = 12;

export interface VirtioNetHdr {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  /** 0 in the 10-byte form. */
  numBuffers: number;
}

const KNOWN_FLAGS = 1 | 2 | 4;

/**
 * Parses the `size`-byte (10 or 12) header at the start of `buf`. Rejects a buffer too
 * short for it, unknown flag bits, an unknown GSO type, a GSO frame with no gso_size,
 * and a NEEDS_CSUM whose checksum field does not lie inside the frame.
 */
export function parseVirtioNetHdr(buf: Uint8Array, size: number): VirtioNetHdr | WireError {
  if (size !== VIRTIO_NET_HDR_LEN && size !== VIRTIO_NET_HDR_MRG_LEN)
    return wireError('unsupported', `virtio_net_hdr size ${size}`);
  if (buf.length < size) return wireError('truncated', `virtio_net_hdr: ${buf.length} of ${size} bytes`);
  const flags = buf[0];
  if ((flags & ~KNOWN_FLAGS) !== 0)
    return wireError('malformed', `virtio_net_hdr flags 0x${flags.toString(16)}`);
  const gsoType = buf[1];
  const base = gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  if (
    base !== VIRTIO_NET_HDR_GSO_NONE &&
    base !== VIRTIO_NET_HDR_GSO_TCPV4 &&
    base !== VIRTIO_NET_HDR_GSO_UDP &&
    base !== VIRTIO_NET_HDR_GSO_TCPV6 &&
    base !== VIRTIO_NET_HDR_GSO_UDP_L4
  )
    return wireError('malformed', `virtio_net_hdr gso_type ${gsoType}`);
  const hdr: VirtioNetHdr = {
    flags,
    gsoType,
    hdrLen: buf[2] | (buf[3] << 8),
    gsoSize: buf[4] | (buf[5] << 8),
    csumStart: buf[6] | (buf[7] << 8),
    csumOffset: buf[8] | (buf[9] << 8),
    numBuffers: size === VIRTIO_NET_HDR_MRG_LEN ? buf[10] | (buf[11] << 8) : 0,
  };
  if (base !== VIRTIO_NET_HDR_GSO_NONE && hdr.gsoSize === 0)
    return wireError('malformed', 'virtio_net_hdr: GSO frame with gso_size 0');
  if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && hdr.csumStart + hdr.csumOffset + 2 > buf.length - size)
    return wireError('malformed', 'virtio_net_hdr: checksum field past the end of the frame');
  return hdr;
}

/** Writes `hdr` as a `size`-byte header (10 or 12) at `at` in `buf`. */
export function emitVirtioNetHdr(hdr: VirtioNetHdr, buf: Uint8Array, at: number, size: number): void {
  buf[at] = hdr.flags;
  buf[at + 1] = hdr.gsoType;
  buf[at + 2] = hdr.hdrLen & 0xff;
  buf[at + 3] = hdr.hdrLen >>> 8;
  buf[at + 4] = hdr.gsoSize & 0xff;
  buf[at + 5] = hdr.gsoSize >>> 8;
  buf[at + 6] = hdr.csumStart & 0xff;
  buf[at + 7] = hdr.csumStart >>> 8;
  buf[at + 8] = hdr.csumOffset & 0xff;
  buf[at + 9] = hdr.csumOffset >>> 8;
  if (size === VIRTIO_NET_HDR_MRG_LEN) {
    buf[at + 10] = hdr.numBuffers & 0xff;
    buf[at + 11] = hdr.numBuffers >>> 8;
  }
}

const TCP = 6;
const UDP = 17;

/** Where a frame's transport header is: offset from the frame start, protocol, IP version, length. */
interface TransportAt {
  at: number;
  proto: number;
  /** Partial pseudo-header sum. */
  pseudo: number;
  /** Transport length (header + data). */
  len: number;
}

function ipOffset(frame: Uint8Array, linkType: 'ethernet' | 'ip'): number {
  if (linkType === 'ip') return 0;
  if (frame.length < 14) return -1;
  let at = 12;
  let type = (frame[at] << 8) | frame[at + 1];
  if (type === 0x8100) {
    if (frame.length < 18) return -1;
    at += 4;
    type = (frame[at] << 8) | frame[at + 1];
  }
  return type === 0x0800 || type === 0x86dd ? at + 2 : -1;
}

/**
 * Finds the TCP or UDP header of a whole (unfragmented) IPv4 or IPv6 datagram in `frame`.
 * undefined for anything else (ARP, ICMP, fragments, IPv6 extension headers, short frames).
 */
function transportOf(frame: Uint8Array, linkType: 'ethernet' | 'ip'): TransportAt | undefined {
  const ip = ipOffset(frame, linkType);
  if (ip < 0 || frame.length < ip + 1) return undefined;
  const version = frame[ip] >> 4;
  let proto: number;
  let at: number;
  let len: number;
  let pseudo: number;
  if (version === 4) {
    if (frame.length < ip + 20) return undefined;
    const hl = (frame[ip] & 0x0f) * 4;
    const total = (frame[ip + 2] << 8) | frame[ip + 3];
    if ((frame[ip + 6] & 0x3f) !== 0 || frame[ip + 7] !== 0) return undefined;
    if (hl < 20 || total < hl || ip + total > frame.length) return undefined;
    proto = frame[ip + 9];
    at = ip + hl;
    len = total - hl;
    const src =
      ((frame[ip + 12] << 24) | (frame[ip + 13] << 16) | (frame[ip + 14] << 8) | frame[ip + 15]) >>> 0;
    const dst =
      ((frame[ip + 16] << 24) | (frame[ip + 17] << 16) | (frame[ip + 18] << 8) | frame[ip + 19]) >>> 0;
    pseudo = pseudoHeaderSumV4(src, dst, proto, len);
  } else if (version === 6) {
    if (frame.length < ip + 40) return undefined;
    proto = frame[ip + 6];
    at = ip + 40;
    len = (frame[ip + 4] << 8) | frame[ip + 5];
    if (at + len > frame.length) return undefined;
    pseudo = pseudoHeaderSumV6(frame.subarray(ip + 8, ip + 24), frame.subarray(ip + 24, ip + 40), proto, len);
  } else return undefined;
  if (proto === TCP ? len < 20 : proto === UDP ? len < 8 : true) return undefined;
  return { at, proto, pseudo, len };
}

/**
 * Prepares an outgoing frame for checksum offload (what Linux's tcp_v4_send_check does
 * for CHECKSUM_PARTIAL): writes the pseudo-header sum into the TCP/UDP checksum field and
 * fills `hdr` with NEEDS_CSUM, csum_start and csum_offset, so whoever reads the frame
 * (the kernel, a NIC) sums from csum_start to the end and stores the result there.
 * Returns false (and leaves `hdr` without NEEDS_CSUM) for a frame with no transport
 * checksum to offload: the caller must then have filled it in already.
 *
 * Only a checksum left out is offloaded: the stack leaves the field 0 (emitTcp, the UDP
 * emitter), and a super-segment's (`superSegment`: a gso size goes with it) is always to be
 * filled per segment. A frame whose field holds a checksum goes as it is, flags 0, so the
 * receiver checks it: a router forwarding a datagram as it arrived (corrupted on the way in,
 * perhaps) must not have it recomputed over the bytes it carries now, which would hide the
 * corruption from the receiver (Linux forwards such an skb CHECKSUM_NONE, not PARTIAL).
 * Deviation: a forwarded TCP segment whose own checksum is 0x0000 is taken for one left out,
 * and a forwarded IPv4 UDP datagram sent without one (0, RFC 768) gets one.
 */
export function setPartialChecksum(
  frame: Uint8Array,
  linkType: 'ethernet' | 'ip',
  hdr: VirtioNetHdr,
  superSegment = false,
): boolean {
  const t = transportOf(frame, linkType);
  hdr.flags = 0;
  hdr.gsoType = VIRTIO_NET_HDR_GSO_NONE;
  hdr.gsoSize = 0;
  hdr.csumStart = 0;
  hdr.csumOffset = 0;
  hdr.hdrLen = 0;
  if (t === undefined) return false;
  const field = t.proto === TCP ? 16 : 6;
  if (!superSegment && (frame[t.at + field] | frame[t.at + field + 1]) !== 0) return false;
  // The field holds the folded pseudo-header sum, not complemented (skb CHECKSUM_PARTIAL).
  const s = ~finishChecksum(t.pseudo) & 0xffff;
  frame[t.at + field] = s >> 8;
  frame[t.at + field + 1] = s & 0xff;
  hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr.csumStart = t.at;
  hdr.csumOffset = field;
  hdr.hdrLen = t.at + (t.proto === TCP ? (frame[t.at + 12] >> 4) * 4 : 8);
  return true;
}

/**
 * Makes `hdr` (already set by setPartialChecksum) describe the TCP super-segment `frame` as
 * one to be cut into `gsoSize`-byte segments: GSO_TCPV4 or GSO_TCPV6 by the IP version, with
 * the ECN bit when the segment carries CWR (the kernel's SKB_GSO_TCP_ECN, which keeps CWR on
 * the first segment only). The partial checksum over the whole length stays as it is: the
 * kernel's tcp_gso_segment adjusts it for each segment's length. False for a frame that is
 * not TCP (hdr unchanged).
 */
export function setTcpGso(
  frame: Uint8Array,
  linkType: 'ethernet' | 'ip',
  hdr: VirtioNetHdr,
  gsoSize: number,
): boolean {
  const ip = ipOffset(frame, linkType);
  if (ip < 0 || hdr.csumOffset !== 16 || hdr.hdrLen > frame.length) return false;
  const v6 = frame[ip] >> 4 === 6;
  const cwr = (frame[hdr.csumStart + 13] & 0x80) !== 0;
  hdr.gsoType =
    (v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4) | (cwr ? VIRTIO_NET_HDR_GSO_ECN : 0);
  hdr.gsoSize = gsoSize;
  return true;
}

/**
 * Verifies the TCP/UDP checksum of a received frame in software (what the kernel does
 * for a CHECKSUM_NONE skb). True when it is right, or when there is nothing to check:
 * non-TCP/UDP frames, fragments, and an IPv4 UDP checksum of 0 (RFC 768: none sent).
 * Other layers check their own headers.
 */
export function transportChecksumValid(frame: Uint8Array, linkType: 'ethernet' | 'ip'): boolean {
  const t = transportOf(frame, linkType);
  if (t === undefined) return true;
  if (
    t.proto === UDP &&
    frame[t.at + 6] === 0 &&
    frame[t.at + 7] === 0 &&
    frame[ipOffset(frame, linkType)] >> 4 === 4
  )
    return true;
  return finishChecksum(checksumPartial(frame.subarray(t.at, t.at + t.len), t.pseudo)) === 0;
}
