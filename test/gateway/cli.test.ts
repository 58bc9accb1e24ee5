/**
 * `sockstack gateway` end to end without QEMU: the command runs as a child process on
 * a TCP port (-netdev stream, addr.type=inet), and a sockstack guest stack connects to it
 * the way QEMU would. Through the real OS dialer the guest fetches from an HTTP server on
 * the host's 127.0.0.1 via the host alias 10.0.2.2, pings, and an inbound forward (-t 0:7,
 * an ephemeral host port) reaches the guest's echo server. Loopback only.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { connectStreamLink } from '../../src/node/qemu-link.ts';
import { StackRuntime } from '../../src/node/stack-runtime.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { lines } from '../kernel/helpers.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

it('sockstack gateway: a guest on its stream port reaches the host loopback, pings, and is reached by a forward', {
  timeout: 60_000,
}, async (t) => {
  const page = 'hello from the host\n'.repeat(5000);
  const web = http.createServer((_req, res) => res.end(page));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
  t.after(() => web.close());
  const webPort = (web.address() as net.AddressInfo).port;

  const dir = mkdtempSync(join(tmpdir(), 'gateway-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pcapPath = join(dir, 'guest.pcapng');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      'gateway',
      '--port',
      '0',
      '--status',
      '0',
      '-t',
      '0:7',
      '-u',
      '0:7',
      '--pcap',
      pcapPath,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  // The command logs on stderr: read it as the helper's stdout.
  const err = lines({ stdout: child.stderr, stderr: null, once: child.once.bind(child) } as never, 'gateway');
  const where = await err.waitFor(/waiting for QEMU on 127\.0\.0\.1:(\d+)/, 20_000);
  const fwd = await err.waitFor(/forwarding 127\.0\.0\.1:(\d+) -> guest port 7/, 5_000);
  const ufwd = await err.waitFor(/forwarding udp 127\.0\.0\.1:(\d+) -> guest port 7/, 5_000);

  const rt = new StackRuntime();
  t.after(() => rt.stop());
  const link = await connectStreamLink({ port: Number(where[1]) });
  t.after(() => link.close());
  const guest = rt.addStack(
    new Stack({ clock: rt.clock, rng: new CryptoRng(), name: 'guest', privileged: true }),
  );
  guest.addInterface({ name: 'eth0', device: link, addresses: ['10.0.2.15/24'] });
  guest.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.2.2' });

  const s = guest.socket(AF_INET, SOCK_STREAM);
  s.settimeout(10);
  await s.connect(['10.0.2.2', webPort]);
  await s.sendall(new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n'));
  let reply = '';
  for (let i = 0; i < 10_000; i++) {
    const b = await s.recv(65536);
    if (b.length === 0) break;
    reply += new TextDecoder().decode(b);
  }
  await s.close();
  assert.match(reply, /^HTTP\/1\.1 200/);
  assert.ok(reply.endsWith(page), 'the page arrived whole');

  const r = await guest.ping('10.0.2.2', { timeout: 3_000_000 });
  assert.ok(r.ok, JSON.stringify(r));

  // An echo server on the guest's port 7, reached from the host through the forward.
  const l = guest.socket(AF_INET, SOCK_STREAM);
  await l.bind(['0.0.0.0', 7]);
  await l.listen(4);
  const served = (async () => {
    const [c] = await l.accept();
    for (let i = 0; i < 1000; i++) {
      const b = await c.recv(65536);
      if (b.length === 0) break;
      await c.sendall(b);
    }
    await c.close();
  })();
  const echoed = await new Promise<string>((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port: Number(fwd[1]) }, () =>
      c.end('ping through the forward'),
    );
    let got = '';
    c.on('data', (d) => {
      got += d.toString();
    });
    c.on('end', () => resolve(got));
    c.on('error', (e) => reject(new Error(`${e.message}\n${err.out}`)));
    c.setTimeout(10_000, () => reject(new Error('forward timed out')));
  });
  assert.equal(echoed, 'ping through the forward', err.out);
  await served;
  await l.close();

  // UDP echo on the guest's port 7, reached through the -u forward.
  const ue = guest.socket(AF_INET, SOCK_DGRAM);
  await ue.bind(['0.0.0.0', 7]);
  const uecho = (async () => {
    const [d, from] = await ue.recvfrom(2048);
    await ue.sendto(d, from!);
  })();
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  const uanswer = new Promise<string>((resolve) => client.once('message', (m) => resolve(m.toString())));
  client.send('datagram through the forward', Number(ufwd[1]), '127.0.0.1');
  assert.equal(await uanswer, 'datagram through the forward');
  await uecho;
  await ue.close();

  child.kill('SIGTERM');
  await err.waitFor(/tcp \d+ open\/(\d+) total.*out \d+ B, in (\d+) B/, 10_000);
  const code = await new Promise<number | null>((r) =>
    child.exitCode !== null ? r(child.exitCode) : child.once('exit', r),
  );
  assert.equal(code, 0);
  const status = /tcp \d+ open\/(\d+) total.*in (\d+) B/.exec(err.out)!;
  assert.ok(Number(status[1]) >= 2, status[0]);
  assert.ok(Number(status[2]) >= page.length, status[0]);
  // The capture holds the guest link's frames: a pcapng file (section header block first).
  const cap = readFileSync(pcapPath);
  assert.equal(cap.readUInt32LE(0), 0x0a0d0d0a);
  assert.ok(cap.length > page.length, `capture of ${cap.length} bytes holds the page's frames`);
});
