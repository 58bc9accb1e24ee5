/**
 * The course's echo session on two sockstack hosts joined by a lossy memory cable,
 * under a virtual clock: no kernel sockets, no real time, no `node:` imports (this
 * is the pure core that also runs in a browser).
 *
 *   client 10.0.0.2 ── cable: 5 ms each way, 2% loss, 10 Mbit/s ── server 10.0.0.1
 *
 *   npx tsx examples/memory-network.ts [bytes] [seed]
 *
 * The same seed gives the same run, packet for packet.
 */
import { AF_INET, Cable, millis, SeededRng, SHUT_WR, Simulation, SOCK_STREAM, Stack } from '../src/index.ts';

const size = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? 7);

const sim = new Simulation({ seed });
const link = { delay: millis(5), loss: 0.02, bandwidth: 10e6 };
const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), aToB: link, bToA: link }));
const host = (name: string) => sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name }));
const server = host('server');
const client = host('client');
server.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
client.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });

const payload = new Uint8Array(size);
new SeededRng(seed).fill(payload);

const echoed = await sim.run(async () => {
  // The server: s.bind(('', 5000)); s.listen(1); conn, addr = s.accept(); echo until EOF.
  const s = server.socket(AF_INET, SOCK_STREAM);
  await s.bind(['', 5000]);
  await s.listen(1);
  const serving = (async () => {
    const [conn, addr] = await s.accept();
    console.log(`server: connected by ${addr[0]}:${addr[1]}`);
    for await (const chunk of conn) await conn.sendall(chunk);
    await conn.close();
    await s.close();
  })();

  // The client: connect, send everything, half-close, read the echo to EOF.
  const c = client.socket(AF_INET, SOCK_STREAM);
  await c.connect(['10.0.0.1', 5000]);
  const reading = (async () => {
    let n = 0;
    let same = true;
    for await (const chunk of c) {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] !== payload[n + i]) same = false;
      n += chunk.length;
    }
    return { n, same };
  })();
  await c.sendall(payload);
  c.shutdown(SHUT_WR);
  const got = await reading;
  await c.close();
  await serving;
  return got;
});

const t = Number(sim.clock.now()) / 1e6;
const lost = cable.aToB.stats.dropped.loss + cable.bToA.stats.dropped.loss;
console.log(
  `client: ${echoed.n} of ${size} bytes echoed back ${echoed.same ? 'intact' : 'CORRUPTED'} ` +
    `in ${t.toFixed(3)} virtual seconds`,
);
console.log(
  `cable: ${lost} frames lost; TCP retransmitted ${client.tcp.stats.retransmits} (client) ` +
    `and ${server.tcp.stats.retransmits} (server) segments`,
);
if (!echoed.same || echoed.n !== size) process.exitCode = 1;
