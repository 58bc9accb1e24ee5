/**
 * Off-path attacks on TCP replayed on a two-host memory network (issue #17): the attacker
 * knows a connection's addresses and ports but not its sequence numbers, and injects raw
 * frames into the cable. Each test prints its figures and asserts that the connection
 * survives or the limit holds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import { AF_INET, SOCK_STREAM } from '../../src/socket/constants.ts';
import type { Socket } from '../../src/socket/socket.ts';
import type { StackConfig } from '../../src/stack.ts';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import { tsNow } from '../../src/tcp/output.ts';
import { millis } from '../../src/time/instant.ts';
import { parseIpv4 } from '../../src/wire/address.ts';
import { internetChecksum, pseudoHeaderSumV4 } from '../../src/wire/checksum.ts';
import { IP_PROTO_TCP } from '../../src/wire/ipv4.ts';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/wire/tcp.ts';
import {
  connectionOf,
  type ForgedSegment,
  forgeTcpFrame,
  pair,
  randomBytes,
  recvExactly,
} from './tcp-net.ts';

type Net = ReturnType<typeof pair>;

function macOf(stack: Net['a'], ifname: string): Uint8Array {
  const i = stack.ip.getInterface(ifname);
  if (!i) throw new Error(`no ${ifname} on ${stack.name}`);
  return i.mac;
}

interface Session {
  cli: Socket;
  conn: Socket;
  srv: Socket;
  /** The client's (a's) and the server's (b's) end of the connection. */
  ca: TcpConnection;
  cb: TcpConnection;
  cport: number;
}

/** A listener on b:5000; run inside net.sim.run. */
async function listen(net: Net): Promise<Socket> {
  const srv = net.b.socket(AF_INET, SOCK_STREAM);
  await srv.bind(['0.0.0.0', 5000]);
  await srv.listen(8);
  return srv;
}

/** A connection from a to b:5000, established; run inside net.sim.run. */
async function connect(net: Net, listener?: Socket): Promise<Session> {
  const srv = listener ?? (await listen(net));
  const cli = net.a.socket(AF_INET, SOCK_STREAM);
  await cli.connect([net.bAddr, 5000]);
  const [conn] = await srv.accept();
  const [, cport] = cli.getsockname() as [string, number];
  return { cli, conn, srv, ca: connectionOf(net.a, cli)!, cb: connectionOf(net.b, conn)!, cport };
}

/** Forged segments "from a" into b (the attacker spoofs the client). */
function injectToB(net: Net, f: Omit<ForgedSegment, 'srcMac' | 'dstMac' | 'src' | 'dst'>): void {
  net.cable.aToB.send(
    forgeTcpFrame({
      srcMac: macOf(net.a, 'eth0'),
      dstMac: macOf(net.b, 'eth0'),
      src: net.aAddr,
      dst: net.bAddr,
      ...f,
    }),
  );
}

/** Sends `n` bytes from a to b and checks they arrive byte-exact. */
async function transferWorks(s: Session, n: number, seed: number): Promise<void> {
  const data = randomBytes(n, seed);
  const sending = s.cli.sendall(data);
  const got = await recvExactly(s.conn, n);
  await sending;
  assert.ok(sameBytes(got, data), 'the connection still moves data byte-exact');
}

/** Byte-exact comparison (inside sim.run: sha256 would wait on real time). */
function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const TCP = (net: Net) => ({ a: net.a.tcp.stats, b: net.b.tcp.stats });

