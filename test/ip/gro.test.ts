/**
 * Receive coalescing (src/ip/gro.ts): hand-made wire segments of one flow go into `Gro`, which
 * hands up runs as super-segments; each of Linux's break rules ends a run; a bad checksum ends
 * the run and goes up alone. Then on stacks: segments are counted as the segments they were,
 * the ACK policy treats a run as its segments, transfers stay byte-exact under loss,
 * reordering and corruption, and captures keep the wire frames.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gro } from '../../src/ip/gro.ts';
import { NetInterface } from '../../src/ip/interface.ts';
import type { Device } from '../../src/link/device.ts';
import { Cable } from '../../src/link/memory.ts';
import { CaptureDevice, type CaptureWriter } from '../../src/link/pcap.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import { micros, millis } from '../../src/time/instant.ts';
import { type IpAddress, parseIp } from '../../src/wire/address.ts';
import { checksumPartial, finishChecksum, foldChecksum } from '../../src/wire/checksum.ts';
import { segmentTcp, superSegmentGsoSize } from '../../src/wire/gso.ts';
import { emitIpv4 } from '../../src/wire/ipv4.ts';
import { emitIpv6 } from '../../src/wire/ipv6.ts';
import { emitTcp, TCP_ACK, TCP_PSH } from '../../src/wire/tcp.ts';

const MSS = 1000;
const L2 = 14;

function pattern(n: number, k = 31): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * k + 7) & 0xff);
}

/**
 * `n` wire segments of one flow (MSS bytes each; the last `last` bytes), built as a
 * super-segment and cut by segmentTcp, so each has right checksums. `flags` of the last.
 */
function flow(
  n: number,
  opts: { v6?: boolean; last?: number; flags?: number; df?: boolean; seq?: number } = {},
): Uint8Array[] {
  const len = (n - 1) * MSS + (opts.last ?? MSS);
  const data = pattern(len);
  const v6 = opts.v6 ?? false;
  const ipHl = v6 ? 40 : 20;
  const tcpLen = 32 + len;
  const frame = new Uint8Array(L2 + ipHl + tcpLen);
  frame.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, v6 ? 0x86 : 0x08, v6 ? 0xdd : 0x00]);
  const src = v6 ? parseIp('fd00::1')! : parseIp('10.0.0.1')!;
  const dst = v6 ? parseIp('fd00::2')! : parseIp('10.0.0.2')!;
  const tcp = frame.subarray(L2 + ipHl);
  emitTcp(
    {
      srcPort: 40000,
      dstPort: 80,
      seq: opts.seq ?? 0xfffffc00, // wraps inside the run
      ack: 1234,
      flags: opts.flags ?? TCP_ACK,
      window: 512,
      urgentPointer: 0,
      options: { timestamps: { tsVal: 5, tsEcr: 6 } },
    },
    data,
    tcp,
    undefined, // the checksum: segmentTcp computes each segment's
  );
  if (v6) {
    emitIpv6(
      {
        trafficClass: 0,
        flowLabel: 7,
        payloadLength: tcpLen,
        nextHeader: 6,
        hopLimit: 64,
        src: (src as { v6: Uint8Array }).v6,
        dst: (dst as { v6: Uint8Array }).v6,
      },
      frame.subarray(L2),
    );
  } else {
    emitIpv4(
      {
        dscp: 0,
        ecn: 0,
        identification: 100,
        dontFragment: opts.df ?? true,
        moreFragments: false,
        fragmentOffset: 0,
        ttl: 64,
        protocol: 6,
        src: (src as { v4: number }).v4,
        dst: (dst as { v4: number }).v4,
        options: new Uint8Array(0),
        payloadLength: tcpLen,
      },
      frame.subarray(L2),
    );
  }
  return segmentTcp(frame, L2, MSS, true)!;
}

/** Recomputes the IPv4 header checksum (if IPv4) and the TCP checksum of a wire segment. */
function fix(f: Uint8Array): Uint8Array {
  const l3 = L2;
  const v6 = f[l3] >> 4 === 6;
  const ipHl = v6 ? 40 : (f[l3] & 15) * 4;
  if (!v6) {
    f[l3 + 10] = 0;
    f[l3 + 11] = 0;
    const c = finishChecksum(checksumPartial(f.subarray(l3, l3 + ipHl), 0));
    f[l3 + 10] = c >> 8;
    f[l3 + 11] = c & 0xff;
  }
  const tcp = l3 + ipHl;
  const tcpLen = f.length - tcp;
  let sum = 6 + tcpLen;
  const a = v6 ? l3 + 8 : l3 + 12;
  for (let i = a; i < a + (v6 ? 32 : 8); i += 2) sum += (f[i] << 8) | f[i + 1];
  f[tcp + 16] = 0;
  f[tcp + 17] = 0;
  const c = finishChecksum(checksumPartial(f.subarray(tcp), sum));
  f[tcp + 16] = c >> 8;
  f[tcp + 17] = c & 0xff;
  return f;
}

