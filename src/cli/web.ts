/**
 * `sockstack web`: serves the course page (src/web) on 127.0.0.1, where the course's
 * echo session runs in the browser on sockstack, frame by frame. The page is bundled
 * with esbuild when it is installed (a checkout); otherwise the prebuilt copy in
 * dist/browser/web (from `npm run build:browser`) is served.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK, num, type Parsed, str } from './command.ts';

/** The page's sources: src/web (from src/cli and from dist/cli alike, since the package ships src). */
const SOURCES = [new URL('../web/', import.meta.url), new URL('../../src/web/', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((d) => existsSync(join(d, 'index.html')) && existsSync(join(d, 'page.ts')));
const PREBUILT = fileURLToPath(new URL('../../dist/browser/web/', import.meta.url));

/** The page's files by name (index.html, style.css, page.js, page.js.map). */
export type WebPage = ReadonlyMap<string, Uint8Array>;

/** Bundles the page with esbuild (a devDependency), in memory. */
export async function buildWebPage(options: { minify?: boolean } = {}): Promise<WebPage> {
  if (!SOURCES) throw new Error('the page sources (src/web) are not here');
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: { page: join(SOURCES, 'page.ts') },
    outdir: '/',
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: options.minify ?? true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  });
  const files = new Map<string, Uint8Array>();
  for (const f of out.outputFiles) files.set(f.path.replace(/^.*\//, ''), f.contents);
  for (const name of ['index.html', 'style.css']) files.set(name, readFileSync(join(SOURCES, name)));
  return files;
}

/** The page: bundled now when esbuild is installed, else the copy `npm run build:browser` made. */
export async function loadWebPage(): Promise<WebPage> {
  try {
    return await buildWebPage();
  } catch (e) {
    if (!existsSync(join(PREBUILT, 'index.html'))) throw e;
    return new Map(readdirSync(PREBUILT).map((n) => [n, readFileSync(join(PREBUILT, n))]));
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

export interface WebServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `page` at http://host:port/ (only its files; anything else is 404). */
export async function serveWebPage(page: WebPage, host = '127.0.0.1', port = 0): Promise<WebServer> {
  const server = http.createServer((req, res) => {
    let name = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
    if (name === '') name = 'index.html';
    const body = page.get(name);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(name)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${a.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const command: Command = {
  spec: {
    name: 'web',
    summary: 'serve the course page: watch the echo session in a browser',
    usage: ['[options]'],
    description:
      "Serves a page where the course's echo session runs in your browser on sockstack:\n" +
      'client, router and server drawn; every frame as nested envelopes (Ethernet →\n' +
      'IPv4 → TCP/UDP → data) as `sockstack demo` prints them; the time–sequence graph\n' +
      'growing as it plays; loss, delay, MTU, TCP/UDP and a seed to change; step, pause\n' +
      'and replay; the trace downloadable as pcapng. Open the address it prints.\n' +
      'Nothing leaves the page: the network is virtual. Ctrl-C stops the server.',
    options: {
      host: { type: 'string', value: 'ADDR', description: 'address to listen on', default: '127.0.0.1' },
      port: {
        type: 'string',
        short: 'p',
        value: 'PORT',
        description: 'TCP port (0 picks one)',
        default: '8000',
      },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: ['sockstack web', 'sockstack web --port 0', 'npx sockstack web'],
  },
  run: async (p: Parsed, io: CliIo) => {
    const port = num(p, 'port', 8000, { min: 0, max: 65535, integer: true });
    let server: WebServer;
    try {
      server = await serveWebPage(await loadWebPage(), str(p, 'host') ?? '127.0.0.1', port);
    } catch (e) {
      io.err(`sockstack web: ${(e as Error).message}`);
      return EXIT_FAILURE;
    }
    io.out(`sockstack web: open ${server.url} (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await server.close();
    return EXIT_OK;
  },
};
