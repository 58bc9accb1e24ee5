// One stack of bench/browser.ts, in a Web Worker (chromium) or a worker_threads Worker
// (Node): the same file and the same bundle (dist/browser/sockstack.js) in both. The
// parent sends { role, address, port, bytes, lib } with `port` (a MessagePort)
// transferred and `lib` the bundle's URL; the server answers { ready } when it listens
// and then { bytes, ms } (accept to end of stream); the client { sent }.

const node = typeof self === 'undefined';
const parent = node ? (await import('node:worker_threads')).parentPort : self;
const post = (m) => parent.postMessage(m);

async function run({ role, address, port, bytes, lib }) {
  const { AF_INET, CryptoRng, MessagePortLink, RealtimeDriver, SOCK_STREAM, Stack } = await import(lib);
  const driver = new RealtimeDriver();
  const link = new MessagePortLink(port, { wake: () => driver.kick() });
  const stack = new Stack({ clock: driver.clock, rng: new CryptoRng(), name: role });
  stack.timers.onEarliestChanged = () => driver.kick();
  stack.addInterface({ name: 'eth0', device: link, addresses: [address] });
  driver.add(stack);
  if (role === 'server') {
    const ls = stack.socket(AF_INET, SOCK_STREAM);
    await ls.bind(['', 5001]);
    await ls.listen(1);
    post({ ready: true });
    const [conn] = await ls.accept();
    const started = performance.now();
    let n = 0;
    for (;;) {
      const d = await conn.recv(262144);
      if (d.length === 0) break;
      n += d.length;
    }
    const ms = performance.now() - started;
    await conn.close();
    post({ bytes: n, ms, frames: link.stats.rxFrames });
  } else {
    const c = stack.socket(AF_INET, SOCK_STREAM);
    await c.connect(['10.0.0.1', 5001]);
    const chunk = new Uint8Array(65536).fill(0x61);
    for (let sent = 0; sent < bytes; sent += chunk.length) await c.sendall(chunk);
    await c.close();
    post({ sent: bytes, frames: link.stats.txFrames });
  }
  driver.stop();
}

const onMessage = (data) =>
  run(data).catch((e) => post({ error: `${e.code ?? ''} ${e.stack ?? e.message}` }));
if (node) parent.once('message', onMessage);
else self.onmessage = (e) => onMessage(e.data);
