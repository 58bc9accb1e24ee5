/**
 * The transfer routes of `sockstack tap --service http`, shared with bench/tap-http.ts's
 * server on the kernel, so both ends of that comparison run the same handler:
 *   GET/HEAD /bytes/N   N random bytes (N up to MAX_BYTES), for download tests;
 *   POST/PUT /discard   reads the request body and drops it, answers its length, for uploads.
 */
import { randomFillSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest /bytes/N. */
export const MAX_BYTES = 1 << 30;

/** Handles `req` when it is one of the transfer routes; false when it is not. */
export function transferRoute(req: IncomingMessage, res: ServerResponse): boolean {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/discard' && (req.method === 'POST' || req.method === 'PUT')) {
    let n = 0;
    req.on('data', (b: Buffer) => {
      n += b.length;
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${n}\n`);
    });
    return true;
  }
  const bytes = /^\/bytes\/(\d+)$/.exec(path);
  if (!bytes) return false;
  const n = Number(bytes[1]);
  if (!Number.isSafeInteger(n) || n > MAX_BYTES) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`N is at most ${MAX_BYTES}\n`);
    return true;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  let left = n;
  const pump = (): void => {
    while (left > 0) {
      const k = Math.min(left, 64 * 1024);
      // A fresh buffer per write: the stream may hold on to it until it is sent.
      const b = randomFillSync(Buffer.allocUnsafe(k));
      left -= k;
      if (!res.write(b)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => {
    left = 0;
  });
  pump();
  return true;
}
