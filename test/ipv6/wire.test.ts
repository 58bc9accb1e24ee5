import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIpv6 } from '../../src/wire/address.ts';
import { isWireError } from '../../src/wire/error.ts';
import {
  buildIcmpv6,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_NEIGHBOR_SOLICITATION,
  parseIcmpv6,
  parseIcmpv6Invoking,
} from '../../src/wire/icmpv6.ts';
import {
  emitIpv6,
  emitIpv6Fragment,
  emitIpv6Options,
  IPV6_NH_DSTOPTS,
  IPV6_NH_FRAGMENT,
  IPV6_NH_HOPOPTS,
  IPV6_NH_ROUTING,
  IPV6_NH_UDP,
  type Ipv6Repr,
  isIpv6ChainError,
  parseIpv6Fragment,
  parseIpv6Options,
  parseIpv6Packet,
  unknownOptionAction,
  walkExtensionHeaders,
} from '../../src/wire/ipv6.ts';
import {
  eui64,
  ipv6CommonPrefixLength,
  ipv6MulticastMac,
  ipv6SamePrefix,
  linkLocalFromMac,
  solicitedNode,
} from '../../src/wire/ipv6-address.ts';
import { emitMldReport, MLD_CHANGE_TO_EXCLUDE, parseMldQuery, parseMldReport } from '../../src/wire/mld.ts';
import { emitNdp, type NdpRepr, parseNdp } from '../../src/wire/ndp.ts';

const A = parseIpv6('fe80::1')!;
const B = parseIpv6('fe80::2')!;

function packet(nextHeader: number, payload: Uint8Array, hopLimit = 64): Uint8Array {
  const out = new Uint8Array(40 + payload.length);
  const repr: Ipv6Repr = {
    trafficClass: 0xb8,
    flowLabel: 0x12345,
    payloadLength: payload.length,
    nextHeader,
    hopLimit,
    src: A,
    dst: B,
  };
  emitIpv6(repr, out);
  out.set(payload, 40);
  return out;
}

