/**
 * Every frame on the wire carries right checksums, under impairment, checked by a verifier
 * with its own one's-complement code (test/helpers/wire-verify.ts). First the verifier
 * itself: it sees a flipped bit, a frame changed after transmit, a wrong partial checksum.
 * Then a seeded slice of the matrix (test/scenarios/wire-checksums.ts): IPv4 and IPv6, a pair
 * or through a router, plain links, checksum offload with and without super-segments, a vnet
 * TAP's kernel side, MTUs 576 to 9000, loss, bursts, reordering, duplication, corruption,
 * jitter, narrow links; TCP bulk both ways, zero-window probes, keepalives, FIN and RST, UDP
 * with fragments and port unreachables, large echo requests. The longer campaign:
 * `node --import tsx scripts/soak-checksums.ts`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SimDevice } from '../../src/link/device.ts';
import { Cable } from '../../src/link/memory.ts';
import { PassThroughDevice } from '../../src/link/passthrough.ts';
import { Simulation } from '../../src/link/sim.ts';
import { AF_INET, SOCK_DGRAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import {
  fold16,
  KernelOffloadDevice,
  onesSum,
  VerifyingDevice,
  WireVerifier,
} from '../helpers/wire-verify.ts';
import { describeScenario, drawScenario, runWireScenario } from './wire-checksums.ts';

/** Passes frames on, first calling `touch` on each (which may change it). */
class Touching extends PassThroughDevice<SimDevice> {
  readonly touch: (frame: Uint8Array) => void;
  constructor(inner: SimDevice, touch: (frame: Uint8Array) => void) {
    super(inner);
    this.touch = touch;
  }
  override transmit(frame: Uint8Array, gsoSize?: number): void {
    this.touch(frame);
    super.transmit(frame, gsoSize);
  }
}

/** The 14 + 20 + 8 byte offset of a UDP payload byte in an untagged IPv4 frame. */
const UDP_DATA = 42;
const isUdp = (f: Uint8Array) => f.length > UDP_DATA && f[12] === 8 && f[13] === 0 && f[23] === 17;

/**
 * Two stacks on a plain cable; a's end is `wrap(cable end, verifier)`. a sends UDP datagrams
 * of `sizes` bytes to b (a 3000-byte one is fragmented). Returns the verifier.
 */
async function udpThrough(
  wrap: (end: SimDevice, v: WireVerifier, verifying: (inner: SimDevice) => VerifyingDevice) => SimDevice,
  sizes: number[],
  checksumOffload = false,
): Promise<WireVerifier> {
  const sim = new Simulation({ seed: 3 });
  // A millisecond on the wire: a change made after transmit happens before delivery.
  const delay = millis(1);
  const cable = sim.add(
    new Cable({ clock: sim.clock, rng: sim.rng.fork(), checksumOffload, aToB: { delay }, bToA: { delay } }),
  );
  const v = new WireVerifier('self-test');
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  const far = new VerifyingDevice(cable.b, v);
  // a's verifier, paired with b's: each re-checks at delivery what the other sent.
  const verifying = (inner: SimDevice) => {
    const near = new VerifyingDevice(inner, v);
    VerifyingDevice.link(near, far);
    return near;
  };
  a.addInterface({ name: 'eth0', device: wrap(cable.a, v, verifying), addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: far, addresses: ['10.0.0.2/24'] });
  sim.runFor(seconds(1));
  await sim.run(async () => {
    const rx = b.socket(AF_INET, SOCK_DGRAM);
    await rx.bind(['0.0.0.0', 9000]);
    const tx = a.socket(AF_INET, SOCK_DGRAM);
    for (const n of sizes) await tx.sendto(new Uint8Array(n).fill(0x5a), ['10.0.0.2', 9000]);
    await sim.delay(seconds(1));
  });
  return v;
}

