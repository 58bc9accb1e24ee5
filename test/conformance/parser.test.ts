import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { parseScript, ScriptSyntaxError } from '../../src/conformance/parser.ts';

const CORPUS = new URL('../fixtures/packetdrill/', import.meta.url).pathname;

function pktFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) pktFiles(p, out);
    else if (name.endsWith('.pkt')) out.push(p);
  }
  return out.sort();
}

test('every curated script parses (with -D STANDARD and without)', () => {
  const files = pktFiles(CORPUS);
  assert.equal(files.length, 173);
  for (const f of files) {
    const src = readFileSync(f, 'utf8');
    for (const defines of [{ STANDARD: '1' }, { FreeBSD: '1' }, {}] as Record<string, string>[]) {
      try {
        const s = parseScript(src, { defines });
        assert.ok(s.events.length > 0, relative(CORPUS, f));
      } catch (e) {
        assert.fail(`${relative(CORPUS, f)}: ${(e as Error).message}`);
      }
    }
  }
});

test('#ifdef selects branches by -D defines', () => {
  const src =
    '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n#ifdef STANDARD\n+0 close(3) = 0\n#else\n+0 listen(3, 1) = 0\n#endif\n';
  const std = parseScript(src, { defines: { STANDARD: '1' } });
  assert.deepEqual(
    std.events.map((e) => (e.kind === 'syscall' ? e.name : e.kind)),
    ['socket', 'close'],
  );
  const other = parseScript(src, {});
  assert.deepEqual(
    other.events.map((e) => (e.kind === 'syscall' ? e.name : e.kind)),
    ['socket', 'listen'],
  );
});

test('times: absolute, relative, any, ranges, blocking end', () => {
  const s = parseScript(
    [
      '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3',
      '+.1...0.200 connect(3, ..., ...) = 0',
      '* > S 0:0(0) <...>',
      '+.35~+2.35 > S. 0:0(0) ack 1 <...>',
      '0.5~0.6 > . 1:1(0) ack 1',
    ].join('\n'),
  );
  const [a, b, c, d, e] = s.events;
  assert.deepEqual(a!.time, { kind: 'absolute', usecs: 0 });
  assert.deepEqual(b!.time, { kind: 'relative', usecs: 100000 });
  assert.ok(b!.kind === 'syscall' && b!.end?.kind === 'relative' && b!.end.usecs === 200000);
  assert.deepEqual(c!.time, { kind: 'any' });
  assert.deepEqual(d!.time, { kind: 'range', relative: true, start: 350000, end: 2350000 });
  assert.deepEqual(e!.time, { kind: 'range', relative: false, start: 500000, end: 600000 });
});

test('TCP packet lines: flags, seq, ack, win, urg, options, ip info, absolute seq, udp encap', () => {
  const s = parseScript(
    [
      '0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>',
      '+0 > (tos 0x20) R. 0:0(0)! ack 2 win 0/udp(9811 > 1)',
      '+0 < . 1:1(0) ack 1001 win 257 urg 3 <nop,nop,TS val 100 ecr 700,sack 1:1001 2001:3001,eol>',
      '+0 > FP. 1:5(4) ack 1 <...>',
      '+0 < - 1:1001(1000) win 20000',
      '+0 < (ttl 3) SR 0:0(0) win 65535',
      '+0 > 1234>8080 S 0:0(0) <md5 00112233445566778899aabbccddeeff,FO abcd,FOEXP>',
    ].join('\n'),
  );
  const p = s.events.map((e) =>
    e.kind === 'packet' && e.packet.proto === 'tcp' ? e : assert.fail('not tcp'),
  );
  assert.equal(p[0]!.direction, 'inbound');
  assert.deepEqual((p[0]!.packet as { options: unknown }).options, [
    { kind: 'mss', value: 1000 },
    { kind: 'sackOK' },
    { kind: 'nop' },
    { kind: 'nop' },
    { kind: 'nop' },
    { kind: 'wscale', value: 7 },
  ]);
  const rst = p[1]!.packet as import('../../src/conformance/ast.ts').TcpPacketSpec;
  assert.equal(rst.flags, 'R');
  assert.equal(rst.ackFlag, true);
  assert.equal(rst.seq.absolute, true);
  assert.deepEqual(rst.udpEncap, { src: 9811, dst: 1 });
  assert.deepEqual(p[1]!.ip, { tos: 0x20 });
  const ack = p[2]!.packet as import('../../src/conformance/ast.ts').TcpPacketSpec;
  assert.equal(ack.urg, 3);
  assert.deepEqual(ack.options?.[2], { kind: 'ts', val: 100, ecr: 700 });
  assert.deepEqual(ack.options?.[3], {
    kind: 'sack',
    blocks: [
      { left: 1, right: 1001 },
      { left: 2001, right: 3001 },
    ],
  });
  assert.equal((p[3]!.packet as { options: unknown }).options, 'any');
  assert.equal((p[4]!.packet as { flags: string }).flags, '');
  assert.deepEqual(p[5]!.ip, { ttl: 3 });
  assert.deepEqual((p[6]!.packet as { ports: unknown }).ports, { src: 1234, dst: 8080 });
});

