/**
 * Issue #6: socket links "so a VM or a second sockstack process can share a
 * network with a stack", and the UDP tunnel "so stacks in different processes or
 * machines form one virtual Ethernet". test/node/links.test.ts checks the frames;
 * this puts whole Stacks on each kind of link, over real loopback sockets and the
 * system clock, and uses them as a user would: ARP, ping, and a byte-exact TCP
 * transfer over the TCP engine. No root needed.
 */
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Device } from '../../src/link/device.ts';
import { RealtimeDriver } from '../../src/link/realtime.ts';
import { connectStreamLink, dgramLink, listenStreamLink, type SocketLink } from '../../src/node/qemu-link.ts';
import { udpTunnel } from '../../src/node/udp-tunnel.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { Stack } from '../../src/stack.ts';
import { SystemClock } from '../../src/time/system.ts';
import { rawConnect, rawListen } from '../kernel/raw-tcp.ts';

const MiB = 1 << 20;

function stackOn(t: TestContext, device: Device, address: string): Stack {
  const clock = new SystemClock();
  const driver = new RealtimeDriver({ clock });
  t.after(() => driver.stop());
  const stack = new Stack({ clock, rng: new CryptoRng(), name: address });
  stack.timers.onEarliestChanged = () => driver.kick();
  stack.addInterface({ name: 'eth0', device, addresses: [address] });
  // Frames wait in the stack's receive queue; the stack wakes the driver.
  stack.onWake = () => driver.kick();
  driver.add(stack);
  return stack;
}

/** Pings b from a, then moves `bytes` from a to b over TCP and checks SHA-256. */
async function exercise(t: TestContext, a: Stack, b: Stack, links: SocketLink[], bytes: number) {
  for (let seq = 1; seq <= 2; seq++) {
    const r = await a.ping('10.99.0.2', { seq, size: 56, timeout: 3_000_000 });
    assert.ok(r.ok, `ping ${seq}: ${JSON.stringify(r)}`);
  }
  const l = rawListen(b, 7000);
  t.after(() => l.close());
  const c = rawConnect(a, '10.99.0.2', 7000);
  t.after(() => c.c.abort());
  await c.established(5000);
  const server = await l.next(5000);
  t.after(() => server.c.abort());
  const data = randomFillSync(new Uint8Array(bytes));
  const [sha, got] = await Promise.all([
    c.writeAll(data, 30_000).then((s) => {
      c.c.close();
      return s;
    }),
    server.readAll(30_000),
  ]);
  assert.equal(sha, createHash('sha256').update(data).digest('hex'));
  assert.equal(got.bytes, bytes);
  assert.equal(got.sha256, sha);
  for (const link of links) assert.equal(link.stats.rxErrors, 0, `${link.name}: rx errors`);
}

describe('two Stacks on socket links (real sockets, system clock)', () => {
  it('QEMU -netdev stream framing over a Unix socket: ping and 2 MiB TCP', async (t) => {
    const path = join(tmpdir(), `ss-stream-${process.pid}.sock`);
    rmSync(path, { force: true });
    const server = await listenStreamLink({ path });
    const accepted = server.accept();
    const a = await connectStreamLink({ path });
    const b = await accepted;
    t.after(async () => {
      await Promise.all([a.close(), b.close()]);
      await server.close();
    });
    await exercise(t, stackOn(t, a, '10.99.0.1/24'), stackOn(t, b, '10.99.0.2/24'), [a, b], 2 * MiB);
  });

  it('QEMU -netdev dgram (one frame per UDP datagram): ping and 1 MiB TCP', async (t) => {
    const a = await dgramLink({ localPort: 0 });
    const b = await dgramLink({ localPort: 0, remotePort: a.localPort });
    t.after(() => Promise.all([a.close(), b.close()]));
    // a learns b's port from b's first datagram (b's gratuitous ARP).
    const sb = stackOn(t, b, '10.99.0.2/24');
    const sa = stackOn(t, a, '10.99.0.1/24');
    await exercise(t, sa, sb, [a, b], MiB);
  });

  it('UDP tunnel (three endpoints, one Ethernet): ping and 1 MiB TCP between two of them', async (t) => {
    const a = await udpTunnel();
    const b = await udpTunnel();
    const c = await udpTunnel();
    t.after(() => Promise.all([a.close(), b.close(), c.close()]));
    for (const [x, ys] of [
      [a, [b, c]],
      [b, [a, c]],
      [c, [a, b]],
    ] as const)
      for (const y of ys) x.addPeer({ host: '127.0.0.1', port: y.localPort });
    const sa = stackOn(t, a, '10.99.0.1/24');
    const sb = stackOn(t, b, '10.99.0.2/24');
    const sc = stackOn(t, c, '10.99.0.3/24');
    await exercise(t, sa, sb, [a, b], MiB);
    // The third station is on the same Ethernet: it answers ping too.
    const r = await sa.ping('10.99.0.3', { seq: 9, size: 56, timeout: 3_000_000 });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(sc.stats.icmp.outEchoReplies, 1);
  });
});
