/**
 * Runs the curated packetdrill corpus against the stack target and records the results in
 * two checked-in places that stay consistent:
 *
 * - test/conformance/expected.json: each script's expected outcome ("passed", "deviation
 *   <id> at line N", "fails at its // Failure: marker", "failed at line N"), which
 *   test/conformance/stack-corpus.test.ts compares in `npm test`;
 * - the results table in docs/conformance-results.md, between the
 *   `<!-- conformance-table:begin -->` and `<!-- conformance-table:end -->` markers (the
 *   hand-written triage around them is kept).
 *
 *   node --import tsx scripts/conformance-table.ts [--check] [corpus-dir]
 *
 * Without `--check` both are rewritten from a fresh run (this is how a changed outcome is
 * accepted). `--check` rewrites nothing, prints the outcome diff and exits 1 when either
 * file differs from a fresh run.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { findScripts } from '../src/cli/conformance.ts';
import { detectDialect, runScriptText, type ScriptResult } from '../src/conformance/runner.ts';
import { parseScriptSafe } from '../src/conformance/script.ts';
import { stackTargetFactory } from '../src/conformance/stack-target.ts';
import type { Dialect } from '../src/conformance/symbols.ts';

export interface CorpusRow {
  readonly path: string;
  readonly result: ScriptResult;
  /** The dialect (and so the TCP profile) the script ran under. */
  readonly dialect?: Dialect;
}

const HERE = new URL('.', import.meta.url).pathname;
export const DEFAULT_CORPUS = resolve(HERE, '../test/fixtures/packetdrill');
export const DOC = resolve(HERE, '../docs/conformance-results.md');
export const EXPECTED = resolve(HERE, '../test/conformance/expected.json');
const BEGIN = '<!-- conformance-table:begin -->';
const END = '<!-- conformance-table:end -->';
/** How to accept changed outcomes; every diff message ends with it. */
export const ACCEPT_COMMAND = 'node --import tsx scripts/conformance-table.ts';

/** Runs every script under `dir` against a fresh stack target each. */
export async function runCorpus(dir: string = DEFAULT_CORPUS): Promise<CorpusRow[]> {
  const rows: CorpusRow[] = [];
  for (const f of findScripts(dir)) {
    const text = readFileSync(f, 'utf8');
    const result = await runScriptText(text, stackTargetFactory, { path: f, defines: { STANDARD: '1' } });
    const parsed = parseScriptSafe(text, { STANDARD: '1' });
    const dialect = parsed.ok ? detectDialect(parsed.script, f) : undefined;
    rows.push({ path: relative(dir, f), result, ...(dialect ? { dialect } : {}) });
  }
  return rows;
}

// ---- outcomes ------------------------------------------------------------------

/** Script path (relative to the corpus) -> expected outcome. */
export type Outcomes = Record<string, string>;

export const FAILS_AT_MARKER = 'fails at its // Failure: marker';

/**
 * The line of the first event after a `// Failure:` marker comment (the interpreter
 * self-tests say there where they must fail), or undefined without a marker.
 */
export function failureMarkerLine(src: string): number | undefined {
  const lines = src.split('\n');
  const at = lines.findIndex((l) => l.includes('// Failure:'));
  if (at < 0) return undefined;
  let n = at + 2;
  while (n <= lines.length && !/^\s*[+0-9]/.test(lines[n - 1]!)) n++;
  return n <= lines.length ? n : undefined;
}

/** A script's outcome as the expected list spells it. */
export function outcomeOf(row: CorpusRow, dir: string = DEFAULT_CORPUS): string {
  const r = row.result;
  if (r.status === 'passed') return 'passed';
  if (r.status === 'skipped') {
    const id = /^documented deviation ([a-z0-9-]+):/.exec(r.reason)?.[1];
    return id ? `deviation ${id} at line ${r.line}` : `skipped: ${r.reason}`;
  }
  const file = join(dir, row.path);
  const marker = existsSync(file) ? failureMarkerLine(readFileSync(file, 'utf8')) : undefined;
  return marker !== undefined && r.line === marker ? FAILS_AT_MARKER : `failed at line ${r.line}`;
}

export function outcomesOf(rows: readonly CorpusRow[], dir: string = DEFAULT_CORPUS): Outcomes {
  const out: Outcomes = {};
  for (const row of rows) out[row.path] = outcomeOf(row, dir);
  return out;
}

export function readExpected(file: string = EXPECTED): Outcomes {
  return JSON.parse(readFileSync(file, 'utf8')) as Outcomes;
}

export function formatExpected(outcomes: Outcomes): string {
  return `${JSON.stringify(outcomes, null, 2)}\n`;
}

/** Why a row failed or was skipped, for a diff line. */
function detail(r: ScriptResult): string {
  return r.status === 'failed' ? ` (${r.message})` : '';
}

/**
 * One line per script whose outcome differs from the expected list (a change either way,
 * a newly passing script included, and scripts added to or gone from the corpus), then
 * how to accept them; '' when all agree.
 */
