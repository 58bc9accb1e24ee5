/**
 * TCP super-segments (TSO/GSO, Device.gsoMaxSize): TCP builds segments of several MSS under
 * one header for a device that takes them; software segmentation (src/wire/gso.ts) cuts them
 * where real segments are needed (an impaired memory link, a router towards a device without
 * the capability); the receiver takes them whole. Transfers stay byte-exact throughout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releaseFrame } from '../../src/link/frame-alloc.ts';
import { Cable } from '../../src/link/memory.ts';
import { PassThroughDevice } from '../../src/link/passthrough.ts';
import { CaptureDevice, type CaptureWriter } from '../../src/link/pcap.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import { millis } from '../../src/time/instant.ts';
import { type IpAddress, parseIp } from '../../src/wire/address.ts';
import {
  checksumPartial,
  finishChecksum,
  pseudoHeaderSumV4,
  pseudoHeaderSumV6,
} from '../../src/wire/checksum.ts';
import { markSuperSegment, segmentTcp } from '../../src/wire/gso.ts';
import { emitIpv4, parseIpv4Packet } from '../../src/wire/ipv4.ts';
import { emitTcp, parseTcp, TCP_ACK, TCP_CWR, TCP_FIN, TCP_PSH, type TcpRepr } from '../../src/wire/tcp.ts';

const ip = (s: string): IpAddress => parseIp(s)!;

function pattern(n: number, k = 31): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * k + 7) & 0xff);
}

const REPR: TcpRepr = {
  srcPort: 40000,
  dstPort: 80,
  seq: 0xfffff000, // wraps inside the super-segment
  ack: 1234,
  flags: TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR,
  window: 512,
  urgentPointer: 0,
  options: { timestamps: { tsVal: 5, tsEcr: 6 } },
};

test('segmentTcp cuts an IPv4 super-segment into wire segments: lengths, sequence numbers, flags, checksums', () => {
  const data = pattern(10_000);
  const tcpLen = 32 + data.length;
  const l2 = 14;
  const frame = new Uint8Array(l2 + 20 + tcpLen);
  frame.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00]);
  emitIpv4(
    {
      dscp: 0,
      ecn: 2,
      identification: 0xfffe,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: 6,
      src: 0x0a000001,
      dst: 0x0a000002,
      options: new Uint8Array(0),
      payloadLength: tcpLen,
    },
    frame,
    l2,
  );
  emitTcp(REPR, data, frame, undefined, l2 + 20); // checksum left out, as under GSO
  const segs = segmentTcp(frame, l2, 1448, true);
  assert.ok(segs);
  assert.equal(segs.length, 7, 'ceil(10000 / 1448)');
  const got: number[] = [];
  for (const [i, s] of segs.entries()) {
    assert.deepEqual(s.subarray(0, 14), frame.subarray(0, 14), 'link header copied');
    const p = parseIpv4Packet(s.subarray(14));
    assert.ok(!('wireError' in p), 'IPv4 header valid (checksum recomputed)');
    assert.equal(p.repr.identification, (0xfffe + i) & 0xffff);
    assert.equal(p.repr.ecn, 2);
    const sum = pseudoHeaderSumV4(0x0a000001, 0x0a000002, 6, p.payload.length);
    const t = parseTcp(p.payload, sum);
    assert.ok(!('wireError' in t), 'TCP checksum valid');
    assert.equal(t.repr.seq, (REPR.seq + i * 1448) >>> 0);
    assert.equal(t.payload.length, i < 6 ? 1448 : 10_000 - 6 * 1448);
    const last: boolean = i === segs.length - 1;
    assert.equal((t.repr.flags & TCP_FIN) !== 0, last, 'FIN on the last only');
    assert.equal((t.repr.flags & TCP_PSH) !== 0, last, 'PSH on the last only');
    assert.equal((t.repr.flags & TCP_CWR) !== 0, i === 0, 'CWR on the first only');
    assert.deepEqual(t.repr.options.timestamps, { tsVal: 5, tsEcr: 6 });
    got.push(...t.payload);
  }
  assert.deepEqual(new Uint8Array(got), data);
  // Not TCP, or a fragment: not cut.
  const udp = frame.slice();
  udp[l2 + 9] = 17;
  assert.equal(segmentTcp(udp, l2, 1448, true), null);
  const frag = frame.slice();
  frag[l2 + 6] |= 0x20;
  assert.equal(segmentTcp(frag, l2, 1448, true), null);
});

test('segmentTcp cuts an IPv6 super-segment (payload length, checksums over the IPv6 pseudo-header)', () => {
  const data = pattern(5000, 7);
  const tcpLen = 32 + data.length;
  const pkt = new Uint8Array(40 + tcpLen);
  pkt[0] = 0x60;
  pkt[4] = tcpLen >> 8;
  pkt[5] = tcpLen & 0xff;
  pkt[6] = 6;
  pkt[7] = 64;
  pkt[23] = 1; // ::1 → ::2
  pkt[39] = 2;
  emitTcp(REPR, data, pkt, undefined, 40);
  const segs = segmentTcp(pkt, 0, 1220, true);
  assert.ok(segs);
  assert.equal(segs.length, 5);
  let total = 0;
  for (const s of segs) {
    const pl = (s[4] << 8) | s[5];
    assert.equal(pl, s.length - 40);
    const seg = s.subarray(40);
    const sum = pseudoHeaderSumV6(s.subarray(8, 24), s.subarray(24, 40), 6, seg.length);
    assert.equal(finishChecksum(checksumPartial(seg, sum)), 0, 'TCP checksum valid');
    total += seg.length - 32;
  }
  assert.equal(total, data.length);
});

interface Net {
  sim: Simulation;
  cable: Cable;
  a: Stack;
  b: Stack;
  /** Frames a transmitted that were larger than the MTU (super-segments). */
  superSegments: () => number;
  /** b's address, as a connects to it. */
  remote: string;
}

