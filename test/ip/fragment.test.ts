import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  fragmentDatagram,
  PER_DATAGRAM_OVERHEAD,
  PER_FRAGMENT_OVERHEAD,
  Reassembler,
} from '../../src/ip/fragment.ts';
import { type Ipv6Fragment, Ipv6Reassembler } from '../../src/ip/ipv6-fragment.ts';
import { newIpv6Stats } from '../../src/ip/ipv6-stats.ts';
import { newStackStats } from '../../src/ip/stats.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { seconds } from '../../src/time/instant.ts';
import { TimerQueue } from '../../src/time/timers.ts';
import { type Ipv4Repr, parseIpv4Packet } from '../../src/wire/ipv4.ts';

function repr(payloadLength: number, id = 0x1234): Ipv4Repr {
  return {
    dscp: 0,
    ecn: 0,
    identification: id,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol: 17,
    src: 0x0a000001,
    dst: 0x0a000002,
    options: new Uint8Array(0),
    payloadLength,
  };
}

function setup(config = {}) {
  const clock = new ManualClock();
  const timers = new TimerQueue();
  const stats = newStackStats().ip;
  const timedOut: Uint8Array[] = [];
  const r = new Reassembler(
    { now: () => clock.now(), timers, stats, timedOut: (_r, q) => timedOut.push(q) },
    config,
  );
  return { clock, timers, stats, r, timedOut };
}

function feed(r: Reassembler, pkt: Uint8Array) {
  const p = parseIpv4Packet(pkt);
  if ('wireError' in p) throw new Error(p.detail);
  return r.add(p.repr, p.payload, pkt.subarray(0, 28));
}

function payloadOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

test('fragmentDatagram: multiples of 8, MF on all but the last, offsets in order', () => {
  const data = payloadOf(3000, 1);
  const frags = fragmentDatagram(repr(3000), data, 576)!;
  assert.equal(frags.length, Math.ceil(3000 / 552));
  let off = 0;
  frags.forEach((f, i) => {
    const p = parseIpv4Packet(f);
    assert.ok(!('wireError' in p));
    assert.ok(f.length <= 576);
    assert.equal(p.repr.fragmentOffset, off);
    assert.equal(p.repr.moreFragments, i < frags.length - 1);
    if (i < frags.length - 1) assert.equal(p.payload.length % 8, 0);
    assert.deepEqual(p.payload, data.subarray(off, off + p.payload.length));
    off += p.payload.length;
  });
  assert.equal(off, 3000);
  assert.equal(fragmentDatagram(repr(100), payloadOf(100, 0), 27), undefined);
});

