import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planCommand } from '../../src/conformance/commands.ts';
import { buildTcpPacket, decodePacket, F_SYN } from '../../src/conformance/packet.ts';
import { runScriptText } from '../../src/conformance/runner.ts';
import { StackSettings } from '../../src/conformance/stack-settings.ts';
import { StackTarget, stackTargetFactory } from '../../src/conformance/stack-target.ts';
import type { TargetConfig } from '../../src/conformance/target.ts';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import { FREEBSD, LINUX } from '../../src/tcp/profile.ts';

const CONFIG: TargetConfig = {
  ipVersion: 4,
  localIp: '192.168.0.1',
  remoteIp: '192.0.2.1',
  gatewayIp: '192.168.0.2',
  prefixLength: 24,
  mtu: 1500,
  dialect: 'linux',
};

test('inject is delivered from a timer at the same instant; replies carry that time', async () => {
  const t = new StackTarget(CONFIG);
  t.advance(5_000);
  const syn = buildTcpPacket(
    { src: CONFIG.remoteIp, dst: CONFIG.localIp, ttl: 64 },
    {
      srcPort: 40000,
      dstPort: 9,
      seq: 1,
      ack: 0,
      flags: F_SYN,
      window: 1000,
      options: [],
      payload: new Uint8Array(0),
    },
  );
  t.inject(syn);
  assert.equal(t.takeOutbound().length, 0, 'not delivered re-entrantly');
  assert.equal(t.nextDeadline(), 5_000);
  t.advance(5_000);
  const out = t.takeOutbound();
  assert.equal(out.length, 1);
  assert.equal(out[0]!.time, 5_000);
  const d = decodePacket(out[0]!.packet);
  assert.ok(!('error' in d) && d.proto === 'tcp' && d.tcp.flags & 0x04, 'RST for a closed port');
});

test('settings map onto the TCP config; unknown knobs answer false', () => {
  const t = new StackTarget(CONFIG);
  assert.equal(t.configure({ name: 'sack', value: false }), true);
  assert.equal(t.stack.tcp.config.sack, false);
  assert.equal(t.configure({ name: 'minRtoUs', value: 30_000 }), true);
  assert.equal(t.stack.tcp.config.minRto, 30_000);
  assert.equal(t.configure({ name: 'ecn', value: 1 }), true); // RFC 3168: ask and accept
  assert.equal(t.stack.tcp.config.ecn, 1);
  assert.equal(t.configure({ name: 'ecn', value: 3 }), false); // AccECN (RFC 9768): none
  assert.equal(t.configure({ name: 'mtuProbing', value: 1 }), false);
  assert.equal(t.configure({ name: 'noSuchKnob', value: 1 }), false);
});

test('a UDP script and a listener state check run end to end', async () => {
  const r = await runScriptText(
    '0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3\n+0 bind(3, ..., ...) = 0\n+0 close(3) = 0\n' +
      '+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n' +
      '+0 %{ assert tcpi_state == TCP_LISTEN }%\n+0 close(3) = 0\n',
    stackTargetFactory,
  );
  assert.equal(r.status, 'passed', JSON.stringify(r));
});

test('tcp_rmem[2] and kern.ipc.maxsockbuf size the offered window scale (RFC 7323 §2.3)', async () => {
  const rmem = planCommand('sysctl -q net.ipv4.tcp_rmem="4096 540000 15728640"');
  assert.ok(rmem.ok);
  const names = rmem.actions.map((a) =>
    a.kind === 'setting' ? `${a.setting.name}=${a.setting.value}` : a.kind,
  );
  assert.deepEqual(names, ['recvBufferDefault=540000', 'maxRecvBuffer=15728640']);
  // Linux defaults.sh: tcp_rmem[2] 15728640 -> wscale 8, whatever SO_RCVBUF is.
  const linux = await runScriptText(
    '`../common/defaults.sh`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n' +
      '+0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [4096], 4) = 0\n' +
      '+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 connect(3, ..., ...) = -1 EINPROGRESS\n' +
      '+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>\n',
    stackTargetFactory,
    { allowUnexpectedPackets: true },
  );
  assert.equal(linux.status, 'passed', JSON.stringify(linux));
  // FreeBSD dialect: sb_max 2 MiB -> wscale 6 by default; maxsockbuf changes it.
  const bsd = (extra: string, ws: number) =>
    runScriptText(
      `${extra}0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n` +
        '+0 connect(3, ..., ...) = -1 EINPROGRESS\n' +
        `+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale ${ws},sackOK,TS val 100 ecr 0>\n`,
      stackTargetFactory,
      { dialect: 'freebsd', allowUnexpectedPackets: true },
    );
  const d = await bsd('', 6);
  assert.equal(d.status, 'passed', JSON.stringify(d));
  const big = await bsd('0 `sysctl -w kern.ipc.maxsockbuf=8388608`\n', 8);
  assert.equal(big.status, 'passed', JSON.stringify(big));
});

