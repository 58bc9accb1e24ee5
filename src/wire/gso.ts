/**
 * Software segmentation of a TCP super-segment (the kernel's GSO, tcp_gso_segment): a TCP/IP
 * packet carrying more than one segment's worth of data, as TCP builds it for a device that
 * takes super-segments (Device.gsoMaxSize, the kernel's TSO), is cut into the segments a wire
 * carries, each `gsoSize` bytes of data but the last. Used where a super-segment meets
 * something that needs real segments: a device without the capability, an impaired memory
 * link (loss and reordering act on wire frames), a router forwarding to a smaller MTU.
 *
 * Each segment gets a copy of the link prefix (whatever precedes the IP header in the
 * frame), the IP header (IPv4: total length, identification + i, header checksum; IPv6:
 * payload length) and the TCP header with the sequence number advanced. As tcp_gso_segment
 * does: FIN and PSH stay on the last segment only, CWR on the first only. The TCP checksum is
 * computed when `checksums` is set, else left 0 (the device or the far end's offload owns it).
 */
import { internetChecksumRange, pseudoHeaderSumV4, pseudoHeaderSumV6 } from './checksum.ts';

const TCP = 6;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/**
 * The segments of the TCP super-segment whose IP header starts at `frame[l3]`, or null when
 * it is not one this can cut (not TCP, a fragment, IPv6 with extension headers, lengths that
 * do not add up). A packet whose data fits in one segment comes back as one frame (a copy).
 */
export function segmentTcp(
  frame: Uint8Array,
  l3: number,
  gsoSize: number,
  checksums: boolean,
  alloc: (length: number) => Uint8Array = (n) => new Uint8Array(n),
): Uint8Array[] | null {
  // Its payload may not be in it yet (deferPayload): it is read here.
  fillPayload(frame);
  if (!(gsoSize > 0) || frame.length < l3 + 1) return null;
  const version = frame[l3] >> 4;
  let ipHl: number;
  let ipTotal: number;
  if (version === 4) {
    if (frame.length < l3 + 20) return null;
    ipHl = (frame[l3] & 0x0f) * 4;
    ipTotal = (frame[l3 + 2] << 8) | frame[l3 + 3];
    if (frame[l3 + 9] !== TCP || (frame[l3 + 6] & 0x3f) !== 0 || frame[l3 + 7] !== 0) return null;
  } else if (version === 6) {
    if (frame.length < l3 + 40 || frame[l3 + 6] !== TCP) return null;
    ipHl = 40;
    ipTotal = 40 + ((frame[l3 + 4] << 8) | frame[l3 + 5]);
  } else return null;
  const tcpAt = l3 + ipHl;
  if (ipHl < 20 || l3 + ipTotal > frame.length || ipTotal < ipHl + 20) return null;
  const thl = (frame[tcpAt + 12] >> 4) * 4;
  if (thl < 20 || ipHl + thl > ipTotal) return null;
  const dataAt = tcpAt + thl;
  const dataLen = ipTotal - ipHl - thl;
  const headLen = dataAt; // link prefix + IP header + TCP header
  const seq0 =
    ((frame[tcpAt + 4] << 24) | (frame[tcpAt + 5] << 16) | (frame[tcpAt + 6] << 8) | frame[tcpAt + 7]) >>> 0;
  const flags = frame[tcpAt + 13];
  const id0 = version === 4 ? (frame[l3 + 4] << 8) | frame[l3 + 5] : 0;
  const count = Math.max(1, Math.ceil(dataLen / gsoSize));
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const off = i * gsoSize;
    const len = Math.min(gsoSize, dataLen - off);
    const seg = alloc(headLen + len);
    seg.set(frame.subarray(0, headLen), 0);
    seg.set(frame.subarray(dataAt + off, dataAt + off + len), headLen);
    const ipLen = ipHl + thl + len;
    if (version === 4) {
      seg[l3 + 2] = ipLen >> 8;
      seg[l3 + 3] = ipLen & 0xff;
      const id = (id0 + i) & 0xffff;
      seg[l3 + 4] = id >> 8;
      seg[l3 + 5] = id & 0xff;
      seg[l3 + 10] = 0;
      seg[l3 + 11] = 0;
      const c = internetChecksumRange(seg, l3, l3 + ipHl);
      seg[l3 + 10] = c >> 8;
      seg[l3 + 11] = c & 0xff;
    } else {
      const pl = ipLen - 40;
      seg[l3 + 4] = pl >> 8;
      seg[l3 + 5] = pl & 0xff;
    }
    const seq = (seq0 + off) >>> 0;
    seg[tcpAt + 4] = seq >>> 24;
    seg[tcpAt + 5] = (seq >>> 16) & 0xff;
    seg[tcpAt + 6] = (seq >>> 8) & 0xff;
    seg[tcpAt + 7] = seq & 0xff;
    let f = flags;
    if (i < count - 1) f &= ~(TCP_FIN | TCP_PSH);
    if (i > 0) f &= ~TCP_CWR;
    seg[tcpAt + 13] = f;
    seg[tcpAt + 16] = 0;
    seg[tcpAt + 17] = 0;
    if (checksums) {
      const tcpLen = thl + len;
      const sum =
        version === 4
          ? pseudoHeaderSumV4(readU32(seg, l3 + 12), readU32(seg, l3 + 16), TCP, tcpLen)
          : pseudoHeaderSumV6(seg.subarray(l3 + 8, l3 + 24), seg.subarray(l3 + 24, l3 + 40), TCP, tcpLen);
      const c = internetChecksumRange(seg, tcpAt, tcpAt + tcpLen, sum);
      seg[tcpAt + 16] = c >> 8;
      seg[tcpAt + 17] = c & 0xff;
    }
    out.push(seg);
  }
  return out;
}

