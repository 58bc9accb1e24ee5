/**
 * TCP_USER_TIMEOUT (RFC 5482 semantics, as Linux tcp(7) applies them): unacknowledged data
 * aborts the connection with 'timed-out' once it has waited longer than the user timeout,
 * whatever the retry count; the retransmission (or persist) timer is pulled in to that instant.
 */
import assert from 'node:assert/strict';
import { describe as suite, test } from 'node:test';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import { FREEBSD, LINUX, type TcpProfileName } from '../../src/tcp/profile.ts';
import { established, expectSeg, PEER_PORT, synSent, TCP_ACK, TCP_SYN } from './harness.ts';

const bytes = (n: number) => new Uint8Array(n).fill(7);

/** Advances 1 ms at a time until the connection closes (bounded); returns the close time (us). */
function runUntilClosed(e: ReturnType<typeof established>, limitMs: number): number | undefined {
  for (let i = 0; i < limitMs; i++) {
    if (e.c.state === 'CLOSED') return e.h.now();
    e.h.advance(1);
  }
  return e.c.state === 'CLOSED' ? e.h.now() : undefined;
}

suite('TCP_USER_TIMEOUT', () => {
  test('unacknowledged data aborts at exactly sent + user timeout, with timed-out', () => {
    const e = established(); // RTO 300 ms after the 100 ms handshake
    e.c.setOptions({ userTimeout: 3_000_000 });
    const t0 = e.h.now();
    e.c.write(bytes(100));
    assert.equal(e.h.take().length, 1);
    const closed = runUntilClosed(e, 10_000);
    assert.equal(closed, t0 + 3_000_000);
    assert.equal(e.ev.reason, 'timed-out');
    // Retransmissions at +0.3, +0.9, +2.1 s (backed off), then the clamped abort at +3 s.
    const rtx = e.h.take().filter((s) => s.payload.length === 100);
    assert.deepEqual(
      rtx.map((s) => s.at - t0),
      [300_000, 900_000, 2_100_000],
    );
  });

  test('without it the retry count decides: still retransmitting after the same time', () => {
    const e = established();
    e.c.write(bytes(100));
    e.h.advance(3_100);
    assert.equal(e.c.state, 'ESTABLISHED');
  });

  test('an ACK of the data restarts the clock', () => {
    const e = established();
    e.c.setOptions({ userTimeout: 3_000_000 });
    const t0 = e.h.now();
    e.c.write(bytes(100));
    e.h.advance(900); // retransmitted at +0.3 s and +0.9 s
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 101, flags: TCP_ACK });
    e.c.write(bytes(100));
    e.h.advance(2_300); // +3.2 s: past t0 + 3 s, but the new data is younger than that
    assert.equal(e.c.state, 'ESTABLISHED');
    const closed = runUntilClosed(e, 10_000);
    assert.ok(closed !== undefined && closed - t0 <= 900_000 + 3_000_000 + 1, `closed at ${closed}`);
    assert.equal(e.ev.reason, 'timed-out');
  });

  test('zero-window probing gives up after the user timeout', () => {
    const e = established({ peerWindow: 0 });
    e.c.setOptions({ userTimeout: 2_000_000 });
    e.c.write(bytes(100));
    let firstProbe: number | undefined;
    const open = (): boolean => e.c.state !== 'CLOSED';
    for (let i = 0; i < 20_000 && open(); i++) {
      e.h.advance(1);
      const out = e.h.take();
      if (firstProbe === undefined && out.length > 0) firstProbe = out[0]!.at;
      // The peer answers each probe, still with a zero window: the connection is alive but stuck.
      for (const _ of out)
        if (open())
          e.h.inject({
            srcPort: PEER_PORT,
            dstPort: e.port,
            seq: e.peerSeq,
            ack: e.iss + 1,
            flags: TCP_ACK,
            window: 0,
          });
    }
    assert.equal(e.c.state, 'CLOSED');
    assert.equal(e.ev.reason, 'timed-out');
    assert.ok(firstProbe !== undefined);
    assert.equal(e.h.now(), firstProbe + 2_000_000);
  });
});

