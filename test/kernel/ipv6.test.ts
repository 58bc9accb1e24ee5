/**
 * Issue #15: IPv6 against the kernel over a TAP in a namespace the test creates (IPv6 on
 * for this link). The stack is a router here (it sends Router Advertisements for
 * fd00:77::/64, as radvd would): ping both ways on link-local and on the ULA prefix, NDP
 * both ways (the kernel's neighbour table holds our MAC; ours holds the kernel's), the
 * kernel configures an address from our RA (SLAAC), TCP both ways byte-exact, and tshark
 * finds nothing malformed in the capture of every frame.
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PcapWriter } from '../../src/link/pcap.ts';
import { RealtimeDriver } from '../../src/link/realtime.ts';
import { ip as ipCmd, nsSpawn } from '../../src/node/netns.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { Stack } from '../../src/stack.ts';
import { SystemClock } from '../../src/time/system.ts';
import { formatIpv6, formatMac, parseIp, parseIpv6 } from '../../src/wire/address.ts';
import { eui64, ipv6Key } from '../../src/wire/ipv6-address.ts';
import { tapInNetns } from '../helpers/netns.ts';
import { hasTshark, tsharkDissect, tsharkExplain } from '../helpers/tshark.ts';
import { exited, lines, skipUnless } from './helpers.ts';
import { RawConn, rawListen } from './raw-tcp.ts';

const PEER = new URL('../../scripts/kernel-peer.py', import.meta.url).pathname;
const KiB = 1024;

function pingReplies(out: string): number {
  return Number(/(\d+) received/.exec(out)?.[1] ?? 0);
}

/** Polls `cond` every 50 ms until it holds or `ms` pass (bounded in count and time). */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (let i = 0; i < 10_000; i++) {
    if (cond()) return;
    if (Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out after ${ms} ms waiting for ${what}`);
}

describe('IPv6: a Stack on a TAP, the kernel as peer', () => {
  it('ping, NDP, SLAAC from our RA, TCP both ways; tshark reads the capture clean', async (t) => {
    if (skipUnless(t, ['ping', 'python3'])) return;
    // No offloads: tshark then checks every checksum we computed (with them, the kernel's
    // capture shows partial checksums by design; test/kernel/tap-offload.test.ts covers that path).
    const h = await tapInNetns(t, {
      disableIpv6: false,
      name: `v6tap${process.pid % 10000}`,
      offload: false,
    });
    const { tap, netns } = h;
    const ifname = tap.ifname;
    // The kernel's ULA address, without DAD so it is usable at once; it accepts RAs (a host).
    ipCmd(['-6', 'addr', 'add', 'fd00:77::1/64', 'dev', ifname, 'nodad'], netns);
    const kmac = JSON.parse(ipCmd(['-j', 'link', 'show', 'dev', ifname], netns))[0].address as string;

    const dir = mkdtempSync(join(tmpdir(), 'v6cap-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const chunks: Uint8Array[] = [];
    const clock = new SystemClock();
    const pcap = new PcapWriter((c) => chunks.push(c.slice()));
    const driver = new RealtimeDriver({ clock });
    t.after(() => driver.stop());
    const stack = new Stack({ clock, rng: new CryptoRng(), name: 'v6', forwarding: true });
    stack.timers.onEarliestChanged = () => driver.kick();
    // Capture both directions at the device.
    const tx = tap.transmit.bind(tap);
    tap.transmit = (f: Uint8Array) => {
      pcap.writePacket(clock.now(), f);
      tx(f);
    };
    const iface = stack.addInterface({
      name: 'eth0',
      device: tap,
      addresses: ['10.83.1.2/24', 'fd00:77::2/64'],
    });
    const rx = tap.onReceive!;
    tap.onReceive = (f: Uint8Array) => {
      pcap.writePacket(clock.now(), f);
      rx(f);
    };
    stack.onWake = () => driver.kick();
    driver.add(stack);
    stack.advertiseIpv6Prefix('eth0', 'fd00:77::/64');
    const st = stack.ip6.state(iface)!;
    await until(
      () => st.addresses.length === 2 && st.addresses.every((a) => a.state === 'preferred'),
      5000,
      'our DAD',
    );
    const ourLl = formatIpv6(st.linkLocal!);

    const spawn = (argv: string[]) => {
      const c = nsSpawn(netns, argv[0], argv.slice(1));
      t.after(() => {
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      });
      return c;
    };

    // The kernel pings us: ULA, then link-local (scoped to its interface).
    for (const dst of ['fd00:77::2', `${ourLl}%${ifname}`]) {
      const p = spawn(['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', '-w', '10', dst]);
      const out = lines(p, 'ping');
      assert.equal(await exited(p, 15_000), 0, out.out);
      assert.ok(pingReplies(out.out) >= 3, out.out);
    }
    // We ping the kernel: ULA and its link-local address.
    // The kernel's link-local address (once its own DAD is done: no longer tentative).
    const kernelLl = (): string | undefined =>
      /inet6 (fe80::[0-9a-f:]+)\/64 scope link\s*\n/.exec(
        ipCmd(['-6', 'addr', 'show', 'dev', ifname], netns),
      )?.[1];
    await until(
      () => kernelLl() !== undefined,
      10_000,
      `the kernel link-local address: ${ipCmd(['-6', 'addr', 'show', 'dev', ifname], netns)}`,
    );
    const kll = kernelLl()!;
    const r1 = await stack.ping6('fd00:77::1', { timeout: 3_000_000 });
    assert.ok(r1.ok, JSON.stringify(r1));
    const r2 = await stack.ping6(`${kll}%eth0`, { seq: 2, timeout: 3_000_000 });
    assert.ok(r2.ok, JSON.stringify(r2));
    assert.equal(r2.ttl, 64);

    // NDP both ways: the kernel has our MAC for our addresses; we have the kernel's.
    const neigh = ipCmd(['-6', 'neigh', 'show', 'dev', ifname], netns);
    const mac = formatMac(iface.mac);
    for (const a of ['fd00:77::2', ourLl])
      assert.match(neigh, new RegExp(`${a} lladdr ${mac} (router )?(REACHABLE|STALE|DELAY|PROBE)`), neigh);
    const ours = st.ndp!.get(ipv6Key(parseIpv6('fd00:77::1')!));
    assert.equal(ours?.mac && formatMac(ours.mac), kmac);

    // SLAAC: the kernel forms fd00:77:: + its EUI-64 from our RA.
    const kernelMac = Uint8Array.from(kmac.split(':').map((x) => Number.parseInt(x, 16)));
    const slaac = parseIpv6('fd00:77::')!;
    slaac.set(eui64(kernelMac), 8);
    const want = formatIpv6(slaac);
    // Usable once the kernel's own DAD for it is over (no longer 'tentative').
    const slaacLine = new RegExp(`inet6 ${want}/64 scope global dynamic`);
    await until(
      () => slaacLine.test(ipCmd(['-6', 'addr', 'show', 'dev', ifname], netns)),
      20_000,
      `kernel SLAAC ${want}`,
    );
    // And a default route via our link-local address.
    const routes = ipCmd(['-6', 'route', 'show', 'default'], netns);
    assert.match(routes, new RegExp(`default via ${ourLl} dev ${ifname}`), routes);

    // TCP, stack -> kernel (byte-exact by SHA-256).
    const recv = spawn([
      'python3',
      PEER,
      'recv',
      '--listen',
      'fd00:77::1',
      '--port',
      '5501',
      '--timeout',
      '30',
    ]);
    const rout = lines(recv, 'kernel-peer recv');
    await rout.waitFor(/ready/);
    const c = new RawConn(stack.tcp.connect({ remote: parseIp('fd00:77::1')!, remotePort: 5501 }));
    t.after(() => c.c.abort());
    await c.established(10_000);
    assert.equal(c.c.mss, 1440);
    const data = randomFillSync(new Uint8Array(512 * KiB));
    const sha = await c.writeAll(data, 30_000);
    c.c.close();
    const m = await rout.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, 30_000);
    assert.equal(Number(m[1]), data.length);
    assert.equal(m[2], sha);
    assert.equal(await exited(recv, 5000), 0);

    // TCP, kernel -> stack.
    const l = rawListen(stack, 5502);
    t.after(() => l.close());
    const send = spawn([
      'python3',
      PEER,
      'send',
      '--connect',
      'fd00:77::2',
      '--port',
      '5502',
      '--bytes',
      String(512 * KiB),
      '--timeout',
      '30',
    ]);
    const sout = lines(send, 'kernel-peer send');
    const conn = await l.next(10_000);
    t.after(() => conn.c.abort());
    const got = await conn.readAll(30_000);
    conn.c.close();
    const s = await sout.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, 30_000);
    assert.equal(got.bytes, 512 * KiB);
    assert.equal(got.sha256, s[2]);
    assert.equal(await exited(send, 5000), 0);
    assert.equal(stack.tcpStats.badChecksum, 0);
    assert.equal(stack.ip6.stats.icmpBadChecksum, 0);
    assert.equal(stack.ip6.stats.ndpMalformed, 0);

    if (hasTshark()) {
      const file = join(dir, 'v6.pcap');
      writeFileSync(file, Buffer.concat(chunks));
      const r = tsharkDissect(file);
      assert.ok(r.packets > 100, `${r.packets} packets`);
      if (r.malformed + r.checksumErrors > 0) {
        // Keep the capture (the test's directory goes) and show the frame in the message.
        const kept = join(mkdtempSync(join(tmpdir(), 'v6cap-kept-')), 'v6.pcap');
        copyFileSync(file, kept);
        assert.fail(
          `capture kept at ${kept}: ${r.malformed} malformed, ${r.checksumErrors} bad checksums\n${tsharkExplain(kept, r)}`,
        );
      }
      const protos = r.protocols.join('\n');
      for (const p of ['icmpv6', 'ipv6:tcp']) assert.ok(protos.includes(p), `${p} in capture`);
    }
  });
});
