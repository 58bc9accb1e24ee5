/** Small helpers for byte-exact transfers over the sockets API. */
import type { Socket } from '../../src/socket/socket.ts';

/** `size` bytes of a pattern that does not repeat with any small period. */
export function patternBytes(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 11)) & 0xff;
  return data;
}

/** Everything `sock` receives until the peer's FIN, as one array. */
export async function recvAll(sock: Socket): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const d = await sock.recv(65536);
    if (d.length === 0) break;
    parts.push(d);
    n += d.length;
  }
  const all = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all;
}
