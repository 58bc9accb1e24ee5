import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { localMac, MAC_BROADCAST, type MacAddress } from '../../src/wire/address.ts';
import { ARP_LEN, ARP_OP_REPLY, ARP_OP_REQUEST, emitArp } from '../../src/wire/arp.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, emitEthernet } from '../../src/wire/ethernet.ts';
import { emitIpv4, type Ipv4Repr } from '../../src/wire/ipv4.ts';

const VICTIM = 0x0a000002; // 10.0.0.2

/** A victim stack on a cable whose other end the test drives by hand (the attacker). */
function victimAndAttacker(config = {}) {
  const sim = new Simulation({ seed: 3 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const victim = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'victim', config }));
  const iface = victim.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.2/24'] });
  const sent: Uint8Array[] = [];
  cable.b.onReceive = (f) => sent.push(f);
  sim.runUntilIdle();
  const frame = (dst: MacAddress, src: MacAddress, ethertype: number, payload: Uint8Array) => {
    const f = new Uint8Array(14 + payload.length);
    emitEthernet({ dst, src, ethertype }, f);
    f.set(payload, 14);
    cable.b.transmit(f);
  };
  return { sim, victim, iface, frame, sent };
}

function ipFragment(id: number, src: number, offset: number, len: number, more: boolean): Uint8Array {
  const repr: Ipv4Repr = {
    dscp: 0,
    ecn: 0,
    identification: id & 0xffff,
    dontFragment: false,
    moreFragments: more,
    fragmentOffset: offset,
    ttl: 64,
    protocol: 17,
    src,
    dst: VICTIM,
    options: new Uint8Array(0),
    payloadLength: len,
  };
  const p = new Uint8Array(20 + len);
  emitIpv4(repr, p);
  return p;
}

test('fragment flood: reassembly stays within its datagram and byte caps', () => {
  const { sim, victim, iface, frame } = victimAndAttacker({
    reassembly: { maxDatagrams: 32, maxBytes: 64 * 1024 },
  });
  const attacker = localMac(0xbad);
  let maxDatagrams = 0;
  let maxBytes = 0;
  for (let i = 0; i < 5000; i++) {
    // Never-completing first fragments from many "sources" and ids.
    frame(iface.mac, attacker, ETHERTYPE_IPV4, ipFragment(i, 0x0a000100 + (i % 200), 0, 1400, true));
    if (i % 50 === 49) {
      sim.runFor(millis(1));
      maxDatagrams = Math.max(maxDatagrams, victim.ip.reassembler.datagrams);
      maxBytes = Math.max(maxBytes, victim.ip.reassembler.bytes);
    }
  }
  sim.runFor(millis(1));
  assert.equal(victim.stats.ip.reasmRequired, 5000);
  assert.ok(maxDatagrams <= 32, `datagrams ${maxDatagrams}`);
  assert.ok(maxBytes <= 64 * 1024, `bytes ${maxBytes}`);
  assert.ok(victim.stats.ip.reasmEvictions >= 5000 - 64);
  // After the 30 s timeout everything is gone; with no port open, the timed-out
  // datagrams' first fragments made ICMP time exceeded, rate limited.
  sim.runFor(seconds(31));
  assert.equal(victim.ip.reassembler.datagrams, 0);
  assert.equal(victim.ip.reassembler.bytes, 0);
});

test('overlapping fragments drop the datagram; later fragments of it are discarded too', () => {
  const { sim, victim, iface, frame } = victimAndAttacker();
  const m = localMac(0xbad);
  frame(iface.mac, m, ETHERTYPE_IPV4, ipFragment(7, 0x0a000009, 0, 16, true));
  frame(iface.mac, m, ETHERTYPE_IPV4, ipFragment(7, 0x0a000009, 8, 16, true)); // overlaps [8,16)
  frame(iface.mac, m, ETHERTYPE_IPV4, ipFragment(7, 0x0a000009, 16, 8, false));
  sim.runFor(millis(1));
  assert.equal(victim.stats.ip.reasmOverlaps, 1);
  assert.equal(victim.stats.ip.reasmOk, 0);
  assert.equal(victim.stats.ip.reasmFails, 2);
});

function arp(op: 1 | 2, senderMac: MacAddress, senderIp: number, targetIp: number): Uint8Array {
  const b = new Uint8Array(ARP_LEN);
  emitArp({ op, senderMac, senderIp, targetMac: new Uint8Array(6), targetIp }, b);
  return b;
}

test('ARP flood: requests from thousands of senders keep the cache within its cap', () => {
  const { sim, victim, iface, frame, sent } = victimAndAttacker({ arp: { maxEntries: 64 } });
  for (let i = 0; i < 10_000; i++) {
    const mac = localMac(0x10000 + i);
    // Requests for our address create entries (RFC 826 merge); all the rest must not.
    frame(MAC_BROADCAST, mac, ETHERTYPE_ARP, arp(ARP_OP_REQUEST, mac, 0x0a010000 + i, VICTIM));
    // Unsolicited replies and requests for other hosts: no entries.
    frame(iface.mac, mac, ETHERTYPE_ARP, arp(ARP_OP_REPLY, mac, 0x0a020000 + i, VICTIM + 1));
    frame(MAC_BROADCAST, mac, ETHERTYPE_ARP, arp(ARP_OP_REQUEST, mac, 0x0a030000 + i, 0x0a000063));
    if (i % 100 === 99) {
      sim.runFor(millis(1));
      assert.ok(iface.arp!.size <= 64, `cache ${iface.arp!.size}`);
    }
  }
  sim.runFor(millis(1));
  assert.equal(iface.arp!.size, 64);
  assert.equal(victim.stats.arp.requestsReceived, 20_000);
  assert.equal(victim.stats.arp.repliesReceived, 10_000);
  assert.equal(victim.stats.arp.repliesSent, 10_000);
  assert.ok(victim.stats.arp.evictions >= 10_000 - 64);
  // Only entries from requests aimed at us survive.
  for (const e of iface.arp!.entries()) assert.equal(e.ip >>> 16, 0x0a01);
  assert.ok(sent.length >= 10_000);
});

test('ARP: the victim still resolves a real neighbour after a flood, and answers it', async () => {
  const { sim, victim, iface, frame, sent } = victimAndAttacker({ arp: { maxEntries: 16 } });
  for (let i = 0; i < 1000; i++) {
    const mac = localMac(0x20000 + i);
    frame(MAC_BROADCAST, mac, ETHERTYPE_ARP, arp(ARP_OP_REQUEST, mac, 0x0a010000 + i, VICTIM));
  }
  sim.runFor(millis(1));
  sent.length = 0;
  const p = victim.ping('10.0.0.9', { timeout: millis(500) });
  sim.runFor(millis(1));
  // The victim broadcast a request for 10.0.0.9; answer it.
  const req = sent.find((f) => f[12] === 0x08 && f[13] === 0x06);
  assert.ok(req, 'an ARP request went out');
  const peer = localMac(0x99);
  frame(iface.mac, peer, ETHERTYPE_ARP, arp(ARP_OP_REPLY, peer, 0x0a000009, VICTIM));
  sim.runFor(millis(1));
  assert.equal(iface.arp!.get(0x0a000009)?.state, 'reachable');
  assert.ok(iface.arp!.size <= 16);
  const r = await sim.run(p);
  assert.ok(!r.ok); // nobody answers the echo itself
  assert.equal(r.error, 'timeout');
});
