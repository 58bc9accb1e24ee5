import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { StackHttpAgent } from '../../src/node/agents.ts';
import type { StackSocket } from '../../src/node/net-adapter.ts';
import { CLIENT, SERVER, virtualTime, waitEvent, within, withTwoHosts } from './helpers.ts';

// A real gc() for retained-memory measurements (no --expose-gc flag needed).
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function get(
  agent: http.Agent,
  path: string,
  opts: { timeout?: number } = {},
): Promise<{ res: http.IncomingMessage; body: string; req: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: 'server', port: 80, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ res, body, req }));
      res.on('error', reject);
    });
    if (opts.timeout !== undefined) {
      req.setTimeout(opts.timeout, () => req.destroy(new Error('client request timeout')));
    }
    req.on('error', reject);
  });
}

test('node:http over the stack: keep-alive Agent reuses one socket for two requests', async () => {
  await withTwoHosts(async (vn) => {
    const serverSockets = new Set<unknown>();
    const srv = http.createServer((req, res) => {
      serverSockets.add(req.socket);
      res.setHeader('x-remote', `${req.socket.remoteAddress}:${req.socket.remotePort}`);
      res.end(`hello ${req.url}`);
    });
    srv.on('connection', () => {});
    const listening = await vn.net('server').attach(srv, 80);
    assert.equal(listening.address()?.port, 80);
    const agent = new StackHttpAgent(vn.net('client'), { keepAlive: true, maxSockets: 1 });
    const a = await get(agent, '/one');
    assert.equal(a.res.statusCode, 200);
    assert.equal(a.body, 'hello /one');
    const sock1 = a.req.socket as unknown as StackSocket;
    assert.equal(a.res.headers['x-remote'], `${CLIENT}:${sock1.localPort}`);
    // The socket went back to the pool: unref'd, keep-alive on.
    await within(
      new Promise<void>((r) => {
        const check = (): void => {
          if (Object.keys(agent.freeSockets).length > 0) r();
          else setImmediate(check);
        };
        check();
      }),
      2000,
      'socket pooled',
    );
    assert.equal(sock1.connection?.options.keepAlive, true);
    const b = await get(agent, '/two');
    assert.equal(b.body, 'hello /two');
    assert.equal(b.req.reusedSocket, true);
    assert.equal(b.req.socket, a.req.socket);
    assert.equal(serverSockets.size, 1);
    assert.equal(sock1.remoteAddress, SERVER);
    agent.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
    assert.equal(listening.listening, false);
  });
});

test('node:http over the stack: client request timeout (req.setTimeout) fires and aborts', async () => {
  // Virtual time: req.setTimeout arms the StackSocket's idle timer on the runtime's clock.
  const time = virtualTime();
  await withTwoHosts(
    async (vn) => {
      const srv = http.createServer((req, res) => {
        if (req.url === '/slow') return; // never answers
        res.end('fast');
      });
      await vn.net('server').attach(srv, 80);
      const agent = new StackHttpAgent(vn.net('client'));
      let failure: Error | undefined;
      let sentAt = -1;
      const slow = get(agent, '/slow', { timeout: 200 }).catch((e: Error) => {
        failure = e;
      });
      srv.once('request', () => {
        sentAt = time.nowMs();
      });
      await time.runUntil(() => failure !== undefined, 'request timeout');
      await slow;
      assert.match(String(failure), /client request timeout/);
      assert.ok(sentAt >= 0, 'the request reached the server');
      // The request went out within a few ms of the start; the timer counts from the last I/O.
      const took = time.nowMs();
      assert.ok(took >= 200 && took <= 210, `timed out after ${took} virtual ms`);
      // The connection still works for other requests.
      let body: string | undefined;
      const fast = get(agent, '/fast').then((r) => {
        body = r.body;
      });
      await time.runUntil(() => body !== undefined, 'second request');
      await fast;
      assert.equal(body, 'fast');
      srv.closeAllConnections();
      srv.close();
    },
    { time },
  );
});

