// A page's stack on a WebSocket link to the relay: an HTTP/1.1 request by hand over a
// stream socket to a Node stack on the same Ethernet, read until the server closes.
import { AF_INET, CryptoRng, connectWebSocketLink, RealtimeDriver, SOCK_STREAM, Stack } from '/sockstack.js';

export async function run({ url, address, server, path }) {
  const driver = new RealtimeDriver();
  const link = await connectWebSocketLink(url, { wake: () => driver.kick(), timeoutMs: 5000 });
  const stack = new Stack({ clock: driver.clock, rng: new CryptoRng(), name: 'page' });
  stack.timers.onEarliestChanged = () => driver.kick();
  stack.addInterface({ name: 'eth0', device: link, addresses: [address] });
  driver.add(stack);
  try {
    const sock = stack.socket(AF_INET, SOCK_STREAM);
    sock.settimeout(10);
    await sock.connect([server, 80]);
    await sock.sendall(`GET ${path} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`);
    let text = '';
    const dec = new TextDecoder();
    for (;;) {
      const d = await sock.recv(1024);
      if (d.length === 0) break;
      text += dec.decode(d, { stream: true });
    }
    await sock.close();
    return { response: text, framesIn: link.stats.rxFrames, framesOut: link.stats.txFrames };
  } finally {
    driver.stop();
    await link.close();
  }
}
