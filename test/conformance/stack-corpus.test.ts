/**
 * The whole curated packetdrill corpus against sockstack's own stack
 * (src/conformance/stack-target.ts). Every script's outcome is pinned in
 * test/conformance/expected.json: passed, a documented deviation (by id and line),
 * or, for the interpreter self-tests, a failure at their `// Failure:` marker. Any
 * change fails with the list of scripts that changed, a newly passing one included;
 * `node --import tsx scripts/conformance-table.ts` accepts the new outcomes (it
 * rewrites the list and the table in docs/conformance-results.md). The table is printed.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  type CorpusRow,
  DOC,
  diffOutcomes,
  docTableStatuses,
  FAILS_AT_MARKER,
  failureMarkerLine,
  formatTable,
  readExpected,
  runCorpus,
  statusOfOutcome,
} from '../../scripts/conformance-table.ts';
import type { ScriptResult } from '../../src/conformance/runner.ts';

const CORPUS = new URL('../fixtures/packetdrill/', import.meta.url).pathname;

/** The interpreter self-tests: scripts that must fail where their `// Failure:` marker says. */
const SELF_TESTS = [
  'google-packetdrill/gtests/net/packetdrill/tests/packet-timeout.pkt',
  'google-packetdrill/gtests/net/packetdrill/tests/linux/packetdrill/socket_err.pkt',
  'google-packetdrill/gtests/net/packetdrill/tests/linux/packetdrill/socket_wrong_err.pkt',
];

test('the packetdrill corpus against the stack: every outcome as pinned in expected.json', {
  skip: !existsSync(CORPUS) && 'corpus not present',
}, async (t) => {
  const started = performance.now();
  const rows = await runCorpus(CORPUS);
  const ms = performance.now() - started;
  t.diagnostic(`${rows.length} scripts in ${Math.round(ms)} ms`);
  process.stdout.write(`${formatTable(rows)}\n`);

  const diff = diffOutcomes(readExpected(), rows, CORPUS);
  if (diff) assert.fail(diff);
  // Every skip states a reason.
  for (const r of rows) if (r.result.status === 'skipped') assert.ok(r.result.reason.length > 0, r.path);
});

test('the expected list pins each interpreter self-test to its failure marker', () => {
  const expected = readExpected();
  for (const rel of SELF_TESTS) {
    assert.equal(expected[rel], FAILS_AT_MARKER, rel);
    if (existsSync(CORPUS + rel)) assert.ok(failureMarkerLine(readFileSync(CORPUS + rel, 'utf8')), rel);
  }
});

test('docs/conformance-results.md lists every script with its expected status', () => {
  const expected = readExpected();
  const doc = docTableStatuses(readFileSync(DOC, 'utf8'));
  assert.deepEqual(
    [...doc.entries()],
    Object.entries(expected).map(([path, outcome]) => [path, statusOfOutcome(outcome)]),
  );
});

test('a changed outcome is reported with its script and the command that accepts it', () => {
  const row = (path: string, result: ScriptResult): CorpusRow => ({ path, result });
  const passed: ScriptResult = { status: 'passed', optionsMode: 'set', warnings: [] };
  const skipped: ScriptResult = {
    status: 'skipped',
    optionsMode: 'set',
    line: 7,
    reason: 'documented deviation some-id: because',
  };
  const failed: ScriptResult = {
    status: 'failed',
    optionsMode: 'set',
    line: 9,
    column: 1,
    message: 'timed out waiting for packet',
    warnings: [],
  };
  const expected = { 'a.pkt': 'passed', 'b.pkt': 'deviation some-id at line 7', 'gone.pkt': 'passed' };
  const rows = [row('a.pkt', failed), row('b.pkt', passed), row('new.pkt', skipped)];
  const msg = diffOutcomes(expected, rows, '/nonexistent-corpus');
  assert.match(msg, /a\.pkt: expected "passed", now "failed at line 9" \(timed out waiting for packet\)/);
  assert.match(msg, /b\.pkt: expected "deviation some-id at line 7", now "passed" \(newly passing\)/);
  assert.match(msg, /new\.pkt: not in the list; now "deviation some-id at line 7"/);
  assert.match(msg, /gone\.pkt: in the list \("passed"\), not in the corpus/);
  assert.match(msg, /node --import tsx scripts\/conformance-table\.ts/);
  assert.equal(diffOutcomes({ 'a.pkt': 'passed' }, [row('a.pkt', passed)], '/nonexistent-corpus'), '');
});
