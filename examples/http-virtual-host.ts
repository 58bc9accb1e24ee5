/**
 * A plain node:http app (no framework) served from a virtual host on a memory
 * network, fetched by a client on another virtual host. Every byte crosses
 * sockstack: Ethernet frames on a memory cable, ARP, IPv4, TCP, then node:http.
 *
 *   web    10.0.0.80  ── memory cable ──  laptop 10.0.0.2
 *
 *   npx tsx examples/http-virtual-host.ts [path]      (default path: /hello?name=sockstack)
 *
 * The server side is `http.createServer(handler)` attached with `net.attach(server, 80)`;
 * the client side is `http.get` through a keep-alive `StackHttpAgent`, then `fetch`
 * through an undici dispatcher over the same network.
 */
import http from 'node:http';
import { StackHttpAgent, stackFetch } from '../src/node/agents.ts';
import { virtualNetwork } from '../src/node/runtime.ts';

const path = process.argv[2] ?? '/hello?name=sockstack';

const vn = virtualNetwork({ hosts: { web: '10.0.0.80/24', laptop: '10.0.0.2/24' } });

// ---- the app, on host "web"
let hits = 0;
const app = http.createServer((req, res) => {
  hits++;
  const url = new URL(req.url ?? '/', 'http://web');
  if (url.pathname === '/hello') {
    const name = url.searchParams.get('name') ?? 'world';
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(
      `Hello, ${name}! You are ${req.socket.remoteAddress}:${req.socket.remotePort}; this is hit ${hits}.\n`,
    );
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end(`no route for ${url.pathname}\n`);
});
const listening = await vn.net('web').attach(app, 80);
console.log(`server: node:http listening on web (${vn.address('web')}) port ${listening.address()?.port}`);

// ---- the client, on host "laptop"
const agent = new StackHttpAgent(vn.net('laptop'), { keepAlive: true });
const viaHttp = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
  (resolve, reject) => {
    http
      .get({ host: 'web', port: 80, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  },
);
console.log(`http.get  -> ${viaHttp.status} ${viaHttp.headers['content-type']}`);
process.stdout.write(`  ${viaHttp.body}`);

const f = await stackFetch(vn.net('laptop'));
const res = await f.fetch(`http://web${path}`);
console.log(`fetch     -> ${res.status} ${res.headers.get('content-type')} (${f.impl} undici)`);
process.stdout.write(`  ${await res.text()}`);

// ---- tidy up: idle keep-alive sockets, the server, the network
agent.destroy();
await f.close();
await new Promise<void>((resolve) => listening.close(() => resolve())); // also closes `app`
await vn.close();
const tcp = vn.stacks.web.tcp.stats;
console.log(
  `web's TCP: ${tcp.passiveOpens} connections accepted, ${tcp.segmentsIn} segments in, ${tcp.segmentsOut} out`,
);
