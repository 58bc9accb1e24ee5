/**
 * NDP with hand-made packets from the far end of a cable: a Neighbor Advertisement's
 * Solicited and Override flags (RFC 4861 §7.2.5: an INCOMPLETE entry, a REACHABLE one
 * facing another address without Override, a STALE one ignoring it, Override replacing
 * the address, a router turning host leaving the default router list) and Redirects
 * (§8: accepted only from the destination's current first-hop router with hop limit 255
 * and a valid target; applied as a bounded, expiring destination cache; to another router
 * or on-link).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { AF_INET6, SOCK_DGRAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { formatIpv6, parseIpv6 } from '../../src/wire/address.ts';
import { ETHERTYPE_IPV6, writeEthernetHeader } from '../../src/wire/ethernet.ts';
import { emitIpv6, IPV6_NH_ICMPV6 } from '../../src/wire/ipv6.ts';
import { ipv6Key, ipv6MulticastMac } from '../../src/wire/ipv6-address.ts';
import { emitNdp, type NdpRepr } from '../../src/wire/ndp.ts';

const M1 = Uint8Array.from([0x02, 0, 0, 0, 0, 0x11]);
const M2 = Uint8Array.from([0x02, 0, 0, 0, 0, 0x22]);
const ROUTER_MAC = Uint8Array.from([0x02, 0, 0, 0, 0, 0x01]);
const ip = (s: string) => parseIpv6(s)!;
const US = ip('fd00:1::1');
const ALL_NODES = ip('ff02::1');

function setup() {
  const sim = new Simulation({ seed: 27 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const s = sim.add(
    new Stack({
      clock: sim.clock,
      rng: sim.rng.fork(),
      name: 's',
      config: { ipv6: { slaac: { dadTransmits: 0 } } },
    }),
  );
  const iface = s.addInterface({ name: 'eth0', device: cable.a, addresses: ['fd00:1::1/64'] });
  const out: Uint8Array[] = [];
  cable.b.onReceive = (f) => out.push(f.slice());
  sim.runFor(millis(10));
  out.length = 0;
  const send = (
    m: NdpRepr,
    src: Uint8Array,
    dst: Uint8Array,
    opts: { hopLimit?: number; mac?: Uint8Array } = {},
  ) => {
    const msg = emitNdp(m, src, dst);
    const f = new Uint8Array(14 + 40 + msg.length);
    const toMac = opts.mac ?? (dst[0] === 0xff ? ipv6MulticastMac(dst) : iface.mac);
    writeEthernetHeader(f, 0, toMac, ROUTER_MAC, ETHERTYPE_IPV6);
    emitIpv6(
      {
        trafficClass: 0,
        flowLabel: 0,
        payloadLength: msg.length,
        nextHeader: IPV6_NH_ICMPV6,
        hopLimit: opts.hopLimit ?? 255,
        src,
        dst,
      },
      f,
      14,
    );
    f.set(msg, 54);
    cable.b.transmit(f);
    sim.runFor(millis(5));
  };
  const cache = () => s.ip6.state(iface)!.ndp!;
  const entry = (a: string) => cache().get(ipv6Key(ip(a)));
  /** The destination MACs of the UDP datagrams the stack sent. */
  const udpMacs = () =>
    out
      .filter((f) => ((f[12] << 8) | f[13]) === ETHERTYPE_IPV6 && f[20] === 17)
      .map((f) => [...f.subarray(0, 6)]);
  const na = (target: string, o: { s: boolean; o: boolean; r?: boolean; mac?: Uint8Array }): NdpRepr => ({
    kind: 'na',
    router: o.r ?? false,
    solicited: o.s,
    override: o.o,
    target: ip(target),
    options: o.mac ? { targetLinkAddress: o.mac } : {},
  });
  return { sim, s, iface, out, send, entry, udpMacs, na };
}

