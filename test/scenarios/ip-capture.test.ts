/**
 * External truth for the IPv4 scenarios: run them on a routed memory network,
 * capture both subnets at the router (captureDevice → PcapngWriter → temp files),
 * and let tshark dissect the captures. No malformed packets, no checksum errors,
 * and tshark's view agrees with ours: time exceeded, fragment counts (MF set on
 * all but the last), the 60 KB UDP datagram reassembled, frag-needed with the
 * next-hop MTU, port unreachable, and broadcasts staying on their subnet.
 *
 *   a  10.0.1.2 ─┐                      ┌─ b  10.0.2.2
 *   a2 10.0.1.3 ─┴─ swA ─[cap A]─ router ─[cap B]─ swB ─┘   (subnet B: MTU 576)
 *                        10.0.1.1        10.0.2.1
 *
 * KEEP_CAPTURE=1 keeps the two pcapng files (the path is printed) for a look in Wireshark.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { captureDevice } from '../../src/link/pcap.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Switch } from '../../src/link/switch.ts';
import { openPcapngFile } from '../../src/node/pcap-file.ts';
import { AF_INET, SO_BROADCAST, SOCK_DGRAM, SOL_SOCKET } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { millis } from '../../src/time/instant.ts';
import { hasTshark, type TsharkResult, tsharkDissect } from '../helpers/tshark.ts';

const BIG = 60_000;

/** Frames matching a display filter, with extra `-o` preferences. */
function count(path: string, filter: string, prefs: string[] = []): number {
  const args = ['-r', path, '-Y', filter, '-T', 'fields', '-e', 'frame.number'];
  for (const p of prefs) args.push('-o', p);
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tshark -Y '${filter}' failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.length > 0).length;
}

/** `-T fields` values of one field for frames matching `filter`. */
function values(path: string, filter: string, field: string, prefs: string[] = []): string[] {
  const args = ['-r', path, '-Y', filter, '-T', 'fields', '-e', field];
  for (const p of prefs) args.push('-o', p);
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tshark -Y '${filter}' -e ${field} failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.length > 0);
}

/**
 * Splits tshark's checksum/expert error lines (as tsharkDissect counts them) into
 * those inside an ICMP error's quoted datagram and those anywhere else.
 */
function quotedOnly(text: string): {
  outside: number;
  checksumLines: number;
  expertLines: number;
  frames: string[];
  lines: string[];
} {
  let frame = '';
  let inIcmp = false;
  let outside = 0;
  let checksumLines = 0;
  let expertLines = 0;
  const frames = new Set<string>();
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    const f = /^Frame (\d+):/.exec(line);
    if (f) {
      frame = f[1];
      inIcmp = false;
      continue;
    }
    if (line.startsWith('Internet Control Message Protocol')) inIcmp = true;
    const bad = /Bad checksum|\[incorrect|incorrect, should be|Checksum Status: Bad/i.test(line);
    const expert = /\[Expert Info \(Error\//.test(line);
    if (!bad && !expert) continue;
    if (!inIcmp) {
      outside++;
      lines.push(`frame ${frame}: ${line.trim()}`);
      continue;
    }
    frames.add(frame);
    if (bad) checksumLines++;
    if (expert) expertLines++;
  }
  return { outside, checksumLines, expertLines, frames: [...frames], lines };
}

const DEFRAG = ['ip.defragment:TRUE'];
const NO_DEFRAG = ['ip.defragment:FALSE'];

/** The routed network with subnet A captured at router eth0 and subnet B at router eth1. */
function capturedNetwork(dir: string) {
  const sim = new Simulation({ seed: 21 });
  const delay = millis(1);
  const swA = sim.add(new Switch({ clock: sim.clock, rng: sim.rng.fork(), name: 'swA' }));
  const swB = sim.add(new Switch({ clock: sim.clock, rng: sim.rng.fork(), name: 'swB', mtu: 576 }));
  const capA = openPcapngFile(join(dir, 'subnet-a.pcapng'));
  const capB = openPcapngFile(join(dir, 'subnet-b.pcapng'));
  const mk = (name: string, forwarding = false) =>
    sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name, forwarding }));
  const router = mk('router', true);
  router.addInterface({
    name: 'eth0',
    device: captureDevice(
      swA.port({ delay }),
      capA.writer,
      sim.clock,
      capA.writer.addInterface('router-eth0', 'ethernet'),
    ),
    addresses: ['10.0.1.1/24'],
  });
  router.addInterface({
    name: 'eth1',
    device: captureDevice(
      swB.port({ delay }),
      capB.writer,
      sim.clock,
      capB.writer.addInterface('router-eth1', 'ethernet'),
    ),
    addresses: ['10.0.2.1/24'],
    mtu: 576,
  });
  const host = (name: string, sw: Switch, addr: string, gw: string, mtu?: number) => {
    const s = mk(name);
    s.addInterface({ name: 'eth0', device: sw.port({ delay }), addresses: [addr], mtu });
    s.addRoute({ destination: '0.0.0.0/0', gateway: gw });
    return s;
  };
  const a = host('a', swA, '10.0.1.2/24', '10.0.1.1');
  const a2 = host('a2', swA, '10.0.1.3/24', '10.0.1.1');
  const b = host('b', swB, '10.0.2.2/24', '10.0.2.1', 576);
  sim.runUntilIdle();
  return { sim, router, a, a2, b, capA, capB };
}

