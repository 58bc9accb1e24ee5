/**
 * Bulk through the sockets API (`await sock.sendall` / `await sock.recvInto`, or `recv`)
 * against the same transfer through TcpConnection's callback API, in the same process and
 * over the same network: two Stacks on a memory Cable (10 µs one-way delay, 4 MiB buffers),
 * both driven by the Simulation's async driver (`sim.run`), which is what promise-based code
 * needs, so the two rows differ only by the API. The callback row under the synchronous
 * driver (bench/tcp.ts's way) is printed too, to show what the async driver itself costs.
 *
 *   node --import tsx bench/sockets.ts [--mib 128] [--mtu 1500] [--offload] [--gso] [--repeat 3]
 *
 * `--repeat N`: N rounds, each running every row once in a rotated order; a row's ratio is
 * the median over the rounds of the callback row's time over its own in the same round.
 *
 * Goal (#14): the sockets API at ≥ 0.8× the callback API. Not a test: prints numbers.
 */
import { parseArgs } from 'node:util';
import { Cable } from '../src/link/memory.ts';
import { Simulation } from '../src/link/sim.ts';
import { AF_INET, SOCK_STREAM } from '../src/socket/constants.ts';
import { Stack } from '../src/stack.ts';
import type { TcpConnection } from '../src/tcp/connection.ts';
import { micros, millis } from '../src/time/instant.ts';
import type { IpAddress } from '../src/wire/address.ts';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '128' },
    mtu: { type: 'string', default: '1500' },
    offload: { type: 'boolean', default: false },
    gso: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '3' },
  },
});
const bytes = Number(values.mib) << 20;
const mtu = Number(values.mtu);
const repeat = Math.max(1, Number(values.repeat) || 1);
const B: IpAddress = { family: 4, v4: 0x0a000002 };

function net() {
  const sim = new Simulation({ seed: 1 });
  const delay = micros(10);
  const cable = sim.add(
    new Cable({
      clock: sim.clock,
      rng: sim.rng.fork(),
      mtu,
      aToB: { delay },
      bToA: { delay },
      checksumOffload: values.offload || values.gso,
      gso: values.gso,
    }),
  );
  const tcp = { sndBuf: 4 << 20, rcvBuf: 4 << 20 };
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', config: { tcp } }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b', config: { tcp } }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  return { sim, a, b };
}

/** The callback API; `sync`: the synchronous driver, else inside `sim.run`. */
async function callbacks(sync: boolean): Promise<number> {
  const { sim, a, b } = net();
  const l = b.tcp.listen({ port: 5001, backlog: 4 });
  const c = a.tcp.connect({ remote: B, remotePort: 5001 });
  sim.runFor(millis(5));
  const s = l.accept() as TcpConnection;
  const chunk = new Uint8Array(64 * 1024);
  const sink = new Uint8Array(64 * 1024);
  let sent = 0;
  let got = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const pump = () => {
    while (sent < bytes) {
      const n = c.write(sent + chunk.length <= bytes ? chunk : chunk.subarray(0, bytes - sent));
      sent += n;
      if (n < chunk.length) return;
    }
  };
  c.events = { onWritable: pump };
  s.events = {
    onReadable: () => {
      for (;;) {
        const n = s.readInto(sink);
        if (n === null) break;
        got += n;
      }
      if (got >= bytes) finish();
    },
  };
  const t0 = performance.now();
  pump();
  if (sync) {
    for (let i = 0; got < bytes && i < 1_000_000; i++) sim.runUntil(sim.now + millis(1), { maxSteps: 1e9 });
  } else await sim.run(done, { maxSteps: 1e9 });
  return (performance.now() - t0) / 1000;
}

/** The sockets API: `sendall` in 64 KiB chunks, `recvInto` (or `recv`) 64 KiB at a time. */
async function sockets(into: boolean): Promise<number> {
  const { sim, a, b } = net();
  let wall = 0;
  await sim.run(
    async () => {
      const srv = b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['10.0.0.2', 5001]);
      await srv.listen(4);
      const cli = a.socket(AF_INET, SOCK_STREAM);
      await cli.connect(['10.0.0.2', 5001]);
      const [conn] = await srv.accept();
      const chunk = new Uint8Array(64 * 1024);
      const sink = new Uint8Array(64 * 1024);
      const t0 = performance.now();
      const sending = (async () => {
        for (let sent = 0; sent < bytes; sent += chunk.length) await cli.sendall(chunk);
      })();
      let got = 0;
      while (got < bytes) {
        const n = into ? await conn.recvInto(sink) : (await conn.recv(64 * 1024)).length;
        if (n === 0) throw new Error('bench: early EOF');
        got += n;
      }
      await sending;
      wall = (performance.now() - t0) / 1000;
      await cli.close();
      await conn.close();
      await srv.close();
    },
    { maxSteps: 1e9 },
  );
  return wall;
}

const runs: [string, () => Promise<number>][] = [
  ['callback API (readInto), async driver', () => callbacks(false)],
  ['sockets API: sendall + recvInto', () => sockets(true)],
  ['sockets API: sendall + recv', () => sockets(false)],
  ['callback API (readInto), sync driver', () => callbacks(true)],
];
// Interleaved round by round (each round in a rotated order), so each row sees the same
// machine; a row's ratio is the median over rounds of its time against the async callback
// row's in the same round, which a busy machine moves far less than best-of-N times do.
for (const [, f] of runs) await f(); // warm-up
const times: number[][] = runs.map(() => []);
for (let i = 0; i < repeat; i++) {
  for (let k = 0; k < runs.length; k++) {
    const j = (i + k) % runs.length;
    times[j]!.push(await runs[j]![1]());
  }
}
const median = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1]!;
const mode = `${values.gso ? 'offload + TSO' : values.offload ? 'checksum offload' : 'checksums computed'}`;
console.log(`bench/sockets.ts — Node ${process.version}, ${new Date().toISOString()}`);
console.log(`bulk, ${bytes >> 20} MiB, MTU ${mtu}, ${mode}, ${repeat} interleaved rounds`);
for (const [j, [name]] of runs.entries()) {
  const best = Math.min(...times[j]!);
  const ratio = median(times[0]!.map((t, i) => t / times[j]![i]!));
  console.log(
    `${name.padEnd(40)} ${(bytes / best / 1e6).toFixed(1).padStart(8)} MB/s (best)   ${ratio.toFixed(3)}× the callback API (async driver), median of rounds`,
  );
}
