/**
 * `npm run build:browser`: ES-module bundles for browsers, made with esbuild.
 *
 *   dist/browser/sockstack.js  everything of the core (src/index.ts): the stack, simulated
 *                              networks, packet capture, the page links, the VM gateway,
 *                              the Wisp client
 *   dist/browser/stack.js      the stack alone (src/core.ts): Stack, TCP, UDP, IPv4, IPv6, the
 *                              sockets API, getaddrinfo (numeric names and the hosts
 *                              tables), loopback, the real-time driver and address
 *                              parsing; without BBR, forwarding, multicast routing,
 *                              makefile() and sendfile(), the DNS client, the ping
 *                              client (ABSENT below) and the header codecs, which
 *                              sockstack.js and esm/ have
 *   dist/browser/links.js      only the page links (MessagePort, WebSocket), for pages
 *                              that get the core some other way
 *   dist/browser/web/          the course page (src/web, what `sockstack web` serves):
 *                              index.html, style.css, page.js; open it from any static server
 *   dist/browser/esm/          the same core as one minified ES module per source file,
 *                              marked `sideEffects: false`: a page's bundler keeps only
 *                              the modules it imports (index.js is the entry)
 *
 * Prints each bundle's minified and gzipped size, and fails when the stack (stack.js) is
 * over 100 KB gzipped.
 *
 *   node --import tsx scripts/build-browser.ts [--outdir DIR]
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Plugin } from 'esbuild';
import { minify } from 'terser';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The budget of the stack bundle (stack.js), gzipped. */
export const CORE_GZIP_LIMIT = 100_000;

export const ENTRIES = {
  sockstack: join(root, 'src/index.ts'),
  stack: join(root, 'src/core.ts'),
  links: join(root, 'src/link/browser.ts'),
} as const;

export interface BundleSize {
  name: keyof typeof ENTRIES;
  file: string;
  bytes: number;
  gzip: number;
}

export const BUILD_OPTIONS = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
} as const;

/**
 * What the stack alone (stack.js) builds without: each `*-absent.ts` stands in for the module
 * its importers name. BBR (a Linux module, tcp_bbr), a router's forwarding (IPv4 and IPv6,
 * and IPv6 Router Advertisements: stack.js is a host's stack), multicast routing (Linux's
 * CONFIG_IP_MROUTE/CONFIG_IPV6_MROUTE) and the sockets' file faces, makefile() and sendfile()
 * (Python's socket.py library code over the _socket system calls), and the DNS client
 * (the stub resolver and its message codec: the C library's, glibc's getaddrinfo over UDP,
 * not the kernel's; numeric names and the hosts tables still resolve) and the ping client
 * (ping(8), a program: the stack still answers echo requests).
 */
const ABSENT: Record<string, { importers: RegExp; path: string }> = {
  './bbr.ts': { importers: /congestion[\\/]factory\.ts$/, path: 'src/tcp/congestion/bbr-absent.ts' },
  './mroute.ts': { importers: /ip[\\/]ipv[46]\.ts$/, path: 'src/ip/mroute-absent.ts' },
  './file.ts': { importers: /socket[\\/](socket|index)\.ts$/, path: 'src/socket/file-absent.ts' },
  './sendfile.ts': { importers: /socket[\\/](socket|index)\.ts$/, path: 'src/socket/file-absent.ts' },
  './forward.ts': { importers: /ip[\\/]ipv4\.ts$/, path: 'src/ip/forward-absent.ts' },
  './ipv6-forward.ts': { importers: /ip[\\/]ipv6\.ts$/, path: 'src/ip/forward-absent.ts' },
  './ndp-router.ts': { importers: /ip[\\/]ndp\.ts$/, path: 'src/ip/forward-absent.ts' },
  '../dns/resolver.ts': { importers: /socket[\\/]stack-resolver\.ts$/, path: 'src/dns/resolver-absent.ts' },
  './ping.ts': { importers: /ip[\\/]ipv4\.ts$/, path: 'src/ip/ping-absent.ts' },
  './ipv6-ping.ts': { importers: /ip[\\/]ipv6\.ts$/, path: 'src/ip/ping-absent.ts' },
};