suite('connection-establishment timer (FreeBSD TCP_KEEPINIT / net.inet.tcp.keepinit)', () => {
  test('an active open fails with timed-out keepInit after the first SYN, before synRetries run out', () => {
    const s = synSent({ connectOptions: { options: { keepInit: 5_000_000 } } });
    const t0 = s.syn.at;
    s.h.advanceTo(t0 + 4_999_999);
    assert.equal(s.c.state, 'SYN-SENT');
    s.h.advanceTo(t0 + 5_000_000); // the next SYN (at 7 s) is cut to the 5 s deadline
    assert.equal(s.c.state, 'CLOSED');
    assert.equal(s.ev.reason, 'timed-out');
    const syns = s.h.take().map((x) => x.at - t0);
    assert.deepEqual(syns, [1_000_000, 3_000_000]); // RTO 1 s, then 2 s
  });

  test('off by default (Linux): synRetries alone decide', () => {
    const s = synSent();
    s.h.advance(10_000);
    assert.equal(s.c.state, 'SYN-SENT');
  });

  test('the layer default applies when the socket sets none', () => {
    const s = synSent({ config: { keepInit: 2_000_000 } });
    s.h.advance(2_000);
    assert.equal(s.c.state, 'CLOSED');
    assert.equal(s.ev.reason, 'timed-out');
  });
});

suite('SYN retransmission schedule (TcpConfig.synBackoff)', () => {
  /** Runs a SYN-SENT connection to its timeout (bounded); returns the SYN send times and the close time. */
  function runSynSent(s: ReturnType<typeof synSent>): { syns: number[]; closed: number | undefined } {
    const t0 = s.syn.at;
    for (let i = 0; i < 1000 && s.c.state !== 'CLOSED'; i++) s.h.advance(1_000);
    const syns = s.h.take().map((x) => x.at - t0);
    return { syns, closed: s.c.state === 'CLOSED' ? s.h.now() - t0 : undefined };
  }

  test("'double' (default, Linux): RTO doubling, 6 retries, timed out at 127 s", () => {
    const s = synSent();
    const r = runSynSent(s);
    assert.deepEqual(
      r.syns,
      [1, 3, 7, 15, 31, 63].map((x) => x * 1_000_000),
    );
    assert.ok(
      r.closed !== undefined && r.closed >= 127_000_000 && r.closed < 128_000_000,
      `closed ${r.closed}`,
    );
    assert.equal(s.ev.reason, 'timed-out');
  });

  test("'freebsd': rexmit_initial * tcp_backoff[shift] + rexmit_slop, capped at 64 s, 12 retries", () => {
    const s = synSent({ config: { synBackoff: 'freebsd', synRtoSlop: 200_000, synRetries: 12 } });
    const r = runSynSent(s);
    // Intervals 1, 2.2, 4.2, 8.2, 16.2, 32.2, then 64 s (TCPTV_REXMTMAX) six times.
    assert.deepEqual(
      r.syns,
      [1, 3.2, 7.4, 15.6, 31.8, 64, 128, 192, 256, 320, 384, 448].map((x) => Math.round(x * 1_000_000)),
    );
    assert.ok(
      r.closed !== undefined && r.closed >= 512_000_000 && r.closed < 513_000_000,
      `closed ${r.closed}`,
    );
    assert.equal(s.ev.reason, 'timed-out');
  });
});

/**
 * SYN timers under each profile's own defaults. Linux: tcp_syn_retries 6 on RFC 6298 doubling
 * from 1 s, no establishment timer, so connect() times out 127 s after the first SYN. FreeBSD:
 * tcp_timer_rexmt's tcp_backoff schedule plus rexmit_slop (200 ms), and net.inet.tcp.keepinit
 * (75 s) ends the attempt before TCP_MAXRXTSHIFT (12) retransmissions run out (the corpus's
 * snd-syn-rtx-keepinit-ipv4.pkt shows the same).
 */
const SYN_TIMERS: Record<TcpProfileName, { syns: number[]; closed: number }> = {
  linux: { syns: [1, 3, 7, 15, 31, 63], closed: 127 },
  freebsd: { syns: [1, 3.2, 7.4, 15.6, 31.8, 64], closed: 75 },
};

for (const p of [LINUX, FREEBSD]) {
  suite(`SYN timers (${p.name} profile)`, () => {
    const want = SYN_TIMERS[p.name];
    test(`SYNs at ${want.syns.join(', ')} s; connect() times out at ${want.closed} s`, () => {
      const s = synSent({ config: tcpConfigFor(p) });
      const t0 = s.syn.at;
      for (let i = 0; i < 2000 && s.c.state !== 'CLOSED'; i++) s.h.advance(100);
      const syns = s.h.take();
      for (const x of syns) expectSeg(x, { flags: TCP_SYN, seq: s.iss });
      assert.deepEqual(
        syns.map((x) => x.at - t0),
        want.syns.map((x) => Math.round(x * 1_000_000)),
      );
      assert.equal(s.c.state, 'CLOSED');
      assert.equal(s.ev.reason, 'timed-out');
      const closed = s.h.now() - t0;
      // The loop steps 100 ms at a time: the close happened within the last step.
      assert.ok(closed >= want.closed * 1e6 && closed < want.closed * 1e6 + 100_000, `closed at ${closed}`);
    });
  });
}