describe('blind attacks on TCP (issue #17)', () => {
  it('TS.Recent poisoning: random 1-byte segments with random SEQ, ACK and TSval do not freeze the connection (RFC 7323 §4.3)', async () => {
    const net = pair({ seed: 171 });
    const rng = new SeededRng(171);
    const tries = 60_000;
    let poisoned = 0;
    await net.sim.run(async () => {
      const s = await connect(net);
      await transferWorks(s, 64 * 1024, 1);
      for (let i = 0; i < tries; i++) {
        injectToB(net, {
          srcPort: s.cport,
          dstPort: 5000,
          seq: rng.nextU32(),
          ack: rng.nextU32(),
          flags: TCP_ACK | TCP_PSH,
          options: { timestamps: { tsVal: rng.nextU32(), tsEcr: 0 } },
          payload: new Uint8Array(1),
        });
        if (i % 500 === 499) {
          await net.sim.sleep(millis(1));
          // TS.Recent far ahead of the client's clock: PAWS would now drop the real peer.
          if (((s.cb.tsRecent - tsNow(s.ca)) | 0) > 10_000_000) {
            poisoned++;
            break;
          }
        }
      }
      assert.equal(
        poisoned,
        0,
        `TS.Recent was moved ahead by a blind segment (${s.cb.stats.segsIn} segments in)`,
      );
      await transferWorks(s, 256 * 1024, 2);
      for (const x of [s.cli, s.conn, s.srv]) await x.close();
    });
    const st = TCP(net).b;
    console.log(
      `  ${tries} blind segments: ${st.outOfWindow} out of window, ${st.pawsDrops} PAWS drops, poisoned ${poisoned}`,
    );
    assert.equal(poisoned, 0, 'TS.Recent was not moved by a blind segment');
  });

  // An ACK of unsent data answered (RFC 9293 §3.10.7.4, FreeBSD) would feed a storm, which the
  // per-connection limit ends; Linux discards it silently (profile ackOfUnsentData), so the
  // exchange never starts.
  for (const answered of [true, false]) {
    it(`ACK storm: one injected 16-byte segment at RCV.NXT does not start an endless ACK exchange (RFC 5961 §7; ACK of unsent data ${answered ? 'answered' : 'discarded, as Linux'})`, async () => {
      const net = pair({ seed: 172, config: { tcp: { silentAckOfUnsent: !answered } } });
      let during = 0;
      await net.sim.run(async () => {
        const s = await connect(net);
        await transferWorks(s, 16 * 1024, 3);
        await net.sim.sleep(millis(500));
        // One segment "from a" that b accepts: b now acknowledges 16 bytes a never sent, a
        // answers that ACK of unsent data, b answers a's ACK as out of window, and so on.
        injectToB(net, {
          srcPort: s.cport,
          dstPort: 5000,
          seq: s.cb.rcv.nxt,
          ack: s.cb.snd.una,
          flags: TCP_ACK | TCP_PSH,
          options: { timestamps: { tsVal: s.cb.tsRecent, tsEcr: 0 } },
          payload: new Uint8Array(16),
        });
        const before = net.a.tcp.stats.segmentsOut + net.b.tcp.stats.segmentsOut;
        await net.sim.sleep(millis(5000));
        during = net.a.tcp.stats.segmentsOut + net.b.tcp.stats.segmentsOut - before;
        s.cli.close();
        s.conn.close();
        s.srv.close();
      });
      const st = TCP(net);
      console.log(
        `  segments in the 5 s after the injection: ${during}; replies held back: a ${st.a.invalidAcksSuppressed}, b ${st.b.invalidAcksSuppressed}`,
      );
      // At most one reply per 500 ms from each end: about 20 in 5 s, not thousands.
      assert.ok(during <= 24, `${during} segments in 5 s`);
      if (answered)
        assert.ok(st.a.invalidAcksSuppressed + st.b.invalidAcksSuppressed > 0, 'the limit held replies back');
      else {
        // b's ACK of the 16 bytes reaches a, which discards it without a word.
        assert.ok(st.a.ackOfUnsent > 0, 'a saw the ACK of unsent data');
        assert.ok(during <= 2, `${during} segments in 5 s`);
      }
    });
  }

  it("challenge-ACK side channel (CVE-2016-5696): the challenge ACKs on the attacker's own connection do not tell whether a spoofed RST was in the window", async () => {
    /** Challenge ACKs the attacker counts on its own connection in one second. */
    const probe = async (inWindow: boolean, config?: StackConfig): Promise<number[]> => {
      const net = pair({ seed: 173, config });
      const counts: number[] = [];
      await net.sim.run(async () => {
        const victim = await connect(net);
        const own = await connect(net, victim.srv);
        for (let round = 0; round < 4; round++) {
          await net.sim.sleep(millis(1000) - (net.sim.clock.now() % millis(1000)));
          // 100 spoofed RSTs on the victim connection: in the window (not at RCV.NXT, so
          // each asks for a challenge ACK) or not.
          const base = inWindow ? victim.cb.rcv.nxt + 1 : victim.cb.rcv.nxt + 0x80000000;
          for (let i = 0; i < 100; i++)
            injectToB(net, { srcPort: victim.cport, dstPort: 5000, seq: base + i, flags: TCP_RST });
          // Then 1200 in-window RSTs on its own connection, counting b's challenge ACKs.
          const sent = own.cb.stats.segsOut;
          for (let i = 0; i < 1200; i++)
            injectToB(net, {
              srcPort: own.cport,
              dstPort: 5000,
              seq: own.cb.rcv.nxt + 1 + i,
              flags: TCP_RST,
            });
          await net.sim.sleep(millis(10));
          counts.push(own.cb.stats.segsOut - sent);
        }
        assert.equal(victim.cb.state, 'ESTABLISHED');
        await transferWorks(victim, 4096, 4);
      });
      return counts;
    };
    const hit = await probe(true);
    const miss = await probe(false);
    console.log(`  challenge ACKs seen per second: guess in window ${hit}, out of window ${miss}`);
    assert.deepEqual(hit, miss, 'the attacker sees the same count either way');
    // And with the per-connection limit off, the host-wide count is random per second.
    const hostWide = await probe(true, { tcp: { invalidRateLimit: 0 } });
    console.log(`  with invalidRateLimit 0 (host-wide limit alone): ${hostWide}`);
    assert.ok(new Set(hostWide).size > 1, 'the host-wide limit varies from second to second');
  });

  it('SACK blocks beyond SND.MAX are ignored: a forged in-window ACK does not cut cwnd (RFC 2018, Linux tcp_is_sackblock_valid)', async () => {
    const net = pair({ seed: 174 });
    let cwndBefore = 0;
    let cwndAfter = 0;
    let fastRetransmitsAfter = -1;
    await net.sim.run(async () => {
      const s = await connect(net);
      // 16 MiB: with super-segments 4 MiB are all sent and acknowledged before the outage.
      const data = randomBytes(16 << 20, 5);
      const sending = s.cli.sendall(data);
      const receiving = recvExactly(s.conn, data.length);
      await net.sim.sleep(millis(60));
      // Hold a's data back for a moment, so that b sends nothing and a's SND.UNA stays put.
      net.cable.aToB.configure({ delay: millis(1), loss: 1 });
      await net.sim.sleep(millis(3));
      const c = s.ca;
      assert.ok(c.sndMax !== c.snd.una, 'data in flight');
      cwndBefore = c.cc.cwnd;
      // "From b" to a: a duplicate ACK (SND.UNA, the window a knows) with a block 100 MB ahead.
      const far = (c.sndMax + 100_000_000) >>> 0;
      net.cable.bToA.send(
        forgeTcpFrame({
          srcMac: macOf(net.b, 'eth0'),
          dstMac: macOf(net.a, 'eth0'),
          src: net.bAddr,
          dst: net.aAddr,
          srcPort: 5000,
          dstPort: s.cport,
          seq: c.rcv.nxt,
          ack: c.snd.una,
          flags: TCP_ACK,
          window: c.snd.wnd >>> c.sndWscale,
          options: {
            timestamps: { tsVal: c.tsRecent, tsEcr: 0 },
            sack: [{ left: far, right: (far + 1_000_000) >>> 0 }],
          },
        }),
      );
      await net.sim.sleep(millis(2));
      cwndAfter = c.cc.cwnd;
      // Counted now: the segments the outage dropped are real losses, which the data after
      // it may well recover by fast retransmit (more of it in flight with an autotuned buffer).
      fastRetransmitsAfter = TCP(net).a.fastRetransmits;
      net.cable.aToB.configure({ delay: millis(1), loss: 0 });
      await sending;
      assert.ok(sameBytes(await receiving, data), 'byte-exact');
      for (const x of [s.cli, s.conn, s.srv]) await x.close();
    });
    const st = TCP(net).a;
    console.log(
      `  cwnd ${cwndBefore} -> ${cwndAfter}; fast retransmits ${fastRetransmitsAfter} after the forged ACK (${st.fastRetransmits} in all), invalid SACK blocks ${st.invalidSackBlocks}`,
    );
    assert.equal(fastRetransmitsAfter, 0, 'no recovery on a forged SACK block');
    assert.ok(cwndAfter >= cwndBefore, 'cwnd not cut');
    assert.equal(st.invalidSackBlocks, 1);
  });

  it('SYN+FIN to a listening port is dropped (Linux), answered under the FreeBSD profile (drop_synfin = 0)', async () => {
    for (const [profile, answered] of [
      ['linux', false],
      ['freebsd', true],
    ] as const) {
      const net = pair({ seed: 175, config: { tcp: { profile } } });
      await net.sim.run(async () => {
        const srv = net.b.socket(AF_INET, SOCK_STREAM);
        await srv.bind(['0.0.0.0', 5000]);
        await srv.listen(8);
        const out = net.b.tcp.stats.segmentsOut;
        injectToB(net, { srcPort: 40000, dstPort: 5000, seq: 1000, flags: TCP_SYN | TCP_FIN });
        await net.sim.sleep(millis(10));
        assert.equal(net.b.tcp.stats.segmentsOut - out > 0, answered, profile);
        assert.equal(net.b.tcp.stats.synFinDrops, answered ? 0 : 1, profile);
        srv.close();
      });
    }
  });

  it('a SYN with a malformed option is answered with the options before it, as Linux answers it', async () => {
    const net = pair({ seed: 176 });
    const cases: [string, number[], number | undefined][] = [
      ['option length 0', [2, 4, 0x05, 0xb4, 0xfe, 0, 1, 1], 1460],
      ['option length 1', [2, 4, 0x05, 0xb4, 0xfe, 1, 1, 1], 1460],
      ['MSS of length 255', [1, 1, 1, 1, 2, 255, 0x05, 0xb4], undefined],
      ['truncated timestamp', [2, 4, 0x04, 0x00, 8, 10, 0, 0, 0, 1, 0, 0], 1024],
    ];
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 5000]);
      await srv.listen(8);
      let port = 41000;
      for (const [what, options, mss] of cases) {
        const before = net.b.tcp.stats.passiveOpens;
        net.cable.aToB.send(synWithRawOptions(net, port++, options));
        // b has answered, and a's RST for that SYN-ACK has not yet come back.
        await net.sim.sleep(millis(1) + 500);
        assert.equal(net.b.tcp.stats.passiveOpens - before, 1, `${what}: answered with a SYN-ACK`);
        const embryo = [...net.b.tcp.connections()].find((c) => c.remote.port === port - 1);
        assert.ok(embryo, what);
        assert.equal(embryo.mss, Math.min(mss ?? 536, 1460), `${what}: the MSS parsed before the bad option`);
        await net.sim.sleep(millis(5));
      }
      srv.close();
    });
    console.log(`  ${cases.length} malformed SYNs answered`);
  });
});

/** An Ethernet frame with a SYN from a to b:5000 whose options area is `options` (raw bytes). */
function synWithRawOptions(net: Net, srcPort: number, options: number[]): Uint8Array {
  const pad = (4 - (options.length % 4)) % 4;
  const opts = [...options, ...new Array(pad).fill(0)];
  // Forge with a placeholder options area of the same length, then overwrite it.
  const frame = forgeTcpFrame({
    srcMac: macOf(net.a, 'eth0'),
    dstMac: macOf(net.b, 'eth0'),
    src: net.aAddr,
    dst: net.bAddr,
    srcPort,
    dstPort: 5000,
    seq: 7777,
    flags: TCP_SYN,
    payload: new Uint8Array(opts.length),
  });
  const tcp = frame.subarray(34);
  tcp[12] = ((20 + opts.length) / 4) << 4;
  tcp.set(opts, 20);
  tcp[16] = 0;
  tcp[17] = 0;
  const sum = internetChecksum(
    tcp,
    pseudoHeaderSumV4(parseIpv4(net.aAddr)!, parseIpv4(net.bAddr)!, IP_PROTO_TCP, tcp.length),
  );
  tcp[16] = sum >>> 8;
  tcp[17] = sum & 0xff;
  return frame;
}
