/**
 * Memory caps that count what memory really costs (issue #17): each test floods one bounded
 * structure on a memory network, checks that the cap holds in structure counts, and compares
 * what the structure charges (or its count times a per-entry budget) with the retained heap
 * measured after full collections. Figures are printed.
 *
 * - UDP receive queue (SO_RCVBUF): a flood of empty datagrams. Charging data alone let it
 *   grow without bound; each datagram is now charged its data + UDP_DATAGRAM_OVERHEAD.
 * - TCP out-of-order queue: 1-byte segments with holes between them, each in a frame with a
 *   16 KiB buffer behind it (a frame slab, src/link/frame-alloc.ts). A held piece used to keep
 *   its whole buffer alive while 1 byte was charged; small pieces are now copied out and
 *   charged their bytes + PIECE_OVERHEAD.
 * - Neighbour (ARP) cache: requests from thousands of spoofed senders.
 * - Listen queues: a SYN flood (SYN queue, then cookies) and unaccepted connections (the
 *   accept backlog).
 * - IPv4 reassembly has its own flood test (ip-blind-attacks.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import type { Stack } from '../../src/stack.ts';
import { PIECE_OVERHEAD } from '../../src/tcp/reassembly.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { UDP_DEFAULT_RCVBUF } from '../../src/udp/udp.ts';
import { MAC_ZERO } from '../../src/wire/address.ts';
import { ARP_LEN, ARP_OP_REQUEST, emitArp } from '../../src/wire/arp.ts';
import { ETHERTYPE_ARP, emitEthernet } from '../../src/wire/ethernet.ts';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.ts';
import { connectionOf, forgeTcpFrame, pair } from './tcp-net.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Retained heap (JS heap + ArrayBuffers) after full collections. */
function retained(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const KiB = 1024;

function macOf(s: Stack): Uint8Array {
  const i = s.ip.getInterface('eth0');
  if (i === undefined) throw new Error('no eth0');
  return i.mac;
}

/** A copy of `frame` in a buffer of its own of `room` bytes (a frame carved from a slab). */
function inBuffer(frame: Uint8Array, room: number): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(Math.max(room, frame.length)), 0, frame.length);
  out.set(frame);
  return out;
}

