import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { allocFrame } from '../../src/link/frame-alloc.ts';
import {
  connectStreamLink,
  dgramLink,
  encodeStreamFrame,
  listenStreamLink,
  STREAM_MAX_FRAME,
  StreamDeframer,
  type StreamLink,
  UDP4_MAX_PAYLOAD,
} from '../../src/node/qemu-link.ts';
import { TUNNEL_MAX_FRAME, udpTunnel } from '../../src/node/udp-tunnel.ts';
import { FrameCollector, onceWithin } from '../helpers/netns.ts';

/** A frame of `len` bytes whose content says which frame it is (index in bytes 12..15, pattern after). */
function makeFrame(
  len: number,
  index: number,
  dst = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  src = [2, 0, 0, 0, 0, 1],
) {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 7 + index * 13) & 0xff;
  f.set(dst.slice(0, Math.min(6, len)), 0);
  if (len >= 12) f.set(src, 6);
  if (len >= 16) new DataView(f.buffer).setUint32(12, index);
  return f;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const SIZES = [14, 15, 42, 60, 64, 1500, 1514, 9014, 32768, 65535, 65535 + 14];

describe('StreamDeframer', () => {
  it('yields every frame whatever byte boundary the stream is split at', () => {
    const frames = [14, 15, 60, 1514, 300, 14].map((n, i) => makeFrame(n, i));
    const stream = concat(frames.map((f) => encodeStreamFrame(f)));
    for (let k = 0; k <= stream.length; k++) {
      const d = new StreamDeframer();
      const got: Uint8Array[] = [];
      d.onFrame = (f) => got.push(f.slice());
      d.onError = (e) => assert.fail(e);
      d.push(stream.subarray(0, k));
      d.push(stream.subarray(k));
      assert.equal(got.length, frames.length, `split at ${k}`);
      for (let i = 0; i < frames.length; i++)
        assert.deepEqual(got[i], frames[i], `split at ${k}, frame ${i}`);
      assert.ok(d.idle);
    }
  });

  it('handles three-way splits, one byte at a time, and many frames per chunk', () => {
    const frames = [14, 100, 14, 1514].map((n, i) => makeFrame(n, i));
    const stream = concat(frames.map((f) => encodeStreamFrame(f)));
    // Every pair of cut points (a < b) on a shorter stream.
    const small = concat(frames.slice(0, 3).map((f) => encodeStreamFrame(f)));
    for (let a = 0; a <= small.length; a += 1) {
      for (let b = a; b <= small.length; b += 3) {
        const d = new StreamDeframer();
        const got: Uint8Array[] = [];
        d.onFrame = (f) => got.push(f.slice());
        d.push(small.subarray(0, a));
        d.push(small.subarray(a, b));
        d.push(small.subarray(b));
        assert.deepEqual(got, frames.slice(0, 3), `cuts ${a},${b}`);
      }
    }
    const d = new StreamDeframer();
    const got: Uint8Array[] = [];
    d.onFrame = (f) => got.push(f.slice());
    for (let i = 0; i < stream.length; i++) {
      d.push(stream.subarray(i, i + 1));
      if (i < stream.length - 1) assert.ok(!d.idle || got.length > 0);
    }
    assert.deepEqual(got, frames);
  });

  it('carries frames from 14 to 65535+14 bytes, including one split in the middle', () => {
    const frames = SIZES.map((n, i) => makeFrame(n, i));
    const stream = concat(frames.map((f) => encodeStreamFrame(f)));
    for (const cut of [1, 3, 4, 5, 17, 18, 70000, 100000, stream.length - 1]) {
      const d = new StreamDeframer();
      const got: Uint8Array[] = [];
      d.onFrame = (f) => got.push(f.slice());
      d.push(stream.subarray(0, cut));
      d.push(stream.subarray(cut));
      assert.equal(got.length, frames.length);
      for (let i = 0; i < frames.length; i++) assert.deepEqual(got[i], frames[i], `cut ${cut} frame ${i}`);
    }
  });

  it('fails once on a length outside the bounds and ignores everything after', () => {
    for (const bad of [0, 13, STREAM_MAX_FRAME + 1, 0xffffffff]) {
      const d = new StreamDeframer();
      const got: Uint8Array[] = [];
      const errors: Error[] = [];
      d.onFrame = (f) => got.push(f);
      d.onError = (e) => errors.push(e);
      const hdr = new Uint8Array(4);
      new DataView(hdr.buffer).setUint32(0, bad);
      d.push(encodeStreamFrame(makeFrame(20, 1)));
      d.push(hdr.subarray(0, 2));
      assert.equal(errors.length, 0);
      d.push(concat([hdr.subarray(2), encodeStreamFrame(makeFrame(20, 2))]));
      d.push(encodeStreamFrame(makeFrame(20, 3)));
      assert.equal(got.length, 1, `len ${bad}`);
      assert.equal(errors.length, 1);
      assert.match(errors[0].message, new RegExp(`frame length ${bad} `));
      assert.ok(d.failed);
    }
  });

  it('encodes the length big-endian in front of the frame', () => {
    const f = makeFrame(0x0102 + 14, 0);
    const e = encodeStreamFrame(f);
    assert.deepEqual([...e.subarray(0, 4)], [0, 0, 0x01, 0x10]);
    assert.deepEqual(new Uint8Array(e.subarray(4)), f);
  });
});

