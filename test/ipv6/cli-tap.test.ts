/**
 * `sockstack tap` with IPv6 addresses, run as a child process inside a namespace the
 * test creates: the kernel side gets its IPv6 address too, pings the stack over IPv6,
 * and talks to the echo service over TCP and UDP on IPv6 and (the listener is a
 * dual-stack AF_INET6 socket) over IPv4.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { describe, it, type TestContext } from 'node:test';
import { createNetns, deleteNetns, uniqueName } from '../../src/node/netns.ts';
import { exited, lines, skipUnless } from '../kernel/helpers.ts';

const root = new URL('../..', import.meta.url).pathname;

function namespace(t: TestContext): string {
  const ns = uniqueName('ssv6cli');
  createNetns(ns);
  t.after(() => deleteNetns(ns));
  return ns;
}

function cli(t: TestContext, ns: string, args: string[]): ChildProcess {
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, `${root}bin/sockstack.mjs`, 'tap', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
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
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/**
 * Waits (bounded: 100 checks, 100 ms apart) until no IPv6 address in `ns` is tentative: until
 * then the kernel cannot use its address (connect fails at once with EADDRNOTAVAIL, which
 * curl does not retry), and DAD takes a second or more on a busy machine.
 */
async function kernelDadDone(ns: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await inNs(ns, ['ip', '-6', 'addr', 'show', 'tentative']);
    if (r.code === 0 && r.out.trim() === '') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the kernel's IPv6 addresses in ${ns} stayed tentative`);
}

