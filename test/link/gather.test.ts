/**
 * Gather on transmit (Device.txGather): a TCP super-segment's payload stays in the sender's
 * shared send ring (ByteRing.share) and the device sends it by reference after the frame's
 * headers (as the TAP's writer thread does). The bytes must stay put until the device has
 * sent them, however late, and any frame that meets something other than the gathering
 * device gets its payload copied in first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Device } from '../../src/link/device.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import type { Instant } from '../../src/time/instant.ts';
import { millis } from '../../src/time/instant.ts';
import { parseIp } from '../../src/wire/address.ts';
import { deferPayload, markSuperSegment, segmentTcp, takePayload } from '../../src/wire/gso.ts';
import { emitIpv4 } from '../../src/wire/ipv4.ts';
import { emitTcp, TCP_ACK } from '../../src/wire/tcp.ts';

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A gathering device over a cable end: takes super-segments' payloads by reference and sends
 * them only at its next poll (after the stack and its application have run again, as the
 * TAP's writer thread writes them later), assembling the frame then.
 */
class LateGatherDevice implements Device {
  readonly txGather = true;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  gathered = 0;
  completed = 0;
  notShared = 0;
  readonly #held: { frame: Uint8Array; payload: Uint8Array | null; gso?: number }[] = [];
  readonly inner: Device;
  readonly #now: () => Instant;
  constructor(inner: Device, now: () => Instant) {
    this.inner = inner;
    this.#now = now;
    inner.onReceive = (f) => this.onReceive?.(f);
  }
  get name() {
    return this.inner.name;
  }
  get linkType() {
    return this.inner.linkType;
  }
  get mtu() {
    return this.inner.mtu;
  }
  get txChecksumOffload() {
    return this.inner.txChecksumOffload;
  }
  get rxChecksumValid() {
    return this.inner.rxChecksumValid;
  }
  get gsoMaxSize() {
    return this.inner.gsoMaxSize;
  }
  transmit(frame: Uint8Array, gsoSize?: number): void {
    // As the TAP: a frame with its gso size may be taken by reference; any other is read now
    // (copied, as into the TAP writer's ring), completed first.
    const payload = gsoSize === undefined ? null : takePayload(frame);
    if (payload !== null) {
      this.gathered++;
      if (!(payload.buffer instanceof SharedArrayBuffer)) this.notShared++;
      this.#held.push({ frame, payload, gso: gsoSize });
      return;
    }
    const late = gsoSize === undefined ? takePayload(frame) : null;
    if (late !== null) {
      // Deferred all the same: a super-segment that fits the MTU (IP passes it on plain).
      // The TAP completes it with fillPayload; taken here to count it, it is copied in alike.
      this.completed++;
      frame.set(late, frame.length - late.length);
    }
    this.#held.push({ frame: frame.slice(), payload: null, gso: gsoSize });
  }
  nextDeadline(): Instant | undefined {
    return this.#held.length > 0 ? this.#now() : undefined;
  }
  poll(): void {
    for (const h of this.#held.splice(0)) {
      // What the writer thread writes: the headers, then the payload from the send ring now.
      const f = h.frame.slice();
      if (h.payload !== null) f.set(h.payload, f.length - h.payload.length);
      if (h.gso === undefined) this.inner.transmit(f);
      else {
        markSuperSegment(f, h.gso);
        this.inner.transmit(f, h.gso);
      }
    }
  }
}

