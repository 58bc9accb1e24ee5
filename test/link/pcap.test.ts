import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { captureDevice, PcapngWriter, PcapWriter, readPcap } from '../../src/link/pcap.ts';
import { Simulation } from '../../src/link/sim.ts';
import { openPcapFile, openPcapngFile } from '../../src/node/pcap-file.ts';

function collect() {
  const chunks: Uint8Array[] = [];
  return {
    sink: (c: Uint8Array) => chunks.push(c),
    bytes(): Uint8Array {
      const n = chunks.reduce((a, c) => a + c.length, 0);
      const out = new Uint8Array(n);
      let p = 0;
      for (const c of chunks) {
        out.set(c, p);
        p += c.length;
      }
      return out;
    },
  };
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

describe('PcapWriter', () => {
  it('writes the classic header and records byte for byte', () => {
    const c = collect();
    const w = new PcapWriter(c.sink, { linkType: 'ethernet', snaplen: 65535 });
    w.writePacket(1_500_000, new Uint8Array([1, 2, 3]));
    const b = c.bytes();
    assert.equal(
      hex(b.subarray(0, 24)),
      'd4c3b2a1' + '0200' + '0400' + '00000000' + '00000000' + 'ffff0000' + '01000000',
    );
    // ts_sec=1, ts_usec=500000 (0x07a120), incl=3, orig=3
    assert.equal(hex(b.subarray(24, 40)), '01000000' + '20a10700' + '03000000' + '03000000');
    assert.equal(hex(b.subarray(40)), '010203');
  });

  it('raw IP uses linktype 101 and truncates at snaplen', () => {
    const c = collect();
    const w = new PcapWriter(c.sink, { linkType: 'ip', snaplen: 4, epoch: 1_700_000_000_000_000 });
    w.writePacket(7, new Uint8Array([0x45, 0, 0, 20, 9, 9]));
    const f = readPcap(c.bytes());
    assert.equal(f.format, 'pcap');
    assert.equal(f.linkType, 101);
    assert.equal(f.records.length, 1);
    assert.deepEqual([...f.records[0].data], [0x45, 0, 0, 20]);
    assert.equal(f.records[0].origLen, 6);
    assert.equal(f.records[0].time, 1_700_000_000_000_007);
  });

  it('reads back what it wrote', () => {
    const c = collect();
    const w = new PcapWriter(c.sink);
    const frames = [new Uint8Array(60).fill(1), new Uint8Array(1514).fill(2), new Uint8Array(0)];
    frames.forEach((f, i) => {
      w.writePacket(i * 1000 + 3, f);
    });
    const r = readPcap(c.bytes());
    assert.equal(r.linkType, 1);
    assert.deepEqual(
      r.records.map((x) => x.time),
      [3, 1003, 2003],
    );
    r.records.forEach((x, i) => {
      assert.deepEqual(x.data, frames[i]);
    });
  });

  it('rejects garbage', () => {
    assert.throws(() => readPcap(new Uint8Array([1, 2, 3, 4, 5])), /magic/);
    const c = collect();
    new PcapWriter(c.sink).writePacket(0, new Uint8Array(10));
    assert.throws(() => readPcap(c.bytes().subarray(0, 45)), /truncated/);
  });
});

describe('PcapngWriter', () => {
  it('writes SHB, IDBs and EPBs with correct framing', () => {
    const c = collect();
    const w = new PcapngWriter(c.sink);
    assert.equal(w.addInterface('eth0', 'ethernet'), 0);
    assert.equal(w.addInterface('tun0', 'ip'), 1);
    w.writePacket(5_000_001, new Uint8Array([0xaa, 0xbb, 0xcc, 0xdd, 0xee]), 0, 'out');
    w.writePacket(2 ** 33 + 9, new Uint8Array([0x45]), 1);
    const b = c.bytes();
    const v = new DataView(b.buffer);
    // SHB
    assert.equal(v.getUint32(0, true), 0x0a0d0d0a);
    const shbLen = v.getUint32(4, true);
    assert.equal(v.getUint32(8, true), 0x1a2b3c4d);
    assert.equal(v.getUint16(12, true), 1);
    assert.equal(v.getUint16(14, true), 0);
    assert.equal(v.getUint32(shbLen - 4, true), shbLen);
    // first IDB
    let p = shbLen;
    assert.equal(v.getUint32(p, true), 1);
    const idbLen = v.getUint32(p + 4, true);
    assert.equal(v.getUint16(p + 8, true), 1);
    assert.equal(v.getUint16(p + 16, true), 2); // if_name
    assert.equal(v.getUint16(p + 18, true), 4);
    assert.equal(new TextDecoder().decode(b.subarray(p + 20, p + 24)), 'eth0');
    p += idbLen;
    assert.equal(v.getUint16(p + 8, true), 101);
    p += v.getUint32(p + 4, true);
    // EPB 1
    assert.equal(v.getUint32(p, true), 6);
    const epbLen = v.getUint32(p + 4, true);
    assert.equal(epbLen % 4, 0);
    assert.equal(v.getUint32(p + 8, true), 0);
    assert.equal(v.getUint32(p + 12, true), 0);
    assert.equal(v.getUint32(p + 16, true), 5_000_001);
    assert.equal(v.getUint32(p + 20, true), 5);
    assert.equal(v.getUint32(p + 24, true), 5);
    assert.equal(hex(b.subarray(p + 28, p + 36)), 'aabbccddee000000');
    assert.equal(v.getUint16(p + 36, true), 2); // epb_flags
    assert.equal(v.getUint32(p + 40, true), 2); // outbound
    assert.equal(v.getUint32(p + epbLen - 4, true), epbLen);

    const r = readPcap(b);
    assert.equal(r.format, 'pcapng');
    assert.deepEqual(r.interfaces, [
      { linkType: 1, name: 'eth0' },
      { linkType: 101, name: 'tun0' },
    ]);
    assert.equal(r.records[0].time, 5_000_001);
    assert.equal(r.records[0].direction, 'out');
    assert.equal(r.records[1].time, 2 ** 33 + 9);
    assert.equal(r.records[1].iface, 1);
    assert.deepEqual([...r.records[1].data], [0x45]);
  });

  it('refuses a packet for an undeclared interface', () => {
    const w = new PcapngWriter(() => {});
    assert.throws(() => w.writePacket(0, new Uint8Array(1), 0), RangeError);
  });
});

describe('captureDevice', () => {
  it('records both directions with timestamps and forwards frames', () => {
    const sim = new Simulation();
    const cable = sim.add(
      new Cable({ clock: sim.clock, rng: sim.rng, aToB: { delay: 250 }, bToA: { delay: 100 } }),
    );
    const c = collect();
    const w = new PcapngWriter(c.sink);
    const a = captureDevice(cable.a, w, sim.clock);
    const got: number[] = [];
    a.onReceive = (f) => got.push(f[0]);
    cable.b.onReceive = (f) => cable.b.transmit(new Uint8Array([f[0] + 1, 0, 0]));
    a.transmit(new Uint8Array([7, 0, 0]));
    sim.runUntilIdle();
    assert.deepEqual(got, [8]);
    assert.equal(a.name, 'a');
    assert.equal(a.mtu, 1500);
    const r = readPcap(c.bytes());
    assert.deepEqual(r.interfaces, [{ linkType: 1, name: 'a' }]);
    assert.deepEqual(
      r.records.map((x) => [x.time, x.direction, x.data[0]]),
      [
        [0, 'out', 7],
        [350, 'in', 8],
      ],
    );
  });

  it('classic pcap refuses a device of another link type', () => {
    const sim = new Simulation();
    const cable = new Cable({ clock: sim.clock, rng: sim.rng, linkType: 'ip' });
    const w = new PcapWriter(() => {}, { linkType: 'ethernet' });
    assert.throws(() => captureDevice(cable.a, w, sim.clock), /PcapngWriter/);
  });
});

describe('pcap files (node)', () => {
  it('streams pcap and pcapng to disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockstack-pcap-'));
    try {
      const p1 = join(dir, 'a.pcap');
      const { writer, file } = openPcapFile(p1);
      for (let i = 0; i < 100; i++) writer.writePacket(i, new Uint8Array(1000).fill(i));
      file.close();
      const r1 = readPcap(new Uint8Array(readFileSync(p1)));
      assert.equal(r1.records.length, 100);
      assert.equal(r1.records[99].data[5], 99);

      const p2 = join(dir, 'b.pcapng');
      const ng = openPcapngFile(p2);
      ng.writer.addInterface('x', 'ip');
      ng.writer.writePacket(1, new Uint8Array([0x45, 0]));
      ng.file.flush();
      assert.equal(readPcap(new Uint8Array(readFileSync(p2))).records.length, 1);
      ng.file.close();
      assert.throws(() => ng.file.write(new Uint8Array(1)), /closed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
