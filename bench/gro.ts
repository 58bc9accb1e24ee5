/**
 * GRO (src/ip/gro.ts) on against off in one tree and one process: bulk over a memory cable at
 * one MTU, the two stacks built with `gro: false` and `gro: true` in alternating rounds, CPU
 * time per transfer; prints each pair's ratio (off / on: > 1 means GRO is faster) and their
 * median, with the receiver's ACK count and GRO counters. Not a test: never fails on speed.
 *
 *   node --import tsx bench/gro.ts [--rounds 8] [--mib 128] [--mtu 1500] [--offload]
 *
 * `--offload`: the cable offloads checksums (no super-segments); default: every checksum
 * computed and verified, as on a wire.
 */
import { parseArgs } from 'node:util';
import { Cable } from '../src/link/memory.ts';
import { Simulation } from '../src/link/sim.ts';
import { Stack } from '../src/stack.ts';
import { micros, millis } from '../src/time/instant.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '8' },
    mib: { type: 'string', default: '128' },
    mtu: { type: 'string', default: '1500' },
    offload: { type: 'boolean', default: false },
  },
});
const rounds = Math.max(1, Number(values.rounds) || 8);
const bytes = Math.max(1, Number(values.mib) || 128) << 20;
const mtu = Number(values.mtu) || 1500;

function bulk(gro: boolean): { ms: number; acks: number; runs: number; coalesced: number } {
  const sim = new Simulation({ seed: 1 });
  const cable = sim.add(
    new Cable({
      clock: sim.clock,
      rng: sim.rng.fork(),
      mtu,
      aToB: { delay: micros(10) },
      bToA: { delay: micros(10) },
      checksumOffload: values.offload,
      gso: false,
    }),
  );
  const tcp = { sndBuf: 4 << 20, rcvBuf: 4 << 20 };
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', config: { tcp }, gro }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b', config: { tcp }, gro }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  const l = b.tcp.listen({ port: 5001, backlog: 4 });
  const c = a.tcp.connect({ remote: { family: 4, v4: 0x0a000002 }, remotePort: 5001 });
  sim.runFor(millis(5));
  const s = l.accept();
  if (!s) throw new Error('bench: not accepted');
  const chunk = new Uint8Array(65536);
  let sent = 0;
  let got = 0;
  const pump = () => {
    while (sent < bytes) {
      const n = c.write(chunk.subarray(0, Math.min(chunk.length, bytes - sent)));
      sent += n;
      if (n < chunk.length) return;
    }
  };
  c.events = { onWritable: pump };
  s.events = {
    onReadable: () => {
      for (let d = s.read(1 << 20); d !== null; d = s.read(1 << 20)) got += d.length;
    },
  };
  const acks0 = b.tcp.stats.segmentsOut;
  const t0 = process.cpuUsage();
  pump();
  for (let i = 0; got < bytes; i++) {
    if (i > 10_000_000) throw new Error('bench: transfer did not finish');
    sim.runUntil(sim.now + millis(1), { maxSteps: 1_000_000_000 });
  }
  const u = process.cpuUsage(t0);
  return {
    ms: (u.user + u.system) / 1000,
    acks: b.tcp.stats.segmentsOut - acks0,
    runs: b.stats.gro.runs,
    coalesced: b.stats.gro.coalesced,
  };
}

bulk(false); // warm-up
bulk(true);
const ratios: number[] = [];
let last: ReturnType<typeof bulk> | undefined;
let lastOff: ReturnType<typeof bulk> | undefined;
for (let r = 0; r < rounds; r++) {
  // Alternate which goes first, so neither always runs on a warmer heap.
  const [off, on] = r % 2 === 0 ? [bulk(false), bulk(true)] : (([x, y]) => [y, x])([bulk(true), bulk(false)]);
  ratios.push(off.ms / on.ms);
  console.log(
    `round ${r + 1}: off ${off.ms.toFixed(0)} ms, on ${on.ms.toFixed(0)} ms, off/on ${(off.ms / on.ms).toFixed(3)}`,
  );
  last = on;
  lastOff = off;
}
ratios.sort((x, y) => x - y);
const median = ratios[Math.floor(ratios.length / 2)];
console.log(
  `bulk ${values.mib} MiB, MTU ${mtu}, ${values.offload ? 'checksum offload' : 'checksums computed'}: ` +
    `GRO on is ${median.toFixed(3)}x as fast (median of ${rounds} pairs, ${ratios.filter((x) => x > 1).length} faster); ` +
    `receiver ACKs ${lastOff?.acks} off, ${last?.acks} on; ${last?.coalesced} segments in ${last?.runs} runs`,
);
