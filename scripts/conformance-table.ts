/**
 * Runs the curated packetdrill corpus against the stack target and writes the
 * results table into docs/conformance-results.md, between the
 * `<!-- conformance-table:begin -->` and `<!-- conformance-table:end -->` markers
 * (the hand-written triage around them is kept).
 *
 *   node --import tsx scripts/conformance-table.ts [--check] [corpus-dir]
 *
 * `--check` exits 1 when the committed table differs from a fresh run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { findScripts } from '../src/cli/conformance.ts';
import { runScriptText, type ScriptResult } from '../src/conformance/runner.ts';
import { stackTargetFactory } from '../src/conformance/stack-target.ts';

export interface CorpusRow {
  readonly path: string;
  readonly result: ScriptResult;
}

const HERE = new URL('.', import.meta.url).pathname;
export const DEFAULT_CORPUS = resolve(HERE, '../test/fixtures/packetdrill');
const DOC = resolve(HERE, '../docs/conformance-results.md');
const BEGIN = '<!-- conformance-table:begin -->';
const END = '<!-- conformance-table:end -->';

/** Runs every script under `dir` against a fresh stack target each. */
export async function runCorpus(dir: string = DEFAULT_CORPUS): Promise<CorpusRow[]> {
  const rows: CorpusRow[] = [];
  for (const f of findScripts(dir)) {
    const result = await runScriptText(readFileSync(f, 'utf8'), stackTargetFactory, {
      path: f,
      defines: { STANDARD: '1' },
    });
    rows.push({ path: relative(dir, f), result });
  }
  return rows;
}

function cell(s: string): string {
  return s.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** One line per script: `| script | status | line | detail |`, plus the totals. */
export function formatTable(rows: readonly CorpusRow[]): string {
  const n = (s: ScriptResult['status']): number => rows.filter((r) => r.result.status === s).length;
  const out = [
    `${n('passed')} passed, ${n('failed')} failed, ${n('skipped')} skipped (of ${rows.length}; TCP options compared as a set).`,
    '',
    '| script | result | line | detail |',
    '|---|---|---|---|',
  ];
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

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const dir = argv.find((a) => !a.startsWith('--')) ?? DEFAULT_CORPUS;
  const table = formatTable(await runCorpus(dir));
  const doc = readFileSync(DOC, 'utf8');
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) {
    process.stderr.write(`conformance-table: ${DOC} lacks the ${BEGIN} / ${END} markers\n`);
    return 2;
  }
  const next = `${doc.slice(0, a + BEGIN.length)}\n${table}\n${doc.slice(b)}`;
  if (check) {
    if (next !== doc) {
      process.stderr.write('conformance-table: docs/conformance-results.md is out of date\n');
      return 1;
    }
    return 0;
  }
  writeFileSync(DOC, next);
  process.stdout.write(`${table.split('\n')[0]}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
