/**
 * The socket as a file and as Web Streams, on every backend (issue #18, item 13):
 * makefile() (readline, read, write, flush), socketpair(), create_server(),
 * sendfile(), and the readable/writable streams. All are written over the front
 * Socket's own recv/sendall, so each scenario must behave the same on the kernel
 * and on the stack.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AF_INET, MSG_DONTWAIT, SO_REUSEADDR, SOCK_DGRAM, SOL_SOCKET } from '../../src/socket/constants.ts';
import { ArgumentTypeError, SocketError, ValueError } from '../../src/socket/errno.ts';
import { createServer, socketpair } from '../../src/socket/server.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { type Backend, parityBackends } from './backends.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

for (const [name, factory] of parityBackends) {
  describe(`parity (files and streams): ${name}`, () => {
    let b: Backend;
    const open: Socket[] = [];
    const keep = <T extends Socket[]>(...s: T): T => {
      open.push(...s);
      return s;
    };
    const pair = async (): Promise<[Socket, Socket]> => keep(...(await socketpair(b.backend)));

    before(async () => {
      b = await factory();
    });
    after(async () => {
      for (const s of open.splice(0)) await s.close();
      await b.cleanup();
    });

    it('socketpair(): two connected stream sockets, each the other’s peer', async () => {
      const [x, y] = await pair();
      assert.deepEqual(x.getpeername(), y.getsockname());
      assert.deepEqual(y.getpeername(), x.getsockname());
      await x.sendall('ping');
      assert.equal(dec.decode(await y.recv(10)), 'ping');
      await assert.rejects(
        socketpair(b.backend, AF_INET, SOCK_DGRAM),
        (e: unknown) => e instanceof SocketError && e.code === 'EOPNOTSUPP',
      );
    });

    it('makefile(): readline, read(n), read() to EOF, write + flush, iteration by line', async () => {
      const [x, y] = await pair();
      const out = x.makefile('w');
      await out.write('first line\nsecond');
      await out.write(' line\nthird: é\n');
      await assert.rejects(
        y.recv(1, MSG_DONTWAIT),
        (e: unknown) => e instanceof SocketError && e.code === 'EAGAIN',
      );
      await out.flush();
      const inp = y.makefile('r');
      assert.equal(await inp.readline(), 'first line\n');
      assert.equal(await inp.read(6), 'second');
      assert.equal(await inp.readline(), ' line\n');
      await out.write('tail without newline');
      await out.close();
      assert.equal(x.closed, false, "closing the file leaves the socket open, as Python's does");
      x.shutdown(1);
      const rest: string[] = [];
      for await (const l of inp) rest.push(l);
      assert.deepEqual(rest, ['third: é\n', 'tail without newline']);
      assert.equal(await inp.readline(), '', 'EOF: an empty line');
      assert.equal(await inp.read(), '');
    });

    it("makefile('rwb'): bytes both ways; bad modes and closed files raise Python's errors", async () => {
      const [x, y] = await pair();
      const fx = x.makefile('rwb');
      const fy = y.makefile('rwb');
      await fx.write(new Uint8Array([1, 2, 3, 10, 4, 5]));
      await fx.flush();
      assert.deepEqual([...(await fy.readline())], [1, 2, 3, 10]);
      assert.deepEqual([...(await fy.read(2))], [4, 5]);
      await fy.write(enc.encode('back'));
      await fy.close();
      assert.equal(dec.decode(await fx.read(4)), 'back');
      assert.throws(() => x.makefile('rx' as never), ValueError);
      await assert.rejects(fy.read(1), ValueError, 'I/O operation on closed file');
      await assert.rejects(
        x.makefile('r').write('x' as never),
        (e: unknown) => e instanceof SocketError && e.code === 'EBADF',
      );
    });

    it('create_server(): SO_REUSEADDR, bound and listening; clients connect', async () => {
      const [srv] = keep(await createServer(b.backend, [b.host, 0]));
      assert.equal(srv.getsockopt(SOL_SOCKET, SO_REUSEADDR), 1);
      const port = (srv.getsockname() as [string, number])[1];
      assert.ok(port > 0);
      const [cli] = keep(b.socket());
      const acc = srv.accept();
      await cli.connect([b.host, port]);
      const [conn] = keep((await acc)[0]);
      await conn.sendall('hello');
      assert.equal(dec.decode(await cli.recv(10)), 'hello');
      // A port someone holds: EADDRINUSE, and the failed server socket is closed.
      await assert.rejects(
        createServer(b.backend, [b.host, port]),
        (e: unknown) => e instanceof SocketError && e.code === 'EADDRINUSE',
      );
    });

    it('sendfile(): a Uint8Array, a Blob, a stream and an iterable, with offset and count', async () => {
      const [x, y] = await pair();
      const data = enc.encode('0123456789abcdef');
      assert.equal(await x.sendfile(data), 16);
      assert.equal(await x.sendfile(new Blob([data]), 10), 6);
      assert.equal(await x.sendfile(new Blob([data]).stream(), 2, 3), 3);
      assert.equal(await x.sendfile([data.subarray(0, 4), data.subarray(4, 8)], 3, 2), 2);
      x.shutdown(1);
      let got = '';
      for (;;) {
        const c = await y.recv(100);
        if (c.length === 0) break;
        got += dec.decode(c);
      }
      assert.equal(got, '0123456789abcdef' + 'abcdef' + '234' + '34');
      await assert.rejects(x.sendfile(42 as never), ArgumentTypeError);
      await assert.rejects(x.sendfile(data, -1), ValueError);
      const [u] = keep(b.socket(AF_INET, SOCK_DGRAM));
      await assert.rejects(u.sendfile(data), ValueError);
    });

    it('readable/writable: Web Streams piped end to end; closing the writable half-closes', async () => {
      const [x, y] = await pair();
      const source = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 50; i++) c.enqueue(enc.encode(`chunk ${i}\n`));
          c.close();
        },
      });
      const piping = source.pipeTo(x.writable);
      let text = '';
      const reader = y.readable
        .pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>)
        .getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += value;
      }
      await piping;
      assert.equal(text.split('\n').length, 51);
      assert.ok(text.startsWith('chunk 0\nchunk 1\n') && text.endsWith('chunk 49\n'));
      assert.equal(x.readable, x.readable, 'one stream per socket');
      // The reverse direction still works after x's half-close.
      const w = y.writable.getWriter();
      await w.write('reply');
      await w.close();
      assert.equal(dec.decode(await x.recv(10)), 'reply');
    });
  });
}
