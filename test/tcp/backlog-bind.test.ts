/**
 * Two Linux rules at the TcpLayer level (below the sockets API):
 * - the accept queue holds backlog + 1 connections (sk_acceptq_is_full: queued > backlog);
 * - a SO_REUSEADDR listener may take a port held by a TIME-WAIT connection only when the
 *   socket that connection came from had SO_REUSEADDR too (inet_csk_bind_conflict).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accepted, expectSeg, Harness, PEER_ISN, PEER_PORT, TCP_ACK, TCP_FIN, TCP_SYN } from './harness.ts';

/** Completes `n` handshakes from distinct peer ports; returns how many got a SYN-ACK. */
function handshakes(h: Harness, n: number): number {
  let answered = 0;
  for (let i = 0; i < n; i++) {
    h.inject({
      srcPort: PEER_PORT + 1 + i,
      dstPort: 80,
      seq: PEER_ISN,
      flags: TCP_SYN,
      options: { mss: 1460 },
    });
    const out = h.take();
    const sa = out.find((s) => s.repr.flags === (TCP_SYN | TCP_ACK));
    if (!sa) continue;
    answered++;
    h.inject({
      srcPort: PEER_PORT + 1 + i,
      dstPort: 80,
      seq: PEER_ISN + 1,
      ack: sa.repr.seq + 1,
      flags: TCP_ACK,
    });
    h.take();
  }
  return answered;
}

describe('accept queue and bind rules (Linux)', () => {
  for (const [backlog, holds] of [
    [0, 1],
    [1, 2],
    [3, 4],
  ] as const) {
    it(`listen(${backlog}) holds ${holds} established connections before refusing more`, () => {
      const h = new Harness({ config: { synCookies: 'never' } });
      const l = h.layer.listen({ port: 80, backlog });
      handshakes(h, holds + 2);
      let accepted = 0;
      while (l.accept()) accepted++;
      assert.equal(accepted, holds);
    });
  }

  /** Port 80's accepted connection, closed by us first: TIME-WAIT; the listener closed too. */
  function serverTimeWait() {
    const a = accepted();
    a.c.close();
    expectSeg(a.h.one(), { flags: TCP_FIN | TCP_ACK });
    a.h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: a.peerSeq, ack: a.iss + 2, flags: TCP_FIN | TCP_ACK });
    a.h.take();
    assert.equal(a.c.state, 'TIME-WAIT');
    a.l.close();
    return a;
  }

  it('a SO_REUSEADDR listen over TIME-WAIT of a socket without SO_REUSEADDR is EADDRINUSE', () => {
    const t = serverTimeWait();
    assert.throws(
      () => t.h.layer.listen({ port: 80, backlog: 1, reuseAddr: true }),
      (e: unknown) => (e as { code?: string }).code === 'EADDRINUSE',
    );
  });

  it('with SO_REUSEADDR on the old socket and the new one, the restart binds', () => {
    const t = serverTimeWait();
    t.c.reuseAddr = true; // as if the old listener (and so its children) had SO_REUSEADDR
    assert.throws(
      () => t.h.layer.listen({ port: 80, backlog: 1 }),
      (e: unknown) => (e as { code?: string }).code === 'EADDRINUSE',
      'the new socket needs it too',
    );
    const l = t.h.layer.listen({ port: 80, backlog: 1, reuseAddr: true });
    assert.equal(l.local.port, 80);
  });
});
