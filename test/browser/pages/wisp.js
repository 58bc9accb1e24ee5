// The wisp socket backend in a page: the course's echo client with `await sock.recv(1024)`,
// talking to a Node TCP echo server through our Wisp server; then 1 MiB byte-exact (many
// CONTINUE credits), a UDP echo, and a destination outside the relay's allow-list.
import { AF_INET, SOCK_DGRAM, SOCK_STREAM, Socket, WispClient, wispBackend } from '/sockstack.js';

const dec = (b) => new TextDecoder().decode(b);

export async function run({ url, port, udpPort, blockedPort, message, bulkBytes }) {
  const client = await WispClient.connect(url, { timeoutMs: 5000 });
  const backend = wispBackend(client);
  const log = [];
  try {
    const sock = new Socket(backend, AF_INET, SOCK_STREAM);
    sock.settimeout(10);
    await sock.connect(['127.0.0.1', port]);
    await sock.sendall(message);
    const data = await sock.recv(1024);
    log.push(`client: received ${JSON.stringify(dec(data))}`);

    const bulk = new Uint8Array(bulkBytes).map((_, i) => (i * 7 + (i >> 10)) & 0xff);
    const reading = (async () => {
      const got = new Uint8Array(bulkBytes);
      let n = 0;
      while (n < bulkBytes) {
        const d = await sock.recv(65536);
        if (d.length === 0) break;
        got.set(d, n);
        n += d.length;
      }
      let mismatches = 0;
      for (let i = 0; i < n; i++) if (got[i] !== bulk[i]) mismatches++;
      return { n, mismatches };
    })();
    await sock.sendall(bulk);
    const echoed = await reading;
    await sock.close();

    const u = new Socket(backend, AF_INET, SOCK_DGRAM);
    u.settimeout(10);
    await u.connect(['127.0.0.1', udpPort]);
    await u.send('datagram');
    const udp = dec(await u.recv(1024));
    await u.close();

    let blocked = '';
    try {
      await new Socket(backend, AF_INET, SOCK_STREAM).connect(['127.0.0.1', blockedPort]);
    } catch (e) {
      blocked = `${e.code}: ${e.message}`;
    }
    return { log, echoed, udp, blocked, stats: { ...client.stats }, initialCredit: client.initialCredit };
  } finally {
    client.close();
  }
}
