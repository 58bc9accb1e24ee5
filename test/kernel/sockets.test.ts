/**
 * The stream-socket API (`stack.socket(AF_INET, SOCK_STREAM)`) against the Linux
 * kernel over a TAP: ECONNREFUSED from the kernel's RST, 16 MiB byte-exact each
 * way with sendall/recv, connect() to a full kernel backlog timing out, and
 * TIME-WAIT on the closing side. Skipped, with the reason, until the stack has a
 * stream-socket backend; the same behaviour is covered on the TCP engine in
 * tcp-raw.test.ts and tcp-states.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import type { TapStackHost } from '../../src/node/tap-stack.ts';
import { AF_INET, SOCK_STREAM } from '../../src/socket/constants.ts';
import { millis } from '../../src/time/instant.ts';
import { exited, host, lines, skipUnless } from './helpers.ts';

const PEER = new URL('../../scripts/kernel-peer.py', import.meta.url).pathname;
const MiB = 1 << 20;

function noStreams(t: TestContext, h: TapStackHost): boolean {
  try {
    void h.stack.socket(AF_INET, SOCK_STREAM).close();
    return false;
  } catch (e) {
    t.skip(`stack.socket(AF_INET, SOCK_STREAM) is not available yet: ${(e as Error).message}`);
    return true;
  }
}

describe('kernel peer over TAP: stream sockets', () => {
  it('connect to a closed kernel port: ECONNREFUSED', async (t) => {
    if (skipUnless(t)) return;
    const h = await host(t);
    if (noStreams(t, h)) return;
    const s = h.stack.socket(AF_INET, SOCK_STREAM);
    t.after(() => s.close());
    s.settimeout(5);
    await assert.rejects(s.connect([h.kernelIp, 1]), { code: 'ECONNREFUSED' });
  });

  it('16 MiB each way, byte-exact (sendall/recv ↔ python3)', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await host(t);
    if (noStreams(t, h)) return;
    // sockstack → kernel
    const rx = h.spawn(['python3', PEER, 'recv', '--listen', h.kernelIp, '--port', '5301']);
    const rxOut = lines(rx, 'kernel recv');
    await rxOut.waitFor(/ready/);
    const s = h.stack.socket(AF_INET, SOCK_STREAM);
    t.after(() => s.close());
    s.settimeout(60);
    await s.connect([h.kernelIp, 5301]);
    const data = randomFillSync(new Uint8Array(16 * MiB));
    await s.sendall(data);
    await s.close();
    const m = await rxOut.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, 60_000);
    assert.equal(Number(m[1]), data.length);
    assert.equal(m[2], createHash('sha256').update(data).digest('hex'));
    assert.equal(await exited(rx, 5000), 0);
    // kernel → sockstack
    const l = h.stack.socket(AF_INET, SOCK_STREAM);
    t.after(() => l.close());
    await l.bind(['', 5302]);
    await l.listen(4);
    l.settimeout(10);
    const tx = h.spawn([
      'python3',
      PEER,
      'send',
      '--connect',
      h.stackIp,
      '--port',
      '5302',
      '--bytes',
      String(16 * MiB),
    ]);
    const txOut = lines(tx, 'kernel send');
    const [c] = await l.accept();
    c.settimeout(60);
    const hash = createHash('sha256');
    let n = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const b = await c.recv(65536);
      if (b.length === 0) break;
      hash.update(b);
      n += b.length;
    }
    await c.close();
    const k = await txOut.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, 60_000);
    assert.equal(n, 16 * MiB);
    assert.equal(hash.digest('hex'), k[2]);
  });

  it('connect() to a kernel listener with a full accept queue times out (SYNs dropped)', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await host(t, { config: { tcp: { initialRto: millis(250), synRetries: 2 } } });
    if (noStreams(t, h)) return;
    const peer = h.spawn(
      ['python3', PEER, 'backlog', '--listen', h.kernelIp, '--port', '5303', '--backlog', '0'],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    t.after(() => peer.stdin?.end());
    await lines(peer, 'kernel backlog').waitFor(/ready/);
    // listen(0): Linux still queues one connection.
    const a = h.stack.socket(AF_INET, SOCK_STREAM);
    t.after(() => a.close());
    a.settimeout(3);
    await a.connect([h.kernelIp, 5303]);
    const b = h.stack.socket(AF_INET, SOCK_STREAM);
    t.after(() => b.close());
    b.settimeout(10);
    await assert.rejects(b.connect([h.kernelIp, 5303]), { code: 'ETIMEDOUT' });
  });
});
