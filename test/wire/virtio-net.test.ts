/**
 * struct virtio_net_hdr (src/wire/virtio-net.ts): round trips in both sizes, every
 * truncated prefix rejected, malformed fields rejected, and the frame helpers: a partial
 * checksum set for offload completes (as the kernel would) to the real checksum, and
 * software verification tells a good checksum from a corrupted one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checksumPartial, finishChecksum } from '../../src/wire/checksum.ts';
import { isWireError } from '../../src/wire/error.ts';
import { completeFrameChecksum } from '../../src/wire/offload.ts';
import {
  emitVirtioNetHdr,
  parseVirtioNetHdr,
  setPartialChecksum,
  transportChecksumValid,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_LEN,
  VIRTIO_NET_HDR_MRG_LEN,
  type VirtioNetHdr,
} from '../../src/wire/virtio-net.ts';

function hdr(over: Partial<VirtioNetHdr> = {}): VirtioNetHdr {
  return {
    flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
    gsoType: VIRTIO_NET_HDR_GSO_TCPV4,
    hdrLen: 66,
    gsoSize: 1448,
    csumStart: 34,
    csumOffset: 16,
    numBuffers: 1,
    ...over,
  };
}

/** Header + `frameLen` bytes of frame. */
function message(h: VirtioNetHdr, size: number, frameLen: number): Uint8Array {
  const m = new Uint8Array(size + frameLen);
  emitVirtioNetHdr(h, m, 0, size);
  return m;
}

/** An Ethernet + IPv4 + TCP (or UDP) frame with `payload` bytes, checksum left 0. */
function ipv4Frame(proto: 6 | 17, payload: number): Uint8Array {
  const l4 = proto === 6 ? 20 : 8;
  const f = new Uint8Array(14 + 20 + l4 + payload);
  f[12] = 0x08;
  f[13] = 0x00;
  const ip = 14;
  const total = 20 + l4 + payload;
  f.set(
    [0x45, 0, total >> 8, total & 0xff, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2],
    ip,
  );
  const at = ip + 20;
  f[at] = 0x13;
  f[at + 1] = 0x88;
  f[at + 2] = 0xc3;
  f[at + 3] = 0x50;
  if (proto === 6) f[at + 12] = 5 << 4;
  else {
    f[at + 4] = (8 + payload) >> 8;
    f[at + 5] = (8 + payload) & 0xff;
  }
  for (let i = 0; i < payload; i++) f[at + l4 + i] = (i * 7 + 3) & 0xff;
  return f;
}

describe('virtio_net_hdr codec', () => {
  for (const size of [VIRTIO_NET_HDR_LEN, VIRTIO_NET_HDR_MRG_LEN]) {
    it(`round-trips the ${size}-byte form, little-endian`, () => {
      const h = hdr({
        hdrLen: 0x0142,
        gsoSize: 0x05a8,
        csumStart: 0x0022,
        csumOffset: 0x0010,
        numBuffers: 3,
      });
      const m = message(h, size, 100);
      assert.deepEqual([...m.subarray(2, 6)], [0x42, 0x01, 0xa8, 0x05]);
      const p = parseVirtioNetHdr(m, size);
      assert.ok(!isWireError(p), JSON.stringify(p));
      assert.deepEqual(p, { ...h, numBuffers: size === VIRTIO_NET_HDR_MRG_LEN ? 3 : 0 });
    });

    it(`rejects every truncated prefix of the ${size}-byte form`, () => {
      const m = message(hdr({ flags: 0, gsoType: VIRTIO_NET_HDR_GSO_NONE, gsoSize: 0 }), size, 0);
      assert.ok(!isWireError(parseVirtioNetHdr(m, size)));
      for (let n = 0; n < size; n++) {
        const p = parseVirtioNetHdr(m.subarray(0, n), size);
        assert.ok(isWireError(p) && p.wireError === 'truncated', `prefix of ${n} bytes`);
      }
    });
  }

  it('rejects an unknown size, unknown flags and GSO types, GSO without gso_size, a checksum field past the end', () => {
    const ok = message(hdr(), VIRTIO_NET_HDR_MRG_LEN, 100);
    assert.ok(!isWireError(parseVirtioNetHdr(ok, VIRTIO_NET_HDR_MRG_LEN)));
    assert.ok(isWireError(parseVirtioNetHdr(ok, 11)));
    const bad: Array<[string, Partial<VirtioNetHdr>, number]> = [
      ['flag bit 3', { flags: 8 }, 100],
      ['gso_type 2', { gsoType: 2 }, 100],
      ['gso_type 6', { gsoType: 6 }, 100],
      ['gso_size 0', { gsoSize: 0 }, 100],
      ['csum field past the end', { csumStart: 90, csumOffset: 9 }, 100],
    ];
    for (const [what, over, len] of bad) {
      const p = parseVirtioNetHdr(message(hdr(over), VIRTIO_NET_HDR_MRG_LEN, len), VIRTIO_NET_HDR_MRG_LEN);
      assert.ok(isWireError(p) && p.wireError === 'malformed', what);
    }
    // ECN on a known type, DATA_VALID without NEEDS_CSUM: both fine.
    const ecn = hdr({ gsoType: VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN });
    assert.ok(
      !isWireError(parseVirtioNetHdr(message(ecn, VIRTIO_NET_HDR_MRG_LEN, 100), VIRTIO_NET_HDR_MRG_LEN)),
    );
    const dv = hdr({
      flags: VIRTIO_NET_HDR_F_DATA_VALID,
      gsoType: 0,
      gsoSize: 0,
      csumStart: 0,
      csumOffset: 0,
    });
    assert.ok(
      !isWireError(parseVirtioNetHdr(message(dv, VIRTIO_NET_HDR_MRG_LEN, 0), VIRTIO_NET_HDR_MRG_LEN)),
    );
  });
});

