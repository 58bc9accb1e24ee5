// The CLI as a user runs it: a child process (`node --import tsx src/cli/main.ts ...`
// and bin/sockstack.mjs), checking stdout, stderr and exit codes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commandNames } from '../../src/cli/main.ts';
import { byClass, parseXml } from '../plot/xml.ts';
import { mixedFrames, writePcap } from '../trace/scenario.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = join(root, 'test/fixtures/cli/mixed.pcap');

function run(args: string[], via: 'main' | 'bin' = 'main') {
  const argv =
    via === 'main' ? ['--import', 'tsx', 'src/cli/main.ts', ...args] : ['bin/sockstack.mjs', ...args];
  const r = spawnSync(process.execPath, argv, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('the committed fixture is what the scenario generator writes', () => {
  const fresh = readFileSync(writePcap(mixedFrames()));
  assert.deepEqual(readFileSync(FIXTURE), fresh);
});

test('--help lists every command; each command has --help; exit 0', () => {
  const r = run(['--help']);
  assert.equal(r.code, 0);
  const names = commandNames();
  for (const c of [
    'demo',
    'ping',
    'nc',
    'serve',
    'sim',
    'capture',
    'plot',
    'conformance',
    'tap',
    'relay',
    'wisp',
  ])
    assert.ok(names.includes(c), `${c} is a command`);
  for (const c of names) assert.match(r.out, new RegExp(`^  ${c} `, 'm'));
  // Every command is in the README's table of commands.
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const c of names) assert.match(readme, new RegExp(`^\\| \`${c}\` \\|`, 'm'), `README lists ${c}`);
  for (const c of names) {
    const h = run([c, '--help']);
    assert.equal(h.code, 0, `${c} --help: ${h.err}`);
    assert.match(h.out, new RegExp(`^sockstack ${c} — `));
    assert.match(h.out, /Usage:\n {2}sockstack /);
    assert.match(h.out, /-h, --help/);
  }
  assert.equal(run(['help', 'capture']).out, run(['capture', '-h']).out);
});

test('every path a --help names exists in the repository', () => {
  for (const c of ['demo', 'ping', 'nc', 'serve', 'sim', 'capture', 'plot', 'conformance', 'tap']) {
    const h = run([c, '--help']).out;
    // placeholders such as examples/scenarios/NAME.json are not paths
    for (const m of h.matchAll(/(?<![\w/])((?:test|examples|docs)\/[\w./-]*[\w/])/g))
      if (!/[A-Z]{3,}/.test(m[1]))
        assert.ok(existsSync(join(root, m[1])), `sockstack ${c} --help names ${m[1]}, which does not exist`);
  }
});

test("capture takes tcpdump's protocol-qualified filters ('tcp port 7')", () => {
  const r = run(['capture', FIXTURE, 'tcp port 7']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim().split('\n').length, 17);
  assert.equal(run(['capture', '--filter', 'udp dst port 9999', FIXTURE]).code, 0);
});

test("plot of the demo's capture counts each segment once, though the router's two subnets both carry it", () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-plot-'));
  const pcap = join(dir, 'demo.pcapng');
  assert.equal(run(['demo', '-q', '--pcap', pcap]).code, 0);
  const first = run(['plot', pcap, '-o', join(dir, 'a.svg')]);
  assert.equal(first.code, 0, first.err);
  // 4 ACKs: the server's ACK of the client's FIN rides on its own FIN (Linux's pingpong ACK).
  assert.match(first.out, /1 data segments \(0 retransmitted\), 4 ACKs/);
  const second = run(['plot', pcap, '-i', 'server.eth0', '-o', join(dir, 'b.svg')]);
  assert.match(second.out, /1 data segments \(0 retransmitted\), 4 ACKs/);
  const bad = run(['plot', pcap, '-i', '7']);
  assert.equal(bad.code, 1);
  assert.match(
    bad.err,
    /no interface '7' in the capture \(interfaces: 0 \(client\.eth0\), 1 \(server\.eth0\)\)/,
  );
});

