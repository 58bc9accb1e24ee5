/**
 * Behaviours that differ between the Linux and FreeBSD profiles (src/tcp/profile.ts), each
 * driven with hand-made segments at virtual times under both profiles.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import { FREEBSD, LINUX, type TcpProfile } from '../../src/tcp/profile.ts';
import {
  A,
  B,
  closeWait,
  established,
  expectSeg,
  finWait1,
  finWait2,
  PEER_PORT,
  synSent,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
} from './harness.ts';

const PROFILES: readonly TcpProfile[] = [LINUX, FREEBSD];
const data = (n: number) => new Uint8Array(n).fill(0x61);

describe('the window arriving segments are checked against (profile inputWindow)', () => {
  for (const p of PROFILES) {
    const fromBuffer = p.inputWindow === 'freebsd-max-sbspace-advertised';
    it(`${p.name}: an RST beyond the offered 65535 bytes but inside the free buffer ${fromBuffer ? 'draws a challenge ACK' : 'is dropped'}`, () => {
      const e = established({ config: tcpConfigFor(p), peerOptions: { mss: 1460 } });
      const free = e.c.rcvBuf.space;
      // FreeBSD rounds its 65536-byte buffer up to whole segments (65700); Linux's is larger.
      assert.ok(free > 65535, `free space ${free}`);
      e.h.advance(100);
      e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 65600, flags: TCP_RST });
      if (fromBuffer) {
        // RFC 5961 §3.2: in the window but not at RCV.NXT: a challenge ACK, no reset.
        expectSeg(e.h.one(), { flags: TCP_ACK, seq: e.iss + 1, ack: e.peerSeq });
      } else e.h.none();
      assert.equal(e.c.state, 'ESTABLISHED');
      // Beyond the free space too: out of every window, dropped silently on both systems.
      e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + free + 10, flags: TCP_RST });
      e.h.none();
      assert.equal(e.c.state, 'ESTABLISHED');
      // At RCV.NXT it resets on both.
      e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, flags: TCP_RST });
      assert.equal(e.ev.reason, 'reset');
    });
  }
});

// The steps stay within 200 ms of our FIN, before a loss probe or an RTO resends it.
describe('ACKs while our FIN is unacknowledged (profile ackWhileFinOutstanding)', () => {
  for (const p of PROFILES) {
    const repeat = p.ackWhileFinOutstanding === 'freebsd-outflags-fin';
    it(`${p.name}: FIN-WAIT-1 -> CLOSING: the ACK of the peer's FIN ${repeat ? 'repeats our FIN' : 'is a bare ACK at SND.NXT'}; challenge ACKs stay bare; a duplicate FIN's ACK ends CLOSING`, () => {
      const e = finWait1({ config: tcpConfigFor(p) });
      const fin = e.iss + 1;
      e.h.advance(10);
      e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: fin, flags: TCP_FIN | TCP_ACK });
      assert.equal(e.c.state, 'CLOSING');
      if (repeat) expectSeg(e.h.one(), { flags: TCP_FIN | TCP_ACK, seq: fin, ack: e.peerSeq + 1 });
      else expectSeg(e.h.one(), { flags: TCP_ACK, seq: fin + 1, ack: e.peerSeq + 1 });
      // An in-window RST not at RCV.NXT: the challenge ACK (FreeBSD's tcp_respond) has no FIN.
      e.h.advance(10);
      e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + 1000, flags: TCP_RST });
      expectSeg(e.h.one(), { flags: TCP_ACK, seq: fin + 1, ack: e.peerSeq + 1 });
      // The peer's FIN again, now acknowledging ours: it ends exactly at RCV.NXT, so its ACK
      // is processed (Linux tcp_sequence, FreeBSD's trim of a duplicate FIN) -> TIME-WAIT.
      e.h.advance(10);
      e.h.inject({
        srcPort: PEER_PORT,
        dstPort: e.port,
        seq: e.peerSeq,
        ack: fin + 1,
        flags: TCP_FIN | TCP_ACK,
      });
      assert.equal(e.c.state, 'TIME-WAIT');
      expectSeg(e.h.one(), { flags: TCP_ACK, seq: fin + 1, ack: e.peerSeq + 1 });
    });

    it(`${p.name}: data in FIN-WAIT-1 is acknowledged ${repeat ? 'with our FIN again' : 'by a bare ACK'}; after our FIN is acked ACKs are bare`, () => {
      const e = finWait1({ config: tcpConfigFor(p) });
      const fin = e.iss + 1;
      e.h.advance(10);
      e.h.inject(
        { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK | TCP_PSH },
        data(100),
      );
      e.h.advance(150); // past either delayed-ACK timer, before the FIN's retransmission
      const acks = e.h.take();
      assert.equal(acks.length, 1);
      if (repeat) expectSeg(acks[0], { flags: TCP_FIN | TCP_ACK, seq: fin, ack: e.peerSeq + 100 });
      else expectSeg(acks[0], { flags: TCP_ACK, seq: fin + 1, ack: e.peerSeq + 100 });
      assert.equal(e.c.state, 'FIN-WAIT-1');

      const w = finWait2({ config: tcpConfigFor(p) });
      w.h.advance(10);
      w.h.inject(
        { srcPort: PEER_PORT, dstPort: w.port, seq: w.peerSeq, ack: w.iss + 2, flags: TCP_ACK | TCP_PSH },
        data(100),
      );
      w.h.advance(150);
      expectSeg(w.h.one(), { flags: TCP_ACK, seq: w.iss + 2, ack: w.peerSeq + 100 });
    });

    it(`${p.name}: LAST-ACK: a retransmitted FIN of the peer is acknowledged ${repeat ? 'with our FIN again' : 'by a bare ACK'}`, () => {
      const e = closeWait({ config: tcpConfigFor(p) });
      e.c.close();
      const ours = e.h.one();
      expectSeg(ours, { flags: TCP_FIN | TCP_ACK });
      assert.equal(e.c.state, 'LAST-ACK');
      const fin = ours.repr.seq;
      e.h.advance(10);
      // The peer's FIN again (it ends at RCV.NXT), acknowledging nothing new.
      e.h.inject({
        srcPort: PEER_PORT,
        dstPort: e.port,
        seq: e.peerSeq - 1,
        ack: fin,
        flags: TCP_FIN | TCP_ACK,
      });
      if (repeat) expectSeg(e.h.one(), { flags: TCP_FIN | TCP_ACK, seq: fin, ack: e.peerSeq });
      else expectSeg(e.h.one(), { flags: TCP_ACK, seq: fin + 1, ack: e.peerSeq });
      assert.equal(e.c.state, 'LAST-ACK');
      e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: fin + 1, flags: TCP_ACK });
      assert.equal(e.c.state, 'CLOSED');
    });
  }
});

describe('what a cumulative ACK after limited transmit credits to slow start (profile ackCredit)', () => {
  for (const p of PROFILES) {
    for (const sackPermitted of [false, true]) {
      const linux = p.ackCredit === 'linux-newly-delivered';
      // Linux: one segment newly delivered (the other two were counted by the duplicate ACKs
      // or SACKed), cwnd 10 -> 11, 9 in flight: 2 segments. RFC 3465 / FreeBSD: 3000 bytes
      // acked, L = 2: cwnd 10 -> 12: 3 segments.
      const want = linux ? 2 : 3;
      it(`${p.name}, ${sackPermitted ? 'SACK' : 'no SACK'}: the ACK of 3 segments, 2 already reported, lets ${want} new segments go`, () => {
        const e = established({ config: tcpConfigFor(p), peerOptions: { mss: 1000, sackPermitted } });
        const una = e.iss + 1;
        e.c.write(data(15000));
        const iw = e.h.take();
        assert.equal(
          iw.reduce((n, s) => n + s.payload.length, 0),
          10000,
        );
        const dup = (k: number) => ({
          srcPort: PEER_PORT,
          dstPort: e.port,
          seq: e.peerSeq,
          ack: una,
          flags: TCP_ACK,
          ...(sackPermitted
            ? { options: { sack: [{ left: (una + 1000) >>> 0, right: (una + 1000 + k * 1000) >>> 0 }] } }
            : {}),
        });
        e.h.advance(10);
        e.h.inject(dup(1));
        expectSeg(e.h.one(), { seq: una + 10000, len: 1000 }); // RFC 3042 limited transmit
        e.h.advance(10);
        e.h.inject(dup(2));
        expectSeg(e.h.one(), { seq: una + 11000, len: 1000 });
        e.h.advance(10);
        e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: una + 3000, flags: TCP_ACK });
        const burst = e.h.take();
        assert.equal(
          burst.length,
          want,
          burst.map((s) => `${s.repr.seq - una}+${s.payload.length}`).join(' '),
        );
        assert.equal(burst[0]?.repr.seq, (una + 12000) >>> 0);
      });
    }
  }
});

describe('a segment acknowledging data not yet sent (profile ackOfUnsentData)', () => {
  for (const p of PROFILES) {
    const answered = p.ackOfUnsentData === 'rfc9293-ack';
    it(`${p.name}: ${answered ? 'answered with a duplicate ACK' : 'discarded without a reply'}, its text and FIN unread`, () => {
      const e = established({ config: tcpConfigFor(p) });
      e.h.advance(10);
      e.h.inject(
        { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 9999, flags: TCP_ACK | TCP_FIN },
        data(10),
      );
      if (answered) expectSeg(e.h.one(), { flags: TCP_ACK, seq: e.iss + 1, ack: e.peerSeq });
      else e.h.none();
      assert.equal(e.c.readableLength, 0);
      assert.equal(e.c.state, 'ESTABLISHED');
      assert.equal(e.h.layer.stats.ackOfUnsent, 1);
      // The same text with a valid ACK is taken.
      e.h.inject(
        { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq, ack: e.iss + 1, flags: TCP_ACK },
        data(10),
      );
      assert.equal(e.c.readableLength, 10);
    });
  }
});

describe("the SYN's MSS option and the path MTU (profile synMssOption)", () => {
  for (const p of PROFILES) {
    const perSyn = p.synMssOption === 'freebsd-tcp-mssopt';
    it(`${p.name}: ${perSyn ? 'each SYN asks the path again; an IPv4 frag-needed in the handshake counts only below 576' : 'the retransmitted SYN repeats the option'}`, () => {
      const s = synSent({ config: tcpConfigFor(p) });
      // The network layer's path MTU (what TcpEnv.mssFor reports), lowered by learnPathMtu.
      s.h.env.learnPathMtu = (_dst, mtu) => {
        s.h.mss = Math.min(s.h.mss, mtu - 40);
        return mtu;
      };
      assert.equal(s.syn.repr.options.mss, 1460);
      const fragNeeded = (mtu: number) =>
        s.h.layer.icmpError('frag-needed', A, B, { srcPort: s.port, dstPort: PEER_PORT, seq: s.iss }, mtu);
      fragNeeded(1300);
      assert.equal(s.h.mss, perSyn ? 1460 : 1260, 'path MTU learned');
      assert.equal(s.h.layer.stats.icmpIgnored, perSyn ? 1 : 0);
      s.h.advance(1100); // the first SYN retransmission (RTO 1 s, FreeBSD + rexmit_slop)
      const again = s.h.take();
      assert.equal(again.length, 1);
      expectSeg(again[0]!, { flags: TCP_SYN, seq: s.iss });
      assert.equal(again[0]!.repr.options.mss, 1460);
      // Below 576 FreeBSD takes it too, and its next SYN announces what the path allows.
      fragNeeded(560);
      assert.equal(s.h.mss, 520);
      s.h.advance(3100);
      const third = s.h.take();
      assert.equal(third.length, 1);
      assert.equal(third[0]!.repr.options.mss, perSyn ? 520 : 1460);
    });
  }
});
