/** TcpLayer.bind(): ports reserved between bind(2) and listen()/connect(). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TcpError } from '../../src/tcp/errors.ts';
import { A, B, Harness, PEER_PORT, TCP_SYN } from './harness.ts';

const code = (c: string) => (e: unknown) => e instanceof TcpError && e.code === c;
const ANY = { family: 4, v4: 0 } as const;

describe('TcpLayer.bind', () => {
  it('reserves a port: a second bind, a listen and a connect from that port fail EADDRINUSE', () => {
    const h = new Harness();
    const b = h.layer.bind({ port: 8080 });
    assert.equal(b.port, 8080);
    assert.equal(b.address, undefined);
    assert.deepEqual([...h.layer.bindings()], [b]);
    assert.throws(() => h.layer.bind({ port: 8080 }), code('EADDRINUSE'));
    assert.throws(() => h.layer.bind({ address: A, port: 8080 }), code('EADDRINUSE'));
    assert.throws(() => h.layer.listen({ port: 8080, backlog: 1 }), code('EADDRINUSE'));
    assert.throws(
      () => h.layer.connect({ remote: B, remotePort: PEER_PORT, localPort: 8080 }),
      code('EADDRINUSE'),
    );
    b.release();
    assert.ok(b.released);
    b.release(); // idempotent
    assert.deepEqual([...h.layer.bindings()], []);
    h.layer.bind({ port: 8080 }).release();
    h.layer.listen({ port: 8080, backlog: 1 }).close();
  });

  it('the wildcard address binds like undefined; a non-local address is EADDRNOTAVAIL', () => {
    const h = new Harness();
    const b = h.layer.bind({ address: ANY, port: 7 });
    assert.equal(b.address, undefined);
    assert.throws(() => h.layer.bind({ address: B, port: 9 }), code('EADDRNOTAVAIL'));
  });

  it('EACCES below 1024 when unprivileged (bind, listen, connect with a port); EINVAL for a bad port', () => {
    const h = new Harness();
    assert.throws(() => h.layer.bind({ port: 80, privileged: false }), code('EACCES'));
    assert.throws(() => h.layer.listen({ port: 80, backlog: 1, privileged: false }), code('EACCES'));
    assert.throws(
      () => h.layer.connect({ remote: B, remotePort: PEER_PORT, localPort: 80, privileged: false }),
      code('EACCES'),
    );
    assert.throws(() => h.layer.bind({ port: 70000 }), code('EINVAL'));
    assert.throws(() => h.layer.bind({ port: 1.5 }), code('EINVAL'));
    h.layer.bind({ port: 1024, privileged: false });
    h.layer.bind({ port: 80 }); // privileged by default
  });

  it('port 0 picks an ephemeral port that nothing uses, and ephemeral picks avoid bound ports', () => {
    const h = new Harness();
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const b = h.layer.bind({ port: 0, reuseAddr: true });
      assert.ok(b.port >= 49152 && b.port <= 65535);
      assert.ok(!seen.has(b.port), 'ephemeral binds never share a port, even with SO_REUSEADDR');
      seen.add(b.port);
    }
    for (let i = 0; i < 50; i++) {
      const c = h.layer.connect({ remote: B, remotePort: PEER_PORT + i });
      assert.ok(!seen.has(c.local.port), 'connect() does not take a bound port');
      const l = h.layer.listen({ port: 0, backlog: 1 });
      assert.ok(!seen.has(l.local.port), 'listen(port 0) does not take a bound port');
    }
  });

  it('SO_REUSEADDR on both: two bindings share a port, but neither may then listen', () => {
    const h = new Harness();
    const b1 = h.layer.bind({ port: 6100, reuseAddr: true });
    assert.throws(() => h.layer.bind({ port: 6100 }), code('EADDRINUSE'), 'only when both set it');
    const b2 = h.layer.bind({ port: 6100, reuseAddr: true });
    assert.throws(() => h.layer.listen({ binding: b1, backlog: 1 }), code('EADDRINUSE'));
    assert.ok(!b1.released, 'a failed listen keeps the binding');
    b2.release();
    const l = h.layer.listen({ binding: b1, backlog: 1 });
    assert.ok(b1.released, 'listen took the binding over');
    assert.equal(l.local.port, 6100);
    assert.equal(l.reuseAddr, true);
    assert.deepEqual([...h.layer.bindings()], []);
    assert.throws(() => h.layer.bind({ port: 6100, reuseAddr: true }), code('EADDRINUSE'), 'listener');
  });

  it('bindings on distinct specific addresses coexist; the wildcard overlaps both', () => {
    const h = new Harness();
    const other = { family: 4, v4: 0x0a000063 } as const;
    h.env.isLocalAddress = (a) => a.family === 4 && (a.v4 === (A as { v4: number }).v4 || a.v4 === other.v4);
    h.layer.bind({ address: A, port: 5000 });
    h.layer.bind({ address: other, port: 5000 });
    assert.throws(() => h.layer.bind({ port: 5000 }), code('EADDRINUSE'));
  });

  it('listen({binding}) listens on the bound address and port', () => {
    const h = new Harness();
    const b = h.layer.bind({ address: A, port: 8000 });
    const l = h.layer.listen({ binding: b, backlog: 4 });
    assert.deepEqual(l.local, { address: A, port: 8000 });
    assert.throws(() => h.layer.listen({ binding: b, backlog: 1 }), code('EINVAL'), 'binding used up');
    h.inject({ srcPort: PEER_PORT, dstPort: 8000, seq: 1, flags: TCP_SYN, options: { mss: 1460 } });
    assert.equal(l.synQueueLength, 1);
  });

  it('connect({binding}) sends its SYN from the bound port and releases the binding', () => {
    const h = new Harness();
    const b = h.layer.bind({ port: 40000 });
    const c = h.layer.connect({ remote: B, remotePort: PEER_PORT, binding: b });
    assert.equal(c.local.port, 40000);
    assert.deepEqual(c.local.address, A, 'the wildcard binding takes the routed source address');
    assert.ok(b.released);
    const syn = h.one();
    assert.equal(syn.repr.srcPort, 40000);
    assert.equal(syn.repr.flags, TCP_SYN);
    // The port is now held by the connection: another bind conflicts.
    assert.throws(() => h.layer.bind({ port: 40000 }), code('EADDRINUSE'));
  });

  it('a bound port shared through SO_REUSEADDR can connect to different peers but not the same tuple', () => {
    const h = new Harness();
    const b1 = h.layer.bind({ port: 41000, reuseAddr: true });
    const b2 = h.layer.bind({ port: 41000, reuseAddr: true });
    const b3 = h.layer.bind({ port: 41000, reuseAddr: true });
    h.layer.connect({ remote: B, remotePort: 1000, binding: b1 });
    h.layer.connect({ remote: B, remotePort: 1001, binding: b2 });
    assert.throws(() => h.layer.connect({ remote: B, remotePort: 1000, binding: b3 }), code('EADDRNOTAVAIL'));
    assert.ok(!b3.released, 'a failed connect keeps the binding');
  });

  it('a failed connect (no route) keeps the binding', () => {
    const h = new Harness();
    const b = h.layer.bind({ port: 42000 });
    h.routes = false;
    assert.throws(
      () => h.layer.connect({ remote: B, remotePort: PEER_PORT, binding: b }),
      code('ENETUNREACH'),
    );
    assert.ok(!b.released);
    assert.throws(() => h.layer.bind({ port: 42000 }), code('EADDRINUSE'));
  });

  it('SO_REUSEADDR binds over TIME-WAIT connections and reuseAddr connections, not over live plain ones', () => {
    const h = new Harness();
    const c = h.layer.connect({ remote: B, remotePort: PEER_PORT, localPort: 43000 });
    assert.equal(c.state, 'SYN-SENT');
    assert.throws(() => h.layer.bind({ port: 43000, reuseAddr: true }), code('EADDRINUSE'));
    c.reuseAddr = true;
    h.layer.bind({ port: 43000, reuseAddr: true });
    assert.throws(() => h.layer.bind({ port: 43000 }), code('EADDRINUSE'));
  });

  it('with the whole ephemeral range bound, connect() fails EADDRNOTAVAIL and bind(0) EADDRINUSE', () => {
    const h = new Harness();
    const { min, max } = h.layer.ports;
    for (let p = min; p <= max; p++) h.layer.bind({ port: p, reuseAddr: p % 2 === 0 });
    assert.throws(() => h.layer.connect({ remote: B, remotePort: PEER_PORT }), code('EADDRNOTAVAIL'));
    assert.throws(() => h.layer.bind({ port: 0 }), code('EADDRINUSE'));
    assert.throws(() => h.layer.listen({ port: 0, backlog: 1 }), code('EADDRINUSE'));
    assert.equal(h.layer.connectionCount, 0);
    const [last] = [...h.layer.bindings()].filter((b) => b.port === max);
    last.release();
    assert.equal(h.layer.connect({ remote: B, remotePort: PEER_PORT }).local.port, max);
  });
});
