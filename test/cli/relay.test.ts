// `sockstack relay` as a user runs it: --help, usage errors, and a live relay that two
// WebSocket clients share, stopped with SIGTERM.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { connectWebSocketLink } from '../../src/link/websocket.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = (a: string[]) => ['--import', 'tsx', 'src/cli/main.ts', 'relay', ...a];

test('relay --help explains the framing and the options; bad options are usage errors', () => {
  const h = spawnSync(process.execPath, args(['--help']), { cwd: root, encoding: 'utf8' });
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout, /one Ethernet frame[\s\S]*--max-clients N[\s\S]*--tunnel-port PORT/);
  for (const bad of [['--port', '70000'], ['--path', 'net'], ['--tunnel-peer', '127.0.0.1:9'], ['x']]) {
    const r = spawnSync(process.execPath, args(bad), { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^sockstack relay: .*\nTry 'sockstack relay --help'/);
  }
});

test('a running relay joins two WebSocket clients; SIGTERM stops it with a summary', {
  timeout: 30_000,
}, async () => {
  const child = spawn(process.execPath, args(['--port', '0', '--tunnel-port', '0']), {
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
        const m = /sockstack relay: (ws:\/\/127\.0\.0\.1:\d+\/) /.exec(err);
        if (m && err.includes('Ctrl-C to stop')) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    assert.match(err, /UDP-tunnel hub on udp port \d+/);
    const a = await connectWebSocketLink(url, { WebSocket, timeoutMs: 5000 });
    const b = await connectWebSocketLink(url, { WebSocket, timeoutMs: 5000 });
    const got = new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('b got nothing in 5 s')), 5000);
      b.onReceive = (f) => {
        clearTimeout(timer);
        resolve(f);
      };
    });
    const frame = new Uint8Array(60).fill(0x5a);
    frame.fill(0xff, 0, 6);
    a.transmit(frame.slice());
    assert.deepEqual([...(await got)], [...frame]);
    await Promise.all([a.close(), b.close()]);
  } finally {
    child.kill('SIGTERM');
  }
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
  if (code === 'still running') child.kill('SIGKILL');
  assert.equal(code, 0, err);
  assert.match(err, /joined on relay\.1 \(1 connected\)[\s\S]*joined on relay\.2 \(2 connected\)/);
  assert.match(err, /2 client\(s\), 1 frames in, 1 out/);
});