const DEVICE: Device = { name: 'd', linkType: 'ethernet', mtu: 1500, transmit() {}, onReceive: null };

/** Puts `frames` through a Gro in one batch; the segments each delivered frame stands for. */
function coalesce(frames: Uint8Array[], device: Device = DEVICE) {
  const iface = new NetInterface('eth0', 1, device, new Uint8Array(6), 1500, 64);
  const out: Uint8Array[] = [];
  const all = { gro: { coalesced: 0, runs: 0 }, link: { received: frames.length } };
  const stats = all.gro;
  const gro = new Gro(all, (_i, f) => out.push(f));
  for (const f of frames) gro.input(iface, f);
  gro.flush();
  const segs = out.map((f) => {
    const g = superSegmentGsoSize(f);
    const ipHl = f[L2] >> 4 === 6 ? 40 : 20;
    const data = f.length - L2 - ipHl - (f[L2 + ipHl + 12] >> 4) * 4;
    return g > 0 ? Math.ceil(data / g) : 1;
  });
  return { out, segs, stats, iface, gro };
}

test('a run of one flow becomes one super-segment: headers, payload, gso size, PSH kept, counters', () => {
  const frames = flow(5, { last: 300, flags: TCP_ACK | TCP_PSH });
  const { out, segs, stats } = coalesce(frames);
  assert.deepEqual(segs, [5]);
  const f = out[0];
  assert.equal(superSegmentGsoSize(f), MSS);
  assert.equal((f[L2 + 2] << 8) | f[L2 + 3], 20 + 32 + 4 * MSS + 300, 'IPv4 total length');
  assert.equal(foldChecksum(checksumPartial(f.subarray(L2, L2 + 20), 0)), 0xffff, 'IPv4 header checksum');
  assert.equal(f[L2 + 20 + 13], TCP_ACK | TCP_PSH);
  assert.deepEqual(f.subarray(L2 + 52), pattern(4 * MSS + 300));
  assert.deepEqual(stats, { coalesced: 5, runs: 1 });
});

test('IPv6: a run coalesces; the payload length is the run', () => {
  const { out, segs } = coalesce(flow(4, { v6: true }));
  assert.deepEqual(segs, [4]);
  const f = out[0];
  assert.equal((f[L2 + 4] << 8) | f[L2 + 5], 32 + 4 * MSS);
  assert.deepEqual(f.subarray(L2 + 72), pattern(4 * MSS));
});

test('a single segment and a frame that is not TCP go up as they came, in order', () => {
  const [one] = flow(1);
  const arp = new Uint8Array(42);
  arp.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06]);
  const frames = flow(3);
  const { out } = coalesce([one, arp, ...frames.slice(0, 2), arp, frames[2]]);
  assert.equal(out.length, 5);
  assert.equal(out[0], one);
  assert.equal(out[1], arp);
  assert.equal(superSegmentGsoSize(out[2]), MSS);
  assert.equal(out[3], arp);
  assert.equal(out[4], frames[2]);
});

test('off on the interface or on the stack-wide switch: nothing is merged', () => {
  const frames = flow(4);
  const a = coalesce(frames);
  assert.deepEqual(a.segs, [4]);
  // Nor on a link that carries super-segments (as Linux's veth).
  assert.deepEqual(coalesce(frames, { ...DEVICE, gsoMaxSize: 65535 }).segs, [1, 1, 1, 1]);
  const iface = new NetInterface('eth0', 1, DEVICE, new Uint8Array(6), 1500, 64);
  iface.gro = false;
  const out: Uint8Array[] = [];
  const gro = new Gro({ gro: { coalesced: 0, runs: 0 }, link: { received: 0 } }, (_i, f) => out.push(f));
  for (const f of frames) gro.input(iface, f);
  gro.flush();
  assert.deepEqual(out, frames);
  iface.gro = true;
  gro.enabled = false;
  out.length = 0;
  for (const f of frames) gro.input(iface, f);
  gro.flush();
  assert.deepEqual(out, frames);
});

