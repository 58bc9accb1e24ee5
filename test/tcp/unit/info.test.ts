/**
 * TCP_INFO fields Linux fills (info-snapshot.ts, socket/tcp-info.ts): tcpi_ca_state,
 * tcpi_reordering, tcpi_lost, tcpi_last_data_recv / _sent, tcpi_delivered(_ce) and the
 * delivery rate, on a hand-made TCB at virtual times.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeTcpInfo, encodeTcpInfo, TCP_INFO_SIZE } from '../../../src/socket/tcp-info.ts';
import { createCongestionControl } from '../../../src/tcp/congestion/factory.ts';
import { tcpInfo } from '../../../src/tcp/info-snapshot.ts';
import { segmentArrives } from '../../../src/tcp/input.ts';
import { tcpOutput } from '../../../src/tcp/output.ts';
import { TCP_ACK, TCP_ECE, TCP_PSH } from '../../../src/wire/tcp.ts';
import { established, fromPeer, MSS, ours, theirs } from './tcb-fixture.ts';

const EMPTY = new Uint8Array(0);
const MS = 1000;

function sender(segs: number, ecn = false) {
  const e = established({ sackOk: true, sndWnd: 1 << 20 });
  e.c.cc = createCongestionControl('newreno', MSS);
  e.c.ecnOk = ecn;
  e.c.sndBuf.push(new Uint8Array(segs * MSS));
  tcpOutput(e.c);
  e.host.take();
  const ack = (n: number, sack: [number, number][] = [], flags = TCP_ACK) =>
    segmentArrives(
      e.c,
      fromPeer(e.c, {
        ack: ours(n * MSS),
        flags,
        options: sack.length
          ? { sack: sack.map(([l, r]) => ({ left: ours(l * MSS), right: ours(r * MSS) })) }
          : {},
      }),
      EMPTY,
    );
  return { ...e, ack };
}

describe('TCP_INFO (Linux fields)', () => {
  it('tcpi_ca_state: open, disorder on SACK, recovery on loss, open again after the full ACK', () => {
    const { c, host, ack } = sender(10);
    assert.equal(tcpInfo(c).caState, 'open');
    host.clock.advance(10 * MS);
    ack(1, [[2, 3]]); // segment 1 missing, 2 SACKed: not lost yet (RACK waits)
    assert.equal(tcpInfo(c).caState, 'disorder');
    host.clock.advance(10 * MS);
    ack(1, [[2, 6]]);
    host.runUntil(host.clock.now() + 50 * MS); // the reordering timer marks segment 1 lost
    const info = tcpInfo(c);
    assert.equal(info.caState, 'recovery');
    ack(10);
    assert.equal(tcpInfo(c).caState, 'open');
  });

  it('tcpi_ca_state: loss after an RTO until the data outstanding then is acknowledged', () => {
    const { c, host, ack } = sender(4);
    // Without F-RTO (net.ipv4.tcp_frto = 0): an ACK of data never retransmitted would end the
    // Loss state as a spurious timeout (test/tcp/frto.test.ts).
    (host.config as { frto: number }).frto = 0;
    // The loss probe (2 s), then the RTO.
    for (let i = 1; i <= 10 && c.stats.timeouts === 0; i++) host.runUntil(host.clock.now() + 500 * MS);
    assert.equal(c.stats.timeouts, 1);
    assert.equal(tcpInfo(c).caState, 'loss');
    ack(2);
    assert.equal(tcpInfo(c).caState, 'loss');
    ack(4);
    assert.equal(tcpInfo(c).caState, 'open');
  });

  it('tcpi_ca_state with F-RTO: an ACK of data never retransmitted ends the Loss state (spurious RTO)', () => {
    const { c, host, ack } = sender(4);
    for (let i = 1; i <= 10 && c.stats.timeouts === 0; i++) host.runUntil(host.clock.now() + 500 * MS);
    assert.equal(tcpInfo(c).caState, 'loss');
    ack(2);
    assert.notEqual(tcpInfo(c).caState, 'loss');
    assert.equal(c.layer.stats.spuriousRtos, 1);
  });

  it('tcpi_ca_state: cwr after an ECN-Echo, and tcpi_delivered_ce counts what ECE ACKs delivered', () => {
    const { c, host, ack } = sender(10, true);
    host.clock.advance(20 * MS);
    ack(2, [], TCP_ACK | TCP_ECE);
    const info = tcpInfo(c);
    assert.equal(info.caState, 'cwr');
    assert.equal(info.bytesDelivered, 2 * MSS);
    assert.equal(info.bytesDeliveredCe, 2 * MSS);
    ack(4);
    assert.equal(tcpInfo(c).bytesDelivered, 4 * MSS);
    assert.equal(tcpInfo(c).bytesDeliveredCe, 2 * MSS);
    const d = decodeTcpInfo(encodeTcpInfo(tcpInfo(c), host.clock.now()));
    assert.equal(d.caState, 2);
    assert.equal(d.delivered, 4);
    assert.equal(d.deliveredCe, 2);
  });

  it('tcpi_lost counts RACK-marked segments not yet retransmitted', () => {
    const { c, host, ack } = sender(10);
    host.clock.advance(10 * MS);
    ack(0, [[3, 6]]); // 0..2 missing, three SACKed above: lost at once (DupThresh)
    const sent = host.take();
    // PRR lets some of the lost out at once; the rest are still lost and not yet resent.
    const resent = sent.filter((s) => s.seq < ours(3 * MSS)).length;
    assert.ok(resent >= 1);
    assert.ok(resent < 3, `resent ${resent}`);
    assert.equal(tcpInfo(c).lost, 3 - resent);
    assert.equal(tcpInfo(c).caState, 'recovery');
  });

  it('tcpi_reordering grows to the distance an original arrives below the highest SACK', () => {
    const { c, host, ack } = sender(10);
    assert.equal(tcpInfo(c).reordering, 3);
    c.minRtt = 40 * MS; // RACK's reordering window min_RTT/4 = 10 ms keeps segment 0 from being lost at once
    host.clock.advance(10 * MS);
    ack(0, [[6, 7]]); // segment 6 first (only one SACKed: no loss yet)
    ack(1, [[6, 7]]); // then segment 0: it was 7 segments below fack
    assert.equal(tcpInfo(c).reordering, 7);
    assert.equal(decodeTcpInfo(encodeTcpInfo(tcpInfo(c), host.clock.now())).reordering, 7);
  });

  it('tcpi_last_data_recv follows data only; tcpi_last_data_sent follows data only', () => {
    const { c, host } = established();
    host.clock.advance(100 * MS);
    segmentArrives(c, fromPeer(c, { seq: theirs(0), flags: TCP_ACK | TCP_PSH }), new Uint8Array(100));
    const dataAt = host.clock.now();
    host.clock.advance(300 * MS);
    segmentArrives(c, fromPeer(c, { seq: theirs(100) }), EMPTY); // a bare ACK
    let info = tcpInfo(c);
    assert.equal(info.lastDataRecv, dataAt);
    assert.equal(info.lastDataSent, undefined, 'only ACKs sent so far');
    c.sndBuf.push(new Uint8Array(10));
    tcpOutput(c);
    const sentAt = host.clock.now();
    host.clock.advance(50 * MS);
    info = tcpInfo(c);
    assert.equal(info.lastDataSent, sentAt);
    const d = decodeTcpInfo(encodeTcpInfo(info, host.clock.now()));
    assert.equal(d.lastDataRecv, 350);
    assert.equal(d.lastDataSent, 50);
  });

  it('the delivery rate is bytes delivered over about one round trip', () => {
    const { c, host, ack } = sender(20);
    c.rtt.sample(20 * MS);
    assert.equal(tcpInfo(c).deliveryRate, 0);
    // 2 segments every 5 ms: 400 kB/s.
    for (let i = 1; i <= 8; i++) {
      host.clock.advance(5 * MS);
      ack(2 * i);
    }
    const rate = tcpInfo(c).deliveryRate;
    assert.ok(Math.abs(rate - 400_000) <= 40_000, `rate ${rate}`);
    const d = decodeTcpInfo(encodeTcpInfo(tcpInfo(c), host.clock.now()));
    assert.equal(d.deliveryRate, BigInt(rate));
  });

  it('encodes the whole struct through tcpi_rehash, with the ECN option bits', () => {
    const { c, host } = established();
    c.ecnOk = true;
    c.ecnSeen = true;
    const b = encodeTcpInfo(tcpInfo(c), host.clock.now());
    assert.equal(b.length, TCP_INFO_SIZE);
    assert.equal(b[5]! & (8 | 16), 8 | 16);
    const d = decodeTcpInfo(b);
    assert.equal(d.sndWnd, c.snd.wnd);
    assert.equal(d.rcvWnd, c.rcv.wnd);
  });
});

describe('TCP_INFO counts packets of the payload MSS (Linux mss_cache)', () => {
  it('with timestamps: tcpi_snd_mss is the MSS less the option, tcpi_snd_cwnd whole packets of it', async () => {
    const h = await import('../harness.ts');
    const ts = { tsVal: 1, tsEcr: 0 };
    const e = h.established({ peerOptions: { mss: 1460, timestamps: ts } });
    const decode = () => decodeTcpInfo(encodeTcpInfo(e.c.info(), e.h.now()));
    assert.equal(decode().sndMss, 1448);
    assert.equal(decode().sndCwnd, 10);
    e.c.write(new Uint8Array(40 * 1448)); // more than the window: cwnd-limited
    const segs = e.h.take().filter((s) => s.payload.length > 0);
    assert.deepEqual(
      segs.map((s) => s.payload.length),
      new Array(10).fill(1448),
    );
    // Each segment of the first window ACKed on its own: slow start grows the window by one
    // packet per ACK.
    e.h.advance(50);
    for (const [i, s] of segs.entries()) {
      e.h.inject({
        srcPort: h.PEER_PORT,
        dstPort: e.port,
        seq: e.peerSeq,
        ack: (s.repr.seq + s.payload.length) >>> 0,
        flags: TCP_ACK,
        options: { timestamps: { tsVal: 2 + i, tsEcr: s.repr.options.timestamps!.tsVal } },
      });
    }
    assert.equal(decode().sndCwnd, 20);
  });
});
