/**
 * The course's echo server: serve one client, send back whatever it sends.
 *
 *   npx tsx examples/echo-server.ts [--host localhost] [--port 5000] [--backend os|stack] [--address 10.99.0.1/24]
 *
 * Python original:
 *   s = socket(AF_INET, SOCK_STREAM); s.bind(('localhost', 5000)); s.listen(1)
 *   conn, addr = s.accept()
 *   while True:
 *       data = conn.recv(1024)
 *       if not data: break
 *       conn.sendall(data)
 *   conn.close()
 */
import { AF_INET, SOCK_STREAM } from '../src/node/socket.ts';
import { cli } from './_cli.ts';

const c = await cli({ role: 'server' });
const s = c.socket(AF_INET, SOCK_STREAM);
await s.bind([c.str('host', c.defaultHost), c.num('port', 5000)]);
await s.listen(1);
console.log('listening on', s.getsockname());
const [conn, addr] = await s.accept();
console.log('Connected by', addr);
for (;;) {
  const data = await conn.recv(1024);
  if (data.length === 0) break;
  await conn.sendall(data);
}
await conn.close();
await s.close();
console.log('done');
