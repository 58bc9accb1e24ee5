// `sockstack wisp` as a user runs it: --help, usage errors, and a live server that a
// client uses to reach a loopback echo server, stopped with SIGTERM.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectWisp } from '../../src/node/wisp-client.ts';
import { AF_INET, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Socket } from '../../src/socket/socket.ts';
import { wispBackend } from '../../src/wisp/backend.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = (a: string[]) => ['--import', 'tsx', 'src/cli/main.ts', 'wisp', ...a];

test('wisp --help explains the allow-list and the options; bad options are usage errors', () => {
  const h = spawnSync(process.execPath, args(['--help']), { cwd: root, encoding: 'utf8' });
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout, /^sockstack wisp — /);
  assert.match(h.stdout, /link-local[\s\S]*--allow HOST:PORT[\s\S]*--max-streams N/);
  for (const bad of [
    ['--port', '70000'],
    ['--path', 'wisp'],
    ['--allow', 'nohost'],
    ['--allow', '10.0.0.0/99:80'],
    ['--buffer', '0'],
    ['x'],
  ]) {
    const r = spawnSync(process.execPath, args(bad), { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^sockstack wisp: .*\nTry 'sockstack wisp --help'/);
  }
});

test('a running server relays a socket to a loopback echo server and refuses others; SIGTERM stops it', {
  timeout: 30_000,
}, async () => {
  const echo = net.createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const port = (echo.address() as net.AddressInfo).port;
  const child = spawn(process.execPath, args(['--port', '0', '--allow', `127.0.0.1:${port}`]), {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.setEncoding('utf8');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed in 15 s: ${err}`)), 15_000);
      child.stderr.on('data', (d: string) => {
        err += d;
        const m = /sockstack wisp: (ws:\/\/127\.0\.0\.1:\d+\/) /.exec(err);
        if (m && err.includes('Ctrl-C to stop')) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    assert.match(err, new RegExp(`destinations: only 127\\.0\\.0\\.1:${port}`));
    const client = await connectWisp(url, { timeoutMs: 5000 });
    const backend = wispBackend(client);
    const sock = new Socket(backend, AF_INET, SOCK_STREAM);
    await sock.connect(['127.0.0.1', port]);
    await sock.sendall('over the cli');
    assert.equal(new TextDecoder().decode(await sock.recv(1024)), 'over the cli');
    await sock.close();
    const other = new Socket(backend, AF_INET, SOCK_STREAM);
    await assert.rejects(other.connect(['127.0.0.1', port === 65535 ? 1 : port + 1]), { code: 'EACCES' });
    client.close();
  } finally {
    child.kill('SIGTERM');
    echo.close();
  }
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
  if (code === 'still running') child.kill('SIGKILL');
  assert.equal(code, 0, err);
  assert.match(err, /refused: 127\.0\.0\.1:\d+ is not allowed/);
  assert.match(err, /1 client\(s\), 1 stream\(s\) opened, 1 refused/);
});
