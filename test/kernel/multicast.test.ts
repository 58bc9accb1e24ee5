/**
 * Issue #15: multicast in both families against the kernel, over a TAP in a namespace the
 * test creates. The kernel joins a group (Python's IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP) and
 * receives the stack's datagrams; the stack joins a group and receives the kernel's; the
 * stack's IGMPv3 and MLDv2 reports are read by tshark (decoded as joins, nothing
 * malformed).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PcapWriter } from '../../src/link/pcap.ts';
import { RealtimeDriver } from '../../src/link/realtime.ts';
import { ip as ipCmd, nsSpawn } from '../../src/node/netns.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import {
  AF_INET,
  AF_INET6,
  IP_ADD_MEMBERSHIP,
  IP_MULTICAST_IF,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_MULTICAST_IF,
  SOCK_DGRAM,
} from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { SystemClock } from '../../src/time/system.ts';
import { parseIpv6 } from '../../src/wire/address.ts';
import { tapInNetns } from '../helpers/netns.ts';
import { hasTshark, tsharkDissect } from '../helpers/tshark.ts';
import { exited, lines, skipUnless, text, until } from './helpers.ts';

/** A kernel-side member or sender, in Python (what the course's students would write). */
const PEER = `
import socket, struct, sys
role, fam, group, port, ifarg = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
if fam == '4':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
else:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(20)
if role == 'recv':
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('', port))
    if fam == '4':
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton(ifarg))
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, group) + struct.pack('@I', socket.if_nametoindex(ifarg)))
    print('ready', flush=True)
    data, addr = s.recvfrom(2000)
    print('GOT', data.decode(), addr[0], flush=True)
else:
    if fam == '4':
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifarg))
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(ifarg))
    for i in range(40):
        s.sendto(('kernel says %d' % i).encode(), (group, port))
        import time; time.sleep(0.1)
    print('SENT', flush=True)
`;

function mreq4(group: string, iface: string): Uint8Array {
  return Uint8Array.from([...group.split('.'), ...iface.split('.')].map(Number));
}

function mreq6(group: string, ifindex: number): Uint8Array {
  const b = new Uint8Array(20);
  b.set(parseIpv6(group)!, 0);
  new DataView(b.buffer).setUint32(16, ifindex, true);
  return b;
}

