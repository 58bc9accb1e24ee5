/**
 * `sockstack tap` run as a child process inside a namespace the test creates:
 * with no service it answers ping until SIGTERM (exit 0, TAP gone); the kernel
 * there fetches its node:http page and /bytes/N with curl (keep-alive), talks
 * to its echo and discard services (stream sockets, UDP echo), and `--connect`
 * relays stdin to a kernel listener and, nc-style, both ways through `socat`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { createNetns, deleteNetns, uniqueName } from '../../src/node/netns.ts';
import { exited, lines, skipUnless } from './helpers.ts';

/** ping's count of replies ("N received"): with -c N -w DEADLINE it keeps probing until N arrive. */
function pingReplies(out: string): number {
  return Number(/(\d+) received/.exec(out)?.[1] ?? 0);
}

const root = new URL('../..', import.meta.url).pathname;
const PEER = `${root}scripts/kernel-peer.py`;

function namespace(t: TestContext): string {
  const ns = uniqueName('sscli');
  createNetns(ns);
  t.after(() => deleteNetns(ns));
  return ns;
}

function cli(t: TestContext, ns: string, args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, `${root}bin/sockstack.mjs`, 'tap', ...args], {
    stdio: [stdin, 'pipe', 'pipe'],
  });
  t.after(async () => {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await exited(c, 5000).catch(() => c.kill('SIGKILL'));
    }
  });
  return c;
}

