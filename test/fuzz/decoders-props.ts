/**
 * The fast-check properties over the fuzz targets of decoders.ts, built from seed inputs
 * (recorded frames, real packetdrill scripts), for decoders.test.ts and scripts/fuzz.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { fuzzScript, fuzzWire, SCRIPT_TOKENS } from './decoders.ts';

/** Byte edits: set a byte, flip a bit, cut the frame, insert or delete a run. */
type Edit =
  | { k: 'set'; at: number; v: number }
  | { k: 'flip'; at: number; bit: number }
  | { k: 'cut'; at: number }
  | { k: 'insert'; at: number; bytes: Uint8Array }
  | { k: 'delete'; at: number; n: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ k: fc.constant('set' as const), at: fc.nat(200), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ k: fc.constant('flip' as const), at: fc.nat(200), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ k: fc.constant('cut' as const), at: fc.nat(1600) }),
  fc.record({ k: fc.constant('insert' as const), at: fc.nat(200), bytes: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ k: fc.constant('delete' as const), at: fc.nat(200), n: fc.integer({ min: 1, max: 40 }) }),
);

export function applyEdits(frame: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let f = frame.slice();
  for (const e of edits) {
    const at = f.length === 0 ? 0 : e.at % (f.length + 1);
    switch (e.k) {
      case 'set':
        if (at < f.length) f[at] = e.v;
        break;
      case 'flip':
        if (at < f.length) f[at] ^= 1 << e.bit;
        break;
      case 'cut':
        f = f.slice(0, at);
        break;
      case 'insert': {
        const g = new Uint8Array(f.length + e.bytes.length);
        g.set(f.subarray(0, at));
        g.set(e.bytes, at);
        g.set(f.subarray(at), at + e.bytes.length);
        f = g;
        break;
      }
      case 'delete': {
        const a = Math.min(at, f.length);
        const rest = f.subarray(Math.min(f.length, a + e.n));
        const g = new Uint8Array(a + rest.length);
        g.set(f.subarray(0, a));
        g.set(rest, a);
        f = g;
        break;
      }
    }
  }
  return f;
}

type TextEdit = { at: number; del: number; ins: string };

function applyTextEdits(s: string, edits: readonly TextEdit[]): string {
  let t = s;
  for (const e of edits) {
    const at = e.at % (t.length + 1);
    t = t.slice(0, at) + e.ins + t.slice(at + e.del);
  }
  return t;
}

export function decoderProperties(frames: readonly Uint8Array[], scripts: readonly string[]) {
  const wire = fc.property(
    fc.nat(Math.max(0, frames.length - 1)),
    fc.array(edit, { minLength: 1, maxLength: 6 }),
    (i, edits) => {
      const f = applyEdits(frames[i] ?? new Uint8Array(0), edits);
      fuzzWire(f);
      // The same bytes at an odd offset inside a larger buffer (views are not always at 0).
      const shifted = new Uint8Array(f.length + 3);
      shifted.set(f, 3);
      fuzzWire(shifted.subarray(3));
    },
  );
  const bytes = fc.property(fc.uint8Array({ maxLength: 1600 }), (b) => fuzzWire(b));
  const textEdit: fc.Arbitrary<TextEdit> = fc.record({
    at: fc.nat(20_000),
    del: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 30 })),
    ins: fc.oneof(fc.constantFrom(...SCRIPT_TOKENS), fc.string({ maxLength: 8 }), fc.constant('')),
  });
  const script = fc.property(
    fc.nat(Math.max(0, scripts.length - 1)),
    fc.array(textEdit, { minLength: 1, maxLength: 5 }),
    (i, edits) => fuzzScript(applyTextEdits(scripts[i] ?? '', edits)),
  );
  return { wire, bytes, script };
}

/** The vendored packetdrill scripts (test/fixtures/packetdrill), sorted by path. */
export function packetdrillScripts(): string[] {
  const root = join(import.meta.dirname, '..', 'fixtures', 'packetdrill');
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.pkt')) out.push(readFileSync(p, 'utf8'));
    }
  };
  walk(root);
  return out;
}