/**
 * The gso size of super-segment frames, by their buffer (what the kernel keeps in
 * skb_shinfo): set where TCP builds one, read where a whole super-segment arrives somewhere
 * that must cut it (a router forwarding it). Keyed by the ArrayBuffer, which every view of
 * the frame shares; a super-segment is larger than any pooled frame, so the buffer is its own.
 */
const gsoSizes = new WeakMap<ArrayBufferLike, number>();

/** Records that the frame in `bytes`'s buffer is a super-segment of `gsoSize`-byte segments. */
export function markSuperSegment(bytes: Uint8Array, gsoSize: number): void {
  gsoSizes.set(bytes.buffer, gsoSize);
}

/** Forgets the gso size recorded for `bytes`'s buffer (the buffer is reused for another frame). */
export function unmarkSuperSegment(bytes: Uint8Array): void {
  gsoSizes.delete(bytes.buffer);
}

/** The gso size of the super-segment `bytes` is (a view of), or 0. */
export function superSegmentGsoSize(bytes: Uint8Array): number {
  return gsoSizes.get(bytes.buffer) ?? 0;
}

/**
 * A super-segment whose payload was not copied into its frame (Device.txGather): the frame
 * being sent, where its payload belongs in it, and the payload (a view of the sender's send
 * ring, in a SharedArrayBuffer, unchanged until acknowledged: TcpEnv.output). Frames go from
 * TCP to the device synchronously, so one slot suffices: `deferPayload` fills it, the device
 * takes it (`takePayload`), and anything else that would read the frame first fills the
 * payload in (`fillPayload`: segmentTcp does, and the sender after the send returns, for a
 * frame left waiting for ARP).
 */
let deferredFrame: Uint8Array | null = null;
let deferredAt = 0;
let deferredPayload: Uint8Array | null = null;

/** `frame[at..]` is `payload`'s place; left unfilled for a device that takes it by reference. */
export function deferPayload(frame: Uint8Array, at: number, payload: Uint8Array): void {
  fillPayload();
  deferredFrame = frame;
  deferredAt = at;
  deferredPayload = payload;
}

/**
 * For the device `bytes` (a view of the frame, from any offset) is handed to: the payload it
 * must send by reference after `bytes.length - payload.length` bytes of the frame, or null
 * when the frame is complete. The device then owns the reference.
 */
export function takePayload(bytes: Uint8Array): Uint8Array | null {
  if (deferredFrame === null || deferredFrame.buffer !== bytes.buffer) return null;
  const p = deferredPayload;
  deferredFrame = null;
  deferredPayload = null;
  return p;
}

/** Copies a deferred payload into its frame (`bytes`: only when that is the frame's buffer; omitted: whichever). */
export function fillPayload(bytes?: Uint8Array): void {
  const f = deferredFrame;
  if (f === null || (bytes !== undefined && bytes.buffer !== f.buffer)) return;
  f.set(deferredPayload!, deferredAt);
  deferredFrame = null;
  deferredPayload = null;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** Where the IP header starts in a frame of `linkType` (Ethernet: after one optional VLAN tag); -1: not IP. */
export function ipOffset(frame: Uint8Array, linkType: 'ethernet' | 'ip'): number {
  if (linkType === 'ip') return 0;
  if (frame.length < 14) return -1;
  let at = 12;
  let type = (frame[at] << 8) | frame[at + 1];
  if (type === 0x8100 && frame.length >= 18) {
    at += 4;
    type = (frame[at] << 8) | frame[at + 1];
  }
  return type === 0x0800 || type === 0x86dd ? at + 2 : -1;
}

/**
 * Buffers for the super-segments GRO builds (src/ip/gro.ts), handed back by the one reader
 * that held the frame alone once it has read it all (the receive queue, src/tcp/recv-queue.ts):
 * a bulk receiver then cycles a few buffers instead of allocating (and zeroing) 64 KiB per run,
 * ~200 ns per segment at MTU 1500. Each is RUN_BUFFER bytes whatever the run's length, so any
 * one fits the next run; only buffers made here are taken back, once each (the set forgets a
 * buffer while it is out of the pool's hands and in use). No device ever sees them: GRO hands
 * its runs to IP, which delivers them locally or forwards them (a forwarded frame belongs to
 * its device and never reaches a receive queue).
 */
export const RUN_BUFFER = 65536 + 128;
const RUN_KEPT = 16;
const runFree: ArrayBuffer[] = [];
const runInUse = new WeakSet<ArrayBufferLike>();

/** A frame of `length` (at most RUN_BUFFER) bytes at the start of a run buffer; its bytes are stale: write them all. */
export function allocRunFrame(length: number): Uint8Array {
  const buf = runFree.pop() ?? new ArrayBuffer(RUN_BUFFER);
  runInUse.add(buf);
  return new Uint8Array(buf, 0, length);
}

/**
 * Hands back the run buffer behind `bytes` (a view of a frame allocRunFrame made): the caller
 * read it all and holds the only reference. Anything else is left to the garbage collector.
 */
export function recycleRunFrame(bytes: Uint8Array): void {
  const buf = bytes.buffer;
  if (!runInUse.has(buf)) return;
  runInUse.delete(buf);
  if (runFree.length < RUN_KEPT) runFree.push(buf as ArrayBuffer);
}
