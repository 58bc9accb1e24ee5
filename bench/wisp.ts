// Bulk TCP through a Wisp relay (the wisp socket backend, our server, loopback) beside the
// same transfer on the os backend straight to the kernel: upload (client sends, a sink
// reads) and download (a source writes, the client reads), MB/s and the ratio.
// Run: node --import tsx bench/wisp.ts [--mib 64] [--buffer 32]
// Not a test: prints numbers, never fails on speed.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { osBackend } from '../src/node/os-backend.ts';
import { connectWisp } from '../src/node/wisp-client.ts';
import { startWispServer } from '../src/node/wisp-server.ts';
import type { SocketBackend } from '../src/socket/backend.ts';
import { AF_INET, SOCK_STREAM } from '../src/socket/constants.ts';
import { Socket } from '../src/socket/socket.ts';
import { wispBackend } from '../src/wisp/backend.ts';

const { values } = parseArgs({
  options: { mib: { type: 'string', default: '64' }, buffer: { type: 'string', default: '32' } },
  allowPositionals: true,
});
const bytes = Math.max(1, Number(values.mib)) * (1 << 20);
const bufferPackets = Math.max(1, Number(values.buffer));

async function listen(onConn: (s: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer(onConn);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Seconds to send `bytes` from a client socket on `backend` to a sink that counts them. */
async function upload(backend: SocketBackend): Promise<number> {
  let got = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const { server, port } = await listen((s) =>
    s.on('data', (b: Buffer) => {
      got += b.length;
      if (got >= bytes) done();
    }),
  );
  const sock = new Socket(backend, AF_INET, SOCK_STREAM);
  await sock.connect(['127.0.0.1', port]);
  const chunk = new Uint8Array(256 * 1024).fill(0x61);
  const t0 = performance.now();
  for (let sent = 0; sent < bytes; sent += chunk.length) await sock.sendall(chunk);
  await finished;
  const s = (performance.now() - t0) / 1000;
  await sock.close();
  server.close();
  return s;
}

/** Seconds for a client socket on `backend` to read `bytes` a source writes as fast as it may. */
async function download(backend: SocketBackend): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 0x62);
  const { server, port } = await listen((s) => {
    let written = 0;
    const push = (): void => {
      while (written < bytes) {
        written += chunk.length;
        if (!s.write(chunk)) {
          s.once('drain', push);
          return;
        }
      }
      s.end();
    };
    push();
  });
  const sock = new Socket(backend, AF_INET, SOCK_STREAM);
  const t0 = performance.now();
  await sock.connect(['127.0.0.1', port]);
  let got = 0;
  for (let i = 0; got < bytes && i < 10_000_000; i++) {
    const d = await sock.recv(256 * 1024);
    if (d.length === 0) break;
    got += d.length;
  }
  const s = (performance.now() - t0) / 1000;
  await sock.close();
  server.close();
  return s;
}

const relay = await startWispServer({ allow: ['127.0.0.1:*'], bufferPackets });
const client = await connectWisp(relay.url);
const wisp = wispBackend(client);
const os = osBackend();
const mb = bytes / 1e6;
const rows = [['direction', 'os MB/s', 'wisp MB/s', 'wisp/os']];
for (const [name, fn] of [
  ['upload', upload],
  ['download', download],
] as const) {
  await fn(os); // warm up both paths
  await fn(wisp);
  const k = mb / (await fn(os));
  const w = mb / (await fn(wisp));
  rows.push([name, k.toFixed(0), w.toFixed(0), (w / k).toFixed(2)]);
}
client.close();
await relay.close();
console.log(`${values.mib} MiB over loopback; Wisp buffer ${bufferPackets} packets of up to 32 KiB`);
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
