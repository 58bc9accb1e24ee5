// Property tests: no parser throws on any bytes; emit -> parse returns the repr.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ARP_OP_REPLY, ARP_OP_REQUEST, type ArpRepr, emitArp, parseArp } from '../../src/wire/arp.ts';
import { pseudoHeaderSumV4 } from '../../src/wire/checksum.ts';
import { isWireError, type WireError } from '../../src/wire/error.ts';
import {
  type EthernetRepr,
  emitEthernet,
  ethernetHeaderLength,
  parseEthernet,
} from '../../src/wire/ethernet.ts';
import {
  emitIcmpv4,
  type Icmpv4Repr,
  icmpv4Length,
  parseIcmpv4,
  parseIcmpv4Invoking,
} from '../../src/wire/icmpv4.ts';
import { emitIpv4, type Ipv4Repr, ipv4HeaderLength, parseIpv4Packet } from '../../src/wire/ipv4.ts';
import { emitTcp, parseTcp, parseTcpOptions, type TcpRepr, tcpHeaderLength } from '../../src/wire/tcp.ts';
import { emitUdp, parseUdp } from '../../src/wire/udp.ts';

const RUNS = { numRuns: 500 };
/** fc.record with ordinary prototypes, so deepStrictEqual compares with parsed reprs. */
const rec = ((model: Record<string, fc.Arbitrary<unknown>>, constraints?: object) =>
  fc.record(model, { ...constraints, noNullPrototype: true })) as unknown as typeof fc.record;
function ok<T>(x: T | WireError): T {
  if (isWireError(x)) assert.fail(`${x.wireError}: ${x.detail}`);
  return x as T;
}

describe('parsers never throw', () => {
  const parsers: [string, (b: Uint8Array) => unknown][] = [
    ['ethernet', parseEthernet],
    ['arp', parseArp],
    ['ipv4', (b) => parseIpv4Packet(b)],
    ['ipv4 (no checksum check)', (b) => parseIpv4Packet(b, { verifyChecksum: false })],
    ['icmpv4', (b) => parseIcmpv4(b)],
    ['icmpv4 (no checksum check)', (b) => parseIcmpv4(b, { verifyChecksum: false })],
    ['icmpv4 invoking', parseIcmpv4Invoking],
    ['udp', (b) => parseUdp(b, 0x1234)],
    ['tcp', (b) => parseTcp(b, 0x1234)],
    ['tcp (no checksum)', (b) => parseTcp(b)],
    ['tcp options', parseTcpOptions],
  ];
  for (const [name, parse] of parsers) {
    it(name, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
          const r = parse(b);
          assert.ok(typeof r === 'object' && r !== null);
        }),
        { numRuns: 2000 },
      );
    });
  }
  it('tcp with plausible headers and random option bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 40 }),
        fc.uint8Array({ maxLength: 20 }),
        (opts, tail) => {
          const len = 20 + ((opts.length + 3) & ~3);
          const b = new Uint8Array(len + tail.length);
          b[12] = (len / 4) << 4;
          b.set(opts, 20);
          b.set(tail, len);
          const r = parseTcp(b);
          if (isWireError(r)) assert.equal(r.wireError, 'malformed');
        },
      ),
      { numRuns: 3000 },
    );
  });
});

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
const bytes = (max: number) => fc.uint8Array({ maxLength: max });