describe('memory caps count what memory costs', () => {
  it('UDP receive queue: a flood of empty datagrams stays within SO_RCVBUF, in heap terms', async () => {
    const net = pair({ seed: 41 });
    const { sim, a, b } = net;
    const rx = b.socket(AF_INET, SOCK_DGRAM);
    const tx = a.socket(AF_INET, SOCK_DGRAM);
    await sim.run(async () => {
      await rx.bind(['0.0.0.0', 9000]);
    });
    const ep = b.udp.endpoints().find((e) => e.local.port === 9000);
    assert.ok(ep);
    await sim.run(async () => {
      for (let i = 0; i < 20_000; i++) {
        await tx.sendto(new Uint8Array(0), ['10.0.0.2', 9000]);
        if (i % 500 === 0) await sim.delay(millis(1));
      }
      await sim.delay(millis(10));
    });
    // What the queue holds in heap: retained with it, less retained once it is read out.
    // The queue still delivers (through the socket).
    const [d] = await sim.run(() => rx.recvfrom(100));
    assert.equal(d.length, 0);
    const queued = ep.queue.length;
    const charged = ep.queueBytes;
    const full = retained();
    while (ep.queue.length > 0) ep.recv();
    const cost = full - retained();
    console.log(
      `UDP: ${queued} empty datagrams queued, ${charged} B charged (rcvbuf ${ep.rcvbuf}), they held ${(cost / KiB).toFixed(0)} KiB of heap (${(cost / queued).toFixed(0)} B each), ${b.stats.udp.receiveQueueDrops} dropped`,
    );
    assert.ok(charged <= UDP_DEFAULT_RCVBUF);
    assert.ok(queued < 1000, `${queued} empty datagrams queued`);
    assert.ok(b.stats.udp.receiveQueueDrops > 18_000);
    // The charge covers the heap the queue really held (within 50%, plus 64 KiB of noise).
    assert.ok(cost < charged * 1.5 + 64 * KiB, `heap ${cost} B for ${charged} B charged`);
  });

  it('TCP out-of-order queue: 1-byte pieces in 16 KiB frame buffers are charged what they hold', async () => {
    const net = pair({ seed: 42, config: { tcp: { rcvBuf: 256 * KiB } } });
    const { sim, a, b } = net;
    const { cli, conn } = await sim.run(async () => {
      const srv = b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 7000]);
      await srv.listen(4);
      const cli = a.socket(AF_INET, SOCK_STREAM);
      await cli.connect(['10.0.0.2', 7000]);
      const [conn] = await srv.accept();
      return { cli, conn };
    });
    const c = connectionOf(b, conn);
    const ca = connectionOf(a, cli);
    assert.ok(c && ca);
    const [, cport] = cli.getsockname() as [string, number];
    const mem = b.tcp.memory;
    const base = mem.inUse;
    // The peer's own next sequence number and timestamp (an on-path sender: these are
    // acceptable segments, so the queue itself is what bounds them).
    const start = c.rcv.nxt;
    const n = 6000;
    for (let k = 0; k < n; k++) {
      const f = forgeTcpFrame({
        srcMac: macOf(a),
        dstMac: macOf(b),
        src: '10.0.0.1',
        dst: '10.0.0.2',
        srcPort: cport,
        dstPort: 7000,
        seq: start + 2 + 2 * k,
        ack: c.snd.nxt,
        flags: TCP_ACK,
        window: 65535,
        options: c.tsOk ? { timestamps: { tsVal: (c.tsRecent + 1) >>> 0, tsEcr: 0 } } : {},
        payload: new Uint8Array([k & 0xff]),
      });
      net.cable.a.transmit(inBuffer(f, 16 * KiB));
      if (k % 64 === 63) sim.runFor(millis(1));
    }
    sim.runFor(millis(5));
    const pieces = c.reasm.segments;
    const charged = mem.inUse - base;
    // What the queue holds in heap: retained with it, less retained once it is dropped
    // (reneging, RFC 2018 §8: what memory pressure would do).
    const full = retained();
    c.reasm.clear();
    const cost = full - retained();
    console.log(
      `TCP OOO: ${pieces} pieces (max ${c.reasm.maxSegments}), ${pieces} B of data, ${charged} B charged, they held ${(cost / KiB).toFixed(0)} KiB of heap (${(cost / pieces).toFixed(0)} B each)`,
    );
    assert.ok(pieces > 1000, `only ${pieces} pieces held: the flood did not reach the queue`);
    assert.ok(pieces <= c.reasm.maxSegments);
    assert.equal(charged, pieces + pieces * PIECE_OVERHEAD);
    // Unfixed, each piece kept its 16 KiB buffer alive: pieces × 16 KiB against pieces × 1 B charged.
    assert.ok(cost < charged * 1.5 + 64 * KiB, `heap ${cost} B for ${charged} B charged`);
    assert.equal(mem.inUse, base, 'the account is back where it was');
  });

  it('neighbour cache: ARP requests from 5000 spoofed senders stay within maxEntries', () => {
    const net = pair({ seed: 43 });
    const { sim, b } = net;
    const iface = b.ip.getInterface('eth0');
    assert.ok(iface?.arp);
    const cache = iface.arp;
    const before = retained();
    for (let i = 0; i < 5000; i++) {
      const arp = new Uint8Array(ARP_LEN);
      const mac = Uint8Array.from([0x02, 0, 0, (i >> 16) & 255, (i >> 8) & 255, i & 255]);
      emitArp(
        {
          op: ARP_OP_REQUEST,
          senderMac: mac,
          senderIp: (0x0a000000 | (3 + (i % 250))) + ((i / 250) | 0) * 0x100,
          targetMac: MAC_ZERO,
          targetIp: 0x0a000002,
        },
        arp,
      );
      const f = new Uint8Array(14 + ARP_LEN);
      emitEthernet({ dst: macOf(b), src: mac, ethertype: ETHERTYPE_ARP }, f);
      f.set(arp, 14);
      net.cable.a.transmit(f);
      if (i % 64 === 63) sim.runFor(millis(1));
    }
    sim.runFor(millis(5));
    const delta = retained() - before;
    const perEntry = delta / Math.max(1, cache.size);
    console.log(
      `neighbours: ${cache.size} entries (max ${cache.config.maxEntries}), heap +${(delta / KiB).toFixed(0)} KiB (${perEntry.toFixed(0)} B/entry)`,
    );
    assert.ok(cache.size <= cache.config.maxEntries);
    assert.ok(cache.size > 100, 'the requests aimed at us made entries');
    // An entry (record, MAC, timer) costs well under 2 KiB: the cap bounds the heap.
    assert.ok(delta < cache.config.maxEntries * 2 * KiB + 256 * KiB, `heap +${delta} B`);
  });

  it('listen queues: a SYN flood stays within the SYN queue (then cookies), unaccepted connections within the backlog', async () => {
    const net = pair({ seed: 44, config: { tcp: { synBacklog: 64 } } });
    const { sim, a, b } = net;
    const srv = b.socket(AF_INET, SOCK_STREAM);
    await sim.run(async () => {
      await srv.bind(['0.0.0.0', 7100]);
      await srv.listen(4);
    });
    const [listener] = [...b.tcp.listeners()];
    const before = retained();
    let maxSyn = 0;
    for (let i = 0; i < 20_000; i++) {
      const f = forgeTcpFrame({
        srcMac: macOf(a),
        dstMac: macOf(b),
        src: `10.0.${1 + ((i >> 8) & 0x3f)}.${1 + ((i & 0xff) % 250)}`,
        dst: '10.0.0.2',
        srcPort: 1024 + (i % 60000),
        dstPort: 7100,
        seq: i * 7919,
        flags: TCP_SYN,
        options: { mss: 1460 },
      });
      net.cable.a.transmit(f);
      if (i % 64 === 63) {
        sim.runFor(millis(1));
        maxSyn = Math.max(maxSyn, listener.synQueueLength);
      }
    }
    sim.runFor(millis(5));
    const delta = retained() - before;
    console.log(
      `SYN flood: SYN queue peak ${maxSyn} (synBacklog 64), ${b.tcp.stats.cookiesSent} cookies, ${b.tcp.connectionCount} connections, heap +${(delta / KiB).toFixed(0)} KiB`,
    );
    assert.ok(maxSyn <= 64);
    assert.ok(b.tcp.connectionCount <= 64);
    assert.ok(b.tcp.stats.cookiesSent > 19_000);
    assert.ok(delta < 64 * 16 * KiB + 1024 * KiB, `heap +${delta} B`);
    // Unaccepted connections: listen(4) holds 5 (Linux: backlog + 1); the rest wait.
    const clients = await sim.run(async () => {
      const out = [];
      for (let i = 0; i < 30; i++) {
        const c = a.socket(AF_INET, SOCK_STREAM);
        c.setblocking(false);
        await c.connectEx(['10.0.0.2', 7100]);
        out.push(c);
      }
      await sim.delay(seconds(2));
      return out;
    });
    console.log(`accept queue: ${listener.acceptQueueLength} of 30 clients (backlog 4)`);
    assert.equal(listener.acceptQueueLength, 5);
    for (const c of clients) await sim.run(() => c.close());
  });
});
