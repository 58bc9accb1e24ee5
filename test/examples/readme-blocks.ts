/**
 * The README's code blocks that a test runs, found by the HTML comment just above
 * each block (invisible on GitHub):
 *
 *   <!-- readme-test: run -->                 run the next ```ts block; it must exit 0
 *   <!-- readme-test: run, echo-client -->    ... while a client connects to its port 5000
 *                                               (moved to a free port), sends, reads the echo
 *   <!-- readme-test: output -->              the next ``` block is what the last run block
 *                                               prints (its lines, in order; `…` matches anything)
 *   <!-- readme-test: transcript -->          the next ``` block starts with `$ command`;
 *                                               the command's output must match the rest
 */
import { readFileSync } from 'node:fs';

export interface Block {
  kind: 'run' | 'output' | 'transcript';
  /** Extra words after the kind ('echo-client'). */
  flags: string[];
  lang: string;
  code: string;
  /** 1-based line of the block's opening fence. */
  line: number;
}

export function readmeBlocks(path: string): Block[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^<!-- readme-test: ([\w-]+)((?:, [\w-]+)*) -->$/.exec(lines[i]);
    if (!m) continue;
    const fence = /^```(\w*)$/.exec(lines[i + 1] ?? '');
    if (!fence) throw new Error(`${path}:${i + 1}: a readme-test marker must stand right above a code block`);
    let j = i + 2;
    while (j < lines.length && lines[j] !== '```') j++;
    out.push({
      kind: m[1] as Block['kind'],
      flags: m[2] ? m[2].slice(2).split(', ') : [],
      lang: fence[1],
      code: lines.slice(i + 2, j).join('\n'),
      line: i + 2,
    });
    i = j;
  }
  return out;
}

/**
 * Whether `expected`'s lines appear in `actual` in order. Consecutive lines must be
 * consecutive in `actual`; a line that is only `…` skips any number of lines, and a
 * `…` inside a line matches any text. Returns undefined when they match, else a message.
 */
export function matchOutput(actual: string, expected: string): string | undefined {
  const toRe = (l: string): RegExp =>
    new RegExp(
      `^${l
        .trimEnd()
        .split('…')
        .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}\\s*$`,
    );
  const segments: RegExp[][] = [[]];
  for (const l of expected.split('\n')) {
    if (l.trim() === '…') segments.push([]);
    else if (l.trim() !== '') segments[segments.length - 1].push(toRe(l));
  }
  const got = actual.split('\n');
  let at = 0;
  for (const seg of segments) {
    if (seg.length === 0) continue;
    let found = -1;
    for (let start = at; start + seg.length <= got.length && found < 0; start++)
      if (seg.every((r, k) => r.test(got[start + k]))) found = start;
    if (found < 0) return `expected these lines:\n${expected}\n\nin this output:\n${actual}`;
    at = found + seg.length;
  }
  return undefined;
}