test('UDP and ICMP lines, including the nplab quoted-packet form', () => {
  const s = parseScript(
    [
      '0 < udp(1000)',
      '+0 > udp (8)',
      '+0 < icmp unreachable port_unreachable [4294967295:4294967295(0)]',
      '+0 < [1:1461(1460)] icmp unreachable frag_needed mtu 1200',
      '+0 <icmp type_255 code_0',
      '+0 < icmp echo_request id 7 [udp(20)]',
    ].join('\n'),
  );
  const [u1, u2, i1, i2, i3, i4] = s.events.map((e) => (e.kind === 'packet' ? e.packet : assert.fail('x')));
  assert.deepEqual(u1, { proto: 'udp', ports: undefined, len: 1000 });
  assert.deepEqual(u2, { proto: 'udp', ports: undefined, len: 8 });
  assert.ok(i1!.proto === 'icmp' && i1!.echoed?.kind === 'tcp' && i1!.echoed.seq.start === 4294967295);
  assert.ok(
    i2!.proto === 'icmp' && i2!.mtu === 1200 && i2!.echoed?.kind === 'tcp' && i2!.echoed.seq.len === 1460,
  );
  assert.ok(i3!.proto === 'icmp' && i3!.type === 'type_255' && i3!.code === 'code_0');
  assert.ok(i4!.proto === 'icmp' && i4!.id === 7 && i4!.echoed?.kind === 'udp');
});

test('syscall lines: argument forms, errno and note', () => {
  const s = parseScript(
    [
      '0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0',
      '+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0',
      '+0 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)',
      '+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)',
      '+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0',
      '+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.168.0.1")}, 16) = 0',
      '+0 write(3, "hello"..., 5) = 5',
      '+0 sendmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 10}], msg_flags=0,',
      '      msg_control=[{cmsg_level=SOL_IP, cmsg_type=IP_TTL, cmsg_data=0}]}, 0) = -1 EINVAL (Invalid argument)',
      '+0 close(3) = 0',
    ].join('\n'),
  );
  const calls = s.events.map((e) => (e.kind === 'syscall' ? e : assert.fail('x')));
  assert.equal(calls[0]!.args[3]!.kind, 'struct');
  assert.equal(calls[1]!.args[2]!.kind, 'or');
  assert.deepEqual(calls[2]!.result, { kind: 'int', value: 2, pos: { line: 3, col: 24 } });
  assert.equal(calls[2]!.note, 'flags O_RDWR');
  assert.equal(calls[2]!.errno, undefined);
  assert.equal(calls[3]!.errno, 'EINPROGRESS');
  assert.equal(calls[3]!.note, 'Operation now in progress');
  assert.ok(calls[5]!.args[1]!.kind === 'struct' && calls[5]!.args[1]!.items.length === 3);
  assert.ok(calls[6]!.args[1]!.kind === 'string' && calls[6]!.args[1]!.ellipsis);
  // A call over two lines: the errno and note follow the result on its line.
  assert.equal(calls[7]!.errno, 'EINVAL');
  assert.equal(calls[7]!.note, 'Invalid argument');
  assert.equal(calls[8]!.errno, undefined);
});

