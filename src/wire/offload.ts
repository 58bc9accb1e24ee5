/**
 * Filling in transport checksums left out under checksum offload (Device.txChecksumOffload):
 * what a NIC does with a CHECKSUM_PARTIAL packet, and what the kernel's skb_checksum_help
 * does in software when a packet leaves through a device that cannot. Used where a packet
 * from an offloading link goes on to one that checks (forwarding), and for captures, so a
 * trace shows the checksums a wire would carry.
 */
import { checksumPartial, finishChecksum, pseudoHeaderSumV4, pseudoHeaderSumV6 } from './checksum.ts';

const TCP = 6;
const UDP = 17;

/**
 * Computes the TCP or UDP checksum of the IP packet `pkt` in place. Does nothing for other
 * protocols, for fragments (the checksum covers the whole datagram), for IPv6 packets with
 * extension headers, and for anything too short to be what it says. Returns whether it wrote.
 */
export function completeTransportChecksum(pkt: Uint8Array): boolean {
  if (pkt.length < 1) return false;
  const version = pkt[0] >> 4;
  let proto: number;
  let at: number;
  let len: number;
  let sum: number;
  if (version === 4) {
    if (pkt.length < 20) return false;
    at = (pkt[0] & 0x0f) * 4;
    const total = (pkt[2] << 8) | pkt[3];
    // More fragments, or a fragment offset: not a whole datagram.
    if ((pkt[6] & 0x3f) !== 0 || pkt[7] !== 0 || at < 20 || total > pkt.length || total < at) return false;
    proto = pkt[9];
    len = total - at;
    const src = ((pkt[12] << 24) | (pkt[13] << 16) | (pkt[14] << 8) | pkt[15]) >>> 0;
    const dst = ((pkt[16] << 24) | (pkt[17] << 16) | (pkt[18] << 8) | pkt[19]) >>> 0;
    sum = pseudoHeaderSumV4(src, dst, proto, len);
  } else if (version === 6) {
    if (pkt.length < 40) return false;
    proto = pkt[6];
    at = 40;
    len = (pkt[4] << 8) | pkt[5];
    if (at + len > pkt.length) return false;
    sum = pseudoHeaderSumV6(pkt.subarray(8, 24), pkt.subarray(24, 40), proto, len);
  } else return false;
  const field = proto === TCP ? 16 : proto === UDP ? 6 : -1;
  if (field < 0 || len < field + 2) return false;
  const seg = pkt.subarray(at, at + len);
  seg[field] = 0;
  seg[field + 1] = 0;
  let c = finishChecksum(checksumPartial(seg, sum));
  if (proto === UDP && c === 0) c = 0xffff; // RFC 768: a computed 0 is sent as all ones
  seg[field] = c >> 8;
  seg[field + 1] = c & 0xff;
  return true;
}

/** As completeTransportChecksum, for a frame of `linkType` (Ethernet: IPv4/IPv6 ethertypes, one VLAN tag). */
export function completeFrameChecksum(frame: Uint8Array, linkType: 'ethernet' | 'ip'): boolean {
  if (linkType === 'ip') return completeTransportChecksum(frame);
  if (frame.length < 14) return false;
  let at = 12;
  let type = (frame[at] << 8) | frame[at + 1];
  if (type === 0x8100 && frame.length >= 18) {
    at += 4;
    type = (frame[at] << 8) | frame[at + 1];
  }
  if (type !== 0x0800 && type !== 0x86dd) return false;
  return completeTransportChecksum(frame.subarray(at + 2));
}
