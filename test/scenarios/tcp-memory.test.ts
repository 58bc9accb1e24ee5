/**
 * The per-stack TCP memory bound (src/tcp/memory.ts, config.tcp.memoryLimit) on a whole
 * network, through the sockets API: many connections whose readers are paused while every
 * peer sends a lot. Both stacks' TCP memory must stay under the limit the whole time
 * (sampled, and the account's own peak), nothing may throw, and once the readers read,
 * every byte must arrive intact (SHA-256) within a bounded virtual time. Afterwards
 * both accounts are back to 0.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AF_INET, SHUT_WR, SOCK_STREAM } from '../../src/socket/constants.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { pair, randomBytes, recvAll, sha256 } from './tcp-net.ts';

const KiB = 1024;

interface Run {
  conns: number;
  perConn: number;
  limit: number;
  /** How long the readers stay paused (virtual µs). */
  pause: number;
  seed: number;
  /** b's side also sends `perConn` bytes back on every connection (a reads them at once). */
  both?: boolean;
}

async function paused(r: Run) {
  const net = pair({ seed: r.seed, config: { tcp: { memoryLimit: r.limit } } });
  const { sim, a, b } = net;
  const data = Array.from({ length: r.conns }, (_, i) => randomBytes(r.perConn, r.seed * 100 + i));
  const back = r.both ? data.map((_, i) => randomBytes(r.perConn, r.seed * 100 + 50 + i)) : [];
  // Sample both accounts every 2 ms of virtual time while the run lasts.
  let maxA = 0;
  let maxB = 0;
  let sampling = true;
  const sampler = sim.timers.timer(() => {
    maxA = Math.max(maxA, a.tcp.memory.inUse);
    maxB = Math.max(maxB, b.tcp.memory.inUse);
    if (sampling) sampler.set(sim.now + millis(2));
  });
  sampler.set(sim.now);

  const result = await sim.run(
    async () => {
      const srv = b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 7000]);
      await srv.listen(r.conns);
      const clients: Socket[] = [];
      const servers: Socket[] = [];
      for (let i = 0; i < r.conns; i++) {
        const c = a.socket(AF_INET, SOCK_STREAM);
        await c.connect([net.bAddr, 7000]);
        clients.push(c);
        const [s] = await srv.accept();
        servers.push(s);
      }
      // Every client sends its whole share at once; nobody on b reads yet.
      const sends = clients.map((c, i) => c.sendall(data[i]).then(() => c.shutdown(SHUT_WR)));
      // Both ways: b writes back while its own readers sleep, and a reads that at once.
      const backSends = r.both
        ? servers.map((s, i) => s.sendall(back[i]).then(() => s.shutdown(SHUT_WR)))
        : [];
      const gotBack = r.both ? Promise.all(clients.map((c) => recvAll(c))) : Promise.resolve([]);
      await sim.delay(r.pause);
      const stalled = { a: a.tcp.memory.inUse, b: b.tcp.memory.inUse };
      const t0 = sim.now;
      const got = await Promise.all(servers.map((s) => recvAll(s)));
      await Promise.all([...sends, ...backSends]);
      const atA = await gotBack;
      const elapsed = sim.now - t0;
      for (const s of [...clients, ...servers, srv]) await s.close();
      return { got, atA, elapsed, stalled };
    },
    { timeout: seconds(600) },
  );
  // Let TIME-WAIT and every other timer run out.
  await sim.advance(seconds(180));
  sampling = false;
  return { net, data, back, result, maxA, maxB };
}

describe('TCP memory bound on a network', () => {
  it('16 paused readers, 256 KiB each way to them: memory stays under 1 MiB and every byte arrives', async () => {
    await check({ conns: 16, perConn: 256 * KiB, limit: 1024 * KiB, pause: seconds(20), seed: 7 });
  });

  it('both ways on one account: b receives for paused readers and sends back 256 KiB on 8 connections', async () => {
    await check({
      conns: 8,
      perConn: 256 * KiB,
      limit: 1024 * KiB,
      pause: seconds(20),
      seed: 11,
      both: true,
    });
  });
});

async function check(r: Run): Promise<void> {
  const { net, data, back, result, maxA, maxB } = await paused(r);
  const { a, b } = net;
  for (let i = 0; i < r.conns; i++) {
    assert.equal(result.got[i].length, r.perConn, `connection ${i}: length`);
    assert.equal(await sha256(result.got[i]), await sha256(data[i]), `connection ${i}: bytes differ`);
    if (r.both)
      assert.equal(await sha256(result.atA[i]), await sha256(back[i]), `connection ${i}: bytes back differ`);
  }
  // Sampled and exact (the account's peak) figures: never past the limit on either stack.
  assert.ok(maxA <= r.limit && a.tcp.memory.peak <= r.limit, `a: ${maxA} / peak ${a.tcp.memory.peak}`);
  assert.ok(maxB <= r.limit && b.tcp.memory.peak <= r.limit, `b: ${maxB} / peak ${b.tcp.memory.peak}`);
  // The bound was really in play: while the readers slept, b held more than the pressure
  // threshold, and a (far more to send than the limit) had its writers held back.
  assert.ok(result.stalled.b >= b.tcp.memory.pressure, `b held ${result.stalled.b} while paused`);
  assert.ok(result.stalled.a > 0 && result.stalled.a <= r.limit, `a held ${result.stalled.a} while paused`);
  // Once reading starts, the rest drains in bounded virtual time.
  assert.ok(result.elapsed < seconds(120), `drained in ${result.elapsed / 1e6} s virtual`);
  // Everything closed: no connection left, no byte left charged.
  assert.equal(a.tcp.connectionCount, 0);
  assert.equal(b.tcp.connectionCount, 0);
  assert.equal(a.tcp.memory.inUse, 0);
  assert.equal(b.tcp.memory.inUse, 0);
}
