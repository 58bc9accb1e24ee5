/** ecn.ts with the sender, receiver and handshake: RFC 3168 ECN on hand-made segments. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCongestionControl } from '../../../src/tcp/congestion/factory.ts';
import { ECN_CE, ECN_ECT0, ECN_ECT1, ECN_NOT_ECT, ecnAcceptSyn } from '../../../src/tcp/ecn.ts';
import { segmentArrives } from '../../../src/tcp/input.ts';
import { retransmitFirst, sendSyn, tcpOutput } from '../../../src/tcp/output.ts';
import { seq } from '../../../src/tcp/seq.ts';
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_PSH, TCP_SYN } from '../../../src/wire/tcp.ts';
import { established, fromPeer, IRS, ISS, MSS, ours, theirs } from './tcb-fixture.ts';

const EMPTY = new Uint8Array(0);
const CTL = TCP_SYN | TCP_ACK | TCP_ECE | TCP_CWR;

/** A TCB in SYN-SENT that has not sent its SYN yet. */
function opening(ecn: number, sockEcn?: boolean) {
  const e = established({ config: { ecn } });
  const c = e.c;
  c.state = 'SYN-SENT';
  c.snd.una = seq(ISS);
  c.snd.nxt = seq(ISS);
  c.sndMax = seq(ISS);
  if (sockEcn !== undefined) c.ownOpts().ecn = sockEcn;
  return e;
}

/** An ECN connection with `n` bytes sent. */
function ecnSending(n: number) {
  const e = established({ sndWnd: 1 << 20 });
  e.c.ecnOk = true;
  // IW10 for this MSS (RFC 6928); RFC 5681's ssthresh, which the tests below assert.
  e.c.cc = createCongestionControl('newreno', MSS, { renoSsthresh: 'rfc5681-flight-size' });
  e.c.sndBuf.push(new Uint8Array(n));
  tcpOutput(e.c);
  return e;
}

describe('ECN negotiation (RFC 3168 §6.1.1)', () => {
  it('tcp_ecn=1: the SYN asks with ECE|CWR, Not-ECT; a SYN-ACK with ECE alone agrees', () => {
    const { c, host } = opening(1);
    sendSyn(c);
    const [syn] = host.take();
    assert.equal(syn?.flags, TCP_SYN | TCP_ECE | TCP_CWR);
    assert.equal(syn?.ecn, ECN_NOT_ECT);
    segmentArrives(c, fromPeer(c, { seq: IRS, ack: ISS + 1, flags: TCP_SYN | TCP_ACK | TCP_ECE }), EMPTY);
    assert.equal(c.state, 'ESTABLISHED');
    assert.ok(c.ecnOk);
    assert.equal(host.stats.ecnConnections, 1);
    const [ack] = host.take();
    assert.equal(ack?.flags, TCP_ACK, 'the handshake ACK carries neither ECE nor CWR');
    assert.equal(ack?.ecn, ECN_NOT_ECT);
  });

  it('a SYN-ACK without ECE, or with ECE and CWR, is not an ECN-setup SYN-ACK', () => {
    for (const flags of [TCP_SYN | TCP_ACK, CTL]) {
      const { c } = opening(1);
      sendSyn(c);
      segmentArrives(c, fromPeer(c, { seq: IRS, ack: ISS + 1, flags }), EMPTY);
      assert.equal(c.state, 'ESTABLISHED');
      assert.ok(!c.ecnOk, `flags ${flags}`);
    }
  });

  it('tcp_ecn=2 (the default) does not ask unless the socket does; 0 never asks', () => {
    for (const [sysctl, sock, asks] of [
      [2, undefined, false],
      [2, true, true],
      [0, undefined, false],
      [1, undefined, true],
    ] as const) {
      const { c, host } = opening(sysctl, sock);
      sendSyn(c);
      const [syn] = host.take();
      assert.equal((syn!.flags & (TCP_ECE | TCP_CWR)) !== 0, asks, `tcp_ecn=${sysctl} socket=${sock}`);
    }
  });

  it('a retransmitted SYN falls back to a non-ECN-setup SYN (Linux tcp_ecn_fallback)', () => {
    const { c, host } = opening(1);
    sendSyn(c);
    host.runUntil(host.clock.now() + 1_000_000);
    const sent = host.take();
    assert.equal(sent.length, 2);
    assert.equal(sent[1]?.flags, TCP_SYN);
    // The peer answers the plain SYN with a plain SYN-ACK: no ECN.
    segmentArrives(c, fromPeer(c, { seq: IRS, ack: ISS + 1, flags: TCP_SYN | TCP_ACK }), EMPTY);
    assert.ok(!c.ecnOk);
  });

  it('a listener agrees to an ECN-setup SYN that is Not-ECT, as config.ecn allows', () => {
    const cases: [number, number, number, boolean][] = [
      [2, TCP_SYN | TCP_ECE | TCP_CWR, ECN_NOT_ECT, true],
      [1, TCP_SYN | TCP_ECE | TCP_CWR, ECN_NOT_ECT, true],
      [0, TCP_SYN | TCP_ECE | TCP_CWR, ECN_NOT_ECT, false],
      [2, TCP_SYN | TCP_ECE, ECN_NOT_ECT, false],
      [2, TCP_SYN | TCP_CWR, ECN_NOT_ECT, false],
      // An ECT SYN: something on the path rewrites the field (Linux tcp_ecn_create_request).
      [2, TCP_SYN | TCP_ECE | TCP_CWR, ECN_ECT0, false],
      [2, TCP_SYN | TCP_ECE | TCP_CWR, ECN_CE, false],
    ];
    for (const [sysctl, flags, ipEcn, ok] of cases) {
      const { c, host } = established({ config: { ecn: sysctl } });
      c.state = 'SYN-RECEIVED';
      c.snd.una = seq(ISS);
      c.snd.nxt = seq(ISS);
      c.sndMax = seq(ISS);
      ecnAcceptSyn(c, flags, ipEcn);
      assert.equal(c.ecnOk, ok, `tcp_ecn=${sysctl} flags=${flags} ecn=${ipEcn}`);
      sendSyn(c);
      const [synAck] = host.take();
      assert.equal(synAck?.flags, ok ? TCP_SYN | TCP_ACK | TCP_ECE : TCP_SYN | TCP_ACK);
      assert.equal(synAck?.ecn, ECN_NOT_ECT);
    }
  });
});

