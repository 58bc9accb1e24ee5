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
 *
 * Kinds whose blocks need more than a plain run, each run by its own test file:
 *
 *   <!-- readme-test: commands -->            a shell command list (`$ ` prefixes allowed);
 *                                               test/examples/readme-commands.test.ts runs each
 *                                               command in a bounded form and checks its exit
 *   <!-- readme-test: pg-client -->           test/kernel/readme.test.ts runs the block against
 *                                               PostgreSQL in a TAP namespace
 *   <!-- readme-test: tap-recipe -->          test/kernel/readme.test.ts runs the shell recipe
 *                                               as root in a namespace of its own
 *   <!-- readme-test: browser-page -->        test/browser/readme-page.test.ts serves the page
 *                                               in Chromium against a relay and a Node stack
 *
 * Every block that is code (it names a language or starts with `$ `) must carry a
 * marker; a block with neither (a diagram, a file tree) is prose.
 */
import { readFileSync } from 'node:fs';

export const KINDS = [
  'run',
  'output',
  'transcript',
  'commands',
  'pg-client',
  'tap-recipe',
  'browser-page',
] as const;

export interface Block {
  kind: (typeof KINDS)[number];
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
    if (!(KINDS as readonly string[]).includes(m[1]))
      throw new Error(`${path}:${i + 1}: unknown readme-test kind '${m[1]}'`);
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

/** 1-based lines of the opening fences of code blocks (a language, or a first line `$ `) that carry no marker. */
export function unmarkedCodeBlocks(path: string): number[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)$/.exec(lines[i]);
    if (!fence) continue;
    const marked = /^<!-- readme-test: /.test(lines[i - 1] ?? '');
    if (!marked && (fence[1] !== '' || (lines[i + 1] ?? '').startsWith('$ '))) out.push(i + 1);
    let j = i + 1;
    while (j < lines.length && lines[j] !== '```') j++;
    i = j;
  }
  return out;
}

/** The commands of a `commands` block: one per line, comments and `$ ` prompts dropped, `\` continuations joined. */
export function blockCommands(code: string): string[] {
  return code
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) =>
      l
        .replace(/^\$ /, '')
        .replace(/\s+#.*$/, '')
        .trim(),
    )
    .filter((l) => l !== '' && !l.startsWith('#'));
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