function transfer(sndBuf: number | undefined, bytes: number, maxSeg?: number, rcvBuf?: number) {
  const sim = new Simulation({ seed: 7 });
  const cable = sim.add(
    new Cable({
      clock: sim.clock,
      rng: sim.rng.fork(),
      aToB: { delay: millis(1) },
      bToA: { delay: millis(1) },
    }),
  );
  const dev = sim.add(new LateGatherDevice(cable.a, () => sim.clock.now()));
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: dev, addresses: ['10.6.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.6.0.2/24'] });
  sim.runUntilIdle();
  const l = b.tcp.listen({
    port: 5001,
    backlog: 1,
    ...(rcvBuf === undefined ? {} : { options: { rcvBuf } }),
  });
  const c = a.tcp.connect({
    remote: parseIp('10.6.0.2')!,
    remotePort: 5001,
    ...(maxSeg === undefined ? {} : { options: { maxSeg } }),
  });
  if (sndBuf !== undefined) c.setOptions({ sndBuf });
  const data = pattern(bytes, 99);
  const out = new Uint8Array(bytes);
  let sent = 0;
  let got = 0;
  let eof = false;
  // Small writes: the ring is refilled as soon as ACKs free room, while super-segments sent
  // from it wait in the device.
  const pump = () => {
    while (sent < bytes) {
      const n = c.write(data.subarray(sent, Math.min(bytes, sent + 3000)));
      if (n === 0) return;
      sent += n;
    }
    c.close();
  };
  c.events = { onEstablished: pump, onWritable: pump };
  l.onAcceptable = () => {
    const s = l.accept();
    if (!s) return;
    const drain = () => {
      for (let d = s.read(1 << 16); d !== null; d = s.read(1 << 16)) {
        out.set(d.subarray(0, Math.min(d.length, bytes - got)), got);
        got += d.length;
      }
      if (s.eof) eof = true;
    };
    s.events = { onReadable: drain, onEnd: drain };
  };
  for (let i = 0; i < 600 && !eof; i++) sim.runFor(millis(100));
  assert.ok(eof, 'the transfer finished');
  assert.equal(got, bytes);
  assert.ok(
    out.every((v, i) => v === data[i]),
    'byte-exact',
  );
  return { dev, a };
}

test('super-segments leave by reference from the shared send ring, and arrive byte-exact though sent late', () => {
  const { dev, a } = transfer(undefined, 6 << 20);
  assert.ok(dev.gathered > 50, `super-segments gathered: ${dev.gathered}`);
  assert.equal(dev.notShared, 0, 'every gathered payload lies in a SharedArrayBuffer');
  assert.equal(a.tcp.stats.retransmits, 0);
});

test('a super-segment that fits the MTU reaches the device without its gso size, complete', () => {
  // TCP_MAXSEG 400 and a receiver's window of 1200 bytes: super-segments of two or three
  // segments, which fit a 1500-byte MTU, so IP hands them over as plain frames, their payloads
  // still deferred: the device must complete them before reading them.
  const { dev } = transfer(undefined, 256 << 10, 400, 1200);
  assert.ok(dev.completed > 10, `deferred super-segments that fit the MTU: ${dev.completed}`);
});

test('a send ring too small to be shared sends its super-segments copied, not gathered', () => {
  // SO_SNDBUF 16 KiB: below ByteRing.share's 64 KiB, so the ring stays an ArrayBuffer.
  const { dev } = transfer(16 * 1024, 1 << 20);
  assert.equal(dev.gathered, 0);
});

/** An IPv4 + TCP super-segment frame (14 bytes of link room) with room for `n` payload bytes, payload not written. */
function headersOnly(n: number): { frame: Uint8Array; at: number } {
  const frame = new Uint8Array(14 + 20 + 20 + n);
  frame.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00]);
  const repr = {
    dscp: 0,
    ecn: 0,
    identification: 1,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol: 6,
    src: 0x0a000001,
    dst: 0x0a000002,
    options: new Uint8Array(0),
    payloadLength: 20 + n,
  };
  emitIpv4(repr, frame, 14);
  const tcp = {
    srcPort: 1,
    dstPort: 2,
    seq: 100,
    ack: 1,
    flags: TCP_ACK,
    window: 100,
    urgentPointer: 0,
    options: {},
  };
  emitTcp(tcp, new Uint8Array(0), frame, undefined, 34);
  return { frame, at: 54 };
}

test('a deferred payload is filled in before segmentTcp reads the frame, and is taken only once', () => {
  const payload = new Uint8Array(new SharedArrayBuffer(4000)).subarray(1000, 4000);
  payload.set(pattern(3000, 5));
  const { frame, at } = headersOnly(3000);
  deferPayload(frame, at, payload);
  const segs = segmentTcp(frame, 14, 1000, true);
  assert.ok(segs !== null);
  assert.equal(segs.length, 3);
  for (let i = 0; i < 3; i++)
    assert.deepEqual(segs[i].subarray(54), payload.subarray(i * 1000, (i + 1) * 1000));
  // Filled in already: a device no longer finds it to take.
  assert.equal(takePayload(frame), null);
  const g = headersOnly(3000);
  deferPayload(g.frame, g.at, payload);
  assert.equal(takePayload(new Uint8Array(10)), null, 'another frame does not take it');
  assert.equal(takePayload(g.frame.subarray(14)), payload, 'a view of the frame does');
  assert.equal(takePayload(g.frame), null, 'once');
});
