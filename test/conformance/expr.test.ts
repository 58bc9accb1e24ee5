import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evalExpression, type PyValue, runCode } from '../../src/conformance/expr.ts';
import { tcpInfoVariables } from '../../src/conformance/runner.ts';
import { CODE_CONSTANTS } from '../../src/conformance/symbols.ts';

const env = (extra: Record<string, PyValue> = {}) =>
  new Map<string, PyValue>([...Object.entries(CODE_CONSTANTS), ...Object.entries(extra)]);

test('arithmetic, precedence and Python division semantics', () => {
  const v = new Map<string, PyValue>();
  assert.equal(evalExpression('1 + 2 * 3', v), 7);
  assert.equal(evalExpression('(1 + 2) * 3', v), 9);
  assert.equal(evalExpression('7 // 2', v), 3);
  assert.equal(evalExpression('-7 // 2', v), -4);
  assert.equal(evalExpression('-7 % 3', v), 2);
  assert.equal(evalExpression('7 / 2', v), 3.5);
  assert.equal(evalExpression('2 ** 3 ** 2', v), 512);
  assert.equal(evalExpression('-2 ** 2', v), -4);
  assert.equal(evalExpression('1 << 4 | 1', v), 17);
  assert.equal(evalExpression('0x10 & 0x18 ^ 1', v), 17);
  assert.equal(evalExpression('~0', v), -1);
});

test('comparisons chain, boolean operators short-circuit and return operands', () => {
  const v = new Map<string, PyValue>([['x', 5]]);
  assert.equal(evalExpression('1 < x <= 5', v), true);
  assert.equal(evalExpression('1 < x < 5', v), false);
  assert.equal(evalExpression('x == 5 and x != 4', v), true);
  assert.equal(evalExpression('0 or 7', v), 7);
  assert.equal(evalExpression('not x', v), false);
});

test('unknown names are errors, not silently false', () => {
  assert.throws(() => evalExpression('tcpi_rtt > 0', new Map()), /name 'tcpi_rtt' is not defined/);
});

test('asserts: pass, fail with message and values, multi-line, print ignored, variables persist', () => {
  const vars = env({ tcpi_state: 1, tcpi_snd_cwnd: 10 });
  assert.deepEqual(runCode('assert tcpi_state == TCP_ESTABLISHED, tcpi_state', vars), { ok: true });
  const r = runCode('\nprint("cwnd", tcpi_snd_cwnd)\nassert tcpi_snd_cwnd == 20, tcpi_snd_cwnd\n', vars);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.line, 3);
    assert.equal(r.kind, 'assert');
    assert.match(r.message, /assert tcpi_snd_cwnd == 20, tcpi_snd_cwnd -> 10 \(tcpi_snd_cwnd=10\)/);
  }
  assert.deepEqual(runCode('limit = tcpi_snd_cwnd * 2; assert limit == 20', vars), { ok: true });
  assert.deepEqual(runCode('assert limit == 20', vars), { ok: true });
  const two = runCode('assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd; assert tcpi_state == TCP_LISTEN', vars);
  assert.equal(two.ok, false);
});

test('syntax errors and unsupported statements are reported, never eval()ed', () => {
  const r = runCode('assert (1 +', new Map());
  assert.ok(!r.ok && /syntax error/.test(r.message));
  const r2 = runCode('import os', new Map());
  assert.ok(!r2.ok && /not supported/.test(r2.message));
  const r3 = runCode('assert __import__("os")', new Map());
  assert.ok(!r3.ok && /not supported/.test(r3.message));
});

test('tcp_info snapshot: Linux counts cwnd in segments, FreeBSD in bytes; state numbering per dialect', () => {
  const info = {
    state: 'ESTABLISHED' as const,
    cwndBytes: 11000,
    sndMss: 1000,
    timestamps: true,
    sack: true,
  };
  const linux = tcpInfoVariables(info, 'linux');
  assert.equal(linux.get('tcpi_state'), CODE_CONSTANTS.TCP_ESTABLISHED);
  assert.equal(linux.get('tcpi_snd_cwnd'), 11);
  assert.equal(linux.get('tcpi_options'), 3);
  const bsd = tcpInfoVariables(info, 'freebsd');
  assert.equal(bsd.get('tcpi_state'), CODE_CONSTANTS.TCPI_ESTABLISHED);
  assert.equal(bsd.get('tcpi_snd_cwnd'), 11000);
  assert.equal(tcpInfoVariables(undefined, 'freebsd').get('tcpi_state'), CODE_CONSTANTS.TCPI_CLOSED);
  assert.equal(linux.has('tcpi_rtt'), false);
});
