/**
 * Seeded TCP soak over the impairment matrix: many duplex transfers through the
 * sockets API on a memory link under the virtual clock, bigger and more of them
 * than `npm test` runs (test/scenarios/tcp-transfer.test.ts). Every run is
 * reproducible from its seed; a failure prints the seed and the command that
 * replays it.
 *
 *   node --import tsx scripts/soak-tcp.ts [--seeds 200] [--from 1] [--max-mib 8] [--seed N]
 *
 * Impairments per seed are drawn from the seed: loss 0–20% (one way) or 0–10%
 * (both ways), Gilbert-Elliott bursts, reordering, duplication, corruption,
 * jitter, narrow bandwidth with a small queue, MTU 576/1500/9000.
 */
import { parseArgs } from 'node:util';
import type { Impairments } from '../src/link/impair.ts';
import { SeededRng } from '../src/rand/rng.ts';
import { millis, seconds } from '../src/time/instant.ts';
import { duplexTransfer, pair, randomBytes, sha256 } from '../test/scenarios/tcp-net.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '200' },
    from: { type: 'string', default: '1' },
    'max-mib': { type: 'string', default: '8' },
    seed: { type: 'string' },
  },
});
const maxBytes = Number(values['max-mib']) * (1 << 20);
const seeds =
  values.seed !== undefined
    ? [Number(values.seed)]
    : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.from) + i);

function impairments(rng: SeededRng, bothWays: boolean): [Impairments, Impairments] {
  const one = (heavy: boolean): Impairments => {
    const i: { -readonly [K in keyof Impairments]: Impairments[K] } = {};
    const p = () => rng.nextFloat();
    if (p() < 0.6) i.loss = (heavy ? 0.2 : 0.1) * p();
    if (p() < 0.2) i.lossBurst = { enter: 0.01 * p(), exit: 0.2 + 0.6 * p() };
    if (p() < 0.3) i.reorder = { probability: 0.1 * p(), extraDelay: millis(1 + rng.below(10)) };
    if (p() < 0.3) i.duplicate = 0.1 * p();
    if (p() < 0.3) i.corrupt = 0.05 * p();
    if (p() < 0.3) i.jitter = millis(rng.below(10));
    if (p() < 0.2) {
      i.bandwidth = 1e6 + rng.below(50e6);
      i.queueLimit = 8192 + rng.below(64 * 1024);
    }
    return i;
  };
  return bothWays ? [one(false), one(false)] : [one(true), {}];
}

let failed = 0;
const t0 = performance.now();
for (const seed of seeds) {
  const rng = new SeededRng(seed);
  const bothWays = rng.below(2) === 0;
  const [aToB, bToA] = impairments(rng, bothWays);
  const mtu = [576, 1500, 1500, 9000][rng.below(4)];
  const heavy = (aToB.loss ?? 0) > 0.05 || (bToA.loss ?? 0) > 0.05 || aToB.lossBurst || bToA.lossBurst;
  const cap = heavy ? Math.min(maxBytes, 1 << 20) : maxBytes;
  const na = rng.below(cap + 1);
  const nb = rng.below(2) === 0 ? 0 : rng.below(cap + 1);
  const desc = `seed ${seed}: ${na} B ⇄ ${nb} B, mtu ${mtu}, a→b ${JSON.stringify(aToB)}, b→a ${JSON.stringify(bToA)}`;
  const w0 = performance.now();
  try {
    const net = pair({ seed, mtu, aToB, bToA });
    const fromA = randomBytes(na, seed * 2 + 1);
    const fromB = randomBytes(nb, seed * 2 + 2);
    const r = await duplexTransfer(net, fromA, fromB, seconds(1800));
    if ((await sha256(r.atB)) !== (await sha256(fromA))) throw new Error('a→b bytes differ');
    if ((await sha256(r.atA)) !== (await sha256(fromB))) throw new Error('b→a bytes differ');
    console.log(
      `ok   ${desc}  (${(r.elapsed / 1e6).toFixed(1)} s virtual, ${((performance.now() - w0) / 1000).toFixed(2)} s wall)`,
    );
  } catch (e) {
    failed++;
    console.log(`FAIL ${desc}: ${(e as Error).message}`);
    console.log(
      `     replay: node --import tsx scripts/soak-tcp.ts --seed ${seed} --max-mib ${values['max-mib']}`,
    );
  }
}
console.log(
  `${seeds.length - failed}/${seeds.length} passed in ${((performance.now() - t0) / 1000).toFixed(1)} s wall`,
);
process.exit(failed > 0 ? 1 : 0);
