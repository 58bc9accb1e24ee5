/** config.advertiseFreeSpace: FreeBSD offers the free space on every segment. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import { FREEBSD, LINUX, type TcpProfile } from '../../src/tcp/profile.ts';
import { established, expectSeg, type Opened, PEER_PORT, TCP_ACK } from './harness.ts';

function data(e: Opened, off: number, len: number): void {
  e.h.inject(
    { srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq + off, ack: e.iss + 1, flags: TCP_ACK },
    new Uint8Array(len),
  );
}

function run(advertiseFreeSpace: boolean): number {
  const e = established({ config: { advertiseFreeSpace }, connectOptions: { options: { rcvBuf: 4000 } } });
  data(e, 0, 1000);
  e.h.advance(40);
  expectSeg(e.h.one(), { ack: e.peerSeq + 1000, window: 3000 });
  assert.equal(e.c.read(100)?.length, 100); // 100 bytes freed: too little for a window update
  e.h.none();
  data(e, 1000, 10);
  e.h.advance(40);
  const a = e.h.one();
  expectSeg(a, { ack: e.peerSeq + 1010 });
  return a.repr.window;
}

describe('window on piggybacked ACKs', () => {
  it('by default the edge stays until the increase is worth a window update (receiver SWS)', () => {
    assert.equal(run(false), 4000 - 1010);
  });
  it('with advertiseFreeSpace every segment offers the free space (FreeBSD)', () => {
    assert.equal(run(true), 4000 - 910);
  });
});

describe('window on piggybacked ACKs under each profile', () => {
  /** The windows of the ACK of 1000 bytes and of the ACK of 10 more after 100 are read. */
  function windows(p: TcpProfile): [number, number] {
    const e = established({
      config: tcpConfigFor(p, { quickAck: false }),
      connectOptions: { options: { rcvBuf: 4000 } },
    });
    data(e, 0, 1000);
    e.h.advance(100); // past either profile's delayed-ACK timer
    const first = e.h.one();
    expectSeg(first, { ack: e.peerSeq + 1000 });
    assert.equal(e.c.read(100)?.length, 100);
    e.h.none();
    data(e, 1000, 10);
    e.h.advance(100);
    const second = e.h.one();
    expectSeg(second, { ack: e.peerSeq + 1010 });
    return [first.repr.window, second.repr.window];
  }

  it('Linux: the edge stays until the increase is worth a window update (__tcp_select_window)', () => {
    assert.deepEqual(windows(LINUX), [3000, 4000 - 1010]);
  });
  it('FreeBSD: the buffer is whole segments (tcp_mss(): 4000 -> 3 * 1460) and every segment offers its free space', () => {
    assert.deepEqual(windows(FREEBSD), [4380 - 1000, 4380 - 910]);
  });
});
