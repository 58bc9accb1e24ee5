/**
 * tshark as an external judge of a whole-stack TCP transfer: capture a's side of
 * a transfer (captureDevice + PcapWriter to a temp file), dissect it, and require
 * no malformed packets, no bad checksums, and TCP expert-analysis entries only of
 * kinds the impairments explain (retransmissions, duplicate ACKs, out-of-order,
 * segments not captured ...). A clean link must show none of them at all.
 * Skips with a printed reason when tshark is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Impairments } from '../../src/link/impair.ts';
import { PcapWriter } from '../../src/link/pcap.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { hasTshark, tsharkDissect } from '../helpers/tshark.ts';
import { duplexTransfer, pair, randomBytes, sha256 } from './tcp-net.ts';

const skip = hasTshark() ? false : 'tshark is not installed (apt-get install tshark)';
if (skip) console.log(`# tcp-capture: skipped: ${skip}`);

const dir = mkdtempSync(join(tmpdir(), 'sockstack-tcp-capture-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A port no Wireshark dissector claims, so random payload is shown as data, not misparsed. */
const PORT = 45678;

interface ExpertEntry {
  severity: string;
  count: number;
  group: string;
  protocol: string;
  summary: string;
}

/** `tshark -q -z expert`, parsed into entries. */
function expert(path: string): ExpertEntry[] {
  const r = spawnSync('tshark', ['-r', path, '-q', '-z', 'expert', '-o', 'tcp.check_checksum:TRUE'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
  const out: ExpertEntry[] = [];
  let severity = '';
  for (const line of r.stdout.split('\n')) {
    const h = /^(Errors|Warns|Notes|Chats|Comments) \(\d+\)/.exec(line);
    if (h) {
      severity = h[1];
      continue;
    }
    const m = /^\s+(\d+)\s+(\S+)\s+(.+?)\s{2,}(.*)$/.exec(line);
    if (m && severity && m[1] !== undefined) {
      out.push({ severity, count: Number(m[1]), group: m[2], protocol: m[3].trim(), summary: m[4].trim() });
    }
  }
  return out;
}

/** TCP analysis a lossy, reordering, duplicating link explains. */
const EXPLAINED = [
  /retransmission/i, // retransmission, fast retransmission, spurious retransmission
  /Duplicate ACK/,
  /Previous segment\(s\) not captured/,
  /out-of-order segment/,
  /ACKed segment that wasn't captured/,
  /TCP window update/,
  /window is full/i,
  /Connection (establish|finish)/,
  /connection closing/,
  // RFC 2883: the receiver reports a duplicate it got (the link duplicates frames, and a
  // retransmission can cross the ACK that made it unnecessary).
  /D-SACK Sequence/,
];

/** What a clean transfer may show: the handshake, FINs, window updates. */
const CLEAN = [/Connection (establish|finish)/, /connection closing/, /TCP window update/];

async function capturedTransfer(name: string, seed: number, aToB: Impairments, bToA: Impairments) {
  const chunks: Uint8Array[] = [];
  const writer = new PcapWriter((c) => chunks.push(c.slice()));
  const net = pair({ seed, captureA: writer, aToB, bToA });
  const fromA = randomBytes(400_000, seed);
  const fromB = randomBytes(60_000, seed + 1);
  const r = await duplexTransfer(net, fromA, fromB, seconds(120), PORT);
  assert.equal(await sha256(r.atB), await sha256(fromA), `seed ${seed}`);
  assert.equal(await sha256(r.atA), await sha256(fromB), `seed ${seed}`);
  const path = join(dir, `${name}.pcap`);
  let total = 0;
  for (const c of chunks) total += c.length;
  const file = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    file.set(c, o);
    o += c.length;
  }
  writeFileSync(path, file);
  return { path, net, packets: writer.packets };
}

describe('tshark judges captured TCP transfers', { skip }, () => {
  it('lossy, reordering, duplicating link: no malformed packets, no bad checksums, only explained TCP analysis', async () => {
    const seed = 21;
    const { path, packets } = await capturedTransfer(
      'lossy',
      seed,
      { loss: 0.05, reorder: { probability: 0.03, extraDelay: millis(3) }, duplicate: 0.02 },
      { loss: 0.03 },
    );
    const d = tsharkDissect(path);
    assert.equal(d.packets, packets, `seed ${seed}: tshark read every frame`);
    assert.equal(d.malformed, 0, `seed ${seed}: malformed packets in ${path}`);
    assert.equal(d.checksumErrors, 0, `seed ${seed}: bad checksums`);
    assert.ok(
      d.protocols.every((p) => /^eth:ethertype:(arp|ip:tcp(:data)?)$/.test(p)),
      `seed ${seed}: unexpected protocol chains ${[...new Set(d.protocols)].join(', ')}`,
    );
    const entries = expert(path);
    const errors = entries.filter((e) => e.severity === 'Errors');
    assert.deepEqual(errors, [], `seed ${seed}: expert errors`);
    const unexplained = entries.filter((e) => !EXPLAINED.some((re) => re.test(e.summary)));
    assert.deepEqual(unexplained, [], `seed ${seed}: TCP analysis the impairments do not explain`);
    const kinds = new Set(entries.map((e) => e.summary.replace(/ \(#\d+\)/, '')));
    assert.ok(
      [...kinds].some((k) => /retransmission/.test(k)),
      `seed ${seed}: loss should show retransmissions (saw ${[...kinds].join('; ')})`,
    );
  });

  it('clean link: no TCP analysis flags at all', async () => {
    const { path } = await capturedTransfer('clean', 22, {}, {});
    const d = tsharkDissect(path);
    assert.equal(d.malformed + d.checksumErrors + d.expertErrors, 0);
    const flagged = spawnSync(
      'tshark',
      ['-r', path, '-Y', 'tcp.analysis.flags && !tcp.analysis.window_update'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(flagged.stdout.trim(), '', 'frames with TCP analysis flags');
    const entries = expert(path).filter((e) => !CLEAN.some((re) => re.test(e.summary)));
    assert.deepEqual(entries, []);
  });
});
