/**
 * Bad input to the IPv6 layer, NDP and reassembly, injected as raw frames from the far end
 * of a cable: each is dropped and counted (answered with ICMPv6 where RFC 8200 / 4443 say
 * so), nothing throws, tables stay bounded, and the stack keeps answering.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { parseIpv6 } from '../../src/wire/address.ts';
import { ETHERTYPE_IPV6, writeEthernetHeader } from '../../src/wire/ethernet.ts';
import { buildIcmpv6, ICMPV6_ECHO_REQUEST, parseIcmpv6 } from '../../src/wire/icmpv6.ts';
import {
  emitIpv6,
  emitIpv6Fragment,
  emitIpv6Options,
  IPV6_NH_DSTOPTS,
  IPV6_NH_FRAGMENT,
  IPV6_NH_HOPOPTS,
  IPV6_NH_ICMPV6,
  IPV6_NH_ROUTING,
  IPV6_NH_UDP,
} from '../../src/wire/ipv6.ts';
import { ipv6Key, ipv6MulticastMac, solicitedNode } from '../../src/wire/ipv6-address.ts';
import { emitNdp, type NdpRepr } from '../../src/wire/ndp.ts';

const PEER_MAC = Uint8Array.from([0x02, 0, 0, 0, 0, 0x99]);
const PEER = parseIpv6('fd00:1::99')!;
const US = parseIpv6('fd00:1::1')!;

function setup() {
  const sim = new Simulation({ seed: 21 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const s = sim.add(
    new Stack({
      clock: sim.clock,
      rng: sim.rng.fork(),
      name: 's',
      config: { ipv6: { slaac: { dadTransmits: 0 } } },
    }),
  );
  const iface = s.addInterface({ name: 'eth0', device: cable.a, addresses: ['fd00:1::1/64'] });
  const out: Uint8Array[] = [];
  cable.b.onReceive = (f) => out.push(f.slice());
  sim.runFor(millis(10));
  out.length = 0;
  const send = (pkt: Uint8Array, dstMac: Uint8Array = iface.mac) => {
    const f = new Uint8Array(14 + pkt.length);
    writeEthernetHeader(f, 0, dstMac, PEER_MAC, ETHERTYPE_IPV6);
    f.set(pkt, 14);
    cable.b.transmit(f);
  };
  /** ICMPv6 messages the stack sent (type, code, word, body). */
  const icmp = () =>
    out
      .filter((f) => ((f[12] << 8) | f[13]) === ETHERTYPE_IPV6 && f[20] === IPV6_NH_ICMPV6)
      .map((f) => {
        const r = parseIcmpv6(f.subarray(54), f.subarray(22, 38), f.subarray(38, 54));
        assert.ok(!('wireError' in r), 'the stack sends valid ICMPv6');
        return r as { type: number; code: number; word: number; body: Uint8Array };
      });
  return { sim, s, iface, out, send, icmp };
}

function packet(
  nh: number,
  payload: Uint8Array,
  opts: { src?: Uint8Array; dst?: Uint8Array; hopLimit?: number } = {},
) {
  const p = new Uint8Array(40 + payload.length);
  emitIpv6(
    {
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: payload.length,
      nextHeader: nh,
      hopLimit: opts.hopLimit ?? 64,
      src: opts.src ?? PEER,
      dst: opts.dst ?? US,
    },
    p,
  );
  p.set(payload, 40);
  return p;
}

function echo(src = PEER, dst = US, seq = 1): Uint8Array {
  return buildIcmpv6(
    { type: ICMPV6_ECHO_REQUEST, code: 0, word: (7 << 16) | seq, body: new Uint8Array(8) },
    src,
    dst,
  );
}

function ndp(m: NdpRepr, src: Uint8Array, dst: Uint8Array, hopLimit = 255): Uint8Array {
  return packet(IPV6_NH_ICMPV6, emitNdp(m, src, dst), { src, dst, hopLimit });
}

