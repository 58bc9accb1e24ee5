// Helpers the test pages share (plain JS: the browser loads these files as they are).

/** `size` bytes of a pattern that does not repeat with any small period (as test/helpers/stream-bytes.ts). */
export function patternBytes(size) {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 11)) & 0xff;
  return data;
}

/** Reads until the peer's FIN; returns how many bytes came and whether each matched the pattern. */
export async function recvPattern(sock) {
  let n = 0;
  let mismatches = 0;
  for (;;) {
    const d = await sock.recv(65536);
    if (d.length === 0) break;
    for (let i = 0; i < d.length; i++) {
      const k = n + i;
      if (d[i] !== ((k * 31 + (k >>> 11)) & 0xff)) mismatches++;
    }
    n += d.length;
  }
  return { bytes: n, mismatches };
}
