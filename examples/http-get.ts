/**
 * A tiny HTTP/1.0 client over a raw socket: what `fetch` does, by hand.
 *
 *   npx tsx examples/http-get.ts http://example.com/ [--backend os|stack] [--nameserver A.B.C.D]
 *   npx tsx examples/http-get.ts --backend stack            (default URL: http://10.99.0.1:8080/,
 *                                                          examples/http-server.ts on the stack)
 */
import { createConnection } from '../src/node/socket.ts';
import { cli, text } from './_cli.ts';

const c = await cli({ role: 'client' });
const url = new URL(
  c.args[0] ?? (c.backendName === 'stack' ? `http://${c.defaultHost}:8080/` : 'http://example.com/'),
);
if (url.protocol !== 'http:') {
  console.error('only http:// URLs (no TLS here)');
  process.exit(2);
}
const port = url.port ? Number(url.port) : 80;
const s = await createConnection([url.hostname, port], c.num('timeout', 10), { backend: c.backend });
await s.sendall(
  `GET ${url.pathname}${url.search} HTTP/1.0\r\nHost: ${url.host}\r\nUser-Agent: sockstack-example\r\n\r\n`,
);
const parts: string[] = [];
for await (const chunk of s) parts.push(text(chunk));
await s.close();
const response = parts.join('');
const [head, ...body] = response.split('\r\n\r\n');
console.log(head.split('\r\n')[0]);
console.log(body.join('\r\n\r\n'));