export function diffOutcomes(
  expected: Outcomes,
  rows: readonly CorpusRow[],
  dir: string = DEFAULT_CORPUS,
): string {
  const got = outcomesOf(rows, dir);
  const lines: string[] = [];
  for (const row of rows) {
    const want = expected[row.path];
    const now = got[row.path]!;
    if (want === undefined) lines.push(`  + ${row.path}: not in the list; now "${now}"${detail(row.result)}`);
    else if (want !== now) {
      const tag = now === 'passed' ? ' (newly passing)' : '';
      lines.push(`  ~ ${row.path}: expected "${want}", now "${now}"${tag}${detail(row.result)}`);
    }
  }
  for (const path of Object.keys(expected))
    if (!(path in got)) lines.push(`  - ${path}: in the list ("${expected[path]}"), not in the corpus`);
  if (lines.length === 0) return '';
  return [
    `${lines.length} conformance outcome(s) differ from test/conformance/expected.json:`,
    ...lines,
    `If the new outcomes are right, accept them with \`${ACCEPT_COMMAND}\``,
    '(it rewrites test/conformance/expected.json and the table in docs/conformance-results.md).',
  ].join('\n');
}

// ---- the results table ---------------------------------------------------------

function cell(s: string): string {
  return s.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** One line per script: `| script | status | line | detail |`, plus the totals. */
export function formatTable(rows: readonly CorpusRow[]): string {
  const n = (s: ScriptResult['status']): number => rows.filter((r) => r.result.status === s).length;
  const out = [
    `${n('passed')} passed, ${n('failed')} failed, ${n('skipped')} skipped (of ${rows.length}; TCP options compared as a set).`,
    '',
  ];
  // Per profile (a skip is a documented deviation; the stack-corpus test pins every outcome).
  for (const d of ['linux', 'freebsd'] as const) {
    const of = rows.filter((r) => r.dialect === d);
    const k = (s: ScriptResult['status']): number => of.filter((r) => r.result.status === s).length;
    if (of.length > 0)
      out.push(
        `- ${d === 'linux' ? 'Linux' : 'FreeBSD'} profile: ${k('passed')} passed, ${k('skipped')} skipped as documented deviations, ${k('failed')} failed (of ${of.length}).`,
      );
  }
  out.push('', '| script | result | line | detail |', '|---|---|---|---|');
  for (const { path, result: r } of rows) {
    if (r.status === 'passed') out.push(`| \`${path}\` | passed | | |`);
    else if (r.status === 'skipped')
      out.push(`| \`${path}\` | skipped | ${r.line ?? ''} | ${cell(r.reason)} |`);
    else {
      const eg =
        r.expected !== undefined || r.got !== undefined
          ? ` (expected \`${cell(r.expected ?? '?')}\`; got \`${cell(r.got ?? '?')}\`)`
          : '';
      out.push(`| \`${path}\` | **failed** | ${r.line} | ${cell(r.message)}${eg} |`);
    }
  }
  return out.join('\n');
}

/** The docs page's table rows: script path -> 'passed' | 'failed' | 'skipped'. */
export function docTableStatuses(doc: string): Map<string, string> {
  const out = new Map<string, string>();
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  for (const line of doc.slice(a, b).split('\n')) {
    const m = /^\| `([^`]+)` \| (?:\*\*)?(passed|failed|skipped)(?:\*\*)? \|/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The status word of the table row an expected outcome belongs with. */
export function statusOfOutcome(outcome: string): string {
  if (outcome === 'passed') return 'passed';
  if (outcome.startsWith('deviation ') || outcome.startsWith('skipped')) return 'skipped';
  return 'failed';
}

function withTable(doc: string, table: string): string | undefined {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) return undefined;
  return `${doc.slice(0, a + BEGIN.length)}\n${table}\n${doc.slice(b)}`;
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const dir = argv.find((a) => !a.startsWith('--')) ?? DEFAULT_CORPUS;
  const rows = await runCorpus(dir);
  const table = formatTable(rows);
  const doc = readFileSync(DOC, 'utf8');
  const next = withTable(doc, table);
  if (next === undefined) {
    process.stderr.write(`conformance-table: ${DOC} lacks the ${BEGIN} / ${END} markers\n`);
    return 2;
  }
  const expected = formatExpected(outcomesOf(rows, dir));
  if (check) {
    let bad = 0;
    const diff = diffOutcomes(readExpected(), rows, dir);
    if (diff) {
      process.stderr.write(`${diff}\n`);
      bad = 1;
    } else if (readFileSync(EXPECTED, 'utf8') !== expected) {
      process.stderr.write('conformance-table: test/conformance/expected.json is not in corpus order\n');
      bad = 1;
    }
    if (next !== doc) {
      process.stderr.write('conformance-table: docs/conformance-results.md is out of date\n');
      bad = 1;
    }
    return bad;
  }
  writeFileSync(DOC, next);
  writeFileSync(EXPECTED, expected);
  process.stdout.write(`${table.split('\n')[0]}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
