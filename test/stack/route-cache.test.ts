/**
 * TCP's output keeps the last route it looked up (src/stack/tcp-glue.ts) while the network
 * layer's routes stay the same (NetworkLayer.routeGeneration): a change to interfaces,
 * addresses or routes makes the next segment look its route up again.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { millis } from '../../src/time/instant.ts';
import type { IpAddress } from '../../src/wire/address.ts';
import { pair } from '../scenarios/tcp-net.ts';

const B: IpAddress = { family: 4, v4: 0x0a000002 };

it('a route change reaches a connection whose segments routed from the cache', () => {
  const { sim, a, b } = pair({ seed: 3 });
  const l = b.tcp.listen({ port: 7100, backlog: 1 });
  const c = a.tcp.connect({ remote: B, remotePort: 7100 });
  sim.runFor(millis(20));
  const s = l.accept();
  assert.ok(s);
  s.events = {
    onReadable: () => {
      while (s.read() !== null) {}
    },
  };
  // Segments flow: every one after the first routes from the cache.
  c.write(new Uint8Array(1000));
  sim.runFor(millis(20));
  const gen = a.net.routeGeneration;
  assert.equal(a.stats.ip.noRoute, 0);
  // The interface goes down: the cached route is stale, the next segment finds no route.
  a.setInterfaceUp('eth0', false);
  assert.notEqual(a.net.routeGeneration, gen, 'the change is visible to transports');
  c.write(new Uint8Array(1000));
  assert.equal(a.stats.ip.noRoute, 1, 'looked up again, and there is no route now');
  // Back up: segments route again and the data arrives.
  a.setInterfaceUp('eth0', true);
  sim.runFor(millis(5_000));
  assert.equal(s.stats.bytesReceived, 2000);
});