test('NA on an INCOMPLETE entry: S=0 makes it STALE with the address and the queued datagram goes', async () => {
  const { sim, s, send, entry, udpMacs, na } = setup();
  await sim.run(async () => {
    const u = s.socket(AF_INET6, SOCK_DGRAM);
    await u.sendto('waiting for NDP', ['fd00:1::77', 9]);
    u.close();
  });
  assert.equal(entry('fd00:1::77')?.state, 'incomplete');
  // Without a Target Link-Layer Address an INCOMPLETE entry cannot use it: discarded.
  send(na('fd00:1::77', { s: true, o: true }), ip('fd00:1::77'), US);
  assert.equal(entry('fd00:1::77')?.state, 'incomplete');
  send(na('fd00:1::77', { s: false, o: true, mac: M1 }), ip('fd00:1::77'), ALL_NODES);
  const e = entry('fd00:1::77');
  assert.equal(e?.state, 'stale');
  assert.deepEqual(e?.mac, M1);
  assert.deepEqual(udpMacs(), [[...M1]], 'the queued datagram left to the advertised address');
});

test('Override: O=0 with another address turns REACHABLE to STALE keeping the old address, is ignored when STALE; O=1 replaces it', async () => {
  const { sim, s, send, entry, na } = setup();
  const peer = 'fd00:1::88';
  await sim.run(async () => {
    const u = s.socket(AF_INET6, SOCK_DGRAM);
    await u.sendto('x', [peer, 9]);
    u.close();
  });
  send(na(peer, { s: true, o: true, mac: M1 }), ip(peer), US);
  assert.equal(entry(peer)?.state, 'reachable');
  send(na(peer, { s: false, o: false, mac: M2 }), ip(peer), ALL_NODES);
  assert.equal(entry(peer)?.state, 'stale');
  assert.deepEqual(entry(peer)?.mac, M1, 'O=0: the cached address stays');
  const ignored = s.ip6.stats.naIgnored;
  send(na(peer, { s: false, o: false, mac: M2 }), ip(peer), ALL_NODES);
  assert.equal(s.ip6.stats.naIgnored, ignored + 1);
  assert.deepEqual(entry(peer)?.mac, M1);
  // S=1 with the same address (O clear) confirms it: REACHABLE.
  send(na(peer, { s: true, o: false, mac: M1 }), ip(peer), US);
  assert.equal(entry(peer)?.state, 'reachable');
  // O=1 with a new address: recorded; S=0, so STALE.
  send(na(peer, { s: false, o: true, mac: M2 }), ip(peer), ALL_NODES);
  assert.equal(entry(peer)?.state, 'stale');
  assert.deepEqual(entry(peer)?.mac, M2);
});

/** A host with a default router fe80::1 (from its RA) and a second router fe80::2 on the link. */
function withRouter() {
  const r = setup();
  r.send(
    {
      kind: 'ra',
      curHopLimit: 64,
      managed: false,
      other: false,
      routerLifetime: 1800,
      reachableTime: 0,
      retransTimer: 0,
      options: { sourceLinkAddress: ROUTER_MAC },
    },
    ip('fe80::1'),
    ALL_NODES,
  );
  assert.equal(r.s.ip6.state(r.iface)!.routers.length, 1);
  return r;
}

const nextHop = (s: Stack, dst: string) => {
  const route = s.ip6.route(ip(dst));
  assert.ok(typeof route !== 'string', `a route to ${dst}`);
  return formatIpv6(route.nextHop);
};

test('a router that advertises itself as a host (R=0) leaves the default router list', () => {
  const { s, iface, send, na } = withRouter();
  send(na('fe80::1', { s: false, o: true, r: true, mac: ROUTER_MAC }), ip('fe80::1'), ALL_NODES);
  assert.equal(s.ip6.state(iface)!.routers.length, 1);
  send(na('fe80::1', { s: false, o: true, r: false, mac: ROUTER_MAC }), ip('fe80::1'), ALL_NODES);
  assert.equal(s.ip6.state(iface)!.routers.length, 0);
  assert.equal(typeof s.ip6.route(ip('fd00:9::5')), 'string', 'no default route any more');
});