describe('virtio-net checksum offload helpers', () => {
  for (const [proto, payload] of [
    [6, 0],
    [6, 1],
    [6, 1460],
    [17, 3],
    [17, 1000],
  ] as const) {
    it(`a partial ${proto === 6 ? 'TCP' : 'UDP'} checksum (${payload} bytes) completes to the real one`, () => {
      const want = ipv4Frame(proto, payload);
      assert.ok(completeFrameChecksum(want, 'ethernet'));
      assert.ok(transportChecksumValid(want, 'ethernet'));
      const f = ipv4Frame(proto, payload);
      const h = hdr();
      assert.ok(setPartialChecksum(f, 'ethernet', h));
      assert.equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
      assert.equal(h.gsoType, VIRTIO_NET_HDR_GSO_NONE);
      assert.equal(h.csumStart, 34);
      assert.equal(h.csumOffset, proto === 6 ? 16 : 6);
      assert.equal(h.hdrLen, 34 + (proto === 6 ? 20 : 8));
      // What the kernel does with NEEDS_CSUM: sum from csum_start to the end (the field holds
      // the pseudo-header sum) and store the complement at csum_start + csum_offset.
      const c = finishChecksum(checksumPartial(f.subarray(h.csumStart), 0));
      f[h.csumStart + h.csumOffset] = c >> 8;
      f[h.csumStart + h.csumOffset + 1] = c & 0xff;
      if (proto === 17 && c === 0) f[h.csumStart + h.csumOffset] = f[h.csumStart + h.csumOffset + 1] = 0xff;
      assert.deepEqual(f, want);
    });
  }

  it('leaves a frame that already carries its checksum as it is (forwarded: the receiver checks it)', () => {
    for (const proto of [6, 17] as const) {
      // A datagram a router forwards as it arrived, one payload bit flipped on the way in:
      // made partial, the kernel would compute a fresh checksum over the corrupted bytes.
      const f = ipv4Frame(proto, 200);
      assert.ok(completeFrameChecksum(f, 'ethernet'));
      f[f.length - 5] ^= 0x10;
      const before = f.slice();
      const h = hdr();
      assert.equal(setPartialChecksum(f, 'ethernet', h), false);
      assert.equal(h.flags, 0);
      assert.deepEqual(f, before, 'frame untouched');
      assert.equal(transportChecksumValid(f, 'ethernet'), false, 'the receiver still sees the corruption');
    }
    // A super-segment's checksum is always filled in per segment, whatever its field holds
    // (a GRO run forwarded whole carries its first segment's).
    const run = ipv4Frame(6, 2896);
    completeFrameChecksum(run, 'ethernet');
    const h = hdr();
    assert.ok(setPartialChecksum(run, 'ethernet', h, true));
    assert.equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  });

  it('offers nothing to offload for ARP, ICMP and fragments', () => {
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    const icmp = ipv4Frame(6, 10);
    icmp[14 + 9] = 1;
    const frag = ipv4Frame(17, 100);
    frag[14 + 6] = 0x20; // more fragments
    for (const f of [arp, icmp, frag]) {
      const before = f.slice();
      const h = hdr();
      assert.equal(setPartialChecksum(f, 'ethernet', h), false);
      assert.equal(h.flags, 0);
      assert.deepEqual(f, before, 'frame untouched');
    }
  });

  it('software verification accepts a right checksum and rejects any one flipped bit', () => {
    const f = ipv4Frame(6, 300);
    completeFrameChecksum(f, 'ethernet');
    assert.ok(transportChecksumValid(f, 'ethernet'));
    for (const at of [34, 50, 54, 200, f.length - 1]) {
      const g = f.slice();
      g[at] ^= 0x10;
      assert.equal(transportChecksumValid(g, 'ethernet'), false, `bit flipped at ${at}`);
    }
    // An IPv4 UDP checksum of 0 means none was sent (RFC 768).
    const u = ipv4Frame(17, 20);
    assert.ok(transportChecksumValid(u, 'ethernet'));
    u[14 + 28] ^= 1;
    assert.ok(transportChecksumValid(u, 'ethernet'));
  });
});
