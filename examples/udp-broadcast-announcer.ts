/**
 * Announces itself by UDP broadcast every --interval ms.
 *
 *   npx tsx examples/udp-broadcast-announcer.ts [--to '<broadcast>'] [--port 5002] [--count 5] [--interval 1000] [--backend os|stack]
 *
 * On --backend stack '<broadcast>' (255.255.255.255) reaches every host on the
 * virtual Ethernet: the hub relays broadcast frames to all processes.
 *
 * Without SO_BROADCAST the kernel refuses with EACCES; that is shown first.
 */
import { AF_INET, SO_BROADCAST, SOCK_DGRAM, SOL_SOCKET, SocketError } from '../src/node/socket.ts';
import { cli } from './_cli.ts';

const c = await cli({ role: 'client' });
const to: [string, number] = [c.str('to', '<broadcast>'), c.num('port', 5002)];
const count = c.num('count', 5);
const interval = c.num('interval', 1000);
const s = c.socket(AF_INET, SOCK_DGRAM);
try {
  await s.sendto('hello?', to);
} catch (e) {
  if (e instanceof SocketError) console.log(`without SO_BROADCAST: ${e.message}`);
  else throw e;
}
s.setsockopt(SOL_SOCKET, SO_BROADCAST, 1);
for (let i = 1; i <= count; i++) {
  await s.sendto(`announce ${i} from ${c.backend.gethostname()}`, to);
  console.log('sent announcement', i);
  if (i < count) await new Promise((r) => setTimeout(r, interval));
}
await s.close();
