/** The layer-wide TCP memory bound (src/tcp/memory.ts; Linux tcp_mem). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import { TcpMemory } from '../../src/tcp/memory.ts';
import { PIECE_OVERHEAD as P, ReassemblyQueue } from '../../src/tcp/reassembly.ts';
import { ByteRing } from '../../src/tcp/ring.ts';
import { seq, seqSub } from '../../src/tcp/seq.ts';
import {
  accepted,
  B,
  EventLog,
  established,
  expectSeg,
  type Harness,
  type Opened,
  PEER_ISN,
  PEER_PORT,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
} from './harness.ts';

/** Byte i of the peer's stream: data anywhere in it can be checked. */
const streamByte = (i: number): number => (i * 31 + (i >>> 8)) & 0xff;
function stream(off: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let k = 0; k < len; k++) out[k] = streamByte(off + k);
  return out;
}

/** Peer data at stream offset `off` (relative to the first byte after its SYN). */
function send(e: Opened, off: number, len: number, flags = TCP_ACK): void {
  e.h.inject(
    { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + off, ack: e.iss + 1, flags },
    stream(off, len),
  );
}

/** What the connection holds, counted from its parts (an out-of-order piece costs its bytes plus P). */
function held(c: TcpConnection): number {
  // The receive queue charges a frame it keeps by reference at its true size (recv-queue.ts).
  return c.sndBuf.length + c.rcvBuf.charged + (c.hasReasm ? c.reasm.charged : 0);
}

/** A second connection on the same layer (to the peer's port 5556), established. */
function second(h: Harness, ev = new EventLog()): { c: TcpConnection; iss: number; ev: EventLog } {
  const c = h.layer.connect({ remote: B, remotePort: PEER_PORT + 1, events: ev });
  const syn = h.one();
  h.inject({
    srcPort: PEER_PORT + 1,
    dstPort: c.local.port,
    seq: PEER_ISN,
    ack: syn.repr.seq + 1,
    flags: TCP_SYN | TCP_ACK,
    options: { mss: 1460 },
  });
  h.take();
  assert.equal(c.state, 'ESTABLISHED');
  return { c, iss: syn.repr.seq, ev };
}

