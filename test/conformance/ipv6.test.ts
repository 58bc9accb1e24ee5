/**
 * packetdrill over IPv6: `--ip_version=ipv6` and `ipv4-mapped-ipv6` (packetdrill's config.c
 * flavours), IPv6 / ICMPv6 packet building and decoding, AF_INET6 sockets on the stack target,
 * and the MSS the stack announces from the IPv6 MTU.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PacketEvent } from '../../src/conformance/ast.ts';
import {
  buildIcmpPacket,
  buildTcpPacket,
  buildUdpPacket,
  decodePacket,
  F_SYN,
  quotedDatagram,
} from '../../src/conformance/packet.ts';
import { runScriptText, type ScriptResult } from '../../src/conformance/runner.ts';
import { parseScriptSafe } from '../../src/conformance/script.ts';
import { stackTargetFactory } from '../../src/conformance/stack-target.ts';
import { parseIpv6 } from '../../src/wire/address.ts';
import { internetChecksum, pseudoHeaderSumV6 } from '../../src/wire/checksum.ts';

const REMOTE = '2001:db8::1';
const LOCAL = 'fd3d:fa7b:d17d::1';

const tcp = {
  srcPort: 40000,
  dstPort: 8080,
  seq: 0x01020304,
  ack: 0,
  flags: F_SYN,
  window: 1000,
  options: [{ kind: 'mss', value: 1440 }] as const,
  payload: new Uint8Array(0),
};

async function run(script: string, path = 'inline.pkt'): Promise<ScriptResult> {
  return runScriptText(script, stackTargetFactory, { path });
}

function explain(r: ScriptResult): string {
  return r.status === 'failed' ? `line ${r.line}: ${r.message}` : r.status === 'skipped' ? r.reason : '';
}

test('an IPv6 TCP segment is built with the RFC 8200 header and decoded back, checksum included', () => {
  const b = buildTcpPacket(
    { src: '2001:DB8:0:0::1', dst: LOCAL, tos: 0xb8, ttl: 33, flowLabel: 0x12345 },
    tcp,
  );
  assert.equal(b.length, 40 + 24);
  assert.equal(b[0]! >> 4, 6);
  assert.equal(b[6], 6, 'next header TCP');
  assert.equal((b[4]! << 8) | b[5]!, 24, 'payload length');
  const d = decodePacket(b);
  assert.ok(!('error' in d) && d.proto === 'tcp', JSON.stringify(d));
  assert.equal(d.ip.version, 6);
  assert.equal(d.ip.src, REMOTE, 'RFC 5952 text');
  assert.equal(d.ip.dst, LOCAL);
  assert.equal(d.ip.tos, 0xb8, 'traffic class');
  assert.equal(d.ip.ttl, 33, 'hop limit');
  assert.equal(d.ip.flowLabel, 0x12345);
  assert.equal(d.tcp.seq, 0x01020304);
  assert.deepEqual(d.tcp.options, [{ kind: 'mss', value: 1440 }]);
  assert.equal(d.tcp.checksumOk, true);
  // The checksum covers the IPv6 pseudo-header: another source address breaks it.
  const moved = b.slice();
  moved[23] = 2;
  const d2 = decodePacket(moved);
  assert.ok(!('error' in d2) && d2.proto === 'tcp');
  assert.equal(d2.tcp.checksumOk, false);
});

test('IPv6 decoding walks extension headers and rejects truncated ones', () => {
  const seg = buildTcpPacket({ src: REMOTE, dst: LOCAL }, tcp);
  // Insert an 8-byte destination-options header (next header 60) before TCP.
  const withExt = new Uint8Array(seg.length + 8);
  withExt.set(seg.subarray(0, 40));
  withExt[6] = 60;
  withExt[5] = seg[5]! + 8;
  withExt.set([6, 0, 1, 4, 0, 0, 0, 0], 40);
  withExt.set(seg.subarray(40), 48);
  const d = decodePacket(withExt);
  assert.ok(!('error' in d) && d.proto === 'tcp', JSON.stringify(d));
  assert.equal(d.ip.headerLength, 48);
  assert.equal(d.tcp.checksumOk, true);
  assert.ok('error' in decodePacket(withExt.subarray(0, 44)), 'payload length beyond the datagram');
  assert.ok('error' in decodePacket(seg.subarray(0, 39)), 'short fixed header');
});

test('ICMPv6 messages carry protocol 58, a pseudo-header checksum and a 32-bit MTU', () => {
  const quoted = quotedDatagram({ src: LOCAL, dst: REMOTE, protocol: 6 }, new Uint8Array(8), 20);
  assert.equal(quoted.length, 48, 'a 40-byte IPv6 header and 8 bytes of TCP');
  const b = buildIcmpPacket({ src: REMOTE, dst: LOCAL }, 2, 0, 1300, quoted);
  assert.equal(b[6], 58);
  const m = b.subarray(40);
  assert.equal(new DataView(m.buffer, m.byteOffset).getUint32(4), 1300);
  const sum = pseudoHeaderSumV6(parseIpv6(REMOTE)!, parseIpv6(LOCAL)!, 58, m.length);
  assert.equal(internetChecksum(m, sum), 0);
  const d = decodePacket(b);
  assert.ok(!('error' in d) && d.proto === 'icmp');
  assert.equal(d.type, 2);
  // UDP over IPv6 is checksummed too (RFC 8200 §8.1: never zero).
  const u = buildUdpPacket({ src: REMOTE, dst: LOCAL }, 1, 2, new Uint8Array(3));
  const ud = u.subarray(40);
  assert.equal(
    internetChecksum(ud, pseudoHeaderSumV6(parseIpv6(REMOTE)!, parseIpv6(LOCAL)!, 17, ud.length)),
    0,
  );
});

test('ICMP lines of an IPv6 script parse with the ICMPv6 names', () => {
  const p = parseScriptSafe(
    '--ip_version=ipv6\n0 < icmp packet_too_big mtu 1300 [0:0(0)]\n+0 < icmp parameter_problem unknown_next_header [1:1(0)]\n',
    {},
  );
  assert.ok(p.ok);
  const [a, b] = p.script.events as PacketEvent[];
  assert.ok(a!.packet.proto === 'icmp' && b!.packet.proto === 'icmp');
  assert.equal(a!.packet.type, 'packet_too_big');
  assert.equal(a!.packet.mtu, 1300);
  assert.equal(b!.packet.code, 'unknown_next_header');
});

const ACTIVE_OPEN = `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
`;

test('--ip_version=ipv6: an AF_INET6 connect sends the SYN from packetdrill default addresses, MSS from the IPv6 MTU', async () => {
  const ok = await run(
    `--ip_version=ipv6\n${ACTIVE_OPEN}+0 > S 0:0(0) <mss 1440,sackOK,TS val 100 ecr 0,nop,wscale 6>\n`,
  );
  assert.equal(ok.status, 'passed', explain(ok));
  // The IPv4 MSS is wrong over IPv6: the runner really compares.
  const bad = await run(
    `--ip_version=ipv6\n${ACTIVE_OPEN}+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 6>\n`,
  );
  assert.equal(bad.status, 'failed');
  assert.match(explain(bad), /mss 1440, expected 1460/);
  const jumbo = await run(
    `--ip_version=ipv6\n--mtu=9000\n${ACTIVE_OPEN}+0 > S 0:0(0) <mss 8940,sackOK,TS val 100 ecr 0,nop,wscale 6>\n`,
  );
  assert.equal(jumbo.status, 'passed', explain(jumbo));
});

test('--ip_version=ipv6 with explicit addresses: the packets use them', async () => {
  const script =
    '--ip_version=ipv6\n--local_ip=fd00:1::5\n--remote_ip=fd00:2::7\n--gateway_ip=fd00:1::1\n' +
    `${ACTIVE_OPEN}+0 > S 0:0(0) <...>\n+0 < S. 0:0(0) ack 1 win 5000 <mss 1400>\n+0 > . 1:1(0) ack 1\n`;
  const r = await run(script);
  assert.equal(r.status, 'passed', explain(r));
  const wrong = await run(
    '--ip_version=ipv6\n--remote_ip=192.0.2.1\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n',
  );
  assert.equal(wrong.status, 'failed');
  assert.match(explain(wrong), /not an IPv6 address/);
});

test('--ip_version=ipv6: a passive open, data both ways and an ICMPv6 port unreachable', async () => {
  const passive = `--ip_version=ipv6
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 6>
+0 > S. 0:0(0) ack 1 <mss 1440,nop,wscale 6>
+.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
+0 < P. 1:101(100) ack 1 win 257
+0 > . 1:1(0) ack 101
+0 read(4, ..., 100) = 100
+0 write(4, ..., 10) = 10
+0 > P. 1:11(10) ack 101
`;
  const r = await run(passive);
  assert.equal(r.status, 'passed', explain(r));
  const refused = await run(
    `--ip_version=ipv6\n${ACTIVE_OPEN}+0 > S 0:0(0) <...>\n+.1 < icmp unreachable port_unreachable [0:0(0)]\n` +
      '+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0\n',
    'freebsd/inline.pkt',
  );
  assert.equal(refused.status, 'passed', explain(refused));
});

test('ICMP names follow the IP version: an ICMPv4-only code is unknown in an IPv6 script', async () => {
  const r = await run(
    `--ip_version=ipv6\n${ACTIVE_OPEN}+0 > S 0:0(0) <...>\n+0 < icmp unreachable frag_needed [0:0(0)]\n`,
  );
  assert.equal(r.status, 'skipped');
  assert.match(explain(r), /unknown ICMP code 'frag_needed'/);
});

test('--ip_version=ipv4-mapped-ipv6: an AF_INET6 socket talks IPv4 on the wire', async () => {
  const r = await run(
    `--ip_version=ipv4-mapped-ipv6\n${ACTIVE_OPEN}+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 6>\n` +
      '+0 < S. 0:0(0) ack 1 win 5000 <mss 1400>\n+0 > . 1:1(0) ack 1\n+0 write(3, ..., 100) = 100\n+0 > P. 1:101(100) ack 1\n',
  );
  assert.equal(r.status, 'passed', explain(r));
  // A passive open on the IPv4-mapped wildcard-family socket, and TCP_INFO finds the connection.
  const passive = await run(
    '--ip_version=ipv4-mapped-ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n' +
      '+0 listen(3, 1) = 0\n+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 6>\n' +
      '+.1 < . 1:1(0) ack 1 win 257\n+0 accept(3, ..., ...) = 4\n+0 %{ assert tcpi_state == 1 }%\n',
  );
  assert.equal(passive.status, 'passed', explain(passive));
});

test('an outbound IPv6 flow label is compared', async () => {
  const r = await run(`--ip_version=ipv6\n${ACTIVE_OPEN}+0 > (flowlabel 0x1234) S 0:0(0) <...>\n`);
  assert.equal(r.status, 'failed');
  assert.match(explain(r), /IPv6 flow label 0, expected 4660/);
});

test('--ip_version=ipv6: UDP datagrams both ways on an AF_INET6 socket', async () => {
  const script =
    '--ip_version=ipv6\n0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 bind(3, ..., ...) = 0\n' +
    '+0 < udp (100)\n+0 recvfrom(3, ..., 1000, 0, ..., ...) = 100\n' +
    '+0 sendto(3, ..., 20, 0, ..., ...) = 20\n+0 > udp (LEN)\n+0 close(3) = 0\n';
  const r = await run(script.replace('LEN', '20'));
  assert.equal(r.status, 'passed', explain(r));
  const bad = await run(script.replace('LEN', '21'));
  assert.equal(bad.status, 'failed');
  assert.match(explain(bad), /UDP payload length 20, expected 21/);
});
