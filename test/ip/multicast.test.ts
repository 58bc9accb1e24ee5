/**
 * IPv4 multicast and IGMPv3 (RFC 3376) on the membership design MLDv2 shares
 * (src/ip/membership.ts): the IGMP codec, the state-change records, joins and leaves
 * reported on the wire, queries answered within their delay, IGMPv1/v2 querier
 * compatibility, group datagrams received by members only (the Ethernet receive filter),
 * the socket options (IP_ADD/DROP_MEMBERSHIP, source membership, IP_MULTICAST_TTL/LOOP/IF),
 * bad IGMP dropped and counted, and a router without multicast routes that forwards none.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ALLOW_NEW_SOURCES,
  BLOCK_OLD_SOURCES,
  CHANGE_TO_EXCLUDE,
  CHANGE_TO_INCLUDE,
  changeRecords,
  type SourceFilter,
} from '../../src/ip/membership.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Switch } from '../../src/link/switch.ts';
import {
  AF_INET,
  IP_ADD_MEMBERSHIP,
  IP_ADD_SOURCE_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_DROP_SOURCE_MEMBERSHIP,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IPPROTO_IP,
  SOCK_DGRAM,
} from '../../src/socket/constants.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { dissect } from '../../src/trace/dissect.ts';
import { formatEnvelope, summaryLine } from '../../src/trace/format.ts';
import { localMac, parseIpv4 } from '../../src/wire/address.ts';
import { internetChecksum } from '../../src/wire/checksum.ts';
import { ETHERTYPE_IPV4, emitEthernet, parseEthernet } from '../../src/wire/ethernet.ts';
import {
  decodeIgmpCode,
  emitIgmpV2,
  emitIgmpV3Query,
  emitIgmpV3Report,
  IGMP_CHANGE_TO_EXCLUDE,
  IGMP_MODE_IS_EXCLUDE,
  IGMP_QUERY,
  type IgmpMessage,
  ipv4MulticastMac,
  parseIgmp,
} from '../../src/wire/igmp.ts';
import { emitIpv4, IP_PROTO_IGMP, IP_PROTO_UDP, parseIpv4Packet } from '../../src/wire/ipv4.ts';

const ip = (s: string) => parseIpv4(s)!;
const GROUP = '239.1.2.3';
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** struct ip_mreq (group, interface address), or ip_mreqn when `ifindex` is given. */
function mreq(group: string, iface = '0.0.0.0', ifindex?: number): Uint8Array {
  const b = new Uint8Array(ifindex === undefined ? 8 : 12);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, ip(group));
  dv.setUint32(4, ip(iface));
  if (ifindex !== undefined) dv.setUint32(8, ifindex, true);
  return b;
}

/** struct ip_mreq_source (group, interface address, source). */
function mreqSource(group: string, source: string, iface = '0.0.0.0'): Uint8Array {
  const b = new Uint8Array(12);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, ip(group));
  dv.setUint32(4, ip(iface));
  dv.setUint32(8, ip(source));
  return b;
}

function inAddr(a: string): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, ip(a));
  return b;
}

// ---------------------------------------------------------------- the wire

