/** PortTable and the bind rules alone: hand-made claims, no transport. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import {
  addressesOverlap,
  datagramConflict,
  type PortClaim,
  type PortEndpoint,
  type PortRequest,
  streamConflict,
} from '../../src/transport/bind-rules.ts';
import { PortTable } from '../../src/transport/port-table.ts';
import { EphemeralPorts } from '../../src/transport/ports.ts';
import { type IpAddress, ipv4, parseIpv6 } from '../../src/wire/address.ts';

const A: IpAddress = { family: 4, v4: ipv4(10, 0, 0, 1) };
const A2: IpAddress = { family: 4, v4: ipv4(10, 0, 0, 2) };
const ANY4: IpAddress = { family: 4, v4: 0 };
const R: PortEndpoint = { address: { family: 4, v4: ipv4(10, 0, 0, 9) }, port: 80 };
const R2: PortEndpoint = { address: { family: 4, v4: ipv4(10, 0, 0, 9) }, port: 81 };
const V6A: IpAddress = { family: 6, v6: parseIpv6('fd00::1')! };
const V6B: IpAddress = { family: 6, v6: parseIpv6('fd00::2')! };

interface Claim extends PortClaim {
  reuseAddr: boolean;
  reusePort?: boolean;
}
const claim = (
  address: IpAddress | undefined,
  port: number,
  reuseAddr = false,
  remote?: PortEndpoint,
): Claim => ({
  local: { address, port },
  remote,
  reuseAddr,
});
const req = (o: Partial<PortRequest> & Pick<PortRequest, 'role'>): PortRequest => ({
  address: undefined,
  reuseAddr: false,
  ...o,
});

function tcpTable(range: [number, number] = [49152, 65535], seed = 1) {
  return new PortTable<Claim>(streamConflict, new EphemeralPorts(new SeededRng(seed), range));
}

describe('bind rules: addresses', () => {
  it('equal addresses and wildcards (undefined, 0.0.0.0, ::) overlap; distinct specific ones do not', () => {
    assert.ok(addressesOverlap(A, A));
    assert.ok(addressesOverlap(undefined, A));
    assert.ok(addressesOverlap(A, ANY4));
    assert.ok(addressesOverlap({ family: 6, v6: new Uint8Array(16) }, A));
    assert.ok(!addressesOverlap(A, A2));
    assert.ok(addressesOverlap(V6A, V6A));
    assert.ok(!addressesOverlap(V6A, V6B));
    assert.ok(!addressesOverlap(A, V6A), 'specific addresses of two families');
  });
});

describe('PortTable: bookkeeping', () => {
  it('add, roleOf, on, claims, size and an idempotent remove', () => {
    const t = tcpTable();
    const b = claim(undefined, 8080);
    const l = claim(A, 8081);
    const c = claim(A, 8081, false, R);
    t.add(b, 'bound');
    t.add(l, 'listening');
    t.add(c, 'connected');
    assert.equal(t.size, 3);
    assert.equal(t.roleOf(l), 'listening');
    assert.deepEqual([...t.on(8081)], [l, c]);
    assert.deepEqual([...t.on(8081, 'connected')], [c]);
    assert.deepEqual([...t.claimsAt(8081)!], [l, c]);
    assert.deepEqual([...t.claimsAt(8080)!], [b]);
    assert.equal(t.claimsAt(9999), undefined);
    assert.deepEqual([...t.claims('bound')], [b]);
    t.remove(l);
    t.remove(l);
    assert.equal(t.size, 2);
    assert.equal(t.roleOf(l), undefined);
    assert.deepEqual([...t.on(8081)], [c]);
    assert.deepEqual([...t.claimsAt(8081)!], [c]);
    assert.equal(t.roleOf(c), 'connected');
    // One claim again: re-adding changes its role; another claim joins it, in order.
    t.add(c, 'bound');
    assert.equal(t.roleOf(c), 'bound');
    assert.equal(t.size, 2);
    const d = claim(A, 8081, false, R);
    t.add(d, 'connected');
    assert.deepEqual([...t.on(8081)], [c, d]);
    assert.equal(t.roleOf(d), 'connected');
    t.remove(c);
    t.remove(d);
    assert.equal(t.claimsAt(8081), undefined);
    assert.equal(t.size, 1);
    t.remove(b);
    assert.equal(t.size, 0);
    assert.deepEqual([...t.claims()], []);
  });
});

describe('PortTable with the TCP rules (streamConflict)', () => {
  it('a bound port: a second bind conflicts unless both set SO_REUSEADDR; a listen always does', () => {
    const t = tcpTable();
    const b = claim(undefined, 5000);
    t.add(b, 'bound');
    assert.ok(t.conflicts(req({ role: 'bound' }), 5000));
    assert.ok(
      t.conflicts(req({ role: 'bound', address: A, reuseAddr: true }), 5000),
      'only when both set it',
    );
    assert.ok(!t.conflicts(req({ role: 'bound' }), 5001), 'another port is free');
    b.reuseAddr = true; // read at each check, like Linux's sk_reuse
    assert.ok(!t.conflicts(req({ role: 'bound', reuseAddr: true }), 5000));
    assert.ok(t.conflicts(req({ role: 'listening', reuseAddr: true }), 5000), 'sharing ends at listen()');
    assert.ok(
      !t.conflicts(req({ role: 'listening', self: b }), 5000),
      'a binding does not conflict with itself',
    );
  });

  it('a listener keeps every bind, listen and connect off its port', () => {
    const t = tcpTable();
    t.add(claim(undefined, 80, true), 'listening');
    for (const role of ['bound', 'listening', 'connected'] as const)
      assert.ok(t.conflicts(req({ role, address: A, reuseAddr: true, remote: R }), 80), role);
  });

  it('distinct specific addresses share a port; the wildcard overlaps both', () => {
    const t = tcpTable();
    t.add(claim(A, 5000), 'listening');
    assert.ok(!t.conflicts(req({ role: 'listening', address: A2 }), 5000));
    assert.ok(t.conflicts(req({ role: 'bound', address: ANY4 }), 5000));
    assert.ok(t.conflicts(req({ role: 'bound' }), 5000));
  });

  it('connections, TIME-WAIT included: a bind or listen gets in only when both set SO_REUSEADDR', () => {
    const t = tcpTable();
    const tw = claim(A, 6000, false, R);
    t.add(tw, 'connected');
    assert.ok(t.conflicts(req({ role: 'listening', reuseAddr: true }), 6000), 'old socket without the flag');
    tw.reuseAddr = true;
    assert.ok(t.conflicts(req({ role: 'listening' }), 6000), 'new socket without the flag');
    assert.ok(!t.conflicts(req({ role: 'listening', reuseAddr: true }), 6000));
    assert.ok(!t.conflicts(req({ role: 'bound', reuseAddr: true }), 6000));
  });

  it('a connection shares its port with other connections, except on the same 4-tuple', () => {
    const t = tcpTable();
    t.add(claim(A, 7000, false, R), 'connected');
    assert.ok(t.conflicts(req({ role: 'connected', address: A, remote: R }), 7000));
    assert.ok(!t.conflicts(req({ role: 'connected', address: A, remote: R2 }), 7000));
    assert.ok(!t.conflicts(req({ role: 'connected', address: A2, remote: R }), 7000));
    assert.ok(t.tupleInUse(A, 7000, R));
    assert.ok(!t.tupleInUse(A, 7000, R2));
    assert.ok(!t.tupleInUse(A, 7001, R));
  });

  it('exclusive: every overlapping claim conflicts, whatever the flags (Linux port-0 bind)', () => {
    const t = tcpTable();
    t.add(claim(A, 7000, true, R), 'connected');
    assert.ok(!t.conflicts(req({ role: 'bound', reuseAddr: true }), 7000));
    assert.ok(t.conflicts(req({ role: 'bound', reuseAddr: true, exclusive: true }), 7000));
    assert.ok(!t.conflicts(req({ role: 'bound', address: A2, exclusive: true }), 7000), 'no overlap');
  });

  it('IPv6 addresses follow the same rules', () => {
    const t = tcpTable();
    t.add(claim(V6A, 443), 'listening');
    assert.ok(t.conflicts(req({ role: 'bound', address: V6A, reuseAddr: true }), 443));
    assert.ok(!t.conflicts(req({ role: 'bound', address: V6B }), 443));
  });
});

describe('PortTable with the UDP rules (datagramConflict)', () => {
  it('sockets share a port when both set SO_REUSEADDR or both set SO_REUSEPORT', () => {
    const t = new PortTable<Claim>(datagramConflict);
    const a = claim(undefined, 53);
    t.add(a, 'bound');
    assert.ok(t.conflicts(req({ role: 'bound', address: A }), 53));
    assert.ok(t.conflicts(req({ role: 'bound', reuseAddr: true, reusePort: true }), 53));
    a.reuseAddr = true;
    assert.ok(!t.conflicts(req({ role: 'bound', reuseAddr: true }), 53));
    a.reuseAddr = false;
    a.reusePort = true;
    assert.ok(!t.conflicts(req({ role: 'bound', reusePort: true }), 53));
    assert.ok(t.conflicts(req({ role: 'bound', reuseAddr: true }), 53), 'one flag each is not enough');
    assert.ok(!t.conflicts(req({ role: 'bound', address: A2 }), 54));
  });

  it('a table without a range cannot pick', () => {
    assert.throws(
      () => new PortTable(datagramConflict).pick(req({ role: 'bound' })),
      /no ephemeral port range/,
    );
  });
});

describe('PortTable.pick (RFC 6056 over the table)', () => {
  it('skips ports held by binds and listeners, and fails when none is left', () => {
    const t = tcpTable([5000, 5009]);
    for (let p = 5000; p <= 5009; p++)
      if (p !== 5004) t.add(claim(undefined, p), p % 2 ? 'listening' : 'bound');
    const connect = req({ role: 'connected', address: A, remote: R });
    assert.equal(t.pick(connect), 5004, 'the one port left');
    t.add(claim(A, 5004, false, R), 'connected');
    assert.equal(t.pick(connect), undefined, 'its tuple to this peer is taken');
    assert.equal(t.pick({ ...connect, remote: R2 }), 5004, 'to another peer the port is free');
    assert.equal(
      t.pick(req({ role: 'bound', exclusive: true })),
      undefined,
      'a bind wants a port nobody holds',
    );
  });

  it('a bind shares a port through SO_REUSEADDR only when not exclusive', () => {
    const t = new PortTable<Claim>(datagramConflict, new EphemeralPorts(new SeededRng(5), [6000, 6000]));
    t.add(claim(undefined, 6000, true), 'bound');
    assert.equal(t.pick(req({ role: 'bound', reuseAddr: true })), 6000);
    assert.equal(t.pick(req({ role: 'bound' })), undefined);
  });

  it('the wildcard picks the same sequence however it is spelled', () => {
    const a = tcpTable(undefined, 9);
    const b = tcpTable(undefined, 9);
    for (let i = 0; i < 5; i++)
      assert.equal(
        a.pick(req({ role: 'bound', exclusive: true })),
        b.pick(req({ role: 'bound', address: ANY4, exclusive: true })),
      );
  });
});
