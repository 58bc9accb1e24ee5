/**
 * sockstack's own packetdrill scripts (test/conformance/scripts/**), written in the style of
 * the public suites for mechanisms the curated corpus does not reach (RACK-TLP, PRR, ...).
 * Each must pass against the stack; each also states, in its comments, the Linux behaviour
 * it expects.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { test } from 'node:test';
import { findScripts } from '../../src/cli/conformance.ts';
import { runScriptText } from '../../src/conformance/runner.ts';
import { stackTargetFactory } from '../../src/conformance/stack-target.ts';

const DIR = new URL('./scripts/', import.meta.url).pathname;

test('sockstack packetdrill scripts: every one passes against the stack', async (t) => {
  const files = findScripts(DIR);
  assert.ok(files.length >= 5, `scripts found: ${files.length}`);
  for (const f of files) {
    const name = relative(DIR, f);
    const r = await runScriptText(readFileSync(f, 'utf8'), stackTargetFactory, { path: f });
    t.diagnostic(`${name}: ${r.status}`);
    if (r.status !== 'passed') {
      const where = 'line' in r ? `:${r.line}` : '';
      const what = r.status === 'failed' ? r.message : r.reason;
      assert.fail(`${name}${where}: ${r.status}: ${what}`);
    }
  }
});
