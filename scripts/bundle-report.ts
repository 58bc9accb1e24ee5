/**
 * What the stack bundle (dist/browser/stack.js) is made of: builds it exactly as
 * `npm run build:browser` does (esbuild with the ABSENT stand-ins, then terser) into a
 * temporary folder, with esbuild's metafile, and prints each source module's minified bytes
 * in the bundle and an estimate of its gzipped share, largest first, then the bundle's exact
 * gzipped size against the budget.
 *
 * The share is the module's part of the minified bytes times the bundle's gzip ratio: gzip
 * compresses across module boundaries, so a module's true cost is not separable; the
 * estimate ranks modules and folders, the total line is exact. Takes about 3 s.
 *
 *   node --import tsx scripts/bundle-report.ts [--top N] [--folders]
 *
 * --top N     how many modules to list (default 40; 0 lists all)
 * --folders   sum by folder (src/tcp, src/ip, ...) instead of by module
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { BUILD_OPTIONS, CORE_GZIP_LIMIT, compressBundle, ENTRIES, stackAlone } from './build-browser.ts';

export interface ModuleSize {
  /** A source file (or with `byFolder`, a folder), relative to the repository. */
  name: string;
  /** Its minified bytes in esbuild's output. */
  bytes: number;
}

export interface StackReport {
  /** Largest first. */
  modules: ModuleSize[];
  /** esbuild's minified output, before terser. */
  esbuildBytes: number;
  /** stack.js as `npm run build:browser` writes it, and gzipped. */
  bytes: number;
  gzip: number;
}

/** Builds stack.js as build-browser.ts does, into a temporary folder, and says what it holds. */
export async function stackReport(byFolder = false): Promise<StackReport> {
  const outdir = mkdtempSync(join(tmpdir(), 'sockstack-bundle-report-'));
  try {
    const result = await build({
      ...BUILD_OPTIONS,
      entryPoints: { stack: ENTRIES.stack },
      outdir,
      plugins: [stackAlone],
      metafile: true,
    });
    const file = join(outdir, 'stack.js');
    const esbuildBytes = readFileSync(file).length;
    await compressBundle(file);
    const code = readFileSync(file);
    const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
    if (!output) throw new Error('esbuild wrote no entry output');
    const sums = new Map<string, number>();
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = byFolder ? dirname(input) : input;
      sums.set(name, (sums.get(name) ?? 0) + bytesInOutput);
    }
    const modules = [...sums].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
    return { modules, esbuildBytes, bytes: code.length, gzip: gzipSync(code, { level: 9 }).length };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const t = args.indexOf('--top');
  const top = t >= 0 ? Number(args[t + 1]) : 40;
  const r = await stackReport(args.includes('--folders'));
  const total = r.modules.reduce((n, m) => n + m.bytes, 0);
  // Terser shrinks esbuild's output further; the gzip ratio is taken against esbuild's bytes.
  const ratio = r.gzip / r.esbuildBytes;
  console.log(`${'module'.padEnd(44)} ${'minified'.padStart(9)} ${'~gzip'.padStart(7)}  share`);
  for (const m of top > 0 ? r.modules.slice(0, top) : r.modules) {
    const share = ((100 * m.bytes) / total).toFixed(1);
    console.log(
      `${m.name.padEnd(44)} ${String(m.bytes).padStart(9)} ${String(Math.round(m.bytes * ratio)).padStart(7)}  ${share.padStart(5)} %`,
    );
  }
  if (top > 0 && r.modules.length > top) console.log(`(${r.modules.length - top} more; --top 0 lists all)`);
  console.log(
    `\nstack.js: ${r.bytes} bytes minified (esbuild ${r.esbuildBytes}), ${r.gzip} gzipped; budget ${CORE_GZIP_LIMIT}, room ${CORE_GZIP_LIMIT - r.gzip}`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