function pairNet(seed: number, aToB: object = {}, gso = true, family: 4 | 6 = 4): Net {
  const sim = new Simulation({ seed });
  const delay = millis(1);
  const cable = sim.add(
    new Cable({ clock: sim.clock, rng: sim.rng.fork(), aToB: { delay, ...aToB }, bToA: { delay }, gso }),
  );
  let big = 0;
  const writer: CaptureWriter = {
    writePacket: (_t, data, _i, dir) => {
      if (dir === 'out' && data.length > 14 + 1500) big++;
    },
    interfaceFor: () => 0,
  };
  const cap = new CaptureDevice(cable.a, writer, sim.clock);
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: cap, addresses: [family === 4 ? '10.5.0.1/24' : 'fd00:5::1/64'] });
  b.addInterface({
    name: 'eth0',
    device: cable.b,
    addresses: [family === 4 ? '10.5.0.2/24' : 'fd00:5::2/64'],
  });
  sim.runUntilIdle();
  return { sim, cable, a, b, superSegments: () => big, remote: family === 4 ? '10.5.0.2' : 'fd00:5::2' };
}

/** Sends `bytes` from a to b:5001 and returns what arrived (asserting it is byte-exact). */
function transfer(net: Net, bytes: number): void {
  const { sim, a, b } = net;
  const l = b.tcp.listen({ port: 5001, backlog: 1 });
  const c = a.tcp.connect({ remote: ip(net.remote), remotePort: 5001 });
  const data = pattern(bytes);
  let sent = 0;
  const out = new Uint8Array(bytes);
  let got = 0;
  let eof = false;
  const pump = () => {
    while (sent < bytes) {
      const n = c.write(data.subarray(sent));
      if (n === 0) return;
      sent += n;
    }
    c.close();
  };
  c.events = { onEstablished: pump, onWritable: pump };
  l.onAcceptable = () => {
    const s = l.accept();
    if (!s) return;
    const drain = () => {
      for (let d = s.read(1 << 16); d !== null; d = s.read(1 << 16)) {
        assert.ok(got + d.length <= bytes, 'no more than was sent');
        out.set(d, got);
        got += d.length;
      }
      if (s.eof) eof = true;
    };
    s.events = { onReadable: drain, onEnd: drain };
  };
  for (let i = 0; i < 600 && !eof; i++) sim.runFor(millis(100));
  assert.ok(eof, 'the transfer finished');
  assert.equal(got, bytes);
  assert.deepEqual(out, data, 'byte-exact');
}

test('over a clean memory link TCP sends super-segments and the receiver takes them whole', () => {
  const net = pairNet(21);
  assert.equal(net.cable.a.gsoMaxSize, 65535);
  transfer(net, 4 << 20);
  const segs = net.a.tcp.stats.segmentsOut;
  const frames = net.cable.aToB.stats.sent;
  assert.ok(net.superSegments() > 10, `${net.superSegments()} super-segments sent`);
  assert.ok(frames * 4 < segs, `${frames} frames carried ${segs} segments`);
  assert.equal(net.cable.aToB.stats.dropped.mtu, 0);
  assert.equal(net.a.tcp.stats.retransmits, 0);
  // Both ends count the segments a super-segment stands for (Linux segs_out / segs_in, gso_segs).
  assert.equal(net.b.tcp.stats.segmentsIn, segs, 'b counts every segment a counted');
  // The receiver ACKs one super-segment at once (it holds two or more full-sized segments).
  assert.ok(net.b.tcp.stats.segmentsOut < frames * 2, 'about one ACK per super-segment');
});

