/**
 * Listens for broadcast announcements on a UDP port.
 *
 *   npx tsx examples/udp-broadcast-listener.ts [--port 5002] [--count 5] [--timeout 10]
 */
import { AF_INET, SOCK_DGRAM } from '../src/node/socket.ts';
import { cli, text } from './_cli.ts';

const c = await cli({ role: 'server' });
const s = c.socket(AF_INET, SOCK_DGRAM);
await s.bind(['', c.num('port', 5002)]);
s.settimeout(c.num('timeout', 10));
console.log('listening on', s.getsockname());
for (let i = 0; i < c.num('count', 5); i++) {
  const [data, from] = await s.recvfrom(1500);
  console.log('from', from, JSON.stringify(text(data)));
}
await s.close();
