/** ICMP errors during the handshake: config.icmpMayReset and config.icmpSoftUnreachable. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import type { TcpIcmpKind } from '../../src/tcp/layer.ts';
import { FREEBSD, LINUX, type TcpProfileName } from '../../src/tcp/profile.ts';
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

/**
 * What each ICMP error does to a connection in SYN-SENT under each profile: the close reason,
 * or 'soft' (counted; the SYN retransmissions go on). Linux tcp_v4_err ends the handshake on
 * every unreachable; FreeBSD tcp_ctlinput (icmp_may_rst = 1) only on port and protocol
 * unreachable (RFC 1122 §4.2.3.9: codes 0, 1, 5 are soft). Frag-needed is path MTU discovery.
 */
const IN_SYN_SENT: Record<TcpProfileName, Record<Exclude<TcpIcmpKind, 'frag-needed'>, string>> = {
  linux: {
    'port-unreachable': 'refused',
    'proto-unreachable': 'refused',
    'host-unreachable': 'host-unreachable',
    'net-unreachable': 'net-unreachable',
    unreachable: 'unreachable',
    'time-exceeded': 'host-unreachable',
  },
  freebsd: {
    'port-unreachable': 'refused',
    'proto-unreachable': 'refused',
    'host-unreachable': 'soft',
    'net-unreachable': 'soft',
    unreachable: 'soft',
    'time-exceeded': 'soft',
  },
};

for (const p of [LINUX, FREEBSD]) {
  describe(`ICMP errors in SYN-SENT (${p.name} profile)`, () => {
    for (const [kind, want] of Object.entries(IN_SYN_SENT[p.name])) {
      it(`${kind}: ${want === 'soft' ? 'a soft error, the SYN is retransmitted' : `ends it (${want})`}`, () => {
        const s = hit(tcpConfigFor(p), kind as TcpIcmpKind);
        if (want === 'soft') {
          assert.equal(s.c.state, 'SYN-SENT');
          assert.equal(s.c.error, undefined);
          assert.equal(s.h.layer.stats.icmpSoftErrors, 1);
          s.h.advance(2000);
          assert.equal(s.h.one().repr.seq, s.iss);
        } else {
          assert.equal(s.c.state, 'CLOSED');
          assert.equal(s.c.closeReason, want);
          assert.equal(s.h.layer.stats.icmpAborts, 1);
        }
      });
    }
  });
}