test('usage errors exit 2 with a clear message', () => {
  const none = run([]);
  assert.equal(none.code, 2);
  assert.match(none.err, /Usage: sockstack <command>/);
  const unknown = run(['captur']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command 'captur'\nDid you mean: capture\?/);
  const flag = run(['capture', '--frobnicate', FIXTURE]);
  assert.equal(flag.code, 2);
  assert.match(flag.err, /^sockstack capture: unknown option '--frobnicate'\nTry 'sockstack capture --help'/);
  assert.equal(run(['capture']).code, 2);
  const count = run(['capture', '-c', 'many', FIXTURE]);
  assert.equal(count.code, 2);
  assert.match(count.err, /--count: 'many' is not a number/);
  const filter = run(['capture', FIXTURE, 'portt', '7']);
  assert.equal(filter.code, 2);
  assert.match(filter.err, /unknown term 'portt'/);
  assert.equal(run(['plot', '--direction', 'up', FIXTURE]).code, 2);
  assert.equal(run(['ping', 'not-a-host']).code, 2);
});

test('capture prints one tcpdump-like line per packet', () => {
  const r = run(['capture', FIXTURE]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines.length, 23);
  assert.equal(lines[0], '0.000000 ARP, Request who-has 10.0.1.1 tell 10.0.1.2, length 28');
  assert.equal(
    lines[6],
    '0.100000 10.0.1.2.49152 > 10.0.2.2.7: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0',
  );
  assert.equal(
    lines[9],
    '0.120100 10.0.1.2.49152 > 10.0.2.2.7: Flags [P.], seq 1:1001, ack 1, win 502, length 1000',
  );
  assert.match(r.err, /reading from file .*mixed\.pcap \(pcap\), link-type EN10MB \(Ethernet\)/);
  assert.match(r.err, /23 packet\(s\) shown, 23 in file/);
});

test('capture: -c, filters (option and trailing words), -S, -A, -t rel', () => {
  const c = run(['capture', '-c', '2', FIXTURE]);
  assert.equal(c.out.trimEnd().split('\n').length, 2);
  const f = run(['capture', '--filter', 'tcp', FIXTURE, 'src', 'host', '10.0.2.2']);
  assert.equal(f.code, 0, f.err);
  const fl = f.out.trimEnd().split('\n');
  assert.equal(fl.length, 7);
  assert.ok(fl.every((l) => l.includes(' 10.0.2.2.7 > 10.0.1.2.49152: ')));
  const abs = run(['capture', '-S', FIXTURE, 'tcp']).out.split('\n');
  assert.match(abs[3], /seq 1001:2001, ack 5001,/);
  const a = run(['capture', '-A', FIXTURE, 'tcp']).out;
  assert.match(a, /seq 1001:2001, ack 1, win 502, length 1000 \[retransmission\]/);
  assert.equal((a.match(/\[duplicate ACK\]/g) ?? []).length, 3);
  assert.match(a, /\[3-way handshake: SYN-ACK\]/);
  assert.match(a, /\[FIN from server\]/);
  const rel = run(['capture', '-t', 'rel', FIXTURE, 'tcp']).out.split('\n');
  assert.match(rel[0], /^0\.000000 10\.0\.1\.2\.49152 > /);
  assert.match(rel[1], /^0\.010000 /);
});

