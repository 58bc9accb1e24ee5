import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodePacket } from '../../src/conformance/packet.ts';
import { runScriptText, type ScriptResult } from '../../src/conformance/runner.ts';
import type { TargetConfig } from '../../src/conformance/target.ts';
import { FakeTarget, fakeFactory } from './fake-target.ts';

const CORPUS = new URL('../fixtures/packetdrill/', import.meta.url).pathname;

const PASSIVE_OPEN = `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+.1 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
+.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
`;

const run = (src: string, opts: Parameters<typeof runScriptText>[2] = {}, factory = fakeFactory()) =>
  runScriptText(src, factory, opts);

function failed(r: ScriptResult): Extract<ScriptResult, { status: 'failed' }> {
  assert.equal(r.status, 'failed', JSON.stringify(r));
  return r as Extract<ScriptResult, { status: 'failed' }>;
}

test('passive open, data, active close, tcp_info assert: passes in set and exact mode', async () => {
  const src = `${PASSIVE_OPEN}
+0 %{ assert tcpi_state == TCP_ESTABLISHED, tcpi_state }%
+0 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
+.1 < . 1:1(0) ack 1001 win 257
+0 < P. 1:101(100) ack 1001 win 257
+0 > . 1001:1001(0) ack 101
+0 read(4, ..., 1000) = 100
+0 close(4) = 0
+0 > F. 1001:1001(0) ack 101
+.1 < F. 101:101(0) ack 1002 win 257
+0 > . 1002:1002(0) ack 102
`;
  for (const exactOptions of [false, true]) {
    const r = await run(src, { exactOptions });
    assert.equal(r.status, 'passed', JSON.stringify(r));
    assert.equal(r.optionsMode, exactOptions ? 'exact' : 'set');
  }
});

test('set comparison ignores option order and padding; exact comparison does not', async () => {
  const src = PASSIVE_OPEN.replace(
    '<mss 1460,nop,nop,sackOK,nop,wscale 8>',
    '<sackOK,wscale 8,mss 1460,eol>',
  );
  assert.equal((await run(src)).status, 'passed');
  const f = failed(await run(src, { exactOptions: true }));
  assert.equal(f.line, 7);
  assert.match(f.message, /exact comparison/);
  const viaOption = failed(await run(`--tcp_options_exact\n${src}`));
  assert.equal(viaOption.optionsMode, 'exact');
  // A wrong value fails either way.
  const bad = failed(await run(PASSIVE_OPEN.replace('mss 1460,nop', 'mss 1400,nop')));
  assert.match(bad.message, /mss 1460, expected 1400/);
});

test('mismatches report the line, what was expected and what was sent', async () => {
  let f = failed(await run(PASSIVE_OPEN.replace('> S. 0:0(0) ack 1', '> R. 0:0(0) ack 1')));
  assert.equal(f.line, 7);
  assert.match(f.message, /flags S\., expected R\./);
  assert.match(f.got!, /^S\. 0:0\(0\) ack 1 win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 8>$/);
  assert.match(f.expected!, /^R\. 0:0\(0\) ack 1/);
  f = failed(await run(PASSIVE_OPEN.replace('> S. 0:0(0) ack 1', '> S. 0:0(0) ack 2')));
  assert.match(f.message, /ack 1, expected 2/);
  f = failed(await run(PASSIVE_OPEN.replace('> S. 0:0(0) ack 1 <', '> S. 0:0(0) ack 1 win 100 <')));
  assert.match(f.message, /window 65535, expected 100/);
  f = failed(
    await run(`${PASSIVE_OPEN}+0 write(4, ..., 10) = 10\n+0 > P. 1:11(10) ack 1 <nop,nop,TS val 1 ecr 2>\n`),
  );
  assert.equal(f.line, 11);
  assert.match(f.message, /TCP options <>, expected <nop,nop,TS val 1 ecr 2>/);
});