test('tcp_wmem[2], net.inet.tcp.sendbuf_max and sendbuf_auto set send-buffer autotuning (tcp/sndbuf-auto.ts)', () => {
  const apply = (cmd: string, profile: typeof LINUX) => {
    const plan = planCommand(cmd);
    assert.ok(plan.ok, cmd);
    const c = tcpConfigFor(profile);
    const s = new StackSettings(c, profile, profile.name);
    for (const a of plan.actions) if (a.kind === 'setting') assert.ok(s.configure(a.setting), cmd);
    return c;
  };
  const linux = apply('sysctl -q net.ipv4.tcp_wmem="4096 16384 8388608"', LINUX);
  assert.deepEqual(
    [linux.sndBuf, linux.maxSndBuf, linux.sndBufAuto],
    [16384, 8388608, 'linux-sndbuf-expand'],
  );
  const bsd = apply('sysctl -w net.inet.tcp.sendbuf_max=1048576', FREEBSD);
  assert.deepEqual([bsd.maxSndBuf, bsd.sndBufAuto], [1048576, 'freebsd-sendbuf-auto']);
  assert.equal(apply('sysctl -w net.inet.tcp.sendbuf_auto=0', FREEBSD).sndBufAuto, 'none');
});

test('--udp_encapsulation=tcp: /udp(...) packets ride in UDP both ways, and the tunnel must match', async () => {
  const script = `--udp_encapsulation=tcp
 0 \`sysctl -w net.inet.tcp.udp_tunneling_port=9811\`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460>/udp(1234 > 9811)
+0 > S. 0:0(0) ack 1 win 65535 <...>/udp(9811 > 1234)
+.1 < . 1:1(0) ack 1 win 65535/udp(1234 > 9811)
+0 accept(3, ..., ...) = 4
+0 < P. 1:11(10) ack 1 win 65535/udp(5 > 9811)
+0 > R 1:1(0) win 0/udp(9811 > 5)
`;
  const ok = await runScriptText(script, stackTargetFactory, { path: 'freebsd/x.pkt' });
  assert.equal(ok.status, 'passed', JSON.stringify(ok));
  // The SYN-ACK is tunnelled: a line expecting plain TCP there fails and says why.
  const plain = await runScriptText(script.replace('<...>/udp(9811 > 1234)', '<...>'), stackTargetFactory, {
    path: 'freebsd/x.pkt',
  });
  assert.equal(plain.status, 'failed');
  assert.match(
    (plain as { message: string }).message,
    /UDP-encapsulated \(9811 > 1234\), expected plain TCP/,
  );
  const ports = await runScriptText(script.replace('/udp(9811 > 5)', '/udp(9811 > 6)'), stackTargetFactory, {
    path: 'freebsd/x.pkt',
  });
  assert.match((ports as { message: string }).message, /UDP ports 9811 > 5, expected 9811 > 6/);
});

test("the target builds its stack with the script's TCP profile and maps sysctls onto it", () => {
  const bsd = new StackTarget({ ...CONFIG, dialect: 'freebsd' });
  const c = bsd.stack.tcp.config;
  assert.equal(bsd.profile.name, 'freebsd');
  assert.equal(c.profile, 'freebsd');
  assert.equal(c.sockBufRounding, 'mss-multiple');
  assert.equal(c.minRto, 230_000); // rexmit_min 30 ms + rexmit_slop 200 ms
  // net.inet.tcp.rexmit_min and rexmit_slop: the RTO floor is their sum.
  assert.equal(bsd.configure({ name: 'minRtoUs', value: 50_000 }), true);
  assert.equal(c.minRto, 250_000);
  assert.equal(bsd.configure({ name: 'rtoSlopUs', value: 100_000 }), true);
  assert.deepEqual([c.minRto, c.synRtoSlop], [150_000, 100_000]);
  // net.inet.tcp.fastopen.server_enable / client_enable: the server and client bits.
  const tfo = c.fastOpen;
  assert.equal(bsd.configure({ name: 'fastOpenServer', value: true }), true);
  assert.equal(c.fastOpen, tfo | 0x2);
  assert.equal(bsd.configure({ name: 'fastOpenClient', value: false }), true);
  assert.equal(c.fastOpen, (tfo | 0x2) & ~0x1);

  const linux = new StackTarget(CONFIG);
  const l = linux.stack.tcp.config;
  assert.equal(l.profile, 'linux');
  assert.equal(l.sockBufRounding, 'none');
  assert.equal(l.maxRcvBuf, 3 * 1024 * 1024); // the recording host's tcp_rmem[2]
  assert.equal(linux.configure({ name: 'rtoSlopUs', value: 100_000 }), false); // Linux has no slop
  assert.equal(linux.configure({ name: 'minRtoUs', value: 50_000 }), true);
  assert.equal(l.minRto, 50_000);
  bsd.close();
  linux.close();
});
