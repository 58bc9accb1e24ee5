import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import type { StackSocket, StackSystemError } from '../../src/node/net-adapter.ts';
import { CLIENT, SERVER, virtualTime, waitEvent, within, withTwoHosts } from './helpers.ts';

test('StackSocket: connect/ready, addresses, echo, orderly close', async () => {
  await withTwoHosts(async (vn) => {
    const server = vn.net('server').createServer((s) => s.pipe(s));
    await waitEvent(server.listen(7), 'listening');
    // As Node's net.Server: no host is the dual-stack wildcard '::'.
    assert.deepEqual(server.address(), { address: '::', family: 'IPv6', port: 7 });
    const sock = vn.net('client').connect(7, 'server');
    assert.ok(sock instanceof Duplex);
    assert.ok(!(sock instanceof net.Socket));
    assert.equal(sock.connecting, true);
    assert.equal(sock.pending, true);
    assert.equal(sock.readyState, 'opening');
    const events: string[] = [];
    sock.on('connect', () => events.push('connect'));
    sock.on('ready', () => events.push('ready'));
    await waitEvent(sock, 'ready');
    assert.deepEqual(events, ['connect', 'ready']);
    assert.equal(sock.connecting, false);
    assert.equal(sock.pending, false);
    assert.equal(sock.readyState, 'open');
    assert.equal(sock.remoteAddress, SERVER);
    assert.equal(sock.remotePort, 7);
    assert.equal(sock.remoteFamily, 'IPv4');
    assert.equal(sock.localAddress, CLIENT);
    assert.ok((sock.localPort ?? 0) > 1023);
    assert.deepEqual(sock.address(), { address: CLIENT, family: 'IPv4', port: sock.localPort });

    const chunks: Buffer[] = [];
    sock.on('data', (d: Buffer) => chunks.push(d));
    // A latin1 string (what node:http writes for headers) and a Buffer.
    sock.write('caf\u00e9 ', 'latin1');
    sock.end(Buffer.from('bye'));
    const closed = waitEvent(sock, 'close');
    await waitEvent(sock, 'end');
    assert.deepEqual(
      Buffer.concat(chunks),
      Buffer.concat([Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20]), Buffer.from('bye')]),
    );
    await closed;
    assert.equal(sock.bytesWritten, 8);
    assert.equal(sock.bytesRead, 8);
    assert.equal(sock.readyState, 'closed');
    server.close();
  });
});

test('StackSocket: allowHalfOpen keeps writing after the peer FIN', async () => {
  await withTwoHosts(async (vn) => {
    const server = vn.net('server').createServer({ allowHalfOpen: true }, (s) => {
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.on('end', () => {
        // Peer half-closed: we can still answer, then FIN.
        assert.equal(s.readyState, 'writeOnly');
        s.end(`got ${Buffer.concat(got).length} bytes`);
      });
    });
    await waitEvent(server.listen(9), 'listening');
    const sock = vn.net('client').connect({ port: 9, host: SERVER, allowHalfOpen: true });
    sock.end(Buffer.alloc(5000, 1));
    let reply = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      reply += d;
    });
    const closed = waitEvent(sock, 'close');
    await waitEvent(sock, 'end');
    assert.equal(reply, 'got 5000 bytes');
    await closed;
    server.close();
  });
});

test('StackSocket: ECONNREFUSED is shaped like Node (code, errno, syscall, address, port)', async () => {
  await withTwoHosts(async (vn) => {
    const sock = vn.net('client').connect(81, SERVER);
    const closed = waitEvent(sock, 'close');
    const [err] = await waitEvent<[StackSystemError]>(sock, 'error');
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.errno, -111);
    assert.equal(err.syscall, 'connect');
    assert.equal(err.address, SERVER);
    assert.equal(err.port, 81);
    assert.equal(err.message, `connect ECONNREFUSED ${SERVER}:81`);
    await closed;
    assert.equal(sock.destroyed, true);
  });
});

test('StackSocket: unknown host name fails with ENOTFOUND', async () => {
  await withTwoHosts(async (vn) => {
    const sock = vn.net('client').connect(80, 'nowhere.test');
    const [err] = await waitEvent<[StackSystemError]>(sock, 'error');
    assert.equal(err.code, 'ENOTFOUND');
    assert.equal(err.syscall, 'getaddrinfo');
  });
});

test('StackSocket: resetAndDestroy sends RST, the peer sees ECONNRESET (syscall read)', async () => {
  await withTwoHosts(async (vn) => {
    const accepted = new Promise<StackSocket>((resolve) => {
      vn.net('server')
        .createServer((s) => resolve(s))
        .listen(10);
    });
    const sock = vn.net('client').connect(10, SERVER);
    await waitEvent(sock, 'connect');
    const peer = await accepted;
    peer.resume();
    sock.resetAndDestroy();
    const [err] = await waitEvent<[StackSystemError]>(peer, 'error');
    assert.equal(err.code, 'ECONNRESET');
    assert.equal(err.errno, -104);
    assert.equal(err.syscall, 'read');
  });
});

