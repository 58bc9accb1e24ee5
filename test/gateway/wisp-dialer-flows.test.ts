/**
 * WispDialer (src/gateway/wisp-dialer.ts), the gateway's way out from a page, against our
 * Wisp server (src/node/wisp-server.ts) and servers on 127.0.0.1: a TCP stream with bytes
 * that arrive before the splice attaches, back-pressure (write false, then onDrain) and the
 * server's end; a refused port; UDP datagrams both ways; destroy. Loopback only; every
 * wait bounded.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import type { HostStream } from '../../src/gateway/dialer.ts';
import { WispDialer } from '../../src/gateway/wisp-dialer.ts';
import { startWispServer, type WispServer } from '../../src/node/wisp-server.ts';
import { WispClient, type WispTransportConstructor } from '../../src/wisp/client.ts';

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing in ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('WispDialer', () => {
  let wisp: WispServer;
  let client: WispClient;
  let dialer: WispDialer;
  before(async () => {
    // A small credit (2 DATA packets): the client's send queue fills, and write says so.
    wisp = await startWispServer({ allow: ['127.0.0.1:*'], bufferPackets: 2 });
    client = await WispClient.connect(wisp.url, {
      WebSocket: WebSocket as unknown as WispTransportConstructor,
    });
    dialer = new WispDialer(client);
  });
  after(async () => {
    client.close();
    await wisp.close();
  });

  it('carries a TCP stream both ways, with back-pressure and the server end', async (t) => {
    // The server greets at once, then counts what it receives and answers with its sha256.
    const size = 1 << 20;
    const server = net.createServer({ allowHalfOpen: true }, (sock) => {
      sock.write('hello ');
      const chunks: Buffer[] = [];
      let n = 0;
      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        n += d.length;
        if (n >= size) sock.end(sha(Buffer.concat(chunks)));
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => server.close());
    const port = (server.address() as net.AddressInfo).port;

    const hs: HostStream = await within(dialer.connect('127.0.0.1', port), 10_000, 'connect');
    // Let the greeting arrive before anyone listens: it must wait in the stream, not be lost.
    await new Promise((r) => setTimeout(r, 100));
    const got: Uint8Array[] = [];
    const ended = new Promise<string>((resolve, reject) => {
      hs.onEnd = () => resolve(Buffer.concat(got).toString());
      hs.onClose = (err) => {
        if (err) reject(err);
      };
    });
    hs.onData = (d) => got.push(d);
    const data = new Uint8Array(size).map((_, i) => (i * 31 + (i >> 12)) & 0xff);
    let drains = 0;
    let full = 0;
    const drained = () =>
      new Promise<void>((r) => {
        hs.onDrain = () => {
          drains++;
          r();
        };
      });
    for (let off = 0; off < size; off += 64 * 1024) {
      const wait = drained();
      if (!hs.write(data.subarray(off, off + 64 * 1024))) {
        full++;
        await within(wait, 10_000, 'drain');
      }
    }
    assert.equal(await within(ended, 10_000, 'the reply'), `hello ${sha(data)}`);
    assert.ok(full > 0 && drains === full, `write said full ${full} times, drained ${drains}`);
  });

  it('a refused port rejects with ECONNREFUSED', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    await assert.rejects(within(dialer.connect('127.0.0.1', port), 10_000, 'refusal'), {
      code: 'ECONNREFUSED',
    });
  });

  it('destroy closes the host connection', async (t) => {
    let closed!: () => void;
    const sawClose = new Promise<void>((r) => {
      closed = r;
    });
    const server = net.createServer((sock) => {
      sock.on('close', () => closed());
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => server.close());
    const hs = await within(
      dialer.connect('127.0.0.1', (server.address() as net.AddressInfo).port),
      10_000,
      'connect',
    );
    hs.destroy();
    await within(sawClose, 10_000, 'the server seeing the close');
  });

  it('sends and receives UDP datagrams per destination', async (t) => {
    const echo = dgram.createSocket('udp4');
    echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('re:'), m]), r.port, r.address));
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
    t.after(() => echo.close());
    const port = echo.address().port;
    const hd = dialer.openDatagram();
    t.after(() => hd.close());
    const got = new Promise<[string, string, number]>((resolve) => {
      const seen: string[] = [];
      hd.onMessage = (d, host, p) => {
        seen.push(Buffer.from(d).toString());
        if (seen.length === 2) resolve([seen.sort().join(','), host, p]);
      };
    });
    hd.send(new TextEncoder().encode('one'), '127.0.0.1', port);
    hd.send(new TextEncoder().encode('two'), '127.0.0.1', port);
    assert.deepEqual(await within(got, 10_000, 'the echoes'), ['re:one,re:two', '127.0.0.1', port]);
  });
});