describe('the wire verifier', () => {
  it('sums as RFC 1071 §3 works it out', () => {
    // RFC 1071 §3's example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (folded).
    const b = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    assert.equal(fold16(onesSum(b, 0, b.length)), 0xddf2);
    // An odd length pads with a zero byte.
    assert.equal(fold16(onesSum(Uint8Array.of(0xab), 0, 1)), 0xab00);
  });

  it('passes what the stack sends, fragments reassembled', async () => {
    const v = await udpThrough((end, _v, verifying) => verifying(end), [10, 1400, 3000]);
    assert.deepEqual(v.errors, []);
    assert.equal(v.counts.reassembled, 1);
    assert.ok(v.counts.udp >= 3);
  });

  it('reports a flipped bit, in a whole datagram and in a fragment', async () => {
    for (const size of [100, 3000]) {
      let n = 0;
      const v = await udpThrough(
        (end, _v, verifying) =>
          new Touching(verifying(end), (f) => {
            if (isUdp(f) && n++ === 0) f[f.length - 3] ^= 0x04;
          }),
        [size],
      );
      assert.equal(v.errors.length, 1, v.errors.join('\n'));
      assert.match(v.errors[0], /protocol 17 checksum .* is wrong/);
    }
  });

  it('reports a frame whose bytes change after transmit (a buffer reused while the link holds it)', async () => {
    const v = await udpThrough(
      (end, _v, verifying) =>
        verifying(
          new Touching(end, (f) => {
            if (isUdp(f)) queueMicrotask(() => (f[UDP_DATA] ^= 1));
          }),
        ),
      [200],
    );
    assert.ok(
      v.errors.some((e) => /changed between transmit and delivery/.test(e)),
      v.errors.join('\n'),
    );
  });

  it('emulates the kernel side of a vnet TAP: partial checksums completed, a wrong one reported', async () => {
    let kernel: KernelOffloadDevice | undefined;
    const ok = await udpThrough(
      (end, v, verifying) => {
        kernel = new KernelOffloadDevice(verifying(end), v);
        return kernel;
      },
      [300],
    );
    assert.deepEqual(ok.errors, []);
    assert.ok(kernel!.completed >= 1);
    // A stack that wrote a checksum it meant to leave out would go unnoticed on a real TAP
    // (the kernel overwrites it); one whose partial sum is off is caught here.
    const bad = await udpThrough(
      (end, v, verifying) =>
        new KernelOffloadDevice(
          new Touching(verifying(end), (f) => {
            if (isUdp(f)) f[UDP_DATA + 1] ^= 0x80;
          }),
          v,
        ),
      [300],
    );
    assert.equal(bad.errors.length, 1, bad.errors.join('\n'));
  });
});

describe('every frame on the wire has right checksums (seeded slice of the matrix)', () => {
  const SEEDS = 24;
  it(`${SEEDS} seeds: no bad checksum, data byte-exact, every path walked`, async () => {
    const total: Record<string, number> = {};
    let kernelSegmented = 0;
    let kernelCompleted = 0;
    const kinds = new Set<string>();
    for (let seed = 1; seed <= SEEDS; seed++) {
      const o = await runWireScenario(drawScenario(seed));
      const what = describeScenario(o.scenario);
      assert.deepEqual(o.verifier.errors, [], what);
      assert.equal(o.bulkExact, true, what);
      for (const [name, r] of Object.entries(o.tasks)) assert.equal(r, 'ok', `${name}: ${what}`);
      for (const [k, n] of Object.entries(o.verifier.counts)) total[k] = (total[k] ?? 0) + n;
      kernelSegmented += o.kernelSegmented;
      kernelCompleted += o.kernelCompleted;
      for (const c of o.scenario.cables) kinds.add(c.kind);
    }
    // The slice walks what it claims to: each kind of link, both families' ICMP, fragments,
    // ICMP errors, window probes, RST and FIN, super-segments and their segmentation.
    assert.deepEqual([...kinds].sort(), ['offload', 'offload-nogso', 'plain', 'vnet']);
    for (const k of ['tcp', 'udp', 'icmp', 'icmp6', 'reassembled', 'icmpErrors', 'zeroWindow', 'rst', 'fin'])
      assert.ok(total[k] > 0, `${k}: ${JSON.stringify(total)}`);
    assert.ok(total.superSegments > 0 || kernelSegmented > 0, JSON.stringify(total));
    assert.ok(
      kernelCompleted > 0 && kernelSegmented > 0,
      `kernel side ${kernelCompleted}/${kernelSegmented}`,
    );
  });
});