test('IGMP codec: v3 report round trip; v1/v2/v3 queries told apart; every truncated prefix rejected', () => {
  const report = emitIgmpV3Report([
    { type: IGMP_CHANGE_TO_EXCLUDE, group: ip('239.1.2.3'), sources: [] },
    { type: 1, group: ip('232.1.1.1'), sources: [ip('10.0.0.9'), ip('10.0.0.10')] },
  ]);
  assert.equal(report.length, 8 + 8 + 16);
  const m = parseIgmp(report) as IgmpMessage;
  assert.equal(m.kind, 'report-v3');
  assert.deepEqual(m.kind === 'report-v3' && m.records, [
    { type: IGMP_CHANGE_TO_EXCLUDE, group: ip('239.1.2.3'), sources: [] },
    { type: 1, group: ip('232.1.1.1'), sources: [ip('10.0.0.9'), ip('10.0.0.10')] },
  ]);
  for (let n = 0; n < report.length; n++) {
    const cut = report.slice(0, n);
    assert.ok('wireError' in (parseIgmp(cut) as object), `prefix ${n} of the report rejected`);
  }
  const q3 = emitIgmpV3Query({ maxRespCode: 100, group: ip('239.1.2.3'), sources: [ip('10.0.0.9')] });
  const p3 = parseIgmp(q3) as IgmpMessage;
  assert.equal(p3.kind === 'query' && p3.version, 3);
  assert.equal(p3.kind === 'query' && p3.maxResponseMs, 10_000);
  assert.deepEqual(p3.kind === 'query' && p3.sources, [ip('10.0.0.9')]);
  for (let n = 0; n < q3.length; n++)
    assert.ok('wireError' in (parseIgmp(q3.slice(0, n)) as object), `prefix ${n} of the query rejected`);
  const q2 = parseIgmp(emitIgmpV2(IGMP_QUERY, 0, 50)) as IgmpMessage;
  assert.deepEqual(q2.kind === 'query' && [q2.version, q2.maxResponseMs], [2, 5000]);
  const q1 = parseIgmp(emitIgmpV2(IGMP_QUERY, 0, 0)) as IgmpMessage;
  assert.deepEqual(q1.kind === 'query' && [q1.version, q1.maxResponseMs], [1, 10_000]);
  // A bad checksum, an unknown type, and a 10-byte query (RFC 3376 §7.1: no version) are rejected.
  const bad = report.slice();
  bad[9] ^= 1;
  assert.equal((parseIgmp(bad) as { wireError: string }).wireError, 'checksum');
  assert.equal((parseIgmp(emitIgmpV2(0x42, 0)) as { wireError: string }).wireError, 'unsupported');
  const ten = new Uint8Array(10);
  ten.set(emitIgmpV2(IGMP_QUERY, 0, 10));
  ten[2] = 0;
  ten[3] = 0;
  const ck = internetChecksum(ten);
  ten[2] = ck >>> 8;
  ten[3] = ck & 0xff;
  assert.equal((parseIgmp(ten) as { wireError: string }).wireError, 'truncated');
  // RFC 3376 §4.1.1: codes from 128 are floating point.
  assert.equal(decodeIgmpCode(127), 127);
  assert.equal(decodeIgmpCode(0x80), 0x10 << 3);
  assert.equal(decodeIgmpCode(0xff), 0x1f << 10);
  // RFC 1112 §6.4: 01:00:5e and the low 23 bits (the high bit of the second octet is lost).
  assert.deepEqual([...ipv4MulticastMac(ip('239.129.2.3'))], [1, 0, 0x5e, 1, 2, 3]);
});

test('state-change records follow RFC 3376 §5.1 for every pair of filter states', () => {
  const g = new Uint8Array([239, 1, 2, 3]);
  const a = new Uint8Array([10, 0, 0, 1]);
  const b = new Uint8Array([10, 0, 0, 2]);
  const f = (mode: 'include' | 'exclude', ...s: Uint8Array[]): SourceFilter => ({
    mode,
    sources: new Map(s.map((x) => [x.join('.'), x])),
  });
  const types = (x: SourceFilter, y: SourceFilter) =>
    changeRecords(g, x, y).map((r) => [r.type, r.sources.length]);
  assert.deepEqual(types(f('include'), f('exclude')), [[CHANGE_TO_EXCLUDE, 0]]);
  assert.deepEqual(types(f('exclude'), f('include')), [[CHANGE_TO_INCLUDE, 0]]);
  assert.deepEqual(types(f('include', a), f('include', b)), [
    [ALLOW_NEW_SOURCES, 1],
    [BLOCK_OLD_SOURCES, 1],
  ]);
  assert.deepEqual(types(f('exclude', a), f('exclude', b)), [
    [ALLOW_NEW_SOURCES, 1],
    [BLOCK_OLD_SOURCES, 1],
  ]);
  assert.deepEqual(types(f('exclude'), f('include', a)), [[CHANGE_TO_INCLUDE, 1]]);
  assert.deepEqual(types(f('exclude'), f('exclude')), []);
});

// ---------------------------------------------------------------- a LAN of stacks

