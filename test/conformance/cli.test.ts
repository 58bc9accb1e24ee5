import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { conformanceCommand, findScripts } from '../../src/cli/conformance.ts';
import { fakeFactory } from './fake-target.ts';

const CORPUS = new URL('../fixtures/packetdrill/', import.meta.url).pathname;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

function fixtureDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-conf-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'a-pass.pkt'), '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = 0\n');
  writeFileSync(
    join(dir, 'sub', 'b-fail.pkt'),
    '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = -1 EBADF (x)\n',
  );
  writeFileSync(
    join(dir, 'sub', 'c-skip.pkt'),
    '--bind_port=9000\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n',
  );
  writeFileSync(join(dir, 'notes.txt'), 'not a script');
  return dir;
}

test('finds .pkt files recursively, prints one line each and the summary; exit code 1 on failure', async () => {
  const dir = fixtureDir();
  assert.equal(findScripts(dir).length, 3);
  const c = capture();
  const code = await conformanceCommand([dir], fakeFactory(), c.io);
  assert.equal(code, 1);
  assert.match(c.out[0]!, /as a set/);
  assert.match(c.out[1]!, /^PASS .*a-pass\.pkt$/);
  assert.match(c.out[2]!, /^FAIL .*b-fail\.pkt:2:1: close: expected result -1 \(EBADF\) but got 0/);
  assert.match(c.out[3]!, /^SKIP .*c-skip\.pkt:1: --bind_port not supported by this runner/);
  assert.equal(c.out.at(-1), '1 passed, 1 failed, 1 skipped');
});

test('--json and --exact-options', async () => {
  const dir = fixtureDir();
  const c = capture();
  const code = await conformanceCommand(
    ['--json', '--exact-options', join(dir, 'a-pass.pkt')],
    fakeFactory(),
    c.io,
  );
  assert.equal(code, 0);
  const doc = JSON.parse(c.out.join('\n'));
  assert.equal(doc.optionsMode, 'exact');
  assert.deepEqual([doc.passed, doc.failed, doc.skipped], [1, 0, 0]);
  assert.equal(doc.scripts[0].status, 'passed');
});

test('usage errors and an unreadable path exit with 2; the default target is the stack', async () => {
  let c = capture();
  assert.equal(await conformanceCommand([], fakeFactory(), c.io), 2);
  c = capture();
  assert.equal(await conformanceCommand(['--bogus', 'x'], fakeFactory(), c.io), 2);
  c = capture();
  assert.equal(await conformanceCommand(['--tolerance-usecs=soon', 'x'], fakeFactory(), c.io), 2);
  assert.match(c.err[0]!, /--tolerance-usecs needs a whole number of microseconds, got 'soon'/);
  c = capture();
  assert.equal(await conformanceCommand(['x.pkt'], undefined, c.io), 2);
  assert.match(c.err[0]!, /cannot read/);
  c = capture();
  assert.equal(await conformanceCommand([join(fixtureDir(), 'a-pass.pkt')], undefined, c.io), 0);
  assert.match(c.out[1]!, /^PASS /);
});

test('the whole curated corpus runs to a verdict on the fake target (no runner crashes)', async () => {
  const c = capture();
  await conformanceCommand(['--json', CORPUS], fakeFactory(), c.io);
  const doc = JSON.parse(c.out.join('\n'));
  assert.equal(doc.passed + doc.failed + doc.skipped, 173);
  for (const s of doc.scripts) assert.doesNotMatch(s.message ?? '', /runner error|syntax error/, s.path);
});