describe('sockstack tap with IPv6 addresses, the kernel as peer', () => {
  it('ping -6, TCP and UDP echo over IPv6, and IPv4 to the same dual-stack listener', async (t) => {
    if (skipUnless(t, ['ping', 'python3'])) return;
    const ns = namespace(t);
    const tap = uniqueName('ssv6t');
    const c = cli(t, ns, [
      '--name',
      tap,
      '--address',
      '10.77.6.2/24,fd00:77:6::2/64',
      '--kernel-address',
      '10.77.6.1/24,fd00:77:6::1/64',
      '--service',
      'echo',
    ]);
    const log = lines(
      { stdout: c.stderr, stderr: null, once: c.once.bind(c) } as unknown as ChildProcess,
      'sockstack tap',
    );
    await log.waitFor(
      /10\.77\.6\.2, fd00:77:6::2 on .*kernel side 10\.77\.6\.1\/24, fd00:77:6::1\/64/,
      15_000,
    );
    await log.waitFor(/Ctrl-C/, 15_000);
    // The kernel's address is tentative until its DAD is done: ping keeps probing until -w.
    const ping = await inNs(ns, [
      'ping',
      '-6',
      '-c',
      '2',
      '-i',
      '0.2',
      '-W',
      '2',
      '-w',
      '15',
      'fd00:77:6::2',
    ]);
    assert.equal(ping.code, 0, ping.out + ping.err);
    const py = [
      'import socket',
      'def echo(fam, addr):',
      '  s=socket.socket(fam, socket.SOCK_STREAM); s.settimeout(5); s.connect(addr); peer=s.getpeername()[0]',
      '  msg=bytes(range(256))*2000',
      '  s.sendall(msg); s.shutdown(socket.SHUT_WR)',
      '  got=b""',
      '  while True:',
      '    b=s.recv(65536)',
      '    if not b: break',
      '    got+=b',
      '  assert got==msg,(len(got),len(msg))',
      '  s.close(); return len(got), peer',
      'n6,p6=echo(socket.AF_INET6, ("fd00:77:6::2",7,0,0))',
      'n4,p4=echo(socket.AF_INET, ("10.77.6.2",7))',
      'u=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); u.settimeout(5)',
      'u.sendto(b"v6?",("fd00:77:6::2",7))',
      'd,src=u.recvfrom(100)',
      'print("tcp6",n6,p6,"tcp4",n4,p4,"udp6",d.decode(),src[0])',
    ].join('\n');
    const r = await inNs(ns, ['python3', '-c', py]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), 'tcp6 512000 fd00:77:6::2 tcp4 512000 10.77.6.2 udp6 v6? fd00:77:6::2');
    c.kill('SIGTERM');
    assert.equal(await exited(c, 5000), 0);
  });

  it('--service http over IPv6: curl -6 fetches the page and /bytes/N; --connect [ADDR]:PORT to a Python AF_INET6 server', async (t) => {
    if (skipUnless(t, ['curl', 'python3'])) return;
    const ns = namespace(t);
    const tap = uniqueName('ipv6mh');
    const c = cli(t, ns, [
      '--name',
      tap,
      '--address',
      '10.77.8.2/24,fd00:77:8::2/64',
      '--kernel-address',
      '10.77.8.1/24,fd00:77:8::1/64',
      '--service',
      'http',
    ]);
    const log = lines(
      { stdout: c.stderr, stderr: null, once: c.once.bind(c) } as unknown as ChildProcess,
      'sockstack tap',
    );
    await log.waitFor(/Ctrl-C/, 15_000);
    await kernelDadDone(ns);
    const page = await inNs(ns, [
      'curl',
      '-6',
      '-sS',
      '--retry',
      '10',
      '--retry-connrefused',
      '--retry-delay',
      '1',
      '--max-time',
      '20',
      'http://[fd00:77:8::2]/hello',
    ]);
    assert.equal(page.code, 0, page.err);
    assert.match(page.out, /<h1>sockstack<\/h1><p>GET \/hello HTTP\/1\.1<\/p>/);
    assert.match(page.out, /<th>client<\/th><td>fd00:77:8::1:\d+<\/td>/);
    assert.match(page.out, /<th>server<\/th><td>fd00:77:8::2:80 /);
    const n = 3_000_000;
    const bulk = await inNs(ns, [
      'curl',
      '-6',
      '-sS',
      '--max-time',
      '30',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{size_download}',
      `http://[fd00:77:8::2]/bytes/${n}`,
    ]);
    assert.equal(bulk.code, 0, bulk.err);
    assert.equal(bulk.out, `200 ${n}`);
    c.kill('SIGTERM');
    assert.equal(await exited(c, 5000), 0);

    // The stack as the client: a Python AF_INET6 server in the namespace echoes in upper case.
    const server = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'python3',
        '-c',
        [
          'import socket',
          's=socket.socket(socket.AF_INET6, socket.SOCK_STREAM)',
          's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
          's.bind(("::", 5601, 0, 0)); s.listen(1); s.settimeout(30)',
          'print("ready", flush=True)',
          'c, peer = s.accept(); c.settimeout(10); got=b""',
          'while True:',
          '  b=c.recv(65536)',
          '  if not b: break',
          '  got+=b',
          'c.sendall(got.upper()); c.close()',
          'print("peer", peer[0], len(got), flush=True)',
        ].join('\n'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(() => {
      if (server.exitCode === null) server.kill('SIGKILL');
    });
    const sout = lines(server, 'python AF_INET6 server');
    await sout.waitFor(/ready/, 10_000);
    const client = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        `${root}bin/sockstack.mjs`,
        'tap',
        '--name',
        uniqueName('ipv6mc'),
        '--address',
        'fd00:77:9::2/64',
        '--kernel-address',
        'fd00:77:9::1/64',
        '--connect',
        '[fd00:77:9::1]:5601',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    t.after(() => {
      if (client.exitCode === null) client.kill('SIGKILL');
    });
    const cout = lines(client, 'sockstack tap --connect');
    client.stdin?.end('hello over ipv6\n');
    await cout.waitFor(/HELLO OVER IPV6/, 30_000);
    assert.equal(await exited(client, 10_000), 0, cout.err);
    const m = await sout.waitFor(/peer (\S+) (\d+)/, 10_000);
    assert.deepEqual([m[1], m[2]], ['fd00:77:9::2', '16']);
  });

  it('rejects addresses that are neither family', async (t) => {
    if (skipUnless(t)) return;
    const c = spawn(process.execPath, [`${root}bin/sockstack.mjs`, 'tap', '-a', 'fd00::zz/64'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    c.stderr.on('data', (b) => {
      err += b;
    });
    assert.equal(await exited(c, 10_000), 2);
    assert.match(err, /--address: 'fd00::zz\/64' is not A\.B\.C\.D\/N or IPV6\/N/);
  });
});