test('time: late, early, and never-sent packets fail; tolerance allows small skew', async () => {
  let f = failed(await run(PASSIVE_OPEN.replace('+0 > S. 0:0(0)', '+.5 > S. 0:0(0)')));
  assert.equal(f.line, 7);
  assert.match(f.message, /timing mismatch: packet sent at 0\.100s, expected at 0\.600s/);
  assert.equal((await run(PASSIVE_OPEN.replace('+0 > S. 0:0(0)', '+.003 > S. 0:0(0)'))).status, 'passed');
  f = failed(await run(`${PASSIVE_OPEN}+0 > F. 1:1(0) ack 1\n`));
  assert.equal(f.line, 10);
  assert.match(f.message, /timed out waiting for packet/);
  assert.equal(f.got, 'no packet');
  // A range and '*' accept the packet whenever it comes within them.
  assert.equal((await run(PASSIVE_OPEN.replace('+0 > S. 0:0(0)', '+0~+.2 > S. 0:0(0)'))).status, 'passed');
  assert.equal((await run(PASSIVE_OPEN.replace('+0 > S. 0:0(0)', '* > S. 0:0(0)'))).status, 'passed');
});

test("tolerance: a suite harness's --tolerance_usecs applies by path; the CLI option and script lines override it", async () => {
  const late = PASSIVE_OPEN.replace('+0 > S. 0:0(0)', '+.05 > S. 0:0(0)');
  // packetdrill's default 4 ms does not cover 50 ms of skew...
  assert.match(failed(await run(late)).message, /timing mismatch/);
  // ...gVisor's harness runs every script with --tolerance_usecs=100000, so its scripts get it by path.
  const gv = await run(late, { path: 'corpus/gvisor/test/packetdrill/x.pkt' });
  assert.equal(gv.status, 'passed');
  assert.match((gv as { warnings: readonly string[] }).warnings.join('\n'), /100000 from the gVisor harness/);
  // An explicit tolerance (the CLI's --tolerance-usecs) wins over the harness...
  assert.equal(
    failed(await run(late, { path: 'corpus/gvisor/test/packetdrill/x.pkt', toleranceUs: 4000 })).line,
    7,
  );
  assert.equal((await run(late, { toleranceUs: 60_000 })).status, 'passed');
  // ...and a --tolerance_usecs line in the script wins over both.
  assert.match(
    failed(await run(`--tolerance_usecs=1000\n${late}`, { path: 'corpus/gvisor/test/packetdrill/x.pkt' }))
      .message,
    /timing mismatch/,
  );
});

test('an unexpected outbound packet fails where packetdrill would read it, and only then', async () => {
  const src = PASSIVE_OPEN.replace('+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n', '');
  // A later `>` line would read the unlisted SYN-ACK first: reported before the next event.
  const later = `${src}+1 > . 1:1(0) ack 1\n`;
  const f = failed(await run(later));
  assert.equal(f.line, 7);
  assert.match(f.message, /unexpected outbound packet at 0\.100s before this event: S\. 0:0\(0\) ack 1/);
  // --allow-unexpected: the `>` line reads it and fails there instead.
  assert.equal(failed(await run(later, { allowUnexpectedPackets: true })).line, 9);
  // No later `>` line: packetdrill never reads the packet, so it does not fail.
  assert.equal((await run(src)).status, 'passed');
});

