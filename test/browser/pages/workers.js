// Two stacks in two Web Workers joined by a MessageChannel: the client sends `bytes` to the server.
function reply(worker, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from a worker in ${ms} ms`)), ms);
    worker.onmessage = (e) => {
      clearTimeout(timer);
      if (e.data.error) reject(new Error(e.data.error));
      else resolve(e.data);
    };
    worker.onerror = (e) => {
      clearTimeout(timer);
      reject(new Error(`worker failed: ${e.message}`));
    };
  });
}

export async function run({ bytes, timeoutMs }) {
  const url = new URL('./worker-stack.js', import.meta.url);
  const server = new Worker(url, { type: 'module' });
  const client = new Worker(url, { type: 'module' });
  try {
    const ch = new MessageChannel();
    const ready = reply(server, timeoutMs);
    server.postMessage({ role: 'server', address: '10.0.0.1/24', port: ch.port1 }, [ch.port1]);
    await ready;
    const received = reply(server, timeoutMs);
    const sent = reply(client, timeoutMs);
    client.postMessage({ role: 'client', address: '10.0.0.2/24', port: ch.port2, bytes }, [ch.port2]);
    return { server: await received, client: await sent };
  } finally {
    server.terminate();
    client.terminate();
  }
}
