/**
 * Whole-stack TCP transfers through the sockets API across the impairment matrix:
 * two stacks on a memory cable (or two subnets and a router), virtual time, every
 * byte compared by SHA-256. Sizes are drawn from each case's seed (0 bytes up to
 * 8 MiB); every case must finish within a bounded virtual time and is reproducible
 * from its seed, which every failure message prints.
 *
 * Reproduce one case: SOCKSTACK_SEED=<seed> npm test -- tcp-transfer
 * (the seed replaces every case's own; sizes and impairments follow from it).
 * The long seeded soak is scripts/soak-tcp.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Impairments } from '../../src/link/impair.ts';
import { SeededRng } from '../../src/rand/rng.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { duplexTransfer, pair, randomBytes, routed, sha256 } from './tcp-net.ts';

const OVERRIDE = process.env.SOCKSTACK_SEED === undefined ? undefined : Number(process.env.SOCKSTACK_SEED);

/** A size from the seed: 0, tiny, about one segment, up to 64 KiB, up to `max`. */
export function pickSize(rng: SeededRng, max: number): number {
  const k = rng.below(6);
  if (k === 0) return 0;
  if (k === 1) return 1 + rng.below(16);
  if (k === 2) return 1 + rng.below(3000);
  if (k === 3) return rng.below(65536);
  return Math.min(max, 65536 + rng.below(Math.max(1, max - 65536)));
}

interface Case {
  name: string;
  seed: number;
  /** Largest transfer per direction. */
  max: number;
  /** Fixed sizes [a→b, b→a] instead of seeded ones. */
  sizes?: [number, number];
  aToB?: Impairments;
  bToA?: Impairments;
  mtu?: number;
  /** Virtual-time bound for the whole transfer. */
  bound: number;
  /** Extra checks on the stacks afterwards. */
  check?: (net: ReturnType<typeof pair>) => void;
}

/** The case's sizes: fixed, or from its seed (one direction at least a quarter of `max`). */
function sizesOf(c: Case): [number, number] {
  if (c.sizes) return c.sizes;
  const rng = new SeededRng(OVERRIDE ?? c.seed);
  const big = Math.floor(c.max / 4) + rng.below(Math.max(1, c.max - Math.floor(c.max / 4)));
  const other = pickSize(rng, c.max);
  return rng.below(2) === 0 ? [big, other] : [other, big];
}

async function runCase(c: Case): Promise<void> {
  const seed = OVERRIDE ?? c.seed;
  const [na, nb] = sizesOf(c);
  const net = pair({ seed, mtu: c.mtu, aToB: c.aToB, bToA: c.bToA });
  const fromA = randomBytes(na, seed * 2 + 1);
  const fromB = randomBytes(nb, seed * 2 + 2);
  const what = `${c.name} [seed ${seed}, ${na} B a→b, ${nb} B b→a]`;
  let r: Awaited<ReturnType<typeof duplexTransfer>>;
  try {
    r = await duplexTransfer(net, fromA, fromB, c.bound);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
  }
  assert.equal(r.atB.length, na, `${what}: length at b`);
  assert.equal(r.atA.length, nb, `${what}: length at a`);
  assert.equal(await sha256(r.atB), await sha256(fromA), `${what}: a→b bytes differ`);
  assert.equal(await sha256(r.atA), await sha256(fromB), `${what}: b→a bytes differ`);
  assert.ok(r.elapsed <= c.bound, `${what}: took ${r.elapsed / 1e6} s virtual`);
  c.check?.(net);
}

const MiB = 1 << 20;