test('inbound packets are built with mapped sequence numbers, ports and timestamps', async () => {
  let target: FakeTarget | undefined;
  const factory = (c: TargetConfig) => (target = new FakeTarget(c, { iss: 0xfffffff0 }));
  const src = `
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < (tos 0x28) S 0:0(0) win 20000 <mss 1000,sackOK,TS val 100 ecr 0>
+0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 777 ecr 100>
+.1 < . 1:1(0) ack 1 win 20000 <nop,nop,TS val 200 ecr 777>
+0 accept(3, ..., ...) = 4
+0 < . 1:1(0) ack 1 win 20000 <sack 5:10,nop,nop>
`;
  const r = await runScriptText(src, factory);
  assert.equal(r.status, 'passed', JSON.stringify(r));
  const [syn, ack, sack] = target!.injected.map((b) => decodePacket(b));
  assert.ok(syn && 'proto' in syn && syn.proto === 'tcp');
  assert.equal(syn.ip.tos, 0x28);
  assert.equal(syn.ip.src, '192.0.2.1');
  assert.equal(syn.ip.dst, '192.168.0.1');
  assert.equal(syn.tcp.dstPort, 8080);
  assert.ok(ack && 'proto' in ack && ack.proto === 'tcp');
  assert.equal(ack.tcp.ack, (0xfffffff0 + 1) >>> 0); // relative ack 1 → ISS + 1 (wraps)
  // ecr 777 echoes the script TSval of our SYN-ACK → the live TSval the fake sent (100).
  assert.deepEqual(ack.tcp.options[2], { kind: 'ts', val: 200, ecr: 100 });
  assert.ok(sack && 'proto' in sack && sack.proto === 'tcp');
  assert.deepEqual(sack.tcp.options[0], {
    kind: 'sack',
    blocks: [{ left: (0xfffffff0 + 5) >>> 0, right: (0xfffffff0 + 10) >>> 0 }],
  });
});

test('segments are aggregated up to the script length unless --strict_segments', async () => {
  const src = `${PASSIVE_OPEN}+0 write(4, ..., 2500) = 2500\n+0 > P. 1:2501(2500) ack 1\n`;
  assert.equal((await run(src)).status, 'passed');
  const f = failed(await run(`--strict_segments\n${src}`));
  assert.match(f.message, /flags \., expected P\./);
});

test('blocking calls: must return at the scripted time', async () => {
  const ok = `${PASSIVE_OPEN}+0...0.100 read(4, ..., 100) = 100\n+.1 < P. 1:101(100) ack 1 win 257\n+0 > . 1:1(0) ack 101\n`;
  assert.equal((await run(ok)).status, 'passed');
  const late = failed(await run(ok.replace('+0...0.100', '+0...0.050')));
  assert.equal(late.line, 10);
  assert.match(late.message, /blocking read\(\) returned at 0\.300s, expected at 0\.250s/);
  const stuck = failed(await run(`${PASSIVE_OPEN}+0...0.3 read(4, ..., 100) = 100\n`));
  assert.match(stuck.message, /still blocked/);
  const notBlocking = failed(await run(`${PASSIVE_OPEN}+0 read(4, ..., 100) = 100\n`));
  assert.match(notBlocking.message, /blocked, but the script expects it to return at once/);
});

test('syscall results and errnos are checked', async () => {
  const f = failed(
    await run(`0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 accept(3, ..., ...) = -1 EINVAL (x)\n`),
  );
  assert.match(f.message, /accept|expected/);
  const g = failed(
    await run(
      '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 fcntl(3, F_GETFL) = 0x2\n',
    ),
  );
  assert.match(g.message, /F_GETFL\): expected 0x2 but got 0x802/);
  const h = await run(
    '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 accept(3, ..., ...) = -1 EWOULDBLOCK (x)\n',
  );
  assert.equal(h.status, 'passed', JSON.stringify(h));
});