describe('IPv4 scenarios captured and dissected by tshark', { concurrency: false }, () => {
  let dir = '';
  let pathA = '';
  let pathB = '';
  let net: ReturnType<typeof capturedNetwork> | undefined;
  let dissA: TsharkResult | undefined;
  let dissB: TsharkResult | undefined;
  const skip = hasTshark() ? false : 'tshark not installed (apt-get install tshark)';
  if (skip) console.log(`# ip-capture: skipped, ${skip}`);

  before(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'sockstack-ip-capture-'));
    net = capturedNetwork(dir);
    const { sim, a, a2, b, router } = net;

    // 1. Ping across the router (two: the first also resolves ARP on both subnets).
    for (const seq of [1, 2]) assert.ok((await sim.run(a.ping('10.0.2.2', { id: 7, seq }))).ok);
    // 2. TTL 1: the router answers time exceeded.
    const ttl = await sim.run(a.ping('10.0.2.2', { id: 8, seq: 1, ttl: 1 }));
    assert.ok(!ttl.ok && ttl.error === 'time-exceeded');
    // 3. 60 KB UDP: a fragments for 1500, the router refragments for 576, b reassembles.
    const server = b.socket(AF_INET, SOCK_DGRAM);
    await server.bind(['0.0.0.0', 5000]);
    const client = a.socket(AF_INET, SOCK_DGRAM);
    const big = new Uint8Array(BIG);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
    const [data] = await sim.run(async () => {
      await client.sendto(big, ['10.0.2.2', 5000]);
      return server.recvfrom(65535);
    });
    assert.deepEqual(data, big);
    // 4. DF (as TCP sends) and 1000 bytes towards the 576 link: fragmentation needed.
    a.tcpEnv().output(
      { family: 4, v4: 0x0a000102 },
      { family: 4, v4: 0x0a000202 },
      {
        srcPort: 40000,
        dstPort: 80,
        seq: 1,
        ack: 0,
        flags: 0x10,
        window: 1000,
        urgentPointer: 0,
        options: {},
      },
      new Uint8Array(1000),
    );
    await sim.advance(millis(50));
    assert.equal(router.stats.ip.fragNeeded, 1);
    // 5. UDP to a closed port on b: port unreachable back to a.
    await sim.run(client.sendto(new Uint8Array([1, 2, 3]), ['10.0.2.2', 9999]));
    await sim.advance(millis(50));
    assert.equal(b.stats.icmp.outDestUnreachable, 1);
    // 6. Broadcasts on subnet A (limited and directed), with SO_BROADCAST.
    const listener = a2.socket(AF_INET, SOCK_DGRAM);
    await listener.bind(['0.0.0.0', 6000]);
    client.setsockopt(SOL_SOCKET, SO_BROADCAST, 1);
    await sim.run(client.sendto(new Uint8Array([42]), ['255.255.255.255', 6000]));
    await sim.run(client.sendto(new Uint8Array([43]), ['10.0.1.255', 6000]));
    await sim.advance(millis(20));
    assert.equal(a2.stats.udp.inDatagrams, 2);
    for (const s of [server, client, listener]) await s.close();

    net.capA.file.close();
    net.capB.file.close();
    pathA = net.capA.file.path;
    pathB = net.capB.file.path;
    dissA = tsharkDissect(pathA);
    dissB = tsharkDissect(pathB);
  });

  after(() => {
    if (dir && !process.env.KEEP_CAPTURE) rmSync(dir, { recursive: true, force: true });
    else if (dir) console.log(`# kept ${dir}`);
  });

  it('every frame dissects: nothing malformed, no bad checksums or expert errors outside ICMP quotes', {
    skip,
  }, () => {
    for (const [name, d, writer] of [
      ['subnet A', dissA!, net!.capA.writer],
      ['subnet B', dissB!, net!.capB.writer],
    ] as const) {
      assert.equal(d.packets, writer.packets, `${name}: tshark read every frame we wrote`);
      assert.ok(d.packets > 0);
      assert.equal(d.malformed, 0, `${name}: malformed packets`);
      const q = quotedOnly(d.text);
      assert.equal(
        q.outside,
        0,
        `${name}: checksum/expert errors outside ICMP quotes:\n${q.lines.join('\n')}`,
      );
      // Bad checksums tshark reports inside ICMP errors are all on truncated quotes (see below).
      assert.equal(d.checksumErrors, q.checksumLines, name);
      assert.equal(d.expertErrors, q.expertLines, name);
    }
    assert.ok(dissA!.protocols.some((p) => p.startsWith('eth:ethertype:arp')));
    assert.ok(dissA!.protocols.some((p) => p === 'eth:ethertype:ip:icmp:data'));
  });

  it('the only "bad" checksum is the truncated TCP quoted in frag-needed; the segment itself was good', {
    skip,
  }, () => {
    // RFC 1812 §4.3.2.3: the error quotes as much of the datagram as fits in 576 bytes,
    // so the quoted TCP (1000 bytes of data) is cut short and tshark's checksum over
    // the part present cannot match. The same segment as it arrived at the router
    // (outside ICMP) verifies.
    const prefs = ['tcp.check_checksum:TRUE'];
    assert.deepEqual(values(pathA, 'tcp.srcport==40000 && !icmp', 'tcp.checksum.status', prefs), ['1']);
    assert.deepEqual(values(pathA, 'tcp.srcport==40000 && icmp', 'ip.len', prefs), ['576,1040']);
    const q = quotedOnly(dissA!.text);
    assert.deepEqual(q.frames, values(pathA, 'icmp.type==3 && icmp.code==4', 'frame.number'));
    assert.equal(quotedOnly(dissB!.text).frames.length, 0);
  });

  it('ping across the router: the TTL drops by one at the router, both ways', { skip }, () => {
    const req = 'icmp.type==8 && icmp.ident==7';
    const rep = 'icmp.type==0 && icmp.ident==7';
    // Subnet A: requests leave a with 64, replies arrive forwarded with 63; subnet B the opposite.
    assert.deepEqual(values(pathA, req, 'ip.ttl'), ['64', '64']);
    assert.deepEqual(values(pathA, rep, 'ip.ttl'), ['63', '63']);
    assert.deepEqual(values(pathB, req, 'ip.ttl'), ['63', '63']);
    assert.deepEqual(values(pathB, rep, 'ip.ttl'), ['64', '64']);
    assert.deepEqual(values(pathA, rep, 'icmp.seq'), ['1', '2']);
  });

  it('TTL expiry: one time exceeded (type 11 code 0) from the router, quoting the echo request', {
    skip,
  }, () => {
    const { router } = net!;
    assert.equal(count(pathA, 'icmp.type==11'), router.stats.icmp.outTimeExceeded);
    assert.equal(count(pathA, 'icmp.type==11 && icmp.code==0 && ip.src==10.0.1.1 && ip.dst==10.0.1.2'), 1);
    // The quoted datagram is the request as it arrived: TTL 1, our ident.
    assert.deepEqual(values(pathA, 'icmp.type==11', 'icmp.ident'), ['8']);
    // Nothing crossed to subnet B.
    assert.equal(count(pathB, 'icmp.ident==8'), 0);
  });

  it('60 KB over the 576 link: MF counts match our fragment counters; tshark reassembles the UDP', {
    skip,
  }, () => {
    const { a, router, b } = net!;
    const frags = (p: string) => count(p, 'ip.flags.mf==1 || ip.frag_offset>0', NO_DEFRAG);
    // Every fragment has MF set but the last one of each datagram.
    assert.equal(frags(pathA), a.stats.ip.fragCreates);
    assert.equal(count(pathA, 'ip.flags.mf==1', NO_DEFRAG), a.stats.ip.fragCreates - 1);
    assert.equal(a.stats.ip.fragCreates, Math.ceil((BIG + 8) / 1480));
    assert.equal(frags(pathB), router.stats.ip.fragCreates);
    assert.equal(count(pathB, 'ip.flags.mf==1', NO_DEFRAG), router.stats.ip.fragCreates - 1);
    // No fragment is larger than the link allows.
    for (const len of values(pathB, 'ip.flags.mf==1 || ip.frag_offset>0', 'ip.len', NO_DEFRAG))
      assert.ok(Number(len) <= 576, `fragment of ${len} bytes on the 576 link`);
    // Reassembled by tshark: one UDP datagram of 60 008 bytes to port 5000 on each subnet.
    for (const p of [pathA, pathB]) {
      assert.equal(count(p, 'udp.dstport==5000', DEFRAG), 1);
      assert.deepEqual(values(p, 'udp.dstport==5000', 'udp.length', DEFRAG), [String(BIG + 8)]);
    }
    assert.equal(b.stats.ip.reasmOk, 1);
  });

  it('DF over the 576 link: fragmentation needed (type 3 code 4) carrying MTU 576', { skip }, () => {
    assert.equal(count(pathA, 'icmp.type==3 && icmp.code==4'), 1);
    assert.deepEqual(values(pathA, 'icmp.type==3 && icmp.code==4', 'icmp.mtu'), ['576']);
    // The segment never reached subnet B.
    assert.equal(count(pathB, 'tcp.srcport==40000'), 0);
  });

  it('UDP to a closed port: port unreachable (type 3 code 3) from b, forwarded to a', { skip }, () => {
    const f = 'icmp.type==3 && icmp.code==3 && ip.src==10.0.2.2 && udp.dstport==9999';
    assert.equal(count(pathB, f), 1);
    assert.equal(count(pathA, f), 1);
  });

  it('broadcasts stay on subnet A: Ethernet broadcast frames, none forwarded', { skip }, () => {
    assert.equal(count(pathA, 'eth.dst==ff:ff:ff:ff:ff:ff && udp.dstport==6000'), 2);
    assert.deepEqual(values(pathA, 'udp.dstport==6000', 'ip.dst'), ['255.255.255.255', '10.0.1.255']);
    assert.equal(count(pathB, 'udp.dstport==6000'), 0);
    // Broadcasts to a closed port on the router elicit no ICMP (RFC 1122 §3.2.2).
    assert.equal(count(pathA, 'icmp.type==3 && udp.dstport==6000'), 0);
  });
});