test('StackSocket: destroy() closes like an fd close (FIN, also with an error); RST when written bytes would be lost', async () => {
  await withTwoHosts(async (vn) => {
    const queue: StackSocket[] = [];
    const waiting: Array<(s: StackSocket) => void> = [];
    const server = vn.net('server').createServer((s) => {
      const w = waiting.shift();
      if (w) w(s);
      else queue.push(s);
    });
    const nextPeer = (): Promise<StackSocket> =>
      within(
        new Promise<StackSocket>((r) => {
          const q = queue.shift();
          if (q) r(q);
          else waiting.push(r);
        }),
        5000,
        'accept',
      );
    await waitEvent(server.listen(11), 'listening');

    // 1. Idle, destroy(): the peer sees a clean end.
    const a = vn.net('client').connect(11, SERVER);
    const connectedA = waitEvent(a, 'connect');
    const pa = await nextPeer();
    pa.resume();
    await connectedA;
    const endA = waitEvent(pa, 'end');
    a.destroy();
    await endA;

    // 2. Idle, destroy(err): still a FIN (node:http writes a 408 and then destroys with an error).
    const b = vn.net('client').connect(11, SERVER);
    const connectedB = waitEvent(b, 'connect');
    const pb = await nextPeer();
    pb.resume();
    await connectedB;
    b.on('error', () => {});
    const endB = waitEvent(pb, 'end');
    b.write('last words');
    b.destroy(new Error('application failure'));
    await endB;

    // 3. Bytes still queued in the StackSocket when destroyed: RST, so the peer cannot
    //    mistake a truncated stream for a complete one.
    const c = vn.net('client').connect(11, SERVER);
    const connectedC = waitEvent(c, 'connect');
    const pc = await nextPeer(); // never reads
    await connectedC;
    c.write(Buffer.alloc(4 << 20));
    assert.ok(c.writableLength > 0);
    const errC = waitEvent<[StackSystemError]>(pc, 'error');
    c.destroy();
    const [err] = await errC;
    assert.equal(err.code, 'ECONNRESET');
    server.close();
  });
});

test('StackSocket: setTimeout emits timeout when idle, is reset by I/O, and 0 disables it', async () => {
  // Virtual time: the idle timer runs on the runtime's clock and host timers.
  const time = virtualTime();
  await withTwoHosts(
    async (vn) => {
      const server = vn.net('server').createServer((s) => s.pipe(s));
      server.listen(12);
      const sock = vn.net('client').connect(12, SERVER);
      let connected = false;
      sock.on('connect', () => {
        connected = true;
      });
      await time.runUntil(() => connected, 'connect');
      let lastData = time.nowMs();
      sock.on('data', () => {
        lastData = time.nowMs();
      });
      const firedAt: number[] = [];
      sock.setTimeout(150, () => firedAt.push(time.nowMs()));
      assert.equal(sock.timeout, 150);
      // 300 virtual ms of I/O, one echoed byte every 20 ms: no timeout while it flows.
      const busyEnd = time.nowMs() + 300;
      while (time.nowMs() < busyEnd) {
        sock.write('x');
        await time.advance(20);
      }
      assert.deepEqual(firedAt, []);
      // Idle: it fires once, 150 ms after the last I/O (the echo of the last write).
      await time.runUntil(() => firedAt.length > 0, 'timeout');
      assert.equal(firedAt.length, 1);
      const idle = firedAt[0] - lastData;
      assert.ok(idle >= 150 && idle <= 151, `fired after ${idle} idle ms`);
      // Once only, until the next I/O.
      await time.advance(400, 10);
      assert.equal(firedAt.length, 1);
      sock.setTimeout(0);
      assert.equal(sock.timeout, undefined);
      sock.write('y');
      await time.advance(400, 10);
      assert.equal(firedAt.length, 1, 'setTimeout(0) disables it');
      sock.destroy();
      server.close();
    },
    { time },
  );
});

test('StackSocket: ref/unref are counted on the runtime', async () => {
  await withTwoHosts(async (vn) => {
    const rt = vn.runtime;
    const base = rt.refs;
    const server = vn.net('server').createServer((s) => s.resume());
    await waitEvent(server.listen(13), 'listening');
    assert.equal(rt.refs, base + 1);
    server.unref();
    assert.equal(rt.refs, base);
    const sock = vn.net('client').connect(13, SERVER);
    await waitEvent(sock, 'connect');
    assert.ok(rt.refs >= base + 1);
    const withSock = rt.refs;
    sock.unref();
    sock.unref();
    assert.equal(rt.refs, withSock - 1);
    sock.ref();
    assert.equal(rt.refs, withSock);
    const closed = waitEvent(sock, 'close');
    sock.destroy();
    await closed;
    assert.equal(rt.refs < withSock, true);
    server.close();
  });
});