test('capture -v shows the envelopes with relative numbers and event labels', () => {
  const r = run(['capture', '-v', FIXTURE, 'tcp']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^#7 0\.100000 3-way handshake: SYN$/m);
  assert.match(r.out, /┌─ Ethernet frame, 74 bytes/);
  assert.match(r.out, /│ │ ┌─ TCP segment, 0 bytes of data/);
  assert.match(r.out, /#19 0\.130600 retransmission/);
  assert.ok(!r.out.includes('\x1b['), 'no colour when NO_COLOR is set');
  const colour = run(['capture', '-v', '-c', '1', '--color', 'always', FIXTURE]);
  assert.ok(colour.out.includes('\x1b['));
  const tree = run(['capture', '-v', '-c', '1', '--layout', 'tree', FIXTURE]);
  assert.match(tree.out, /└─ ARP request/);
});

test('capture fails with exit 1 on missing or unreadable files', () => {
  const missing = run(['capture', '/nonexistent/x.pcap']);
  assert.equal(missing.code, 1);
  assert.equal(missing.err.trim(), 'sockstack capture: cannot read /nonexistent/x.pcap: no such file');
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-cli-'));
  const junk = join(dir, 'junk.pcap');
  writeFileSync(junk, 'this is not a capture file');
  const bad = run(['capture', junk]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /junk\.pcap is not a readable pcap or pcapng file \(pcap: bad magic\)/);
  const truncated = join(dir, 'cut.pcap');
  writeFileSync(truncated, readFileSync(FIXTURE).subarray(0, 100));
  assert.equal(run(['capture', truncated]).code, 1);
});

test('plot writes a well-formed SVG with the expected marks (via bin/sockstack.mjs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-cli-'));
  const out = join(dir, 'g.svg');
  const r = run(['plot', FIXTURE, '--out', out], 'bin');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /6 data segments \(1 retransmitted\), 7 ACKs, 3 SACK blocks/);
  const svg = parseXml(readFileSync(out, 'utf8'));
  assert.equal(byClass(svg, 'seg').length, 6);
  assert.equal(byClass(svg, 'seg', 'retrans').length, 1);
  assert.equal(byClass(svg, 'sack').length, 3);
  assert.equal(byClass(svg, 'win-line').length, 1);
  const list = run(['plot', '--list', FIXTURE]);
  assert.match(list.out, /^stream 0: 10\.0\.1\.2\.49152 <-> 10\.0\.2\.2\.7 {2}a2b 5000 bytes, b2a 0 bytes$/m);
  const none = run(['plot', '--stream', '3', '--out', out, FIXTURE]);
  assert.equal(none.code, 1);
  assert.match(none.err, /no TCP stream 3 .*\(streams 0\.\.0; see --list\)/);
});

test('ping across the virtual router prints like ping(8)', () => {
  const r = run(['ping', '-c', '3']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines[0], 'PING 10.0.2.2 (10.0.2.2) 56(84) bytes of data.');
  // The first reply also waited for ARP on both subnets.
  assert.match(lines[1], /^64 bytes from 10\.0\.2\.2: icmp_seq=1 ttl=63 time=\d+\.\d{3} ms$/);
  assert.equal(lines[2], '64 bytes from 10.0.2.2: icmp_seq=2 ttl=63 time=2.000 ms');
  assert.equal(lines[3], '64 bytes from 10.0.2.2: icmp_seq=3 ttl=63 time=2.000 ms');
  assert.equal(lines[5], '--- 10.0.2.2 ping statistics ---');
  assert.equal(lines[6], '3 packets transmitted, 3 received, 0% packet loss, time 2000ms');
  assert.match(lines[7], /^rtt min\/avg\/max\/mdev = 2\.000\/\d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3} ms$/);
  const ttl = run(['ping', '-c', '1', '-t', '1']);
  assert.equal(ttl.code, 1);
  assert.match(ttl.out, /^From 10\.0\.1\.1 icmp_seq=1 Time to live exceeded$/m);
  const lossy = run(['ping', '-c', '20', '-i', '0.01', '--loss', '30', '--seed', '5', '-q']);
  const again = run(['ping', '-c', '20', '-i', '0.01', '--loss', '30', '--seed', '5', '-q']);
  assert.equal(lossy.out, again.out, 'same seed, same run');
  assert.match(lossy.out, /20 packets transmitted, \d+ received, [1-9]\d?% packet loss/);
});

test('ping -w records a capture that capture can read back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-cli-'));
  const pcap = join(dir, 'ping.pcapng');
  assert.equal(run(['ping', '-c', '2', '-w', pcap]).code, 0);
  const r = run(['capture', pcap, 'icmp']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0], /10\.0\.1\.2 > 10\.0\.2\.2: ICMP echo request, id \d+, seq 1, length 64$/);
  assert.match(lines[3], /10\.0\.2\.2 > 10\.0\.1\.2: ICMP echo reply, id \d+, seq 2, length 64$/);
});

test('tap explains itself; commands validate their arguments', () => {
  // `sockstack tap` alone brings a host up on tap0 (ARP + ping until a signal): not run here,
  // outside a namespace; test/kernel/cli-tap.test.ts runs it in one. Its help says how.
  assert.match(run(['tap', '--help']).out, /ARP and ping[\s\S]*ip netns add/);
  // demo/sim/serve/nc run for real in their own test files; here only usage errors.
  for (const c of ['demo', 'sim', 'serve', 'nc']) assert.equal(run([c, '--no-such-flag']).code, 2, c);
});