const CASES: Case[] = [
  {
    name: 'clean link, 8 MiB each way',
    seed: 101,
    max: 8 * MiB,
    sizes: [8 * MiB, 8 * MiB],
    bound: seconds(10),
  },
  { name: 'clean link, empty both ways', seed: 102, max: 0, sizes: [0, 0], bound: seconds(1) },
  { name: 'clean link, seeded sizes', seed: 103, max: 4 * MiB, bound: seconds(10) },
  {
    name: '5% loss both ways',
    seed: 104,
    max: MiB,
    aToB: { loss: 0.05 },
    bToA: { loss: 0.05 },
    bound: seconds(120),
    check: (net) => assert.ok(net.a.tcp.stats.retransmits + net.b.tcp.stats.retransmits > 0),
  },
  {
    name: '20% loss on the data path (ACKs clean)',
    seed: 105,
    max: 512 * 1024,
    sizes: [512 * 1024, 0],
    aToB: { loss: 0.2 },
    bound: seconds(120),
  },
  {
    name: '10% loss both ways',
    seed: 106,
    max: 256 * 1024,
    aToB: { loss: 0.1 },
    bToA: { loss: 0.1 },
    bound: seconds(300),
  },
  {
    name: 'burst loss (Gilbert-Elliott, mean burst 3)',
    seed: 107,
    max: MiB,
    aToB: { lossBurst: { enter: 0.01, exit: 0.33 } },
    bToA: { lossBurst: { enter: 0.01, exit: 0.33 } },
    bound: seconds(120),
  },
  {
    name: 'reordering (10% held back 5 ms)',
    seed: 108,
    max: 2 * MiB,
    aToB: { reorder: { probability: 0.1, extraDelay: millis(5) } },
    bToA: { reorder: { probability: 0.1, extraDelay: millis(5) } },
    bound: seconds(60),
  },
  {
    name: 'duplication (10%)',
    seed: 109,
    max: 2 * MiB,
    aToB: { duplicate: 0.1 },
    bToA: { duplicate: 0.1 },
    bound: seconds(60),
  },
  {
    name: 'corruption (5% of frames get a bit flipped)',
    seed: 110,
    max: MiB,
    sizes: [MiB, 300_000],
    aToB: { corrupt: 0.05 },
    bToA: { corrupt: 0.05 },
    bound: seconds(120),
    check: (net) => {
      const drops =
        net.a.tcpStats.badChecksum +
        net.b.tcpStats.badChecksum +
        net.a.stats.ip.badChecksum +
        net.b.stats.ip.badChecksum;
      assert.ok(drops > 0, 'corrupted frames were caught by a checksum');
    },
  },
  {
    name: 'jitter (5 ms ± 10 ms)',
    seed: 111,
    max: MiB,
    aToB: { delay: millis(5), jitter: millis(10) },
    bToA: { delay: millis(5), jitter: millis(10) },
    bound: seconds(120),
  },
  {
    name: 'narrow bandwidth (2 Mbit/s) and a 16 KiB drop-tail queue',
    seed: 112,
    max: MiB,
    sizes: [MiB, 200_000],
    aToB: { bandwidth: 2e6, queueLimit: 16384 },
    bToA: { bandwidth: 2e6, queueLimit: 16384 },
    bound: seconds(60),
    check: (net) => assert.ok(net.cable.aToB.stats.dropped.queue > 0, 'the queue overflowed'),
  },
  { name: 'small MTU (576) on the link', seed: 113, max: 2 * MiB, mtu: 576, bound: seconds(30) },
  {
    name: 'everything at once (2% loss, bursts, reorder, dup, corrupt, jitter)',
    seed: 114,
    max: MiB,
    aToB: {
      loss: 0.02,
      duplicate: 0.02,
      reorder: { probability: 0.05, extraDelay: millis(3) },
      corrupt: 0.01,
      jitter: millis(2),
    },
    bToA: {
      lossBurst: { enter: 0.005, exit: 0.5, badLoss: 1 },
      duplicate: 0.02,
      corrupt: 0.01,
      jitter: millis(2),
    },
    bound: seconds(300),
  },
];

describe('TCP transfers through the sockets API across impairments', () => {
  for (const c of CASES) {
    const [na, nb] = sizesOf(c);
    it(`${c.name}: ${na} B ⇄ ${nb} B (seed ${OVERRIDE ?? c.seed})`, () => runCase(c));
  }

  // With ACKs lost too, retransmissions of data the peer already has draw duplicate ACKs; their
  // TSecr must come from a refreshed TS.Recent (RFC 7323 §4.3), or the sender samples RTTs that
  // include its backed-off timeouts and the RTO sticks at its ceiling (fixed in 67117a6).
  it('20% loss both ways (256 KiB a→b, 64 KiB b→a)', () =>
    runCase({
      name: '20% loss both ways',
      seed: 5,
      max: 256 * 1024,
      sizes: [256 * 1024, 64 * 1024],
      aToB: { loss: 0.2 },
      bToA: { loss: 0.2 },
      bound: seconds(300),
    }));

  it('more seeded sizes on a lossy, reordering link (3 seeds)', async () => {
    for (const seed of [201, 202, 203]) {
      await runCase({
        name: 'mixed',
        seed,
        max: 512 * 1024,
        aToB: { loss: 0.03, reorder: { probability: 0.05, extraDelay: millis(2) } },
        bToA: { loss: 0.03 },
        bound: seconds(120),
      });
    }
  });

  it('across a router into a 576-byte-MTU subnet: MSS option keeps segments small', async () => {
    const seed = OVERRIDE ?? 301;
    const net = routed({ seed, mtuB: 576 });
    const fromA = randomBytes(MiB, seed);
    const fromB = randomBytes(100_000, seed + 1);
    const r = await duplexTransfer(net, fromA, fromB, seconds(30));
    assert.equal(await sha256(r.atB), await sha256(fromA), `seed ${seed}`);
    assert.equal(await sha256(r.atA), await sha256(fromB), `seed ${seed}`);
    assert.equal(net.router.stats.ip.fragCreates, 0, `seed ${seed}: router fragmented`);
  });

  it('through a 576-byte bottleneck both ends cannot see: path MTU discovery (DF + frag-needed)', async () => {
    const seed = OVERRIDE ?? 302;
    const net = routed({ seed, routerMtuB: 576 });
    const fromA = randomBytes(MiB, seed);
    const fromB = randomBytes(100_000, seed + 1);
    const r = await duplexTransfer(net, fromA, fromB, seconds(30));
    assert.equal(await sha256(r.atB), await sha256(fromA), `seed ${seed}`);
    assert.equal(await sha256(r.atA), await sha256(fromB), `seed ${seed}`);
    assert.ok(net.router.stats.ip.fragNeeded > 0, `seed ${seed}: no frag-needed sent`);
    assert.ok(net.a.tcp.stats.pmtuUpdates > 0, `seed ${seed}: a never lowered its MSS`);
    assert.equal(net.router.stats.ip.fragCreates, 0, `seed ${seed}: router fragmented a DF datagram`);
  });
});
