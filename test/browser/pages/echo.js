// The course's echo session in a page: the server loops on `await conn.recv(1024)` and
// sends back what it got; the client says hello and reads the answer with `await sock.recv(1024)`.
import { AF_INET, Cable, Simulation, SOCK_STREAM, Stack } from '/sockstack.js';

export async function run({ message }) {
  const sim = new Simulation({ seed: 7 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const server = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'server' }));
  const client = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'client' }));
  server.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  client.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  const log = [];
  await sim.run(async () => {
    const s = server.socket(AF_INET, SOCK_STREAM);
    await s.bind(['', 5000]);
    await s.listen(1);
    const serving = (async () => {
      const [conn, addr] = await s.accept();
      log.push(`server: connected by ${addr[0]}:${addr[1]}`);
      for (;;) {
        const data = await conn.recv(1024);
        if (data.length === 0) break; // the peer closed: recv returns empty
        await conn.sendall(data);
      }
      await conn.close();
      await s.close();
    })();
    const sock = client.socket(AF_INET, SOCK_STREAM);
    await sock.connect(['10.0.0.1', 5000]);
    await sock.sendall(message);
    const data = await sock.recv(1024);
    log.push(`client: received ${JSON.stringify(new TextDecoder().decode(data))}`);
    await sock.close();
    await serving;
  });
  return { log, segments: client.tcp.stats.segmentsOut + server.tcp.stats.segmentsOut };
}