test("node:http over the stack: server requestTimeout answers 408 (connection tracking installed by 'listening')", async () => {
  // Real time, unavoidably: Node's server checks request deadlines in C++ against its own
  // monotonic clock (ConnectionsList), not through the socket. Only a lower bound is
  // asserted, which a slow machine cannot break.
  await withTwoHosts(async (vn) => {
    const srv = http.createServer(
      { requestTimeout: 300, headersTimeout: 300, connectionsCheckingInterval: 50 },
      (_req, res) => res.end('never'),
    );
    await vn.net('server').attach(srv, 80);
    const sock = vn.net('client').connect(80, 'server');
    await waitEvent(sock, 'connect');
    sock.write('GET / HTTP/1.1\r\nHost: server\r\n'); // headers never finish
    let reply = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      reply += d;
    });
    const t0 = performance.now();
    await waitEvent(sock, 'end', 5000);
    assert.match(reply, /^HTTP\/1\.1 408 Request Timeout/);
    assert.ok(performance.now() - t0 >= 250);
    sock.destroy();
    srv.close();
  });
});

test('node:http over the stack: the server closes idle keep-alive sockets after keepAliveTimeout', async () => {
  // Virtual time: Node arms keepAliveTimeout through socket.setTimeout, our idle timer.
  const time = virtualTime();
  await withTwoHosts(
    async (vn) => {
      const srv = http.createServer((_req, res) => res.end('ok'));
      srv.keepAliveTimeout = 250;
      // Node 20.20 arms keepAliveTimeout + a fixed 1 s buffer on the socket (newer Nodes have
      // keepAliveTimeoutBuffer): read what it set from StackSocket#timeout.
      const withBuffer = srv as http.Server & { keepAliveTimeoutBuffer?: number };
      if (withBuffer.keepAliveTimeoutBuffer !== undefined) withBuffer.keepAliveTimeoutBuffer = 0;
      let serverSock: StackSocket | undefined;
      let armedTimeout: number | undefined;
      srv.on('connection', (s: StackSocket) => {
        serverSock = s;
        s.prependListener('timeout', () => {
          armedTimeout = s.timeout;
        });
      });
      await vn.net('server').attach(srv, 80);
      // A raw client that keeps the connection open and idle after one response.
      const sock = vn.net('client').connect(80, 'server');
      let reply = '';
      let t0 = -1;
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => {
        reply += d;
        if (reply.endsWith('\r\n\r\nok')) t0 = time.nowMs();
      });
      let ended = false;
      let closed = false;
      sock.on('end', () => {
        ended = true;
      });
      sock.on('close', () => {
        closed = true;
      });
      sock.write('GET / HTTP/1.1\r\nHost: server\r\n\r\n');
      await time.runUntil(() => ended, 'server closes the idle connection', 10_000, 5);
      const idle = time.nowMs() - t0;
      assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(reply, /\r\nConnection: keep-alive\r\n/i);
      assert.ok(t0 >= 0, 'response seen before the close');
      assert.ok(serverSock);
      const armed = armedTimeout ?? 0;
      assert.ok(armed >= 250 && armed <= 1250, `server socket timeout ${armed}`);
      // The FIN leaves when the timer fires; 'end' is seen within a step (5 ms) of it.
      assert.ok(idle >= armed && idle <= armed + 10, `closed after ${idle} ms idle (timeout ${armed})`);
      // allowHalfOpen false: we answered the FIN and the socket closed.
      const server = serverSock;
      await time.runUntil(() => closed && server.destroyed, 'both sockets closed');
      srv.close();
    },
    { time },
  );
});

