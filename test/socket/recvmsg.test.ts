/**
 * recvmsg() on the stack backend: the control messages the receive options ask for
 * (src/socket/ancillary.ts), in Linux's order and layout, cut to the control buffer as
 * Linux's put_cmsg cuts them, and msg_flags (MSG_TRUNC, MSG_CTRUNC).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitAncillary } from '../../src/socket/ancillary.ts';
import {
  AF_INET,
  AF_INET6,
  IP_PKTINFO,
  IP_RECVTOS,
  IP_RECVTTL,
  IP_TOS,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_HOPLIMIT,
  IPV6_PKTINFO,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVPKTINFO,
  IPV6_RECVTCLASS,
  IPV6_TCLASS,
  MSG_CTRUNC,
  MSG_TRUNC,
  SOCK_DGRAM,
  SOCK_STREAM,
  TCP_CM_INQ,
  TCP_INQ,
} from '../../src/socket/constants.ts';
import { pair } from '../scenarios/tcp-net.ts';

const int = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength).getInt32(0, true);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('recvmsg control messages (stack backend)', () => {
  it('UDP over IPv4: IP_PKTINFO, IP_TTL, IP_TOS in that order, only those asked for', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const rx = net.b.socket(AF_INET, SOCK_DGRAM);
      await rx.bind([net.bAddr, 4000]);
      const tx = net.a.socket(AF_INET, SOCK_DGRAM);
      tx.setsockopt(IPPROTO_IP, IP_TTL, 9);
      // No receive option: no control messages, whatever the buffer.
      await tx.sendto(new Uint8Array(5), [net.bAddr, 4000]);
      const [d0, anc0, flags0, from0] = await rx.recvmsg(100, 1024);
      assert.equal(d0.length, 5);
      assert.deepEqual(anc0, []);
      assert.equal(flags0, 0);
      assert.deepEqual(from0, [net.aAddr, tx.getsockname()[1]]);

      rx.setsockopt(IPPROTO_IP, IP_RECVTOS, 1);
      rx.setsockopt(IPPROTO_IP, IP_RECVTTL, 1);
      rx.setsockopt(IPPROTO_IP, IP_PKTINFO, 1);
      assert.equal(rx.getsockopt(IPPROTO_IP, IP_RECVTTL), 1);
      await tx.sendto(new Uint8Array(5), [net.bAddr, 4000]);
      const [, anc, flags] = await rx.recvmsg(100, 1024);
      assert.equal(flags, 0);
      assert.deepEqual(
        anc.map(([l, t]) => [l, t]),
        [
          [IPPROTO_IP, IP_PKTINFO],
          [IPPROTO_IP, IP_TTL],
          [IPPROTO_IP, IP_TOS],
        ],
      );
      // struct in_pktinfo: ifindex 2 (eth0 after lo), spec_dst and addr 10.0.0.2.
      assert.equal(hex(anc[0]![2]), '02000000' + '0a000002' + '0a000002');
      assert.equal(int(anc[1]![2]), 9); // the sender's IP_TTL, no router between
      assert.deepEqual([...anc[2]![2]], [0]); // one byte, as ip_cmsg_recv_tos puts it

      // A short datagram buffer: MSG_TRUNC; a control buffer with room for one header and
      // 4 bytes of data: the in_pktinfo is cut, the rest dropped, MSG_CTRUNC.
      await tx.sendto(new Uint8Array(50), [net.bAddr, 4000]);
      const [d2, anc2, flags2] = await rx.recvmsg(10, 20);
      assert.equal(d2.length, 10);
      assert.equal(flags2, MSG_TRUNC | MSG_CTRUNC);
      assert.equal(anc2.length, 1);
      assert.equal(hex(anc2[0]![2]), '02000000');
      await rx.close();
      await tx.close();
    });
  });

  it('UDP over IPv6: IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS (ints), and IPv4-mapped pktinfo', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const rx = net.a.socket(AF_INET6, SOCK_DGRAM);
      await rx.bind(['::', 4001]);
      rx.setsockopt(IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
      rx.setsockopt(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
      rx.setsockopt(IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
      const tx = net.a.socket(AF_INET6, SOCK_DGRAM);
      await tx.sendto(new Uint8Array(3), ['::1', 4001]);
      const [, anc] = await rx.recvmsg(100, 1024);
      assert.deepEqual(
        anc.map(([l, t]) => [l, t]),
        [
          [IPPROTO_IPV6, IPV6_PKTINFO],
          [IPPROTO_IPV6, IPV6_HOPLIMIT],
          [IPPROTO_IPV6, IPV6_TCLASS],
        ],
      );
      // struct in6_pktinfo: ::1, then lo's index 1.
      assert.equal(hex(anc[0]![2]), `${'00'.repeat(15)}01` + '01000000');
      assert.equal(int(anc[1]![2]), 64);
      assert.equal(int(anc[2]![2]), 0);
      // An IPv4 datagram to the dual-stack socket: IPV6_PKTINFO with the v4-mapped address,
      // then only the IPv4 messages asked for (none here), as udpv6_recvmsg gives them.
      const tx4 = net.b.socket(AF_INET, SOCK_DGRAM);
      await tx4.sendto(new Uint8Array(3), [net.aAddr, 4001]);
      const [, anc4, , from4] = await rx.recvmsg(100, 1024);
      assert.equal(from4?.[0], `::ffff:${net.bAddr}`);
      assert.deepEqual(
        anc4.map(([l, t, d]) => [l, t, hex(d)]),
        [[IPPROTO_IPV6, IPV6_PKTINFO, `${'00'.repeat(10)}ffff0a000001` + '02000000']],
      );
      await rx.close();
      await tx.close();
      await tx4.close();
    });
  });

  it('TCP_INQ: TCP_CM_INQ counts the bytes left after the read, plus one once the FIN is in', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind([net.bAddr, 5000]);
      await srv.listen(4);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      // sendmsg on a stream: the buffers as one write (2000 + 1000 bytes).
      assert.equal(await cli.sendmsg([new Uint8Array(2000), new Uint8Array(1000)]), 3000);
      await net.sim.sleep(50_000_000);
      // Off: no message.
      assert.deepEqual((await conn.recvmsg(1000, 64))[1], []);
      conn.setsockopt(IPPROTO_TCP, TCP_INQ, 1);
      assert.equal(conn.getsockopt(IPPROTO_TCP, TCP_INQ), 1);
      const [d, anc, flags, from] = await conn.recvmsg(1000, 64);
      assert.equal(d.length, 1000);
      assert.deepEqual(
        anc.map(([l, t, b]) => [l, t, int(b)]),
        [[IPPROTO_TCP, TCP_CM_INQ, 1000]],
      );
      assert.equal(flags, 0);
      assert.equal(from, null);
      await cli.close();
      await net.sim.sleep(50_000_000);
      // The FIN is in: the last bytes read leave the hint at 1 (tcp_inq_hint), and so does EOF.
      const [d2, anc2] = await conn.recvmsg(5000, 64);
      assert.equal(d2.length, 1000);
      assert.equal(int(anc2[0]![2]), 1);
      const [d3, anc3] = await conn.recvmsg(5000, 64);
      assert.equal(d3.length, 0);
      assert.equal(int(anc3[0]![2]), 1);
      // No control buffer: the message is dropped and MSG_CTRUNC says so.
      assert.deepEqual(await conn.recvmsg(10, 0), [new Uint8Array(0), [], MSG_CTRUNC, null]);
      await conn.close();
      await srv.close();
    });
  });

  it('sendmsg: IP_TTL / IP_TOS control messages set one datagram; IP_TOS as an option sets them all', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const rx = net.b.socket(AF_INET, SOCK_DGRAM);
      await rx.bind([net.bAddr, 4002]);
      rx.setsockopt(IPPROTO_IP, IP_RECVTTL, 1);
      rx.setsockopt(IPPROTO_IP, IP_RECVTOS, 1);
      const tx = net.a.socket(AF_INET, SOCK_DGRAM);
      const got = async () =>
        (await rx.recvmsg(100, 1024))[1].map(([, , d]) => (d.length === 1 ? d[0] : int(d)));
      const i32 = (n: number) => new Uint8Array(new Int32Array([n]).buffer);
      const to: [string, number] = [net.bAddr, 4002];
      assert.equal(
        await tx.sendmsg(
          ['ab', new Uint8Array(3)],
          [
            [IPPROTO_IP, IP_TTL, i32(7)],
            [IPPROTO_IP, IP_TOS, Uint8Array.of(0x2b)],
          ],
          0,
          to,
        ),
        5,
      );
      assert.deepEqual(await got(), [7, 0x2b]);
      // The socket's own: IP_TOS keeps the ECN bits on a datagram socket; the next datagram
      // without control messages has the defaults back for the TTL.
      tx.setsockopt(IPPROTO_IP, IP_TOS, 0xb9);
      assert.equal(tx.getsockopt(IPPROTO_IP, IP_TOS), 0xb9);
      await tx.sendmsg([new Uint8Array(1)], [], 0, to);
      assert.deepEqual(await got(), [64, 0xb9]);
      // ip_cmsg_send: a TTL of 0, or a message the stack does not take, is EINVAL.
      await assert.rejects(tx.sendmsg(['x'], [[IPPROTO_IP, IP_TTL, i32(0)]], 0, to), { code: 'EINVAL' });
      await assert.rejects(tx.sendmsg(['x'], [[IPPROTO_IP, IP_PKTINFO, new Uint8Array(12)]], 0, to), {
        code: 'EINVAL',
      });
      // Not connected and no address: EDESTADDRREQ.
      await assert.rejects(tx.sendmsg(['x']), { code: 'EDESTADDRREQ' });
      await rx.close();
      await tx.close();
    });
  });

  it('sendmsg over IPv6: IPV6_HOPLIMIT and IPV6_TCLASS, and the IPV6_TCLASS option', async () => {
    const net = pair();
    await net.sim.run(async () => {
      const rx = net.a.socket(AF_INET6, SOCK_DGRAM);
      await rx.bind(['::1', 4003]);
      rx.setsockopt(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
      rx.setsockopt(IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
      const tx = net.a.socket(AF_INET6, SOCK_DGRAM);
      const i32 = (n: number) => new Uint8Array(new Int32Array([n]).buffer);
      tx.setsockopt(IPPROTO_IPV6, IPV6_TCLASS, 0x20);
      await tx.sendmsg(['x'], [], 0, ['::1', 4003]);
      assert.deepEqual(
        (await rx.recvmsg(10, 1024))[1].map(([, , d]) => int(d)),
        [64, 0x20],
      );
      await tx.sendmsg(
        ['x'],
        [
          [IPPROTO_IPV6, IPV6_HOPLIMIT, i32(5)],
          [IPPROTO_IPV6, IPV6_TCLASS, i32(-1)],
        ],
        0,
        ['::1', 4003],
      );
      // -1: the socket's own (udpv6_sendmsg: ipc6.tclass < 0 takes np->tclass).
      assert.deepEqual(
        (await rx.recvmsg(10, 1024))[1].map(([, , d]) => int(d)),
        [5, 0x20],
      );
      await rx.close();
      await tx.close();
    });
  });

  it('fitAncillary follows put_cmsg: CMSG_SPACE steps, a cut message keeps what fits', () => {
    const four = new Uint8Array([1, 2, 3, 4]);
    const one = new Uint8Array([7]);
    // 16 + 8 (CMSG_SPACE(4)) + 16 + 1 (CMSG_LEN(1)) = 41 bytes hold both.
    assert.deepEqual(
      fitAncillary(
        [
          [0, 1, four],
          [0, 2, one],
        ],
        41,
      ),
      [
        [
          [0, 1, four],
          [0, 2, one],
        ],
        0,
      ],
    );
    assert.deepEqual(
      fitAncillary(
        [
          [0, 1, four],
          [0, 2, one],
        ],
        40,
      ),
      [
        [
          [0, 1, four],
          [0, 2, new Uint8Array(0)],
        ],
        MSG_CTRUNC,
      ],
    );
    assert.deepEqual(
      fitAncillary(
        [
          [0, 1, four],
          [0, 2, one],
        ],
        30,
      ),
      [[[0, 1, four]], MSG_CTRUNC],
    );
    assert.deepEqual(fitAncillary([], 0), [[], 0]);
  });
});
