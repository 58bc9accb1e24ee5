/**
 * The send path below TCP in isolation: one transport segment after another through
 * `sendSegment` (frame allocation, TCP header and checksum, IP output, neighbour, Ethernet
 * header, the memory cable), the receiving end dropping every frame unread. Per source tree,
 * interleaved (A B A B ...), so two trees see the same moments of a shared machine.
 *
 *   node --import tsx bench/emit-path.ts [--trees DIR,DIR] [--family 4|6] [--payload N] [--rounds N]
 *
 * A tree is a checkout with its package.json (a `git worktree add --detach DIR REV`): without
 * it tsx compiles the tree's files as CommonJS, which alone moves these figures by 20–30 %.
 * Not a test: prints ns per datagram (median and best of the rounds); never fails on speed.
 * An isolated path exaggerates what a whole transfer gains (see bench/RESULTS.md, emit path).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    trees: { type: 'string', default: here },
    family: { type: 'string', default: '4' },
    payload: { type: 'string' },
    rounds: { type: 'string', default: '30' },
  },
});
const v6 = values.family === '6';
// The largest segment with timestamps at MTU 1500 (IPv6's header is 20 bytes longer).
const payloadLen = Number(values.payload ?? (v6 ? 1428 : 1448));
const rounds = Math.max(3, Math.min(200, Number(values.rounds)));
const PER_ROUND = 10_000;

interface Path {
  tree: string;
  round(): number;
}

async function pathOver(tree: string): Promise<Path> {
  const base = `${resolve(tree)}/src/`;
  const [{ Cable }, { Simulation }, { Stack }, { sendSegment }, { emitTcp, tcpHeaderLength }, { millis }] =
    await Promise.all([
      import(`${base}link/memory.ts`),
      import(`${base}link/sim.ts`),
      import(`${base}stack.ts`),
      import(`${base}ip/network.ts`),
      import(`${base}wire/tcp.ts`),
      import(`${base}time/instant.ts`),
    ]);
  const sim = new Simulation({ seed: 1 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), mtu: 1500 }));
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: [v6 ? 'fd00::1/64' : '10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: [v6 ? 'fd00::2/64' : '10.0.0.2/24'] });
  sim.runFor(millis(v6 ? 3000 : 10)); // (IPv6: past duplicate address detection)
  const dst = v6
    ? { family: 6, v6: Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]) }
    : { family: 4, v4: 0x0a000002 };
  const route = a.net.route(dst);
  if (typeof route === 'string') throw new Error(`emit-path: no route (${route})`);
  type Repr = { seq: number };
  const segment = {
    headerLength: tcpHeaderLength,
    emit: (r: Repr, p: Uint8Array, out: Uint8Array, at: number, sum: number | undefined) => {
      emitTcp(r, p, out, sum, at);
    },
  };
  const repr = {
    srcPort: 40000,
    dstPort: 5001,
    seq: 0,
    ack: 1,
    flags: 0x10,
    window: 1000,
    urgentPointer: 0,
    options: { timestamps: { tsVal: 1, tsEcr: 2 } },
  };
  const opts = Object.freeze({ protocol: 6, dontFragment: true });
  const payload = new Uint8Array(payloadLen);
  // The first resolves the neighbour; after it every frame goes straight out.
  const first = sendSegment(a.net, route, opts, segment, repr, payload);
  if (first !== undefined) throw new Error(`emit-path: ${first}`);
  sim.runFor(millis(5));
  let received = 0;
  cable.b.onReceive = () => {
    received++;
  };
  return {
    tree,
    round() {
      const before = received;
      const t = performance.now();
      for (let i = 0; i < PER_ROUND; i++) {
        repr.seq = (i * payloadLen) >>> 0;
        sendSegment(a.net, route, opts, segment, repr, payload);
      }
      const ns = ((performance.now() - t) * 1e6) / PER_ROUND;
      sim.runFor(millis(1));
      if (received - before !== PER_ROUND) throw new Error(`emit-path: ${received - before} frames arrived`);
      return ns;
    },
  };
}

const paths: Path[] = [];
for (const t of values.trees.split(',')) paths.push(await pathOver(t));
const times = paths.map(() => [] as number[]);
for (const p of paths) p.round(); // warm-up
for (let r = 0; r < rounds; r++) for (const [i, p] of paths.entries()) times[i].push(p.round());
console.log(`IPv${v6 ? 6 : 4}, ${payloadLen}-byte payloads, ${rounds} rounds of ${PER_ROUND} datagrams`);
for (const [i, p] of paths.entries()) {
  const s = times[i].sort((x, y) => x - y);
  console.log(`${p.tree}: ${s[s.length >> 1].toFixed(0)} ns/datagram median, ${s[0].toFixed(0)} best`);
}
