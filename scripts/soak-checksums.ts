/**
 * The wire-checksum campaign: many seeds of test/scenarios/wire-checksums.ts, larger
 * transfers and (with --heavy) heavier loss than the slice npm test runs
 * (test/scenarios/wire-checksums.test.ts). Every frame on every wire is checked by the
 * independent verifier of test/helpers/wire-verify.ts; a seed fails on any bad checksum,
 * any frame changed between transmit and delivery, data that is not byte-exact, or a
 * traffic task that did not finish. A failure prints the scenario and the command that
 * replays it. Virtual time only: every run is reproducible from its seed.
 *
 *   node --import tsx scripts/soak-checksums.ts [--seeds 500] [--from 1] [--bulk-kib 512] [--heavy] [--seed N]
 */
import { parseArgs } from 'node:util';
import { describeScenario, drawScenario, runWireScenario } from '../test/scenarios/wire-checksums.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '500' },
    from: { type: 'string', default: '1' },
    'bulk-kib': { type: 'string', default: '512' },
    heavy: { type: 'boolean', default: false },
    seed: { type: 'string' },
  },
});
const bulk = Number(values['bulk-kib']) * 1024;
const seeds =
  values.seed !== undefined
    ? [Number(values.seed)]
    : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.from) + i);

let failed = 0;
const total: Record<string, number> = {};
const t0 = performance.now();
for (const seed of seeds) {
  const o = await runWireScenario(drawScenario(seed, bulk, values.heavy));
  for (const [k, n] of Object.entries(o.verifier.counts)) total[k] = (total[k] ?? 0) + n;
  total.kernelSegmented = (total.kernelSegmented ?? 0) + o.kernelSegmented;
  const unfinished = Object.entries(o.tasks).filter(([, r]) => r !== 'ok');
  if (o.verifier.errors.length === 0 && o.bulkExact === true && unfinished.length === 0) continue;
  failed++;
  console.log(`FAIL ${describeScenario(o.scenario)}`);
  if (o.bulkExact !== true)
    console.log(`  bulk transfer ${o.bulkExact === false ? 'differs' : 'did not finish'}`);
  for (const [name, r] of unfinished) console.log(`  ${name}: ${r}`);
  for (const e of o.verifier.errors.slice(0, 5)) console.log(`  ${e}`);
  console.log(
    `  replay: node --import tsx scripts/soak-checksums.ts --seed ${seed} --bulk-kib ${values['bulk-kib']}${values.heavy ? ' --heavy' : ''}`,
  );
}
const secs = ((performance.now() - t0) / 1000).toFixed(1);
console.log(
  `${seeds.length - failed}/${seeds.length} seeds clean in ${secs} s; frames checked: ${JSON.stringify(total)}`,
);
process.exitCode = failed > 0 ? 1 : 0;
