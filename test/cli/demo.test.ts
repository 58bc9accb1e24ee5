// `sockstack demo` as a user runs it: a child process on the built-in virtual network.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPcap } from '../../src/link/pcap.ts';
import { dissect } from '../../src/trace/dissect.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Absolute, so the CLI can run from another directory (the default pcap lands in the cwd).
const TSX = import.meta.resolve('tsx');

function demo(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, ['--import', TSX, join(root, 'src/cli/main.ts'), 'demo', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined },
    // A bound on the wait, not a speed check: the demo runs in virtual time.
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'sockstack-demo-'));

/** Asserts each pattern matches, each after the previous match. */
function inOrder(text: string, patterns: readonly RegExp[]): void {
  let from = 0;
  for (const p of patterns) {
    const m = new RegExp(p.source, p.flags.replace('g', '')).exec(text.slice(from));
    assert.ok(m, `expected ${p} after offset ${from}`);
    from += m.index + m[0].length;
  }
}

test('the default run: the echo session, labelled in order, on both subnets, and a readable pcapng', () => {
  const dir = tmp();
  const r = demo(['--no-color'], dir);
  assert.equal(r.code, 0, r.err);
  const o = r.out;
  inOrder(o, [
    /server ▸ s = socket\(AF_INET, SOCK_STREAM\)/,
    /server ▸ s\.bind\(\('', 5000\)\)/,
    /server ▸ s\.listen\(1\).*LISTEN/,
    /client ▸ c\.connect\(\('10\.0\.2\.2', 5000\)\)/,
    /client ◆ CLOSED → SYN-SENT/,
    /#1 0\.000000 ARP: who has 10\.0\.1\.1\? tell 10\.0\.1\.2/,
    /ARP: 10\.0\.1\.1 is at /,
    /1\/3 handshake: SYN \(client → server\)\n {2}on 10\.0\.1\.0\/24: client → router/,
    /1\/3 handshake: SYN \(client → server\)\n {2}on 10\.0\.2\.0\/24: router → server\n {2}forwarded by the router .*TTL 64 → 63/,
    /server ◆ CLOSED → SYN-RECEIVED/,
    /2\/3 handshake: SYN-ACK \(server → client\)/,
    /client ◆ SYN-SENT → ESTABLISHED/,
    /3\/3 handshake: ACK \(client → server\)/,
    /client ▸ c\.connect\(\) returned: connected from \('10\.0\.1\.2', \d+\)/,
    /data: client → server 'Hello, world'/,
    /server ▸ s\.accept\(\) returned \('10\.0\.1\.2', \d+\)/,
    /server ▸ conn\.recv\(1024\) returned 12 bytes b'Hello, world'/,
    /data: server → client 'Hello, world'/,
    /client ▸ c\.recv\(1024\) returned 12 bytes b'Hello, world'/,
    /client ▸ c\.close\(\)/,
    /client ◆ ESTABLISHED → FIN-WAIT-1/,
    /FIN from client/,
    /server ◆ ESTABLISHED → CLOSE-WAIT/,
    /FIN from server/,
    // The server ACKs the client's FIN with its own (Linux's pingpong ACK): FIN-WAIT-2 is skipped.
    /client ◆ FIN-WAIT-1 → TIME-WAIT/,
    /server ◆ LAST-ACK → CLOSED/,
    /60\.\d+ +client ◆ TIME-WAIT → CLOSED/,
    /Summary/,
    /echoed: +b'Hello, world' \(12 bytes\) — the same bytes/,
    /retransmissions: 0/,
    /capture: +sockstack-demo\.pcapng/,
  ]);
  // Envelopes: Ethernet ⊃ IP ⊃ TCP ⊃ data, with the IP fields a reader needs.
  assert.match(o, /┌─ Ethernet frame, \d+ bytes/);
  assert.match(o, /│ │ 10\.0\.1\.2 → 10\.0\.2\.2 {2}ttl 64 {2}proto TCP \(6\)/);
  assert.match(o, /│ │ 10\.0\.1\.2 → 10\.0\.2\.2 {2}ttl 63 {2}proto TCP \(6\)/);
  assert.match(o, /id 0x[0-9a-f]{4} {2}flags DF/);
  assert.match(o, /options mss 1460,sackOK,TS val/);
  assert.match(o, /┌─ Data, 12 bytes/);
  assert.doesNotMatch(o, /\x1b\[/, 'no colour');

  const file = join(dir, 'sockstack-demo.pcapng');
  assert.ok(existsSync(file));
  const pcap = readPcap(readFileSync(file));
  assert.equal(pcap.format, 'pcapng');
  assert.deepEqual(
    pcap.interfaces.map((i) => i.name),
    ['client.eth0', 'server.eth0'],
  );
  const frames = Number(/frames: +(\d+)/.exec(o)?.[1]);
  assert.equal(pcap.records.length, frames);
  const ttls = pcap.records
    .map((rec) => ({ iface: rec.iface, d: dissect(rec.data, 'ethernet') }))
    .filter((x) => x.d.tcp && x.d.ip?.src === 0x0a000102)
    .map((x) => `${x.iface}:${x.d.ip?.ttl}`);
  assert.ok(ttls.includes('0:64') && ttls.includes('1:63'), ttls.join(' '));
});

test('same seed, same output; --quiet prints only the summary', () => {
  const dir = tmp();
  const a = demo(['--quiet', '--seed', '7', '--loss', '10', '--pcap', join(dir, 'a.pcapng')]);
  const b = demo(['--quiet', '--seed', '7', '--loss', '10', '--pcap', join(dir, 'a.pcapng')]);
  assert.equal(a.code, 0, a.err);
  assert.equal(a.out, b.out);
  assert.deepEqual(readFileSync(join(dir, 'a.pcapng')).length > 0, true);
  assert.match(a.out, /^\nSummary\n/);
  assert.doesNotMatch(a.out, /┌─|handshake/);
  for (const k of ['echoed', 'frames', 'retransmissions', 'RTT', 'virtual time', 'capture'])
    assert.match(a.out, new RegExp(`^ {2}${k}:`, 'm'));
  assert.match(a.out, /RTT: +\d+\.\d{3} ms/);
});

test("--delay sets each link's one-way delay: the RTT follows (2 links each way)", () => {
  const rtt = (delay: string) => {
    const r = demo(['--quiet', '--no-pcap', '--delay', delay]);
    assert.equal(r.code, 0, r.err);
    const m = /RTT: +([\d.]+) ms \(client's SRTT; propagation alone is ([\d.]+) ms/.exec(r.out);
    assert.ok(m, r.out);
    return { srtt: Number(m[1]), prop: Number(m[2]) };
  };
  const slow = rtt('10');
  assert.equal(slow.prop, 40);
  assert.ok(slow.srtt >= 40 && slow.srtt < 100, `SRTT ${slow.srtt} ms`);
  const fast = rtt('0.5');
  assert.equal(fast.prop, 2);
  assert.ok(fast.srtt < slow.srtt / 5, `SRTT ${fast.srtt} ms vs ${slow.srtt} ms`);
});

test('loss: retransmissions are labelled and counted, and the echo still arrives', () => {
  const r = demo(['--loss', '20', '--seed', '1', '--no-pcap', '--brief']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^#\d+ \S+ \[10\.0\.\d\.0\/24\] retransmission · /m);
  const n = Number(/retransmissions: (\d+)/.exec(r.out)?.[1]);
  assert.ok(n > 0);
  assert.match(r.out, /echoed: +b'Hello, world'/);
});

test('jitter: segments that overtake each other are labelled out of order', () => {
  const r = demo(['--jitter', '3', '--size', '8000', '--seed', '2', '--no-pcap', '--brief']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /out of order: arrived before bytes \d+–\d+/);
  assert.match(r.out, /echoed: .* \(8000 bytes\) — the same bytes/);
});

test('--mtu 576 with a large UDP message: fragments at the client and again at the router', () => {
  const dir = tmp();
  const r = demo(['--udp', '--mtu', '576', '--size', '2000', '--pcap', join(dir, 'f.pcapng')]);
  assert.equal(r.code, 0, r.err);
  inOrder(r.out, [
    /IP fragment 1: client → server, bytes 0–1479 of datagram 0x[0-9a-f]{4}, UDP \d+ → 5000/,
    /IP fragment 2 \(last\): client → server, bytes 1480–2007/,
    /IP fragment 1: client → server, bytes 0–551 .*\n.*\n {2}the router fragmented it again/,
    /server ▸ s\.recvfrom\(65535\) returned 2000 bytes/,
    /client ▸ c\.recvfrom\(65535\) returned 2000 bytes/,
  ]);
  assert.match(r.out, /IP fragments: +\d+/);
  const pcap = readPcap(readFileSync(join(dir, 'f.pcapng')));
  const frags = pcap.records.filter((rec) => {
    const ip = dissect(rec.data, 'ethernet').ip;
    return ip && (ip.mf || ip.fragmentOffset > 0);
  });
  assert.ok(frags.length >= 6);
  assert.ok(frags.every((f) => f.data.length <= 1514));
});

test('--mtu over TCP: the MSS shrinks instead of fragmenting', () => {
  const r = demo(['--mtu', '576', '--size', '2000', '--no-pcap', '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /MSS: +536 bytes/);
  assert.doesNotMatch(r.out, /IP fragments/);
});

test('tree layout, and usage errors exit 2', () => {
  const r = demo(['--layout', 'tree', '--no-pcap']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Ethernet frame, \d+ bytes\n {2}\S+ → \S+ {2}type IPv4/m);
  assert.match(r.out, /└─ IPv4 datagram/);
  assert.equal(demo(['--layout', 'round']).code, 2);
  assert.equal(demo(['--loss', 'lots']).code, 2);
  assert.equal(demo(['--udp', '--size', '70000', '--no-pcap']).code, 2);
});