test('over IPv6 too: super-segments (payload length, no fragment header) taken whole, byte-exact', () => {
  const net = pairNet(26, {}, true, 6);
  transfer(net, 4 << 20);
  const segs = net.a.tcp.stats.segmentsOut;
  const frames = net.cable.aToB.stats.sent;
  assert.ok(net.superSegments() > 10, `${net.superSegments()} super-segments sent`);
  assert.ok(frames * 4 < segs, `${frames} frames carried ${segs} segments`);
  assert.equal(net.cable.aToB.stats.dropped.mtu, 0);
  assert.equal(net.a.tcp.stats.retransmits, 0);
  assert.equal(net.a.ip6.stats.fragOk, 0, 'nothing fragmented');
  assert.equal(net.b.tcp.stats.segmentsIn, segs, 'b counts every segment a counted');
});

test('IPv6 super-segments over a lossy, reordering link: cut into wire segments there, byte-exact', () => {
  const net = pairNet(27, { loss: 0.01, reorder: { probability: 0.03, extraDelay: millis(2) } }, true, 6);
  transfer(net, 2 << 20);
  assert.ok(net.superSegments() > 0, 'the sender still built super-segments');
  const st = net.cable.aToB.stats;
  assert.ok(st.sent > (2 << 20) / 1428, `${st.sent} wire frames: the link cut them`);
  assert.equal(st.dropped.mtu, 0, 'no frame over the MTU on the wire');
  assert.equal(net.b.tcpStats.badChecksum, 0);
});

test('without the capability (CableOptions.gso false) every frame fits the MTU', () => {
  const net = pairNet(22, {}, false);
  assert.equal(net.cable.a.gsoMaxSize, 0);
  transfer(net, 1 << 20);
  assert.equal(net.superSegments(), 0);
  assert.ok(net.cable.aToB.stats.sent >= (1 << 20) / 1448);
});

for (const [name, imp] of [
  ['loss', { loss: 0.02 }],
  ['reordering', { reorder: { probability: 0.05, extraDelay: millis(3) } }],
  [
    'loss, reordering and duplicates',
    { loss: 0.01, duplicate: 0.01, reorder: { probability: 0.03, extraDelay: millis(2) } },
  ],
  ['a bandwidth bottleneck with a drop-tail queue', { bandwidth: 200e6, queueLimit: 64 * 1024 }],
] as const) {
  test(`super-segments over a link with ${name}: cut into wire segments there, byte-exact`, () => {
    const net = pairNet(23, imp);
    assert.equal(net.cable.aToB.carriesSuperSegments, false);
    transfer(net, 2 << 20);
    assert.ok(net.superSegments() > 0, 'the sender still built super-segments');
    const st = net.cable.aToB.stats;
    assert.ok(st.sent > (2 << 20) / 1448, `${st.sent} wire frames: the link cut them`);
    assert.equal(st.dropped.mtu, 0, 'no frame over the MTU on the wire');
  });
}

test('a corrupting direction turns super-segments off with the checksum offload', () => {
  const net = pairNet(24, { corrupt: 0.01 });
  assert.equal(net.cable.a.gsoMaxSize, 0);
  transfer(net, 1 << 20);
  assert.equal(net.superSegments(), 0);
  assert.ok(net.cable.aToB.stats.corrupted > 0);
});