/** A sender and two receivers on a switch; every frame each sends is recorded. */
function lan() {
  const sim = new Simulation({ seed: 41 });
  const sw = sim.add(new Switch({ clock: sim.clock, rng: sim.rng.fork(), name: 'sw' }));
  const sent = new Map<string, Uint8Array[]>();
  const mk = (name: string, addr: string) => {
    const s = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name }));
    const dev = sw.port({ delay: millis(1) });
    const tx = dev.transmit.bind(dev);
    const frames: Uint8Array[] = [];
    sent.set(name, frames);
    dev.transmit = (f: Uint8Array) => {
      frames.push(f.slice());
      tx(f);
    };
    s.addInterface({ name: 'eth0', device: dev, addresses: [addr] });
    // Groups route out of eth0 (as `ip route add 224.0.0.0/4 dev eth0`): joins with
    // INADDR_ANY and sends without IP_MULTICAST_IF need a route, as on Linux.
    s.addRoute({ destination: '224.0.0.0/4', interface: 'eth0' });
    return s;
  };
  const sender = mk('sender', '10.5.0.1/24');
  const r1 = mk('r1', '10.5.0.2/24');
  const r2 = mk('r2', '10.5.0.3/24');
  sim.runFor(millis(50));
  return { sim, sender, r1, r2, sent };
}

/** The IGMP messages among `frames` (IPv4 protocol 2), with their IP header. */
function igmpOf(frames: Uint8Array[]) {
  const out: { dst: number; ttl: number; options: Uint8Array; mac: Uint8Array; msg: IgmpMessage }[] = [];
  for (const f of frames) {
    const e = parseEthernet(f);
    if ('wireError' in e || e.repr.ethertype !== ETHERTYPE_IPV4) continue;
    const p = parseIpv4Packet(e.payload);
    if ('wireError' in p || p.repr.protocol !== IP_PROTO_IGMP) continue;
    const msg = parseIgmp(p.payload);
    if ('wireError' in msg) throw new Error(`our IGMP is malformed: ${msg.detail}`);
    out.push({ dst: p.repr.dst, ttl: p.repr.ttl, options: p.repr.options, mac: e.repr.dst, msg });
  }
  return out;
}

async function noDatagram(s: Socket, secs = 0.5): Promise<void> {
  s.settimeout(secs);
  await assert.rejects(s.recvfrom(100), (e: Error) => /timed out/.test(e.message));
  s.settimeout(null);
}

