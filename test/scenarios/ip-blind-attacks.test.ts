/**
 * Off-path attacks on the IP layer replayed on a memory network (issue #17): forged ICMP,
 * ARP and fragments injected into the cable by an attacker who knows addresses and ports
 * but not sequence numbers. Each test prints its figures and asserts that the stack's
 * state (path MTUs, neighbour cache, reassembly) was not bent by the forgery.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { localMac, MAC_BROADCAST, MAC_ZERO, type MacAddress, parseIpv4 } from '../../src/wire/address.ts';
import { ARP_LEN, ARP_OP_REPLY, ARP_OP_REQUEST, type ArpOperation, emitArp } from '../../src/wire/arp.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, emitEthernet, parseEthernet } from '../../src/wire/ethernet.ts';
import {
  emitIcmpv4,
  ICMPV4_UNREACH_FRAG_NEEDED,
  type Icmpv4Repr,
  icmpv4Length,
  parseIcmpv4,
} from '../../src/wire/icmpv4.ts';
import {
  emitIpv4,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  type Ipv4Repr,
  parseIpv4Packet,
} from '../../src/wire/ipv4.ts';
import { connectionOf, pair, routed } from './tcp-net.ts';

type Net = ReturnType<typeof pair>;

// A real gc() for retained-memory measurements (no --expose-gc flag needed).
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Retained heap (JS heap + ArrayBuffers) after full collections. */
function retained(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const VICTIM = 0x0a000002;

/** A victim stack (10.0.0.2) on a cable whose far end the test drives (the attacker), capturing what the victim sends. */
function victim(config = {}) {
  const sim = new Simulation({ seed: 17 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const stack = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'victim', config }));
  const iface = stack.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.2/24'] });
  const sent: Uint8Array[] = [];
  cable.b.onReceive = (f) => sent.push(f);
  const attackerMac = localMac(0xbad);
  sim.runUntilIdle();
  // The attacker's address (10.0.0.9) is known to the victim, so ICMP goes straight out.
  const q = new Uint8Array(ARP_LEN);
  emitArp(
    {
      op: ARP_OP_REQUEST,
      senderMac: attackerMac,
      senderIp: 0x0a000009,
      targetMac: MAC_ZERO,
      targetIp: VICTIM,
    },
    q,
  );
  cable.b.transmit(ethFrame(attackerMac, iface.mac, q, ETHERTYPE_ARP));
  sim.runFor(millis(5));
  sent.length = 0;
  const inject = (pkt: Uint8Array) => cable.b.transmit(ethFrame(attackerMac, iface.mac, pkt));
  return { sim, stack, iface, sent, inject };
}

/** One IPv4 fragment from 10.0.0.9 to the victim: `data` at byte `offset` (and IP `options`). */
function fragment(
  id: number,
  offset: number,
  data: Uint8Array,
  more: boolean,
  protocol = IP_PROTO_UDP,
  options = new Uint8Array(0),
): Uint8Array {
  const repr: Ipv4Repr = {
    dscp: 0,
    ecn: 0,
    identification: id & 0xffff,
    dontFragment: false,
    moreFragments: more,
    fragmentOffset: offset,
    ttl: 64,
    protocol,
    src: 0x0a000009,
    dst: VICTIM,
    options,
    payloadLength: data.length,
  };
  const hl = 20 + ((options.length + 3) & ~3);
  const p = new Uint8Array(hl + data.length);
  emitIpv4(repr, p);
  p.set(data, hl);
  return p;
}

/** An echo request from 10.0.0.9 to the victim carrying IP `options`. */
function echoRequest(seq: number, options: number[]): Uint8Array {
  const repr: Icmpv4Repr = { kind: 'echoRequest', ident: 0x77, seq, data: new Uint8Array(16).fill(seq) };
  const body = new Uint8Array(icmpv4Length(repr));
  emitIcmpv4(repr, body);
  return fragment(seq, 0, body, false, IP_PROTO_ICMP, Uint8Array.from(options));
}