test('Redirect: only from the current first hop, hop limit 255, a valid target; then the destination goes via the target', async () => {
  const { sim, s, send, entry, udpMacs, out } = withRouter();
  const D = 'fd00:9::5';
  assert.equal(nextHop(s, D), 'fe80::1');
  const redirect = (target: string, destination: string, mac?: Uint8Array): NdpRepr => ({
    kind: 'redirect',
    target: ip(target),
    destination: ip(destination),
    options: mac ? { targetLinkAddress: mac } : {},
  });
  // Not from the first-hop router for D: ignored.
  send(redirect('fe80::2', D, M2), ip('fe80::3'), US);
  assert.equal(s.ip6.stats.redirectsIgnored, 1);
  // Hop limit 64: it could have been forwarded (RFC 4861 §8.1).
  send(redirect('fe80::2', D, M2), ip('fe80::1'), US, { hopLimit: 64 });
  assert.equal(s.ip6.stats.ndpBadHopLimit, 1);
  // A global target that is not the destination: invalid.
  send(redirect('fd00:1::2', D, M2), ip('fe80::1'), US);
  assert.equal(s.ip6.stats.ndpInvalid, 1);
  // A multicast destination: invalid.
  send(redirect('fe80::2', 'ff0e::1', M2), ip('fe80::1'), US);
  assert.equal(s.ip6.stats.ndpInvalid, 2);
  assert.equal(nextHop(s, D), 'fe80::1', 'nothing changed yet');

  send(redirect('fe80::2', D, M2), ip('fe80::1'), US);
  assert.equal(s.ip6.stats.redirectsAccepted, 1);
  assert.equal(nextHop(s, D), 'fe80::2');
  assert.equal(entry('fe80::2')?.state, 'stale');
  assert.deepEqual(entry('fe80::2')?.mac, M2);
  // Other destinations still go to the default router.
  assert.equal(nextHop(s, 'fd00:9::6'), 'fe80::1');
  out.length = 0;
  await sim.run(async () => {
    const u = s.socket(AF_INET6, SOCK_DGRAM);
    await u.sendto('via the better router', [D, 9]);
    u.close();
  });
  sim.runFor(millis(5));
  assert.deepEqual(udpMacs(), [[...M2]]);

  // Target = destination: the destination is on-link.
  send(redirect('fd00:9::7', 'fd00:9::7'), ip('fe80::1'), US);
  assert.equal(nextHop(s, 'fd00:9::7'), 'fd00:9::7');
  // The destination cache forgets after REDIRECT_LIFETIME (600 s); the router stays.
  sim.runFor(seconds(601));
  assert.equal(nextHop(s, D), 'fe80::1');
});

test('a redirect flood is bounded: at most 64 redirected destinations, the oldest evicted', () => {
  const { s, send } = withRouter();
  for (let i = 0; i < 100; i++)
    send(
      {
        kind: 'redirect',
        target: ip('fe80::2'),
        destination: ip(`fd00:9::${(i + 1).toString(16)}`),
        options: {},
      },
      ip('fe80::1'),
      US,
    );
  assert.equal(s.ip6.stats.redirectsAccepted, 100);
  assert.equal(s.ip6.routes.routes.filter((r) => r.origin === 'redirect').length, 64);
  assert.equal(nextHop(s, 'fd00:9::1'), 'fe80::1', 'the first was evicted');
  assert.equal(nextHop(s, 'fd00:9::64'), 'fe80::2', 'the last is kept');
});

test('a router stack ignores redirects', () => {
  const sim = new Simulation({ seed: 28 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const s = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'r', forwarding: true }));
  s.addInterface({ name: 'eth0', device: cable.a, addresses: ['fd00:1::1/64'] });
  s.addRoute({ destination: '::/0', gateway: 'fe80::1', interface: 'eth0' });
  sim.runFor(seconds(3));
  const msg = emitNdp(
    { kind: 'redirect', target: ip('fe80::2'), destination: ip('fd00:9::5'), options: {} },
    ip('fe80::1'),
    US,
  );
  const f = new Uint8Array(54 + msg.length);
  writeEthernetHeader(f, 0, s.interfaces[1].mac, ROUTER_MAC, ETHERTYPE_IPV6);
  emitIpv6(
    {
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: msg.length,
      nextHeader: IPV6_NH_ICMPV6,
      hopLimit: 255,
      src: ip('fe80::1'),
      dst: US,
    },
    f,
    14,
  );
  f.set(msg, 54);
  cable.b.transmit(f);
  sim.runFor(millis(5));
  assert.equal(s.ip6.stats.redirectsIgnored, 1);
  assert.equal(s.ip6.stats.redirectsAccepted, 0);
});
