import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../../src/ip/icmp.ts';
import { IpIdGenerator } from '../../src/ip/ipid.ts';
import type { Ipv4Route } from '../../src/ip/output.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { SeededRng } from '../../src/rand/rng.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { localMac, MAC_ZERO, type MacAddress } from '../../src/wire/address.ts';
import { ARP_LEN, ARP_OP_REPLY, ARP_OP_REQUEST, emitArp, parseArp } from '../../src/wire/arp.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, emitEthernet, parseEthernet } from '../../src/wire/ethernet.ts';
import { parseIcmpv4 } from '../../src/wire/icmpv4.ts';
import { emitIpv4, Ipv4View, parseIpv4Packet } from '../../src/wire/ipv4.ts';

const ME = 0x0a000002;
const PEER = 0x0a000009;

/** A stack on a cable; the test plays the peer 10.0.0.9 by hand. */
function rig(opts: { forwarding?: boolean; config?: object } = {}) {
  const sim = new Simulation({ seed: 5 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const stack = sim.add(
    new Stack({ clock: sim.clock, rng: sim.rng.fork(), forwarding: opts.forwarding, config: opts.config }),
  );
  const iface = stack.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.2/24'] });
  const peerMac: MacAddress = localMac(9);
  const out: Uint8Array[] = [];
  cable.b.onReceive = (f) => out.push(f);
  const frame = (ethertype: number, payload: Uint8Array) => {
    const f = new Uint8Array(14 + payload.length);
    emitEthernet({ dst: iface.mac, src: peerMac, ethertype }, f);
    f.set(payload, 14);
    cable.b.transmit(f);
  };
  // Teach the stack the peer's MAC so replies go straight out: a request for our address
  // makes the entry (RFC 826; an unsolicited reply would not), a reply confirms it.
  const q = new Uint8Array(ARP_LEN);
  emitArp({ op: ARP_OP_REQUEST, senderMac: peerMac, senderIp: PEER, targetMac: MAC_ZERO, targetIp: ME }, q);
  frame(ETHERTYPE_ARP, q);
  const a = new Uint8Array(ARP_LEN);
  emitArp({ op: ARP_OP_REPLY, senderMac: peerMac, senderIp: PEER, targetMac: iface.mac, targetIp: ME }, a);
  frame(ETHERTYPE_ARP, a);
  sim.runFor(millis(5));
  out.length = 0;
  const ipOut = () =>
    out
      .map((f) => parseEthernet(f))
      .filter((e) => !('wireError' in e) && e.repr.ethertype === ETHERTYPE_IPV4)
      .map((e) => (e as { payload: Uint8Array }).payload);
  return { sim, stack, iface, frame, out, ipOut };
}

function packet(over: {
  protocol?: number;
  ttl?: number;
  dst?: number;
  src?: number;
  len?: number;
  id?: number;
}) {
  const len = over.len ?? 8;
  const p = new Uint8Array(20 + len);
  emitIpv4(
    {
      dscp: 0,
      ecn: 0,
      identification: over.id ?? 1,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: over.ttl ?? 64,
      protocol: over.protocol ?? 17,
      src: over.src ?? PEER,
      dst: over.dst ?? ME,
      options: new Uint8Array(0),
      payloadLength: len,
    },
    p,
  );
  return p;
}

test('input validation: bad checksum, bad version, truncated, martian source are dropped and counted', () => {
  const { sim, stack, frame } = rig();
  const bad = packet({});
  bad[10] ^= 0xff;
  frame(ETHERTYPE_IPV4, bad);
  const v6 = packet({});
  v6[0] = 0x65;
  frame(ETHERTYPE_IPV4, v6);
  frame(ETHERTYPE_IPV4, packet({}).subarray(0, 12));
  const longer = packet({});
  longer[3] = 200; // total length past the frame
  frame(ETHERTYPE_IPV4, longer);
  frame(ETHERTYPE_IPV4, packet({ src: 0xffffffff }));
  frame(ETHERTYPE_IPV4, packet({ src: 0x7f000001 }));
  sim.runFor(millis(5));
  const s = stack.stats.ip;
  assert.equal(s.badChecksum, 1);
  assert.equal(s.malformed, 3);
  assert.equal(s.badSource, 2);
  assert.equal(s.delivered, 0);
});

test('unknown protocol: ICMP protocol unreachable quoting the datagram', () => {
  const { sim, stack, frame, ipOut } = rig();
  frame(ETHERTYPE_IPV4, packet({ protocol: 99 }));
  sim.runFor(millis(5));
  assert.equal(stack.stats.ip.unknownProtocol, 1);
  const [reply] = ipOut();
  const p = parseIpv4Packet(reply);
  assert.ok(!('wireError' in p));
  assert.equal(p.repr.dst, PEER);
  assert.equal(p.repr.src, ME);
  const icmp = parseIcmpv4(p.payload);
  assert.ok(!('wireError' in icmp));
  assert.equal(icmp.repr.kind, 'destUnreachable');
  assert.ok(icmp.repr.kind === 'destUnreachable' && icmp.repr.code === 2);
});

test('no ICMP errors about broadcasts or ICMP errors (RFC 1122 §3.2.2)', () => {
  const { sim, stack, frame, ipOut } = rig();
  frame(ETHERTYPE_IPV4, packet({ protocol: 99, dst: 0x0a0000ff })); // directed broadcast
  // An ICMP error addressed to us that matches nothing: never answered with an error.
  const err = packet({ protocol: 1, len: 36 });
  err[20] = 3;
  frame(ETHERTYPE_IPV4, err);
  // UDP to the limited broadcast address, closed port: no port unreachable.
  const u = packet({ protocol: 17, dst: 0xffffffff });
  u.set([0x30, 0x39, 0x1f, 0x90, 0, 8, 0, 0], 20);
  frame(ETHERTYPE_IPV4, u);
  sim.runFor(millis(5));
  assert.equal(ipOut().length, 0);
  assert.ok(stack.stats.icmp.suppressed >= 1);
  assert.equal(stack.stats.udp.broadcastNoPorts, 1);
});

test('forwarding: TTL decremented with a valid incrementally updated checksum (RFC 1624)', () => {
  const { sim, stack, frame, ipOut } = rig({ forwarding: true });
  // A second, on-link destination is the peer itself; forward 10.0.0.2 → route 10.0.5.0/24 via peer.
  stack.addRoute({ destination: '10.0.5.0/24', gateway: '10.0.0.9' });
  frame(ETHERTYPE_IPV4, packet({ dst: 0x0a000507, ttl: 17, len: 100 }));
  sim.runFor(millis(5));
  const [fwd] = ipOut();
  const v = new Ipv4View(fwd);
  assert.equal(v.ttl, 16);
  assert.ok(v.verifyChecksum());
  assert.equal(stack.stats.ip.forwarded, 1);
});

test('forwarding off: datagrams for others are dropped as not for us', () => {
  const { sim, stack, frame, ipOut } = rig();
  frame(ETHERTYPE_IPV4, packet({ dst: 0x0a000507 }));
  sim.runFor(millis(5));
  assert.equal(ipOut().length, 0);
  assert.equal(stack.stats.ip.notForUs, 1);
});

test('ICMP error rate limit: a burst, then the token bucket refill rate', () => {
  const { sim, stack, frame, ipOut } = rig({ config: { icmpRate: { burst: 5, ratePerSecond: 10 } } });
  for (let i = 0; i < 20; i++) frame(ETHERTYPE_IPV4, packet({ protocol: 99, id: i }));
  sim.runFor(millis(5));
  assert.equal(ipOut().length, 5);
  assert.equal(stack.stats.icmp.rateLimited, 15);
  sim.runFor(seconds(1));
  for (let i = 0; i < 20; i++) frame(ETHERTYPE_IPV4, packet({ protocol: 99, id: i }));
  sim.runFor(millis(5));
  assert.equal(ipOut().length, 10);
});

test('echo requests are answered (not rate limited); broadcast pings ignored by default', () => {
  const { sim, stack, frame, ipOut } = rig({ config: { icmpRate: { burst: 1, ratePerSecond: 1 } } });
  const echo = (dst: number) => {
    const p = packet({ protocol: 1, len: 12, dst });
    const body = p.subarray(20);
    body.set([8, 0, 0, 0, 0, 7, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
    let sum = 0;
    for (let i = 0; i < body.length; i += 2) sum += (body[i] << 8) | body[i + 1];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    body[2] = c >> 8;
    body[3] = c & 0xff;
    frame(ETHERTYPE_IPV4, p);
  };
  for (let i = 0; i < 5; i++) echo(ME);
  echo(0xffffffff);
  sim.runFor(millis(1));
  const replies = ipOut();
  assert.equal(replies.length, 5);
  const p = parseIpv4Packet(replies[0]);
  assert.ok(!('wireError' in p));
  const m = parseIcmpv4(p.payload);
  assert.ok(!('wireError' in m) && m.repr.kind === 'echoReply');
  assert.deepEqual(m.repr.kind === 'echoReply' && [...m.repr.data], [0xde, 0xad, 0xbe, 0xef]);
  assert.equal(stack.stats.icmp.inEchoRequests, 6);
});

test('token bucket refills at the configured rate and caps at the burst', () => {
  const b = new TokenBucket(1000, 3, 0);
  assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  assert.equal(b.take(999), false);
  assert.equal(b.take(1000), true);
  assert.equal(b.take(seconds(10)), true);
  assert.equal(b.tokens, 2);
});

test('IP identification: per-flow counters, unpredictable starts, no repeats within a flow', () => {
  const g1 = new IpIdGenerator(new SeededRng(1));
  const g2 = new IpIdGenerator(new SeededRng(2));
  assert.notEqual(g1.next(1, 2, 17), g2.next(1, 2, 17));
  const seen = new Set<number>();
  for (let i = 0; i < 8000; i++) seen.add(g1.next(1, 2, 17));
  assert.equal(seen.size, 8000);
  // Another destination has its own counter: its IDs are not this flow's sequence.
  const flowA = Array.from({ length: 10 }, () => g1.next(1, 2, 17));
  const flowB = Array.from({ length: 10 }, () => g1.next(1, 3, 17));
  assert.notDeepEqual(flowA, flowB);
});

test('adding an address sends a gratuitous ARP (RFC 5227 §3: sender = target = the new address)', () => {
  const { sim, stack, out } = rig();
  stack.addAddress('eth0', '10.0.7.1/24');
  sim.runFor(millis(5));
  const arps = out
    .map((f) => parseEthernet(f))
    .filter((e) => !('wireError' in e) && e.repr.ethertype === ETHERTYPE_ARP)
    .map((e) => parseArp((e as { payload: Uint8Array }).payload));
  assert.equal(arps.length, 1);
  const a = arps[0];
  assert.ok(!('wireError' in a));
  assert.equal(a.repr.op, ARP_OP_REQUEST);
  assert.equal(a.repr.senderIp, 0x0a000701);
  assert.equal(a.repr.targetIp, 0x0a000701);
  // Re-adding an address it already has announces nothing.
  out.length = 0;
  stack.addAddress('eth0', '10.0.7.1/24');
  sim.runFor(millis(5));
  assert.equal(out.length, 0);
});

test('no ICMP errors about fragments other than the first (RFC 1812 §4.3.2.7)', () => {
  const { sim, stack, frame, ipOut } = rig({ forwarding: true });
  stack.addRoute({ destination: '10.0.5.0/24', gateway: '10.0.0.9' });
  // TTL 1 on a datagram to forward: time exceeded for the first fragment only.
  const frag = (offsetBytes: number) => {
    const p = new Uint8Array(20 + 16);
    emitIpv4(
      {
        dscp: 0,
        ecn: 0,
        identification: 77,
        dontFragment: false,
        moreFragments: true,
        fragmentOffset: offsetBytes,
        ttl: 1,
        protocol: 17,
        src: PEER,
        dst: 0x0a000507,
        options: new Uint8Array(0),
        payloadLength: 16,
      },
      p,
    );
    return p;
  };
  frame(ETHERTYPE_IPV4, frag(16)); // a later fragment: silently dropped
  sim.runFor(millis(5));
  assert.equal(ipOut().length, 0, 'no ICMP about a non-first fragment');
  frame(ETHERTYPE_IPV4, frag(0)); // the first fragment: time exceeded
  sim.runFor(millis(5));
  const out = ipOut();
  assert.equal(out.length, 1);
  const p = parseIpv4Packet(out[0]);
  assert.ok(!('wireError' in p));
  const icmp = parseIcmpv4(p.payload);
  assert.ok(!('wireError' in icmp) && icmp.repr.kind === 'timeExceeded' && icmp.repr.code === 0);
  assert.equal(stack.stats.ip.forwarded, 0);
});

test('IPv4 output: each datagram on one route carries the header fields its send options set (TTL, TOS, ECN, DF, protocol, default TTL, options)', async () => {
  const { sendSegment } = await import('../../src/ip/network.ts');
  const { stack, ipOut, sim } = rig();
  const route = stack.net.route({ family: 4, v4: PEER });
  assert.ok(typeof route !== 'string');
  // A transport that writes its payload only (no header, no checksum).
  const raw = {
    headerLength: () => 0,
    emit: (_h: null, payload: Uint8Array, out: Uint8Array, at: number) => out.set(payload, at),
  };
  const body = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
  type Want = { ttl: number; dscp: number; ecn: number; df: boolean; protocol: number };
  const cases: { opts: Parameters<typeof sendSegment>[2]; want: Want }[] = [
    { opts: { protocol: 6, dontFragment: true }, want: { ttl: 64, dscp: 0, ecn: 0, df: true, protocol: 6 } },
    { opts: { protocol: 6, dontFragment: true }, want: { ttl: 64, dscp: 0, ecn: 0, df: true, protocol: 6 } },
    {
      opts: { protocol: 6, dontFragment: true, ttl: 5 },
      want: { ttl: 5, dscp: 0, ecn: 0, df: true, protocol: 6 },
    },
    { opts: { protocol: 6, dscp: 46, ecn: 2 }, want: { ttl: 64, dscp: 46, ecn: 2, df: false, protocol: 6 } },
    { opts: { protocol: 6, dscp: 46, ecn: 3 }, want: { ttl: 64, dscp: 46, ecn: 3, df: false, protocol: 6 } },
    { opts: { protocol: 17, ttl: 255 }, want: { ttl: 255, dscp: 0, ecn: 0, df: false, protocol: 17 } },
    { opts: { protocol: 6, dontFragment: true }, want: { ttl: 64, dscp: 0, ecn: 0, df: true, protocol: 6 } },
  ];
  const ids: number[] = [];
  const check = (p: Uint8Array, want: Want, label: string) => {
    const parsed = parseIpv4Packet(p, { verifyChecksum: true });
    assert.ok(!('wireError' in parsed), `${label}: ${JSON.stringify(parsed)}`);
    const r = parsed.repr;
    assert.deepEqual(
      { ttl: r.ttl, dscp: r.dscp, ecn: r.ecn, df: r.dontFragment, protocol: r.protocol },
      want,
      label,
    );
    assert.equal(r.src, ME, label);
    assert.equal(r.dst, PEER, label);
    assert.equal(r.moreFragments || r.fragmentOffset !== 0, false, label);
    assert.deepEqual([...parsed.payload], [...body], label);
    // The same bytes as the general header writer gives.
    const ref = new Uint8Array(p.length);
    emitIpv4({ ...r, options: new Uint8Array(0), payloadLength: body.length }, ref);
    ref.set(body, 20);
    assert.deepEqual([...p], [...ref], label);
    ids.push(r.identification);
  };
  for (const [i, c] of cases.entries()) {
    assert.equal(sendSegment(stack.net, route, c.opts, raw, null, body), undefined);
    sim.runFor(millis(1));
    const got = ipOut();
    assert.equal(got.length, i + 1);
    check(got[i], c.want, `case ${i}`);
  }
  // A changed default TTL (the stack's configuration) reaches the next datagram on the same route.
  stack.ip.config.defaultTtl = 9;
  sendSegment(stack.net, route, { protocol: 6, dontFragment: true }, raw, null, body);
  sim.runFor(millis(1));
  check(ipOut()[cases.length], { ttl: 9, dscp: 0, ecn: 0, df: true, protocol: 6 }, 'defaultTtl 9');
  // Identification still moves per datagram (RFC 6864 §4.1 for a non-atomic datagram).
  assert.equal(new Set(ids).size, ids.length);
  // A datagram with IP options on the same route takes the general path and comes out right.
  const opt = new Uint8Array([1, 1, 1, 0]); // NOP, NOP, NOP, EOL
  const frame = new Uint8Array(route.headerRoom + 4 + body.length);
  frame.set(body, route.headerRoom + 4);
  assert.ok(route.family === 4);
  stack.ip.output.sendInPlace(route as Ipv4Route, { protocol: 17 }, frame, opt);
  sim.runFor(millis(1));
  const withOpts = parseIpv4Packet(ipOut()[cases.length + 1], { verifyChecksum: true });
  assert.ok(!('wireError' in withOpts));
  assert.deepEqual([...withOpts.repr.options], [...opt]);
  assert.equal(withOpts.repr.ttl, 9);
  // And a datagram without options after it comes out as before.
  sendSegment(stack.net, route, { protocol: 6, dontFragment: true }, raw, null, body);
  sim.runFor(millis(1));
  check(ipOut()[cases.length + 2], { ttl: 9, dscp: 0, ecn: 0, df: true, protocol: 6 }, 'after options');
});