/** The IPv4 packets among frames the victim sent, parsed, with their ICMP message. */
function icmpOut(frames: Uint8Array[]) {
  const out = [];
  for (const f of frames) {
    if (f[12] !== 0x08 || f[13] !== 0x00) continue;
    const p = parseIpv4Packet(f.subarray(14));
    if ('wireError' in p || p.repr.protocol !== IP_PROTO_ICMP) continue;
    const m = parseIcmpv4(p.payload);
    if ('wireError' in m) continue;
    out.push({ ip: p.repr, icmp: m.repr });
  }
  return out;
}

function macOf(stack: Net['a'], ifname = 'eth0'): Uint8Array {
  const i = stack.ip.getInterface(ifname);
  if (!i) throw new Error(`no ${ifname} on ${stack.name}`);
  return i.mac;
}

/** An IPv4 packet (20-byte header, no options) around `payload`. */
function ipPacket(src: string, dst: string, protocol: number, payload: Uint8Array, df = true): Uint8Array {
  const pkt = new Uint8Array(20 + payload.length);
  emitIpv4(
    {
      dscp: 0,
      ecn: 0,
      identification: 0x1234,
      dontFragment: df,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol,
      src: parseIpv4(src)!,
      dst: parseIpv4(dst)!,
      options: new Uint8Array(0),
      payloadLength: payload.length,
    },
    pkt,
  );
  pkt.set(payload, 20);
  return pkt;
}

/** An Ethernet frame carrying the IPv4 packet (or, with `ethertype`, other payload) `pkt`. */
function ethFrame(
  srcMac: Uint8Array,
  dstMac: Uint8Array,
  pkt: Uint8Array,
  ethertype = ETHERTYPE_IPV4,
): Uint8Array {
  const frame = new Uint8Array(14 + pkt.length);
  emitEthernet({ dst: dstMac, src: srcMac, ethertype }, frame);
  frame.set(pkt, 14);
  return frame;
}

/**
 * A forged ICMP "fragmentation needed" to a (from 10.0.0.99, a router that does not exist)
 * quoting a datagram a→b of `protocol` with the given ports and (TCP) sequence number.
 */
function forgedFragNeeded(
  net: Net,
  protocol: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  mtu: number,
): Uint8Array {
  const transport = new Uint8Array(8);
  const dv = new DataView(transport.buffer);
  dv.setUint16(0, srcPort);
  dv.setUint16(2, dstPort);
  // TCP: the sequence number; UDP: length and checksum (not checked by anyone).
  dv.setUint32(4, seq >>> 0);
  const quoted = ipPacket(net.aAddr, net.bAddr, protocol, transport);
  // The quoted header claims a 1500-byte datagram, as a real router's quote does.
  new DataView(quoted.buffer).setUint16(2, 1500);
  const repr: Icmpv4Repr = {
    kind: 'destUnreachable',
    code: ICMPV4_UNREACH_FRAG_NEEDED,
    nextHopMtu: mtu,
    invoking: quoted,
  };
  const body = new Uint8Array(icmpv4Length(repr));
  emitIcmpv4(repr, body);
  return ethFrame(macOf(net.b), macOf(net.a), ipPacket('10.0.0.99', net.aAddr, IP_PROTO_ICMP, body, false));
}

/** The MSS a new connection from a to b:5000 gets; run inside net.sim.run. */
async function newConnectionMss(net: Net, srv: Socket): Promise<number> {
  const cli = net.a.socket(AF_INET, SOCK_STREAM);
  await cli.connect([net.bAddr, 5000]);
  const [conn] = await srv.accept();
  const mss = connectionOf(net.a, cli)!.mss;
  await cli.close();
  await conn.close();
  return mss;
}

/** Fragments a creates sending one 1400-byte UDP datagram to b:6000 (received whole); run inside net.sim.run. */
async function udpFragments(net: Net, rx: Socket, tx: Socket): Promise<number> {
  const before = net.a.stats.ip.fragCreates;
  const data = new Uint8Array(1400).fill(0x5a);
  await tx.sendto(data, [net.bAddr, 6000]);
  const [got] = await rx.recvfrom(65535);
  assert.equal(got.length, 1400);
  return net.a.stats.ip.fragCreates - before;
}