test('IP_ADD_MEMBERSHIP: IGMPv3 reports (TTL 1, Router Alert, to 224.0.0.22); members receive; IP_DROP_MEMBERSHIP reports the leave', async () => {
  const { sim, sender, r1, r2, sent } = lan();
  await sim.run(async () => {
    const a = r1.socket(AF_INET, SOCK_DGRAM);
    await a.bind(['0.0.0.0', 5004]);
    const b = r2.socket(AF_INET, SOCK_DGRAM);
    await b.bind(['0.0.0.0', 5004]);
    a.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq(GROUP));
    await new Promise((r) => setTimeout(r, 0));
    const joins = igmpOf(sent.get('r1')!);
    assert.equal(joins.length, 1, 'one report at once');
    const j = joins[0];
    assert.equal(j.dst, ip('224.0.0.22'));
    assert.equal(j.ttl, 1);
    assert.deepEqual([...j.options.subarray(0, 4)], [148, 4, 0, 0], 'Router Alert (RFC 2113)');
    assert.deepEqual([...j.mac], [1, 0, 0x5e, 0, 0, 0x16]);
    assert.deepEqual(j.msg.kind === 'report-v3' && j.msg.records, [
      { type: IGMP_CHANGE_TO_EXCLUDE, group: ip(GROUP), sources: [] },
    ]);
    // The trace tools read it as tcpdump prints it.
    const report = dissect(sent.get('r1')!.find((f) => f[23] === IP_PROTO_IGMP)!, 'ethernet');
    assert.equal(
      summaryLine(report),
      `10.5.0.2 > 224.0.0.22: igmp v3 report, 1 group record(s) [gaddr ${GROUP} to_ex { }]`,
    );
    assert.match(formatEnvelope(report), /IGMPv3 report/);
    // Errors as Linux gives them.
    assert.throws(() => a.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq(GROUP)), { code: 'EADDRINUSE' });
    assert.throws(() => a.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq('10.0.0.1')), { code: 'EINVAL' });
    assert.throws(() => a.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq(GROUP, '10.9.9.9')), {
      code: 'ENODEV',
    });
    assert.throws(() => a.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, new Uint8Array(3)), { code: 'EINVAL' });
    assert.throws(() => a.getsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP), { code: 'ENOPROTOOPT' });
    assert.throws(() => a.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, mreq('239.9.9.9')), {
      code: 'EADDRNOTAVAIL',
    });

    const s = sender.socket(AF_INET, SOCK_DGRAM);
    assert.equal(s.getsockopt(IPPROTO_IP, IP_MULTICAST_TTL), 1);
    assert.equal(s.getsockopt(IPPROTO_IP, IP_MULTICAST_LOOP), 1);
    await s.sendto('frame 1', [GROUP, 5004]);
    const [d, from] = await a.recvfrom(100);
    assert.equal(text(d), 'frame 1');
    assert.deepEqual(from, ['10.5.0.1', (s.getsockname() as [string, number])[1]]);
    // The group datagram left as Ethernet multicast with TTL 1.
    const out = sent
      .get('sender')!
      .map((f) => parseEthernet(f))
      .filter((e) => !('wireError' in e));
    const udp = out
      .map((e) => e as { repr: { dst: Uint8Array }; payload: Uint8Array })
      .map((e) => ({ mac: e.repr.dst, p: parseIpv4Packet(e.payload) }))
      .filter((x) => !('wireError' in x.p) && x.p.repr.protocol === IP_PROTO_UDP);
    assert.equal(udp.length, 1);
    assert.deepEqual([...udp[0].mac], [...ipv4MulticastMac(ip(GROUP))]);
    assert.equal(!('wireError' in udp[0].p) && udp[0].p.repr.ttl, 1);
    // r2 never joined: its Ethernet filter drops the frame.
    const before = r2.stats.link.notForUs;
    await noDatagram(b);
    assert.ok(r2.stats.link.notForUs > before, 'the frame stopped at r2 link layer');

    s.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, 7);
    assert.equal(s.getsockopt(IPPROTO_IP, IP_MULTICAST_TTL), 7);
    assert.throws(() => s.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, 256), { code: 'EINVAL' });
    s.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, -1);
    assert.equal(s.getsockopt(IPPROTO_IP, IP_MULTICAST_TTL), 1);

    sent.get('r1')!.length = 0;
    a.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, mreq(GROUP));
    const leave = igmpOf(sent.get('r1')!);
    assert.equal(leave.length, 1);
    assert.deepEqual(leave[0].msg.kind === 'report-v3' && leave[0].msg.records, [
      { type: 3, group: ip(GROUP), sources: [] },
    ]);
    await s.sendto('frame 2', [GROUP, 5004]);
    await noDatagram(a);
    a.close();
    b.close();
    s.close();
  });
  // RFC 3376 §5.1: each change was sent [Robustness Variable] = 2 times in all.
  sim.runFor(seconds(2));
  const all = igmpOf(sent.get('r1')!);
  assert.equal(all.length, 2, 'the leave retransmitted once');
});

test('IP_MULTICAST_LOOP: a member sender hears itself unless it turns loop off', async () => {
  const { sim, sender } = lan();
  await sim.run(async () => {
    const s = sender.socket(AF_INET, SOCK_DGRAM);
    await s.bind(['0.0.0.0', 5006]);
    s.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq(GROUP));
    await s.sendto('echo?', [GROUP, 5006]);
    assert.equal(text((await s.recvfrom(100))[0]), 'echo?');
    s.setsockopt(IPPROTO_IP, IP_MULTICAST_LOOP, 0);
    assert.equal(s.getsockopt(IPPROTO_IP, IP_MULTICAST_LOOP), 0);
    await s.sendto('silent', [GROUP, 5006]);
    await noDatagram(s);
    s.close();
  });
});

