/** ICMP errors for TCP connections (RFC 5927, RFC 5461, RFC 1122 §4.2.3.9). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { A, B, established, PEER_PORT, synSent } from './harness.ts';

describe('ICMP errors', () => {
  it('protocol unreachable refuses a connect like port unreachable, and is ECONNREFUSED once established', () => {
    const s = synSent();
    s.h.layer.icmpError('proto-unreachable', A, B, { srcPort: s.port, dstPort: PEER_PORT, seq: s.iss });
    assert.equal(s.c.state, 'CLOSED');
    assert.equal(s.ev.reason, 'refused');
    const e = established();
    e.c.write(new Uint8Array(10));
    e.h.one();
    e.h.layer.icmpError('proto-unreachable', A, B, { srcPort: e.port, dstPort: PEER_PORT, seq: e.iss + 1 });
    assert.equal(e.c.error, 'ECONNREFUSED');
    assert.equal(e.c.state, 'ESTABLISHED');
  });
});