test('the three interpreter self-tests (EXPECT-FAIL in CURATED.md) fail where their "// Failure:" marker says', async () => {
  const scripts = [
    'google-packetdrill/gtests/net/packetdrill/tests/packet-timeout.pkt',
    'google-packetdrill/gtests/net/packetdrill/tests/linux/packetdrill/socket_err.pkt',
    'google-packetdrill/gtests/net/packetdrill/tests/linux/packetdrill/socket_wrong_err.pkt',
  ];
  const curated = readFileSync(`${CORPUS}CURATED.md`, 'utf8');
  for (const rel of scripts) {
    assert.match(curated, new RegExp(`${rel.replaceAll('.', '\\.')}\`:.*EXPECT-FAIL`));
    const src = readFileSync(CORPUS + rel, 'utf8');
    const markerLine = src.split('\n').findIndex((l) => l.includes('// Failure:')) + 1;
    const f = failed(await runScriptText(src, fakeFactory(), { path: rel }));
    // The failing event is the first event after the marker comment.
    const lines = src.split('\n');
    let expectedLine = markerLine + 1;
    while (!/^\s*[+0-9]/.test(lines[expectedLine - 1]!)) expectedLine++;
    assert.equal(f.line, expectedLine, `${rel}: ${f.message}`);
  }
  const sanity = await runScriptText(
    readFileSync(`${CORPUS}gvisor/test/packetdrill/sanity_test.pkt`, 'utf8'),
    fakeFactory(),
  );
  assert.equal(sanity.status, 'passed');
});

test('skips: Linux-only options, unmapped sysctls, missing target knobs (and a bad --ip_version fails)', async () => {
  let r = await run('--ip_version=ipv7\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n');
  assert.deepEqual([r.status, r.status === 'failed' && r.message], ['failed', 'bad --ip_version: ipv7']);
  r = await runScriptText(
    readFileSync(`${CORPUS}gvisor/test/packetdrill/tcp_defer_accept.pkt`, 'utf8'),
    fakeFactory(),
  );
  assert.equal(r.status, 'skipped');
  assert.match((r as { reason: string }).reason, /TCP_DEFER_ACCEPT/);
  r = await run('0 `sysctl -w net.inet.tcp.nonsense=1`\n+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n');
  assert.match((r as { reason: string }).reason, /unmapped sysctl net\.inet\.tcp\.nonsense=1/);
  r = await run('0 `sysctl -w net.inet.tcp.keepinit=75000`\n+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n');
  assert.match((r as { reason: string }).reason, /target has no setting keepInitUs=75000000/);
  r = await run('0 `rm -rf /`\n');
  assert.match((r as { reason: string }).reason, /unsupported shell command 'rm -rf \/'/);
});

test('FreeBSD sockstat state checks and %{ }% failures', async () => {
  const tw = `${PASSIVE_OPEN}+0 shutdown(4, SHUT_WR) = 0
+0 > F. 1:1(0) ack 1
+.1 < F. 1:1(0) ack 2 win 257
+0 > . 2:2(0) ack 2
+.1 \`sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1\`
`;
  assert.equal((await run(tw)).status, 'passed');
  const f = failed(await run(tw.replace('grep 1`', 'grep 0`')));
  assert.equal(f.line, 14);
  assert.match(f.message, /1 connection\(s\) in TIME-WAIT, expected 0/);
  const py = failed(
    await run(
      `${PASSIVE_OPEN}+0 %{\nassert tcpi_state == TCP_ESTABLISHED\nassert tcpi_snd_cwnd == 99, tcpi_snd_cwnd\n}%\n`,
    ),
  );
  assert.equal(py.line, 12);
  assert.match(py.message, /assert tcpi_snd_cwnd == 99, tcpi_snd_cwnd -> 14/); // fake: 10 x 1460 bytes over a 1000-byte MSS
});

test('--non_fatal=packet turns packet mismatches into warnings', async () => {
  const r = await run(`--non_fatal=packet\n${PASSIVE_OPEN.replace('ack 1 <mss', 'ack 1 win 1 <mss')}`);
  assert.equal(r.status, 'passed');
  assert.ok(r.status === 'passed' && r.warnings.some((w) => /window 65535, expected 1/.test(w)));
});

test('syntax errors in a script are failures at their position', async () => {
  const f = failed(await run('0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S 0:0(1)\n'));
  assert.equal(f.line, 2);
  assert.match(f.message, /^syntax error: inconsistent sequence range/);
});
