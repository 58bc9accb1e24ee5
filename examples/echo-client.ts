/**
 * The course's echo client: connect, send a message, print the echo.
 *
 *   npx tsx examples/echo-client.ts [--host localhost] [--port 5000] [--backend os|stack] [message]
 *   (on --backend stack the default host is the server's 10.99.0.1)
 */
import { AF_INET, SOCK_STREAM } from '../src/node/socket.ts';
import { cli, text } from './_cli.ts';

const c = await cli({ role: 'client' });
const message = c.args.join(' ') || 'Hello, world';
const s = c.socket(AF_INET, SOCK_STREAM);
await s.connect([c.str('host', c.defaultHost), c.num('port', 5000)]);
await s.sendall(message);
s.shutdown(1); // SHUT_WR: tell the server we are done, then read the whole echo
const parts: string[] = [];
for await (const chunk of s) parts.push(text(chunk));
await s.close();
console.log('Received', JSON.stringify(parts.join('')));
