/** A tiny static file server on 127.0.0.1 for the browser tests: URL prefixes map to directories. */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
};

const BLANK =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sockstack test</title></head><body></body></html>\n';

/** Serves `mounts` (prefix → directory; the longest prefix wins) and /pages/blank.html. */
export async function serveStatic(
  mounts: Record<string, string>,
): Promise<{ url: string; close(): Promise<void> }> {
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server = http.createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/pages/blank.html') {
      res.writeHead(200, { 'content-type': TYPES['.html'] });
      res.end(BLANK);
      return;
    }
    const prefix = prefixes.find((p) => path.startsWith(p));
    const dir = prefix === undefined ? undefined : normalize(mounts[prefix]);
    const file = dir === undefined ? undefined : normalize(join(dir, path.slice(prefix?.length)));
    if (dir === undefined || file === undefined || !file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