describe('ECN sender (RFC 3168 §6.1.2, §6.1.5)', () => {
  it('new data goes ECT(0); retransmissions and pure ACKs go Not-ECT', () => {
    const { c, host } = ecnSending(3 * MSS);
    const data = host.take();
    assert.equal(data.length, 3);
    for (const s of data) assert.equal(s.ecn, ECN_ECT0);
    retransmitFirst(c);
    const [rtx] = host.take();
    assert.equal(rtx?.seq, ours(0));
    assert.equal(rtx?.ecn, ECN_NOT_ECT);
    // Data from the peer: our ACK of it is Not-ECT.
    segmentArrives(c, fromPeer(c, { flags: TCP_ACK | TCP_PSH }), new Uint8Array(10));
    const acks = host.take();
    assert.ok(acks.length >= 1);
    for (const a of acks) assert.equal(a.ecn, ECN_NOT_ECT);
  });

  it('a connection without ECN sends Not-ECT and ignores ECE', () => {
    const { c, host } = established();
    c.sndBuf.push(new Uint8Array(2 * MSS));
    tcpOutput(c);
    for (const s of host.take()) assert.equal(s.ecn, ECN_NOT_ECT);
    const cwnd = c.cc.cwnd;
    segmentArrives(c, fromPeer(c, { ack: ours(MSS), flags: TCP_ACK | TCP_ECE }), EMPTY);
    assert.ok(c.cc.cwnd >= cwnd);
    assert.equal(host.stats.ecnReductions, 0);
  });

  it('ECN-Echo reduces cwnd once per window of data and CWR goes on the next new data segment', () => {
    const { c, host } = ecnSending(10 * MSS);
    host.take();
    assert.equal(c.cc.cwnd, 10 * MSS);
    // Two more segments' worth queued, sent as the window allows.
    c.sndBuf.push(new Uint8Array(10 * MSS));
    segmentArrives(c, fromPeer(c, { ack: ours(MSS), flags: TCP_ACK | TCP_ECE }), EMPTY);
    assert.equal(host.stats.ecnReductions, 1);
    // NewReno: ssthresh = max(FlightSize / 2, 2*SMSS), FlightSize 10*MSS; cwnd = ssthresh.
    assert.equal(c.cc.ssthresh, 5 * MSS);
    assert.equal(c.cc.cwnd, 5 * MSS);
    const windowEnd = ours(10 * MSS);
    assert.equal(c.ecnCwrEnd, windowEnd);
    // With 9 segments in flight and cwnd 5, nothing new goes out yet.
    assert.equal(host.take().length, 0);
    // Further ECE in the same window: no further reduction.
    for (let i = 2; i <= 6; i++) {
      segmentArrives(c, fromPeer(c, { ack: ours(i * MSS), flags: TCP_ACK | TCP_ECE }), EMPTY);
    }
    assert.equal(host.stats.ecnReductions, 1);
    const sent = host.take();
    const cwr = sent.filter((s) => s.flags & TCP_CWR);
    assert.equal(cwr.length, 1, 'CWR on exactly one segment');
    assert.equal(cwr[0]?.seq, windowEnd, 'the first new data segment');
    assert.equal(cwr[0]?.ecn, ECN_ECT0);
    // The whole reduced window acknowledged: an ECE now is a new congestion event.
    const before = c.cc.cwnd;
    segmentArrives(c, fromPeer(c, { ack: ours(11 * MSS), flags: TCP_ACK | TCP_ECE }), EMPTY);
    assert.equal(host.stats.ecnReductions, 2);
    assert.ok(c.cc.cwnd < before);
  });

  it('an ECE during fast recovery does not reduce the window again', () => {
    const { c, host } = ecnSending(8 * MSS);
    host.take();
    for (let i = 0; i < 3; i++) segmentArrives(c, fromPeer(c, { ack: ours(0) }), EMPTY);
    assert.ok(c.inRecovery);
    const ssthresh = c.cc.ssthresh;
    segmentArrives(c, fromPeer(c, { ack: ours(0), flags: TCP_ACK | TCP_ECE }), EMPTY);
    assert.equal(c.cc.ssthresh, ssthresh);
    assert.equal(host.stats.ecnReductions, 0);
    // The recovery's own reduction owes the receiver a CWR (Linux tcp_ecn_queue_cwr).
    assert.ok(c.ecnQueueCwr);
  });
});

