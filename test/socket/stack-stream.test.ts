/**
 * The stream-socket backend on the stack (src/socket/stack-stream.ts), through the
 * front `Socket`: naming, connect outcomes, data-path semantics, close variants and
 * options. Two stacks on a memory cable under the virtual clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AF_INET,
  IPPROTO_TCP,
  MSG_DONTWAIT,
  MSG_PEEK,
  SHUT_RD,
  SHUT_WR,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_SNDBUF,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_INFO,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINIT,
  TCP_KEEPINTVL,
  TCP_MAXSEG,
  TCP_NODELAY,
  TCP_USER_TIMEOUT,
} from '../../src/socket/constants.ts';
import { SocketError } from '../../src/socket/errno.ts';
import type { StackStreamSocket } from '../../src/socket/stack-stream.ts';
import { decodeTcpInfo, LINUX_TCP_STATES } from '../../src/socket/tcp-info.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { connectionOf, pair, randomBytes, recvAll, recvExactly } from '../scenarios/tcp-net.ts';

const code = (c: string) => (e: unknown) => e instanceof SocketError && e.code === c;

async function listening(net: ReturnType<typeof pair>, port = 5000, backlog = 8) {
  const srv = net.b.socket(AF_INET, SOCK_STREAM);
  await srv.bind([net.bAddr, port]);
  await srv.listen(backlog);
  return srv;
}

describe('stack stream sockets: naming', () => {
  it('bind picks an ephemeral port at once; getsockname shows it', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const s = net.a.socket(AF_INET, SOCK_STREAM);
      await s.bind(['0.0.0.0', 0]);
      const [h, p] = s.getsockname();
      assert.equal(h, '0.0.0.0');
      assert.ok((p as number) >= 49152 && (p as number) <= 65535, `ephemeral port ${p}`);
      await s.close();
    });
  });

  it('bind: EADDRINUSE for a port bound or listening, EACCES below 1024, EADDRNOTAVAIL for a foreign address', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const s1 = net.a.socket(AF_INET, SOCK_STREAM);
      await s1.bind(['10.0.0.1', 6000]);
      const s2 = net.a.socket(AF_INET, SOCK_STREAM);
      await assert.rejects(s2.bind(['0.0.0.0', 6000]), code('EADDRINUSE'));
      const s3 = net.a.socket(AF_INET, SOCK_STREAM);
      await assert.rejects(s3.bind(['10.0.0.1', 80]), code('EACCES'));
      await assert.rejects(s3.bind(['10.9.9.9', 6001]), code('EADDRNOTAVAIL'));
      await s1.listen(1);
      await assert.rejects(s3.bind(['10.0.0.1', 6000]), code('EADDRINUSE'));
      // After close the port is free again.
      await s1.close();
      await s3.bind(['10.0.0.1', 6000]);
      for (const s of [s2, s3]) await s.close();
    });
  });

  it('a privileged stack may bind port 80', async () => {
    const net = pair({ privileged: true });
    await net.sim.run(async () => {
      const s = net.a.socket(AF_INET, SOCK_STREAM);
      await s.bind(['0.0.0.0', 80]);
      assert.deepEqual(s.getsockname(), ['0.0.0.0', 80]);
      await s.close();
    });
  });

  it('SO_REUSEADDR: two bound sockets share a port, but only one may listen', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const s1 = net.a.socket(AF_INET, SOCK_STREAM);
      const s2 = net.a.socket(AF_INET, SOCK_STREAM);
      s1.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      s2.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      await s1.bind(['0.0.0.0', 6100]);
      await s2.bind(['0.0.0.0', 6100]);
      await assert.rejects(s1.listen(1), code('EADDRINUSE'));
      await s2.close();
      await s1.listen(1);
      await s1.close();
    });
  });

  it('listen without bind binds an ephemeral port; accept returns the peer; names match both ways', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.listen(4);
      const [, port] = srv.getsockname();
      assert.ok((port as number) >= 49152);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, port as number]);
      const [conn, peer] = await srv.accept();
      assert.deepEqual(peer, cli.getsockname());
      assert.deepEqual(cli.getpeername(), [net.bAddr, port]);
      assert.deepEqual(conn.getsockname(), [net.bAddr, port]);
      assert.deepEqual(conn.getpeername(), cli.getsockname());
      for (const s of [cli, conn, srv]) await s.close();
    });
  });

  it('connect from a bound port uses it', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.bind(['10.0.0.1', 40000]);
      await cli.connect([net.bAddr, 5000]);
      const [conn, peer] = await srv.accept();
      assert.deepEqual(peer, ['10.0.0.1', 40000]);
      for (const s of [cli, conn, srv]) await s.close();
    });
  });
});

describe('stack stream sockets: connect outcomes', () => {
  it('ECONNREFUSED from a RST when nothing listens', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await assert.rejects(cli.connect([net.bAddr, 5999]), code('ECONNREFUSED'));
      assert.equal(net.a.tcp.connectionCount, 0);
    });
  });

  it('ETIMEDOUT after the SYN retries when the peer is unplugged', async () => {
    // The ARP entry is learnt first (a ping), then the cable goes dead both ways.
    const net = pair({ config: { tcp: { synRetries: 3 }, arp: { reachableTime: seconds(600) } } });
    await net.sim.run(() => net.a.ping(net.bAddr));
    net.cable.aToB.configure({ loss: 1 });
    net.cable.bToA.configure({ loss: 1 });
    const t0 = net.sim.now;
    await net.sim.run(async () => {
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await assert.rejects(cli.connect([net.bAddr, 5000]), code('ETIMEDOUT'));
    });
    // 1 + 2 + 4 + 8 s (RFC 6298 doubling from a 1 s initial RTO).
    const took = net.sim.now - t0;
    assert.ok(took >= seconds(14) && took <= seconds(16), `took ${took} µs`);
  });

  it('a socket timeout abandons the attempt (TimeoutError) and frees the TCB', async () => {
    const net = pair();
    net.cable.aToB.configure({ loss: 1 });
    await net.sim.run(async () => {
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      cli.settimeout(2);
      await assert.rejects(cli.connect([net.bAddr, 5000]), (e: Error) => e.name === 'TimeoutError');
      assert.equal(net.a.tcp.connectionCount, 0);
      await cli.close();
    });
  });

  it('ENETUNREACH with no route; EHOSTUNREACH when ARP gets no answer', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const s1 = net.a.socket(AF_INET, SOCK_STREAM);
      await assert.rejects(s1.connect(['192.168.5.5', 80]), code('ENETUNREACH'));
      const s2 = net.a.socket(AF_INET, SOCK_STREAM);
      await assert.rejects(s2.connect(['10.0.0.77', 80]), code('EHOSTUNREACH'));
      assert.equal(net.a.tcp.connectionCount, 0);
    });
  });

  it('non-blocking connect: EINPROGRESS, then writable and SO_ERROR 0', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      cli.setblocking(false);
      await assert.rejects(cli.connect([net.bAddr, 5000]), code('EINPROGRESS'));
      await net.sim.sleep(millis(10));
      assert.equal(cli.getsockopt(SOL_SOCKET, SO_ERROR), 0);
      assert.equal(await cli.send('x'), 1);
      const [conn] = await srv.accept();
      assert.deepEqual(await conn.recv(10), new TextEncoder().encode('x'));
      for (const s of [cli, conn, srv]) await s.close();
    });
  });

  it('non-blocking connect refused: SO_ERROR reports ECONNREFUSED (111)', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      cli.setblocking(false);
      await assert.rejects(cli.connect([net.bAddr, 5001]), code('EINPROGRESS'));
      await net.sim.sleep(millis(10));
      assert.equal(cli.getsockopt(SOL_SOCKET, SO_ERROR), 111);
      assert.equal(cli.getsockopt(SOL_SOCKET, SO_ERROR), 0);
      await cli.close();
    });
  });
});

describe('stack stream sockets: data path', () => {
  it('echo, MSG_PEEK, MSG_DONTWAIT (EAGAIN) and EOF', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      await assert.rejects(conn.recv(10, MSG_DONTWAIT), code('EAGAIN'));
      await cli.sendall('hello world');
      const peeked = await conn.recv(5, MSG_PEEK);
      assert.equal(new TextDecoder().decode(peeked), 'hello');
      const got = await recvExactly(conn, 11);
      assert.equal(new TextDecoder().decode(got), 'hello world');
      await conn.sendall(got);
      assert.equal(new TextDecoder().decode(await recvExactly(cli, 11)), 'hello world');
      await cli.close();
      assert.equal((await conn.recv(100)).length, 0);
      assert.equal((await conn.recv(100)).length, 0, 'EOF forever after');
      await conn.close();
      await srv.close();
    });
  });

  it('send returns 0-would-block as EAGAIN when the peer does not read; sendall completes once it does', async () => {
    // A fixed 16 KiB send buffer (no autotuning: sndbuf-auto.ts would grow it with the window).
    const net = pair({ config: { tcp: { sndBuf: 16384, rcvBuf: 16384, sndBufAuto: 'none' } } });
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      const data = randomBytes(200_000, 3);
      let sent = 0;
      for (;;) {
        try {
          sent += await cli.send(data.subarray(sent), MSG_DONTWAIT);
        } catch (e) {
          assert.ok(code('EAGAIN')(e));
          await net.sim.sleep(millis(50));
          try {
            sent += await cli.send(data.subarray(sent), MSG_DONTWAIT);
          } catch (e2) {
            assert.ok(code('EAGAIN')(e2));
            break;
          }
        }
      }
      assert.ok(sent >= 16384 && sent < 64 * 1024, `buffered ${sent}`);
      const all = cli.sendall(data.subarray(sent)).then(() => cli.shutdown(SHUT_WR));
      const got = await recvAll(conn);
      await all;
      assert.equal(got.length, data.length);
      assert.deepEqual(got, data);
      for (const s of [cli, conn, srv]) await s.close();
    });
  });

  it('half-close: SHUT_WR sends FIN, the other direction keeps working; send after SHUT_WR is EPIPE', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      await cli.sendall('request');
      cli.shutdown(SHUT_WR);
      await assert.rejects(cli.send('more'), code('EPIPE'));
      assert.equal(new TextDecoder().decode(await recvAll(conn)), 'request');
      const big = randomBytes(300_000, 9);
      await conn.sendall(big);
      await conn.close();
      assert.deepEqual(await recvAll(cli), big);
      await cli.close();
      await srv.close();
    });
  });

  it('SHUT_RD: recv returns EOF at once', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      const r = conn.recv(10);
      conn.shutdown(SHUT_RD);
      assert.equal((await r).length, 0);
      for (const s of [cli, conn, srv]) await s.close();
    });
  });

  it('a reset is reported once (ECONNRESET), then EOF and EPIPE; bytes that came before it are still read', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      await conn.sendall('bye');
      await net.sim.sleep(millis(10));
      cli.setsockopt(SOL_SOCKET, SO_LINGER, [1, 0]);
      // cli has unread data 'bye' → its close sends RST regardless; make conn see it.
      const pending = conn.recv(10);
      await cli.close();
      await assert.rejects(pending, code('ECONNRESET'));
      assert.equal((await conn.recv(10)).length, 0);
      await assert.rejects(conn.send('x'), code('EPIPE'));
      await conn.close();

      const c2 = net.a.socket(AF_INET, SOCK_STREAM);
      await c2.connect([net.bAddr, 5000]);
      const [k2] = await srv.accept();
      await c2.sendall('data before reset');
      await net.sim.sleep(millis(10));
      c2.setsockopt(SOL_SOCKET, SO_LINGER, [1, 0]);
      await c2.close();
      await net.sim.sleep(millis(10));
      assert.equal(new TextDecoder().decode(await k2.recv(100)), 'data before reset');
      await assert.rejects(k2.recv(100), code('ECONNRESET'));
      assert.equal((await k2.recv(100)).length, 0);
      await k2.close();
      await srv.close();
    });
  });

  it('close with unread data sends RST (RFC 1122 §4.2.2.13); the peer sees ECONNRESET via SO_ERROR', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      await cli.sendall('unread');
      await net.sim.sleep(millis(10));
      const rst0 = net.b.tcp.stats.rstSent;
      await conn.close();
      assert.equal(net.b.tcp.stats.rstSent, rst0 + 1);
      await net.sim.sleep(millis(10));
      assert.equal(cli.getsockopt(SOL_SOCKET, SO_ERROR), 104);
      await cli.close();
      await srv.close();
    });
  });

  it('graceful close still delivers queued data after close() returns', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      const data = randomBytes(1_000_000, 5);
      const sending = cli.sendall(data.subarray(0, 100_000));
      await sending;
      const rest = cli.sendall(data.subarray(100_000));
      const got = recvAll(conn);
      await rest;
      await cli.close();
      assert.deepEqual(await got, data);
      await conn.close();
      await srv.close();
    });
  });

  it('listen backlog: a full accept queue drops SYNs; the client completes once accept() makes room', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net, 5000, 1);
      const c1 = net.a.socket(AF_INET, SOCK_STREAM);
      await c1.connect([net.bAddr, 5000]);
      // listen(1) holds backlog + 1 = 2 connections, as on Linux: the third waits.
      const c2 = net.a.socket(AF_INET, SOCK_STREAM);
      await c2.connect([net.bAddr, 5000]);
      const c3 = net.a.socket(AF_INET, SOCK_STREAM);
      const p3 = c3.connect([net.bAddr, 5000]);
      await net.sim.sleep(millis(500));
      assert.ok(net.b.tcp.stats.backlogDrops >= 1);
      const [k1] = await srv.accept();
      await p3; // the SYN retransmission (1 s) is now admitted
      const [k2] = await srv.accept();
      const [k3] = await srv.accept();
      for (const s of [c1, c2, c3, k1, k2, k3, srv]) await s.close();
    });
  });
});

describe('stack stream sockets: options', () => {
  it('options in Linux units reach the connection; TCP_INFO is struct tcp_info', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      cli.setsockopt(IPPROTO_TCP, TCP_MAXSEG, 1000);
      cli.setsockopt(SOL_SOCKET, SO_RCVBUF, 65536);
      cli.setsockopt(SOL_SOCKET, SO_SNDBUF, 32768);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      cli.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
      cli.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1);
      cli.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, 10);
      cli.setsockopt(IPPROTO_TCP, TCP_KEEPINTVL, 2);
      cli.setsockopt(IPPROTO_TCP, TCP_KEEPCNT, 3);
      const c = connectionOf(net.a, cli)!;
      assert.equal(c.options.noDelay, true);
      assert.equal(c.options.keepAlive, true);
      assert.equal(c.options.keepIdle, seconds(10));
      assert.equal(c.options.keepInterval, seconds(2));
      assert.equal(c.options.keepCount, 3);
      assert.equal(cli.getsockopt(SOL_SOCKET, SO_RCVBUF), 65536);
      assert.equal(cli.getsockopt(SOL_SOCKET, SO_SNDBUF), 32768);
      assert.equal(cli.getsockopt(IPPROTO_TCP, TCP_KEEPIDLE), 10);
      // The peer sends at most our announced MSS.
      assert.equal(connectionOf(net.b, conn)!.mss, 1000);
      // Linux: TCP_MAXSEG caps our sending MSS too (and is what getsockopt reports).
      assert.equal(cli.getsockopt(IPPROTO_TCP, TCP_MAXSEG), 1000);
      assert.equal(conn.getsockopt(IPPROTO_TCP, TCP_MAXSEG), 1000);
      await conn.sendall(randomBytes(10_000, 1));
      await recvExactly(cli, 10_000);
      for (const s of [cli, conn, srv]) await s.close();
    });
  });

  it('TCP_USER_TIMEOUT (ms) and TCP_KEEPINIT (s) backend options: reach the connection, range-checked, read back', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const impl = net.a.backend.create(AF_INET, SOCK_STREAM) as StackStreamSocket;
      assert.equal(impl.getOption(IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
      impl.setOption(IPPROTO_TCP, TCP_USER_TIMEOUT, 3000);
      assert.throws(() => impl.setOption(IPPROTO_TCP, TCP_USER_TIMEOUT, -1), code('EINVAL'));
      await impl.connect({ family: 2, host: net.bAddr, port: 5000 }, new AbortController().signal);
      const [conn] = await srv.accept();
      assert.equal(impl.getOption(IPPROTO_TCP, TCP_USER_TIMEOUT), 3000);
      const c = [...net.a.tcp.connections()].find((x) => x.state === 'ESTABLISHED' && x.active);
      assert.equal(c?.options.userTimeout, seconds(3));
      impl.setOption(IPPROTO_TCP, TCP_USER_TIMEOUT, 0);
      assert.equal(c?.options.userTimeout, 0);
      // FreeBSD TCP_KEEPINIT (seconds): 0 reads back the layer default (off here).
      assert.equal(impl.getOption(IPPROTO_TCP, TCP_KEEPINIT), 0);
      impl.setOption(IPPROTO_TCP, TCP_KEEPINIT, 5);
      assert.equal(impl.getOption(IPPROTO_TCP, TCP_KEEPINIT), 5);
      assert.equal(c?.options.keepInit, seconds(5));
      assert.throws(() => impl.setOption(IPPROTO_TCP, TCP_KEEPINIT, -1), code('EINVAL'));
      await impl.close();
      await conn.close();
      await srv.close();
    });
  });

  it('TCP_USER_TIMEOUT through the front socket: an unanswered send fails ETIMEDOUT at the timeout', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      assert.equal(cli.getsockopt(IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
      assert.throws(() => cli.setsockopt(IPPROTO_TCP, TCP_USER_TIMEOUT, -1), code('EINVAL'));
      cli.setsockopt(IPPROTO_TCP, TCP_USER_TIMEOUT, 3000);
      assert.equal(cli.getsockopt(IPPROTO_TCP, TCP_USER_TIMEOUT), 3000);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      // The path goes dead: nothing b sends reaches a, nothing a sends reaches b.
      net.cable.aToB.configure({ loss: 1 });
      net.cable.bToA.configure({ loss: 1 });
      const t0 = net.sim.now;
      await cli.sendall('hello?');
      const got = cli.recv(10).then(
        () => 'data',
        (e: unknown) => (e instanceof SocketError ? e.code : String(e)),
      );
      assert.equal(await got, 'ETIMEDOUT');
      const waited = net.sim.now - t0;
      assert.ok(waited >= seconds(3) && waited < seconds(4), `failed after ${waited} µs`);
      await cli.close();
      await conn.close();
      await srv.close();
    });
  });

  it('TCP_INFO (backend getOption) is Linux struct tcp_info; tcpInfo() the object', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const impl = net.a.backend.create(AF_INET, SOCK_STREAM) as StackStreamSocket;
      assert.equal(decodeTcpInfo(impl.getOption(IPPROTO_TCP, TCP_INFO) as Uint8Array).state, 7);
      impl.setOption(IPPROTO_TCP, TCP_MAXSEG, 1000);
      await impl.connect({ family: 2, host: net.bAddr, port: 5000 }, new AbortController().signal);
      const [conn] = await srv.accept();
      await conn.sendall(randomBytes(10_000, 1));
      let n = 0;
      while (n < 10_000) {
        const d = impl.recv(65536, false);
        if (d === undefined) await impl.waitReadable(new AbortController().signal);
        else n += d.length;
      }
      assert.equal(impl.send(randomBytes(5000, 2)), 5000);
      await net.sim.sleep(millis(200)); // Nagle holds the tail until the delayed ACK (40 ms)
      const info = decodeTcpInfo(impl.getOption(IPPROTO_TCP, TCP_INFO) as Uint8Array);
      assert.equal(info.state, LINUX_TCP_STATES.ESTABLISHED);
      // Linux's tcpi_snd_mss is mss_cache: the 1000-byte MSS less the 12-byte timestamp option.
      assert.equal(info.sndMss, 988);
      assert.equal(info.options & 7, 7, 'timestamps, SACK, window scaling');
      assert.equal(info.bytesAcked, 5000n);
      assert.equal(info.bytesReceived, 10_000n);
      assert.ok(info.rtt > 0 && info.rtt < 100_000, `rtt ${info.rtt} µs`);
      assert.ok(info.segsIn >= 7);
      const obj = impl.tcpInfo()!;
      assert.equal(obj.state, 'ESTABLISHED');
      assert.equal(obj.bytesReceived, 10_000);
      assert.equal(connectionOf(net.b, conn)!.mss, 1000, 'the peer honours our TCP_MAXSEG');
      await impl.close();
      await conn.close();
      await srv.close();
    });
  });

  it('SO_LINGER {1,0}: close sends RST at once; getsockopt reads the struct back', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = await listening(net);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      cli.setsockopt(SOL_SOCKET, SO_LINGER, [1, 0]);
      assert.equal(cli.getsockopt(SOL_SOCKET, SO_LINGER), 1);
      const rst0 = net.a.tcp.stats.rstSent;
      await cli.close();
      assert.equal(net.a.tcp.stats.rstSent, rst0 + 1);
      await assert.rejects(conn.recv(1), code('ECONNRESET'));
      // No TIME-WAIT left on the side that aborted.
      assert.equal(net.a.tcp.connectionCount, 0);
      await conn.close();
      await srv.close();
    });
  });

  it('accepted sockets inherit listener options', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      srv.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
      srv.setsockopt(SOL_SOCKET, SO_RCVBUF, 50000);
      await srv.bind(['0.0.0.0', 5000]);
      await srv.listen(4);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      const c = connectionOf(net.b, conn)!;
      assert.equal(c.options.noDelay, true);
      assert.equal(c.options.rcvBuf, 50000);
      assert.equal(conn.getsockopt(SOL_SOCKET, SO_RCVBUF), 50000);
      for (const s of [cli, conn, srv]) await s.close();
    });
  });
});
