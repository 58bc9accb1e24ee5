/**
 * A fuzzing campaign (issue #17): mutated corpus frames fed through every input path of a
 * live network (network.ts), checked after each round.
 *
 * Per batch (16 frames, then 1 ms of virtual time): pick a corpus frame, a mutation
 * (mutate.ts) and an input path; aim the frame at that interface (its MAC, mostly), and
 * sometimes retarget it at a live flow (the addresses and ports of a live connection,
 * a listener or a UDP socket, with the corpus frame's sequence numbers: a blind attacker).
 * An exception escaping the stack is a finding: the batch's frames, the seed and the
 * frame index are kept as a reproducer and the network is rebuilt.
 *
 * After each round of `roundFrames` frames: the UDP queues are read, the network runs
 * (virtual time, at most 15 minutes) until the census is back to its baseline, and then
 * both live connections and two new ones must move data byte-exact (`checkLiveness`).
 * Everything is deterministic for a seed.
 */

import { SeededRng } from '../../src/rand/rng.ts';
import type { TcpProfileName } from '../../src/tcp/profile.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { type CorpusFrame, captureCorpus } from './corpus.ts';
import { fixChecksums, type MutationKind, mutate, pickKind } from './mutate.ts';
import {
  buildNetwork,
  type Census,
  census,
  censusDiff,
  checkLiveness,
  drainUdp,
  type FuzzNet,
  type InputPoint,
  POINT_NAMES,
  type Services,
  startServices,
} from './network.ts';

export const BATCH = 16;

export interface InjectedFrame {
  point: InputPoint['name'];
  frame: Uint8Array;
}

/** What a reproducer holds: enough to replay the batch alone, or the campaign up to it. */
export interface Finding {
  seed: number;
  /** Index of the batch's first frame in the campaign. */
  frameIndex: number;
  kind: 'escape' | 'baseline' | 'liveness';
  error: string;
  frames: InjectedFrame[];
}

export interface CampaignOptions {
  seed: number;
  frames: number;
  /** Frames between checks (settle, census, liveness). Default 100 000. */
  roundFrames?: number;
  corpus?: readonly CorpusFrame[];
  /** Called for every finding (the script writes a reproducer). */
  onFinding?: (f: Finding) => void;
  /** Called after each round's checks (figures for the log; the script measures the heap here). */
  onRound?: (r: RoundReport) => void;
  /** Called on every network the campaign builds (tests plant a bug here to see it found). */
  tamper?: (net: FuzzNet) => void;
  /** The TCP profile of every stack (default 'linux'). */
  profile?: TcpProfileName;
}

export interface RoundReport {
  round: number;
  framesDone: number;
  /** Virtual seconds the network took to come back to its baseline census. */
  settleSeconds: number;
  census: Census;
  baseline: Census;
}

export interface CampaignReport {
  seed: number;
  frames: number;
  escapes: number;
  findings: Finding[];
  rounds: number;
  byKind: Record<string, number>;
  byPoint: Record<string, number>;
  /** Largest settle time of any round (virtual seconds). */
  maxSettleSeconds: number;
  /** Stack counters summed over the three stacks at the end (drops by reason). */
  counters: Record<string, number>;
}

let cachedCorpus: Promise<CorpusFrame[]> | undefined;
/** The corpus of seed 1, captured once per process. */
export function defaultCorpus(): Promise<CorpusFrame[]> {
  cachedCorpus ??= captureCorpus(1);
  return cachedCorpus;
}

interface Flow {
  proto: 6 | 17;
  src: number;
  dst: number;
  sport: number | undefined;
  dport: number;
  /** Where the flow's frames may enter: the destination host, or the router on the way. */
  points: InputPoint['name'][];
}

function flowsOf(svc: Services): Flow[] {
  const A = 0x0a000102;
  const B = 0x0a000202;
  const [, , c1, c2] = svc.ports.tcp;
  return [
    { proto: 6, src: A, dst: B, sport: c1, dport: 5000, points: ['b', 'r0'] },
    { proto: 6, src: B, dst: A, sport: 5000, dport: c1, points: ['a', 'r1'] },
    { proto: 6, src: B, dst: A, sport: c2, dport: 5001, points: ['a', 'r1'] },
    { proto: 6, src: A, dst: B, sport: 5001, dport: c2, points: ['b', 'r0'] },
    { proto: 6, src: A, dst: B, sport: undefined, dport: 5000, points: ['b', 'r0'] },
    { proto: 6, src: B, dst: A, sport: undefined, dport: 5001, points: ['a', 'r1'] },
    { proto: 17, src: A, dst: B, sport: undefined, dport: 5353, points: ['b', 'r0'] },
    { proto: 17, src: B, dst: A, sport: undefined, dport: 7007, points: ['a', 'r1'] },
  ];
}