// One test per rule that ends a run: segment 2 (of 0..4) is changed; the expected segments
// per frame handed up.
const TCP = L2 + 20;
/** Changes byte `at` of segment 2 with `fn`. */
const set =
  (at: number, fn: (v: number) => number) =>
  (f: Uint8Array[]): Uint8Array[] => {
    f[2][at] = fn(f[2][at]);
    return f;
  };
const rules: { name: string; change: (f: Uint8Array[]) => Uint8Array[]; expect: number[] }[] = [
  { name: 'another ACK number', change: set(TCP + 11, (v) => v + 1), expect: [2, 1, 2] },
  { name: 'another window', change: set(TCP + 15, (v) => v + 1), expect: [2, 1, 2] },
  { name: 'other option bytes (a newer timestamp)', change: set(TCP + 27, (v) => v + 1), expect: [2, 1, 2] },
  { name: 'FIN', change: set(TCP + 13, (v) => v | 0x01), expect: [2, 1, 2] },
  { name: 'SYN', change: set(TCP + 13, (v) => v | 0x02), expect: [2, 1, 2] },
  { name: 'RST', change: set(TCP + 13, (v) => v | 0x04), expect: [2, 1, 2] },
  { name: 'URG', change: set(TCP + 13, (v) => v | 0x20), expect: [2, 1, 2] },
  { name: 'ECE', change: set(TCP + 13, (v) => v | 0x40), expect: [2, 1, 2] },
  { name: 'CWR', change: set(TCP + 13, (v) => v | 0x80), expect: [2, 1, 2] },
  {
    name: 'PSH in the middle (merged as the last)',
    change: set(TCP + 13, (v) => v | TCP_PSH),
    expect: [3, 2],
  },
  { name: 'a sequence gap', change: (f) => [f[0], f[1], f[3], f[4]], expect: [2, 2] },
  {
    name: 'a smaller segment (merged as the last)',
    change: (f) => [f[0], f[1], shorten(f[2]), f[3], f[4]],
    expect: [3, 2],
  },
  { name: 'another TOS/ECN', change: set(L2 + 1, () => 2), expect: [2, 1, 2] },
  { name: 'another TTL', change: set(L2 + 8, (v) => v - 1), expect: [2, 1, 2] },
  { name: 'another port (another flow)', change: set(TCP + 1, (v) => v + 1), expect: [2, 1, 2] },
  { name: 'another link header', change: set(6, (v) => v + 1), expect: [2, 1, 2] },
  { name: 'a fragment (MF)', change: set(L2 + 6, (v) => v | 0x20), expect: [2, 1, 2] },
  { name: 'IPv4 options', change: (f) => [f[0], f[1], withIpOptions(f[2]), f[3], f[4]], expect: [2, 1, 2] },
];

/** The segment with its last 100 payload bytes cut off. */
function shorten(f: Uint8Array): Uint8Array {
  const g = f.slice(0, f.length - 100);
  const len = ((g[L2 + 2] << 8) | g[L2 + 3]) - 100;
  g[L2 + 2] = len >> 8;
  g[L2 + 3] = len & 0xff;
  return g;
}

/** The segment with 4 bytes of IPv4 options (NOPs). */
function withIpOptions(f: Uint8Array): Uint8Array {
  const g = new Uint8Array(f.length + 4);
  g.set(f.subarray(0, L2 + 20));
  g.set([1, 1, 1, 1], L2 + 20);
  g.set(f.subarray(L2 + 20), L2 + 24);
  g[L2] = 0x46;
  const len = ((g[L2 + 2] << 8) | g[L2 + 3]) + 4;
  g[L2 + 2] = len >> 8;
  g[L2 + 3] = len & 0xff;
  return g;
}

for (const r of rules) {
  test(`ends a run: ${r.name}`, () => {
    const frames = r.change(flow(5)).map(fix);
    const { segs } = coalesce(frames);
    assert.deepEqual(segs, r.expect);
  });
}

