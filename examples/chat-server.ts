/**
 * A multi-client chat server: every line a client sends goes to all the others.
 *
 *   npx tsx examples/chat-server.ts [--host localhost] [--port 5001] [--backend os|stack]
 *   (then: nc localhost 5001, from several terminals; on --backend stack the
 *   server is 10.99.0.1 on the virtual Ethernet, reached by other stack processes)
 */
import { AF_INET, SOCK_STREAM, type Socket } from '../src/node/socket.ts';
import { cli, text } from './_cli.ts';

const c = await cli({ role: 'server' });
const srv = c.socket(AF_INET, SOCK_STREAM);
await srv.bind([c.str('host', c.defaultHost), c.num('port', 5001)]);
await srv.listen(16);
console.log('listening on', srv.getsockname());

const clients = new Map<Socket, string>();

async function broadcast(from: Socket, line: string): Promise<void> {
  for (const [peer] of clients) {
    if (peer === from) continue;
    await peer.sendall(line).catch(() => clients.delete(peer));
  }
}

async function serve(conn: Socket, name: string): Promise<void> {
  clients.set(conn, name);
  await broadcast(conn, `* ${name} joined\n`);
  let pending = '';
  try {
    for await (const chunk of conn) {
      pending += text(chunk);
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        await broadcast(conn, `[${name}] ${pending.slice(0, nl + 1)}`);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
    }
  } catch (e) {
    console.log(`${name}: ${(e as Error).message}`);
  }
  clients.delete(conn);
  await conn.close();
  await broadcast(conn, `* ${name} left\n`);
}

for (;;) {
  const [conn, addr] = await srv.accept();
  const name = Array.isArray(addr) ? `${addr[0]}:${addr[1]}` : String(addr);
  console.log('connected', name);
  void serve(conn, name);
}