describe('multicast: a Stack on a TAP, the kernel as peer', () => {
  it('IPv4 and IPv6 groups both ways; our IGMPv3/MLDv2 reports decode in tshark', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await tapInNetns(t, {
      disableIpv6: false,
      name: `ipv6mmc${process.pid % 1000}`,
      offload: false,
    });
    const { tap, netns } = h;
    const ifname = tap.ifname;
    ipCmd(['addr', 'add', '10.84.1.1/24', 'dev', ifname], netns);
    ipCmd(['-6', 'addr', 'add', 'fd00:84::1/64', 'dev', ifname, 'nodad'], netns);

    const dir = mkdtempSync(join(tmpdir(), 'ipv6m-mc-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const chunks: Uint8Array[] = [];
    const clock = new SystemClock();
    const pcap = new PcapWriter((c) => chunks.push(c.slice()));
    const driver = new RealtimeDriver({ clock });
    t.after(() => driver.stop());
    const stack = new Stack({ clock, rng: new CryptoRng(), name: 'mc' });
    stack.timers.onEarliestChanged = () => driver.kick();
    const tx = tap.transmit.bind(tap);
    tap.transmit = (f: Uint8Array) => {
      pcap.writePacket(clock.now(), f);
      tx(f);
    };
    const iface = stack.addInterface({
      name: 'eth0',
      device: tap,
      addresses: ['10.84.1.2/24', 'fd00:84::2/64'],
    });
    const rx = tap.onReceive!;
    tap.onReceive = (f: Uint8Array) => {
      pcap.writePacket(clock.now(), f);
      rx(f);
    };
    stack.onWake = () => driver.kick();
    driver.add(stack);
    const st = stack.ip6.state(iface)!;
    await until(() => st.linkLocal !== undefined, 5000, 'our link-local address');

    const spawn = (argv: string[]) => {
      const c = nsSpawn(netns, argv[0], argv.slice(1));
      t.after(() => {
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      });
      return c;
    };

    // 1. The kernel joins 239.84.0.1 and receives our datagram.
    const k4 = spawn(['python3', '-c', PEER, 'recv', '4', '239.84.0.1', '6001', '10.84.1.1']);
    const k4out = lines(k4, 'kernel v4 member');
    await k4out.waitFor(/ready/);
    const s4 = stack.socket(AF_INET, SOCK_DGRAM);
    s4.setsockopt(IPPROTO_IP, IP_MULTICAST_IF, Uint8Array.from([10, 84, 1, 2]));
    for (let i = 0; i < 20 && !/GOT/.test(k4out.out); i++) {
      await s4.sendto(`stack says ${i}`, ['239.84.0.1', 6001]);
      await new Promise((r) => setTimeout(r, 100));
    }
    const g4 = await k4out.waitFor(/GOT (stack says \d+) (\S+)/, 5000);
    assert.equal(g4[2], '10.84.1.2');
    assert.equal(await exited(k4, 5000), 0);

    // 2. We join 239.84.0.2 and receive the kernel's datagrams.
    const r4 = stack.socket(AF_INET, SOCK_DGRAM);
    await r4.bind(['0.0.0.0', 6002]);
    r4.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq4('239.84.0.2', '10.84.1.2'));
    const ks4 = spawn(['python3', '-c', PEER, 'send', '4', '239.84.0.2', '6002', '10.84.1.1']);
    r4.settimeout(10);
    const [d4, from4] = await r4.recvfrom(2000);
    assert.match(text(d4), /^kernel says \d+$/);
    assert.equal((from4 as [string, number])[0], '10.84.1.1');
    ks4.kill('SIGKILL');

    // 3. IPv6: the kernel joins ff15::84:1 and receives ours; we join ff15::84:2 and receive its.
    const k6 = spawn(['python3', '-c', PEER, 'recv', '6', 'ff15::84:1', '6003', ifname]);
    const k6out = lines(k6, 'kernel v6 member');
    await k6out.waitFor(/ready/);
    const s6 = stack.socket(AF_INET6, SOCK_DGRAM);
    s6.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, iface.ifindex);
    for (let i = 0; i < 20 && !/GOT/.test(k6out.out); i++) {
      await s6.sendto(`stack6 says ${i}`, ['ff15::84:1', 6003]);
      await new Promise((r) => setTimeout(r, 100));
    }
    const g6 = await k6out.waitFor(/GOT (stack6 says \d+) (\S+)/, 5000);
    assert.equal(g6[2], 'fd00:84::2');
    const r6 = stack.socket(AF_INET6, SOCK_DGRAM);
    await r6.bind(['::', 6004]);
    r6.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq6('ff15::84:2', iface.ifindex));
    const ks6 = spawn(['python3', '-c', PEER, 'send', '6', 'ff15::84:2', '6004', ifname]);
    r6.settimeout(10);
    const [d6] = await r6.recvfrom(2000);
    assert.match(text(d6), /^kernel says \d+$/);
    ks6.kill('SIGKILL');

    for (const s of [s4, r4, s6, r6]) await s.close();

    if (hasTshark()) {
      const file = join(dir, 'mc.pcap');
      writeFileSync(file, Buffer.concat(chunks));
      const r = tsharkDissect(file);
      assert.equal(r.malformed, 0, 'no malformed packets');
      assert.equal(r.checksumErrors, 0, 'no bad checksums');
      // Our IGMPv3 join of 239.84.0.2 and MLDv2 join of ff15::84:2, as Wireshark reads them.
      assert.match(r.text, /Source Address: 10\.84\.1\.2\n\s+Destination Address: 224\.0\.0\.22/);
      assert.match(r.text, /Group Record : 239\.84\.0\.2 {2}Change To Exclude Mode/);
      assert.match(r.text, /Multicast Address Record Changed to exclude: ff15::84:2/);
      for (const p of ['ip:igmp', 'ipv6:udp', 'ip:udp'])
        assert.ok(
          r.protocols.some((x) => x.includes(p)),
          p,
        );
    }
  });
});
