/** The marking AQM of a memory link (Impairments.ceThreshold, RFC 3168 §5). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Channel } from '../../src/link/impair.ts';
import { SeededRng } from '../../src/rand/rng.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { ipv4 } from '../../src/wire/address.ts';
import { ETHERTYPE_IPV4, emitEthernet } from '../../src/wire/ethernet.ts';
import { emitIpv4, IP_PROTO_UDP, parseIpv4Packet } from '../../src/wire/ipv4.ts';

const MAC = new Uint8Array(6);

/** An Ethernet frame with an IPv4 header of ECN field `ecn` and `len` payload bytes. */
function frame(ecn: number, len = 1000, dscp = 0): Uint8Array {
  const f = new Uint8Array(14 + 20 + len);
  emitEthernet({ dst: MAC, src: MAC, ethertype: ETHERTYPE_IPV4 }, f);
  emitIpv4(
    {
      dscp,
      ecn,
      identification: 7,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: IP_PROTO_UDP,
      src: ipv4(10, 0, 0, 1),
      dst: ipv4(10, 0, 0, 2),
      options: new Uint8Array(0),
      payloadLength: len,
    },
    f.subarray(14),
  );
  return f;
}

/** An IPv6 frame (fixed header only matters here) with Traffic Class `tc`. */
function frame6(tc: number): Uint8Array {
  const f = new Uint8Array(14 + 40 + 100);
  emitEthernet({ dst: MAC, src: MAC, ethertype: 0x86dd }, f);
  f[14] = 0x60 | (tc >> 4);
  f[15] = (tc & 0x0f) << 4;
  f[18] = 0;
  f[19] = 100;
  return f;
}

function channel(ceThreshold: number, extra = {}) {
  const clock = new ManualClock(0);
  const out: Uint8Array[] = [];
  // 8 Mbit/s: one byte per microsecond, so the backlog is easy to count.
  const ch = new Channel({
    clock,
    rng: new SeededRng(1),
    impairments: { bandwidth: 8e6, ceThreshold, ...extra },
    deliver: (f) => out.push(f),
  });
  return { ch, clock, out };
}

function ipEcn(f: Uint8Array): number {
  const p = parseIpv4Packet(f.subarray(14));
  assert.ok(!('wireError' in p), 'the header checksum still verifies');
  return p.repr.ecn;
}

describe('AQM marking (Impairments.ceThreshold)', () => {
  it('below the threshold frames pass untouched; above it ECT becomes CE with a valid checksum, Not-ECT is dropped', () => {
    const { ch, clock, out } = channel(2500);
    // 1054-byte frames back to back: the backlog before each is 0, 1054, 2108, 3162, 4216.
    ch.send(frame(2));
    ch.send(frame(0));
    ch.send(frame(1));
    ch.send(frame(2, 1000, 46)); // above the threshold: marked (DSCP EF kept)
    ch.send(frame(0)); // above: dropped
    ch.send(frame(3)); // already CE: stays CE, counts as marked
    assert.equal(ch.stats.ceMarked, 2);
    assert.equal(ch.stats.dropped.aqm, 1);
    clock.set(1_000_000);
    ch.poll(clock.now());
    assert.deepEqual(
      out.map((f) => ipEcn(f)),
      [2, 0, 1, 3, 3],
    );
    const marked = parseIpv4Packet(out[3]!.subarray(14));
    assert.ok(!('wireError' in marked));
    assert.equal(marked.repr.dscp, 46);
  });

  it('the queue drains: once the backlog is below the threshold again, nothing is marked', () => {
    const { ch, clock, out } = channel(1500);
    for (let i = 0; i < 3; i++) ch.send(frame(2));
    assert.equal(ch.stats.ceMarked, 1);
    clock.set(5_000); // all three serialised (3162 µs)
    ch.poll(clock.now());
    ch.send(frame(2));
    ch.send(frame(2));
    assert.equal(ch.stats.ceMarked, 1);
    clock.set(1_000_000);
    ch.poll(clock.now());
    assert.deepEqual(
      out.map((f) => ipEcn(f)),
      [2, 2, 3, 2, 2],
    );
  });

  it('queueLimit still drops a frame that does not fit, marked or not', () => {
    const { ch } = channel(1000, { queueLimit: 3200 });
    for (let i = 0; i < 4; i++) ch.send(frame(2));
    assert.equal(ch.stats.dropped.queue, 1);
    assert.equal(ch.stats.ceMarked, 2);
  });

  it('IPv6: the Traffic Class ECN bits are set, the DSCP kept', () => {
    const { ch, clock, out } = channel(0);
    ch.send(frame6(0xb8 | 2)); // EF, ECT(0); nothing waiting: passes
    ch.send(frame6(0xb8 | 1)); // EF, ECT(1): marked
    ch.send(frame6(0xb8)); // Not-ECT: dropped
    clock.set(1_000_000);
    ch.poll(clock.now());
    const tc = out.map((f) => ((f[14]! & 0x0f) << 4) | (f[15]! >> 4));
    assert.deepEqual(tc, [0xb8 | 2, 0xb8 | 3]);
    assert.equal(ch.stats.dropped.aqm, 1);
  });

  it('rejects a negative threshold', () => {
    assert.throws(() => channel(-1), RangeError);
  });
});
