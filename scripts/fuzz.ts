/**
 * Long fuzzing campaigns over a live memory network (issue #17; the harness is test/fuzz/).
 *
 *   node --import tsx scripts/fuzz.ts --frames 10000000 --seed 1 [--round 250000] \
 *        [--out fuzz-out] [--seeds 4]
 *   node --import tsx scripts/fuzz.ts --replay fuzz-out/finding-1-123456.json
 *   node --import tsx scripts/fuzz.ts --decoders 200000 --seed 1
 *
 * Prints one JSON line per round (frames done, frames/s, virtual seconds to get back to the
 * baseline census, retained heap after full collections) and a summary at the end, also
 * written to <out>/summary-<seed>.json. Every finding (an exception escaping the stack, a
 * census not back to its baseline, a connection that no longer moves data byte-exact) is
 * written to <out>/finding-<seed>-<frame>.json: the seed, the frame index and the batch's
 * frames (hex, with the input path of each). `--replay` injects those frames into a fresh
 * network of that seed; when they do not fail on their own it re-runs the campaign of that
 * seed up to the finding (campaigns are deterministic).
 *
 * `--seeds K` runs seeds S, S+1, ... S+K-1 in sequence, `--frames` each. `--profile freebsd`
 * gives every stack FreeBSD's TCP behaviour (src/tcp/profile.ts) instead of Linux's.
 *
 * `--decoders N` runs the property targets over the wire decoders and the packetdrill parser
 * (test/fuzz/decoders.ts: mutated recorded frames, random bytes, mutated real scripts) N
 * times each with fast-check, and prints the counterexample of any failure.
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import type { TcpProfileName } from '../src/tcp/profile.ts';
import {
  BATCH,
  defaultCorpus,
  type Finding,
  type InjectedFrame,
  replayFrames,
  runCampaign,
} from '../test/fuzz/campaign.ts';
import { decoderProperties, packetdrillScripts } from '../test/fuzz/decoders-props.ts';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    seeds: { type: 'string', default: '1' },
    round: { type: 'string', default: '250000' },
    out: { type: 'string', default: 'fuzz-out' },
    replay: { type: 'string' },
    decoders: { type: 'string' },
    profile: { type: 'string', default: 'linux' },
  },
});

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
/** Retained heap (JS heap + ArrayBuffers) after full collections, in bytes. */
function retained(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

interface FindingFile {
  seed: number;
  frameIndex: number;
  kind: Finding['kind'];
  error: string;
  frames: { point: InjectedFrame['point']; hex: string }[];
}

async function replay(file: string): Promise<number> {
  const f = JSON.parse(readFileSync(file, 'utf8')) as FindingFile;
  const frames = f.frames.map((x) => ({ point: x.point, frame: unhex(x.hex) }));
  console.log(`replaying ${frames.length} frames of seed ${f.seed} at frame ${f.frameIndex} (${f.kind})`);
  console.log(`recorded: ${f.error.split('\n')[0]}`);
  const alone = await replayFrames(f.seed, frames);
  if (alone !== undefined) {
    console.log(`reproduced by the frames alone:\n${alone}`);
    return 1;
  }
  console.log('the frames alone raise nothing; re-running the campaign up to the finding');
  const r = await runCampaign({
    seed: f.seed,
    frames: f.frameIndex + BATCH * 2,
    roundFrames: f.frameIndex + BATCH * 2,
  });
  for (const x of r.findings) console.log(`${x.kind} at frame ${x.frameIndex}: ${x.error}`);
  return r.findings.length > 0 ? 1 : 0;
}

function profile(): TcpProfileName {
  const p = values.profile;
  if (p !== 'linux' && p !== 'freebsd') throw new Error(`--profile is linux or freebsd, not ${p}`);
  return p;
}

async function campaign(): Promise<number> {
  const frames = Number(values.frames);
  const seed0 = Number(values.seed);
  const seeds = Number(values.seeds);
  const roundFrames = Number(values.round);
  if (
    !Number.isInteger(frames) ||
    frames <= 0 ||
    !Number.isInteger(seed0) ||
    !Number.isInteger(seeds) ||
    seeds <= 0
  )
    throw new Error('--frames, --seed and --seeds take positive integers');
  const out = values.out;
  mkdirSync(out, { recursive: true });
  let failures = 0;
  for (let seed = seed0; seed < seed0 + seeds; seed++) {
    const t0 = performance.now();
    let last = t0;
    let lastFrames = 0;
    const heap: number[] = [];
    const report = await runCampaign({
      seed,
      frames,
      roundFrames,
      profile: profile(),
      onFinding: (f) => {
        const file = join(out, `finding-${f.seed}-${f.frameIndex}.json`);
        const body: FindingFile = {
          ...f,
          frames: f.frames.map((x) => ({ point: x.point, hex: hex(x.frame) })),
        };
        writeFileSync(file, `${JSON.stringify(body, null, 1)}\n`);
        console.log(JSON.stringify({ finding: f.kind, file, error: f.error.split('\n')[0] }));
      },
      onRound: (r) => {
        const now = performance.now();
        const h = retained();
        heap.push(h);
        console.log(
          JSON.stringify({
            seed,
            round: r.round,
            frames: r.framesDone,
            framesPerSec: Math.round(((r.framesDone - lastFrames) * 1000) / (now - last)),
            settleSeconds: r.settleSeconds,
            heapMiB: +(h / 2 ** 20).toFixed(2),
            conns: r.census.conns,
            neighbors: r.census.neighbors,
            reassemblyBytes: r.census.reassemblyBytes,
            timers: r.census.timers,
          }),
        );
        last = performance.now();
        lastFrames = r.framesDone;
      },
    });
    const secs = (performance.now() - t0) / 1000;
    // Flat heap: the last rounds against the first (after warm-up), in MiB.
    const first = heap.length > 1 ? heap[1] : heap[0];
    const summary = {
      seed,
      frames: report.frames,
      seconds: Math.round(secs),
      framesPerSec: Math.round(report.frames / secs),
      escapes: report.escapes,
      findings: report.findings.length,
      rounds: report.rounds,
      maxSettleSeconds: report.maxSettleSeconds,
      heapMiB: {
        first: +(first / 2 ** 20).toFixed(2),
        last: +(heap[heap.length - 1] / 2 ** 20).toFixed(2),
        max: +(Math.max(...heap) / 2 ** 20).toFixed(2),
      },
      byKind: report.byKind,
      byPoint: report.byPoint,
      counters: report.counters,
    };
    writeFileSync(join(out, `summary-${seed}.json`), `${JSON.stringify(summary, null, 1)}\n`);
    console.log(JSON.stringify({ summary: { ...summary, counters: undefined } }));
    failures += report.findings.length;
  }
  return failures > 0 ? 1 : 0;
}

process.on('unhandledRejection', (e) => {
  console.error('unhandled rejection (an escape):', e);
  process.exitCode = 1;
});

async function decoders(runs: number): Promise<number> {
  const frames = (await defaultCorpus()).map((c) => c.frame);
  const p = decoderProperties(frames, packetdrillScripts());
  let failed = 0;
  for (const [name, prop] of Object.entries(p)) {
    const t0 = performance.now();
    const r = fc.check(prop as fc.IProperty<unknown[]>, { numRuns: runs, seed: Number(values.seed) });
    const secs = (performance.now() - t0) / 1000;
    console.log(
      JSON.stringify({ target: name, runs: r.numRuns, seconds: +secs.toFixed(1), failed: r.failed }),
    );
    if (r.failed) {
      failed++;
      console.log(fc.defaultReportMessage(r));
    }
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode =
  values.replay !== undefined
    ? await replay(values.replay)
    : values.decoders !== undefined
      ? await decoders(Number(values.decoders))
      : await campaign();