for (const family of [4, 6] as const)
  test(`a router forwards a super-segment as segments to a link without the capability, and a peer behind it gets every byte (IPv${family})`, () => {
    const sim = new Simulation({ seed: 25 });
    const left = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
    const right = sim.add(
      new Cable({ clock: sim.clock, rng: sim.rng.fork(), gso: false, checksumOffload: false }),
    );
    const mk = (name: string, forwarding = false) =>
      sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name, forwarding }));
    const a = mk('a');
    const r = mk('r', true);
    const b = mk('b');
    const v4 = family === 4;
    a.addInterface({ name: 'eth0', device: left.a, addresses: [v4 ? '10.5.0.1/24' : 'fd00:5::1/64'] });
    r.addInterface({ name: 'eth0', device: left.b, addresses: [v4 ? '10.5.0.254/24' : 'fd00:5::fe/64'] });
    r.addInterface({ name: 'eth1', device: right.a, addresses: [v4 ? '10.6.0.254/24' : 'fd00:6::fe/64'] });
    b.addInterface({ name: 'eth0', device: right.b, addresses: [v4 ? '10.6.0.2/24' : 'fd00:6::2/64'] });
    a.addRoute(
      v4
        ? { destination: '0.0.0.0/0', gateway: '10.5.0.254' }
        : { destination: '::/0', gateway: 'fd00:5::fe' },
    );
    b.addRoute(
      v4
        ? { destination: '0.0.0.0/0', gateway: '10.6.0.254' }
        : { destination: '::/0', gateway: 'fd00:6::fe' },
    );
    sim.runUntilIdle();
    const l = b.tcp.listen({ port: 5001, backlog: 1 });
    const c = a.tcp.connect({ remote: ip(v4 ? '10.6.0.2' : 'fd00:6::2'), remotePort: 5001 });
    const data = pattern(1 << 20);
    let sent = 0;
    const parts: Uint8Array[] = [];
    const pump = () => {
      while (sent < data.length) {
        const n = c.write(data.subarray(sent));
        if (n === 0) return;
        sent += n;
      }
    };
    c.events = { onEstablished: pump, onWritable: pump };
    l.onAcceptable = () => {
      const s = l.accept();
      if (!s) return;
      s.events = {
        onReadable: () => {
          for (let d = s.read(1 << 16); d !== null; d = s.read(1 << 16)) parts.push(d);
        },
      };
    };
    sim.runFor(millis(5000));
    const got = new Uint8Array(parts.reduce((n, d) => n + d.length, 0));
    let at = 0;
    for (const d of parts) {
      got.set(d, at);
      at += d.length;
    }
    assert.deepEqual(got, data, 'byte-exact');
    assert.ok(
      left.aToB.stats.sent * 4 < right.aToB.stats.sent,
      'super-segments on the left, segments on the right',
    );
    assert.equal(right.aToB.stats.dropped.mtu, 0);
    assert.equal(b.tcpStats.badChecksum, 0, 'every forwarded segment carries its checksum');
    assert.equal(r.stats.ip.fragNeeded, 0, 'no frag-needed: the segments fit');
    assert.equal(r.ip6.stats.tooBig, 0, 'no Packet Too Big: the segments fit');
  });

/**
 * A device that consumes each frame at once, as the TAP does with its write: a copy goes on
 * to the cable, and the frame itself is filled with garbage and released for reuse. Every
 * byte TCP and IP leave unwritten in a reused buffer then shows as garbage.
 */
class ReleasingDevice extends PassThroughDevice {
  readonly buffers = new Set<ArrayBufferLike>();
  reused = 0;
  checked = 0;
  override transmit(frame: Uint8Array, gsoSize?: number): void {
    if (this.buffers.has(frame.buffer)) this.reused++;
    this.buffers.add(frame.buffer);
    const copy = frame.slice();
    if (gsoSize !== undefined) {
      markSuperSegment(copy, gsoSize);
      // Its segments, checksums computed: every header field as a wire would carry it.
      const segs = segmentTcp(copy, 14, gsoSize, true);
      assert.ok(segs !== null, 'a super-segment segmentTcp can cut');
      for (const seg of segs) {
        const v4 = seg[14] >> 4 === 4;
        const tcp = 14 + (v4 ? (seg[14] & 0x0f) * 4 : 40);
        if (v4) {
          assert.equal(finishChecksum(checksumPartial(seg.subarray(14, tcp), 0)), 0, 'IPv4 header checksum');
          assert.equal(seg[14 + 1], 0, 'DSCP/ECN as TCP set them (0 here)');
        } else assert.equal(seg[15] & 0x0f, 0, 'IPv6 flow label 0');
        assert.equal(seg[tcp + 12] & 0x0f, 0, 'TCP reserved bits');
        assert.equal((seg[tcp + 18] << 8) | seg[tcp + 19], 0, 'urgent pointer');
        this.checked++;
      }
    }
    frame.fill(0xa5);
    releaseFrame(frame);
    super.transmit(copy, gsoSize);
  }
}

for (const family of [4, 6] as const)
  test(`super-segments built in released, garbage-filled buffers are exact (IPv${family})`, () => {
    const sim = new Simulation({ seed: 28 });
    const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), aToB: { delay: millis(1) } }));
    const dev = new ReleasingDevice(cable.a);
    const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
    const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
    a.addInterface({ name: 'eth0', device: dev, addresses: [family === 4 ? '10.5.0.1/24' : 'fd00:5::1/64'] });
    b.addInterface({
      name: 'eth0',
      device: cable.b,
      addresses: [family === 4 ? '10.5.0.2/24' : 'fd00:5::2/64'],
    });
    sim.runUntilIdle();
    let big = 0;
    const net: Net = {
      sim,
      cable,
      a,
      b,
      superSegments: () => big,
      remote: family === 4 ? '10.5.0.2' : 'fd00:5::2',
    };
    transfer(net, 4 << 20);
    big = dev.checked;
    assert.ok(dev.checked > 1000, `${dev.checked} segments of super-segments checked`);
    assert.ok(dev.reused > 10, `${dev.reused} frames were built in a reused buffer`);
    assert.equal(b.tcpStats.malformed, 0);
    assert.equal(a.tcp.stats.retransmits, 0);
  });