test('StackSocket: write callbacks wait for the TCP send buffer (back-pressure), bytes arrive exactly', async () => {
  await withTwoHosts(
    async (vn) => {
      let serverSock: StackSocket | undefined;
      const server = vn.net('server').createServer((s) => {
        serverSock = s;
        s.pause(); // do not read yet
      });
      await waitEvent(server.listen(14), 'listening');
      const sock = vn.net('client').connect(14, SERVER);
      await waitEvent(sock, 'connect');
      const big = Buffer.alloc(4 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 11)) & 0xff;
      let cbDone = false;
      const ok = sock.write(big, () => {
        cbDone = true;
      });
      assert.equal(ok, false);
      // With 64 KiB buffers and a paused reader, 4 MiB cannot all be accepted: wait for
      // the receiver's window to close.
      const conn = sock.connection;
      assert.ok(conn);
      await within(
        new Promise<void>((r) => {
          const iv = setInterval(() => {
            if (conn.snd.wnd === 0 && conn.unackedLength > 0) {
              clearInterval(iv);
              r();
            }
          }, 2);
        }),
        5000,
        'zero window',
      );
      assert.equal(cbDone, false);
      // Send buffer + what the peer's window lets fly; that window may be rounded up to the
      // scale granule (< 1 << shift bytes, RFC 7323 App. F bound in src/tcp/output.ts).
      const peerGranule = 1 << (serverSock?.connection?.rcvWscale ?? 0);
      assert.ok(sock.bytesWritten < 2 * 64 * 1024 + peerGranule, `accepted ${sock.bytesWritten}`);
      assert.ok(conn.unackedLength <= 64 * 1024, `unacked ${conn.unackedLength}`);
      // The window may be rounded up to the scale granularity (< 1 << shift bytes over).
      const granule = 1 << (serverSock?.connection?.rcvWscale ?? 0);
      const readable = serverSock?.connection?.readableLength ?? 0;
      assert.ok(readable < 64 * 1024 + granule, `readable ${readable}`);
      // Now read everything and check it is byte-exact.
      const h = createHash('sha256');
      let n = 0;
      const s = serverSock as StackSocket;
      s.on('data', (d: Buffer) => {
        h.update(d);
        n += d.length;
      });
      s.resume();
      sock.end();
      await waitEvent(s, 'end', 20_000);
      assert.equal(cbDone, true);
      assert.equal(n, big.length);
      assert.equal(h.digest('hex'), createHash('sha256').update(big).digest('hex'));
      server.close();
    },
    // Fixed buffers (sndBufAuto 'none': autotuning would grow the send buffer with the window).
    { config: { tcp: { sndBuf: 64 * 1024, rcvBuf: 64 * 1024, sndBufAuto: 'none' } } },
  );
});

test('StackSocket: a host that never answers ARP fails the connect with EHOSTUNREACH', async () => {
  await withTwoHosts(async (vn) => {
    const sock = vn.net('client').connect(80, '10.0.0.99');
    const [err] = await waitEvent<[StackSystemError]>(sock, 'error', 15_000);
    assert.equal(err.code, 'EHOSTUNREACH');
    assert.equal(err.errno, -113);
    assert.equal(err.syscall, 'connect');
    assert.equal(err.address, '10.0.0.99');
    assert.equal(err.port, 80);
    assert.equal(sock.connecting, false);
  });
});

test('StackSocket: setNoDelay/setKeepAlive reach the TCP connection (set before or after connect); destroySoon ends then closes', async () => {
  await withTwoHosts(async (vn) => {
    const server = vn.net('server').createServer((s) => s.pipe(s));
    await waitEvent(server.listen(7), 'listening');
    // Before the connection exists: remembered and applied when it opens.
    const early = vn.net('client').connect(7, SERVER);
    assert.equal(early.setNoDelay(true), early);
    assert.equal(early.setKeepAlive(true, 30_000), early);
    await waitEvent(early, 'connect');
    const ec = early.connection;
    assert.ok(ec);
    assert.equal(ec.opts.noDelay, true);
    assert.equal(ec.opts.keepAlive, true);
    assert.equal(ec.opts.keepIdle, 30_000_000, 'keepIdle in microseconds');
    // After connect: applied at once; setNoDelay() with no argument means true, as in net.Socket.
    const late = vn.net('client').connect(7, SERVER);
    await waitEvent(late, 'connect');
    const lc = late.connection;
    assert.ok(lc);
    assert.equal(lc.opts.noDelay, false);
    assert.equal(lc.opts.keepAlive, false);
    late.setNoDelay();
    late.setKeepAlive(true, 5000);
    assert.equal(lc.opts.noDelay, true);
    assert.equal(lc.opts.keepAlive, true);
    assert.equal(lc.opts.keepIdle, 5_000_000);
    late.setNoDelay(false);
    late.setKeepAlive(false);
    assert.equal(lc.opts.noDelay, false);
    assert.equal(lc.opts.keepAlive, false);
    // destroySoon: the written bytes go out, then the FIN, then the socket closes.
    early.write('last words');
    const closed = waitEvent(early, 'close');
    early.destroySoon();
    assert.equal(early.writable, false, 'destroySoon ends the writable side at once');
    await closed;
    assert.equal(early.destroyed, true);
    assert.equal(early.bytesWritten, 10);
    assert.ok(['FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT', 'CLOSING', 'CLOSED'].includes(ec.state), ec.state);
    late.destroy();
    server.close();
  });
});
