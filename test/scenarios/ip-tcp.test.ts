import assert from 'node:assert/strict';
import { test } from 'node:test';
import { millis } from '../../src/time/instant.ts';
import { twoSubnets } from './ip-net.ts';

test('TCP over the IP layer: a handshake across the router (protocol 6 demux + TcpEnv)', () => {
  const { sim, a, b, router } = twoSubnets();
  b.tcp.listen({ port: 8080, backlog: 8 });
  const c = a.tcp.connect({ remote: { family: 4, v4: 0x0a000202 }, remotePort: 8080 });
  sim.runFor(millis(100));
  assert.equal(c.state, 'ESTABLISHED');
  assert.ok(router.stats.ip.forwarded >= 3);
  assert.equal(a.tcpStats.badChecksum + b.tcpStats.badChecksum, 0);
});

test('TCP to a closed port across the router is refused (RST)', () => {
  const { sim, a } = twoSubnets();
  const c = a.tcp.connect({ remote: { family: 4, v4: 0x0a000202 }, remotePort: 8081 });
  sim.runFor(millis(100));
  assert.equal(c.state, 'CLOSED');
});
