// `sockstack serve` as a user runs it: a service on the virtual server, a scripted client.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chargenLine } from '../../src/cli/serve.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function serve(args: string[], input = '') {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', ...args], {
    cwd: root,
    input,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('echo: each request comes back; both sides report', () => {
  const r = serve(['--requests', '2']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /server echo listening on 0\.0\.0\.0:7/);
  assert.match(
    r.out,
    /client #1 from 10\.0\.1\.2:\d+: sent 'request 1: hello, echo server\\n', got back 'request 1: hello, echo server\\n'/,
  );
  assert.match(r.out, /server echoed 30 bytes to 10\.0\.1\.2:\d+/);
  assert.match(r.out, /2 request\(s\) to echo on 10\.0\.2\.2:7, 0 failed/);
});

test('http from a script on stdin: 200, 200, 404', () => {
  const r = serve(['-s', 'http', '--script', '-'], '/\n/hello\n/nope\n');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /client #1 GET \/ → HTTP\/1\.0 200 OK/);
  assert.match(r.out, /client #2 GET \/hello → HTTP\/1\.0 200 OK, 13 bytes of body/);
  assert.match(r.out, /'Hello, world'/);
  assert.match(r.out, /client #3 GET \/nope → HTTP\/1\.0 404 Not Found/);
  assert.match(r.out, /server GET \/nope from 10\.0\.1\.2:\d+ → 404 Not Found/);
});

test('chargen under loss: the RFC 864 pattern, intact; discard', () => {
  assert.equal(chargenLine(0).length, 74);
  assert.equal(chargenLine(1)[0], '!');
  const r = serve(['-s', 'chargen', '--bytes', '5000', '--loss', '10', '--requests', '2', '--seed', '3']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /read 5000 bytes of the RFC 864 pattern/);
  const d = serve(['-s', 'discard', '--requests', '1', '--port', '9999']);
  assert.equal(d.code, 0, d.err);
  assert.match(d.out, /server discarded 33 bytes from/);
});

test('usage errors exit 2', () => {
  assert.equal(serve(['-s', 'gopher']).code, 2);
  assert.equal(serve(['-s', 'http', '--script', '-'], 'not-a-path\n').code, 2);
});
