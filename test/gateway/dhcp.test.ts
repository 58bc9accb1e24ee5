/**
 * DHCP (RFC 2131/2132): the codec against a hand-built DISCOVER, every truncated prefix
 * rejected cleanly, and the server's exchanges: DISCOVER/OFFER, REQUEST/ACK (selecting,
 * init-reboot, renewing), NAK, DECLINE, RELEASE, INFORM, a bounded pool, offer expiry.
 * Then a DISCOVER over a real stack's UDP, broadcast both ways.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DhcpServer } from '../../src/gateway/dhcp-server.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { AF_INET, SO_BROADCAST, SOCK_DGRAM, SOL_SOCKET } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';
import { parseIpv4 } from '../../src/wire/address.ts';
import {
  BOOTREQUEST,
  DHCPACK,
  DHCPDECLINE,
  DHCPDISCOVER,
  DHCPINFORM,
  DHCPNAK,
  DHCPOFFER,
  DHCPRELEASE,
  DHCPREQUEST,
  type DhcpOptions,
  type DhcpRepr,
  emitDhcp,
  parseDhcp,
} from '../../src/wire/dhcp.ts';
import { isWireError } from '../../src/wire/error.ts';

const ip = (s: string) => parseIpv4(s)!;
const hex = (s: string) =>
  Uint8Array.from(
    s
      .replace(/\s+/g, '')
      .match(/../g)!
      .map((h) => Number.parseInt(h, 16)),
  );

function request(mac: number, options: DhcpOptions, ciaddr = 0, flags = 0): Uint8Array {
  const chaddr = new Uint8Array(16);
  chaddr.set([0x52, 0x54, 0, 0x12, 0x34, mac]);
  const r: DhcpRepr = {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0x1234 + mac,
    secs: 0,
    flags,
    ciaddr,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr,
    options,
  };
  return emitDhcp(r);
}

describe('DHCP codec', () => {
  // A DISCOVER as udhcpc sends it (fixed part, cookie, type, client id, param list, end).
  const discover = new Uint8Array(300);
  discover.set(hex('01 01 06 00 3903f326 0000 8000 00000000 00000000 00000000 00000000'));
  discover.set(hex('525400123456'), 28);
  discover.set(hex('63825363 350101 3d0701525400123456 3704 01030f06 ff'), 236);

  it('parses a DISCOVER and emits the same bytes', () => {
    const p = parseDhcp(discover);
    assert.ok(!isWireError(p), JSON.stringify(p));
    const r = p.repr;
    assert.equal(r.op, 1);
    assert.equal(r.xid, 0x3903f326);
    assert.equal(r.flags, 0x8000);
    assert.deepEqual([...r.chaddr.subarray(0, 6)], [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    assert.equal(r.options.messageType, DHCPDISCOVER);
    assert.deepEqual([...r.options.clientId!], [1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    assert.deepEqual([...r.options.paramList!], [1, 3, 15, 6]);
    // Our emitter writes the type first, then the rest in its own order: same options back.
    const again = parseDhcp(emitDhcp(r));
    assert.ok(!isWireError(again));
    assert.deepEqual(again.repr, r);
  });

  it('rejects every truncated prefix cleanly', () => {
    const end = 236 + 4 + 3 + 9 + 6 + 1; // through the end option
    for (let n = 0; n < end; n++) {
      const p = parseDhcp(discover.subarray(0, n));
      assert.ok(isWireError(p), `prefix of ${n} bytes parsed`);
    }
    assert.ok(!isWireError(parseDhcp(discover.subarray(0, end))));
  });

  it('rejects bad option values and a missing cookie', () => {
    const bad = (patch: string, at = 240) => {
      const b = discover.slice();
      b.set(hex(patch), at);
      return parseDhcp(b);
    };
    assert.ok(isWireError(bad('350109 ff'))); // message type 9
    assert.ok(isWireError(bad('3502 0101 ff'))); // type of length 2
    assert.ok(isWireError(bad('0103 ffffff ff'))); // 3-byte mask
    assert.ok(isWireError(bad('1a02 0010 ff'))); // MTU 16 < 68
    assert.ok(isWireError(bad('3d01 01 ff'))); // client id shorter than 2
    assert.ok(isWireError(bad('00000000', 236))); // no cookie
  });
});

describe('DHCP server', () => {
  function server(poolSize = 3) {
    let now = 0;
    const s = new DhcpServer(
      {
        serverAddress: ip('10.0.2.2'),
        prefix: 24,
        poolStart: ip('10.0.2.15'),
        poolSize,
        dns: [ip('10.0.2.3')],
        mtu: 1400,
        leaseTime: 3600,
      },
      { now: () => now },
    );
    return { s, advance: (sec: number) => (now += sec * 1e6) };
  }

  it('offers, then acknowledges the selected address with every option', () => {
    const { s } = server();
    const offer = s.handle(request(1, { messageType: DHCPDISCOVER }))!;
    assert.equal(offer.repr.options.messageType, DHCPOFFER);
    assert.equal(offer.repr.yiaddr, ip('10.0.2.15'));
    assert.equal(offer.to, undefined, 'broadcast (the client has no address yet)');
    const ack = s.handle(
      request(1, { messageType: DHCPREQUEST, serverId: ip('10.0.2.2'), requestedIp: ip('10.0.2.15') }),
    )!;
    const o = ack.repr.options;
    assert.equal(o.messageType, DHCPACK);
    assert.equal(ack.repr.yiaddr, ip('10.0.2.15'));
    assert.equal(ack.repr.xid, 0x1235);
    assert.equal(o.serverId, ip('10.0.2.2'));
    assert.equal(o.subnetMask, ip('255.255.255.0'));
    assert.deepEqual(o.routers, [ip('10.0.2.2')]);
    assert.deepEqual(o.dns, [ip('10.0.2.3')]);
    assert.equal(o.broadcast, ip('10.0.2.255'));
    assert.equal(o.mtu, 1400);
    assert.equal(o.leaseTime, 3600);
    assert.equal(o.renewalTime, 1800);
    assert.equal(o.rebindingTime, 3150);
    assert.deepEqual(
      s.leases().map((l) => [l.address, l.state]),
      [[ip('10.0.2.15'), 'bound']],
    );
  });

  it('gives the same client the same address, and different clients different ones', () => {
    const { s } = server();
    const a = s.handle(request(1, { messageType: DHCPDISCOVER }))!.repr.yiaddr;
    const b = s.handle(request(2, { messageType: DHCPDISCOVER }))!.repr.yiaddr;
    const a2 = s.handle(request(1, { messageType: DHCPDISCOVER }))!.repr.yiaddr;
    assert.equal(a, a2);
    assert.notEqual(a, b);
  });

  it('honours a free requested address in the pool, and ignores one outside', () => {
    const { s } = server();
    assert.equal(
      s.handle(request(1, { messageType: DHCPDISCOVER, requestedIp: ip('10.0.2.17') }))!.repr.yiaddr,
      ip('10.0.2.17'),
    );
    assert.equal(
      s.handle(request(2, { messageType: DHCPDISCOVER, requestedIp: ip('10.9.9.9') }))!.repr.yiaddr,
      ip('10.0.2.15'),
    );
  });

  it('is bounded by its pool; expired offers are reused', () => {
    const { s, advance } = server(2);
    assert.ok(s.handle(request(1, { messageType: DHCPDISCOVER })));
    assert.ok(s.handle(request(2, { messageType: DHCPDISCOVER })));
    assert.equal(s.handle(request(3, { messageType: DHCPDISCOVER })), undefined);
    assert.equal(s.stats.poolExhausted, 1);
    advance(61);
    assert.ok(
      s.handle(request(3, { messageType: DHCPDISCOVER })),
      'an offer held past 60 s frees its address',
    );
    assert.ok(s.leases().length <= 2);
  });

  it('NAKs a request for an address it did not offer, or on another network', () => {
    const { s } = server();
    s.handle(request(1, { messageType: DHCPDISCOVER }));
    const nak = s.handle(
      request(1, { messageType: DHCPREQUEST, serverId: ip('10.0.2.2'), requestedIp: ip('10.0.2.16') }),
    )!;
    assert.equal(nak.repr.options.messageType, DHCPNAK);
    assert.equal(nak.to, undefined, 'NAKs are broadcast');
    const wrong = s.handle(request(2, { messageType: DHCPREQUEST, requestedIp: ip('192.168.1.50') }))!;
    assert.equal(wrong.repr.options.messageType, DHCPNAK);
    // A client that selected another server: silence, and the offer is withdrawn.
    assert.equal(
      s.handle(
        request(1, { messageType: DHCPREQUEST, serverId: ip('10.0.2.99'), requestedIp: ip('10.0.2.15') }),
      ),
      undefined,
    );
    assert.equal(s.leases().length, 0);
  });

  it('renews by unicast to ciaddr, and NAKs a renewal of a lease it does not have', () => {
    const { s, advance } = server();
    s.handle(request(1, { messageType: DHCPDISCOVER }));
    s.handle(
      request(1, { messageType: DHCPREQUEST, serverId: ip('10.0.2.2'), requestedIp: ip('10.0.2.15') }),
    );
    advance(1800);
    const renew = s.handle(request(1, { messageType: DHCPREQUEST }, ip('10.0.2.15')))!;
    assert.equal(renew.repr.options.messageType, DHCPACK);
    assert.equal(renew.to, ip('10.0.2.15'));
    assert.equal(renew.repr.ciaddr, ip('10.0.2.15'));
    assert.equal(s.leases()[0].expires, (1800 + 3600) * 1e6);
    assert.equal(
      s.handle(request(2, { messageType: DHCPREQUEST }, ip('10.0.2.16')))!.repr.options.messageType,
      DHCPNAK,
    );
  });

  it('init-reboot: ACKs the client its own address, NAKs one held by another', () => {
    const { s } = server();
    s.handle(request(1, { messageType: DHCPDISCOVER }));
    s.handle(
      request(1, { messageType: DHCPREQUEST, serverId: ip('10.0.2.2'), requestedIp: ip('10.0.2.15') }),
    );
    assert.equal(
      s.handle(request(1, { messageType: DHCPREQUEST, requestedIp: ip('10.0.2.15') }))!.repr.options
        .messageType,
      DHCPACK,
    );
    assert.equal(
      s.handle(request(2, { messageType: DHCPREQUEST, requestedIp: ip('10.0.2.15') }))!.repr.options
        .messageType,
      DHCPNAK,
    );
  });

  it('RELEASE frees the address; DECLINE keeps it out of the pool', () => {
    const { s } = server(2);
    s.handle(request(1, { messageType: DHCPDISCOVER }));
    s.handle(
      request(1, { messageType: DHCPREQUEST, serverId: ip('10.0.2.2'), requestedIp: ip('10.0.2.15') }),
    );
    s.handle(request(1, { messageType: DHCPRELEASE, serverId: ip('10.0.2.2') }, ip('10.0.2.15')));
    assert.equal(s.stats.releases, 1);
    assert.equal(s.leases().length, 0);
    s.handle(request(2, { messageType: DHCPDISCOVER }));
    s.handle(
      request(2, { messageType: DHCPDECLINE, serverId: ip('10.0.2.2'), requestedIp: ip('10.0.2.15') }),
    );
    assert.equal(s.stats.declines, 1);
    assert.equal(s.handle(request(3, { messageType: DHCPDISCOVER }))!.repr.yiaddr, ip('10.0.2.16'));
  });

  it('INFORM: options without a lease, to ciaddr', () => {
    const { s } = server();
    const r = s.handle(request(1, { messageType: DHCPINFORM }, ip('10.0.2.50')))!;
    assert.equal(r.repr.options.messageType, DHCPACK);
    assert.equal(r.repr.options.leaseTime, undefined);
    assert.equal(r.repr.yiaddr, 0);
    assert.equal(r.to, ip('10.0.2.50'));
  });

  it('drops malformed and non-request messages, counted', () => {
    const { s } = server();
    assert.equal(s.handle(new Uint8Array(100)), undefined);
    const reply = request(1, { messageType: DHCPDISCOVER });
    reply[0] = 2;
    assert.equal(s.handle(reply), undefined);
    assert.equal(s.stats.malformed, 1);
    assert.equal(s.stats.ignored, 1);
  });

  it('answers a DISCOVER broadcast over a stack, by broadcast to port 68', async () => {
    const sim = new Simulation({ seed: 3 });
    const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
    const srv = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), privileged: true }));
    srv.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.2.2/24'] });
    const dhcp = new DhcpServer(
      { serverAddress: ip('10.0.2.2'), prefix: 24, poolStart: ip('10.0.2.15'), poolSize: 4 },
      { stack: srv },
    );
    const cli = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), privileged: true }));
    cli.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.2.200/24'] });
    const u = cli.socket(AF_INET, SOCK_DGRAM);
    u.setsockopt(SOL_SOCKET, SO_BROADCAST, 1);
    await u.bind(['0.0.0.0', 68]);
    await sim.run(u.sendto(request(1, { messageType: DHCPDISCOVER }), ['255.255.255.255', 67]), {
      timeout: seconds(1),
    });
    const [data, from] = await sim.run(u.recvfrom(1500), { timeout: seconds(1) });
    assert.deepEqual(from, ['10.0.2.2', 67]);
    const p = parseDhcp(data);
    assert.ok(!isWireError(p));
    assert.equal(p.repr.options.messageType, DHCPOFFER);
    assert.equal(dhcp.stats.offers, 1);
  });
});
