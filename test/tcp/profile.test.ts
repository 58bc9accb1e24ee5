/** Dialect profiles (src/tcp/profile.ts) resolved into TcpConfig, and FreeBSD's socket-buffer rounding (buffers.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import { Stack } from '../../src/stack.ts';
import { establishedBufferSizes, roundUpToSegments } from '../../src/tcp/buffers.ts';
import { DEFAULT_TCP_CONFIG, resolveTcpConfig, tcpConfigFor } from '../../src/tcp/config.ts';
import { FREEBSD, LINUX, TCP_PROFILES } from '../../src/tcp/profile.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { established, synSent } from './harness.ts';

describe('TcpProfile -> TcpConfig', () => {
  it('Linux is the default: DEFAULT_TCP_CONFIG, an empty config and the LINUX profile agree', () => {
    assert.deepEqual(resolveTcpConfig({}), { ...DEFAULT_TCP_CONFIG });
    assert.deepEqual(tcpConfigFor(LINUX), { ...DEFAULT_TCP_CONFIG });
    assert.equal(DEFAULT_TCP_CONFIG.profile, 'linux');
    assert.equal(DEFAULT_TCP_CONFIG.minRto, 200_000);
    assert.equal(DEFAULT_TCP_CONFIG.synBackoff, 'double');
    assert.equal(DEFAULT_TCP_CONFIG.quickAck, true);
    assert.equal(DEFAULT_TCP_CONFIG.sockBufRounding, 'none');
    // net.ipv4.tcp_congestion_control = cubic; an override still picks another.
    assert.equal(DEFAULT_TCP_CONFIG.congestion, 'cubic');
    assert.equal(resolveTcpConfig({ congestion: 'newreno' }).congestion, 'newreno');
    assert.equal(DEFAULT_TCP_CONFIG.cubicFirstHalves, false);
    assert.equal(DEFAULT_TCP_CONFIG.finAckDelayed, true);
    assert.equal(DEFAULT_TCP_CONFIG.inputWindowFromBuffer, false);
    assert.equal(DEFAULT_TCP_CONFIG.finOnAcks, false);
    assert.equal(DEFAULT_TCP_CONFIG.mssOptionPerSyn, false);
    assert.equal(DEFAULT_TCP_CONFIG.creditNewlyDelivered, true);
    assert.equal(DEFAULT_TCP_CONFIG.silentAckOfUnsent, true);
    assert.equal(DEFAULT_TCP_CONFIG.shutRdKeepsReceiving, true);
  });

  it("FreeBSD's mechanisms become the flags TCP reads", () => {
    const c = tcpConfigFor(FREEBSD);
    assert.equal(c.profile, 'freebsd');
    assert.equal(c.minRto, 230_000); // rexmit_min 30 ms + rexmit_slop 200 ms
    assert.equal(c.synRtoSlop, 200_000);
    assert.equal(c.synBackoff, 'freebsd');
    assert.equal(c.synRetries, 12);
    assert.equal(c.keepInit, 75_000_000);
    assert.equal(c.delayedAckTimeout, 100_000);
    assert.equal(c.quickAck, false);
    assert.equal(c.ackEverySegmentPair, true);
    assert.equal(c.pushBurstEnd, false);
    assert.equal(c.tlp, false);
    assert.equal(c.advertiseFreeSpace, true);
    assert.equal(c.rfc1337, true);
    assert.equal(c.alwaysKeepalive, true);
    assert.equal(c.icmpSoftUnreachable, true);
    assert.deepEqual([c.rcvBuf, c.sndBuf, c.maxRcvBuf], [65536, 32768, 2 * 1024 * 1024]);
    assert.equal(c.sockBufRounding, 'mss-multiple');
    // FreeBSD 14's net.inet.tcp.cc.algorithm default.
    assert.equal(c.congestion, 'cubic');
    assert.equal(c.cubicFirstHalves, true);
    assert.equal(c.finAckDelayed, false);
    assert.equal(c.inputWindowFromBuffer, true);
    assert.equal(c.finOnAcks, true);
    assert.equal(c.mssOptionPerSyn, true);
    assert.equal(c.creditNewlyDelivered, false);
    assert.equal(c.silentAckOfUnsent, false);
    assert.equal(c.shutRdKeepsReceiving, false);
    // Settings no profile decides are the same.
    assert.equal(c.msl, DEFAULT_TCP_CONFIG.msl);
    assert.equal(c.dsack, true);
  });

  it('overrides win over the profile, by value or by name', () => {
    const c = resolveTcpConfig({ profile: 'freebsd', synRetries: 3, quickAck: true });
    assert.equal(c.synRetries, 3);
    assert.equal(c.quickAck, true);
    assert.equal(c.delayedAckTimeout, 100_000);
    assert.deepEqual(tcpConfigFor('freebsd', { tlp: true }), { ...tcpConfigFor(FREEBSD), tlp: true });
    assert.equal(TCP_PROFILES.linux, LINUX);
  });

  it('an unknown profile name is a TypeError', () => {
    assert.throws(() => resolveTcpConfig({ profile: 'windows' as 'linux' }), TypeError);
  });

  it('a Stack built with a profile name has that profile', () => {
    const stack = new Stack({
      clock: new ManualClock(0),
      rng: new SeededRng(1),
      config: { tcp: { profile: 'freebsd', keepCount: 3 } },
    });
    assert.equal(stack.tcp.config.profile, 'freebsd');
    assert.equal(stack.tcp.config.delayedAckTimeout, 100_000);
    assert.equal(stack.tcp.config.keepCount, 3);
    assert.equal(new Stack({ clock: new ManualClock(0), rng: new SeededRng(1) }).tcp.config.profile, 'linux');
  });
});

describe('socket-buffer rounding (FreeBSD tcp_mss())', () => {
  it('rounds up to whole segments', () => {
    assert.equal(roundUpToSegments(65536, 1460), 65700);
    assert.equal(roundUpToSegments(32768, 1460), 33580);
    assert.equal(roundUpToSegments(2920, 1460), 2920);
    assert.deepEqual(establishedBufferSizes('mss-multiple', 1460, { rcvBuf: 65536, sndBuf: 32768 }), {
      rcvBuf: 65700,
      sndBuf: 33580,
    });
    assert.deepEqual(establishedBufferSizes('none', 1460, { rcvBuf: 65536, sndBuf: 32768 }), {
      rcvBuf: 65536,
      sndBuf: 32768,
    });
  });

  it('a FreeBSD connection keeps its sizes until the handshake completes, then rounds them once', () => {
    const s = synSent({ config: tcpConfigFor(FREEBSD) });
    assert.deepEqual([s.c.opts.rcvBuf, s.c.opts.sndBuf], [65536, 32768]);
    const e = established({ config: tcpConfigFor(FREEBSD) });
    assert.equal(e.c.mss, 1460);
    assert.deepEqual([e.c.opts.rcvBuf, e.c.opts.sndBuf], [65700, 33580]);
  });

  it('a Linux connection keeps the sizes it was given', () => {
    const e = established({ config: tcpConfigFor(LINUX) });
    assert.deepEqual([e.c.opts.rcvBuf, e.c.opts.sndBuf], [256 * 1024, 256 * 1024]);
  });
});
