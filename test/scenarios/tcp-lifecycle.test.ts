/**
 * Whole-stack TCP connection lifecycles and attacks, asserted through what a user
 * of the sockets API sees: simultaneous close, half-close, refused connections,
 * backlog overflow, a SYN flood with SYN cookies, blind RST/SYN/data injection,
 * TIME-WAIT for 2×MSL, connect timeouts and keepalive. Virtual time throughout.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import {
  AF_INET,
  IPPROTO_TCP,
  SHUT_WR,
  SO_KEEPALIVE,
  SO_REUSEADDR,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
} from '../../src/socket/constants.ts';
import { SocketError } from '../../src/socket/errno.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/wire/tcp.ts';
import {
  connectionOf,
  forgeTcpFrame,
  pair,
  randomBytes,
  recvAll,
  recvExactly,
  routed,
  sha256,
} from './tcp-net.ts';

const code = (c: string) => (e: unknown) => e instanceof SocketError && e.code === c;
const enc = new TextEncoder();
const dec = new TextDecoder();

function macOf(stack: ReturnType<typeof pair>['a'], ifname: string): Uint8Array {
  const i = stack.ip.getInterface(ifname);
  if (!i) throw new Error(`no ${ifname} on ${stack.name}`);
  return i.mac;
}

function states(stack: ReturnType<typeof pair>['a']): string[] {
  return [...stack.tcp.connections()].map((c) => c.state).sort();
}

describe('TCP lifecycle through the sockets API', () => {
  it('simultaneous close: both FINs cross, both sides pass CLOSING into TIME-WAIT, gone after 2×MSL', async () => {
    const net = pair({ seed: 11 });
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 5000]);
      await srv.listen(1);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      await cli.sendall('ping');
      assert.equal(dec.decode(await recvExactly(conn, 4)), 'ping');
      await conn.sendall('pong');
      assert.equal(dec.decode(await recvExactly(cli, 4)), 'pong');
      // Same virtual instant: both FINs are on the wire before either arrives.
      cli.shutdown(SHUT_WR);
      conn.shutdown(SHUT_WR);
      assert.equal((await cli.recv(10)).length, 0);
      assert.equal((await conn.recv(10)).length, 0);
      await net.sim.sleep(millis(50));
      assert.deepEqual(states(net.a), ['TIME-WAIT']);
      assert.deepEqual(states(net.b), ['TIME-WAIT']);
      await cli.close();
      await conn.close();
      await srv.close();
      await net.sim.sleep(seconds(61));
      assert.equal(net.a.tcp.connectionCount + net.b.tcp.connectionCount, 0);
    });
  });

  it('half-close across a router: request, SHUT_WR, then a 1 MiB response on the still-open direction', async () => {
    const net = routed({ seed: 12 });
    const response = randomBytes(1 << 20, 12);
    const got = await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 8080]);
      await srv.listen(4);
      const server = (async () => {
        const [conn] = await srv.accept();
        const req = await recvAll(conn); // ends at the client's FIN
        assert.equal(dec.decode(req), 'GET /big');
        await conn.sendall(response);
        await conn.close();
      })();
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 8080]);
      await cli.sendall('GET /big');
      cli.shutdown(SHUT_WR);
      const body = await recvAll(cli);
      await server;
      await cli.close();
      await srv.close();
      return body;
    });
    assert.equal(await sha256(got), await sha256(response));
  });

  it('a SYN to a closed port across the router is answered by RST: connect() fails with ECONNREFUSED', async () => {
    const net = routed({ seed: 13 });
    await net.sim.run(async () => {
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      const t0 = net.sim.now;
      await assert.rejects(cli.connect([net.bAddr, 9]), code('ECONNREFUSED'));
      assert.ok(net.sim.now - t0 < millis(50), 'refused within one round trip (no retries)');
      assert.equal(net.b.tcp.stats.noListener, 1);
      assert.equal(net.a.tcp.connectionCount, 0);
      await cli.close();
    });
  });

  it('listen backlog overflow: excess SYNs are dropped, not refused; every client gets in once accept() drains the queue', async () => {
    const net = pair({ seed: 14 });
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 5000]);
      await srv.listen(2);
      const clients = Array.from({ length: 6 }, () => net.a.socket(AF_INET, SOCK_STREAM));
      const connects = clients.map((c) => c.connect([net.bAddr, 5000]));
      await net.sim.sleep(millis(500));
      const l = [...net.b.tcp.listeners()][0];
      // Linux sk_acceptq_is_full: listen(2) holds backlog + 1 = 3 connections.
      assert.equal(l.acceptQueueLength, 3, 'the accept queue holds backlog + 1 connections');
      assert.ok(net.b.tcp.stats.backlogDrops >= 3, `backlogDrops ${net.b.tcp.stats.backlogDrops}`);
      assert.equal(net.b.tcp.stats.rstSent, 0, 'nobody was refused');
      const accepted = [];
      for (let i = 0; i < clients.length; i++) accepted.push((await srv.accept())[0]);
      await Promise.all(connects);
      for (const [i, c] of clients.entries()) await c.sendall(`client ${i}`);
      const seen = new Set<string>();
      for (const k of accepted) seen.add(dec.decode(await recvExactly(k, 8)));
      assert.equal(seen.size, 6);
      for (const s of [...clients, ...accepted, srv]) await s.close();
    });
  });

  it('SYN flood from forged sources: SYN cookies keep admitting a legitimate client', async () => {
    const net = routed({ seed: 15 });
    const rng = new SeededRng(15);
    const routerMac = macOf(net.router, 'eth1');
    const bMac = macOf(net.b, 'eth0');
    const reply = await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 8080]);
      await srv.listen(128);
      // 10 SYNs per ms from 198.18.0.0/15 (nobody answers the SYN-ACKs), straight onto the
      // router→b wire as an attacker on that segment would send them, until the client is done.
      let flooding = true;
      const flood = (async () => {
        while (flooding) {
          for (let i = 0; i < 10; i++) {
            const src = `198.${18 + rng.below(2)}.${rng.below(256)}.${1 + rng.below(254)}`;
            net.cb.aToB.send(
              forgeTcpFrame({
                srcMac: routerMac,
                dstMac: bMac,
                src,
                dst: net.bAddr,
                srcPort: 1024 + rng.below(60000),
                dstPort: 8080,
                seq: rng.nextU32(),
                flags: TCP_SYN,
                options: { mss: 1460 },
              }),
            );
          }
          await net.sim.sleep(millis(1));
        }
      })();
      await net.sim.sleep(millis(150));
      const l = [...net.b.tcp.listeners()][0];
      assert.ok(l.synQueueLength <= l.synBacklog, 'the SYN queue stays bounded');
      assert.ok(net.b.tcp.stats.cookiesSent > 1000, `cookies sent ${net.b.tcp.stats.cookiesSent}`);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 8080]);
      const [conn] = await srv.accept();
      await cli.sendall('hello through the flood');
      const got = await recvExactly(conn, 23);
      await conn.sendall(got);
      const back = await recvExactly(cli, 23);
      flooding = false;
      await flood;
      for (const s of [cli, conn, srv]) await s.close();
      return back;
    });
    assert.equal(dec.decode(reply), 'hello through the flood');
    assert.ok(net.b.tcp.stats.cookiesAccepted >= 1, 'the client got in on a cookie');
  });

  it('blind RST, SYN and data injection with the right 4-tuple does not break a transfer (RFC 5961)', async () => {
    const net = pair({ seed: 16 });
    const rng = new SeededRng(16);
    const data = randomBytes(2 << 20, 16);
    const aMac = macOf(net.a, 'eth0');
    const bMac = macOf(net.b, 'eth0');
    const got = await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 5000]);
      await srv.listen(1);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      const [, cport] = cli.getsockname() as [string, number];
      const victim = connectionOf(net.b, conn)!;
      const sending = cli.sendall(data).then(() => cli.shutdown(SHUT_WR));
      const receiving = recvAll(conn);
      // While data flows: 600 forged segments "from a" to b with the right ports.
      for (let round = 0; round < 100; round++) {
        const inWindow = (victim.rcv.nxt + 1 + rng.below(Math.max(1, victim.rcv.wnd - 1))) >>> 0;
        const forged = [
          { flags: TCP_RST, seq: rng.nextU32() }, // blind RST: almost surely out of window
          { flags: TCP_RST, seq: inWindow }, // in window but not exact: challenge ACK (§3.2)
          { flags: TCP_RST | TCP_ACK, seq: inWindow, ack: rng.nextU32() },
          { flags: TCP_SYN, seq: rng.nextU32() }, // SYN in a synchronized state: challenge ACK (§4)
          // Data with an unacceptable ACK (§5) and data at a random sequence number.
          { flags: TCP_ACK | TCP_PSH, seq: inWindow, ack: rng.nextU32(), payload: enc.encode('EVIL') },
          { flags: TCP_ACK | TCP_PSH, seq: rng.nextU32(), ack: rng.nextU32(), payload: enc.encode('EVIL') },
        ];
        for (const f of forged)
          net.cable.aToB.send(
            forgeTcpFrame({
              srcMac: aMac,
              dstMac: bMac,
              src: net.aAddr,
              dst: net.bAddr,
              srcPort: cport,
              dstPort: 5000,
              ack: 0,
              ...f,
            }),
          );
        await net.sim.sleep(millis(2));
      }
      await sending;
      const body = await receiving;
      for (const s of [cli, conn, srv]) await s.close();
      return body;
    });
    assert.equal(got.length, data.length);
    assert.equal(await sha256(got), await sha256(data));
    const st = net.b.tcp.stats;
    assert.ok(st.challengeAcks + st.challengeAcksSuppressed > 0, 'challenge ACKs were sent');
    assert.equal(st.resets, 0, 'no injected RST reset the connection');
  });

  it('TIME-WAIT holds the 4-tuple for 2×MSL: bind → EADDRINUSE; with SO_REUSEADDR the same 4-tuple → EADDRNOTAVAIL; free after', async () => {
    const net = pair({ seed: 17 });
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 5000]);
      await srv.listen(4);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      // SO_REUSEADDR here too: Linux lets a later SO_REUSEADDR socket bind over a TIME-WAIT
      // connection only if that one had the flag (the timewait sock keeps sk_reuse; Python on
      // Linux: without it on the old socket the new bind is EADDRINUSE).
      cli.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      await cli.bind(['10.0.0.1', 40000]);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      await cli.close(); // active close: a ends in TIME-WAIT
      assert.equal((await conn.recv(10)).length, 0);
      await conn.close();
      await net.sim.sleep(millis(20));
      assert.deepEqual(states(net.a), ['TIME-WAIT']);
      const t0 = net.sim.now;

      const plain = net.a.socket(AF_INET, SOCK_STREAM);
      await assert.rejects(plain.bind(['10.0.0.1', 40000]), code('EADDRINUSE'));
      await plain.close();
      const reuse = net.a.socket(AF_INET, SOCK_STREAM);
      reuse.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      await reuse.bind(['10.0.0.1', 40000]);
      // Linux __inet_check_established: a bound socket whose 4-tuple is taken fails connect()
      // with EADDRNOTAVAIL (as TcpLayer.connect({ binding }) does, test/tcp/bind.test.ts).
      await assert.rejects(reuse.connect([net.bAddr, 5000]), code('EADDRNOTAVAIL'));
      await reuse.close();

      // Just before 2×MSL (60 s) it is still held; just after, the same 4-tuple connects.
      await net.sim.sleep(seconds(60) - (net.sim.now - t0) - millis(100));
      const early = net.a.socket(AF_INET, SOCK_STREAM);
      await assert.rejects(early.bind(['10.0.0.1', 40000]), code('EADDRINUSE'));
      await early.close();
      await net.sim.sleep(millis(200));
      assert.equal(net.a.tcp.connectionCount, 0);
      assert.equal(net.a.tcp.stats.timeWaitExpired, 1);
      const again = net.a.socket(AF_INET, SOCK_STREAM);
      await again.bind(['10.0.0.1', 40000]);
      await again.connect([net.bAddr, 5000]);
      const [k] = await srv.accept();
      for (const s of [again, k, srv]) await s.close();
    });
  });

  // SYN retries 4 under each profile: Linux doubles the RTO from 1 s (RFC 6298 §5.5): SYN at
  // 0, retries at 1, 3, 7, 15, give up at 31 s. FreeBSD tcp_timer_rexmt: initial RTO *
  // tcp_backoff[shift] + rexmit_slop (200 ms): retries at 1, 3.2, 7.4, 15.6, give up at 31.8 s.
  for (const [profile, giveUp] of [
    ['linux', 31],
    ['freebsd', 31.8],
  ] as const) {
    it(`connect() to an unplugged peer across the router fails with ETIMEDOUT after the SYN retries (${profile} profile: ${giveUp} s)`, async () => {
      const net = routed({
        seed: 18,
        config: { tcp: { profile, synRetries: 4 }, arp: { reachableTime: seconds(600) } },
      });
      await net.sim.run(() => net.a.ping(net.bAddr)); // every ARP cache on the path is warm
      net.cb.aToB.configure({ loss: 1 });
      net.cb.bToA.configure({ loss: 1 });
      await net.sim.run(async () => {
        const cli = net.a.socket(AF_INET, SOCK_STREAM);
        const t0 = net.sim.now;
        await assert.rejects(cli.connect([net.bAddr, 8080]), code('ETIMEDOUT'));
        const took = (net.sim.now - t0) / 1e6;
        assert.ok(took >= giveUp && took <= giveUp + 0.1, `gave up after ${took} s`);
        assert.equal(net.a.tcp.connectionCount, 0);
        await cli.close();
      });
    });
  }

  it('keepalive: an idle live peer answers probes; a dead peer is detected (recv → ETIMEDOUT) after idle + cnt × intvl', async () => {
    const net = pair({ seed: 19, config: { arp: { reachableTime: seconds(3600) } } });
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 5000]);
      await srv.listen(1);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      cli.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1);
      cli.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, 10);
      cli.setsockopt(IPPROTO_TCP, TCP_KEEPINTVL, 2);
      cli.setsockopt(IPPROTO_TCP, TCP_KEEPCNT, 3);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      // Alive: 100 s of silence, probes answered, nothing reported.
      cli.settimeout(100);
      await assert.rejects(cli.recv(10), (e: Error) => e.name === 'TimeoutError');
      assert.ok(net.a.tcp.stats.keepaliveProbes >= 8, `probes ${net.a.tcp.stats.keepaliveProbes}`);
      assert.equal(connectionOf(net.a, cli)?.state, 'ESTABLISHED');
      // Dead: the cable is cut; the next idle period ends in 3 unanswered probes.
      net.cable.aToB.configure({ loss: 1 });
      net.cable.bToA.configure({ loss: 1 });
      cli.settimeout(null);
      const t0 = net.sim.now;
      await assert.rejects(cli.recv(10), code('ETIMEDOUT'));
      const took = (net.sim.now - t0) / 1e6;
      assert.ok(took <= 10 + 3 * 2 + 1, `detected after ${took} s`);
      assert.equal(net.a.tcp.stats.keepaliveTimeouts, 1);
      assert.equal((await cli.recv(10)).length, 0, 'reported once, then EOF');
      await assert.rejects(cli.send('x'), code('EPIPE'));
      for (const s of [cli, conn, srv]) await s.close();
    });
  });
});
