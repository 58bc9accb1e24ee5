/**
 * Issue #6: TAP "(and TUN)". A whole sockstack Stack on a TUN device (IFF_TUN,
 * link type raw IP: no Ethernet header, no ARP) with the kernel as its peer in
 * a namespace the test creates: ping both ways and byte-exact TCP both ways.
 * (test/node/tap.test.ts checks the TUN device itself with hand-built packets.)
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { RealtimeDriver } from '../../src/link/realtime.ts';
import { nsSpawn } from '../../src/node/netns.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { Stack } from '../../src/stack.ts';
import { SystemClock } from '../../src/time/system.ts';
import { tapInNetns } from '../helpers/netns.ts';
import { exited, lines, skipUnless } from './helpers.ts';
import { rawConnect, rawListen } from './raw-tcp.ts';

/** ping's count of replies ("N received"): with -c N -w DEADLINE it keeps probing until N arrive. */
function pingReplies(out: string): number {
  return Number(/(\d+) received/.exec(out)?.[1] ?? 0);
}

const PEER = new URL('../../scripts/kernel-peer.py', import.meta.url).pathname;
const MiB = 1 << 20;

describe('a Stack on a TUN device, the kernel as peer', () => {
  it('ping both ways; 4 MiB each way over TCP, SHA-256 exact; no Ethernet, no ARP', async (t) => {
    if (skipUnless(t, ['ping', 'python3'])) return;
    const h = await tapInNetns(t, { mode: 'tun', addresses: ['10.82.1.1/24'] });
    const { tap, netns } = h;
    assert.equal(tap.linkType, 'ip');
    const clock = new SystemClock();
    const driver = new RealtimeDriver({ clock });
    t.after(() => driver.stop());
    const stack = new Stack({ clock, rng: new CryptoRng(), name: 'tun' });
    stack.timers.onEarliestChanged = () => driver.kick();
    stack.addInterface({ name: 'tun0', device: tap, addresses: ['10.82.1.2/24'] });
    // Frames wait in the stack's receive queue; the stack wakes the driver.
    stack.onWake = () => driver.kick();
    driver.add(stack);
    const spawn = (argv: string[]) => {
      const c = nsSpawn(netns, argv[0], argv.slice(1));
      t.after(() => {
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      });
      return c;
    };

    // The kernel pings us.
    const ping = spawn(['ping', '-c', '3', '-i', '0.2', '-W', '2', '-w', '10', '10.82.1.2']);
    const pout = lines(ping, 'ping');
    assert.equal(await exited(ping, 15_000), 0, pout.out);
    assert.ok(pingReplies(pout.out) >= 3, pout.out);
    // We ping the kernel.
    const r = await stack.ping('10.82.1.1', { seq: 1, size: 64, timeout: 3_000_000 });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.ttl, 64);

    // sockstack → kernel.
    const recv = spawn([
      'python3',
      PEER,
      'recv',
      '--listen',
      '10.82.1.1',
      '--port',
      '5401',
      '--timeout',
      '60',
    ]);
    const rout = lines(recv, 'kernel-peer recv');
    await rout.waitFor(/ready/);
    const c = rawConnect(stack, '10.82.1.1', 5401);
    t.after(() => c.c.abort());
    await c.established(10_000);
    const data = randomFillSync(new Uint8Array(4 * MiB));
    const sha = await c.writeAll(data, 60_000);
    c.c.close();
    const m = await rout.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, 60_000);
    assert.equal(Number(m[1]), data.length);
    assert.equal(m[2], sha);
    assert.equal(await exited(recv, 5000), 0);

    // kernel → sockstack.
    const l = rawListen(stack, 5402);
    t.after(() => l.close());
    const send = spawn([
      'python3',
      PEER,
      'send',
      '--connect',
      '10.82.1.2',
      '--port',
      '5402',
      '--bytes',
      String(4 * MiB),
      '--timeout',
      '60',
    ]);
    const sout = lines(send, 'kernel-peer send');
    const conn = await l.next(10_000);
    t.after(() => conn.c.abort());
    const got = await conn.readAll(60_000);
    conn.c.close();
    const s = await sout.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, 60_000);
    assert.equal(got.bytes, 4 * MiB);
    assert.equal(got.sha256, s[2]);
    assert.equal(await exited(send, 5000), 0);

    assert.equal(stack.stats.arp.requestsSent, 0, 'a TUN has no ARP');
    assert.equal(stack.tcp.stats.rstReceived, 0);
  });
});
