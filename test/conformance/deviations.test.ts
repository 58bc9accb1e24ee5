/** Documented deviations turn only their exact failure into a skip. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findDeviation, STACK_DEVIATIONS } from '../../src/conformance/deviations.ts';

test('a deviation matches its script, line and message only', () => {
  const d = STACK_DEVIATIONS[0]!;
  const path = `test/fixtures/packetdrill/${d.script}`;
  assert.equal(findDeviation(path, d.line, `x ${d.match} y`), d);
  assert.equal(findDeviation(path, d.line + 1, d.match), undefined);
  assert.equal(findDeviation(path, d.line, 'some other failure'), undefined);
  assert.equal(findDeviation('other.pkt', d.line, d.match), undefined);
  assert.equal(findDeviation(undefined, d.line, d.match), undefined);
  for (const x of STACK_DEVIATIONS) assert.match(x.reason, /RFC \d+/, x.script);
});

test('each deviation has a kebab-case id, and an id names one behaviour (one reason)', () => {
  const reasons = new Map<string, string>();
  for (const d of STACK_DEVIATIONS) {
    assert.match(d.id, /^[a-z0-9]+(-[a-z0-9]+)*$/, d.script);
    const seen = reasons.get(d.id);
    if (seen !== undefined) assert.equal(d.reason, seen, `${d.id} names two different behaviours`);
    reasons.set(d.id, d.reason);
  }
});
