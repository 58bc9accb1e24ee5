/**
 * Property runs (fast-check) over the wire decoders and the packetdrill parser, seeded from
 * real inputs: frames recorded from our own sessions (corpus.ts) and the vendored packetdrill
 * scripts, mutated. The targets (decoders.ts) throw only on a bug. This stands in for the
 * coverage-guided run: Jazzer.js does not load here (docs/robustness.md says why); the
 * same targets run longer with `scripts/fuzz.ts --decoders N`.
 */
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { defaultCorpus } from './campaign.ts';
import { decoderProperties, packetdrillScripts } from './decoders-props.ts';

let frames: Uint8Array[] = [];
let scripts: string[] = [];

before(async () => {
  frames = (await defaultCorpus()).map((c) => c.frame);
  scripts = packetdrillScripts().slice(0, 40);
});

describe('decoder and parser properties (seeded from real frames and scripts)', () => {
  it('wire decoders: mutated recorded frames never throw, payloads stay inside, TCP options round-trip', () => {
    const p = decoderProperties(frames, scripts);
    fc.assert(p.wire, { numRuns: 3000, seed: 17 });
  });
  it('wire decoders: random bytes', () => {
    const p = decoderProperties(frames, scripts);
    fc.assert(p.bytes, { numRuns: 2000, seed: 18 });
  });
  it('packetdrill parser: mutated real scripts give a Script or a ScriptSyntaxError, nothing else', () => {
    const p = decoderProperties(frames, scripts);
    fc.assert(p.script, { numRuns: 600, seed: 19 });
  });
});