function put16(f: Uint8Array, at: number, v: number) {
  f[at] = (v >>> 8) & 0xff;
  f[at + 1] = v & 0xff;
}
function put32(f: Uint8Array, at: number, v: number) {
  put16(f, at, v >>> 16);
  put16(f, at + 2, v & 0xffff);
}

/** Rewrites a TCP or UDP frame's addresses and ports to a flow's (sequence numbers kept). */
function retarget(f: Uint8Array, flow: Flow, rng: SeededRng): boolean {
  if (f.length < 14 + 20 + 8 || f[12] !== 0x08 || f[13] !== 0x00) return false;
  const ihl = (f[14] & 0x0f) * 4;
  if (ihl < 20 || 14 + ihl + 8 > f.length) return false;
  f[14 + 9] = flow.proto;
  put32(f, 14 + 12, flow.src);
  put32(f, 14 + 16, flow.dst);
  const t = 14 + ihl;
  put16(f, t, flow.sport ?? 1024 + rng.below(64512));
  put16(f, t + 2, flow.dport);
  return true;
}

/** The campaign state for one network instance. */
class Target {
  readonly net: FuzzNet;
  readonly svc: Services;
  readonly flows: Flow[];
  readonly points: Map<string, InputPoint>;
  baseline!: Census;
  private constructor(net: FuzzNet, svc: Services) {
    this.net = net;
    this.svc = svc;
    this.flows = flowsOf(svc);
    this.points = new Map(net.points.map((p) => [p.name, p]));
  }
  static async create(
    seed: number,
    tamper?: (net: FuzzNet) => void,
    profile: TcpProfileName = 'linux',
  ): Promise<Target> {
    const net = buildNetwork(seed, profile);
    tamper?.(net);
    const svc = await startServices(net);
    const t = new Target(net, svc);
    // Warm up exactly as a round ends (liveness, then settle), then take the baseline.
    await checkLiveness(net, svc, 0, 4096);
    await net.sim.advance(seconds(900));
    t.baseline = census(net);
    return t;
  }
  inject(p: InjectedFrame): void {
    const point = this.points.get(p.point);
    if (point === undefined) throw new Error(`no input point ${p.point}`);
    point.end.receive(p.frame);
  }
  /** Runs until the census is back to the baseline (at most 15 virtual minutes); returns the seconds taken, or the differences. */
  async settle(): Promise<{ seconds: number; diff: string[] }> {
    const { sim } = this.net;
    const t0 = sim.now;
    let diff: string[] = [];
    for (let i = 0; i < 90; i++) {
      drainUdp(this.net);
      diff = censusDiff(this.baseline, census(this.net));
      if (diff.length === 0) break;
      await sim.advance(seconds(10));
    }
    return { seconds: (sim.now - t0) / 1e6, diff };
  }
}

/** Decodes the errors of a finding's message into text. */
function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
}

/**
 * Makes the batch of frames that starts at `index`: deterministic in (seed, index) alone,
 * so a reproducer can regenerate it without running what came before.
 */
