/**
 * Byte-exact bulk transfers between a tapStack and the kernel (scripts/kernel-peer.py in the
 * namespace), for the kernel-peer tests: our TCP engine sends to a kernel receiver, or
 * receives from a kernel sender, and both ends' SHA-256 must agree.
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { TapStackHost } from '../../src/node/tap-stack.ts';
import { exited, lines } from './helpers.ts';
import { rawConnect, rawListen } from './raw-tcp.ts';

const PEER = new URL('../../scripts/kernel-peer.py', import.meta.url).pathname;

/** The peer's own give-up time, seconds: never below 60, and at least the test's bound. */
const peerTimeout = (ms: number): string => String(Math.max(60, Math.ceil(ms / 1000)));

/**
 * Our stack sends `bytes` to a kernel receiver on port 5001 (in the tapStack's namespace, or
 * at `to.ip` in namespace `to.ns`); returns once the kernel confirmed count and SHA-256.
 */
export async function toKernel(
  t: TestContext,
  h: TapStackHost,
  bytes: number,
  ms: number,
  to: { ns: string; ip: string } | undefined = undefined,
): Promise<void> {
  const argv = [
    'python3',
    PEER,
    'recv',
    '--listen',
    to?.ip ?? h.kernelIp,
    '--port',
    '5001',
    '--timeout',
    peerTimeout(ms),
  ];
  const peer = h.spawn(to === undefined ? argv : ['ip', 'netns', 'exec', to.ns, ...argv]);
  const out = lines(peer, 'kernel-peer recv');
  await out.waitFor(/ready/);
  const conn = rawConnect(h.stack, to?.ip ?? h.kernelIp, 5001);
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

/**
 * A kernel sender (in the tapStack's namespace, or in namespace `from`) sends `bytes` to our
 * listener on port 5002 (at `stackIp`, default the host's IPv4 address); checks the count
 * and SHA-256 on both sides.
 */
export async function fromKernel(
  t: TestContext,
  h: TapStackHost,
  bytes: number,
  ms: number,
  from: string | undefined = undefined,
  stackIp: string = h.stackIp,
): Promise<void> {
  const l = rawListen(h.stack, 5002);
  t.after(() => l.close());
  const peer = h.spawn([
    ...(from === undefined ? [] : ['ip', 'netns', 'exec', from]),
    'python3',
    PEER,
    'send',
    '--connect',
    stackIp,
    '--port',
    '5002',
    '--bytes',
    String(bytes),
    '--timeout',
    peerTimeout(ms),
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