function inNs(ns: string, argv: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.on('error', () => resolve({ code: null, out: '', err: `cannot run ${argv[0]}` }));
    let out = '';
    let err = '';
    c.stdout.on('data', (b) => {
      out += b;
    });
    c.stderr.on('data', (b) => {
      err += b;
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** The CLI logs to stderr; wrap it so `lines` can wait on it. */
function stderrLines(c: ChildProcess) {
  return lines(
    { stdout: c.stderr, stderr: null, once: c.once.bind(c) } as unknown as ChildProcess,
    'sockstack tap',
  );
}

describe('sockstack tap (CLI) with the kernel as peer', () => {
  it('--service http: the kernel pings it and curl fetches the page; SIGTERM exits 0', async (t) => {
    if (skipUnless(t, ['curl', 'ping'])) return;
    const ns = namespace(t);
    const tap = uniqueName('sstap');
    const c = cli(t, ns, [
      '--name',
      tap,
      '--address',
      '10.77.1.2/24',
      '--kernel-address',
      '10.77.1.1/24',
      '--service',
      'http',
    ]);
    await stderrLines(c).waitFor(/Ctrl-C/, 15_000);
    const ping = await inNs(ns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '-w', '10', '10.77.1.2']);
    assert.equal(ping.code, 0, ping.out + ping.err);
    const r = await inNs(ns, ['curl', '-sS', '--max-time', '10', 'http://10.77.1.2/hello']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /<h1>sockstack<\/h1><p>GET \/hello HTTP\/1\.1<\/p>/);
    assert.match(r.out, /<th>client<\/th><td>10\.77\.1\.1:\d+<\/td>/);
    assert.match(r.out, /<th>user-agent<\/th><td>curl\//);
    // /bytes/N after the page, on the same (keep-alive) connection.
    const n = 3_000_000;
    const d = await inNs(ns, [
      'curl',
      '-sS',
      '--fail',
      '--max-time',
      '20',
      '-o',
      '/dev/null',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{size_download} %{num_connects}\\n',
      'http://10.77.1.2/',
      `http://10.77.1.2/bytes/${n}`,
    ]);
    assert.equal(d.code, 0, d.err);
    const [page, bytes] = d.out.trim().split('\n');
    assert.match(page, /^200 \d+ 1$/);
    assert.equal(bytes, `200 ${n} 0`);
    const bad = await inNs(ns, [
      'curl',
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      'http://10.77.1.2/bytes/99999999999',
    ]);
    assert.equal(bad.out, '400');
    c.kill('SIGTERM');
    assert.equal(await exited(c, 5000), 0);
  });

  it('no --service: answers ping until SIGTERM, then exits 0 and the TAP is gone', async (t) => {
    if (skipUnless(t, ['ping'])) return;
    const ns = namespace(t);
    const tap = uniqueName('sstap');
    const c = cli(t, ns, ['--name', tap, '--address', '10.77.1.2/24', '--kernel-address', '10.77.1.1/24']);
    const log = stderrLines(c);
    await log.waitFor(/answering ARP and ping on 10\.77\.1\.2; Ctrl-C/, 15_000);
    assert.equal((await inNs(ns, ['ip', 'link', 'show', tap])).code, 0);
    const ping = await inNs(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '-w', '10', '10.77.1.2']);
    assert.equal(ping.code, 0, ping.out + ping.err);
    assert.ok(pingReplies(ping.out) >= 3, ping.out);
    c.kill('SIGTERM');
    assert.equal(await exited(c, 5000), 0);
    const gone = await inNs(ns, ['ip', 'link', 'show', tap]);
    assert.notEqual(gone.code, 0, `${tap} still exists:\n${gone.out}`);
  });

  it('--service echo: TCP and UDP echo on port 7', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const ns = namespace(t);
    const c = cli(t, ns, [
      '--name',
      uniqueName('sstap'),
      '--address',
      '10.77.1.2/24',
      '-k',
      '10.77.1.1/24',
      '--service',
      'echo',
    ]);
    await stderrLines(c).waitFor(/Ctrl-C/, 15_000);
    const py = [
      'import socket',
      's=socket.create_connection(("10.77.1.2",7),timeout=5)',
      'msg=bytes(range(256))*4000',
      's.sendall(msg); s.shutdown(socket.SHUT_WR)',
      'got=b""',
      'while True:',
      '  b=s.recv(65536)',
      '  if not b: break',
      '  got+=b',
      'assert got==msg,(len(got),len(msg))',
      'u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); u.settimeout(5)',
      'u.sendto(b"ping?",("10.77.1.2",7))',
      'print("tcp",len(got),"udp",u.recvfrom(100)[0].decode())',
    ].join('\n');
    const r = await inNs(ns, ['python3', '-c', py]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), 'tcp 1024000 udp ping?');
  });

  it('--service discard: reads everything, sends nothing, closes after the FIN', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const ns = namespace(t);
    const c = cli(t, ns, [
      '--name',
      uniqueName('sstap'),
      '-a',
      '10.77.1.2/24',
      '-k',
      '10.77.1.1/24',
      '-s',
      'discard',
    ]);
    await stderrLines(c).waitFor(/discard on TCP port 9; Ctrl-C/, 15_000);
    const py = [
      'import socket',
      's=socket.create_connection(("10.77.1.2",9),timeout=10)',
      's.sendall(bytes(1<<20)); s.shutdown(socket.SHUT_WR)',
      'print("eof", repr(s.recv(100)))',
    ].join('\n');
    const r = await inNs(ns, ['python3', '-c', py]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), "eof b''");
    c.kill('SIGINT');
    assert.equal(await exited(c, 5000), 0);
  });

  it('--connect, nc-style both ways through socat: 1 MiB echoed by cat, half-close at stdin EOF', async (t) => {
    if (skipUnless(t, ['socat'])) return;
    const ns = namespace(t);
    // `cat` answers until it reads EOF, which it only sees after our FIN (the half-close).
    const peer = spawn(
      'ip',
      ['netns', 'exec', ns, 'sh', '-c', 'exec socat -d -d -t 10 TCP-LISTEN:5201,reuseaddr EXEC:cat 2>&1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(() => {
      if (peer.exitCode === null) peer.kill('SIGKILL');
    });
    await lines(peer, 'socat').waitFor(/listening on/, 10_000);
    const c = cli(
      t,
      ns,
      [
        '--name',
        uniqueName('sstap'),
        '-a',
        '10.77.1.2/24',
        '-k',
        '10.77.1.1/24',
        '--connect',
        '10.77.1.1:5201',
      ],
      'pipe',
    );
    const msg = randomBytes(1 << 20);
    const out: Buffer[] = [];
    c.stdout?.on('data', (b: Buffer) => out.push(b));
    c.stdin?.end(msg);
    assert.equal(await exited(c, 20_000), 0);
    const got = Buffer.concat(out);
    assert.equal(got.length, msg.length);
    assert.equal(
      createHash('sha256').update(got).digest('hex'),
      createHash('sha256').update(msg).digest('hex'),
    );
    assert.equal(await exited(peer, 10_000), 0);
  });

  it('--connect to a closed port: exit 1 with ECONNREFUSED', async (t) => {
    if (skipUnless(t)) return;
    const ns = namespace(t);
    const c = cli(t, ns, [
      '--name',
      uniqueName('sstap'),
      '-a',
      '10.77.1.2/24',
      '-k',
      '10.77.1.1/24',
      '-c',
      '10.77.1.1:1',
    ]);
    const log = stderrLines(c);
    assert.equal(await exited(c, 15_000), 1);
    await log.waitFor(/connection to 10\.77\.1\.1:1: .*ECONNREFUSED/, 1000);
  });

  it('--connect relays stdin to a kernel listener and exits 0 when it is done', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const ns = namespace(t);
    // The listener binds to the wildcard address, so it can start before the TAP exists.
    const peer = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'python3',
        PEER,
        'recv',
        '--listen',
        '0.0.0.0',
        '--port',
        '5200',
        '--timeout',
        '20',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    t.after(() => {
      if (peer.exitCode === null) peer.kill('SIGKILL');
    });
    const out = lines(peer, 'kernel-peer recv');
    await out.waitFor(/ready/);
    const tap = uniqueName('sstap');
    const c = cli(
      t,
      ns,
      ['--name', tap, '--address', '10.77.1.2/24', '-k', '10.77.1.1/24', '--connect', '10.77.1.1:5200'],
      'pipe',
    );
    const msg = 'hello kernel, from sockstack tap --connect\n';
    c.stdin?.end(msg);
    const m = await out.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, 20_000);
    assert.equal(Number(m[1]), msg.length);
    assert.equal(m[2], createHash('sha256').update(msg).digest('hex'));
    assert.equal(await exited(c, 10_000), 0);
  });
});
