/**
 * The core hooks the gateway stands on, on their own: a transparent interface delivers
 * datagrams for any unicast destination locally; TCP's catch-all listener (listenAny)
 * takes SYNs no listener wants, and its onSyn may hold a SYN and answer it later
 * (acceptSyn) or refuse it (refuseSyn); a listener on the exact port still comes first;
 * UDP's catchAll sees datagrams no endpoint wants and sendFrom answers from any address.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';
import type { IpAddress } from '../../src/wire/address.ts';
import type { TcpRepr } from '../../src/wire/tcp.ts';

/** Lets the event loop run the sockets' async steps while the simulation advances, until `done` (bounded). */
async function settle(sim: Simulation, done: () => boolean): Promise<void> {
  await sim.run(
    async () => {
      for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setImmediate(r));
    },
    { timeout: seconds(5) },
  );
}

function pair(transparent: boolean) {
  const sim = new Simulation({ seed: 9 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const gw = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'gw', privileged: true }));
  gw.addInterface({ name: 'guest', device: cable.b, addresses: ['10.0.2.2/24'], transparent });
  const guest = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'guest' }));
  guest.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.2.15/24'] });
  guest.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.2.2' });
  return { sim, gw, guest };
}

describe('transparent interface and catch-all listeners', () => {
  it('without transparent, a segment for another address is not ours', async () => {
    const { sim, gw, guest } = pair(false);
    gw.tcp.listenAny({ backlog: 4 });
    const s = guest.socket(AF_INET, SOCK_STREAM);
    const p = s.connect(['192.0.2.80', 80]);
    await settle(sim, () => gw.stats.ip.notForUs > 0);
    assert.ok(gw.stats.ip.notForUs > 0);
    assert.equal(gw.tcp.stats.passiveOpens, 0);
    void p.catch(() => {});
  });

  it('holds a SYN, then opens the connection on acceptSyn; refuseSyn answers RST', async () => {
    const { sim, gw, guest } = pair(true);
    const l = gw.tcp.listenAny({ backlog: 4 });
    const held: [IpAddress, IpAddress, TcpRepr][] = [];
    l.onSyn = (src, dst, r) => {
      held.push([src, dst, r]);
      return false;
    };
    const a = guest.socket(AF_INET, SOCK_STREAM);
    const pa = a.connect(['192.0.2.80', 80]);
    await settle(sim, () => held.length > 0);
    sim.runFor(seconds(0.5));
    assert.equal(held.length, 1);
    assert.equal(gw.tcp.connectionCount, 0, 'nothing answered while held');
    l.onSyn = undefined;
    l.acceptSyn(...held[0]);
    await sim.run(pa, { timeout: seconds(5) });
    const c = l.accept();
    assert.ok(c);
    assert.equal(c.local.port, 80);
    assert.deepEqual(c.local.address, { family: 4, v4: 0xc0000250 });

    l.onSyn = (src, dst, r) => {
      l.refuseSyn(src, dst, r);
      return false;
    };
    const b = guest.socket(AF_INET, SOCK_STREAM);
    await assert.rejects(sim.run(b.connect(['192.0.2.81', 81]), { timeout: seconds(5) }), {
      code: 'ECONNREFUSED',
    });
    assert.throws(() => gw.tcp.listenAny({ backlog: 1 }), { code: 'EADDRINUSE' });
    l.close();
    assert.doesNotThrow(() => gw.tcp.listenAny({ backlog: 1 }).close());
  });

  it('a listener on the exact port comes before the catch-all', async () => {
    const { sim, gw, guest } = pair(true);
    const any = gw.tcp.listenAny({ backlog: 4 });
    let asked = 0;
    any.onSyn = () => {
      asked++;
      return false;
    };
    const exact = gw.tcp.listen({ address: { family: 4, v4: 0x0a000202 }, port: 53, backlog: 4 });
    const s = guest.socket(AF_INET, SOCK_STREAM);
    await sim.run(s.connect(['10.0.2.2', 53]), { timeout: seconds(5) });
    assert.ok(exact.accept());
    assert.equal(asked, 0);
  });

  it('UDP catchAll takes datagrams for no endpoint; sendFrom answers from the address asked', async () => {
    const { sim, gw, guest } = pair(true);
    const seen: string[] = [];
    gw.udp.catchAll = (info, srcPort, dstPort, data) => {
      seen.push(`${dstPort}:${new TextDecoder().decode(data)}`);
      gw.udp.sendFrom(info.dst, dstPort, info.src, srcPort, data);
      return dstPort !== 9; // port 9: not taken, so ICMP port unreachable as usual
    };
    const u = guest.socket(AF_INET, SOCK_DGRAM);
    await sim.run(u.sendto(new TextEncoder().encode('x'), ['198.51.100.1', 7]), { timeout: seconds(1) });
    const [d, from] = await sim.run(u.recvfrom(10), { timeout: seconds(1) });
    assert.equal(new TextDecoder().decode(d), 'x');
    assert.deepEqual(from, ['198.51.100.1', 7]);
    const before = gw.stats.icmp.outMessages;
    await sim.run(u.sendto(new TextEncoder().encode('y'), ['198.51.100.1', 9]), { timeout: seconds(1) });
    sim.runFor(seconds(0.1));
    assert.deepEqual(seen, ['7:x', '9:y']);
    assert.equal(gw.stats.icmp.outMessages, before + 1, 'an untaken datagram gets port unreachable');
  });
});
