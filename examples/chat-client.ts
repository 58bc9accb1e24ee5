/**
 * A chat client for chat-server.ts: every line typed goes to the server, and every
 * line the server relays from the others is printed. End with Ctrl-D.
 *
 *   npx tsx examples/chat-client.ts [--host localhost] [--port 5001] [--backend os|stack] [--address 10.99.0.N/24]
 *   (on --backend stack the default host is the server's 10.99.0.1; give each
 *   client its own --address)
 */
import { createInterface } from 'node:readline';
import { AF_INET, SHUT_WR, SOCK_STREAM } from '../src/node/socket.ts';
import { cli, text } from './_cli.ts';

const c = await cli({ role: 'client' });
const s = c.socket(AF_INET, SOCK_STREAM);
await s.connect([c.str('host', c.defaultHost), c.num('port', 5001)]);
console.log('connected to', s.getpeername(), 'as', s.getsockname());

// What the server relays, until it closes.
const printing = (async () => {
  for await (const chunk of s) process.stdout.write(text(chunk));
})();
// What we type, until end of input: then half-close, and the server closes its end.
for await (const line of createInterface({ input: process.stdin })) await s.sendall(`${line}\n`);
s.shutdown(SHUT_WR);
await printing;
await s.close();