/** RFC 1071 computed the slow, obvious way, for checking the codec's checksum. */
function naiveChecksum(parts: Uint8Array[]): number {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0) + 1);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  let s = 0;
  for (let i = 0; i < at; i += 2) s += (all[i] << 8) | all[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

test('ipv6 header round-trips and every truncated prefix is rejected', () => {
  const p = packet(IPV6_NH_UDP, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
  const r = parseIpv6Packet(p);
  assert.ok(!isWireError(r));
  assert.equal(r.repr.trafficClass, 0xb8);
  assert.equal(r.repr.flowLabel, 0x12345);
  assert.equal(r.repr.nextHeader, IPV6_NH_UDP);
  assert.equal(r.repr.hopLimit, 64);
  assert.deepEqual(r.repr.src, A);
  assert.deepEqual(r.repr.dst, B);
  assert.deepEqual([...r.payload], [1, 2, 3, 4, 5, 6, 7, 8]);
  for (let n = 0; n < p.length; n++) {
    const t = parseIpv6Packet(p.subarray(0, n));
    assert.ok(isWireError(t), `prefix ${n} accepted`);
  }
  // Link padding past Payload Length is not payload.
  const padded = new Uint8Array(p.length + 10);
  padded.set(p);
  const q = parseIpv6Packet(padded);
  assert.ok(!isWireError(q));
  assert.equal(q.payload.length, 8);
  const bad = p.slice();
  bad[0] = 0x45;
  assert.ok(isWireError(parseIpv6Packet(bad)));
});

test('extension header chain: walked to the upper layer, bounded, hop-by-hop only first', () => {
  const udp = new Uint8Array(8);
  const dst = emitIpv6Options(IPV6_NH_UDP, []);
  const hbh = emitIpv6Options(IPV6_NH_DSTOPTS, [{ type: 5, data: new Uint8Array(2) }]);
  const p = packet(IPV6_NH_HOPOPTS, new Uint8Array([...hbh, ...dst, ...udp]));
  const c = walkExtensionHeaders(p);
  assert.ok(!isIpv6ChainError(c));
  assert.equal(c.protocol, IPV6_NH_UDP);
  assert.equal(c.offset, 40 + hbh.length + dst.length);
  assert.deepEqual(
    c.headers.map((h) => h.type),
    [IPV6_NH_HOPOPTS, IPV6_NH_DSTOPTS],
  );
  // Every truncation of the chain is an error, never a throw.
  for (let n = 40; n < 40 + hbh.length + dst.length; n++) {
    const t = p.slice(0, n);
    t[4] = (n - 40) >>> 8;
    t[5] = n - 40;
    assert.ok(isIpv6ChainError(walkExtensionHeaders(t)), `truncated chain at ${n} accepted`);
  }
  // Hop-by-hop after another header: Parameter Problem code 1 at the Next Header octet naming it.
  const late = packet(IPV6_NH_DSTOPTS, new Uint8Array([...emitIpv6Options(IPV6_NH_HOPOPTS, []), ...hbh]));
  const e = walkExtensionHeaders(late);
  assert.ok(isIpv6ChainError(e));
  assert.equal(e.code, 1);
  assert.equal(e.pointer, 40);
  // An endless chain of destination options headers stops at the bound.
  const n = 200;
  const chain = new Uint8Array(8 * n);
  for (let i = 0; i < n; i++) chain[8 * i] = IPV6_NH_DSTOPTS;
  const endless = packet(IPV6_NH_DSTOPTS, chain);
  const x = walkExtensionHeaders(endless);
  assert.ok(isIpv6ChainError(x));
  assert.equal(x.chainError, 'too-long');
});

test('fragment header: parsed, round-trips, walk stops after it', () => {
  const f = new Uint8Array(8);
  emitIpv6Fragment(
    { nextHeader: IPV6_NH_UDP, offset: 1448, moreFragments: true, identification: 0xdeadbeef },
    f,
  );
  const r = parseIpv6Fragment(f);
  assert.ok(!isWireError(r));
  assert.deepEqual(r, {
    nextHeader: IPV6_NH_UDP,
    offset: 1448,
    moreFragments: true,
    identification: 0xdeadbeef,
  });
  for (let n = 0; n < 8; n++) assert.ok(isWireError(parseIpv6Fragment(f.subarray(0, n))));
  // Data after a non-first fragment's header looks like anything; the walk must not read it.
  const data = new Uint8Array(16).fill(IPV6_NH_DSTOPTS);
  f[0] = IPV6_NH_DSTOPTS;
  const c = walkExtensionHeaders(packet(IPV6_NH_FRAGMENT, new Uint8Array([...f, ...data])));
  assert.ok(!isIpv6ChainError(c));
  assert.equal(c.offset, 48);
  assert.equal(c.fragment?.offset, 1448);
  const two = walkExtensionHeaders(
    packet(IPV6_NH_DSTOPTS, new Uint8Array([...emitIpv6Options(IPV6_NH_FRAGMENT, []), ...f, ...data])),
  );
  assert.ok(!isIpv6ChainError(two));
  assert.equal(two.fragment?.nextHeader, IPV6_NH_DSTOPTS);
  assert.equal(IPV6_NH_ROUTING, 43);
});

test('option TLVs: padding skipped, overrun refused, unknown-option actions', () => {
  const h = emitIpv6Options(IPV6_NH_UDP, [
    { type: 0x05, data: Uint8Array.from([0, 0]) },
    { type: 0xc2, data: Uint8Array.from([1, 2, 3]) },
  ]);
  assert.equal(h.length % 8, 0);
  const o = parseIpv6Options(h);
  assert.ok(!isWireError(o));
  assert.deepEqual(
    o.map((x) => [x.type, x.offset, [...x.data]]),
    [
      [5, 2, [0, 0]],
      [0xc2, 6, [1, 2, 3]],
    ],
  );
  const over = h.slice();
  over[7] = 200;
  assert.ok(isWireError(parseIpv6Options(over)));
  assert.equal(unknownOptionAction(0x1e), 'skip');
  assert.equal(unknownOptionAction(0x5e), 'discard');
  assert.equal(unknownOptionAction(0x9e), 'discard-icmp');
  assert.equal(unknownOptionAction(0xde), 'discard-icmp-unicast');
});

test('icmpv6: checksum over the pseudo-header matches RFC 1071 done by hand; corrupt rejected', () => {
  const data = Uint8Array.from([9, 8, 7]);
  const msg = buildIcmpv6({ type: ICMPV6_ECHO_REQUEST, code: 0, word: (0x1234 << 16) | 7, body: data }, A, B);
  const pseudo = new Uint8Array(40);
  pseudo.set(A);
  pseudo.set(B, 16);
  pseudo[35] = msg.length;
  pseudo[39] = 58;
  const zeroed = msg.slice();
  zeroed[2] = 0;
  zeroed[3] = 0;
  assert.equal((msg[2] << 8) | msg[3], naiveChecksum([pseudo, zeroed]));
  const r = parseIcmpv6(msg, A, B);
  assert.ok(!isWireError(r));
  assert.equal(r.word >>> 16, 0x1234);
  assert.equal(r.word & 0xffff, 7);
  assert.deepEqual([...r.body], [9, 8, 7]);
  // Same bytes, other addresses: the pseudo-header makes the checksum fail.
  assert.ok(
    isWireError(
      parseIcmpv6(
        msg,
        B,
        A.map((x, i) => (i === 15 ? 3 : x)),
      ),
    ),
  );
  const bad = msg.slice();
  bad[8] ^= 1;
  assert.ok(isWireError(parseIcmpv6(bad, A, B)));
  for (let n = 0; n < 8; n++) assert.ok(isWireError(parseIcmpv6(msg.subarray(0, n), A, B)));
});

test('icmpv6 invoking packet: addresses, protocol and ports past extension headers', () => {
  const udp = Uint8Array.from([0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
  const p = packet(IPV6_NH_DSTOPTS, new Uint8Array([...emitIpv6Options(IPV6_NH_UDP, []), ...udp]));
  const q = parseIcmpv6Invoking(p);
  assert.ok(!isWireError(q));
  assert.equal(q.protocol, IPV6_NH_UDP);
  assert.deepEqual([...q.transport.subarray(0, 4)], [0x30, 0x39, 0, 0x35]);
  for (let n = 0; n < 40; n++) assert.ok(isWireError(parseIcmpv6Invoking(p.subarray(0, n))));
});

const MAC = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

test('ndp messages round-trip with their options; truncations and zero-length options rejected', () => {
  const msgs: NdpRepr[] = [
    { kind: 'rs', options: { sourceLinkAddress: MAC } },
    {
      kind: 'ra',
      curHopLimit: 64,
      managed: false,
      other: true,
      routerLifetime: 1800,
      reachableTime: 30000,
      retransTimer: 1000,
      options: {
        sourceLinkAddress: MAC,
        mtu: 1500,
        prefixes: [
          {
            prefixLength: 64,
            onLink: true,
            autonomous: true,
            validLifetime: 86400,
            preferredLifetime: 14400,
            prefix: parseIpv6('fd00:1::')!,
          },
        ],
      },
    },
    { kind: 'ns', target: B, options: { sourceLinkAddress: MAC } },
    {
      kind: 'na',
      router: true,
      solicited: true,
      override: false,
      target: B,
      options: { targetLinkAddress: MAC },
    },
    { kind: 'redirect', target: A, destination: B, options: { targetLinkAddress: MAC } },
  ];
  for (const m of msgs) {
    const bytes = emitNdp(m, A, B);
    assert.ok(!isWireError(parseIcmpv6(bytes, A, B)), `${m.kind} checksum`);
    const back = parseNdp(bytes);
    assert.ok(!isWireError(back), `${m.kind}: ${JSON.stringify(back)}`);
    assert.deepEqual(back, m);
    // A prefix that cuts the fixed part or an option is refused (cuts at option boundaries
    // are whole messages with fewer options, which are valid).
    for (let n = 0; n < bytes.length; n++) {
      const r = parseNdp(bytes.subarray(0, n));
      const fixedEnd = { rs: 8, ra: 16, ns: 24, na: 24, redirect: 40 }[m.kind];
      if (n < fixedEnd || (n - fixedEnd) % 8 !== 0)
        assert.ok(isWireError(r), `${m.kind} prefix ${n} accepted`);
    }
  }
  const ns = emitNdp({ kind: 'ns', target: B, options: { sourceLinkAddress: MAC } }, A, B);
  ns[25] = 0; // the option's length
  const z = parseNdp(ns);
  assert.ok(isWireError(z));
  assert.match(z.detail, /length 0/);
  ns[25] = 1;
  ns[1] = 1; // ICMP code must be 0
  assert.ok(isWireError(parseNdp(ns)));
  assert.equal(ICMPV6_NEIGHBOR_SOLICITATION, 135);
});

test('mldv2 report round-trips; query parsed; truncations rejected', () => {
  const g = solicitedNode(B);
  const rep = emitMldReport([{ type: MLD_CHANGE_TO_EXCLUDE, group: g, sources: [A] }], A, B);
  assert.ok(!isWireError(parseIcmpv6(rep, A, B)));
  const back = parseMldReport(rep);
  assert.ok(!isWireError(back));
  assert.deepEqual(back, [{ type: MLD_CHANGE_TO_EXCLUDE, group: g, sources: [A] }]);
  for (let n = 0; n < rep.length; n++)
    assert.ok(isWireError(parseMldReport(rep.subarray(0, n))), `prefix ${n}`);
  const q = new Uint8Array(28);
  q[0] = 130;
  q[4] = 0x27;
  q[5] = 0x10;
  const pq = parseMldQuery(q);
  assert.ok(!isWireError(pq));
  assert.equal(pq.maxResponseDelay, 10000);
  for (let n = 0; n < 24; n++) assert.ok(isWireError(parseMldQuery(q.subarray(0, n))));
});

test('address helpers: solicited-node, multicast MAC, EUI-64, prefixes', () => {
  const a = parseIpv6('2001:db8::1:2:3:4')!;
  assert.deepEqual(solicitedNode(a), parseIpv6('ff02::1:ff03:4'));
  assert.deepEqual([...ipv6MulticastMac(parseIpv6('ff02::1:ff03:4')!)], [0x33, 0x33, 0xff, 0x03, 0x00, 0x04]);
  assert.deepEqual([...eui64(MAC)], [0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56]);
  assert.deepEqual(linkLocalFromMac(MAC), parseIpv6('fe80::5054:ff:fe12:3456'));
  assert.ok(ipv6SamePrefix(parseIpv6('fd00:1::5')!, parseIpv6('fd00:1::9')!, 64));
  assert.ok(!ipv6SamePrefix(parseIpv6('fd00:1::5')!, parseIpv6('fd00:2::9')!, 64));
  assert.equal(ipv6CommonPrefixLength(parseIpv6('fd00::')!, parseIpv6('fd00:8000::')!), 16);
});
