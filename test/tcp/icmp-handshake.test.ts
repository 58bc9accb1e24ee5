/** ICMP errors during the handshake: config.icmpMayReset and config.icmpSoftUnreachable. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TcpIcmpKind } from '../../src/tcp/layer.ts';
import { A, B, PEER_PORT, synSent } from './harness.ts';

function hit(config: object, kind: TcpIcmpKind): ReturnType<typeof synSent> {
  const s = synSent({ config });
  s.h.layer.icmpError(kind, A, B, { srcPort: s.port, dstPort: PEER_PORT, seq: s.iss });
  return s;
}

describe('ICMP errors in SYN-SENT', () => {
  it('by default (Linux) every unreachable ends the attempt', () => {
    assert.equal(hit({}, 'host-unreachable').c.closeReason, 'host-unreachable');
    assert.equal(hit({}, 'port-unreachable').c.closeReason, 'refused');
  });

  it('icmpSoftUnreachable (FreeBSD): only port/protocol unreachable end it; others are counted', () => {
    const cfg = { icmpSoftUnreachable: true };
    for (const k of ['host-unreachable', 'net-unreachable', 'unreachable', 'time-exceeded'] as const) {
      const s = hit(cfg, k);
      assert.equal(s.c.state, 'SYN-SENT', k);
      assert.equal(s.c.error, undefined, k);
      assert.equal(s.h.layer.stats.icmpSoftErrors, 1, k);
    }
    assert.equal(hit(cfg, 'proto-unreachable').c.closeReason, 'refused');
  });

  it('icmpMayReset false (FreeBSD icmp_may_rst=0): nothing ends it; the SYN is retransmitted', () => {
    const s = hit({ icmpMayReset: false }, 'port-unreachable');
    assert.equal(s.c.state, 'SYN-SENT');
    s.h.advance(1000);
    assert.equal(s.h.one().repr.seq, s.iss);
  });
});
