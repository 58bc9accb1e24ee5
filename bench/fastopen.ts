/**
 * TCP Fast Open (RFC 7413) saves a round trip per repeat connection: short request/response
 * transactions (connect, a request, the response, close) between two Stacks on a memory
 * Cable with `--delay` ms each way, through the sockets API, with and without Fast Open.
 * Without it a transaction is a handshake and then the exchange (two round trips before the
 * answer); with it the request rides on the SYN once the client has a cookie (the first
 * transaction fetches one). Times are virtual (the Simulation's clock): the table is the same
 * on every machine. Not a test: prints numbers, never fails on them.
 *
 *   node --import tsx bench/fastopen.ts [--delay 10,50] [--count 20] [--size 200]
 */
import { parseArgs } from 'node:util';
import { Cable } from '../src/link/memory.ts';
import { Simulation } from '../src/link/sim.ts';
import { AF_INET, IPPROTO_TCP, MSG_FASTOPEN, SOCK_STREAM, TCP_FASTOPEN } from '../src/socket/constants.ts';
import { Stack } from '../src/stack.ts';
import { millis, seconds } from '../src/time/instant.ts';

const { values } = parseArgs({
  options: {
    delay: { type: 'string', default: '10,50' },
    count: { type: 'string', default: '20' },
    size: { type: 'string', default: '200' },
  },
});
const delays = values.delay.split(',').map(Number);
const count = Number(values.count);
const size = Number(values.size);

interface Row {
  /** Virtual ms from connect (or sendto) to the whole response, per transaction. */
  times: number[];
  synData: number;
}

async function run(delayMs: number, fastOpen: boolean): Promise<Row> {
  const sim = new Simulation({ seed: 7 });
  const delay = millis(delayMs);
  const cable = sim.add(
    new Cable({ clock: sim.clock, rng: sim.rng.fork(), mtu: 1500, aToB: { delay }, bToA: { delay } }),
  );
  const tcp = { fastOpen: fastOpen ? 3 : 0 };
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'client', config: { tcp } }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'server', config: { tcp } }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  const l = b.socket(AF_INET, SOCK_STREAM);
  if (fastOpen) l.setsockopt(IPPROTO_TCP, TCP_FASTOPEN, 64);
  await l.bind(['10.0.0.2', 8080]);
  await l.listen(64);
  // The server: read the request, answer with `size` bytes, close.
  const answer = new Uint8Array(size).fill(0x61);
  const serve = (async () => {
    for (let i = 0; i <= count; i++) {
      const [c] = await l.accept();
      await c.recv(4096);
      await c.sendall(answer);
      await c.close();
    }
  })();
  const request = new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n');
  const times: number[] = [];
  // One untimed transaction first: ARP, and (with Fast Open) the cookie.
  for (let i = 0; i <= count; i++) {
    const t0 = sim.now;
    const s = a.socket(AF_INET, SOCK_STREAM);
    const txn = (async () => {
      if (fastOpen) await s.sendto(request, MSG_FASTOPEN, ['10.0.0.2', 8080]);
      else {
        await s.connect(['10.0.0.2', 8080]);
        await s.sendall(request);
      }
      let got = 0;
      while (got < size) {
        const d = await s.recv(65536);
        if (d.length === 0) break;
        got += d.length;
      }
      await s.close();
    })();
    await sim.run(txn, { timeout: seconds(30) });
    if (i > 0) times.push((sim.now - t0) / 1000);
  }
  await sim.run(serve, { timeout: seconds(30) });
  return { times, synData: b.tcp.stats.fastOpenPassive };
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
console.log(`# bench/fastopen: ${count} transactions each (request 18 B, response ${size} B), virtual time`);
console.log('');
console.log(
  '| one-way delay | plain ms / transaction | Fast Open ms / transaction | SYNs with data | saved | plain / Fast Open |',
);
console.log('|---:|---:|---:|---:|---:|---:|');
for (const d of delays) {
  const plain = await run(d, false);
  const tfo = await run(d, true);
  const p = mean(plain.times);
  const f = mean(tfo.times);
  console.log(
    `| ${d} ms | ${p.toFixed(1)} | ${f.toFixed(1)} | ${tfo.synData} / ${count} | ${(p - f).toFixed(1)} ms (${((p - f) / (2 * d)).toFixed(2)} RTT) | ${(p / f).toFixed(2)}× |`,
  );
}