test('source-specific membership: only the included source is received; the records are ALLOW/BLOCK', async () => {
  const { sim, sender, r1, r2, sent } = lan();
  await sim.run(async () => {
    const a = r1.socket(AF_INET, SOCK_DGRAM);
    await a.bind(['0.0.0.0', 5008]);
    a.setsockopt(IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, mreqSource('232.1.1.1', '10.5.0.1'));
    const recs = igmpOf(sent.get('r1')!).map((x) => x.msg.kind === 'report-v3' && x.msg.records);
    // RFC 3376 §5.1: INCLUDE {} to INCLUDE {S} is ALLOW(S).
    assert.deepEqual(recs, [
      [{ type: ALLOW_NEW_SOURCES, group: ip('232.1.1.1'), sources: [ip('10.5.0.1')] }],
    ]);
    // An any-source join of a group the socket holds source-specifically is EINVAL the other way round.
    assert.throws(() => a.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq('232.1.1.1')), {
      code: 'EADDRINUSE',
    });
    const good = sender.socket(AF_INET, SOCK_DGRAM);
    const other = r2.socket(AF_INET, SOCK_DGRAM);
    await good.sendto('from S', ['232.1.1.1', 5008]);
    assert.equal(text((await a.recvfrom(100))[0]), 'from S');
    await other.sendto('from elsewhere', ['232.1.1.1', 5008]);
    await noDatagram(a);
    sent.get('r1')!.length = 0;
    a.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, mreqSource('232.1.1.1', '10.5.0.1'));
    const drop = igmpOf(sent.get('r1')!).map((x) => x.msg.kind === 'report-v3' && x.msg.records);
    assert.deepEqual(drop, [
      [{ type: BLOCK_OLD_SOURCES, group: ip('232.1.1.1'), sources: [ip('10.5.0.1')] }],
    ]);
    assert.throws(
      () => a.setsockopt(IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, mreqSource('232.1.1.1', '10.5.0.1')),
      {
        code: 'EADDRNOTAVAIL',
      },
    );
    a.close();
    good.close();
    other.close();
  });
});

// ---------------------------------------------------------------- a querier by hand

/** A stack on a cable whose other end the test drives: it plays the IGMP querier. */
function querierRig() {
  const sim = new Simulation({ seed: 43 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const stack = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'host' }));
  const iface = stack.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.6.0.2/24'] });
  stack.addRoute({ destination: '0.0.0.0/0', gateway: '10.6.0.1' });
  const heard: Uint8Array[] = [];
  cable.b.onReceive = (f) => heard.push(f.slice());
  const querierMac = localMac(0x77);
  let id = 1;
  /** Sends an IGMP message from the querier 10.6.0.1 to `dst`. */
  const send = (msg: Uint8Array, dst = '224.0.0.1', opts: { mac?: Uint8Array } = {}) => {
    const ipLen = 24 + msg.length;
    const f = new Uint8Array(14 + ipLen);
    emitEthernet(
      { dst: opts.mac ?? ipv4MulticastMac(ip(dst)), src: querierMac, ethertype: ETHERTYPE_IPV4 },
      f,
    );
    emitIpv4(
      {
        dscp: 0,
        ecn: 0,
        identification: id++,
        dontFragment: false,
        moreFragments: false,
        fragmentOffset: 0,
        ttl: 1,
        protocol: IP_PROTO_IGMP,
        src: ip('10.6.0.1'),
        dst: ip(dst),
        options: new Uint8Array([148, 4, 0, 0]),
        payloadLength: msg.length,
      },
      f,
      14,
    );
    f.set(msg, 14 + 24);
    cable.b.transmit(f);
  };
  return { sim, stack, iface, heard, send };
}