test('property: any permutation with duplicates of the fragments reassembles exactly', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6000 }),
      fc.integer({ min: 28, max: 1500 }),
      fc.integer(),
      fc.array(fc.nat(), { maxLength: 10 }),
      (size, mtu, seed, dupIdx) => {
        const data = payloadOf(size, seed);
        const frags = fragmentDatagram(repr(size), data, mtu)!;
        const all = [...frags, ...dupIdx.map((i) => frags[i % frags.length])];
        // Deterministic shuffle from the seed.
        let s = seed >>> 0;
        for (let i = all.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          const j = s % (i + 1);
          [all[i], all[j]] = [all[j], all[i]];
        }
        const { r, stats } = setup();
        let done: Uint8Array | undefined;
        let completions = 0;
        for (const f of all) {
          if (frags.length === 1) break;
          const out = feed(r, f);
          if (out) {
            completions++;
            done = out.payload;
            assert.equal(out.repr.moreFragments, false);
            assert.equal(out.repr.payloadLength, size);
          }
        }
        if (frags.length === 1) return;
        // Duplicates arriving after completion start a new (never completed) datagram; the
        // first completion is exact.
        assert.ok(completions >= 1);
        assert.deepEqual(done, data);
        assert.equal(stats.reasmOverlaps, 0);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: any partially overlapping fragment drops the whole datagram', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 200, max: 4000 }),
      fc.integer({ min: 68, max: 600 }),
      fc.nat(),
      fc.integer({ min: 1, max: 100 }),
      (size, mtu, pick, shift8) => {
        const data = payloadOf(size, 3);
        const frags = fragmentDatagram(repr(size), data, mtu)!;
        if (frags.length < 2) return;
        const { r, stats } = setup();
        const i = pick % frags.length;
        // A forged fragment overlapping fragment i: its range shifted by a multiple of 8.
        const p = parseIpv4Packet(frags[i]);
        if ('wireError' in p) throw new Error('bad');
        const shift = (shift8 * 8) % Math.max(8, p.payload.length);
        const start = Math.max(0, p.repr.fragmentOffset + (shift === 0 ? 8 : shift) - 16);
        const len = 16;
        const forged = {
          ...p.repr,
          fragmentOffset: start,
          moreFragments: true,
          payloadLength: len,
        };
        // Feed every real fragment but the last, then the forged one, then the last.
        const order = [...frags.slice(0, -1)];
        let result: unknown;
        for (const f of order) result = feed(r, f) ?? result;
        const out = r.add(forged, new Uint8Array(len), new Uint8Array(28));
        assert.equal(out, undefined);
        const finish = feed(r, frags[frags.length - 1]);
        if (start + len <= size) {
          // The forged range overlaps data already held (all but the last fragment are in,
          // and ranges are contiguous) or the last fragment: the datagram is dropped.
          assert.equal(finish, undefined);
          assert.equal(result, undefined);
          assert.equal(stats.reasmOverlaps, 1);
          assert.equal(r.bytes, PER_DATAGRAM_OVERHEAD); // only the tombstone's bookkeeping remains
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('timeout: 30 s after the first arrival; ICMP time exceeded only when offset 0 arrived', () => {
  const { clock, timers, stats, r, timedOut } = setup();
  const data = payloadOf(2000, 9);
  const frags = fragmentDatagram(repr(2000, 1), data, 576)!;
  const frags2 = fragmentDatagram(repr(2000, 2), data, 576)!;
  feed(r, frags[0]); // first fragment of datagram 1
  feed(r, frags2[1]); // a middle fragment of datagram 2
  assert.equal(r.datagrams, 2);
  clock.set(seconds(30) - 1);
  timers.runDue(clock.now());
  assert.equal(r.datagrams, 2);
  clock.set(seconds(30));
  timers.runDue(clock.now());
  assert.equal(r.datagrams, 0);
  assert.equal(r.bytes, 0);
  assert.equal(stats.reasmTimeouts, 2);
  assert.equal(timedOut.length, 1);
  assert.deepEqual(timedOut[0], frags[0].subarray(0, 28));
});

test('memory caps: datagram count and bytes never exceed the configured bounds', () => {
  const { r, stats } = setup({ maxDatagrams: 8, maxBytes: 16 * 1024 });
  for (let id = 0; id < 1000; id++) {
    const frags = fragmentDatagram(repr(3000, id), payloadOf(3000, id), 1500)!;
    feed(r, frags[0]);
    feed(r, frags[1]);
    assert.ok(r.datagrams <= 8);
    assert.ok(r.bytes <= 16 * 1024);
  }
  assert.ok(stats.reasmEvictions >= 990);
  // A complete datagram still gets through while the table is full.
  const frags = fragmentDatagram(repr(3000, 5000), payloadOf(3000, 1), 1500)!;
  let out: unknown;
  for (const f of frags) out = feed(r, f) ?? out;
  assert.ok(out);
});

test('accounting: each fragment is charged its data plus a fixed overhead, the first also its quote', () => {
  const { r } = setup();
  const frags = fragmentDatagram(repr(3000), payloadOf(3000, 2), 576)!;
  feed(r, frags[1]);
  const data1 = frags[1].length - 20;
  assert.equal(r.bytes, PER_DATAGRAM_OVERHEAD + data1 + PER_FRAGMENT_OVERHEAD);
  feed(r, frags[0]);
  const data0 = frags[0].length - 20;
  assert.equal(r.bytes, PER_DATAGRAM_OVERHEAD + data1 + data0 + 2 * PER_FRAGMENT_OVERHEAD + 28);
  for (const f of frags.slice(2)) feed(r, f);
  assert.equal(r.bytes, 0);
});

test('malformed fragments: non-multiple-of-8 middle fragment and offset past 65535', () => {
  const { r, stats } = setup();
  assert.equal(
    r.add({ ...repr(10), moreFragments: true, payloadLength: 10 }, new Uint8Array(10), new Uint8Array(28)),
    undefined,
  );
  assert.equal(
    r.add(
      { ...repr(100), fragmentOffset: 65528, payloadLength: 100 },
      new Uint8Array(100),
      new Uint8Array(28),
    ),
    undefined,
  );
  assert.equal(stats.reasmMalformed, 2);
  assert.equal(r.datagrams, 0);
});

test('IPv6 reassembly shares the table: an evicted datagram is a failure, a fragment over the whole cap fails alone, expiry quotes the first', () => {
  const clock = new ManualClock();
  const timers = new TimerQueue();
  const stats = newIpv6Stats();
  const timedOut: Uint8Array[] = [];
  const r = new Ipv6Reassembler(
    { now: () => clock.now(), timers, stats, timedOut: (p) => timedOut.push(p) },
    { maxDatagrams: 2, maxBytes: 3 * (PER_DATAGRAM_OVERHEAD + PER_FRAGMENT_OVERHEAD + 64) },
  );
  const frag = (identification: number, offset: number, n: number, moreFragments: boolean): Ipv6Fragment => {
    const packet = new Uint8Array(48 + n);
    packet[0] = 0x60;
    packet[48] = identification;
    return {
      src: new Uint8Array(16).fill(1),
      dst: new Uint8Array(16).fill(2),
      identification,
      offset,
      moreFragments,
      nextHeader: 17,
      unfragmentable: packet.subarray(0, 40),
      nextHeaderAt: 6,
      data: new Uint8Array(n).fill(identification),
      packet,
    };
  };
  assert.equal(r.add(frag(1, 0, 16, true)), undefined);
  assert.equal(r.add(frag(2, 0, 16, true)), undefined);
  assert.equal(r.datagrams, 2);
  // A third datagram evicts the oldest (1): one eviction, one failed reassembly.
  assert.equal(r.add(frag(3, 8, 8, true)), undefined);
  assert.equal(r.datagrams, 2);
  assert.deepEqual([stats.reasmEvictions, stats.reasmFails], [1, 1]);
  // A fragment bigger than the whole cap fails without emptying the table.
  assert.equal(r.add(frag(4, 0, 4096, true)), undefined);
  assert.deepEqual([r.datagrams, stats.reasmEvictions, stats.reasmFails], [2, 1, 2]);
  // Datagram 2 completes; its bytes leave the cap.
  const whole = r.add(frag(2, 16, 8, false));
  assert.ok(whole);
  assert.equal(whole.length, 40 + 24);
  assert.equal(whole[6], 17, 'the Next Header is the fragment header one');
  assert.equal(r.datagrams, 1);
  // Datagram 3 never had its first fragment: it expires without a Time Exceeded quote.
  r.add(frag(5, 0, 8, true));
  clock.advance(seconds(61));
  timers.runDue(clock.now());
  assert.equal(r.datagrams, 0);
  assert.equal(stats.reasmTimeouts, 2);
  assert.equal(timedOut.length, 1, 'only datagram 5 had its offset-0 fragment');
  assert.equal(timedOut[0][48], 5);
  assert.equal(r.bytesHeld, 0);
});