test('node:http over the stack: 64 MiB upload to a slow reader stays memory-bounded (back-pressure)', async () => {
  const SND = 256 * 1024;
  const RCV = 256 * 1024;
  await withTwoHosts(
    async (vn) => {
      const TOTAL = 64 << 20;
      const CHUNK = 64 * 1024;
      let serverSock: StackSocket | undefined;
      const received = new Promise<{ n: number; hash: string }>((resolve, reject) => {
        const srv = http.createServer((req, res) => {
          serverSock = req.socket as unknown as StackSocket;
          const h = createHash('sha256');
          let n = 0;
          let nextPause = 1 << 20;
          req.on('data', (d: Buffer) => {
            h.update(d);
            n += d.length;
            if (n >= nextPause) {
              // A slow application: stop reading for a moment every MiB.
              nextPause += 1 << 20;
              req.pause();
              setTimeout(() => req.resume(), 15);
            }
          });
          req.on('end', () => {
            res.end(String(n));
            resolve({ n, hash: h.digest('hex') });
          });
          req.on('error', reject);
        });
        vn.net('server').attach(srv, 80).catch(reject);
      });

      const agent = new StackHttpAgent(vn.net('client'));
      const sent = createHash('sha256');
      const samples = {
        writable: 0,
        unacked: 0,
        serverRcv: 0,
        heap: 0,
        drains: 0,
        falseWrites: 0,
        granule: 1,
      };
      // Retained memory, measured after full GCs (uncollected garbage is not growth; one gc()
      // can leave ArrayBuffer backing stores pending a concurrent sweep, hence two).
      const retained = (): number => {
        gc();
        gc();
        const m = process.memoryUsage();
        return m.heapUsed + m.arrayBuffers;
      };
      const baseMem = retained();
      const memIv = setInterval(() => {
        const r = retained() - baseMem;
        samples.heap = Math.max(samples.heap, r);
      }, 100);
      let clientSock: StackSocket | undefined;
      const sample = (): void => {
        if (clientSock) {
          samples.writable = Math.max(samples.writable, clientSock.writableLength);
          samples.unacked = Math.max(samples.unacked, clientSock.connection?.unackedLength ?? 0);
        }
        if (serverSock) {
          samples.serverRcv = Math.max(samples.serverRcv, serverSock.connection?.readableLength ?? 0);
          samples.granule = 1 << (serverSock.connection?.rcvWscale ?? 0);
        }
      };
      const iv = setInterval(sample, 5);
      const response = new Promise<string>((resolve, reject) => {
        const req = http.request(
          {
            host: 'server',
            port: 80,
            method: 'POST',
            path: '/upload',
            agent,
            headers: { 'content-length': String(TOTAL) },
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => {
              body += d;
            });
            res.on('end', () => resolve(body));
          },
        );
        req.on('error', reject);
        req.on('socket', (s) => {
          clientSock = s as unknown as StackSocket;
        });
        let off = 0;
        let seed = 1;
        const pump = (): void => {
          while (off < TOTAL) {
            const chunk = Buffer.allocUnsafe(CHUNK);
            for (let i = 0; i < CHUNK; i += 4) {
              seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
              chunk.writeUInt32LE(seed, i);
            }
            sent.update(chunk);
            off += CHUNK;
            sample();
            if (!req.write(chunk)) {
              samples.falseWrites++;
              req.once('drain', () => {
                samples.drains++;
                pump();
              });
              return;
            }
          }
          req.end();
        };
        pump();
      });
      const [body, got] = await within(Promise.all([response, received]), 120_000, 'upload');
      clearInterval(iv);
      clearInterval(memIv);
      sample();
      samples.heap = Math.max(samples.heap, retained() - baseMem);
      assert.equal(body, String(TOTAL));
      assert.equal(got.n, TOTAL);
      assert.equal(got.hash, sent.digest('hex'));
      // Back-pressure really happened, and nothing grew with the upload size.
      assert.ok(samples.falseWrites > 10, `write() returned false ${samples.falseWrites} times`);
      assert.ok(samples.drains > 10);
      const hwm = clientSock?.writableHighWaterMark ?? 16384;
      assert.ok(
        samples.writable <= hwm + CHUNK + 4096,
        `StackSocket writableLength peaked at ${samples.writable}`,
      );
      assert.ok(samples.unacked <= SND, `TCP send buffer peaked at ${samples.unacked}`);
      // The offered window may be rounded up to the scale granule: < 1 << shift bytes over.
      assert.ok(
        samples.serverRcv < RCV + samples.granule,
        `TCP receive buffer peaked at ${samples.serverRcv}`,
      );
      assert.ok(
        samples.heap < TOTAL / 8,
        `retained heap + arrayBuffers grew by ${(samples.heap / 2 ** 20).toFixed(1)} MiB`,
      );
      console.log(
        `upload 64 MiB: retained growth ≤ ${(samples.heap / 2 ** 20).toFixed(1)} MiB, writableLength ≤ ${samples.writable}, ` +
          `send buffer ≤ ${samples.unacked}, receive buffer ≤ ${samples.serverRcv}, ${samples.falseWrites} write()=false`,
      );
      agent.destroy();
    },
    // Fixed buffers (autotuning would grow the send buffer with the window, sndbuf-auto.ts, and
    // the receive buffer with what the reader takes per round trip, rcvbuf-auto.ts).
    { mtu: 9000, config: { tcp: { sndBuf: SND, rcvBuf: RCV, sndBufAuto: 'none', rcvBufAuto: false } } },
  );
});