test('queries: a general query is answered with IS_EX within its Max Resp Time; an IGMPv2 querier switches to v2 reports and leaves', async () => {
  const { sim, stack, heard, send } = querierRig();
  await sim.run(async () => {
    const s = stack.socket(AF_INET, SOCK_DGRAM);
    await s.bind(['0.0.0.0', 5010]);
    s.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq('239.7.7.7'));
  });
  sim.runFor(seconds(3));
  heard.length = 0;
  // A v3 general query with Max Resp Code 20 (2 s): nothing at once, the answer within 2 s.
  send(emitIgmpV3Query({ maxRespCode: 20, group: 0 }));
  sim.runFor(millis(1));
  assert.equal(igmpOf(heard).length, 0);
  sim.runFor(seconds(2));
  const answers = igmpOf(heard);
  assert.equal(answers.length, 1);
  assert.deepEqual(answers[0].msg.kind === 'report-v3' && answers[0].msg.records, [
    { type: IGMP_MODE_IS_EXCLUDE, group: ip('239.7.7.7'), sources: [] },
  ]);
  assert.equal(stack.stats.igmp.queriesReceived, 1);
  // An IGMPv2 query (8 bytes, Max Resp Time 10 = 1 s): the answer is an IGMPv2 report to the group.
  heard.length = 0;
  send(emitIgmpV2(IGMP_QUERY, 0, 10));
  sim.runFor(seconds(2));
  const v2 = igmpOf(heard);
  assert.equal(v2.length, 1);
  assert.equal(v2[0].msg.kind, 'report-v2');
  assert.equal(v2[0].dst, ip('239.7.7.7'));
  // Leaving in IGMPv2 compatibility mode sends a Leave Group to 224.0.0.2.
  heard.length = 0;
  await sim.run(async () => {
    const s = stack.socket(AF_INET, SOCK_DGRAM);
    s.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq('239.8.8.8'));
    s.close();
  });
  sim.runFor(seconds(2));
  const msgs = igmpOf(heard).map((x) => [x.msg.kind, x.dst]);
  assert.deepEqual(msgs[0], ['report-v2', ip('239.8.8.8')]);
  assert.ok(
    msgs.some(([k, d]) => k === 'leave-v2' && d === ip('224.0.0.2')),
    'an IGMPv2 leave',
  );
  // An IGMPv1 query moves the interface to v1 reports (and IGMPv1 has no leave).
  heard.length = 0;
  send(emitIgmpV2(IGMP_QUERY, 0, 0));
  sim.runFor(seconds(11));
  const v1 = igmpOf(heard);
  assert.deepEqual(
    v1.map((x) => x.msg.kind),
    ['report-v1'],
  );
  // RFC 3376 §7.2.1: after the Older Version Querier Present Timeout (260 s) it is IGMPv3 again.
  sim.runFor(seconds(261));
  heard.length = 0;
  send(emitIgmpV3Query({ maxRespCode: 10, group: 0 }));
  sim.runFor(seconds(2));
  assert.deepEqual(
    igmpOf(heard).map((x) => x.msg.kind),
    ['report-v3'],
  );
});

test('bad IGMP is dropped and counted; a general query to a unicast address is ignored; the host keeps working', async () => {
  const { sim, stack, heard, send, iface } = querierRig();
  await sim.run(async () => {
    const s = stack.socket(AF_INET, SOCK_DGRAM);
    s.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq('239.7.7.7'));
  });
  sim.runFor(seconds(3));
  heard.length = 0;
  const q = emitIgmpV3Query({ maxRespCode: 10, group: 0 });
  for (let n = 0; n < q.length; n++) if (n !== 8) send(q.slice(0, n));
  const flipped = q.slice();
  flipped[5] ^= 0xff;
  send(flipped);
  send(emitIgmpV2(0x99, 0));
  send(q, '10.6.0.2', { mac: iface.mac });
  sim.runFor(seconds(2));
  assert.equal(stack.stats.igmp.malformed, q.length - 1 + 1 + 1);
  assert.equal(stack.stats.igmp.invalid, 1);
  assert.equal(igmpOf(heard).length, 0, 'nothing answered');
  // Still a working member: a good query is answered.
  send(q);
  sim.runFor(seconds(2));
  assert.equal(igmpOf(heard).length, 1);
});

