/**
 * sockstack's TCP engine (stack.tcp, no socket layer) against the Linux kernel
 * over a TAP in a namespace the test creates: handshakes both ways, byte-exact
 * 16 MiB transfers both ways (SHA-256), RST for a closed port, and the
 * same transfers under loss (1 % + 10 ms on our side; 1 % kernel-side with
 * iptables). The 256 MiB versions are in scripts/kernel-transfer.ts.
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import type { TapStackHost } from '../../src/node/tap-stack.ts';
import { exited, host, lines, skipUnless } from './helpers.ts';
import { rawConnect, rawListen } from './raw-tcp.ts';

const PEER = new URL('../../scripts/kernel-peer.py', import.meta.url).pathname;
const MiB = 1 << 20;

async function toKernel(t: TestContext, h: TapStackHost, bytes: number, ms: number): Promise<void> {
  const peer = h.spawn([
    'python3',
    PEER,
    'recv',
    '--listen',
    h.kernelIp,
    '--port',
    '5001',
    '--timeout',
    String(ms / 1000),
  ]);
  const out = lines(peer, 'kernel-peer recv');
  await out.waitFor(/ready/);
  const conn = rawConnect(h.stack, h.kernelIp, 5001);
  t.after(() => conn.c.abort());
  await conn.established();
  const data = randomFillSync(new Uint8Array(bytes));
  const sha = await conn.writeAll(data, ms);
  conn.c.close();
  const m = await out.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, ms);
  assert.equal(Number(m[1]), bytes, 'byte count at the kernel');
  assert.equal(m[2], sha, 'SHA-256 at the kernel');
  assert.equal(await exited(peer, 5000), 0);
}

async function fromKernel(t: TestContext, h: TapStackHost, bytes: number, ms: number): Promise<void> {
  const l = rawListen(h.stack, 5002);
  t.after(() => l.close());
  const peer = h.spawn([
    'python3',
    PEER,
    'send',
    '--connect',
    h.stackIp,
    '--port',
    '5002',
    '--bytes',
    String(bytes),
    '--timeout',
    String(ms / 1000),
  ]);
  const out = lines(peer, 'kernel-peer send');
  const conn = await l.next(10_000);
  t.after(() => conn.c.abort());
  const got = await conn.readAll(ms);
  conn.c.close();
  const m = await out.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, ms);
  assert.equal(got.bytes, bytes, 'byte count at sockstack');
  assert.equal(Number(m[1]), bytes);
  assert.equal(got.sha256, m[2], 'SHA-256 at sockstack');
  assert.equal(await exited(peer, 5000), 0);
}

describe('kernel peer over TAP: TCP engine', () => {
  it('a closed kernel port answers RST: connect ends "refused"', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await host(t);
    // Closed port: the kernel's RST ends the connect with "refused".
    const refused = rawConnect(h.stack, h.kernelIp, 1);
    await assert.rejects(
      refused.established(5000),
      (e: Error & { reason?: string }) => e.reason === 'refused',
    );
    assert.ok(h.stack.tcp.stats.rstReceived >= 1);
  });

  it('16 MiB sockstack → kernel, byte-exact (SHA-256)', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await host(t);
    await toKernel(t, h, 16 * MiB, 60_000);
  });

  it('16 MiB kernel → sockstack, byte-exact (SHA-256)', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await host(t);
    await fromKernel(t, h, 16 * MiB, 60_000);
  });
});

/** 1 % loss on both directions of our side of the TAP, 10 ms delay on what we send. */
const OUR_SIDE = { tx: { loss: 0.01, delay: 10_000 }, rx: { loss: 0.01 } };

async function kernelSideLoss(h: TapStackHost): Promise<void> {
  for (const chain of ['INPUT']) {
    const r = await h.exec(
      `iptables -A ${chain} -p tcp -m statistic --mode random --probability 0.01 -j DROP`,
      { timeoutMs: 10_000 },
    );
    assert.equal(r.code, 0, `iptables: ${r.stderr}`);
  }
}

async function droppedByKernel(h: TapStackHost): Promise<number> {
  const r = await h.exec("iptables -L -v -x -n | awk '/DROP/ {s += $1} END {print s+0}'");
  return Number(r.stdout.trim());
}

describe('kernel peer over TAP: TCP engine under loss', () => {
  it('4 MiB both ways with 1 % loss + 10 ms delay on sockstack’s side', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await host(t, { impair: OUR_SIDE });
    await toKernel(t, h, 4 * MiB, 90_000);
    await fromKernel(t, h, 4 * MiB, 90_000);
    const st = h.impaired!;
    assert.ok(st.txStats!.dropped.loss > 0 && st.rxStats!.dropped.loss > 0, 'frames were really lost');
    assert.ok(h.stack.tcp.stats.retransmits > 0, 'and retransmitted');
  });

  it('16 MiB both ways with 1 % kernel-side loss (iptables statistic in the namespace)', async (t) => {
    if (skipUnless(t, ['python3', 'iptables'])) return;
    const h = await host(t);
    await kernelSideLoss(h);
    await toKernel(t, h, 16 * MiB, 90_000);
    await fromKernel(t, h, 16 * MiB, 90_000);
    assert.ok((await droppedByKernel(h)) > 0, 'iptables dropped segments');
    assert.ok(h.stack.tcp.stats.retransmits > 0);
  });
});