/** Teach the stack the peer's MAC (an NS from it), so its replies go out at once. */
function neighbour(send: (p: Uint8Array, mac?: Uint8Array) => void) {
  send(
    ndp({ kind: 'ns', target: US, options: { sourceLinkAddress: PEER_MAC } }, PEER, solicitedNode(US)),
    ipv6MulticastMac(solicitedNode(US)),
  );
}

test('an endless extension-header chain is dropped and counted; the stack still answers pings', () => {
  const { sim, s, send, icmp } = setup();
  neighbour(send);
  // 150 headers (1200 bytes, inside one 1500-byte frame), far past the bound of 16.
  const chain = new Uint8Array(8 * 150);
  for (let i = 0; i < 150; i++) chain[8 * i] = IPV6_NH_DSTOPTS;
  send(packet(IPV6_NH_DSTOPTS, chain));
  // Truncated chains: a header running past the payload.
  const cut = emitIpv6Options(IPV6_NH_UDP, [{ type: 0x1e, data: new Uint8Array(20) }]);
  send(packet(IPV6_NH_DSTOPTS, cut.subarray(0, 12)));
  sim.runFor(millis(10));
  assert.equal(s.ip6.stats.badExtHeaders, 2);
  send(packet(IPV6_NH_ICMPV6, echo()));
  sim.runFor(millis(10));
  // Only the NA (and the NS re-confirming the peer) answered the solicitation, and the echo reply the ping.
  assert.deepEqual(
    icmp()
      .map((m) => m.type)
      .filter((t) => t !== 135),
    [136, 129],
  );
});

test('unknown next header: Parameter Problem code 1 pointing at it; hop-by-hop not first: code 1', () => {
  const { sim, s, send, icmp } = setup();
  neighbour(send);
  sim.runFor(millis(10));
  send(packet(253, new Uint8Array(16)));
  const late = new Uint8Array([...emitIpv6Options(IPV6_NH_HOPOPTS, []), ...emitIpv6Options(IPV6_NH_UDP, [])]);
  send(packet(IPV6_NH_DSTOPTS, late));
  sim.runFor(millis(10));
  const errs = icmp().filter((m) => m.type === 4);
  assert.deepEqual(
    errs.map((m) => [m.code, m.word]),
    [
      [1, 6],
      [1, 40],
    ],
  );
  assert.equal(s.ip6.stats.unknownProtocol, 1);
  // The error quotes the offending packet.
  assert.equal(errs[0].body[6], 253);
});

test('routing header type 0 with segments left is refused (RFC 5095): Parameter Problem at Routing Type', () => {
  const { sim, s, send, icmp } = setup();
  neighbour(send);
  const rh = new Uint8Array(24);
  rh[0] = IPV6_NH_UDP;
  rh[1] = 2;
  rh[2] = 0; // type 0
  rh[3] = 1; // segments left
  send(packet(IPV6_NH_ROUTING, rh));
  sim.runFor(millis(10));
  assert.equal(s.ip6.stats.badRouting, 1);
  const e = icmp().find((m) => m.type === 4);
  assert.deepEqual([e?.code, e?.word], [0, 42]);
});

test('unknown options: 01 discards silently, 10 answers Parameter Problem code 2 at the option', () => {
  const { sim, s, send, icmp } = setup();
  neighbour(send);
  send(packet(IPV6_NH_DSTOPTS, emitIpv6Options(IPV6_NH_UDP, [{ type: 0x5e, data: new Uint8Array(2) }])));
  send(packet(IPV6_NH_DSTOPTS, emitIpv6Options(IPV6_NH_UDP, [{ type: 0x9e, data: new Uint8Array(2) }])));
  sim.runFor(millis(10));
  assert.equal(s.ip6.stats.badOptions, 2);
  const errs = icmp().filter((m) => m.type === 4);
  assert.deepEqual(
    errs.map((m) => [m.code, m.word]),
    [[2, 42]],
  );
});