export function makeBatch(
  seed: number,
  index: number,
  corpus: readonly CorpusFrame[],
  flows: readonly Flow[] | undefined,
  macs: ReadonlyMap<string, Uint8Array>,
  byKind?: Record<string, number>,
): InjectedFrame[] {
  const rng = new SeededRng((seed * 0x9e3779b1 + index) >>> 0);
  const out: InjectedFrame[] = [];
  while (out.length < BATCH) {
    const src = corpus[rng.below(corpus.length)];
    const other = corpus[rng.below(corpus.length)];
    const kind: MutationKind = pickKind(rng);
    if (byKind) byKind[kind] = (byKind[kind] ?? 0) + 1;
    let point: InputPoint['name'] = src.point;
    let base = src.frame;
    if (flows !== undefined && rng.below(100) < 20) {
      const flow = flows[rng.below(flows.length)];
      const copy = base.slice();
      if (retarget(copy, flow, rng)) {
        fixChecksums(copy);
        base = copy;
        point = flow.points[rng.below(flow.points.length)];
      }
    } else if (rng.below(100) < 30) {
      point = POINT_NAMES[rng.below(POINT_NAMES.length)];
    }
    for (const f of mutate(rng, kind, base, other.frame)) {
      // Aim at the interface: its MAC mostly, broadcast sometimes, else as captured.
      const r = rng.below(100);
      if (f.length >= 6) {
        if (r < 85) f.set(macs.get(point) ?? f.subarray(0, 6), 0);
        else if (r < 90) f.fill(0xff, 0, 6);
      }
      out.push({ point, frame: f });
      if (out.length >= BATCH * 2) break;
    }
  }
  return out;
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignReport> {
  const corpus = opts.corpus ?? (await defaultCorpus());
  const roundFrames = Math.max(BATCH, opts.roundFrames ?? 100_000);
  const report: CampaignReport = {
    seed: opts.seed,
    frames: 0,
    escapes: 0,
    findings: [],
    rounds: 0,
    byKind: {},
    byPoint: {},
    maxSettleSeconds: 0,
    counters: {},
  };
  const finding = (f: Finding) => {
    report.findings.push(f);
    opts.onFinding?.(f);
  };
  let target = await Target.create(opts.seed, opts.tamper, opts.profile);
  let macs = new Map(target.net.points.map((p) => [p.name as string, p.mac]));
  let index = 0;
  while (index < opts.frames) {
    const roundEnd = Math.min(opts.frames, index + roundFrames);
    while (index < roundEnd) {
      const batch = makeBatch(opts.seed, index, corpus, target.flows, macs, report.byKind);
      for (const b of batch) {
        target.inject(b);
        report.byPoint[b.point] = (report.byPoint[b.point] ?? 0) + 1;
      }
      try {
        target.net.sim.runFor(millis(1));
      } catch (e) {
        report.escapes++;
        finding({ seed: opts.seed, frameIndex: index, kind: 'escape', error: errorText(e), frames: batch });
        // The network's state is no longer trustworthy: start again.
        target = await Target.create(opts.seed + report.escapes, opts.tamper, opts.profile);
        macs = new Map(target.net.points.map((p) => [p.name as string, p.mac]));
      }
      index += batch.length;
      report.frames += batch.length;
    }
    // Checks of the round.
    report.rounds++;
    const s = await target.settle();
    report.maxSettleSeconds = Math.max(report.maxSettleSeconds, s.seconds);
    if (s.diff.length > 0)
      finding({
        seed: opts.seed,
        frameIndex: index,
        kind: 'baseline',
        error: `not back to baseline after ${s.seconds} s: ${s.diff.join(', ')}`,
        frames: [],
      });
    try {
      await checkLiveness(target.net, target.svc, report.rounds);
    } catch (e) {
      finding({ seed: opts.seed, frameIndex: index, kind: 'liveness', error: errorText(e), frames: [] });
      target = await Target.create(opts.seed + 1000 + report.rounds, opts.tamper, opts.profile);
      macs = new Map(target.net.points.map((p) => [p.name as string, p.mac]));
    }
    opts.onRound?.({
      round: report.rounds,
      framesDone: index,
      settleSeconds: s.seconds,
      census: census(target.net),
      baseline: target.baseline,
    });
  }
  report.counters = counters(target.net);
  return report;
}

/** Non-zero numeric counters of the stacks' stats, summed over the stacks (drops by reason). */
function counters(net: FuzzNet): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (o: unknown, prefix: string) => {
    if (o === null || typeof o !== 'object') return;
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'number') {
        if (v !== 0) out[prefix + k] = (out[prefix + k] ?? 0) + v;
      } else if (typeof v === 'object') walk(v, `${prefix}${k}.`);
    }
  };
  for (const s of net.stacks) {
    walk(s.stats, '');
    walk(s.tcpStats, 'tcpShim.');
    walk(s.tcp.stats, 'tcp.');
  }
  return out;
}

/**
 * Replays a reproducer's frames on a fresh network of its seed, in one batch: returns the
 * error they raise, or undefined when they raise none.
 */
export async function replayFrames(
  seed: number,
  frames: readonly InjectedFrame[],
  tamper?: (net: FuzzNet) => void,
): Promise<string | undefined> {
  const target = await Target.create(seed, tamper);
  for (const f of frames) target.inject(f);
  try {
    target.net.sim.runFor(millis(1));
    target.net.sim.runFor(seconds(120));
  } catch (e) {
    return errorText(e);
  }
  return undefined;
}

/**
 * Feeds `frames` (a systematic sweep: every truncation of a frame, say) through a fresh
 * network of `seed` in batches, then runs the round's checks (baseline, liveness). Returns
 * the findings.
 */
export async function checkFrames(seed: number, frames: readonly InjectedFrame[]): Promise<Finding[]> {
  const found: Finding[] = [];
  let target = await Target.create(seed);
  for (let i = 0; i < frames.length; i += BATCH) {
    const batch = frames.slice(i, i + BATCH);
    for (const f of batch) target.inject(f);
    try {
      target.net.sim.runFor(millis(1));
    } catch (e) {
      found.push({ seed, frameIndex: i, kind: 'escape', error: errorText(e), frames: batch });
      target = await Target.create(seed + found.length);
    }
  }
  const s = await target.settle();
  if (s.diff.length > 0)
    found.push({ seed, frameIndex: frames.length, kind: 'baseline', error: s.diff.join(', '), frames: [] });
  try {
    await checkLiveness(target.net, target.svc, 1);
  } catch (e) {
    found.push({ seed, frameIndex: frames.length, kind: 'liveness', error: errorText(e), frames: [] });
  }
  return found;
}
