/**
 * Our Wisp server against a raw WebSocket client that writes packets by hand: the
 * handshake, CONNECT validation, bad messages (dropped and counted, never a crash), the
 * credit a client must respect, and a TCP stream's CONTINUE on connect. Loopback only.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startWispServer, type WispServer } from '../../src/node/wisp-server.ts';
import { isWireError } from '../../src/wire/error.ts';
import {
  emitWispPacket,
  parseWispPacket,
  WISP_CLOSE,
  WISP_CONNECT,
  WISP_CONTINUE,
  WISP_DATA,
  type WispPacket,
} from '../../src/wisp/packet.ts';
import { WispCloseReason } from '../../src/wisp/reasons.ts';

/** Polls `cond` every 10 ms, at most 1000 times; fails with `what` if it never holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never happened: ${what}`);
}

/** A raw client: a queue of parsed packets from the server. */
async function rawClient(url: string): Promise<{
  ws: WebSocket;
  send(p: WispPacket | Uint8Array | string): void;
  next(what: string): Promise<WispPacket>;
  /** Packets received and not yet taken. */
  pending(): number;
}> {
  const ws = new WebSocket(url);
  const queue: WispPacket[] = [];
  const waiting: ((p: WispPacket) => void)[] = [];
  ws.on('message', (data: Buffer) => {
    const p = parseWispPacket(new Uint8Array(data));
    assert.ok(!isWireError(p), 'the server sent a packet that does not parse');
    const w = waiting.shift();
    if (w) w(p);
    else queue.push(p);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    send(p) {
      ws.send(typeof p === 'string' ? p : p instanceof Uint8Array ? p : emitWispPacket(p));
    },
    pending() {
      return queue.length;
    },
    next(what) {
      const p = queue.shift();
      if (p) return Promise.resolve(p);
      return new Promise<WispPacket>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no packet from the server: ${what}`)), 10_000);
        waiting.push((q) => {
          clearTimeout(timer);
          resolve(q);
        });
      });
    },
  };
}

describe('wisp server, packet by packet', () => {
  let server: WispServer;
  let sink: net.Server;
  let sinkPort = 0;
  let peer: net.Socket | undefined;
  const peers: net.Socket[] = [];

  before(async () => {
    sink = net.createServer((s) => {
      s.on('error', () => {});
      peers.push(s);
      peer = s;
      s.pause(); // reads nothing unless a test resumes it
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    sinkPort = (sink.address() as net.AddressInfo).port;
    // Names resolve to nothing here: no test may ask the DNS resolver.
    server = await startWispServer({ allow: ['127.0.0.1:*'], bufferPackets: 4, lookup: async () => [] });
  });
  after(async () => {
    await server.close();
    for (const p of peers) p.destroy();
    sink.close();
  });

  it('sends CONTINUE on stream 0 first; refuses invalid CONNECTs with 0x41; drops garbage', async () => {
    const c = await rawClient(server.url);
    assert.deepEqual(await c.next('the initial CONTINUE'), {
      type: WISP_CONTINUE,
      streamId: 0,
      bufferRemaining: 4,
    });
    const before = { ...server.stats };
    c.send('a text message');
    c.send(Uint8Array.of(1, 2));
    c.send(Uint8Array.of(0x77, 1, 0, 0, 0));
    c.send(Uint8Array.of(4, 1, 0, 0, 0)); // CLOSE without a reason
    c.send({ type: WISP_CONTINUE, streamId: 5, bufferRemaining: 1 }); // only servers send CONTINUE
    c.send({ type: WISP_DATA, streamId: 99, payload: Uint8Array.of(1) }); // no such stream
    const invalid: [WispPacket, string][] = [
      [
        { type: WISP_CONNECT, streamId: 0, streamType: 1, port: sinkPort, hostname: '127.0.0.1' },
        'stream id 0',
      ],
      [
        { type: WISP_CONNECT, streamId: 7, streamType: 3, port: sinkPort, hostname: '127.0.0.1' },
        'stream type 3',
      ],
      [{ type: WISP_CONNECT, streamId: 8, streamType: 1, port: 0, hostname: '127.0.0.1' }, 'port 0'],
      [{ type: WISP_CONNECT, streamId: 9, streamType: 1, port: sinkPort, hostname: '' }, 'empty hostname'],
      [{ type: WISP_CONNECT, streamId: 10, streamType: 1, port: sinkPort, hostname: 'a b' }, 'a space'],
    ];
    for (const [p, why] of invalid) {
      c.send(p);
      assert.deepEqual(
        await c.next(why),
        { type: WISP_CLOSE, streamId: p.streamId, reason: WispCloseReason.INVALID },
        why,
      );
    }
    assert.equal(server.stats.badPackets - before.badPackets, 5);
    assert.equal(server.stats.unknownStream - before.unknownStream, 1);
    assert.equal(server.stats.streamsRefused - before.streamsRefused, invalid.length);
    c.ws.close();
  });

  it('TCP: CONTINUE when connected; new credit only once the client spent its own and the FIFO has room', async () => {
    const c = await rawClient(server.url);
    await c.next('the initial CONTINUE');
    c.send({ type: WISP_CONNECT, streamId: 1, streamType: 1, port: sinkPort, hostname: '127.0.0.1' });
    assert.deepEqual(await c.next('connected'), { type: WISP_CONTINUE, streamId: 1, bufferRemaining: 4 });
    // Fill the destination's kernel buffers, then the FIFO: send what each credit allows
    // until the server holds a full FIFO with every packet we sent received.
    const big = new Uint8Array(60_000);
    const base = server.stats.packetsIn;
    let sent = 0;
    let grant = 4;
    let full = false;
    for (let round = 0; round < 2000 && !full; round++) {
      for (let i = 0; i < grant; i++) c.send({ type: WISP_DATA, streamId: 1, payload: big });
      sent += grant;
      await until(
        () => c.pending() > 0 || (server.stats.packetsIn >= base + sent && server.queuedPackets === 4),
        'a CONTINUE or a full FIFO',
      );
      if (c.pending() > 0) {
        const p = await c.next('credit');
        assert.equal(p.type, WISP_CONTINUE);
        if (p.type === WISP_CONTINUE) grant = p.bufferRemaining;
        assert.ok(grant >= 1 && grant <= 4, `granted ${grant}`);
      } else full = true;
    }
    assert.ok(full, 'the FIFO never filled');
    assert.ok(server.stats.maxQueuedPackets <= 4, `FIFO held ${server.stats.maxQueuedPackets}`);
    // Reading at the destination frees the FIFO, and credit comes again.
    let got = 0;
    peer!.on('data', (b: Buffer) => {
      got += b.length;
    });
    peer!.resume();
    const p = await c.next('credit after the destination read');
    assert.equal(p.type, WISP_CONTINUE);
    for (let i = 0; i < 1000 && got < sent * big.length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got, sent * big.length);
    c.ws.close();
  });

  it('a client that sends far beyond its credit has the stream cut off (0x49)', async () => {
    const c = await rawClient(server.url);
    await c.next('the initial CONTINUE');
    c.send({ type: WISP_CONNECT, streamId: 3, streamType: 1, port: sinkPort, hostname: '127.0.0.1' });
    await c.next('connected');
    const big = new Uint8Array(60_000);
    for (let i = 0; i < 200; i++) c.send({ type: WISP_DATA, streamId: 3, payload: big });
    for (;;) {
      const p = await c.next('the stream is cut off');
      if (p.type === WISP_CLOSE) {
        assert.deepEqual(p, { type: WISP_CLOSE, streamId: 3, reason: WispCloseReason.THROTTLED });
        break;
      }
    }
    assert.ok(server.stats.maxQueuedPackets <= 8);
    c.ws.close();
  });

  it('a name that does not resolve gets 0x42; a refused port 0x44', async () => {
    const c = await rawClient(server.url);
    await c.next('the initial CONTINUE');
    c.send({ type: WISP_CONNECT, streamId: 4, streamType: 1, port: 80, hostname: 'no-such-host.test' });
    assert.deepEqual(await c.next('unresolvable'), {
      type: WISP_CLOSE,
      streamId: 4,
      reason: WispCloseReason.UNREACHABLE,
    });
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise<void>((r) => free.close(() => r()));
    c.send({ type: WISP_CONNECT, streamId: 5, streamType: 1, port, hostname: '127.0.0.1' });
    assert.deepEqual(await c.next('refused'), {
      type: WISP_CLOSE,
      streamId: 5,
      reason: WispCloseReason.REFUSED,
    });
    c.ws.close();
  });
});
