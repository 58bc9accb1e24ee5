/**
 * TCP over UDP (FreeBSD's net.inet.tcp.udp_tunneling_port and TCP_REMOTE_UDP_ENCAPS_PORT;
 * TcpConfig.udpTunnelingPort here) on a whole network, through the sockets API: the
 * connection's segments all ride in UDP datagrams between the tunnelling ports, the data
 * arrives intact, the MSS leaves room for the UDP header, and the tunnel port is the
 * kernel's (no UDP socket may take it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CaptureWriter } from '../../src/link/pcap.ts';
import {
  AF_INET,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_TCP,
  SHUT_WR,
  SOCK_DGRAM,
  SOCK_STREAM,
  TCP_MAXSEG,
  TCP_REMOTE_UDP_ENCAPS_PORT,
} from '../../src/socket/constants.ts';
import { seconds } from '../../src/time/instant.ts';
import { pair, randomBytes, recvAll, sha256 } from './tcp-net.ts';

const TUNNEL = 9811;

/** Every frame a sends or receives, raw. */
function frames(): CaptureWriter & { all: Uint8Array[] } {
  const all: Uint8Array[] = [];
  return { all, interfaceFor: () => 0, writePacket: (_t, data) => void all.push(data.slice()) };
}

/** IPv4 protocol, TTL and (for UDP) ports of an Ethernet frame; undefined for non-IPv4. */
function ipOf(f: Uint8Array): { proto: number; ttl: number; sport?: number; dport?: number } | undefined {
  if (f[12] !== 0x08 || f[13] !== 0x00) return undefined;
  const ip = f.subarray(14);
  const ihl = (ip[0]! & 15) * 4;
  const proto = ip[9]!;
  const ttl = ip[8]!;
  if (proto !== 17) return { proto, ttl };
  return { proto, ttl, sport: (ip[ihl]! << 8) | ip[ihl + 1]!, dport: (ip[ihl + 2]! << 8) | ip[ihl + 3]! };
}

describe('TCP over UDP (TcpConfig.udpTunnelingPort, TCP_REMOTE_UDP_ENCAPS_PORT)', () => {
  it('carries a whole connection in UDP datagrams between the tunnel ports, byte-exact', async () => {
    const cap = frames();
    const net = pair({ seed: 7, captureA: cap, config: { tcp: { udpTunnelingPort: TUNNEL } } });
    const data = randomBytes(300_000, 7);
    const r = await net.sim.run(
      async () => {
        const srv = net.b.socket(AF_INET, SOCK_STREAM);
        await srv.bind(['0.0.0.0', 7000]);
        await srv.listen(1);
        const c = net.a.socket(AF_INET, SOCK_STREAM);
        c.setsockopt(IPPROTO_TCP, TCP_REMOTE_UDP_ENCAPS_PORT, TUNNEL);
        c.setsockopt(IPPROTO_IP, IP_TTL, 9);
        await c.connect([net.bAddr, 7000]);
        const [s] = await srv.accept();
        const got = recvAll(s);
        await c.sendall(data);
        c.shutdown(SHUT_WR);
        const mss = c.getsockopt(IPPROTO_TCP, TCP_MAXSEG);
        const bytes = await got;
        c.close();
        s.close();
        return { bytes, mss };
      },
      { timeout: seconds(60) },
    );
    assert.equal(r.bytes.length, data.length);
    assert.equal(await sha256(r.bytes), await sha256(data));
    // The tunnel's 8 bytes come out of the MSS (FreeBSD tcp_mss_update's udp_tunneling_overhead).
    assert.equal(r.mss, 1460 - 8);
    const ip = cap.all.map(ipOf).filter((x) => x !== undefined);
    assert.ok(ip.length > 200, `${ip.length} IPv4 frames`);
    assert.equal(ip.filter((x) => x.proto === 6).length, 0, 'no plain TCP on the wire');
    for (const x of ip) {
      assert.equal(x.proto, 17);
      assert.equal(x.sport, TUNNEL);
      assert.equal(x.dport, TUNNEL);
    }
    // a's own datagrams carry its IP_TTL; b's carry the default.
    const ttls = new Set(ip.map((x) => x.ttl));
    assert.deepEqual(
      [...ttls].sort((p, q) => p - q),
      [9, 64],
    );
  });

  it('refuses the option while tunnelling is off or once connected; the tunnel port is not bindable', async () => {
    const off = pair({ seed: 8 });
    await off.sim.run(async () => {
      const c = off.a.socket(AF_INET, SOCK_STREAM);
      assert.throws(() => c.setsockopt(IPPROTO_TCP, TCP_REMOTE_UDP_ENCAPS_PORT, TUNNEL), { code: 'EINVAL' });
      c.close();
    });
    const on = pair({ seed: 9, config: { tcp: { udpTunnelingPort: TUNNEL } } });
    await on.sim.run(async () => {
      const srv = on.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 7000]);
      await srv.listen(1);
      const c = on.a.socket(AF_INET, SOCK_STREAM);
      await c.connect([on.bAddr, 7000]);
      assert.throws(() => c.setsockopt(IPPROTO_TCP, TCP_REMOTE_UDP_ENCAPS_PORT, TUNNEL), { code: 'EINVAL' });
      assert.equal(c.getsockopt(IPPROTO_TCP, TCP_REMOTE_UDP_ENCAPS_PORT), 0);
      const u = on.b.socket(AF_INET, SOCK_DGRAM);
      await assert.rejects(u.bind(['0.0.0.0', TUNNEL]), { code: 'EADDRINUSE' });
      u.close();
      c.close();
      srv.close();
    });
  });
});