test('NDP: hop limit other than 255 and zero-length options dropped and counted; a valid NS answered', () => {
  const { sim, s, iface, send, icmp } = setup();
  const ns = { kind: 'ns' as const, target: US, options: { sourceLinkAddress: PEER_MAC } };
  const mc = ipv6MulticastMac(solicitedNode(US));
  send(ndp(ns, PEER, solicitedNode(US), 64), mc);
  const zero = ndp(ns, PEER, solicitedNode(US));
  zero[40 + 25] = 0; // the option's length
  // The checksum still has to be right for NDP to look at it: recompute over the edited bytes.
  const msg = zero.subarray(40);
  msg[2] = 0;
  msg[3] = 0;
  const fixed = buildIcmpv6(
    {
      type: msg[0],
      code: msg[1],
      word: ((msg[4] << 24) | (msg[5] << 16) | (msg[6] << 8) | msg[7]) >>> 0,
      body: msg.subarray(8),
    },
    PEER,
    solicitedNode(US),
  );
  zero.set(fixed, 40);
  send(zero, mc);
  sim.runFor(millis(10));
  assert.equal(s.ip6.stats.ndpBadHopLimit, 1);
  assert.equal(s.ip6.stats.ndpMalformed, 1);
  assert.equal(icmp().length, 0, 'nothing answered');
  send(ndp(ns, PEER, solicitedNode(US)), mc);
  sim.runFor(millis(10));
  const na = icmp().find((m) => m.type === 136);
  assert.ok(na, 'NA sent');
  assert.equal(na.word >>> 29, 0b011, 'solicited and override');
  assert.deepEqual([...na.body.subarray(18, 24)], [...iface.mac]);
  // The solicitation created an entry for the sender with its MAC (STALE, RFC 4861 §7.2.3);
  // the NA sent through it started its re-confirmation (the shared cache has no DELAY state).
  const e = s.ip6.state(iface)!.ndp!.get(ipv6Key(PEER));
  assert.deepEqual(e?.mac, PEER_MAC);
  assert.equal(e?.state, 'probe');
});

test('unsolicited NA for a neighbour we do not know creates no entry (RFC 4861 §7.2.5)', () => {
  const { sim, s, iface, send } = setup();
  const other = parseIpv6('fd00:1::55')!;
  send(
    ndp(
      {
        kind: 'na',
        router: false,
        solicited: false,
        override: true,
        target: other,
        options: { targetLinkAddress: PEER_MAC },
      },
      PEER,
      parseIpv6('ff02::1')!,
    ),
    ipv6MulticastMac(parseIpv6('ff02::1')!),
  );
  sim.runFor(millis(10));
  assert.equal(s.ip6.stats.unsolicitedNa, 1);
  assert.equal(s.ip6.state(iface)!.ndp!.get(ipv6Key(other)), undefined);
});

test('an RA flood is bounded: routers, prefixes and SLAAC addresses stop at their caps, counted', () => {
  const { sim, s, iface, send } = setup();
  const allNodes = parseIpv6('ff02::1')!;
  for (let i = 0; i < 60; i++) {
    const router = parseIpv6(`fe80::${(i + 1).toString(16)}`)!;
    const prefix = parseIpv6(`fd00:${(i + 100).toString(16)}::`)!;
    const ra: NdpRepr = {
      kind: 'ra',
      curHopLimit: 64,
      managed: false,
      other: false,
      routerLifetime: 1800,
      reachableTime: 0,
      retransTimer: 0,
      options: {
        prefixes: [
          {
            prefixLength: 64,
            onLink: true,
            autonomous: true,
            validLifetime: 3600,
            preferredLifetime: 1800,
            prefix,
          },
        ],
      },
    };
    send(ndp(ra, router, allNodes), ipv6MulticastMac(allNodes));
  }
  sim.runFor(millis(50));
  const st = s.ip6.state(iface)!;
  assert.equal(s.ip6.stats.raReceived, 60);
  assert.equal(st.routers.length, 8);
  assert.equal(st.prefixes.length, 16);
  assert.equal(st.addresses.filter((a) => a.origin === 'slaac').length, 16);
  assert.ok(s.ip6.stats.raBoundDrops >= 52 + 44);
  // An RA from a source that is not link-local is invalid (RFC 4861 §6.1.2).
  const invalid = s.ip6.stats.ndpInvalid;
  send(
    ndp(
      {
        kind: 'ra',
        curHopLimit: 1,
        managed: false,
        other: false,
        routerLifetime: 9000,
        reachableTime: 0,
        retransTimer: 0,
        options: {},
      },
      PEER,
      allNodes,
    ),
    ipv6MulticastMac(allNodes),
  );
  sim.runFor(millis(5));
  assert.equal(s.ip6.stats.ndpInvalid, invalid + 1);
  assert.notEqual(st.hopLimit, 1);
});

