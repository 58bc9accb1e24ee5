/**
 * TCP_CONGESTION on stack stream sockets (Linux tcp(7)): the controller by name, per socket,
 * before connect, on a listener (its connections inherit it) and on a live connection; ENOENT
 * for a name the stack does not have; getsockopt gives the name NUL-padded to TCP_CA_NAME_MAX.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AF_INET, IPPROTO_TCP, SOCK_STREAM, TCP_CONGESTION } from '../../src/socket/constants.ts';
import { SocketError } from '../../src/socket/errno.ts';
import { connectionOf, pair, randomBytes, recvExactly } from '../scenarios/tcp-net.ts';

const code = (c: string) => (e: unknown) => e instanceof SocketError && e.code === c;
const name = (b: number | Uint8Array) => new TextDecoder().decode(b as Uint8Array).replace(/\0+$/, '');

describe('TCP_CONGESTION', () => {
  it('per socket and per listener; the connections run the named controller and move the data', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind([net.bAddr, 5000]);
      srv.setsockopt(IPPROTO_TCP, TCP_CONGESTION, 'reno');
      await srv.listen(4);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      // The Linux profile's default, CUBIC (net.ipv4.tcp_congestion_control), NUL-padded to 16 bytes.
      const dflt = cli.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 16) as Uint8Array;
      assert.equal(dflt.length, 16);
      assert.equal(name(dflt), 'cubic');
      cli.setsockopt(IPPROTO_TCP, TCP_CONGESTION, 'bbr');
      assert.equal(name(cli.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 16)), 'bbr');
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      assert.equal(connectionOf(net.a, cli)?.info().congestion, 'bbr');
      assert.equal(connectionOf(net.b, conn)?.info().congestion, 'newreno', 'inherited from the listener');
      // Linux's name for NewReno is "reno".
      assert.equal(name(conn.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 16)), 'reno');
      const data = randomBytes(300_000, 5);
      await cli.sendall(data);
      assert.deepEqual(await recvExactly(conn, data.length), data);
      await cli.close();
      await conn.close();
      await srv.close();
    });
  });

  it('switching a live connection keeps its window; bytes keep flowing', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind([net.bAddr, 5000]);
      await srv.listen(4);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      const first = randomBytes(200_000, 1);
      await cli.sendall(first);
      assert.deepEqual(await recvExactly(conn, first.length), first);
      const c = connectionOf(net.a, cli)!;
      const cwnd = c.info().cwnd;
      assert.equal(c.info().congestion, 'cubic');
      cli.setsockopt(IPPROTO_TCP, TCP_CONGESTION, new TextEncoder().encode('reno\0'));
      assert.equal(c.info().congestion, 'newreno');
      assert.equal(c.info().cwnd, cwnd, 'tcp_reinit_congestion_control leaves snd_cwnd');
      cli.setsockopt(IPPROTO_TCP, TCP_CONGESTION, 'bbr');
      assert.equal(c.info().congestion, 'bbr');
      const second = randomBytes(200_000, 2);
      await cli.sendall(second);
      assert.deepEqual(await recvExactly(conn, second.length), second);
      await cli.close();
      await conn.close();
      await srv.close();
    });
  });

  it('ENOENT for an unknown name, EINVAL for an empty one, a TypeError for a number; "reno" and "newreno" are NewReno', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const s = net.a.socket(AF_INET, SOCK_STREAM);
      assert.throws(() => s.setsockopt(IPPROTO_TCP, TCP_CONGESTION, 'vegas'), code('ENOENT'));
      assert.throws(() => s.setsockopt(IPPROTO_TCP, TCP_CONGESTION, ''), code('EINVAL'));
      assert.throws(() => s.setsockopt(IPPROTO_TCP, TCP_CONGESTION, 3), TypeError);
      s.setsockopt(IPPROTO_TCP, TCP_CONGESTION, 'cubic');
      s.setsockopt(IPPROTO_TCP, TCP_CONGESTION, 'newreno');
      assert.equal(name(s.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 16)), 'reno');
      // A short buffer gets the name's first bytes (Linux copies min(len, TCP_CA_NAME_MAX)).
      assert.equal(name(s.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 2)), 're');
      await s.close();
    });
  });
});
