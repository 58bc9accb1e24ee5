/**
 * Congestion controllers on simulated paths (the simulator half of issue #16's measurements):
 * one bulk flow between two Stacks on a memory Cable, a bottleneck of `--rate` Mbit/s with a
 * drop-tail buffer of `--buffer` bandwidth-delay products, random loss on the data direction,
 * one-way delay each way; a loss × delay × buffer sweep with NewReno, CUBIC and BBR, all with
 * the Linux profile's RACK-TLP and PRR. Goodput is payload delivered in order to the receiving
 * application per virtual second over `--secs` seconds after a 1 s warm-up; rtx counts
 * retransmitted segments; srtt is the sender's smoothed RTT at the end (queueing delay shows
 * as srtt above 2 × the one-way delay).
 *
 *   node --import tsx bench/cc-sim.ts [--quick] [--rate 20] [--secs 10]
 *       [--loss 0,0.001,0.01,0.05] [--delay 10,50] [--buffer 1,0.25] [--cc newreno,cubic,bbr]
 *       [--seeds 1]
 *
 * `--seeds N` runs every cell with N loss sequences (seeds) and prints the means of goodput
 * and rtx (at 5 % loss and 50 ms a 10-second run holds some 60 losses: one seed is a lottery).
 *
 * Deterministic (seeded): the same table on every machine. Not a test: prints numbers.
 */
import { parseArgs } from 'node:util';
import type { Impairments } from '../src/link/impair.ts';
import { Cable } from '../src/link/memory.ts';
import { Simulation } from '../src/link/sim.ts';
import { Stack } from '../src/stack.ts';
import type { TcpConfig } from '../src/tcp/config.ts';
import type { CongestionName } from '../src/tcp/congestion/factory.ts';
import { millis, seconds } from '../src/time/instant.ts';
import type { IpAddress } from '../src/wire/address.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rate: { type: 'string', default: '20' },
    secs: { type: 'string', default: '10' },
    loss: { type: 'string', default: '0,0.001,0.01,0.05' },
    delay: { type: 'string', default: '10,50' },
    buffer: { type: 'string', default: '1,0.25' },
    cc: { type: 'string', default: 'newreno,cubic,bbr' },
    seeds: { type: 'string', default: '1' },
  },
});
const nums = (s: string): number[] => s.split(',').map(Number);
const rateBps = Number(values.rate) * 1e6;
const secs = values.quick ? 3 : Number(values.secs);
const losses = values.quick ? [0.01] : nums(values.loss);
const delays = values.quick ? [10] : nums(values.delay);
const buffers = nums(values.buffer);
const CONTROLLERS = values.cc.split(',') as CongestionName[];

const B: IpAddress = { family: 4, v4: 0x0a000002 };

interface Result {
  mbps: number;
  rtx: number;
  timeouts: number;
  srttMs: number;
}

function run(cc: CongestionName, loss: number, delayMs: number, bdps: number, seed: number): Result {
  const sim = new Simulation({ seed });
  const delay = millis(delayMs);
  const bdp = Math.ceil(((rateBps / 8) * 2 * delayMs) / 1000);
  const cable = sim.add(
    new Cable({ clock: sim.clock, rng: sim.rng.fork(), mtu: 1500, aToB: { delay }, bToA: { delay } }),
  );
  const tcp: Partial<TcpConfig> = { sndBuf: 8 << 20, rcvBuf: 8 << 20, congestion: cc };
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', config: { tcp } }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b', config: { tcp } }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  const data: Impairments = {
    delay,
    bandwidth: rateBps,
    queueLimit: Math.max(3000, Math.round(bdp * bdps)),
    loss,
  };
  // The handshake goes over a clean path; the loss starts with the data.
  cable.aToB.configure({ ...data, loss: 0 });
  cable.bToA.configure({ delay, bandwidth: rateBps });

  const l = b.tcp.listen({ port: 5001, backlog: 4 });
  const c = a.tcp.connect({ remote: B, remotePort: 5001 });
  sim.runFor(millis(8 * delayMs + 50)); // ARP, then the handshake
  const s = l.accept();
  if (!s) throw new Error('bench/loss: no connection');
  cable.aToB.configure(data);
  const chunk = new Uint8Array(256 * 1024);
  let got = 0;
  const pump = () => {
    for (let i = 0; i < 64 && c.write(chunk) === chunk.length; i++);
  };
  c.events = { onWritable: pump };
  s.events = {
    onReadable: () => {
      for (;;) {
        const d = s.read(1 << 20);
        if (d === null) break;
        got += d.length;
      }
    },
  };
  pump();
  sim.runFor(seconds(1), { maxSteps: 1e9 });
  const got0 = got;
  const rtx0 = a.tcp.stats.retransmits;
  const to0 = a.tcp.stats.timeouts;
  sim.runFor(seconds(secs), { maxSteps: 1e9 });
  return {
    mbps: ((got - got0) * 8) / secs / 1e6,
    rtx: a.tcp.stats.retransmits - rtx0,
    timeouts: a.tcp.stats.timeouts - to0,
    srttMs: (c.info().rtt ?? 0) / 1000,
  };
}

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`# bench/cc-sim: ${values.rate} Mbit/s bottleneck, ${secs} s measured after 1 s warm-up`);
console.log('');
console.log(
  `| loss | one-way delay | buffer (BDP) | ${CONTROLLERS.map((c) => `${c} Mbit/s | rtx | srtt ms`).join(' | ')} |`,
);
console.log(`|---:|---:|---:|${CONTROLLERS.map(() => '---:|---:|---:').join('|')}|`);
let seed = 1;
for (const loss of losses)
  for (const delayMs of delays)
    for (const bdps of buffers) {
      seed++;
      const cells = CONTROLLERS.map((cc) => {
        const n = Number(values.seeds);
        let mbps = 0;
        let rtx = 0;
        let r: Result | undefined;
        for (let i = 0; i < n; i++) {
          // The first seed is the single-seed table's; the others are spread from it.
          r = run(cc, loss, delayMs, bdps, seed + i * 1000);
          mbps += r.mbps / n;
          rtx += r.rtx / n;
        }
        return `${pad(mbps.toFixed(2), 6)} | ${Math.round(rtx)} | ${r!.srttMs.toFixed(0)}`;
      });
      console.log(`| ${loss * 100}% | ${delayMs} ms | ${bdps} | ${cells.join(' | ')} |`);
    }