describe('emit -> parse round trips', () => {
  it('ethernet', () => {
    const arb: fc.Arbitrary<EthernetRepr> = rec(
      {
        dst: mac,
        src: mac,
        ethertype: fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== 0x8100),
        vlan: rec({
          pcp: fc.integer({ min: 0, max: 7 }),
          dei: fc.boolean(),
          vid: fc.integer({ min: 0, max: 4095 }),
        }),
      },
      { requiredKeys: ['dst', 'src', 'ethertype'] },
    );
    fc.assert(
      fc.property(arb, bytes(20), (r, payload) => {
        const out = new Uint8Array(ethernetHeaderLength(r) + payload.length);
        const n = emitEthernet(r, out);
        out.set(payload, n);
        const p = ok(parseEthernet(out));
        assert.deepEqual(p.repr, r);
        assert.deepEqual(p.payload, payload);
      }),
      RUNS,
    );
  });

  it('arp', () => {
    const arb: fc.Arbitrary<ArpRepr> = rec({
      op: fc.constantFrom(ARP_OP_REQUEST, ARP_OP_REPLY),
      senderMac: mac,
      senderIp: u32,
      targetMac: mac,
      targetIp: u32,
    });
    fc.assert(
      fc.property(arb, (r) => {
        const out = new Uint8Array(28);
        emitArp(r, out);
        assert.deepEqual(ok(parseArp(out)).repr, r);
      }),
      RUNS,
    );
  });

  it('ipv4', () => {
    const arb: fc.Arbitrary<Ipv4Repr> = rec({
      dscp: fc.integer({ min: 0, max: 63 }),
      ecn: fc.integer({ min: 0, max: 3 }),
      identification: u16,
      dontFragment: fc.boolean(),
      moreFragments: fc.boolean(),
      fragmentOffset: fc.integer({ min: 0, max: 0x1fff }).map((x) => x * 8),
      ttl: u8,
      protocol: u8,
      src: u32,
      dst: u32,
      options: fc
        .integer({ min: 0, max: 10 })
        .chain((w) => fc.uint8Array({ minLength: 4 * w, maxLength: 4 * w })),
      payloadLength: fc.integer({ min: 0, max: 64 }),
    });
    fc.assert(
      fc.property(arb, fc.nat(8), (r, pad) => {
        const hl = ipv4HeaderLength(r);
        const out = new Uint8Array(hl + r.payloadLength + pad);
        assert.equal(emitIpv4(r, out), hl);
        const p = ok(parseIpv4Packet(out));
        assert.deepEqual(p.repr, r);
        assert.equal(p.payload.length, r.payloadLength);
        // The same header at an offset of a buffer holding stale bytes (a reused frame): the
        // checksum is computed from the fields, so nothing left in `out` may leak into it.
        const stale = new Uint8Array(pad + out.length).fill(0xa5 ^ pad);
        assert.equal(emitIpv4(r, stale, pad), hl);
        assert.deepEqual(stale.subarray(pad, pad + hl), out.subarray(0, hl));
      }),
      RUNS,
    );
  });

  it('icmpv4', () => {
    const arb: fc.Arbitrary<Icmpv4Repr> = fc.oneof(
      rec({
        kind: fc.constantFrom('echoRequest' as const, 'echoReply' as const),
        ident: u16,
        seq: u16,
        data: bytes(64),
      }),
      rec({
        kind: fc.constant('destUnreachable' as const),
        code: fc.integer({ min: 0, max: 15 }),
        nextHopMtu: u16,
        invoking: bytes(64),
      }),
      rec({
        kind: fc.constant('timeExceeded' as const),
        code: fc.integer({ min: 0, max: 1 }),
        invoking: bytes(64),
      }),
      rec({
        kind: fc.constant('parameterProblem' as const),
        code: u8,
        pointer: u8,
        invoking: bytes(64),
      }),
      rec({
        kind: fc.constant('redirect' as const),
        code: fc.integer({ min: 0, max: 3 }),
        gateway: u32,
        invoking: bytes(64),
      }),
      rec({
        kind: fc.constant('other' as const),
        type: u8.filter((t) => ![0, 3, 5, 8, 11, 12].includes(t)),
        code: u8,
        rest: u32,
        data: bytes(64),
      }),
    );
    fc.assert(
      fc.property(arb, (r) => {
        const out = new Uint8Array(icmpv4Length(r));
        emitIcmpv4(r, out);
        assert.deepEqual(ok(parseIcmpv4(out)).repr, r);
      }),
      RUNS,
    );
  });

  it('udp', () => {
    fc.assert(
      fc.property(u16, u16, u32, u32, bytes(100), fc.boolean(), (srcPort, dstPort, s, d, payload, sum) => {
        const len = 8 + payload.length;
        const ps = pseudoHeaderSumV4(s, d, 17, len);
        const out = new Uint8Array(len);
        emitUdp({ srcPort, dstPort }, payload, out, sum ? ps : undefined);
        const p = ok(parseUdp(out, ps));
        assert.deepEqual(p.repr, { srcPort, dstPort });
        assert.deepEqual(p.payload, payload);
      }),
      RUNS,
    );
  });

  it('tcp (options that fit, as Linux would send them)', () => {
    const sackBlock = rec({ left: u32, right: u32 });
    const opts = fc
      .record(
        {
          mss: u16,
          windowScale: u8,
          sackPermitted: fc.constant(true),
          sack: fc.array(sackBlock, { minLength: 1, maxLength: 4 }),
          timestamps: rec({ tsVal: u32, tsEcr: u32 }),
        },
        { requiredKeys: [] },
      )
      .map((o) => {
        // Trim SACK blocks to what fits so the round trip is exact (the emitter would drop them).
        if (!o.sack) return { ...o };
        const fixed =
          (o.mss !== undefined ? 4 : 0) +
          (o.timestamps ? 12 : o.sackPermitted ? 4 : 0) +
          (o.windowScale !== undefined ? 4 : 0);
        const n = Math.min(o.sack.length, Math.floor((40 - fixed - 4) / 8));
        const { sack, ...rest } = o;
        return n > 0 ? { ...rest, sack: sack.slice(0, n) } : rest;
      });
    const arb: fc.Arbitrary<TcpRepr> = rec({
      srcPort: u16,
      dstPort: u16,
      seq: u32,
      ack: u32,
      flags: u8,
      window: u16,
      urgentPointer: u16,
      options: opts,
    });
    fc.assert(
      fc.property(arb, u32, u32, bytes(100), (r, s, d, payload) => {
        const len = tcpHeaderLength(r) + payload.length;
        assert.ok(tcpHeaderLength(r) <= 60);
        const ps = pseudoHeaderSumV4(s, d, 6, len);
        const out = new Uint8Array(len);
        assert.equal(emitTcp(r, payload, out, ps), len);
        const p = ok(parseTcp(out, ps));
        assert.deepEqual(p.repr, r);
        assert.deepEqual(p.payload, payload);
      }),
      RUNS,
    );
  });
});
