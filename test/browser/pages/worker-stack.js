// A stack in a Web Worker on a MessagePort link, in real time. The page sends
// { role, address, port, bytes } with the port transferred; the worker answers
// { ready } when it listens (server), then its result.
import { AF_INET, CryptoRng, MessagePortLink, RealtimeDriver, SOCK_STREAM, Stack } from '/sockstack.js';
import { patternBytes, recvPattern } from './common.js';

self.onmessage = async (event) => {
  const { role, address, port, bytes } = event.data;
  const driver = new RealtimeDriver();
  const link = new MessagePortLink(port, { wake: () => driver.kick() });
  const stack = new Stack({ clock: driver.clock, rng: new CryptoRng(), name: role });
  stack.timers.onEarliestChanged = () => driver.kick();
  stack.addInterface({ name: 'eth0', device: link, addresses: [address] });
  driver.add(stack);
  try {
    if (role === 'server') {
      const ls = stack.socket(AF_INET, SOCK_STREAM);
      await ls.bind(['', 5000]);
      await ls.listen(1);
      self.postMessage({ ready: true });
      const [conn, addr] = await ls.accept();
      const got = await recvPattern(conn);
      await conn.close();
      self.postMessage({ ...got, peer: addr[0], frames: link.stats.rxFrames });
    } else {
      const c = stack.socket(AF_INET, SOCK_STREAM);
      const started = performance.now();
      await c.connect(['10.0.0.1', 5000]);
      await c.sendall(patternBytes(bytes));
      await c.close();
      self.postMessage({ sent: bytes, ms: performance.now() - started, frames: link.stats.txFrames });
    }
  } catch (e) {
    self.postMessage({ error: `${e.code ?? ''} ${e.message}` });
  }
};
