import assert from 'node:assert/strict';
import { test } from 'node:test';
import { el, escapeXml, niceTicks, serialize, svgDocument, tickLabel } from '../../src/plot/svg.ts';
import { allElements, parseXml } from './xml.ts';

test('escapeXml escapes markup characters and drops characters XML forbids', () => {
  assert.equal(escapeXml(`a<b>&"c'`), 'a&lt;b&gt;&amp;&quot;c&apos;');
  assert.equal(escapeXml('x\u0000\u0007y\tz\n'), 'xy\tz\n');
});

test('text and attributes with markup round-trip through a strict XML parse', () => {
  const nasty = `</text><script>alert("x")</script> & 'more' \u0001`;
  const doc = svgDocument(100, 50, [el('text', { x: 1, y: 2, 'data-note': nasty }, nasty)], `title ${nasty}`);
  const root = parseXml(doc);
  assert.equal(root.name, 'svg');
  assert.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
  const text = allElements(root).find((e) => e.name === 'text');
  assert.ok(text);
  assert.equal(text.text, nasty.replace('\u0001', ''));
  assert.equal(text.attrs['data-note'], nasty.replace('\u0001', ''));
  assert.equal(allElements(root).filter((e) => e.name === 'script').length, 0);
});

test('the checker itself rejects malformed XML', () => {
  for (const bad of [
    '<a><b></a></b>',
    '<a x="1" x="2"/>',
    '<a>&nbsp;</a>',
    '<a>1 < 2</a>',
    '<a/><b/>',
    '<a>',
    'text<a/>',
  ]) {
    assert.throws(() => parseXml(bad), Error, bad);
  }
  assert.doesNotThrow(() => parseXml('<?xml version="1.0"?>\n<a x=\'1\'><!-- c --><b/>t &amp; &#x41;</a>\n'));
});

test('serialize rejects invalid names and writes numbers compactly', () => {
  assert.throws(() => serialize(el('bad name')));
  assert.throws(() => serialize(el('g', { 'on click': 1 })));
  assert.equal(serialize(el('line', { x1: 1 / 3, y1: -0.0001, x2: undefined })), '<line x1="0.33" y1="0"/>');
});

test('niceTicks gives round steps covering the range', () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0, 0.35, 4), [0, 0.1, 0.2, 0.3]);
  assert.deepEqual(niceTicks(0, 0), [0, 1]);
  const big = niceTicks(0, 123456, 6);
  assert.equal(big[0], 0);
  assert.ok(big.every((v, i) => i === 0 || v - big[i - 1] === big[1] - big[0]));
  assert.equal(tickLabel(20000), '20k');
  assert.equal(tickLabel(3000000), '3M');
  assert.equal(tickLabel(0.30000000000000004), '0.3');
});
