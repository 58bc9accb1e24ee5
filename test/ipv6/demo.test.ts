/**
 * The course's echo session over IPv6 (`sockstack demo --ipv6`, the page's session with
 * ipVersion 6): AF_INET6 sockets across the router, neighbour discovery instead of
 * ARP, and frames dissected down to the IPv6 header (hop limit 64 → 63 across the
 * router, transport checksums verified over the IPv6 pseudo-header).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dissect } from '../../src/trace/dissect.ts';
import { summaryLine } from '../../src/trace/format.ts';
import { DEFAULT_SETTINGS, runEchoSession } from '../../src/web/echo-session.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the TCP echo session runs on AF_INET6 sockets; every frame is IPv6 and checks out', async () => {
  const t = await runEchoSession({ ...DEFAULT_SETTINGS, ipVersion: 6 });
  assert.equal(t.failure, undefined);
  assert.ok(t.ok);
  const calls = t.events.filter((e) => e.kind === 'call').map((e) => (e.kind === 'call' ? e.text : ''));
  assert.ok(calls.includes('s = socket(AF_INET6, SOCK_STREAM)'));
  assert.ok(calls.includes("c.connect(('fd00:2::2', 5000))"));
  assert.ok(
    calls.some((c) => /^s\.accept\(\) returned \('fd00:1::2', \d+, 0, 0\)$/.test(c)),
    calls.join('\n'),
  );
  // No ARP: neighbour discovery resolves the addresses; no frame is IPv4.
  assert.ok(t.frames.length > 0);
  for (const f of t.frames) {
    assert.equal(f.dissection.eth?.ethertype, 0x86dd, f.label);
    assert.equal(f.dissection.ip6?.version, 6, f.label);
    assert.equal(f.dissection.problems.length, 0, f.label);
    const ck = f.dissection.tcp?.checksumOk ?? f.dissection.icmp6?.checksumOk;
    assert.equal(ck, true, `${f.label}: checksum`);
  }
  const labels = t.frames.map((f) => f.label);
  assert.ok(
    labels.some((l) => l === 'NDP: who has fd00:1::1? tell client'),
    labels.join('\n'),
  );
  assert.ok(labels.some((l) => /^NDP: fd00:1::1 is at [0-9a-f:]{17}$/.test(l)));
  // The SYN on each subnet: the router's copy has the hop limit one lower.
  const syns = t.frames.filter((f) => f.label.startsWith('1/3 handshake: SYN (client → server)'));
  assert.deepEqual(
    syns.map((f) => [f.subnet, f.dissection.ip6?.hopLimit, f.forwarded]),
    [
      [0, 64, false],
      [1, 63, true],
    ],
  );
  assert.ok(labels.includes("data: client → server 'Hello, world'"));
  assert.ok(labels.includes("data: server → client 'Hello, world'"));
});

test('UDP over IPv6: one datagram each way; the summary line reads like tcpdump', async () => {
  const t = await runEchoSession({ ...DEFAULT_SETTINGS, ipVersion: 6, udp: true });
  assert.ok(t.ok);
  const udp = t.frames.filter((f) => f.dissection.udp);
  assert.equal(udp.length, 4); // request and reply, each seen on both subnets
  assert.equal(udp[0].dissection.udp?.checksumOk, true);
  assert.match(summaryLine(udp[0].dissection), /^fd00:1::2\.\d+ > fd00:2::2\.5000: UDP, length 12$/);
});

test('the dissector reads an IPv6 fragment header and rejects a truncated header cleanly', () => {
  const pkt = new Uint8Array(14 + 40 + 8 + 8);
  pkt.set([0x86, 0xdd], 12);
  const ip = pkt.subarray(14);
  ip[0] = 0x60;
  ip[5] = 16; // payload length: fragment header + 8 bytes
  ip[6] = 44; // Fragment
  ip[7] = 64;
  ip[8] = 0xfd;
  ip[23] = 1;
  ip[24] = 0xfd;
  ip[39] = 2;
  ip[40] = 17; // next: UDP
  ip[42] = 0x00;
  ip[43] = 0x11; // offset 16 (bytes), M=1
  ip.set([0, 0, 0, 7], 44);
  const d = dissect(pkt);
  assert.deepEqual(d.ip6?.extensions, ['fragment']);
  assert.deepEqual(d.ip6?.fragment, { offset: 16, more: true, id: 7 });
  assert.equal(d.fragment, true);
  assert.equal(d.udp, undefined);
  assert.match(summaryLine(d), /^fd00::1 > fd00::2: UDP \(frag 7:16@16\+\)$/);
  for (let n = 14; n < 14 + 40; n += 7) {
    const cut = dissect(pkt.subarray(0, n));
    assert.equal(cut.ip6, undefined);
    assert.match(cut.problems[0]?.message ?? '', /truncated/);
  }
});

test('sockstack demo --ipv6 prints the IPv6 envelope', () => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--ipv6', '--no-pcap'],
    {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /over TCP over IPv6/);
  assert.match(r.stdout, /IPv6 packet, 80 bytes \(40-byte header, no checksum\)/);
  assert.match(r.stdout, /hop limit 63 {2}next header TCP \(6\)/);
  assert.match(r.stdout, /frames: +\d+ \(\d+ on fd00:1::\/64, \d+ on fd00:2::\/64\)/);
  assert.match(r.stdout, /echoed: +b'Hello, world' \(12 bytes\) — the same bytes the client sent/);
});
