/**
 * The fuzzing harness's short seeded slice (issue #17; long campaigns: scripts/fuzz.ts).
 * Mutated frames recorded from our own sessions go through all four input paths of a live
 * network (two hosts and a router); afterwards nothing has escaped, the census is back to
 * its baseline and old and new connections move data byte-exact. Also: the corpus holds
 * every kind of traffic it should, every truncation of a frame of each kind is survived,
 * and the harness does find (and replay) a bug planted in the stack.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import { parseArp } from '../../src/wire/arp.ts';
import { parseIpv4Packet } from '../../src/wire/ipv4.ts';
import {
  checkFrames,
  defaultCorpus,
  type InjectedFrame,
  makeBatch,
  replayFrames,
  runCampaign,
} from './campaign.ts';
import { type CorpusFrame, corpusKinds } from './corpus.ts';
import { fixChecksums, mutate, truncations } from './mutate.ts';
import type { FuzzNet } from './network.ts';

let corpus: CorpusFrame[];

before(async () => {
  corpus = await defaultCorpus();
});

describe('fuzz corpus', () => {
  it('holds ARP, TCP, UDP, ICMP errors and fragments recorded at every input path', () => {
    const kinds = corpusKinds(corpus);
    console.log('corpus', corpus.length, kinds);
    for (const k of ['arp', 'tcp', 'udp', 'icmp', 'ipv4-fragment'])
      assert.ok((kinds[k] ?? 0) > 0, `no ${k} frames`);
    for (const p of ['a', 'r0', 'r1', 'b'])
      assert.ok(
        corpus.some((f) => f.point === p),
        `nothing recorded at ${p}`,
      );
    // The ICMP errors of the sessions: fragmentation needed, port unreachable, time exceeded
    // (TTL and reassembly).
    const icmp = new Set(
      corpus
        .filter((f) => f.frame[12] === 0x08 && f.frame[13] === 0x00 && f.frame[23] === 1)
        .map((f) => `${f.frame[34]}/${f.frame[35]}`),
    );
    for (const t of ['3/4', '3/3', '11/0', '11/1', '8/0', '0/0']) assert.ok(icmp.has(t), `no ICMP ${t}`);
    // TCP with options (SYNs carry MSS, SACK-permitted, timestamps, window scale).
    assert.ok(corpus.some((f) => f.frame[23] === 6 && f.frame[46] >>> 4 > 5));
  });

  it('every recorded frame parses (the corpus is real traffic)', () => {
    for (const { frame } of corpus) {
      const r =
        frame[13] === 0x06
          ? parseArp(frame.subarray(14))
          : parseIpv4Packet(frame.subarray(14), { verifyChecksum: true });
      assert.ok(!('wireError' in r), `corpus frame fails to parse: ${JSON.stringify(r)}`);
    }
  });
});

describe('fuzz mutator', () => {
  it('is deterministic for a seed and batch index', () => {
    const macs = new Map<string, Uint8Array>();
    const x = makeBatch(9, 4096, corpus, undefined, macs);
    const y = makeBatch(9, 4096, corpus, undefined, macs);
    const z = makeBatch(9, 4112, corpus, undefined, macs);
    assert.deepEqual(x, y);
    assert.notDeepEqual(x, z);
  });

  it('field mutations with fixed checksums still pass the IPv4 checksum, so they reach the layers above', () => {
    const rng = new SeededRng(5);
    const ipFrames = corpus.filter((f) => f.frame[12] === 0x08 && f.frame[13] === 0x00);
    let changed = 0;
    for (let i = 0; i < 500; i++) {
      const src = ipFrames[rng.below(ipFrames.length)].frame;
      const [m] = mutate(rng, 'field', src, src);
      if (m.length !== src.length || m.some((b, j) => b !== src[j])) changed++;
      fixChecksums(m);
      // Whatever the field became, the header checksum over it is right (unless the
      // mutation made it something other than IPv4, or a header longer than the frame).
      const ihl = (m[14] & 0x0f) * 4;
      if (m[12] !== 0x08 || m[13] !== 0x00 || ihl < 20 || 14 + ihl > m.length) continue;
      let s = 0;
      for (let j = 14; j < 14 + ihl; j += 2) s += (m[j] << 8) | m[j + 1];
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      assert.equal(s, 0xffff);
    }
    assert.ok(changed > 400, `only ${changed} of 500 field mutations changed the frame`);
  });
});

describe('fuzz campaign slice', () => {
  it('seed 17, 40 000 mutated frames: no escape, back to baseline, old and new connections byte-exact', async () => {
    const rounds: number[] = [];
    const r = await runCampaign({
      seed: 17,
      frames: 40_000,
      roundFrames: 20_000,
      corpus,
      onRound: (x) => rounds.push(x.settleSeconds),
    });
    console.log(
      `frames ${r.frames} escapes ${r.escapes} findings ${r.findings.length} settle ${rounds.join(',')} s`,
      r.byKind,
      r.byPoint,
    );
    assert.deepEqual(
      r.findings.map((f) => `${f.kind}: ${f.error}`),
      [],
    );
    assert.equal(r.rounds, 2);
    assert.ok(r.frames >= 40_000);
    // Every input path and every mutation was exercised, and the frames got deep.
    for (const p of ['a', 'r0', 'r1', 'b']) assert.ok(r.byPoint[p] > 5000, `few frames at ${p}`);
    for (const k of ['bitflip', 'truncate', 'field', 'tcpOptions', 'ipOptions', 'fragment', 'splice'])
      assert.ok(r.byKind[k] > 100, `few ${k} mutations`);
    for (const c of [
      'tcp.segmentsIn',
      'ip.reasmRequired',
      'ip.forwarded',
      'arp.requestsReceived',
      'icmp.inErrors',
    ])
      assert.ok((r.counters[c] ?? 0) > 0, `no ${c}`);
  });

  it('the FreeBSD profile: seed 29, 20 000 mutated frames, no finding', async () => {
    const r = await runCampaign({
      seed: 29,
      frames: 20_000,
      roundFrames: 20_000,
      corpus,
      profile: 'freebsd',
    });
    console.log(`freebsd: frames ${r.frames} escapes ${r.escapes} findings ${r.findings.length}`);
    assert.deepEqual(
      r.findings.map((f) => `${f.kind}: ${f.error}`),
      [],
    );
    assert.ok((r.counters['tcp.segmentsIn'] ?? 0) > 0);
  });

  it('every truncation of a frame of each kind, at every input path', async () => {
    const pick = (pred: (f: Uint8Array) => boolean) => corpus.find((c) => pred(c.frame));
    const samples = [
      pick((f) => f[13] === 0x06), // ARP
      pick((f) => f[23] === 6 && f[46] >>> 4 > 5), // TCP with options
      pick((f) => f[23] === 6 && f.length > 200), // TCP with data
      pick((f) => f[23] === 17 && (f[20] & 0x3f) === 0 && f[21] === 0), // UDP
      pick((f) => f[23] === 1 && f[34] === 3), // ICMP error with its quote
      pick((f) => f[13] === 0x00 && (f[20] & 0x20) !== 0), // a first fragment
    ].filter((x): x is CorpusFrame => x !== undefined);
    assert.equal(samples.length, 6);
    const frames: InjectedFrame[] = [];
    for (const s of samples)
      for (const point of ['a', 'r0', 'r1', 'b'] as const)
        for (const t of truncations(s.frame)) frames.push({ point, frame: t });
    console.log(`${frames.length} truncated frames`);
    const found = await checkFrames(23, frames);
    assert.deepEqual(
      found.map((f) => `${f.kind}: ${f.error}`),
      [],
    );
  });

  it('finds a bug planted in the stack and writes a reproducer that replays it', async () => {
    // The planted bug: b's IPv4 input throws on a datagram whose first option is a timestamp.
    const plant = (net: FuzzNet) => {
      const ip = net.b.ip;
      const receive = ip.receive.bind(ip);
      ip.receive = (iface, f) => {
        if (f.length > 34 && f[12] === 0x08 && f[13] === 0x00 && (f[14] & 0x0f) > 5 && f[34] === 68)
          throw new Error('planted');
        receive(iface, f);
      };
    };
    const r = await runCampaign({ seed: 3, frames: 20_000, roundFrames: 20_000, corpus, tamper: plant });
    const escapes = r.findings.filter((f) => f.kind === 'escape');
    assert.ok(escapes.length > 0, 'the planted bug was not found');
    assert.equal(r.escapes, escapes.length);
    assert.match(escapes[0].error, /planted/);
    // The reproducer's frames raise it again on a fresh network, and nothing without the bug.
    const again = await replayFrames(escapes[0].seed, escapes[0].frames, plant);
    assert.match(again ?? '', /planted/);
    assert.equal(await replayFrames(escapes[0].seed, escapes[0].frames), undefined);
  });
});