describe('blind attacks on IP (issue #17)', () => {
  it('forged ICMP fragmentation needed: acted on only when TCP validated the quoted sequence, clamped at 552 (RFC 5927 §4.1)', async () => {
    const net = pair({ seed: 1701 });
    const b = parseIpv4(net.bAddr)!;
    const figures: string[] = [];
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 5000]);
      await srv.listen(8);
      const rx = net.b.socket(AF_INET, SOCK_DGRAM);
      await rx.bind(['0.0.0.0', 6000]);
      const tx = net.a.socket(AF_INET, SOCK_DGRAM);
      await tx.bind(['0.0.0.0', 0]);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      const [, cport] = cli.getsockname() as [string, number];
      const ca = connectionOf(net.a, cli)!;
      assert.equal(ca.mss, 1460);

      // Out of window: half the sequence space away from SND.UNA.
      const oow = net.a.tcp.stats.icmpOutOfWindow;
      net.cable.bToA.send(forgedFragNeeded(net, IP_PROTO_TCP, cport, 5000, ca.snd.una + 0x8000_0000, 68));
      await net.sim.sleep(millis(10));
      assert.equal(net.a.tcp.stats.icmpOutOfWindow, oow + 1, 'TCP saw the message and rejected it');
      assert.equal(net.a.ip.pathMtu(b), 1500, 'the path MTU is untouched');
      assert.equal(ca.mss, 1460);
      assert.equal(await newConnectionMss(net, srv), 1460, 'new connections keep MSS 1460');
      assert.equal(await udpFragments(net, rx, tx), 0, 'a 1400-byte UDP datagram is not fragmented');
      figures.push(`out of window: path MTU ${net.a.ip.pathMtu(b)}, MSS ${ca.mss}`);

      // In window (SND.UNA, nothing in flight): believed, but 68 is clamped to min_pmtu 552.
      net.cable.bToA.send(forgedFragNeeded(net, IP_PROTO_TCP, cport, 5000, ca.snd.una, 68));
      await net.sim.sleep(millis(10));
      assert.equal(net.a.ip.pathMtu(b), 552, 'the path MTU is lowered, clamped at 552');
      assert.equal(ca.mss, 512);
      assert.equal(await newConnectionMss(net, srv), 512);
      // 1408 bytes of UDP in 528-byte fragments.
      assert.equal(await udpFragments(net, rx, tx), 3);
      figures.push(`in window: path MTU ${net.a.ip.pathMtu(b)}, MSS ${ca.mss}`);
      for (const s of [cli, conn, srv, rx, tx]) await s.close();
    });
    console.log(`  forged frag-needed (mtu 68): ${figures.join('; ')}`);
  });

  it('forged ICMP fragmentation needed quoting UDP: learnt only for a socket of ours, clamped at 552', async () => {
    const net = pair({ seed: 1702 });
    const b = parseIpv4(net.bAddr)!;
    await net.sim.run(async () => {
      const tx = net.a.socket(AF_INET, SOCK_DGRAM);
      await tx.bind(['0.0.0.0', 4444]);
      // No socket on port 4445: nothing to validate against, nothing learnt (Linux udp_err).
      net.cable.bToA.send(forgedFragNeeded(net, IP_PROTO_UDP, 4445, 6000, 0, 100));
      await net.sim.sleep(millis(10));
      assert.equal(net.a.ip.pathMtu(b), 1500);
      net.cable.bToA.send(forgedFragNeeded(net, IP_PROTO_UDP, 4444, 6000, 0, 100));
      await net.sim.sleep(millis(10));
      assert.equal(net.a.ip.pathMtu(b), 552, 'learnt for the socket, clamped at 552');
      // A larger value never raises it again.
      net.cable.bToA.send(forgedFragNeeded(net, IP_PROTO_UDP, 4444, 6000, 0, 1400));
      await net.sim.sleep(millis(10));
      assert.equal(net.a.ip.pathMtu(b), 552);
      await tx.close();
    });
  });

  it('ARP poisoning: unsolicited replies create nothing, a request flood cannot evict the gateway, bad sender MACs are never learnt (RFC 826)', async () => {
    const net = routed({ seed: 1703, config: { arp: { maxEntries: 16 } } });
    const eth0 = net.a.ip.getInterface('eth0')!;
    const cache = eth0.arp!;
    const gw = parseIpv4('10.0.1.1')!;
    const aIp = parseIpv4(net.aAddr)!;
    const gwMac = macOf(net.router);
    const arp = (op: ArpOperation, mac: MacAddress, sip: number, tip: number, frameSrc: MacAddress = mac) => {
      const body = new Uint8Array(ARP_LEN);
      emitArp(
        {
          op,
          senderMac: mac,
          senderIp: sip,
          targetMac: op === ARP_OP_REPLY ? eth0.mac : MAC_ZERO,
          targetIp: tip,
        },
        body,
      );
      const dst = op === ARP_OP_REPLY ? eth0.mac : MAC_BROADCAST;
      net.ca.bToA.send(ethFrame(frameSrc, dst, body, ETHERTYPE_ARP));
    };
    const stats = net.a.stats.arp;
    await net.sim.run(async () => {
      assert.ok((await net.a.ping(net.bAddr)).ok, 'a reaches b through its gateway');
      assert.deepEqual(cache.get(gw)?.mac, gwMac);
      // Idle past reachableTime: the gateway's entry is now stale and the least recently used.
      await net.sim.sleep(seconds(31));
      assert.equal(cache.get(gw)?.state, 'stale');

      // 1. Unsolicited replies addressed to us, from 1000 made-up neighbours: no entry each.
      for (let i = 0; i < 1000; i++)
        arp(ARP_OP_REPLY, localMac(0x30000 + i), 0x0a010100 + (i % 200) + 10, aIp);
      await net.sim.sleep(millis(5));
      const afterReplies = cache.size;
      assert.equal(afterReplies, 1, 'only the gateway is known');
      assert.equal(stats.unsolicitedReplies, 1000);

      // 2. Requests for our address from 1000 spoofed senders: entries (RFC 826), but the
      // gateway's, which we send through, is never the one evicted.
      for (let i = 0; i < 1000; i++) {
        arp(ARP_OP_REQUEST, localMac(0x40000 + i), 0x0a010000 + (i % 250) + 3, aIp);
        if (i % 100 === 99) await net.sim.sleep(millis(1));
      }
      await net.sim.sleep(millis(5));
      assert.ok(cache.size <= 16, `cache ${cache.size}`);
      assert.deepEqual(cache.get(gw)?.mac, gwMac, "the gateway's entry survived the flood");

      // 3. All-zero, broadcast and multicast sender MACs are never learnt, even in a request for us.
      const bad = [MAC_ZERO, MAC_BROADCAST, Uint8Array.of(0x01, 0x00, 0x5e, 0, 0, 1)];
      const badBefore = stats.badSender;
      for (const [i, mac] of bad.entries())
        arp(ARP_OP_REQUEST, mac, 0x0a0101f0 + i, aIp, localMac(0x50000 + i));
      // And the same against an existing entry (the gateway's).
      arp(ARP_OP_REQUEST, MAC_ZERO, gw, aIp, localMac(0x50010));
      await net.sim.sleep(millis(5));
      for (let i = 0; i < bad.length; i++) assert.equal(cache.get(0x0a0101f0 + i), undefined);
      assert.equal(stats.badSender, badBefore + bad.length + 1);
      assert.deepEqual(cache.get(gw)?.mac, gwMac);
      assert.ok((await net.a.ping(net.bAddr)).ok, 'a still reaches b');
    });
    console.log(
      `  ARP: ${stats.unsolicitedReplies} unsolicited replies ignored, ${stats.evictions} evictions, ` +
        `${stats.badSender} bad senders, cache ${cache.size}/16, gateway kept`,
    );
  });

  it('tiny-fragment flood: reassembly charges what fragments cost, so the 1 MiB cap holds in heap terms', () => {
    const { sim, stack, inject } = victim();
    const r = stack.ip.reassembler;
    const cap = r.config.maxBytes;
    const base = retained();
    // Never-completing 8-byte fragments at offsets 8, 24, 40, ... of 64 datagrams (the
    // table's limit): 160k fragments. Charged 8 bytes each, the cap would hold 130k of them
    // (about 40 MB of heap); charged what they cost, about 3,000.
    const eight = new Uint8Array(8);
    let maxCharged = 0;
    let n = 0;
    for (let k = 0; k < 2500; k++) {
      for (let id = 0; id < 64; id++) {
        inject(fragment(id, 8 + k * 16, eight, true));
        if (++n % 256 === 0) {
          sim.runFor(millis(1));
          maxCharged = Math.max(maxCharged, r.bytes);
        }
      }
    }
    sim.runFor(millis(1));
    maxCharged = Math.max(maxCharged, r.bytes);
    const grown = retained() - base;
    const s = stack.stats.ip;
    console.log(
      `  ${n} 8-byte fragments: charged at most ${maxCharged} of ${cap} bytes, ${r.datagrams} datagrams, ` +
        `${s.reasmEvictions} evictions, heap grew ${(grown / 1e6).toFixed(2)} MB`,
    );
    assert.equal(s.reasmRequired, n, 'every fragment reached reassembly');
    assert.ok(maxCharged <= cap);
    assert.ok(r.datagrams <= r.config.maxDatagrams);
    assert.ok(s.reasmEvictions > 0, 'the flood churned the table');
    assert.ok(grown < 4 * cap, `heap grew ${grown} bytes for a ${cap}-byte cap`);
    r.clear();
    assert.equal(r.bytes, 0);
  });

  it('reassembly timeout: ICMP Time Exceeded (code 1) quoting the first fragment, only when it arrived (RFC 1122 §3.3.2)', () => {
    const { sim, stack, sent, inject } = victim();
    const data = new Uint8Array(1200);
    for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
    // Datagram 1: its first fragment (1200 bytes of a longer datagram) and nothing more.
    const first = fragment(1, 0, data, true);
    inject(first);
    // Datagram 2: only a later fragment, so no Time Exceeded (the offset-0 one never came).
    inject(fragment(2, 1200, data.subarray(0, 64), false));
    sim.runFor(seconds(29));
    const ipOut = () => sent.filter((f) => f[12] === 0x08 && f[13] === 0x00);
    assert.equal(ipOut().length, 0);
    sim.runFor(seconds(2));
    assert.equal(stack.stats.ip.reasmTimeouts, 2);
    assert.equal(stack.stats.icmp.outTimeExceeded, 1);
    assert.equal(ipOut().length, 1);
    const eth = parseEthernet(ipOut()[0]);
    assert.ok(!('wireError' in eth));
    const ip = eth.payload;
    assert.equal(ip[9], IP_PROTO_ICMP);
    assert.equal(
      ((ip[16] << 24) | (ip[17] << 16) | (ip[18] << 8) | ip[19]) >>> 0,
      0x0a000009,
      'to the source',
    );
    const icmp = parseIcmpv4(ip.subarray((ip[0] & 0x0f) * 4));
    assert.ok(!('wireError' in icmp));
    assert.equal(icmp.repr.kind, 'timeExceeded');
    if (icmp.repr.kind !== 'timeExceeded') return;
    assert.equal(icmp.repr.code, 1, 'fragment reassembly time exceeded');
    // RFC 1812 §4.3.2.3: as much of the first fragment as fits in 576 bytes, header unchanged.
    assert.equal(20 + 8 + icmp.repr.invoking.length, 576);
    assert.deepEqual(icmp.repr.invoking, first.subarray(0, 548));
  });
});

