// `sockstack nc` as a user runs it: both ends in one process, data through stdin/stdout.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPcap } from '../../src/link/pcap.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function nc(args: string[], input?: Uint8Array | string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'nc', ...args], {
    cwd: root,
    input: input ?? '',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined },
  });
  return { code: r.status, out: r.stdout, err: r.stderr.toString('utf8') };
}

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

test('stdin goes from the client through the router to the server, which writes it to stdout', () => {
  const r = nc(['7', '-v'], 'hello\n');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.toString('utf8'), 'hello\n');
  assert.match(r.err, /client: connected 10\.0\.1\.2:\d+ → 10\.0\.2\.2:7/);
  assert.match(r.err, /done: 6 bytes sent, 6 received/);
});

test('a large file under loss and delay arrives byte-exact; retransmissions reported; pcap written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-nc-'));
  const data = bytes(600_000);
  const src = join(dir, 'in.bin');
  writeFileSync(src, data);
  const pcap = join(dir, 'nc.pcapng');
  const r = nc([
    '--send',
    src,
    '--loss',
    '2',
    '--delay',
    '10',
    '-v',
    '--pcap',
    pcap,
    '--listen-port',
    '9000',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(new Uint8Array(r.out), data);
  const rt = Number(/(\d+) retransmissions/.exec(r.err)?.[1]);
  assert.ok(rt > 0, r.err);
  const file = readPcap(readFileSync(pcap));
  assert.equal(file.interfaces.length, 2);
  assert.ok(file.records.length > 400);
});

test('-l: the listening server sends, the connecting client receives; -t traces every packet', () => {
  const r = nc(['-l', '8080', '--text', 'Hello, world', '-t']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.toString('utf8'), 'Hello, world\n');
  assert.match(r.err, /1\/3 handshake: SYN \(client → server\)/);
  assert.match(r.err, /data: server → client 'Hello, world\\n'/);
  assert.match(r.err, /FIN from server/);
});

test('UDP: datagrams arrive in order on a clean network; loss drops some of them', () => {
  const clean = nc(['-u', '--datagram', '500'], bytes(5000));
  assert.equal(clean.code, 0, clean.err);
  assert.deepEqual(new Uint8Array(clean.out), bytes(5000));
  const lossy = nc(['-u', '--loss', '20', '-v', '--datagram', '100'], bytes(10000));
  assert.equal(lossy.code, 0, lossy.err);
  assert.ok(lossy.out.length < 10000 && lossy.out.length > 0);
  assert.equal(lossy.out.length % 100, 0, 'whole datagrams or nothing');
});

test('usage errors exit 2; an unreadable file exits 1', () => {
  assert.equal(nc(['notaport']).code, 2);
  assert.equal(nc(['--text', 'a', '--send', 'b']).code, 2);
  assert.equal(nc(['--send', '/nonexistent/file']).code, 1);
});

test('progress: a bar with percent, rate and ETA on a terminal (stderr); nothing of it in a pipe', (t) => {
  if (spawnSync('script', ['--version']).status !== 0) return t.skip('script(1) is not installed (no pty)');
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-nc-'));
  const data = bytes(1_500_000, 9);
  writeFileSync(join(dir, 'in.bin'), data);
  // script(1) gives the command a pseudo-terminal; stdout goes to a file, stderr stays on the pty.
  const cmd = `"${process.execPath}" --import tsx src/cli/main.ts nc --send "${join(dir, 'in.bin')}" 7 > "${join(dir, 'out.bin')}"`;
  const r = spawnSync('script', ['-q', '-e', '-c', cmd, join(dir, 'tty.txt')], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1' },
  });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'out.bin'))), data);
  const tty = readFileSync(join(dir, 'tty.txt'), 'utf8');
  assert.match(tty, /\rsent \[#+\.*\] +\d+% [\d.]+ KiB\/1\.4 MiB [\d.]+ [KM]iB\/s ETA \d+:\d\d/);
  assert.match(tty, /100% 1\.4 MiB\/1\.4 MiB/);
  // The same run with stderr on a pipe: no bar, no carriage returns.
  const piped = nc(['--send', join(dir, 'in.bin'), '7']);
  assert.equal(piped.code, 0, piped.err);
  assert.doesNotMatch(piped.err, /ETA|\r/);
});
