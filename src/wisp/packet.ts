/**
 * The Wisp v1 packet codec (Wisp protocol specification, "Packet format" and "Packet
 * Types"; the text is CC-BY, this code is ours). One packet is one binary WebSocket
 * message:
 *
 *   type (u8) | stream id (u32, little-endian) | payload (the rest of the message)
 *
 *   0x01 CONNECT   stream type (u8) | destination port (u16 LE) | hostname (UTF-8, the rest)
 *   0x02 DATA      the stream's bytes (the rest)
 *   0x03 CONTINUE  buffer remaining (u32 LE): packets the server can still buffer
 *   0x04 CLOSE     close reason (u8)
 *
 * Like the wire codecs (src/wire/), parsing never throws on bad bytes: it returns a
 * `WireError`, and the multiplexer drops the message and counts it. Parsing checks
 * structure only (lengths, UTF-8); whether a stream type, port or hostname is
 * acceptable is the server's decision (it answers CLOSE 0x41, spec "CONNECT").
 */
import { type WireError, wireError } from '../wire/error.ts';

export const WISP_CONNECT = 0x01;
export const WISP_DATA = 0x02;
export const WISP_CONTINUE = 0x03;
export const WISP_CLOSE = 0x04;

/** Stream types of CONNECT: "0x01 in this field means TCP, and 0x02 means UDP". */
export const WISP_STREAM_TCP = 0x01;
export const WISP_STREAM_UDP = 0x02;

/** Bytes before the payload: type and stream id. */
export const WISP_HEADER_LENGTH = 5;

export type WispPacket =
  | {
      readonly type: typeof WISP_CONNECT;
      readonly streamId: number;
      /** As sent; 0x01 TCP and 0x02 UDP are the defined ones (the server validates). */
      readonly streamType: number;
      readonly port: number;
      readonly hostname: string;
    }
  | { readonly type: typeof WISP_DATA; readonly streamId: number; readonly payload: Uint8Array }
  | { readonly type: typeof WISP_CONTINUE; readonly streamId: number; readonly bufferRemaining: number }
  | { readonly type: typeof WISP_CLOSE; readonly streamId: number; readonly reason: number };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Out = new TextEncoder();

/**
 * Parses one message. DATA's payload is a view into `bytes` (no copy). The hostname
 * of CONNECT runs to the end of the message, so a CONNECT cut after its fixed fields
 * is a CONNECT with a shorter hostname (only a cut inside a UTF-8 sequence shows).
 */
export function parseWispPacket(bytes: Uint8Array): WispPacket | WireError {
  if (bytes.length < WISP_HEADER_LENGTH)
    return wireError('truncated', `wisp: ${bytes.length} bytes, a packet has at least ${WISP_HEADER_LENGTH}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = bytes[0]!;
  const streamId = dv.getUint32(1, true);
  const n = bytes.length - WISP_HEADER_LENGTH;
  switch (type) {
    case WISP_CONNECT: {
      if (n < 3) return wireError('truncated', `wisp CONNECT: payload of ${n} bytes, at least 3 needed`);
      let hostname: string;
      try {
        hostname = utf8.decode(bytes.subarray(WISP_HEADER_LENGTH + 3));
      } catch {
        return wireError('malformed', 'wisp CONNECT: the hostname is not UTF-8');
      }
      return {
        type,
        streamId,
        streamType: bytes[WISP_HEADER_LENGTH]!,
        port: dv.getUint16(WISP_HEADER_LENGTH + 1, true),
        hostname,
      };
    }
    case WISP_DATA:
      return { type, streamId, payload: bytes.subarray(WISP_HEADER_LENGTH) };
    case WISP_CONTINUE:
      if (n < 4) return wireError('truncated', `wisp CONTINUE: payload of ${n} bytes, 4 needed`);
      if (n > 4) return wireError('malformed', `wisp CONTINUE: payload of ${n} bytes, 4 expected`);
      return { type, streamId, bufferRemaining: dv.getUint32(WISP_HEADER_LENGTH, true) };
    case WISP_CLOSE:
      if (n < 1) return wireError('truncated', 'wisp CLOSE: no close reason');
      if (n > 1) return wireError('malformed', `wisp CLOSE: payload of ${n} bytes, 1 expected`);
      return { type, streamId, reason: bytes[WISP_HEADER_LENGTH]! };
    default:
      return wireError('unsupported', `wisp: unknown packet type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

function header(type: number, streamId: number, payloadLength: number): [Uint8Array, DataView] {
  const out = new Uint8Array(WISP_HEADER_LENGTH + payloadLength);
  const dv = new DataView(out.buffer);
  out[0] = type;
  dv.setUint32(1, streamId >>> 0, true);
  return [out, dv];
}

/** One packet's bytes. Throws RangeError for field values the format cannot carry (a caller bug). */
export function emitWispPacket(p: WispPacket): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(p.streamId) || p.streamId < 0 || p.streamId > 0xffffffff)
    throw new RangeError(`wisp: stream id ${p.streamId} is not a u32`);
  switch (p.type) {
    case WISP_CONNECT: {
      if (!Number.isInteger(p.port) || p.port < 0 || p.port > 0xffff)
        throw new RangeError(`wisp CONNECT: port ${p.port} is not a u16`);
      const host = utf8Out.encode(p.hostname);
      const [out, dv] = header(p.type, p.streamId, 3 + host.length);
      out[WISP_HEADER_LENGTH] = p.streamType & 0xff;
      dv.setUint16(WISP_HEADER_LENGTH + 1, p.port, true);
      out.set(host, WISP_HEADER_LENGTH + 3);
      return out as Uint8Array<ArrayBuffer>;
    }
    case WISP_DATA: {
      const [out] = header(p.type, p.streamId, p.payload.length);
      out.set(p.payload, WISP_HEADER_LENGTH);
      return out as Uint8Array<ArrayBuffer>;
    }
    case WISP_CONTINUE: {
      if (!Number.isInteger(p.bufferRemaining) || p.bufferRemaining < 0 || p.bufferRemaining > 0xffffffff)
        throw new RangeError(`wisp CONTINUE: ${p.bufferRemaining} is not a u32`);
      const [out, dv] = header(p.type, p.streamId, 4);
      dv.setUint32(WISP_HEADER_LENGTH, p.bufferRemaining, true);
      return out as Uint8Array<ArrayBuffer>;
    }
    case WISP_CLOSE: {
      const [out] = header(p.type, p.streamId, 1);
      out[WISP_HEADER_LENGTH] = p.reason & 0xff;
      return out as Uint8Array<ArrayBuffer>;
    }
  }
}