test('IP_MULTICAST_IF picks the interface; a router does not forward multicast', async () => {
  const sim = new Simulation({ seed: 44 });
  const c1 = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const c2 = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const h1 = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'h1' }));
  const rt = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'rt', forwarding: true }));
  const h2 = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'h2' }));
  h1.addInterface({ name: 'eth0', device: c1.a, addresses: ['10.1.0.2/24'] });
  rt.addInterface({ name: 'eth0', device: c1.b, addresses: ['10.1.0.1/24'] });
  rt.addInterface({ name: 'eth1', device: c2.a, addresses: ['10.2.0.1/24'] });
  h2.addInterface({ name: 'eth0', device: c2.b, addresses: ['10.2.0.2/24'] });
  h1.addRoute({ destination: '0.0.0.0/0', gateway: '10.1.0.1' });
  h2.addRoute({ destination: '0.0.0.0/0', gateway: '10.2.0.1' });
  sim.runFor(millis(50));
  await sim.run(async () => {
    const r = h2.socket(AF_INET, SOCK_DGRAM);
    await r.bind(['0.0.0.0', 5012]);
    r.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq(GROUP, '10.2.0.2'));
    const s = h1.socket(AF_INET, SOCK_DGRAM);
    s.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, 10);
    await s.sendto('across?', [GROUP, 5012]);
    await noDatagram(r, 1);
    await s.sendto('unicast', ['10.2.0.2', 5012]);
    assert.equal(text((await r.recvfrom(100))[0]), 'unicast');
    // The router, a member on eth1, sends out of eth1 when told so (IP_MULTICAST_IF by address).
    const rs = rt.socket(AF_INET, SOCK_DGRAM);
    assert.throws(() => rs.setsockopt(IPPROTO_IP, IP_MULTICAST_IF, inAddr('10.9.9.9')), {
      code: 'EADDRNOTAVAIL',
    });
    rs.setsockopt(IPPROTO_IP, IP_MULTICAST_IF, inAddr('10.2.0.1'));
    // Linux answers with the in_addr, read as a host-order int (127.0.0.1 is 16777343).
    assert.equal(
      rs.getsockopt(IPPROTO_IP, IP_MULTICAST_IF),
      new DataView(inAddr('10.2.0.1').buffer).getInt32(0, true),
    );
    await rs.sendto('from the router', [GROUP, 5012]);
    const [d, from] = await r.recvfrom(100);
    assert.equal(text(d), 'from the router');
    assert.equal((from as [string, number])[0], '10.2.0.1');
    // ip_mreqn by index works as well as by address.
    const r2 = h2.socket(AF_INET, SOCK_DGRAM);
    r2.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq('239.5.5.5', '0.0.0.0', h2.interfaces[1].ifindex));
    assert.throws(() => r2.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq('239.5.5.6', '0.0.0.0', 42)), {
      code: 'ENODEV',
    });
    r.close();
    r2.close();
    s.close();
    rs.close();
  });
});

test('a query flood is bounded (RFC 3376 §5.2): one pending answer per interface and group, a handful of reports', async () => {
  const { sim, stack, heard, send } = querierRig();
  await sim.run(async () => {
    const s = stack.socket(AF_INET, SOCK_DGRAM);
    s.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq('239.7.7.7'));
  });
  sim.runFor(seconds(3));
  heard.length = 0;
  const timersBefore = stack.timers.size;
  for (let i = 0; i < 2000; i++) {
    send(emitIgmpV3Query({ maxRespCode: 100, group: 0 }));
    send(emitIgmpV3Query({ maxRespCode: 100, group: ip('239.7.7.7'), sources: [i + 1] }), '239.7.7.7');
    if (i % 200 === 0) sim.runFor(millis(1));
  }
  sim.runFor(millis(1));
  assert.equal(stack.stats.igmp.queriesReceived, 4000);
  // Heap entries (stale re-arms included): a few dozen at most, where one timer per query
  // would be 4000.
  assert.ok(stack.timers.size < timersBefore + 64, `${stack.timers.size - timersBefore} more timers`);
  sim.runFor(seconds(11));
  const reports = igmpOf(heard);
  assert.ok(reports.length >= 1 && reports.length <= 3, `${reports.length} reports`);
});

test('a socket holds at most 20 IPv4 memberships (Linux igmp_max_memberships): the 21st is ENOBUFS', async () => {
  const { sim, r1 } = lan();
  await sim.run(async () => {
    const a = r1.socket(AF_INET, SOCK_DGRAM);
    for (let i = 1; i <= 20; i++) a.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq(`239.9.0.${i}`));
    assert.throws(() => a.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq('239.9.0.21')), { code: 'ENOBUFS' });
    // Another socket may still join: the bound is per socket.
    const b = r1.socket(AF_INET, SOCK_DGRAM);
    b.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq('239.9.0.21'));
    a.close();
    b.close();
  });
});