async function streamPair(addr: { path: string } | { port: number; host?: string }) {
  const server = await listenStreamLink(addr);
  const [a, b] = await Promise.all([server.accept(), connectStreamLink(server.address)]);
  return { server, a, b };
}

async function exchangeAllSizes(a: StreamLink, b: StreamLink): Promise<void> {
  const ca = new FrameCollector(a);
  const cb = new FrameCollector(b);
  const fa = SIZES.map((n, i) => makeFrame(n, i));
  const fb = SIZES.map((n, i) => makeFrame(n, 100 + i));
  for (const f of fa) a.transmit(f.slice());
  for (const f of fb) b.transmit(f.slice());
  await cb.waitFor(fa.length);
  await ca.waitFor(fb.length);
  assert.deepEqual(cb.frames, fa);
  assert.deepEqual(ca.frames, fb);
  assert.equal(a.stats.txFrames, SIZES.length);
  assert.equal(b.stats.rxFrames, SIZES.length);
  assert.equal(
    b.stats.rxBytes,
    SIZES.reduce((x, y) => x + y, 0),
  );
}

describe('stream link (QEMU -netdev stream framing)', () => {
  it('carries frames of every size both ways over TCP loopback, in order', async (t) => {
    const { server, a, b } = await streamPair({ port: 0 });
    t.after(async () => {
      await Promise.all([a.close(), b.close(), server.close()]);
    });
    await exchangeAllSizes(a, b);
  });

  it('carries frames over a Unix socket, and 2000 small frames keep their order', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-stream-'));
    const { server, a, b } = await streamPair({ path: join(dir, 'link.sock') });
    t.after(async () => {
      await Promise.all([a.close(), b.close(), server.close()]);
      rmSync(dir, { recursive: true, force: true });
    });
    await exchangeAllSizes(a, b);
    const cb = new FrameCollector(b);
    const n = 2000;
    for (let i = 0; i < n; i++) a.transmit(makeFrame(60 + (i % 200), i));
    await cb.waitFor(n);
    for (let i = 0; i < n; i++)
      assert.equal(new DataView(cb.frames[i].buffer, cb.frames[i].byteOffset).getUint32(12), i);
  });

  it('writes the length and the frame in ONE write (passt ignores a split header)', async (t) => {
    const { server, a, b } = await streamPair({ port: 0 });
    t.after(async () => {
      await Promise.all([a.close(), b.close(), server.close()]);
    });
    const writes: Uint8Array[] = [];
    const orig = b.socket.write.bind(b.socket) as (chunk: Uint8Array) => boolean;
    (b.socket as unknown as { write: (chunk: Uint8Array) => boolean }).write = (chunk) => {
      writes.push(chunk);
      return orig(chunk);
    };
    const f = makeFrame(1514, 7);
    b.transmit(f);
    assert.equal(writes.length, 1);
    assert.equal(writes[0].length, 4 + 1514);
    assert.equal(new DataView(writes[0].buffer, writes[0].byteOffset).getUint32(0), 1514);
    const ca = new FrameCollector(a);
    await ca.waitFor(1);
    assert.deepEqual(ca.frames[0], f);
  });

  it('sends a big frame behind its length in the same writev, without a copy, and hands its buffer back', async (t) => {
    const { server, a, b } = await streamPair({ port: 0 });
    t.after(async () => {
      await Promise.all([a.close(), b.close(), server.close()]);
    });
    type Chunk = { chunk: Uint8Array };
    const sock = b.socket as unknown as {
      _writev: (chunks: Chunk[], cb: () => void) => void;
      _write: (chunk: Uint8Array, enc: string, cb: () => void) => void;
    };
    const calls: number[][] = [];
    const writev = sock._writev.bind(sock);
    const write = sock._write.bind(sock);
    sock._writev = (chunks, cb) => {
      calls.push(chunks.map((c) => c.chunk.length));
      writev(chunks, cb);
    };
    sock._write = (chunk, enc, cb) => {
      calls.push([chunk.length]);
      write(chunk, enc, cb);
    };
    const f = allocFrame(9014);
    f.set(makeFrame(9014, 4));
    const sent = f.slice();
    b.transmit(f);
    const ca = new FrameCollector(a);
    await ca.waitFor(1);
    assert.deepEqual(ca.frames[0], sent);
    assert.deepEqual(calls, [[4, 9014]], 'one writev: the length, then the frame itself');
    for (let i = 0; i < 100 && b.socket.writableLength > 0; i++) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(allocFrame(9014).buffer, f.buffer, 'written: the buffer went back to the allocator');
  });

  it('talks to a plain socket peer byte for byte (what QEMU sends and expects)', async (t) => {
    const server = await listenStreamLink({ port: 0 });
    const raw = net.connect((server.address as { port: number }).port, '127.0.0.1');
    const link = await server.accept();
    t.after(async () => {
      raw.destroy();
      await Promise.all([link.close(), server.close()]);
    });
    const c = new FrameCollector(link);
    const f1 = makeFrame(60, 1);
    const f2 = makeFrame(1514, 2);
    const bytes = concat([encodeStreamFrame(f1), encodeStreamFrame(f2)]);
    // Dribble the bytes out in uneven pieces.
    for (let off = 0; off < bytes.length; off += 333) raw.write(bytes.subarray(off, off + 333));
    await c.waitFor(2);
    assert.deepEqual(c.frames, [f1, f2]);
    const rawIn: Buffer[] = [];
    raw.on('data', (d: Buffer) => rawIn.push(d));
    link.transmit(makeFrame(42, 3));
    const deadline = Date.now() + 5000;
    while (Buffer.concat(rawIn).length < 46 && Date.now() < deadline) await onceWithin(raw, 'data', 5000);
    const got = Buffer.concat(rawIn);
    assert.equal(got.readUInt32BE(0), 42);
    assert.deepEqual(new Uint8Array(got.subarray(4, 46)), makeFrame(42, 3));
  });

  it('drops the connection on garbage and reports why', async (t) => {
    const server = await listenStreamLink({ port: 0 });
    const raw = net.connect((server.address as { port: number }).port, '127.0.0.1');
    const link = await server.accept();
    t.after(async () => {
      raw.destroy();
      await Promise.all([link.close(), server.close()]);
    });
    const c = new FrameCollector(link);
    const closed = new Promise<Error | undefined>((resolve) => {
      link.onClose = resolve;
    });
    const rawClosed = onceWithin(raw, 'close', 5000);
    raw.write(
      concat([encodeStreamFrame(makeFrame(60, 1)), new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n')]),
    );
    const err = await closed;
    assert.ok(err instanceof Error);
    assert.match(err.message, /frame length \d+ outside/);
    assert.equal(link.stats.rxErrors, 1);
    assert.equal(c.frames.length, 1);
    await rawClosed;
    assert.ok(link.closed);
    link.transmit(makeFrame(60, 2));
    assert.equal(link.stats.txDropped, 1);
  });

  it('close() on one side is seen by the other; frames sent before close still arrive', async (t) => {
    const { server, a, b } = await streamPair({ port: 0 });
    t.after(() => server.close());
    const cb = new FrameCollector(b);
    const bClosed = new Promise<Error | undefined>((resolve) => {
      b.onClose = resolve;
    });
    for (let i = 0; i < 50; i++) a.transmit(makeFrame(1514, i));
    await a.close();
    assert.equal(await bClosed, undefined);
    assert.equal(cb.frames.length, 50);
    assert.ok(b.closed);
    await b.close();
  });

  it('rejects connecting to a port nobody listens on', async () => {
    const server = await listenStreamLink({ port: 0 });
    const port = (server.address as { port: number }).port;
    await server.close();
    await assert.rejects(connectStreamLink({ port }), { code: 'ECONNREFUSED' });
  });
});

describe('dgram link (QEMU -netdev dgram)', () => {
  it('carries one frame per datagram, sizes 14..65507, in order; learns the peer', async (t) => {
    const a = await dgramLink({ localPort: 0 });
    const b = await dgramLink({ localPort: 0, remotePort: a.localPort });
    t.after(() => Promise.all([a.close(), b.close()]));
    const ca = new FrameCollector(a);
    const cb = new FrameCollector(b);
    assert.equal(a.remotePort, undefined);
    const first = makeFrame(60, 0);
    b.transmit(first);
    await ca.waitFor(1);
    assert.equal(a.remotePort, b.localPort);
    const sizes = [14, 15, 60, 1514, 9014, 32768, UDP4_MAX_PAYLOAD];
    // One at a time: a loopback socket buffer may not hold several 64 KB datagrams at once.
    for (let i = 0; i < sizes.length; i++) {
      const f = makeFrame(sizes[i], i);
      a.transmit(f.slice());
      await cb.waitFor(i + 1);
      assert.deepEqual(cb.frames[i], f);
    }
    for (let burst = 0; burst < 4; burst++) {
      for (let i = burst * 50; i < burst * 50 + 50; i++) a.transmit(makeFrame(100, 1000 + i));
      await cb.waitFor(sizes.length + burst * 50 + 50);
    }
    for (let i = 0; i < 200; i++) {
      const f = cb.frames[sizes.length + i];
      assert.equal(new DataView(f.buffer, f.byteOffset).getUint32(12), 1000 + i);
    }
    a.transmit(makeFrame(UDP4_MAX_PAYLOAD + 1, 0));
    assert.equal(a.stats.txDropped, 1);
  });

  it('counts datagrams too short to be a frame', async (t) => {
    const a = await dgramLink({ localPort: 0 });
    const raw = dgram.createSocket('udp4');
    t.after(() => Promise.all([a.close(), new Promise<void>((r) => raw.close(() => r()))]));
    const c = new FrameCollector(a);
    raw.send(new Uint8Array(5), a.localPort, '127.0.0.1');
    raw.send(makeFrame(14, 1), a.localPort, '127.0.0.1');
    await c.waitFor(1);
    assert.equal(a.stats.rxErrors, 1);
  });
});

describe('UDP tunnel', () => {
  it('joins two endpoints: frames of every size up to the limit, in order', async (t) => {
    const a = await udpTunnel();
    const b = await udpTunnel({ peers: [{ host: '127.0.0.1', port: a.localPort }] });
    a.addPeer({ host: '127.0.0.1', port: b.localPort });
    t.after(() => Promise.all([a.close(), b.close()]));
    const ca = new FrameCollector(a);
    const cb = new FrameCollector(b);
    const sizes = [14, 60, 1514, 9014, TUNNEL_MAX_FRAME];
    for (let i = 0; i < sizes.length; i++) {
      const f = makeFrame(sizes[i], i);
      a.transmit(f.slice());
      await cb.waitFor(i + 1);
      assert.deepEqual(cb.frames[i], f);
    }
    // Bursts of 50: a loopback UDP socket buffer (rmem_default, ~208 KB) holds ~160 small datagrams.
    for (let burst = 0; burst < 6; burst++) {
      for (let i = burst * 50; i < burst * 50 + 50; i++) b.transmit(makeFrame(200, i));
      await ca.waitFor(burst * 50 + 50);
    }
    ca.frames.forEach((f, i) => {
      assert.equal(new DataView(f.buffer, f.byteOffset).getUint32(12), i);
    });
    a.transmit(makeFrame(TUNNEL_MAX_FRAME + 1, 0));
    assert.equal(a.stats.txDropped, 1);
  });

  it('drops and counts bad datagrams: short, bad magic, version, link type, unknown peer', async (t) => {
    const a = await udpTunnel();
    const raw = dgram.createSocket('udp4');
    await new Promise<void>((r) => raw.bind(0, '127.0.0.1', () => r()));
    const stranger = dgram.createSocket('udp4');
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
    a.addPeer({ host: '127.0.0.1', port: raw.address().port });
    t.after(() =>
      Promise.all([
        a.close(),
        new Promise<void>((r) => raw.close(() => r())),
        new Promise<void>((r) => stranger.close(() => r())),
      ]),
    );
    const c = new FrameCollector(a);
    const good = (hdr: number[], frame: Uint8Array) => concat([new Uint8Array(hdr), frame]);
    const f = makeFrame(60, 9);
    const send = (s: dgram.Socket, m: Uint8Array) => s.send(m, a.localPort, '127.0.0.1');
    send(raw, new Uint8Array([0x53, 0x53, 1, 1, 0, 0])); // too short
    send(raw, good([0x54, 0x53, 1, 1], f)); // magic
    send(raw, good([0x53, 0x53, 2, 1], f)); // version
    send(raw, good([0x53, 0x53, 1, 2], f)); // link type (IP on an Ethernet tunnel)
    send(stranger, good([0x53, 0x53, 1, 1], f)); // not a peer
    send(raw, good([0x53, 0x53, 1, 1], f)); // fine
    await c.waitFor(1);
    // UDP on loopback keeps per-socket order, but the stranger's datagram comes from another socket.
    await c.waitFor(() => a.stats.rxErrors === 5, 5000, 'five bad datagrams counted');
    assert.deepEqual(c.frames, [f]);
    const { tooShort, badMagic, badVersion, badLinkType, unknownPeer, rxErrors } = a.stats;
    assert.deepEqual(
      { tooShort, badMagic, badVersion, badLinkType, unknownPeer, rxErrors },
      { tooShort: 1, badMagic: 1, badVersion: 1, badLinkType: 1, unknownPeer: 1, rxErrors: 5 },
    );
  });

  it('with three endpoints floods broadcast and unicasts to a learnt MAC', async (t) => {
    const hub = await udpTunnel({ learnPeers: true });
    const peer = { host: '127.0.0.1', port: hub.localPort };
    const x = await udpTunnel({ peers: [peer] });
    const y = await udpTunnel({ peers: [peer] });
    t.after(() => Promise.all([hub.close(), x.close(), y.close()]));
    const ch = new FrameCollector(hub);
    const cx = new FrameCollector(x);
    const cy = new FrameCollector(y);
    const macX = [2, 0, 0, 0, 0, 0x0a];
    const macY = [2, 0, 0, 0, 0, 0x0b];
    const macHub = [2, 0, 0, 0, 0, 0x01];
    // x and y announce themselves (broadcast); the hub learns both peers and their MACs.
    x.transmit(makeFrame(60, 1, undefined, macX));
    await ch.waitFor(1);
    y.transmit(makeFrame(60, 2, undefined, macY));
    await ch.waitFor(2);
    assert.equal(hub.peers.length, 2);
    // Broadcast from the hub reaches both.
    hub.transmit(makeFrame(60, 3, undefined, macHub));
    await cx.waitFor(1);
    await cy.waitFor(1);
    // Unicast to y's MAC goes to y only; then a broadcast marker proves x got nothing in between.
    hub.transmit(makeFrame(60, 4, macY, macHub));
    await cy.waitFor(2);
    hub.transmit(makeFrame(60, 5, undefined, macHub));
    await cx.waitFor(2);
    const idx = (fr: Uint8Array) => new DataView(fr.buffer, fr.byteOffset).getUint32(12);
    assert.deepEqual(cx.frames.map(idx), [3, 5]);
    assert.deepEqual(cy.frames.slice(0, 2).map(idx), [3, 4]);
    assert.equal(hub.stats.txFrames, 2 + 1 + 2);
  });
});
