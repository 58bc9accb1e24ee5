/**
 * What an idle established connection keeps (bench/idle.ts measures the bytes): no timer
 * entry and no timer storage once nothing is armed, socket options shared with equal
 * connections until one changes its own, sequence numbers above 2^31 read back unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import type { StackConfig } from '../../src/stack.ts';
import { Stack } from '../../src/stack.ts';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import { TxLog } from '../../src/tcp/rack-log.ts';
import { ByteRing } from '../../src/tcp/ring.ts';
import { seq, seqAdd } from '../../src/tcp/seq.ts';
import { T_DELACK, T_KEEP, T_RTX } from '../../src/tcp/tcb.ts';
import { seconds } from '../../src/time/instant.ts';

const B = { family: 4 as const, v4: 0x0a000002 };

function pair(config?: StackConfig) {
  const sim = new Simulation({ seed: 3 });
  const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork() }));
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', config }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b', config }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  const accepted: TcpConnection[] = [];
  const l = b.tcp.listen({ port: 7000, backlog: 256 });
  l.onAcceptable = () => {
    for (let c = l.accept(); c; c = l.accept()) accepted.push(c);
  };
  return { sim, a, b, l, accepted };
}

/** `n` connections established, then left alone for a minute: the timer entries left in both stacks. */
function idleEntries(n: number): { entries: number; clients: TcpConnection[]; accepted: TcpConnection[] } {
  const { sim, a, b, accepted } = pair();
  const clients: TcpConnection[] = [];
  for (let i = 0; i < n; i++) clients.push(a.tcp.connect({ remote: B, remotePort: 7000 }));
  sim.runFor(seconds(5));
  sim.runFor(seconds(60));
  return { entries: a.timers.size + b.timers.size, clients, accepted };
}

describe('idle connections', () => {
  it('hold no timer entry once nothing is armed: the queue does not grow with their count', () => {
    const one = idleEntries(1);
    const many = idleEntries(40);
    assert.equal(many.clients.filter((c) => c.state === 'ESTABLISHED').length, 40);
    assert.equal(many.accepted.length, 40);
    for (const c of [...many.clients, ...many.accepted]) {
      assert.equal(c.timerArmed(T_RTX) || c.timerArmed(T_DELACK) || c.timerArmed(T_KEEP), false);
    }
    assert.equal(many.entries, one.entries);
  });

  it('arm timers again after being idle (keepalive, retransmission)', () => {
    const { sim, a, accepted } = pair();
    const c = a.tcp.connect({ remote: B, remotePort: 7000 });
    sim.runFor(seconds(5));
    sim.runFor(seconds(60));
    assert.equal(c.timerArmed(T_KEEP), false);
    c.setOptions({ keepAlive: true, keepIdle: seconds(10), keepInterval: seconds(1), keepCount: 3 });
    assert.equal(c.timerArmed(T_KEEP), true);
    const probes = a.tcp.stats.keepaliveProbes;
    sim.runFor(seconds(11));
    assert.ok(a.tcp.stats.keepaliveProbes > probes);
    assert.equal(c.state, 'ESTABLISHED');
    // Data after the idle minute: the retransmission timer is armed, then stopped by the ACK.
    const s = accepted[0]!;
    c.write(new Uint8Array([1, 2, 3]));
    assert.equal(c.timerArmed(T_RTX), true);
    sim.runFor(seconds(1));
    assert.deepEqual([...(s.read() ?? [])], [1, 2, 3]);
    assert.equal(c.timerArmed(T_RTX), false);
  });
});

