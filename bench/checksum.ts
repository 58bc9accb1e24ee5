// Internet checksum throughput vs a plain memory copy of the same bytes.
// Run: node --import tsx bench/checksum.ts
// Both paths: the WebAssembly SIMD sum (copy into its memory, then sum) and the JS word loop
// (engines without WebAssembly SIMD).
// Timed by the process's CPU time (user + system), so other load on a shared machine counts less.
// Not a test: prints numbers, never fails on speed.
import { internetChecksum, useSimdChecksum } from '../src/wire/checksum.ts';

function measure(label: string, size: number, fn: (i: number) => number): number {
  const budgetBytes = 4e8;
  const iters = Math.max(10, Math.floor(budgetBytes / size));
  let sink = 0;
  for (let i = 0; i < Math.floor(iters / 10); i++) sink += fn(i); // warm up
  const t0 = process.cpuUsage();
  for (let i = 0; i < iters; i++) sink += fn(i);
  const t = process.cpuUsage(t0);
  const ms = (t.user + t.system) / 1000;
  const mbps = (size * iters) / (ms * 1e3);
  if (sink === -1) console.log(label); // keep `sink` alive
  return mbps;
}

const rows: string[][] = [['path', 'size', 'alignment', 'checksum MB/s', 'copy MB/s', 'checksum/copy']];
// Each path's first row once more at the end: the first measurement in a process runs slow
// while the engine settles (compare them).
for (const path of ['simd', 'js', 'simd', 'js']) {
  const again = rows.some((r) => r[0] === path);
  for (const size of again ? [200] : [200, 1500, 65536]) {
    for (const offset of again ? [0] : [0, 1, 2]) {
      // offset 2: the IP header of an Ethernet frame starts 14 bytes in (not 4-aligned).
      const backing = new Uint8Array(size + 8);
      for (let i = 0; i < backing.length; i++) backing[i] = (i * 131 + 7) & 0xff;
      const src = backing.subarray(offset, offset + size);
      const dst = new Uint8Array(size);
      if (useSimdChecksum(path === 'simd') !== (path === 'simd')) continue;
      const ck = measure('checksum', size, () => internetChecksum(src));
      const cp = measure('copy', size, () => {
        dst.set(src);
        return dst[0];
      });
      rows.push([
        again ? `${path} again` : path,
        String(size),
        offset === 0 ? 'aligned' : `+${offset}`,
        ck.toFixed(0),
        cp.toFixed(0),
        (ck / cp).toFixed(2),
      ]);
    }
  }
}
useSimdChecksum(true);
print(rows);

/**
 * Summing during the copy into the frame (Linux's csum_partial_copy) against copying and then
 * summing: the fused loop at its best (both 4-aligned, 32-bit words read once, written once,
 * added), against set() plus the SIMD sum. MB/s of bytes copied and summed.
 */
function fusedCopySum(src: Uint32Array, dst: Uint32Array): number {
  let acc = 0;
  for (let i = 0; i < src.length; i++) {
    const w = src[i];
    dst[i] = w;
    acc += w;
  }
  return acc;
}
const fused: string[][] = [
  ['size', 'fused JS copy+sum MB/s', 'set() + SIMD sum MB/s', 'set() + JS sum MB/s'],
];
for (const size of [1500, 65536]) {
  const src = new Uint8Array(size).map((_, i) => i * 131 + 7);
  const dst = new Uint8Array(size);
  const [s32, d32] = [new Uint32Array(src.buffer), new Uint32Array(dst.buffer)];
  const f = measure('fused', size, () => fusedCopySum(s32, d32));
  const copyThenSum = () => {
    dst.set(src);
    return internetChecksum(dst);
  };
  const simd = measure('set+simd', size, copyThenSum);
  useSimdChecksum(false);
  const js = measure('set+js', size, copyThenSum);
  useSimdChecksum(true);
  fused.push([String(size), f.toFixed(0), simd.toFixed(0), js.toFixed(0)]);
}
print(fused);

function print(table: string[][]): void {
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  for (const r of table) console.log(r.map((x, c) => x.padStart(widths[c])).join('  '));
}
