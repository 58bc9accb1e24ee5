/**
 * Loss recovery on simulated paths: one bulk flow between two Stacks on a memory Cable, a
 * bottleneck of `--rate` Mbit/s with a drop-tail buffer, random loss on the data direction,
 * one-way delay each way. A sweep of loss × delay × buffer, for each congestion controller
 * and each loss-recovery setting:
 *   - rack: the Linux profile's RACK-TLP (RFC 8985) and PRR (RFC 6937), tcp_recovery = 1;
 *   - dupthresh: RFC 6675 DupThresh detection with cwnd = ssthresh in recovery
 *     (tcp_recovery = 0, no PRR).
 * Goodput is payload delivered in order to the receiving application per virtual second,
 * measured over `--secs` virtual seconds after a one-second warm-up; rtx counts the
 * sender's retransmitted segments. (smoltcp publishes a netsim table of this kind.)
 *
 *   node --import tsx bench/loss.ts [--quick] [--rate 20] [--secs 10]
 *       [--loss 0.001,0.01,0.05] [--delay 10,50] [--buffer 1,0.25] [--reorder 0]
 *
 * `--buffer` is in bandwidth-delay products of the path; `--reorder P` also holds back a
 * fraction P of data frames by a quarter of the one-way delay. No kernel is needed: the
 * simulator is deterministic (seeded), so the table is the same on every machine.
 * Not a test: prints numbers, never fails on them.
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
    loss: { type: 'string', default: '0.001,0.01,0.05' },
    delay: { type: 'string', default: '10,50' },
    buffer: { type: 'string', default: '1' },
    reorder: { type: 'string', default: '0' },
  },
});
const nums = (s: string): number[] => s.split(',').map(Number);
const rateBps = Number(values.rate) * 1e6;
const secs = values.quick ? 3 : Number(values.secs);
const losses = values.quick ? [0.01] : nums(values.loss);
const delays = values.quick ? [10] : nums(values.delay);
const buffers = nums(values.buffer);
const reorder = Number(values.reorder);
const CONTROLLERS: CongestionName[] = ['newreno', 'cubic'];
const MODES = { rack: { recovery: 1, prr: true }, dupthresh: { recovery: 0, prr: false } } as const;
type Mode = keyof typeof MODES;

const B: IpAddress = { family: 4, v4: 0x0a000002 };

interface Result {
  mbps: number;
  rtx: number;
  timeouts: number;
}

function run(
  cc: CongestionName,
  mode: Mode,
  loss: number,
  delayMs: number,
  bdps: number,
  seed: number,
): Result {
  const sim = new Simulation({ seed });
  const delay = millis(delayMs);
  const bdp = Math.ceil(((rateBps / 8) * 2 * delayMs) / 1000);
  const cable = sim.add(
    new Cable({ clock: sim.clock, rng: sim.rng.fork(), mtu: 1500, aToB: { delay }, bToA: { delay } }),
  );
  const tcp: Partial<TcpConfig> = { sndBuf: 8 << 20, rcvBuf: 8 << 20, congestion: cc, ...MODES[mode] };
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
    ...(reorder > 0 ? { reorder: { probability: reorder, extraDelay: Math.round(delay / 4) } } : {}),
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
  };
}

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(
  `# bench/loss: ${values.rate} Mbit/s bottleneck, ${secs} s measured after 1 s warm-up` +
    (reorder > 0 ? `, ${reorder * 100}% of data frames reordered by delay/4` : ''),
);
console.log('');
console.log(
  '| loss | one-way delay | buffer (BDP) | controller | rack Mbit/s | rtx | RTOs | dupthresh Mbit/s | rtx | RTOs | rack / dupthresh |',
);
console.log('|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|');
let seed = 1;
for (const loss of losses)
  for (const delayMs of delays)
    for (const bdps of buffers)
      for (const cc of CONTROLLERS) {
        seed++;
        const r = run(cc, 'rack', loss, delayMs, bdps, seed);
        const d = run(cc, 'dupthresh', loss, delayMs, bdps, seed);
        const ratio = d.mbps > 0 ? (r.mbps / d.mbps).toFixed(2) : '-';
        console.log(
          `| ${loss * 100}% | ${delayMs} ms | ${bdps} | ${cc} | ${pad(r.mbps.toFixed(2), 6)} | ${r.rtx} | ${r.timeouts} | ${pad(d.mbps.toFixed(2), 6)} | ${d.rtx} | ${d.timeouts} | ${ratio} |`,
        );
      }
