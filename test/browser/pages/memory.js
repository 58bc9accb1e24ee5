// Two stacks in one page on a memory cable, on virtual time: `bytes` bytes over TCP, checked byte by byte.
import { AF_INET, Cable, Simulation, SOCK_STREAM, Stack } from '/sockstack.js';
import { patternBytes, recvPattern } from './common.js';

export async function run({ bytes }) {
  const sim = new Simulation({ seed: 19 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const server = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'server' }));
  const client = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'client' }));
  server.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  client.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  const started = performance.now();
  const result = await sim.run(async () => {
    const ls = server.socket(AF_INET, SOCK_STREAM);
    await ls.bind(['', 5000]);
    await ls.listen(1);
    const c = client.socket(AF_INET, SOCK_STREAM);
    await c.connect(['10.0.0.1', 5000]);
    const [conn] = await ls.accept();
    const [got] = await Promise.all([
      recvPattern(conn),
      (async () => {
        await c.sendall(patternBytes(bytes));
        await c.close();
      })(),
    ]);
    await conn.close();
    await ls.close();
    return got;
  });
  return { ...result, wallMs: performance.now() - started };
}
