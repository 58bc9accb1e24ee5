/**
 * IP_TOS and IP_MTU_DISCOVER on the stack's stream sockets (ip(7)): the TOS byte and the DF
 * bit of every IPv4 datagram the connection sends, checked on the frames captured on a's wire.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CaptureWriter, Direction } from '../../src/link/pcap.ts';
import {
  AF_INET,
  IP_MTU_DISCOVER,
  IP_PMTUDISC_DO,
  IP_PMTUDISC_DONT,
  IP_PMTUDISC_PROBE,
  IP_TOS,
  IPPROTO_IP,
  SOCK_STREAM,
} from '../../src/socket/constants.ts';
import { SocketError } from '../../src/socket/errno.ts';
import { type Instant, millis } from '../../src/time/instant.ts';
import { isWireError } from '../../src/wire/error.ts';
import { ETHERTYPE_IPV4, parseEthernet } from '../../src/wire/ethernet.ts';
import { parseIpv4Packet } from '../../src/wire/ipv4.ts';
import { pair } from '../scenarios/tcp-net.ts';

interface Seen {
  dir: Direction | undefined;
  protocol: number;
  dscp: number;
  ecn: number;
  df: boolean;
  len: number;
}

/** Records every IPv4 datagram crossing a's interface. */
function recorder(): { writer: CaptureWriter; seen: Seen[] } {
  const seen: Seen[] = [];
  const writer: CaptureWriter = {
    interfaceFor: () => 0,
    writePacket(_t: Instant, data: Uint8Array, _iface?: number, dir?: Direction) {
      const eth = parseEthernet(data);
      if (isWireError(eth) || eth.repr.ethertype !== ETHERTYPE_IPV4) return;
      const ip = parseIpv4Packet(eth.payload);
      if (isWireError(ip)) return;
      const r = ip.repr;
      seen.push({
        dir,
        protocol: r.protocol,
        dscp: r.dscp,
        ecn: r.ecn,
        df: r.dontFragment,
        len: ip.payload.length,
      });
    },
  };
  return { writer, seen };
}

const code = (c: string) => (e: unknown) => e instanceof SocketError && e.code === c;
const TCP = 6;

describe('IP_TOS / IP_MTU_DISCOVER on stack stream sockets', () => {
  it('every segment carries the socket TOS byte (ECN bits kept by TCP) and DF as the PMTU mode decides', async () => {
    const { writer, seen } = recorder();
    const net = pair({ captureA: writer });
    await net.sim.run(async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind([net.bAddr, 5000]);
      await srv.listen(4);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      // Defaults: TOS 0, IP_PMTUDISC_WANT (1).
      assert.equal(cli.getsockopt(IPPROTO_IP, IP_TOS), 0);
      assert.equal(cli.getsockopt(IPPROTO_IP, IP_MTU_DISCOVER), 1);
      assert.throws(() => cli.setsockopt(IPPROTO_IP, IP_MTU_DISCOVER, 6), code('EINVAL'));
      assert.throws(() => cli.setsockopt(IPPROTO_IP, IP_MTU_DISCOVER, -1), code('EINVAL'));
      // 0xb9 = DSCP 46 (EF) with ECN bits 01: a stream socket keeps only the DSCP.
      cli.setsockopt(IPPROTO_IP, IP_TOS, 0xb9);
      assert.equal(cli.getsockopt(IPPROTO_IP, IP_TOS), 0xb8);
      cli.setsockopt(IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT);
      await cli.connect([net.bAddr, 5000]);
      const [conn] = await srv.accept();
      await cli.sendall(new Uint8Array(3000).fill(1));
      await net.sim.sleep(millis(100));
      let out = seen.filter((s) => s.dir !== 'in' && s.protocol === TCP);
      // SYN, ACK, the data (one super-segment over the offloading cable: TSO ignores DF as Linux's does).
      assert.ok(out.length >= 3, `segments from a: ${out.length}`);
      for (const s of out) assert.deepEqual([s.dscp, s.ecn, s.df], [46, 0, false]);
      // The peer's segments keep the defaults: TOS 0, DF.
      const back = seen.filter((s) => s.dir === 'in' && s.protocol === TCP);
      assert.ok(back.length > 0);
      for (const s of back) assert.deepEqual([s.dscp, s.ecn, s.df], [0, 0, true]);

      // Changed on the live connection: DSCP 10 (AF11), PMTUDISC_DO sets DF.
      seen.length = 0;
      cli.setsockopt(IPPROTO_IP, IP_TOS, 10 << 2);
      cli.setsockopt(IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
      await cli.sendall(new Uint8Array(100).fill(2));
      await net.sim.sleep(millis(100));
      out = seen.filter((s) => s.dir !== 'in' && s.protocol === TCP && s.len > 20);
      assert.equal(out.length, 1);
      assert.deepEqual([out[0]!.dscp, out[0]!.df], [10, true]);

      // IP_PMTUDISC_PROBE: Linux's ip_dont_fragment leaves DF off (only WANT and DO set it).
      seen.length = 0;
      cli.setsockopt(IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE);
      cli.setsockopt(IPPROTO_IP, IP_TOS, 0);
      await cli.sendall(new Uint8Array(100).fill(3));
      await net.sim.sleep(millis(100));
      out = seen.filter((s) => s.dir !== 'in' && s.protocol === TCP && s.len > 20);
      assert.equal(out.length, 1);
      assert.deepEqual([out[0]!.dscp, out[0]!.df], [0, false]);
      assert.equal(cli.getsockopt(IPPROTO_IP, IP_MTU_DISCOVER), IP_PMTUDISC_PROBE);
      await cli.close();
      await conn.close();
      await srv.close();
    });
  });
});
