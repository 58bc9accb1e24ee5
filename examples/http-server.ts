/**
 * A tiny HTTP/1.0 server over a raw socket: what node:http does, by hand. It
 * answers every GET with a short text page naming the path, then closes.
 *
 *   npx tsx examples/http-server.ts [--host localhost] [--port 8080] [--count N] [--backend os|stack]
 *   npx tsx examples/http-get.ts http://localhost:8080/hello
 *
 * --count N: exit after N requests (default: serve forever).
 */
import { AF_INET, SO_REUSEADDR, SOCK_STREAM, SOL_SOCKET, type Socket } from '../src/node/socket.ts';
import { cli, text } from './_cli.ts';

const c = await cli({ role: 'server' });
const s = c.socket(AF_INET, SOCK_STREAM);
s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
await s.bind([c.str('host', c.defaultHost), c.num('port', 8080)]);
await s.listen(8);
console.log('listening on', s.getsockname());

async function serve(conn: Socket, peer: unknown): Promise<void> {
  conn.settimeout(10);
  let head = '';
  try {
    while (!head.includes('\r\n\r\n') && head.length < 16384) {
      const chunk = await conn.recv(4096);
      if (chunk.length === 0) break;
      head += text(chunk);
    }
    const [method, path] = head.split('\r\n')[0].split(' ');
    console.log(method, path, 'from', peer);
    const ok = method === 'GET';
    const body = ok ? `you asked for ${path} on ${c.backend.gethostname()}\n` : 'only GET here\n';
    await conn.sendall(
      `HTTP/1.0 ${ok ? '200 OK' : '405 Method Not Allowed'}\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${new TextEncoder().encode(body).length}\r\nConnection: close\r\n\r\n${body}`,
    );
  } catch (e) {
    console.log('request failed:', (e as Error).message);
  }
  await conn.close();
}

const count = c.num('count', Number.POSITIVE_INFINITY);
for (let served = 0; served < count; served++) {
  const [conn, peer] = await s.accept();
  await serve(conn, peer);
}
await s.close();
console.log('done');
