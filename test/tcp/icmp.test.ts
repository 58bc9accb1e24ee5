/** ICMP errors for TCP connections (RFC 5927, RFC 5461, RFC 1122 §4.2.3.9), under the Linux and FreeBSD profiles. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import { FREEBSD, LINUX } from '../../src/tcp/profile.ts';
import { A, B, established, PEER_PORT, synSent } from './harness.ts';

for (const p of [LINUX, FREEBSD]) {
  describe(`ICMP errors (${p.name} profile)`, () => {
    // Shared: protocol unreachable refuses like port unreachable (Linux icmp_err_convert +
    // tcp_v4_err; FreeBSD icmp_may_rst, PRC_UNREACH_PROTOCOL -> ECONNREFUSED).
    it('protocol unreachable refuses a connect like port unreachable, and is ECONNREFUSED once established', () => {
      const config = tcpConfigFor(p, { quickAck: false });
      const s = synSent({ config });
      s.h.layer.icmpError('proto-unreachable', A, B, { srcPort: s.port, dstPort: PEER_PORT, seq: s.iss });
      assert.equal(s.c.state, 'CLOSED');
      assert.equal(s.ev.reason, 'refused');
      const e = established({ config });
      e.c.write(new Uint8Array(10));
      e.h.one();
      e.h.layer.icmpError('proto-unreachable', A, B, { srcPort: e.port, dstPort: PEER_PORT, seq: e.iss + 1 });
      assert.equal(e.c.error, 'ECONNREFUSED');
      assert.equal(e.c.state, 'ESTABLISHED');
    });
  });
}