test('ends a run: an IPv6 extension header, or another flow label, hop limit or traffic class', () => {
  const hbh = (f: Uint8Array) => {
    const g = new Uint8Array(f.length + 8);
    g.set(f.subarray(0, L2 + 40));
    g.set([6, 0, 1, 4, 0, 0, 0, 0], L2 + 40);
    g.set(f.subarray(L2 + 40), L2 + 48);
    g[L2 + 6] = 0;
    const pl = ((g[L2 + 4] << 8) | g[L2 + 5]) + 8;
    g[L2 + 4] = pl >> 8;
    g[L2 + 5] = pl & 0xff;
    return g;
  };
  assert.deepEqual(coalesce(flow(4, { v6: true }).map((f, i) => (i === 2 ? hbh(f) : f))).segs, [2, 1, 1]);
  for (const at of [3, 7, 1]) {
    const frames = flow(4, { v6: true });
    frames[2][L2 + at]++;
    assert.deepEqual(coalesce(frames.map(fix)).segs, [2, 1, 1], `byte ${at}`);
  }
});

test('ends a run: a segment larger than the first; 64 KiB at most', () => {
  const frames = flow(3);
  assert.deepEqual(coalesce([shorten(frames[0]), ...frames.slice(1)].map(fix)).segs[0], 1);
  // 70 segments of 1000 bytes: 64 in the first run (52 + 64 * 1000 + 20 <= 65535), 6 in the next.
  const seq = (0xfffffc00 + 40 * MSS) >>> 0;
  assert.deepEqual(coalesce([...flow(40), ...flow(30, { seq })]).segs, [65, 5]);
});

test('with DF clear the IPv4 IDs must count up', () => {
  const frames = flow(4, { df: false });
  assert.deepEqual(coalesce(frames).segs, [4]);
  frames[2][L2 + 5] += 5;
  assert.deepEqual(coalesce(frames.map(fix)).segs, [2, 1, 1]);
});

test('a corrupted segment in the middle goes up alone (to be dropped) and ends the run; a bad first one too', () => {
  const frames = flow(6);
  frames[2][L2 + 60] ^= 0x10;
  const a = coalesce(frames);
  assert.deepEqual(a.segs, [2, 1, 3]);
  assert.equal(a.out[1], frames[2], 'the corrupt frame as it came');
  const b = flow(4);
  b[0][L2 + 60] ^= 0x10;
  const r = coalesce(b);
  assert.deepEqual(r.segs, [1, 3]);
  assert.equal(r.out[0], b[0]);
  // A bad IPv4 header checksum too.
  const c = flow(4);
  c[1][L2 + 8]--;
  assert.deepEqual(coalesce(c).segs, [1, 1, 2]);
  // A device that vouches for checksums: nothing is verified (its frames are trusted).
  const d = flow(4);
  d[2][L2 + 60] ^= 0x10;
  assert.deepEqual(coalesce(d, { ...DEVICE, rxChecksumValid: true }).segs, [4]);
});

// ------------------------------------------------------------------ on stacks

function pair(
  opts: {
    gro?: boolean;
    impair?: { loss?: number; corrupt?: number; reorder?: { probability: number; extraDelay: number } };
    v6?: boolean;
    capture?: CaptureWriter;
  } = {},
) {
  const sim = new Simulation({ seed: 7 });
  const cable = sim.add(
    new Cable({
      clock: sim.clock,
      rng: sim.rng.fork(),
      mtu: 1500,
      // Checksums computed and verified, no super-segments: a wire's frames.
      checksumOffload: false,
      aToB: { delay: micros(50), ...opts.impair },
      bToA: { delay: micros(50) },
    }),
  );
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', gro: opts.gro }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b', gro: opts.gro }));
  const bDev = opts.capture ? new CaptureDevice(cable.b, opts.capture, sim.clock) : cable.b;
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24', 'fd00::1/64'] });
  b.addInterface({ name: 'eth0', device: bDev, addresses: ['10.0.0.2/24', 'fd00::2/64'] });
  sim.runFor(millis(2000));
  return { sim, a, b, cable };
}

function transfer(p: ReturnType<typeof pair>, bytes: number, dst: IpAddress) {
  const { sim, a, b } = p;
  const l = b.tcp.listen({ port: 5001, backlog: 4 });
  const c = a.tcp.connect({ remote: dst, remotePort: 5001 });
  sim.runFor(millis(5000)); // SYN retransmissions under loss
  const s = l.accept()!;
  const data = pattern(bytes, 13);
  let sent = 0;
  const got: Uint8Array[] = [];
  let n = 0;
  const pump = () => {
    while (sent < bytes) {
      const k = c.write(data.subarray(sent, Math.min(bytes, sent + 65536)));
      sent += k;
      if (k === 0) return;
    }
  };
  c.events = { onWritable: pump };
  s.events = {
    onReadable: () => {
      for (;;) {
        const d = s.read(1 << 20);
        if (d === null) break;
        got.push(d);
        n += d.length;
      }
    },
  };
  pump();
  for (let i = 0; i < 600 && n < bytes; i++) sim.runFor(millis(100));
  sim.runFor(millis(1000)); // the last ACKs
  const all = new Uint8Array(n);
  let at = 0;
  for (const d of got) {
    all.set(d, at);
    at += d.length;
  }
  return { all, data, c, s };
}

