/**
 * The gateway with the Wisp dialer (src/gateway/wisp-dialer.ts): a guest stack on a
 * memory cable reaches the host's loopback through the gateway, whose host-side
 * connections are streams of one Wisp connection to our Wisp server on 127.0.0.1 (as a
 * gateway in a web page would). Real time (StackRuntime), since the Wisp server's sockets
 * are real; every wait is bounded. All traffic stays on loopback.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';
import { it } from 'node:test';
import { WebSocket } from 'ws';
import { Gateway } from '../../src/gateway/gateway.ts';
import { WispDialer } from '../../src/gateway/wisp-dialer.ts';
import type { Device } from '../../src/link/device.ts';
import { Cable } from '../../src/link/memory.ts';
import { connectStreamLink } from '../../src/node/qemu-link.ts';
import { StackRuntime } from '../../src/node/stack-runtime.ts';
import { startWispServer } from '../../src/node/wisp-server.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { WispClient, type WispTransportConstructor } from '../../src/wisp/client.ts';
import { lines } from '../kernel/helpers.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

it('a guest fetches and uploads byte-exact, is refused, and sends UDP through a gateway whose dialer is Wisp', {
  timeout: 60_000,
}, async (t) => {
  // Host side: a server on 127.0.0.1 that sends a file, then reads what the client sends
  // until EOF... which a Wisp stream cannot carry (no half-close), so the client sends a
  // length first and the server answers with the sha256 of what it read.
  const file = new Uint8Array(randomBytes(3 * (1 << 20) + 4321));
  const upload = new Uint8Array(randomBytes((1 << 20) + 77));
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.write(file);
    let want = -1;
    const parts: Buffer[] = [];
    let have = 0;
    s.on('data', (d: Buffer) => {
      parts.push(d);
      have += d.length;
      const all = Buffer.concat(parts);
      if (want < 0 && all.length >= 4) want = all.readUInt32BE(0);
      if (want >= 0 && have >= 4 + want) s.end(sha(all.subarray(4, 4 + want)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r())); // nothing listens there now
  const echo = dgram.createSocket('udp4');
  echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', () => r()));
  t.after(() => echo.close());
  const udpPort = (echo.address() as AddressInfo).port;

  const wisp = await startWispServer({ allow: ['127.0.0.1:*'] });
  t.after(() => wisp.close());
  const client = await WispClient.connect(wisp.url, {
    WebSocket: WebSocket as unknown as WispTransportConstructor,
  });
  t.after(() => client.close());

  const rt = new StackRuntime();
  t.after(() => rt.stop());
  const rng = new CryptoRng();
  const cable = rt.add(new Cable({ clock: rt.clock, rng, mtu: 1500 }));
  // The cable delivers when the driver polls it; a frame sent from outside a poll (a UDP
  // sendto, a host socket's callback) must wake the driver, as a real link sends at once.
  const kicking = (d: Device): Device => ({
    name: d.name,
    linkType: d.linkType,
    mtu: d.mtu,
    get onReceive() {
      return d.onReceive;
    },
    set onReceive(h) {
      d.onReceive = h;
    },
    transmit(frame) {
      d.transmit(frame);
      rt.kick();
    },
  });
  const log: string[] = [];
  const gw = new Gateway({
    clock: rt.clock,
    rng,
    device: kicking(cable.b),
    dialer: new WispDialer(client),
    log: (l) => log.push(l),
  });
  rt.addStack(gw.stack);
  const guest = rt.addStack(new Stack({ clock: rt.clock, rng, name: 'guest', privileged: true }));
  guest.addInterface({ name: 'eth0', device: kicking(cable.a), addresses: ['10.0.2.15/24'] });
  guest.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.2.2' });

  // TCP to the host alias: the file down, the upload up, its hash back.
  const s = guest.socket(AF_INET, SOCK_STREAM);
  s.settimeout(20);
  await s.connect(['10.0.2.2', port]);
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, upload.length);
  const sending = (async () => {
    await s.sendall(head);
    await s.sendall(upload);
  })();
  const got: Uint8Array[] = [];
  let n = 0;
  for (let i = 0; i < 100_000; i++) {
    const b = await s.recv(65536);
    if (b.length === 0) break;
    got.push(b);
    n += b.length;
  }
  await sending;
  await s.close();
  const all = Buffer.concat(got);
  assert.equal(n, file.length + 64, 'the file, then the hex sha256 of the upload');
  assert.equal(sha(all.subarray(0, file.length)), sha(file), 'the file arrived byte-exact');
  assert.equal(all.subarray(file.length).toString(), sha(upload), 'the upload arrived byte-exact');

  // A port nothing listens on: the Wisp server's CLOSE (refused) becomes the guest's RST.
  const r = guest.socket(AF_INET, SOCK_STREAM);
  r.settimeout(10);
  await assert.rejects(r.connect(['10.0.2.2', closedPort]), { code: 'ECONNREFUSED' });
  await r.close();
  assert.ok(
    log.some((l) => l.includes(`127.0.0.1:${closedPort}`) && l.includes('ECONNREFUSED')),
    log.join('\n'),
  );

  // UDP through a Wisp UDP stream.
  const u = guest.socket(AF_INET, SOCK_DGRAM);
  u.settimeout(10);
  await u.bind(['0.0.0.0', 0]);
  await u.sendto(new TextEncoder().encode('hello'), ['10.0.2.2', udpPort]);
  const [reply, from] = await u.recvfrom(100);
  assert.equal(new TextDecoder().decode(reply), 'echo:hello');
  assert.deepEqual(from, ['10.0.2.2', udpPort]);
  await u.close();
  assert.ok(gw.stats.bytesIn >= file.length, JSON.stringify(gw.stats));
  assert.ok(
    wisp.stats.streamsOpened >= 3,
    `TCP, refused TCP and UDP went through Wisp: ${JSON.stringify(wisp.stats)}`,
  );
  gw.close();
});

it('sockstack gateway --wisp URL: the command opens the guest flows through the Wisp server', {
  timeout: 60_000,
}, async (t) => {
  const page = 'through wisp\n'.repeat(3000);
  const web = net.createServer((s) => {
    s.on('error', () => {});
    s.end(page);
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
  t.after(() => web.close());
  const webPort = (web.address() as AddressInfo).port;
  const wisp = await startWispServer({ allow: ['127.0.0.1:*'] });
  t.after(() => wisp.close());

  const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', main, 'gateway', '--port', '0', '--status', '0', '--wisp', wisp.url],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const err = lines({ stdout: child.stderr, stderr: null, once: child.once.bind(child) } as never, 'gateway');
  const where = await err.waitFor(/waiting for QEMU on 127\.0\.0\.1:(\d+)/, 20_000);

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
  let got = '';
  for (let i = 0; i < 10_000; i++) {
    const b = await s.recv(65536);
    if (b.length === 0) break;
    got += new TextDecoder().decode(b);
  }
  await s.close();
  assert.equal(got, page);
  assert.ok(wisp.stats.streamsOpened >= 1, JSON.stringify(wisp.stats));
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) =>
    child.exitCode !== null ? r(child.exitCode) : child.once('exit', r),
  );
  assert.equal(code, 0);
});

it('sockstack gateway --wisp refuses a URL that is not ws:// or wss://', async () => {
  const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', main, 'gateway', '--port', '0', '--wisp', 'http://x/'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let out = '';
  child.stderr!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  assert.equal(code, 2, out);
  assert.match(out, /--wisp: 'http:\/\/x\/' is not a ws:\/\/ or wss:\/\/ URL/);
});
