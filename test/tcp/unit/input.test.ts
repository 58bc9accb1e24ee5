/** input.ts alone: the RFC 9293 §3.10.7.4 dispatch on a hand-made TCB. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { segmentArrives } from '../../../src/tcp/input.ts';
import { tcpOutput } from '../../../src/tcp/output.ts';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../../src/wire/tcp.ts';
import { established, fromPeer, ours, theirs } from './tcb-fixture.ts';

const none = new Uint8Array(0);

describe('segmentArrives (unit)', () => {
  it('first: a segment outside the window is answered with an ACK and dropped', () => {
    const { c, host } = established({ rcvWnd: 1000 });
    segmentArrives(c, fromPeer(c, { seq: theirs(5000) }), new Uint8Array(10));
    const [s, ...rest] = host.take();
    assert.equal(rest.length, 0);
    assert.deepEqual([s?.flags, s?.ack], [TCP_ACK, theirs(0)]);
    assert.equal(host.stats.outOfWindow, 1);
    assert.equal(c.rcvBuf.length, 0);
  });

  it('second: a RST at RCV.NXT resets the connection; one elsewhere in the window is challenged', () => {
    const a = established();
    segmentArrives(a.c, fromPeer(a.c, { seq: theirs(10), flags: TCP_RST }), none);
    assert.equal(a.c.state, 'ESTABLISHED');
    assert.equal(a.host.stats.challengeAcks, 1);
    assert.equal(a.host.take()[0]?.flags, TCP_ACK);
    segmentArrives(a.c, fromPeer(a.c, { flags: TCP_RST }), none);
    assert.equal(a.c.state, 'CLOSED');
    assert.equal(a.c.closeReason, 'reset');
    assert.equal(a.host.removed.length, 1);
  });

  it('fourth: a SYN on a synchronized connection draws a challenge ACK (RFC 5961 §4.2)', () => {
    const { c, host } = established();
    segmentArrives(c, fromPeer(c, { flags: TCP_SYN }), none);
    assert.equal(c.state, 'ESTABLISHED');
    assert.equal(host.stats.challengeAcks, 1);
    assert.equal(host.take().length, 1);
  });

  it('fifth: an ACK of unsent data is answered and dropped, its text unread', () => {
    const { c, host } = established({ config: { silentAckOfUnsent: false } });
    segmentArrives(c, fromPeer(c, { ack: ours(10) }), new Uint8Array(5));
    assert.equal(host.stats.ackOfUnsent, 1);
    assert.equal(c.rcvBuf.length, 0);
    assert.equal(host.take().length, 1);
  });

  it('fifth: under config.silentAckOfUnsent (Linux) an ACK of unsent data is discarded without a reply', () => {
    const { c, host } = established({ config: { silentAckOfUnsent: true } });
    segmentArrives(c, fromPeer(c, { ack: ours(10) }), new Uint8Array(5));
    assert.equal(host.stats.ackOfUnsent, 1);
    assert.equal(c.rcvBuf.length, 0);
    assert.equal(host.take().length, 0);
  });

  it('fifth then eighth: LAST-ACK ends when our FIN is acknowledged', () => {
    const { c, host } = established();
    c.finQueued = true;
    c.finSeq = ours(0);
    c.state = 'LAST-ACK';
    tcpOutput(c);
    assert.equal(host.take()[0]?.flags, TCP_ACK | TCP_FIN);
    segmentArrives(c, fromPeer(c, { ack: ours(1) }), none);
    assert.equal(c.state, 'CLOSED');
    assert.equal(c.closeReason, undefined);
  });

  it('seventh: text in ESTABLISHED is delivered and the ACK delayed', () => {
    const { c, host } = established({ config: { quickAck: false } });
    segmentArrives(c, fromPeer(c), new Uint8Array(100).fill(3));
    assert.equal(c.rcvBuf.length, 100);
    assert.equal(c.rcv.nxt, theirs(100));
    assert.equal(host.take().length, 0);
    assert.ok(c.delackArmed);
    assert.equal(c.stats.segsIn, 1);
  });
});
