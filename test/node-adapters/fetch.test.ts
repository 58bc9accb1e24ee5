import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import { stackFetch, undiciConnector } from '../../src/node/agents.ts';
import { SERVER, within, withTwoHosts } from './helpers.ts';

/** Deterministic pseudo-random bytes. */
function payload(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  return b;
}

test('fetch (undici) through a stack dispatcher downloads 16 MiB byte-exact', async () => {
  await withTwoHosts(
    async (vn) => {
      const body = payload(16 << 20);
      const expected = createHash('sha256').update(body).digest('hex');
      const srv = http.createServer((req, res) => {
        if (req.url === '/blob') {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
          res.end(body);
        } else res.end(JSON.stringify({ from: req.socket.remoteAddress, url: req.url }));
      });
      await vn.net('server').attach(srv, 8080);
      const f = await stackFetch(vn.net('client'));
      console.log(`fetch implementation: ${f.impl}`);
      try {
        const small = await within(f.fetch('http://server:8080/hello'), 10_000, 'small fetch');
        assert.equal(small.status, 200);
        assert.deepEqual(await small.json(), { from: '10.0.0.2', url: '/hello' });

        const t0 = performance.now();
        const res = await within(f.fetch(`http://${SERVER}:8080/blob`), 10_000, 'headers');
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-length'), String(body.length));
        const h = createHash('sha256');
        let n = 0;
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        await within(
          (async () => {
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              h.update(value);
              n += value.length;
            }
          })(),
          60_000,
          'body',
        );
        assert.equal(n, body.length);
        assert.equal(h.digest('hex'), expected);
        console.log(`16 MiB in ${(performance.now() - t0).toFixed(0)} ms`);
      } finally {
        await f.close();
        srv.close();
      }
    },
    { mtu: 9000 },
  );
});

test('undici connector: refused connections fail the fetch with ECONNREFUSED; callbacks are asynchronous', async () => {
  await withTwoHosts(async (vn) => {
    const connect = undiciConnector(vn.net('client'));
    let sync = true;
    const err = await new Promise<Error & { code?: string }>((resolve) => {
      connect({ hostname: SERVER, protocol: 'http:', port: '9' }, (...args) => resolve(args[0] as Error));
      sync = false;
    });
    assert.equal(sync, false);
    assert.equal(err.code, 'ECONNREFUSED');

    const f = await stackFetch(vn.net('client'));
    try {
      await assert.rejects(f.fetch(`http://${SERVER}:8081/`), (e: Error & { cause?: { code?: string } }) => {
        assert.equal(e.cause?.code, 'ECONNREFUSED');
        return true;
      });
    } finally {
      await f.close();
    }
  });
});
