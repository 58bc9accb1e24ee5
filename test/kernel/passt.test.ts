/**
 * Issue #6: "QEMU-compatible socket links ... passt speaks the same stream
 * framing". passt (Debian package `passt`) is a user-mode network for VMs that
 * nobody here wrote: it speaks QEMU's `-netdev stream` protocol on a Unix socket
 * and turns the guest's frames into the host's socket calls. sockstack plays the
 * VM: a StreamLink to passt's socket, a Stack on it, and the kernel sockets
 * behind passt as peers.
 *
 * The test owns a namespace with one veth (10.88.0.2/24, default route via
 * 10.88.0.1) that passt takes as its template: the guest gets 10.88.0.2 and
 * 10.88.0.1 is the gateway, which passt maps to the namespace's loopback
 * (--map-host-loopback's default). So:
 * - passt answers ARP itself and turns an echo request into a ping socket's
 *   echo (to 10.88.0.3, an address of the namespace);
 * - a TCP connect to 10.88.0.1:P reaches a kernel listener on 127.0.0.1:P;
 * - `-t P` forwards connections to the namespace's port P to the guest's port P.
 * Every process and the namespace are removed afterwards.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { RealtimeDriver } from '../../src/link/realtime.ts';
import { createNetns, deleteNetns, ip, nsSpawn, uniqueName } from '../../src/node/netns.ts';
import { connectStreamLink, type StreamLink } from '../../src/node/qemu-link.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { Stack } from '../../src/stack.ts';
import { SystemClock } from '../../src/time/system.ts';
import { exited, lines, skipUnless, until } from './helpers.ts';
import { rawConnect, rawListen } from './raw-tcp.ts';

const PEER = new URL('../../scripts/kernel-peer.py', import.meta.url).pathname;
const MiB = 1 << 20;

interface PasstGuest {
  ns: string;
  stack: Stack;
  link: StreamLink;
  spawn(argv: string[]): ChildProcess;
}

async function passtGuest(t: TestContext, forwardPort: number): Promise<PasstGuest> {
  const ns = uniqueName('sspt');
  const sock = join(tmpdir(), `${ns}.sock`);
  const children = new Set<ChildProcess>();
  let driver: RealtimeDriver | undefined;
  let link: StreamLink | undefined;
  t.after(async () => {
    driver?.stop();
    await link?.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all([...children].map((c) => exited(c, 5000).catch(() => null)));
    deleteNetns(ns);
    rmSync(sock, { force: true });
  });
  const spawn = (argv: string[]): ChildProcess => {
    const c = nsSpawn(ns, argv[0], argv.slice(1));
    children.add(c);
    return c;
  };
  createNetns(ns);
  // No dummy driver on every kernel: a veth pair with both ends here gives passt a
  // template interface with an address and a default route.
  ip(['link', 'add', 'pt0', 'type', 'veth', 'peer', 'name', 'pt1'], ns);
  ip(['addr', 'add', '10.88.0.2/24', 'dev', 'pt0'], ns);
  ip(['link', 'set', 'pt0', 'up'], ns);
  ip(['link', 'set', 'pt1', 'up'], ns);
  // A second local address for the guest to ping (passt does not map ICMP to the gateway).
  ip(['addr', 'add', '10.88.0.3/24', 'dev', 'pt1'], ns);
  ip(['route', 'add', 'default', 'via', '10.88.0.1'], ns);
  // passt drops to nobody; let it open ping sockets for the guest's echo requests.
  // (/proc/sys directly: procps' sysctl is not on every minimal machine.)
  execFileSync('ip', [
    'netns',
    'exec',
    ns,
    'sh',
    '-c',
    'echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range',
  ]);
  const passt = spawn(['passt', '-f', '-1', '-4', '-s', sock, '-t', String(forwardPort)]);
  const log = lines(passt, 'passt');
  // passt prints to stderr; its socket appearing is the readiness signal.
  await until(
    () => {
      try {
        execFileSync('test', ['-S', sock]);
        return true;
      } catch {
        return passt.exitCode !== null;
      }
    },
    10_000,
    'passt socket',
  );
  assert.equal(passt.exitCode, null, `passt exited: ${log.err}`);
  // The socket file appears at bind(), a moment before passt listens: retry a refused
  // connect briefly (bounded) instead of racing it.
  for (let attempt = 0; ; attempt++) {
    try {
      link = await connectStreamLink({ path: sock });
      break;
    } catch (e) {
      if (attempt >= 50 || (e as { code?: string }).code !== 'ECONNREFUSED') throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const clock = new SystemClock();
  driver = new RealtimeDriver({ clock });
  const d = driver;
  const stack = new Stack({ clock, rng: new CryptoRng(), name: 'guest' });
  stack.timers.onEarliestChanged = () => d.kick();
  stack.addInterface({ name: 'eth0', device: link, addresses: ['10.88.0.2/24'] });
  stack.addRoute({ destination: '0.0.0.0/0', gateway: '10.88.0.1' });
  // Frames wait in the stack's receive queue; the stack wakes the driver.
  stack.onWake = () => d.kick();
  d.add(stack);
  return { ns, stack, link, spawn };
}

describe('passt (QEMU -netdev stream peer) carries a sockstack guest', () => {
  it('ARP and ping through passt; TCP 4 MiB each way to kernel sockets behind passt, SHA-256 exact', async (t) => {
    if (skipUnless(t, ['passt', 'python3'])) return;
    const g = await passtGuest(t, 5302);

    // passt answers ARP for any address on the segment and relays our echo requests
    // through a ping socket; the namespace's kernel answers them.
    for (let seq = 1; seq <= 3; seq++) {
      const r = await g.stack.ping('10.88.0.3', { seq, size: 100, timeout: 3_000_000 });
      assert.ok(r.ok, `ping ${seq}: ${JSON.stringify(r)}`);
      assert.equal(r.seq, seq);
      assert.equal(r.bytes, 108);
    }

    // Outbound: the gateway address is the namespace's loopback.
    const recv = g.spawn([
      'python3',
      PEER,
      'recv',
      '--listen',
      '127.0.0.1',
      '--port',
      '5301',
      '--timeout',
      '60',
    ]);
    const rout = lines(recv, 'kernel-peer recv');
    await rout.waitFor(/ready/);
    const c = rawConnect(g.stack, '10.88.0.1', 5301);
    t.after(() => c.c.abort());
    await c.established(10_000);
    const data = randomFillSync(new Uint8Array(4 * MiB));
    const sha = await c.writeAll(data, 60_000);
    c.c.close();
    const m = await rout.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, 60_000);
    assert.equal(Number(m[1]), data.length, 'bytes at the kernel');
    assert.equal(m[2], sha, 'SHA-256 at the kernel');
    assert.equal(await exited(recv, 5000), 0);

    // Inbound: passt -t 5302 forwards the namespace's port 5302 to the guest.
    const l = rawListen(g.stack, 5302);
    t.after(() => l.close());
    const send = g.spawn([
      'python3',
      PEER,
      'send',
      '--connect',
      '127.0.0.1',
      '--port',
      '5302',
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
    assert.equal(got.bytes, 4 * MiB, 'bytes at sockstack');
    assert.equal(got.sha256, s[2], 'SHA-256 at sockstack');
    assert.equal(await exited(send, 5000), 0);

    // Every frame passt sent us parsed as a frame: no framing errors on the link.
    assert.ok(g.link.stats.rxFrames > 2000, `rx frames ${g.link.stats.rxFrames}`);
    assert.equal(g.link.stats.rxErrors, 0);
    assert.equal(g.stack.tcp.stats.rstReceived, 0, 'no resets');
  });
});