export const stackAlone: Plugin = {
  name: 'stack-alone',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/[\w/-]+\.ts$/ }, (args) => {
      const absent = Object.hasOwn(ABSENT, args.path) ? ABSENT[args.path] : undefined;
      return absent?.importers.test(args.importer) ? { path: join(root, absent.path) } : undefined;
    });
  },
};

export async function buildBrowser(outdir = join(root, 'dist/browser')): Promise<BundleSize[]> {
  mkdirSync(outdir, { recursive: true });
  const { stack, ...rest } = ENTRIES;
  await build({ ...BUILD_OPTIONS, entryPoints: rest, outdir });
  // The stack alone, without what ABSENT lists.
  await build({ ...BUILD_OPTIONS, entryPoints: { stack }, outdir, plugins: [stackAlone] });
  // A second pass over each bundle with terser (compress twice, mangle), which finds what
  // esbuild's single-pass minifier leaves: about 2.5 % of the gzipped stack. The source map
  // chains back to the sources through esbuild's.
  for (const name of Object.keys(ENTRIES)) await compressBundle(join(outdir, `${name}.js`));
  await buildModules(join(outdir, 'esm'));
  await writeWebPage(join(outdir, 'web'));
  return (Object.keys(ENTRIES) as (keyof typeof ENTRIES)[]).map((name) => {
    const file = join(outdir, `${name}.js`);
    const code = readFileSync(file);
    return { name, file, bytes: code.length, gzip: gzipSync(code, { level: 9 }).length };
  });
}

/** Re-minifies a bundle in place with terser, keeping its linked source map. */
export async function compressBundle(file: string): Promise<void> {
  const mapFile = `${file}.map`;
  const base = file.slice(file.lastIndexOf('/') + 1);
  const code = readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
  const out = await minify(code, {
    module: true,
    ecma: 2020,
    compress: { passes: 2 },
    mangle: true,
    sourceMap: { content: readFileSync(mapFile, 'utf8'), url: `${base}.map` },
  });
  if (out.code === undefined) throw new Error(`terser produced nothing for ${file}`);
  writeFileSync(file, out.code);
  if (typeof out.map === 'string') writeFileSync(mapFile, out.map);
}

/** The course page, as `sockstack web` serves it. */
async function writeWebPage(dir: string): Promise<void> {
  const { buildWebPage } = await import('../src/cli/web.ts');
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of await buildWebPage()) writeFileSync(join(dir, name), body);
}

/** The core's source files: src/ outside src/node and src/cli. */
function coreSources(dir = join(root, 'src')): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (p !== join(root, 'src/node') && p !== join(root, 'src/cli')) out.push(...coreSources(p));
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Leaves every relative import to its own output file (`./x.ts` → `./x.js`). */
const perModule: Plugin = {
  name: 'per-module',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) =>
      args.kind === 'entry-point' ? undefined : { path: args.path.replace(/\.ts$/, '.js'), external: true },
    );
  },
};

/** One ES module per core source file, for bundlers (module-level tree shaking). */
async function buildModules(outdir: string): Promise<void> {
  await build({
    entryPoints: coreSources(),
    outbase: join(root, 'src'),
    outdir,
    bundle: true,
    plugins: [perModule],
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  writeFileSync(
    join(outdir, 'package.json'),
    `${JSON.stringify({ type: 'module', sideEffects: false }, null, 2)}\n`,
  );
}

const kb = (n: number): string => `${(n / 1000).toFixed(1)} KB`;

async function main(): Promise<number> {
  const i = process.argv.indexOf('--outdir');
  const outdir = i > 0 ? process.argv[i + 1] : undefined;
  const sizes = await buildBrowser(outdir);
  for (const s of sizes) {
    console.log(
      `${relative(process.cwd(), s.file).padEnd(28)} ${kb(s.bytes).padStart(9)} minified  ${kb(s.gzip).padStart(8)} gzipped`,
    );
  }
  const core = sizes.find((s) => s.name === 'stack');
  if (core && core.gzip > CORE_GZIP_LIMIT) {
    console.error(
      `build:browser: the stack bundle is ${kb(core.gzip)} gzipped, over the ${kb(CORE_GZIP_LIMIT)} budget`,
    );
    return 1;
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}