function fragment(id: number, offset: number, more: boolean, data: Uint8Array): Uint8Array {
  const f = new Uint8Array(8 + data.length);
  emitIpv6Fragment({ nextHeader: IPV6_NH_UDP, offset, moreFragments: more, identification: id }, f);
  f.set(data, 8);
  return packet(IPV6_NH_FRAGMENT, f);
}

test('a fragment flood is bounded in memory (charged at true cost) and counted', () => {
  const { sim, s, send } = setup();
  const r = s.ip6.reassembler;
  for (let id = 0; id < 3000; id++) send(fragment(id, 0, true, new Uint8Array(1000)));
  sim.runFor(millis(50));
  assert.ok(r.bytesHeld <= r.config.maxBytes, `${r.bytesHeld} held`);
  assert.ok(r.datagrams <= r.config.maxDatagrams);
  assert.equal(s.ip6.stats.reasmRequired, 3000);
  assert.ok(s.ip6.stats.reasmEvictions >= 3000 - r.config.maxDatagrams);
  // After the timeout nothing is held.
  sim.runFor(seconds(61));
  assert.equal(r.datagrams, 0);
  assert.equal(r.bytesHeld, 0);
});

test('overlapping fragments drop the datagram (RFC 5722); a non-multiple-of-8 middle fragment is a Parameter Problem', () => {
  const { sim, s, send, icmp } = setup();
  neighbour(send);
  const udp = new Uint8Array(24);
  udp[0] = 0x30;
  udp[2] = 0x30;
  udp[5] = 24;
  send(fragment(9, 0, true, udp.subarray(0, 16)));
  send(fragment(9, 8, true, udp.subarray(8, 16)));
  send(fragment(9, 16, false, udp.subarray(16, 24)));
  send(fragment(10, 0, true, new Uint8Array(12)));
  sim.runFor(millis(10));
  assert.equal(s.ip6.stats.reasmOverlaps, 1);
  assert.equal(s.ip6.stats.reasmOk, 0);
  const e = icmp().find((m) => m.type === 4);
  assert.deepEqual([e?.code, e?.word], [0, 4]);
});

test('reassembly timeout after a first fragment: Time Exceeded code 1', () => {
  const { sim, send, icmp } = setup();
  neighbour(send);
  send(fragment(77, 0, true, new Uint8Array(16)));
  sim.runFor(seconds(59));
  assert.equal(icmp().filter((m) => m.type === 3).length, 0, 'not before 60 s');
  neighbour(send); // fresh neighbour entry, so the error goes out without resolution
  sim.runFor(seconds(2));
  const e = icmp().find((m) => m.type === 3);
  assert.equal(e?.code, 1);
});

test('ICMPv6 errors are rate-limited', () => {
  const { sim, s, send } = setup();
  neighbour(send);
  for (let i = 0; i < 200; i++) send(packet(253, new Uint8Array(8)));
  sim.runFor(millis(5));
  assert.equal(s.ip6.stats.unknownProtocol, 200);
  assert.ok(s.ip6.stats.icmpRateLimited > 0);
  assert.ok(s.ip6.stats.icmpErrorsSent <= 60);
});