test('bulk on stacks: byte-exact, runs delivered, every segment counted (InSegs, TCP_INFO segs_in), fewer ACKs', () => {
  const on = pair();
  const r = transfer(on, 2 << 20, parseIp('10.0.0.2')!);
  assert.deepEqual(r.all, r.data);
  assert.ok(on.b.stats.gro.runs > 0);
  assert.ok(on.b.stats.gro.coalesced >= 2 * on.b.stats.gro.runs);
  const sentSegs = on.a.tcp.stats.segmentsOut;
  // The link layer counts the wire frames, a run's each (as a device's rx_packets).
  assert.equal(on.b.stats.link.received, on.cable.aToB.stats.sent);
  assert.equal(on.b.tcp.stats.segmentsIn, sentSegs);
  // (The SYN went to the listener, before the accepted connection's count starts.)
  assert.equal(r.s.info().segsIn, r.c.info().segsOut - 1);

  const off = pair({ gro: false });
  const q = transfer(off, 2 << 20, parseIp('10.0.0.2')!);
  assert.deepEqual(q.all, q.data);
  assert.equal(off.b.stats.gro.runs, 0);
  assert.ok(on.b.tcp.stats.segmentsOut < off.b.tcp.stats.segmentsOut, 'fewer ACKs with GRO');
});

test('IPv6 bulk on stacks: byte-exact with runs', () => {
  const p = pair();
  const r = transfer(p, 1 << 20, parseIp('fd00::2')!);
  assert.deepEqual(r.all, r.data);
  assert.ok(p.b.stats.gro.runs > 0);
  assert.equal(p.b.tcp.stats.segmentsIn, p.a.tcp.stats.segmentsOut);
});

for (const [name, impair] of [
  ['loss', { loss: 0.02 }],
  ['reordering', { reorder: { probability: 0.05, extraDelay: micros(200) } }],
  ['corruption', { corrupt: 0.02 }],
] as const) {
  test(`bulk on stacks with ${name}: byte-exact, runs delivered`, () => {
    const p = pair({ impair });
    const r = transfer(p, 1 << 20, parseIp('10.0.0.2')!);
    assert.deepEqual(r.all, r.data);
    assert.ok(p.b.stats.gro.runs > 0);
    if (name === 'corruption') assert.ok(p.b.tcpStats.badChecksum + p.b.stats.ip.badChecksum > 0);
  });
}

test('a run of full segments is acknowledged at once, as its segments would be', () => {
  const p = pair();
  const { sim, a, b } = p;
  const l = b.tcp.listen({ port: 5001, backlog: 4 });
  const c = a.tcp.connect({ remote: parseIp('10.0.0.2')!, remotePort: 5001 });
  sim.runFor(millis(5));
  const s = l.accept()!;
  s.events = { onReadable: () => s.read(1 << 20) };
  // Past quick-ACK mode: one delayed-ACK-sized exchange first.
  c.write(pattern(100));
  sim.runFor(millis(1000));
  const acked0 = c.info().bytesAcked;
  const runs0 = b.stats.gro.runs;
  c.write(pattern(4 * 1448));
  // The run arrives after 50 µs and its ACK 50 µs later; a delayed ACK would wait 40 ms.
  sim.runFor(millis(1));
  assert.equal(b.stats.gro.runs, runs0 + 1);
  assert.equal(c.info().bytesAcked, acked0 + 4 * 1448);
});

test('a capture on the receiving device records the wire frames, not the runs', () => {
  const lens: number[] = [];
  const capture: CaptureWriter = { writePacket: (_t, f) => void lens.push(f.length), interfaceFor: () => 0 };
  const p = pair({ capture });
  const r = transfer(p, 256 << 10, parseIp('10.0.0.2')!);
  assert.deepEqual(r.all, r.data);
  assert.ok(p.b.stats.gro.runs > 0);
  assert.ok(lens.length > 0 && Math.max(...lens) <= 1514);
});