describe('idle storage', () => {
  it('an empty send ring lets go of its buffer and grows again; one holding bytes keeps them', () => {
    const r = new ByteRing(1 << 16);
    r.push(new Uint8Array([1, 2, 3]));
    r.trim();
    assert.deepEqual([...r.take(3)], [1, 2, 3]);
    r.trim();
    const big = new Uint8Array(5000).map((_, i) => i & 0xff);
    assert.equal(r.push(big), 5000);
    const out = new Uint8Array(5000);
    assert.equal(r.takeInto(out), 5000);
    assert.deepEqual(out, big);
  });

  it('an emptied transmit record lets go of its entries, and transmission order keeps counting', () => {
    const log = new TxLog();
    log.append(seq(100), seq(200), 1);
    log.append(seq(200), seq(300), 2);
    log.trim(); // entries held: nothing happens
    assert.equal(log.size, 2);
    log.shift();
    log.shift();
    log.trim();
    assert.equal(log.size, 0);
    log.append(seq(300), seq(400), 3);
    assert.equal(log.size, 1);
    assert.equal(log.at(0).order, 3);
    assert.equal(log.sent, 3);
  });

  it('a connection idle after use carries data both ways exactly again, its memory all given back', () => {
    const { sim, a, b, accepted } = pair();
    const c = a.tcp.connect({ remote: B, remotePort: 7000 });
    sim.runFor(seconds(1));
    const s = accepted[0]!;
    const total = 200_000;
    const data = new Uint8Array(total).map((_, i) => (i * 7 + (i >>> 9)) & 0xff);
    /** Reads all `from` has, checking each byte against `data` from `at`; returns the new offset. */
    const drain = (from: TcpConnection, at: number): number => {
      for (let x = from.read(); x; x = from.read()) {
        for (let i = 0; i < x.length; i++) assert.equal(x[i], data[at + i]);
        at += x.length;
      }
      return at;
    };
    for (let round = 0; round < 3; round++) {
      let sentA = 0;
      let sentB = 0;
      let gotA = 0;
      let gotB = 0;
      for (let step = 0; step < 10_000 && (gotA < total || gotB < total); step++) {
        if (sentA < total) sentA += c.write(data.subarray(sentA));
        if (sentB < total) sentB += s.write(data.subarray(sentB));
        gotB = drain(s, gotB);
        gotA = drain(c, gotA);
        sim.runFor(seconds(0.01));
      }
      assert.deepEqual([gotA, gotB], [total, total], `round ${round}`);
      // Idle: the connections' timers run out and their storage goes.
      sim.runFor(seconds(60));
      assert.equal(c.timerArmed(T_RTX) || s.timerArmed(T_RTX), false);
      assert.equal(a.tcp.memory.inUse + b.tcp.memory.inUse, 0);
    }
  });
});

describe('shared socket options', () => {
  it('connections with equal options share them until one changes its own', () => {
    const { sim, a, accepted } = pair();
    const c1 = a.tcp.connect({ remote: B, remotePort: 7000 });
    const c2 = a.tcp.connect({ remote: B, remotePort: 7000 });
    sim.runFor(seconds(1));
    assert.equal(c1.options, c2.options);
    c1.setOptions({ noDelay: true });
    assert.equal(c1.options.noDelay, true);
    assert.equal(c2.options.noDelay, false);
    const c3 = a.tcp.connect({ remote: B, remotePort: 7000, options: { noDelay: true } });
    assert.equal(c3.options.noDelay, true);
    assert.equal(c2.options.noDelay, false);
    sim.runFor(seconds(1));
    assert.equal(accepted.length, 3);
    assert.equal(accepted[0]!.options, accepted[1]!.options);
    accepted[0]!.setOptions({ keepAlive: true });
    assert.equal(accepted[1]!.options.keepAlive, false);
  });

  it("a listener's later options reach only the connections made after them", () => {
    const { sim, a, l, accepted } = pair();
    a.tcp.connect({ remote: B, remotePort: 7000 });
    sim.runFor(seconds(1));
    Object.assign(l.opts, { noDelay: true });
    a.tcp.connect({ remote: B, remotePort: 7000 });
    sim.runFor(seconds(1));
    assert.equal(accepted.length, 2);
    assert.equal(accepted[0]!.options.noDelay, false);
    assert.equal(accepted[1]!.options.noDelay, true);
  });

  it('buffer sizes rounded to whole segments (FreeBSD) change only the connection their own', () => {
    const { sim, a, accepted } = pair({ tcp: { sockBufRounding: 'mss-multiple' } });
    const c1 = a.tcp.connect({ remote: B, remotePort: 7000 });
    const before = c1.options.rcvBuf;
    sim.runFor(seconds(1));
    assert.equal(accepted.length, 1);
    assert.equal(c1.options.rcvBuf % c1.mss, 0);
    assert.ok(c1.options.rcvBuf >= before);
    // The layer's defaults (what the next connection starts from) are untouched.
    const c2 = a.tcp.connect({ remote: B, remotePort: 7000 });
    assert.equal(c2.options.rcvBuf, before);
  });
});

describe('sequence variables', () => {
  it('a connection whose ISN is above 2^31 reports its sequence numbers as uint32', () => {
    const { sim, a, accepted } = pair();
    // Many connections: their ISNs are random, so some lie above 2^31.
    const cs: TcpConnection[] = [];
    for (let i = 0; i < 16; i++) cs.push(a.tcp.connect({ remote: B, remotePort: 7000 }));
    sim.runFor(seconds(1));
    const high = cs.filter((c) => c.iss >= 0x80000000);
    assert.ok(high.length > 0);
    for (const c of cs) {
      assert.ok(c.iss >= 0 && c.iss <= 0xffffffff);
      assert.equal(c.snd.una, seqAdd(c.iss, 1));
      assert.equal(c.sndMax, c.snd.una);
      const peer = accepted.find((s) => s.remote.port === c.local.port)!;
      assert.equal(peer.irs, c.iss);
      assert.equal(peer.rcv.nxt, c.snd.una);
    }
  });
});