test('options, init/cleanup commands, code blocks, comments', () => {
  const s = parseScript(
    [
      '--tolerance_usecs=10000',
      '--ip_version=ipv4',
      '`../common/defaults.sh',
      ' sysctl -q net.ipv4.tcp_tso_win_divisor=100`',
      "// comment with ``quotes''",
      '/* block',
      '   comment */',
      '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3',
      '+0 %{',
      'assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd',
      '}%',
      '+0 `sysctl -w net.inet.tcp.sack.enable=1`',
      '`/tmp/sysctl_restore_$' + '{PPID}.sh`',
    ].join('\n'),
  );
  assert.deepEqual(
    s.options.map((o) => [o.name, o.value]),
    [
      ['tolerance_usecs', '10000'],
      ['ip_version', 'ipv4'],
    ],
  );
  assert.match(s.initCommand!.command, /defaults\.sh\n sysctl/);
  assert.equal(s.cleanupCommand!.command, '/tmp/sysctl_restore_$' + '{PPID}.sh');
  assert.equal(s.events[1]!.kind, 'code');
  assert.equal(s.events[2]!.kind, 'command');
});

function syntaxError(src: string): ScriptSyntaxError {
  try {
    parseScript(src);
  } catch (e) {
    if (e instanceof ScriptSyntaxError) return e;
    throw e;
  }
  return assert.fail('expected a syntax error');
}

test('errors carry line:column and say what is wrong', () => {
  let e = syntaxError('0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:10(5) win 100');
  assert.deepEqual(e.pos, { line: 2, col: 8 });
  assert.match(e.message, /^2:8: inconsistent sequence range 0:10\(5\)/);
  e = syntaxError('0 > S 0:0(0) <mss 1460, bogus 3>');
  assert.deepEqual(e.pos, { line: 1, col: 25 });
  assert.match(e.message, /unknown TCP option 'bogus'/);
  e = syntaxError('0 > X 0:0(0)');
  assert.match(e.message, /1:5: unknown TCP flags 'X'/);
  e = syntaxError('0 close(3) = 0\n+0 < icmp unreachable [1:1(0)');
  assert.match(e.message, /^2:30: expected '\]'/);
  e = syntaxError('0 close(3) = 0 EBADF (bad fd) 7');
  assert.match(e.message, /1:31: unexpected '7' at the end of the event/);
  e = syntaxError('0 < S 0:0(0) win 1\n+0 close(3)');
  assert.match(e.message, /end of file/);
  e = syntaxError('* close(3) = 0');
  assert.match(e.message, /only for outbound packets/);
  e = syntaxError('1 close(3) = 0');
  assert.match(e.message, /first event must be at time 0/);
  e = syntaxError('0 close(3) = 0\n#ifdef X\n');
  assert.match(e.message, /2:1: unterminated #ifdef/);
  e = syntaxError('0 %{ assert 1\n');
  assert.match(e.message, /1:3: unterminated %\{/);
});

test('ECN codepoints in brackets before the flags (Linux packetdrill: [noecn], [ect0], [ect1], [ce], [ect01])', () => {
  const src = [
    '0 < [ect0] SEW 0:0(0) win 100',
    '+0 > [noecn] SE. 0:0(0) ack 1',
    '+0 < [ce] P. 1:11(10) ack 1 win 100',
    '+0 < [ect1] . 11:21(10) ack 1 win 100',
    '+0 > [ect01] EP. 1:2(1) ack 21',
    '+0 > E. 2:2(0) ack 21',
  ].join('\n');
  const s = parseScript(src);
  const ecn = s.events.map((e) => (e.kind === 'packet' ? e.ip?.ecn : 'not a packet'));
  assert.deepEqual(ecn, [2, 0, 3, 1, 'ect01', undefined]);
  const flags = s.events.map((e) => (e.kind === 'packet' && e.packet.proto === 'tcp' ? e.packet.flags : ''));
  assert.deepEqual(flags, ['SEW', 'SE', 'P', '', 'EP', 'E']);
  assert.throws(() => parseScript('0 < [ecn9] S 0:0(0) win 100'), ScriptSyntaxError);
});