describe('TCP memory account', () => {
  it('rings and the reassembly queue charge what they hold and credit what they release', () => {
    // The queue's two pieces cost P each besides their bytes (reassembly.ts PIECE_OVERHEAD).
    const mem = new TcpMemory({ limit: 1000 + 2 * P, pressure: 0.75 });
    const r = new ByteRing(800, mem);
    assert.equal(r.push(new Uint8Array(500)), 500);
    assert.equal(mem.inUse, 500);
    const q = new ReassemblyQueue(10_000, undefined, mem);
    assert.equal(q.insert(seq(100), new Uint8Array(200), false), 'stored');
    assert.equal(q.insert(seq(250), new Uint8Array(100), false), 'stored'); // 50 new bytes
    assert.equal(mem.inUse, 750 + 2 * P);
    assert.ok(mem.underPressure);
    // The ring takes no more than the account has left, though its own limit allows 300.
    assert.equal(r.space, 250);
    assert.equal(r.push(new Uint8Array(300)), 250);
    assert.equal(mem.inUse, 1000 + 2 * P);
    assert.equal(mem.available, 0);
    assert.equal(r.push(new Uint8Array(1)), 0);
    r.take(100);
    q.clear(seq(200)); // keeps [100, 200): one piece
    assert.equal(mem.inUse, 900 - 150 + P);
    assert.equal(q.take(seq(100)).length, 100);
    r.clear();
    assert.equal(mem.inUse, 0);
    assert.equal(mem.peak, 1000 + 2 * P);
    assert.equal(q.bytes, 0);
  });

  it('rejects a limit that is not positive or a pressure outside (0, 1] with EINVAL', () => {
    assert.throws(() => new TcpMemory({ limit: 0, pressure: 0.5 }), { code: 'EINVAL' });
    assert.throws(() => new TcpMemory({ limit: Number.NaN, pressure: 0.5 }), { code: 'EINVAL' });
    assert.throws(() => new TcpMemory({ limit: 100, pressure: 0 }), { code: 'EINVAL' });
    assert.throws(() => new TcpMemory({ limit: 100, pressure: 1.5 }), { code: 'EINVAL' });
    assert.throws(() => established({ config: { memoryLimit: -1 } }), { code: 'EINVAL' });
    const unbounded = new TcpMemory({ limit: Number.POSITIVE_INFINITY, pressure: 0.75 });
    assert.equal(unbounded.windowRoom(1460), Number.POSITIVE_INFINITY);
  });

  it('a connection charges its send, receive and out-of-order bytes to layer.memory', () => {
    const e = established({ peerOptions: { mss: 1460, sackPermitted: true } });
    const mem = e.h.layer.memory;
    assert.equal(mem.limit, 64 * 1024 * 1024);
    assert.equal(e.c.write(new Uint8Array(3000)), 3000);
    send(e, 0, 1000);
    send(e, 2000, 500); // out of order: one piece
    assert.equal(mem.inUse, 3000 + 1000 + 500 + P);
    assert.equal(held(e.c), mem.inUse);
    // The peer acknowledges 2000 of our bytes and fills the hole.
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq + 1000,
      ack: e.iss + 1 + 2000,
      flags: TCP_ACK,
    });
    send(e, 1000, 1000);
    assert.equal(mem.inUse, 1000 + 2500);
    assert.deepEqual(e.c.read(), stream(0, 2500));
    assert.equal(mem.inUse, 1000);
    assert.deepEqual(mem.snapshot(), {
      inUse: 1000,
      peak: 4500 + P,
      limit: 64 * 1024 * 1024,
      pressure: 48 * 1024 * 1024,
      underPressure: false,
    });
  });

  it('at the limit a data segment is dropped and ACKed, and the retransmission is taken once there is room', () => {
    // The SYN offered min(free space, 65535) = 4000; 2920 bytes of our own (two full segments) then fill the account.
    const e = established({ config: { memoryLimit: 4000, memoryPressure: 1 } });
    const mem = e.h.layer.memory;
    assert.equal(e.c.rcv.wnd, 4000);
    assert.equal(e.c.write(new Uint8Array(2920)), 2920);
    e.h.take();
    send(e, 0, 800);
    assert.equal(e.c.readableLength, 800);
    e.h.advance(200);
    e.h.take();
    // 800 + 2920 held: 280 left, and this segment lies inside the window we offered.
    send(e, 800, 1000);
    assert.equal(e.h.layer.stats.memoryDrops, 1);
    assert.equal(e.c.readableLength, 800, 'acknowledged data is kept');
    expectSeg(e.h.one(), { flags: TCP_ACK, ack: e.peerSeq + 800 });
    assert.ok(mem.inUse <= mem.limit);
    // The peer acknowledges our data: the account has room again and the retransmission lands.
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq + 800,
      ack: e.iss + 1 + 2920,
      flags: TCP_ACK,
    });
    send(e, 800, 1000);
    assert.equal(e.h.layer.stats.memoryDrops, 1);
    assert.deepEqual(e.c.read(), stream(0, 1800));
    assert.equal(mem.inUse, 0);
  });

  it('prunes out-of-order data above an in-order segment before dropping it', () => {
    const e = established({
      config: { memoryLimit: 6000 + 2 * P, memoryPressure: 1 },
      peerOptions: { mss: 1460, sackPermitted: true },
    });
    const mem = e.h.layer.memory;
    send(e, 3000, 1000);
    send(e, 4500, 1000);
    assert.equal(e.c.reasm.bytes, 2000);
    assert.equal(e.c.reasm.charged, 2000 + 2 * P);
    assert.equal(e.c.write(new Uint8Array(3500)), 3500);
    e.h.take();
    assert.equal(mem.inUse, 5500 + 2 * P);
    // In order, 1000 bytes, 500 available: the out-of-order data goes, the segment stays.
    send(e, 0, 1000);
    assert.equal(e.h.layer.stats.memoryPrunes, 1);
    assert.equal(e.h.layer.stats.memoryDrops, 0);
    assert.equal(e.c.readableLength, 1000);
    assert.equal(e.c.hasReasm, false);
    assert.equal(mem.inUse, 4500);
    // The ACK carries no SACK block for the discarded data (RFC 2018 §8 reneging).
    e.h.advance(40);
    const ack = e.h.take().at(-1);
    assert.ok(ack);
    expectSeg(ack, { ack: e.peerSeq + 1000 });
    assert.equal(ack.repr.options.sack, undefined);
    assert.deepEqual(e.c.read(), stream(0, 1000));
  });

  it('under pressure the window grows by at most 4 MSS and its right edge never moves left', () => {
    const e = established({ config: { memoryLimit: 100_000, memoryPressure: 0.5 } });
    const mem = e.h.layer.memory;
    let edge = e.peerSeq + e.c.rcv.wnd;
    let off = 0;
    let consumed = 0;
    let stalls = 0;
    let sawPressureWindow = false;
    for (let i = 0; i < 400 && stalls < 4; i++) {
      const len = Math.min(1460, edge - (e.peerSeq + off));
      if (len > 0) {
        send(e, off, len);
        off += len;
        e.h.advance(40);
      } else {
        // The peer is stopped at the edge; the application reads a little, staying under pressure.
        stalls++;
        if (stalls === 4) break;
        const d = e.c.read(20_000);
        assert.ok(d);
        assert.deepEqual(d, stream(consumed, d.length));
        consumed += d.length;
        assert.ok(mem.underPressure);
      }
      for (const s of e.h.take()) {
        const right = s.repr.ack + s.repr.window;
        assert.ok(right >= edge, `right edge moved left: ${right} < ${edge}`);
        if (mem.underPressure && right > edge) {
          assert.ok(s.repr.window <= 4 * 1460, `window ${s.repr.window} under pressure`);
          sawPressureWindow = true;
        }
        edge = right;
      }
      assert.ok(mem.inUse <= mem.limit);
    }
    assert.equal(stalls, 4);
    assert.ok(sawPressureWindow);
    // The peer filled every window offered and stopped at the limit, with nothing dropped.
    assert.equal(e.peerSeq + off, edge);
    assert.equal(e.h.layer.stats.memoryDrops, 0);
    assert.ok(mem.inUse > mem.limit - 4 * 1460 && mem.inUse <= mem.limit, `${mem.inUse}`);
    // Reading everything ends the pressure: the window update offers the full field again.
    assert.deepEqual(e.c.read(), stream(consumed, off - consumed));
    expectSeg(e.h.one(), { ack: e.peerSeq + off, window: 65535 });
  });

  it('write() stops at the pressure threshold, keeping the rest for arriving data; a blocked writer is woken', () => {
    const e = established({ config: { memoryLimit: 20_000 } });
    const mem = e.h.layer.memory;
    assert.equal(mem.pressure, 15_000);
    assert.equal(e.c.write(new Uint8Array(30_000)), 15_000);
    e.h.take();
    const other = second(e.h);
    other.ev.log.length = 0;
    assert.equal(other.c.writableSpace, 0);
    assert.equal(other.c.write(new Uint8Array(100)), 0);
    // Arriving data still has the 5000 bytes above the threshold.
    send(e, 0, 4000);
    assert.equal(e.c.readableLength, 4000);
    assert.equal(mem.inUse, 19_000);
    e.h.take();
    // 10000 of the first connection's bytes are acknowledged: both writers may go on, and
    // the one with nothing in flight (no ACK of its own to wake it) is told so.
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq + 4000,
      ack: e.iss + 1 + 10_000,
      flags: TCP_ACK,
    });
    assert.equal(mem.inUse, 9000);
    assert.deepEqual(other.ev.log, [], 'not from inside the ACK processing');
    e.h.advance(0);
    assert.deepEqual(other.ev.log, ['writable']);
    assert.equal(other.c.write(new Uint8Array(100)), 100);
    assert.equal(e.c.write(new Uint8Array(30_000)), 6000 - 100);
    assert.equal(mem.inUse, 15_000);
    assert.equal(mem.blockedWriters, 1);
    e.c.abort();
    other.c.abort();
    assert.equal(mem.blockedWriters, 0, 'a gone connection is not kept for a wake-up');
    assert.equal(mem.inUse, 0);
  });

  it('random segments, reads and ACKs never take the account past the limit and lose no byte', () => {
    let limitHits = 0;
    for (const seed of [1, 2, 3]) {
      const e = established({
        config: { memoryLimit: 30_000, memoryPressure: 0.6 },
        peerOptions: { mss: 1460, sackPermitted: true },
      });
      const rng = new SeededRng(seed);
      const mem = e.h.layer.memory;
      let read = 0;
      let acked = 0;
      for (let i = 0; i < 1500; i++) {
        const k = rng.below(10);
        if (k < 6) {
          // Near RCV.NXT often enough that data goes in order too.
          const off = Math.max(read, read + e.c.readableLength + rng.below(40_000) - 4000);
          send(e, off, 1 + rng.below(1460));
        } else if (k === 6) {
          const d = e.c.read(1 + rng.below(8000));
          if (d) {
            assert.deepEqual(d, stream(read, d.length));
            read += d.length;
          }
        } else if (k === 7) {
          e.c.write(new Uint8Array(rng.below(6000)));
        } else if (k === 8) {
          acked = Math.min(seqSub(e.c.sndMax, seq(e.iss + 1)), acked + rng.below(5000));
          e.h.inject({
            srcPort: PEER_PORT,
            dstPort: e.port,
            seq: e.peerSeq,
            ack: e.iss + 1 + acked,
            flags: TCP_ACK,
          });
        } else e.h.advance(rng.below(300));
        e.h.take();
        assert.ok(mem.inUse <= mem.limit, `seed ${seed} step ${i}: ${mem.inUse}`);
        assert.equal(mem.inUse, held(e.c));
      }
      const st = e.h.layer.stats;
      limitHits += st.memoryDrops + st.memoryPrunes;
      assert.ok(mem.peak > mem.pressure, `seed ${seed}: ran under pressure`);
      // The peer acknowledges all our data, then sends everything in order while we read:
      // the whole stream arrives.
      for (let guard = 0; e.c.sndBuf.length > 0 && guard < 100; guard++) {
        const ack = e.c.sndMax;
        e.h.inject({
          srcPort: PEER_PORT,
          dstPort: e.port,
          seq: e.peerSeq + read + e.c.readableLength,
          ack,
          flags: TCP_ACK,
        });
        e.h.advance(10);
        e.h.take();
      }
      assert.equal(e.c.sndBuf.length, 0);
      const total = read + e.c.readableLength + 50_000;
      for (let guard = 0; read < total && guard < 10_000; guard++) {
        const off = read + e.c.readableLength;
        send(e, off, Math.min(1460, total - off));
        const d = e.c.read();
        if (d) {
          assert.deepEqual(d, stream(read, d.length));
          read += d.length;
        }
      }
      assert.equal(read, total);
      e.c.abort();
      assert.equal(mem.inUse, 0);
    }
    assert.ok(limitHits > 0, 'segments were pruned or dropped at the limit');
  });

  it('every way a connection ends gives all of its memory back', () => {
    const withData = (o: { orderly?: boolean } = {}) => {
      const e = established({
        peerOptions: { mss: 1460, sackPermitted: true },
        connectOptions: { options: { noDelay: true } },
      });
      e.c.write(new Uint8Array(5000));
      send(e, 0, 700);
      if (o.orderly) e.c.read();
      else send(e, 2000, 300); // out of order
      e.h.take();
      return e;
    };
    // close() with unread data: RST (RFC 1122 §4.2.2.13).
    let e = withData();
    e.c.close();
    assert.equal(e.c.state, 'CLOSED');
    assert.equal(e.h.layer.memory.inUse, 0);
    // abort().
    e = withData();
    e.c.abort();
    assert.equal(e.h.layer.memory.inUse, 0);
    // The peer resets; the unread bytes stay readable until the socket is closed.
    e = withData();
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 700, flags: TCP_RST });
    assert.equal(e.c.state, 'CLOSED');
    assert.equal(e.h.layer.memory.inUse, 700);
    e.c.close();
    assert.equal(e.h.layer.memory.inUse, 0);
    // Orderly: all data acknowledged, FINs both ways, TIME-WAIT expires.
    e = withData({ orderly: true });
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq + 700,
      ack: e.iss + 1 + 5000,
      flags: TCP_ACK,
    });
    e.c.close();
    const fin = e.h.take().at(-1);
    assert.ok(fin && fin.repr.flags & TCP_FIN);
    e.h.inject({
      srcPort: PEER_PORT,
      dstPort: e.port,
      seq: e.peerSeq + 700,
      ack: e.iss + 1 + 5001,
      flags: TCP_FIN | TCP_ACK,
    });
    assert.equal(e.c.state, 'TIME-WAIT');
    e.h.advance(120_000);
    assert.equal(e.h.layer.connectionCount, 0);
    assert.equal(e.h.layer.memory.inUse, 0);
    // A listener closed with an accepted-but-unread connection and one still in its queue.
    const a = accepted();
    send({ ...a, peerSeq: a.peerSeq }, 0, 500);
    assert.equal(a.h.layer.memory.inUse, 500);
    a.c.close();
    a.h.inject({
      srcPort: PEER_PORT + 1,
      dstPort: 80,
      seq: PEER_ISN,
      flags: TCP_SYN,
      options: { mss: 1460 },
    });
    const synAck = a.h.take().at(-1);
    assert.ok(synAck);
    a.h.inject({
      srcPort: PEER_PORT + 1,
      dstPort: 80,
      seq: PEER_ISN + 1,
      ack: synAck.repr.seq + 1,
      flags: TCP_ACK,
    });
    a.h.inject(
      { srcPort: PEER_PORT + 1, dstPort: 80, seq: PEER_ISN + 1, ack: synAck.repr.seq + 1, flags: TCP_ACK },
      stream(0, 400),
    );
    assert.equal(a.l.acceptQueueLength, 1);
    assert.equal(a.h.layer.memory.inUse, 400);
    a.l.close();
    assert.equal(a.h.layer.memory.inUse, 0);
    // A connection reset by its peer while still waiting to be accepted.
    a.h.inject({
      srcPort: PEER_PORT + 2,
      dstPort: 80,
      seq: PEER_ISN,
      flags: TCP_SYN,
      options: { mss: 1460 },
    });
    assert.equal(a.h.layer.memory.inUse, 0); // the listener is closed: RST, no connection
    const l2 = a.h.layer.listen({ port: 81, backlog: 4 });
    a.h.inject({
      srcPort: PEER_PORT + 2,
      dstPort: 81,
      seq: PEER_ISN,
      flags: TCP_SYN,
      options: { mss: 1460 },
    });
    const synAck2 = a.h.take().at(-1);
    assert.ok(synAck2);
    const ack2 = synAck2.repr.seq + 1;
    a.h.inject(
      { srcPort: PEER_PORT + 2, dstPort: 81, seq: PEER_ISN + 1, ack: ack2, flags: TCP_ACK },
      stream(0, 300),
    );
    assert.equal(l2.acceptQueueLength, 1);
    assert.equal(a.h.layer.memory.inUse, 300);
    a.h.inject({ srcPort: PEER_PORT + 2, dstPort: 81, seq: PEER_ISN + 301, flags: TCP_RST });
    assert.equal(l2.acceptQueueLength, 0);
    assert.equal(a.h.layer.memory.inUse, 0);
  });
});