describe('ECN receiver (RFC 3168 §6.1.3)', () => {
  it('a CE data segment is ACKed at once with ECE, repeated until a data segment with CWR', () => {
    const { c, host } = established();
    c.ecnOk = true;
    const d = new Uint8Array(MSS);
    segmentArrives(c, fromPeer(c, { seq: theirs(0) }), d, ECN_ECT0);
    host.take();
    segmentArrives(c, fromPeer(c, { seq: theirs(MSS) }), d, ECN_CE);
    const [ack] = host.take();
    assert.ok(ack, 'quick ACK for the CE mark');
    assert.equal(ack.ack, theirs(2 * MSS));
    assert.ok(ack.flags & TCP_ECE);
    assert.equal(ack.ecn, ECN_NOT_ECT);
    assert.equal(host.stats.ecnCeReceived, 1);
    // ECT data without CWR: still echoing.
    segmentArrives(c, fromPeer(c, { seq: theirs(2 * MSS) }), d, ECN_ECT1);
    segmentArrives(c, fromPeer(c, { seq: theirs(3 * MSS) }), d, ECN_ECT0);
    const more = host.take();
    assert.ok(more.length >= 1);
    for (const a of more) assert.ok(a.flags & TCP_ECE);
    // CWR: the echo stops, and the CWR segment is ACKed at once.
    segmentArrives(c, fromPeer(c, { seq: theirs(4 * MSS), flags: TCP_ACK | TCP_CWR }), d, ECN_ECT0);
    const [after] = host.take();
    assert.ok(after, 'CWR is ACKed at once');
    assert.equal(after.flags & TCP_ECE, 0);
    assert.ok(!c.ecnDemandCwr);
  });

  it('CE on a connection without ECN is not echoed', () => {
    const { c, host } = established();
    segmentArrives(c, fromPeer(c, { seq: theirs(0) }), new Uint8Array(MSS), ECN_CE);
    segmentArrives(c, fromPeer(c, { seq: theirs(MSS) }), new Uint8Array(MSS), ECN_CE);
    for (const a of host.take()) assert.equal(a.flags & TCP_ECE, 0);
    assert.equal(host.stats.ecnCeReceived, 0);
  });
});
