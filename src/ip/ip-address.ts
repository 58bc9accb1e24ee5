/**
 * Family-generic checks on `IpAddress` for the transports and sockets, so they never
 * look at a family's numbers themselves.
 */
import type { IpAddress } from '../wire/address.ts';

export { ipEquals, isUnspecified } from '../wire/address.ts';

/** 0.0.0.0: the wildcard of an IPv4 socket. */
export const IPV4_UNSPECIFIED: IpAddress = Object.freeze({ family: 4, v4: 0 });

/** 224.0.0.0/4 (RFC 5771), ff00::/8 (RFC 4291 §2.7). */
export function isMulticast(a: IpAddress): boolean {
  return a.family === 4 ? a.v4 >>> 28 === 0xe : a.v6[0] === 0xff;
}

/** 127.0.0.0/8 (RFC 1122 §3.2.1.3), ::1 (RFC 4291 §2.5.3). */
export function isLoopback(a: IpAddress): boolean {
  if (a.family === 4) return a.v4 >>> 24 === 127;
  for (let i = 0; i < 15; i++) if (a.v6[i] !== 0) return false;
  return a.v6[15] === 1;
}

/** 32 bits of an address for flow hashing (IPv6: its four words XORed). */
export function ipHashWord(a: IpAddress): number {
  if (a.family === 4) return a.v4;
  const b = a.v6;
  let h = 0;
  for (let i = 0; i < 16; i += 4) h ^= (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
  return h >>> 0;
}
