/**
 * Connection-management semantics against the Linux kernel over a TAP (TCP
 * engine, no socket layer): a kernel listener whose accept queue is full, and
 * which side ends up in TIME-WAIT depending on who closes first.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { millis } from '../../src/time/instant.ts';
import { host, lines, skipUnless, until } from './helpers.ts';
import { rawConnect } from './raw-tcp.ts';

const PEER = new URL('../../scripts/kernel-peer.py', import.meta.url).pathname;

describe('kernel peer over TAP: listener backlog', () => {
  it('a full kernel accept queue drops SYNs: connect stays in SYN-SENT, times out, or completes once accept() makes room', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    // Short SYN timers so the timeout case takes ~2 s: RTO 250 ms, 3 retries (0.25+0.5+1).
    const h = await host(t, { config: { tcp: { initialRto: millis(250), synRetries: 3 } } });
    const peer = h.spawn(
      ['python3', PEER, 'backlog', '--listen', h.kernelIp, '--port', '5003', '--backlog', '1'],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const out = lines(peer, 'kernel-peer backlog');
    await out.waitFor(/ready/);
    // Linux queues backlog + 1 completed connections (sk_acceptq_is_full is "> backlog").
    const c1 = rawConnect(h.stack, h.kernelIp, 5003);
    await c1.established(3000);
    const c2 = rawConnect(h.stack, h.kernelIp, 5003);
    await c2.established(3000);
    t.after(() => {
      c1.c.abort();
      c2.c.abort();
    });
    // The third SYN is dropped by the kernel (LISTENOVERFLOWS): no SYN-ACK, no RST.
    const c3 = rawConnect(h.stack, h.kernelIp, 5003);
    const t0 = Date.now();
    await assert.rejects(
      c3.established(10_000),
      (e: Error & { reason?: string }) => e.reason === 'timed-out',
    );
    const took = Date.now() - t0;
    assert.ok(took >= 1500, `gave up after ${took} ms, expected the SYN retries (~1.75 s)`);
    const nstat = await h.exec('nstat -az TcpExtListenOverflows TcpExtListenDrops 2>/dev/null || true');
    if (/TcpExtListenDrops/.test(nstat.stdout)) assert.match(nstat.stdout, /TcpExtListenDrops\s+[1-9]/);

    // A fourth connect waits in SYN-SENT; once the kernel accepts one, a retransmitted SYN gets in.
    const c4 = rawConnect(h.stack, h.kernelIp, 5003);
    t.after(() => c4.c.abort());
    const rtx0 = h.stack.tcp.stats.timeouts;
    await until(() => h.stack.tcp.stats.timeouts > rtx0, 3000, 'a SYN retransmission of the 4th connect');
    assert.equal(c4.c.state, 'SYN-SENT');
    peer.stdin?.write('accept\n');
    await out.waitFor(/accepted 1/);
    await c4.established(5000);
    assert.equal(c4.c.state, 'ESTABLISHED');
    peer.stdin?.end();
  });
});

describe('kernel peer over TAP: who closes first gets TIME-WAIT', () => {
  it('the kernel closes first: TIME-WAIT is in the kernel (ss), sockstack goes CLOSE-WAIT → LAST-ACK → CLOSED', async (t) => {
    if (skipUnless(t, ['python3', 'ss'])) return;
    const h = await host(t);
    const peer = h.spawn(['python3', PEER, 'serve-close', '--listen', h.kernelIp, '--port', '5004'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    t.after(() => peer.stdin?.end());
    const out = lines(peer, 'kernel-peer serve-close');
    await out.waitFor(/ready/);
    const c = rawConnect(h.stack, h.kernelIp, 5004);
    t.after(() => c.c.abort());
    await c.established();
    const got = await c.readAll(5000);
    assert.equal(got.bytes, 4);
    await out.waitFor(/closed \d+/);
    assert.equal(c.c.state, 'CLOSE-WAIT');
    const port = c.c.local.port;
    c.c.close();
    await until(() => c.c.state === 'CLOSED', 5000, 'LAST-ACK acknowledged');
    const ss = await h.exec(['ss', '-tan', 'state', 'time-wait']);
    assert.match(
      ss.stdout,
      new RegExp(`${h.kernelIp.replace(/\./g, '\\.')}:5004\\s+${h.stackIp.replace(/\./g, '\\.')}:${port}\\b`),
      ss.stdout,
    );
  });

  it('sockstack closes first: sockstack goes FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT, the kernel has no TIME-WAIT', async (t) => {
    if (skipUnless(t, ['python3', 'ss'])) return;
    const h = await host(t);
    const peer = h.spawn(['python3', PEER, 'recv', '--listen', h.kernelIp, '--port', '5005']);
    const out = lines(peer, 'kernel-peer recv');
    await out.waitFor(/ready/);
    const c = rawConnect(h.stack, h.kernelIp, 5005);
    t.after(() => c.c.abort());
    await c.established();
    await c.writeAll(new TextEncoder().encode('hello'));
    c.c.close();
    assert.equal(c.c.state, 'FIN-WAIT-1');
    await out.waitFor(/RESULT 5 /);
    await until(() => c.c.state === 'TIME-WAIT', 5000, 'TIME-WAIT on our side');
    const ss = await h.exec(['ss', '-tan', 'state', 'time-wait']);
    assert.doesNotMatch(ss.stdout, /:5005\b/, ss.stdout);
    const all = await h.exec(['ss', '-tan']);
    assert.doesNotMatch(all.stdout, /:5005\s+\S+:\d+/, `the kernel still has the connection:\n${all.stdout}`);
  });
});
