/**
 * A transparent interface (NetInterface.transparent, a gateway's guest link) for IPv6: a
 * packet for any unicast address beyond the link is delivered locally, and a reply may
 * leave from an address that is not ours, but only out of a transparent interface.
 * Link-local destinations stay the link's own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';
import { parseIp } from '../../src/wire/address.ts';

function pair(transparent: boolean) {
  const sim = new Simulation({ seed: 9 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const cfg = { ipv6: { enable: true } };
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', config: cfg }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b', config: cfg }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['2001:db8::1/64'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['2001:db8::2/64'], transparent });
  // a reaches everything through b.
  a.addRoute({ destination: '::/0', gateway: '2001:db8::2' });
  sim.runFor(seconds(3)); // duplicate address detection
  return { sim, a, b };
}

describe('IPv6 on a transparent interface', () => {
  it('answers an echo to any address beyond the link, from that address', async () => {
    const { sim, a, b } = pair(true);
    const r = await sim.run(a.ping6('2001:db8:77::5', { timeout: seconds(1) }), { timeout: seconds(2) });
    assert.ok(r.ok, JSON.stringify(r));
    // A foreign source is allowed out of the transparent interface only.
    assert.equal(typeof b.net.route(parseIp('2001:db8::1')!, parseIp('2001:db8:77::5')!), 'object');
    assert.equal(b.net.route(parseIp('::1')!, parseIp('2001:db8:77::5')!), 'EADDRNOTAVAIL');
  });

  it('leaves other interfaces as they were: not ours, not delivered; a foreign source refused', async () => {
    const { sim, a, b } = pair(false);
    const r = await sim.run(a.ping6('2001:db8:77::5', { timeout: seconds(1) }), { timeout: seconds(2) });
    assert.equal(r.ok, false);
    assert.equal(b.net.route(parseIp('2001:db8::1')!, parseIp('2001:db8:77::5')!), 'EADDRNOTAVAIL');
  });
});