describe('IP options answered as RFC 1122 and Linux do (issue #17)', () => {
  const V = [10, 0, 0, 2];
  const A = [10, 0, 0, 9];
  it('echo replies return Record Route and Timestamp options with this host added (RFC 1122 §3.2.2.6)', () => {
    const { sim, inject, sent } = victim();
    sim.runFor(seconds(1)); // a non-zero clock for the timestamps
    // Record Route, 3 slots, the first already filled by the sender (pointer 8).
    inject(echoRequest(1, [7, 15, 8, ...A, 0, 0, 0, 0, 0, 0, 0, 0]));
    // Timestamp, timestamps only, 2 slots; then NOP and a Record Route of 1 slot.
    inject(echoRequest(2, [68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7, 7, 4, 0, 0, 0, 0]));
    // Timestamp with addresses, 1 slot (room for one entry only: the reply leaves it full).
    inject(echoRequest(3, [68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0]));
    sim.runFor(millis(5));
    const replies = icmpOut(sent).filter((r) => r.icmp.kind === 'echoReply');
    assert.equal(replies.length, 3);
    const opts = replies.map((r) => [...r.ip.options]);
    // The timestamp: milliseconds of the victim's clock as the request arrived (RFC 791).
    const ms = ((opts[1][4] << 24) | (opts[1][5] << 16) | (opts[1][6] << 8) | opts[1][7]) >>> 0;
    assert.ok(ms >= 1000 && ms <= Math.floor(sim.clock.now() / 1000), `timestamp ${ms}`);
    const msBytes = [ms >>> 24, (ms >>> 16) & 0xff, (ms >>> 8) & 0xff, ms & 0xff];
    // As Linux: the host is recorded as the request arrives and as the reply leaves.
    assert.deepEqual(opts[0], [7, 15, 16, ...A, ...V, ...V, 0]);
    assert.deepEqual(opts[1], [68, 12, 13, 0, ...msBytes, ...msBytes, 7, 7, 8, ...V, 0]);
    assert.deepEqual(opts[2], [68, 12, 13, 1, ...V, ...msBytes]);
    // Without options, none come back.
    sent.length = 0;
    inject(echoRequest(4, []));
    sim.runFor(millis(5));
    assert.deepEqual([...icmpOut(sent)[0].ip.options], []);
  });

  it('malformed IP options are dropped and answered with Parameter Problem pointing at the bad octet, rate-limited', () => {
    const { sim, stack, inject, sent } = victim();
    const cases: { options: number[]; pointer: number; what: string }[] = [
      { options: [68, 0, 0, 0], pointer: 20, what: 'option length 0' },
      { options: [7, 12, 0, 0], pointer: 20, what: 'length past the header' },
      { options: [7, 7, 2, 0, 0, 0, 0, 0], pointer: 22, what: 'record route pointer 2' },
      { options: [68, 3, 5, 0], pointer: 21, what: 'timestamp length 3' },
      {
        options: [68, 8, 5, 1, 0, 0, 0, 0],
        pointer: 22,
        what: 'timestamp pointer leaves no room for address + time',
      },
      { options: [68, 4, 5, 0xf0], pointer: 23, what: 'full timestamp with its overflow counter full' },
      { options: [1, 1, 1, 68], pointer: 23, what: 'option type in the last octet' },
    ];
    for (const [i, c] of cases.entries()) {
      sent.length = 0;
      const req = echoRequest(10 + i, c.options);
      inject(req);
      sim.runFor(millis(5));
      const out = icmpOut(sent);
      assert.equal(out.length, 1, c.what);
      const m = out[0].icmp;
      assert.equal(m.kind, 'parameterProblem', c.what);
      if (m.kind !== 'parameterProblem') continue;
      assert.equal(m.code, 0);
      assert.equal(m.pointer, c.pointer, c.what);
      assert.deepEqual(m.invoking, req, 'the datagram is quoted');
    }
    assert.equal(stack.stats.ip.badOptions, cases.length);
    assert.equal(stack.stats.icmp.outParamProblems, cases.length);
    assert.equal(stack.stats.icmp.outEchoReplies, 0, 'no malformed request was answered');
    // A flood of them: Parameter Problems stay within the ICMP error rate limit.
    sent.length = 0;
    for (let i = 0; i < 500; i++) inject(echoRequest(100 + i, [68, 0, 0, 0]));
    sim.runFor(millis(5));
    const n = icmpOut(sent).length;
    console.log(
      `  500 malformed in 5 ms: ${n} parameter problems, ${stack.stats.icmp.rateLimited} rate-limited`,
    );
    assert.ok(n <= 50 + 5, `${n} sent`);
    assert.ok(stack.stats.icmp.rateLimited >= 400);
  });
});
