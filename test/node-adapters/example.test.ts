import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('examples/http-virtual-host.ts serves node:http from one virtual host to another and exits', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'examples/http-virtual-host.ts', '/hello?name=test'],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, `exit ${code}\n${out}\n${err}`);
  assert.match(out, /server: node:http listening on web \(10\.0\.0\.80\) port 80/);
  assert.match(out, /http\.get {2}-> 200 text\/plain/);
  assert.match(out, /Hello, test! You are 10\.0\.0\.2:\d+; this is hit 1\./);
  assert.match(out, /fetch {5}-> 200 text\/plain/);
  assert.match(out, /Hello, test! You are 10\.0\.0\.2:\d+; this is hit 2\./);
  assert.match(out, /web's TCP: 2 connections accepted/);
});
