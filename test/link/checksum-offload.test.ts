/**
 * Checksum offload (Device.txChecksumOffload / rxChecksumValid) end to end: what leaves
 * without a checksum is filled in where it must be (a router towards a device that checks,
 * a capture), and a link that can corrupt frames never offloads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { CaptureDevice, type CaptureWriter } from '../../src/link/pcap.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import { millis } from '../../src/time/instant.ts';
import { type IpAddress, parseIp } from '../../src/wire/address.ts';
import { checksumPartial, finishChecksum, pseudoHeaderSumV4 } from '../../src/wire/checksum.ts';

const ip = (s: string): IpAddress => parseIp(s)!;

/** Sends `bytes` from `from` to a listener on `to`:5001 and returns what arrived. */
function transfer(sim: Simulation, from: Stack, to: Stack, toAddr: string, bytes: number): Uint8Array {
  const l = to.tcp.listen({ port: 5001, backlog: 1 });
  const c = from.tcp.connect({ remote: ip(toAddr), remotePort: 5001 });
  const data = new Uint8Array(bytes).map((_, i) => (i * 31 + 7) & 0xff);
  let sent = 0;
  const got: Uint8Array[] = [];
  let s: TcpConnection | undefined;
  const pump = () => {
    while (sent < bytes) {
      const n = c.write(data.subarray(sent));
      if (n === 0) return;
      sent += n;
    }
    c.close();
  };
  c.events = { onEstablished: pump, onWritable: pump };
  l.onAcceptable = () => {
    s = l.accept();
    if (!s) return;
    const conn = s;
    conn.events = {
      onReadable: () => {
        for (let d = conn.read(1 << 16); d !== null; d = conn.read(1 << 16)) got.push(d);
      },
    };
  };
  sim.runFor(millis(20_000));
  const out = new Uint8Array(got.reduce((n, d) => n + d.length, 0));
  let at = 0;
  for (const d of got) {
    out.set(d, at);
    at += d.length;
  }
  assert.deepEqual(out, data, 'byte-exact');
  return out;
}

test('a router fills in the checksum a sender on an offloading cable left out, for a cable that checks', () => {
  const sim = new Simulation({ seed: 11 });
  const left = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), checksumOffload: true }));
  const right = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), checksumOffload: false }));
  const mk = (name: string, forwarding = false) =>
    sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name, forwarding }));
  const a = mk('a');
  const r = mk('r', true);
  const b = mk('b');
  a.addInterface({ name: 'eth0', device: left.a, addresses: ['10.1.0.2/24'] });
  r.addInterface({ name: 'eth0', device: left.b, addresses: ['10.1.0.1/24'] });
  r.addInterface({ name: 'eth1', device: right.a, addresses: ['10.2.0.1/24'] });
  b.addInterface({ name: 'eth0', device: right.b, addresses: ['10.2.0.2/24'] });
  a.addRoute({ destination: '0.0.0.0/0', gateway: '10.1.0.1' });
  b.addRoute({ destination: '0.0.0.0/0', gateway: '10.2.0.1' });
  sim.runUntilIdle();
  transfer(sim, a, b, '10.2.0.2', 200_000);
  transfer(sim, b, a, '10.1.0.2', 200_000);
  assert.equal(b.tcpStats.badChecksum, 0, 'b checks every checksum; none was missing');
  // (A run the router's GRO merged is forwarded as one packet: its segments count here too.)
  assert.ok(r.stats.ip.forwarded + r.stats.gro.coalesced - r.stats.gro.runs > 100, 'forwarded');
  // UDP too: a datagram from a (no checksum on the offloading cable) reaches b intact.
  const rx = b.udp.open();
  rx.bind(ip('0.0.0.0'), 7000);
  const tx = a.udp.open();
  tx.sendto(new Uint8Array([1, 2, 3]), ip('10.2.0.2'), 7000);
  sim.runFor(millis(100));
  const d = rx.recv();
  assert.ok(d, 'the datagram arrived');
  assert.deepEqual([...d.data], [1, 2, 3]);
  assert.equal(b.stats.udp.badChecksum, 0);
});

test('a direction that corrupts frames does not offload: corrupted segments are caught and resent', () => {
  const sim = new Simulation({ seed: 12 });
  const cable = sim.add(
    new Cable({ clock: sim.clock, rng: sim.rng.fork(), aToB: { corrupt: 0.02 }, checksumOffload: true }),
  );
  assert.equal(cable.a.txChecksumOffload, false, 'a→b corrupts: a computes');
  assert.equal(cable.b.rxChecksumValid, false, 'and b verifies');
  assert.equal(cable.b.txChecksumOffload, true, 'b→a does not corrupt');
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.3.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.3.0.2/24'] });
  sim.runUntilIdle();
  transfer(sim, a, b, '10.3.0.2', 300_000);
  assert.ok(cable.aToB.stats.corrupted > 0, 'frames were corrupted');
  assert.ok(b.tcpStats.badChecksum + b.stats.ip.badChecksum > 0, 'and dropped by a checksum');
});

test('a capture on an offloading cable records frames with the checksums a wire carries', () => {
  const sim = new Simulation({ seed: 13 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const frames: Uint8Array[] = [];
  const writer: CaptureWriter = {
    writePacket: (_t, data) => frames.push(data.slice()),
    interfaceFor: () => 0,
  };
  const cap = new CaptureDevice(cable.a, writer, sim.clock);
  assert.equal(cap.txChecksumOffload, true, 'the capture passes the capability on');
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: cap, addresses: ['10.4.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.4.0.2/24'] });
  sim.runUntilIdle();
  // Enough data for a dozen frames whichever way cwnd grows (super-segments take most of it).
  transfer(sim, a, b, '10.4.0.2', 200_000);
  let tcp = 0;
  let superSegments = 0;
  for (const f of frames) {
    if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0 || f[23] !== 6) continue;
    // TSO: the capture records a super-segment as the device took it (as tcpdump does on Linux).
    if (f.length > 14 + 1500) superSegments++;
    const ihl = (f[14] & 0x0f) * 4;
    const total = (f[16] << 8) | f[17];
    const seg = f.subarray(14 + ihl, 14 + total);
    const src = ((f[26] << 24) | (f[27] << 16) | (f[28] << 8) | f[29]) >>> 0;
    const dst = ((f[30] << 24) | (f[31] << 16) | (f[32] << 8) | f[33]) >>> 0;
    assert.equal(finishChecksum(checksumPartial(seg, pseudoHeaderSumV4(src, dst, 6, seg.length))), 0);
    tcp++;
  }
  assert.ok(tcp > 10, `${tcp} TCP frames checked, both directions`);
  assert.ok(superSegments > 0, `${superSegments} super-segments among them, checksums filled in too`);
});
