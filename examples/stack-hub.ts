/**
 * Hosts the stack backend's virtual Ethernet hub and nothing else, so example
 * processes can come and go in any order (normally the first of them hosts it and
 * the hub ends with that process).
 *
 *   npx tsx examples/stack-hub.ts [--hub 127.0.0.1:PORT]   (default: this user's hub, 47000 + uid mod 2000)
 *
 * Prints each new member; stop it with Ctrl-C.
 */
import { DEFAULT_HUB, HubLink, parseHub } from '../src/node/stack-backend.ts';
import { cli } from './_cli.ts';

const c = await cli();
const link = new HubLink({ hub: parseHub(c.str('hub', `${DEFAULT_HUB.host}:${DEFAULT_HUB.port}`)) });
const role = await link.ready;
if (role !== 'hub') {
  console.error(`a hub is already running on 127.0.0.1:${link.hub.port}`);
  await link.close();
  process.exit(1);
}
console.log(`hub on 127.0.0.1:${link.localPort}`);
let known = 0;
link.onReceive = () => {
  const members = link.members;
  for (; known < members.length; known++)
    console.log('member', `${members[known].host}:${members[known].port}`);
};
