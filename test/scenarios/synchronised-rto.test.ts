/**
 * Many connections writing at one instant into a bounded bottleneck queue (bench/idle.ts saw
 * this at 100,000 connections: retransmissions still stuck two minutes later). Scaled down
 * on the virtual clock: every connection has the same RTT history, so the same RTO, and
 * Linux's RTO has no jitter (RFC 6298 asks for none; tcp_retransmit_timer doubles
 * icsk_rto per backoff, and the timer wheel only rounds timers into coarser buckets), so
 * the losers of one round retransmit together in the next and the queue again takes only
 * its own worth. Each round delivers about one queueful; the rounds' spacing doubles. That is
 * the expected behaviour (Linux's too), not a stack bug: a burst of N synchronised senders
 * needs about N / queue rounds, and with exponential backoff that grows as 2^(N / queue).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import type { IpAddress } from '../../src/wire/address.ts';
import { pair } from './tcp-net.ts';

const N = 48;
const SEGMENT = 1000;

describe('synchronised retransmissions through a bounded queue', () => {
  it('each round delivers about a queueful; the rounds back off by doubling (RFC 6298 §5.5)', () => {
    const net = pair();
    const { sim, a, b } = net;
    const B: IpAddress = { family: 4, v4: 0x0a000002 };
    const delivered: number[] = [];
    const l = b.tcp.listen({ port: 6000, backlog: 128 });
    l.onAcceptable = () => {
      for (let c = l.accept(); c; c = l.accept()) {
        const conn = c;
        conn.events = {
          onReadable: () => {
            if (conn.readableLength > 0 && conn.read()) delivered.push(sim.clock.now());
          },
        };
      }
    };
    const clients: TcpConnection[] = [];
    for (let i = 0; i < N; i++) {
      clients.push(a.tcp.connect({ remote: B, remotePort: 6000 }));
      sim.runFor(millis(2));
    }
    sim.runFor(seconds(1));
    assert.equal(clients.filter((c) => c.state === 'ESTABLISHED').length, N);

    // A 1 MB/s bottleneck holding 8000 bytes: about 7 segments wait, the rest are dropped.
    net.cable.aToB.configure({ delay: millis(1), bandwidth: 1_000_000, queueLimit: 8000 });
    const t0 = sim.clock.now();
    for (const c of clients) c.write(new Uint8Array(SEGMENT));
    for (let k = 0; k < 400 && delivered.length < N; k++) sim.runFor(seconds(1));
    assert.equal(delivered.length, N, 'every connection gets its segment through');

    // Rounds: deliveries closer than 100 ms belong to one burst.
    const rounds: { start: number; count: number }[] = [];
    for (const t of delivered) {
      const last = rounds[rounds.length - 1];
      if (last && t - t0 - last.start < 100_000) last.count++;
      else rounds.push({ start: t - t0, count: 1 });
    }
    const perRound = Math.max(...rounds.map((r) => r.count));
    const shown = rounds.map((r) => `${r.start / 1000} ms: ${r.count}`).join(', ');
    assert.ok(perRound <= 10, `a round delivers at most about a queueful (${shown})`);
    assert.ok(rounds.length >= Math.ceil(N / 10), `${rounds.length} rounds (${shown})`);
    // The first retransmission is the tail loss probe (its timeout capped at the RTO, as
    // Linux's tcp_schedule_loss_probe caps it), the next the first RTO one RTO later; from
    // there each gap doubles (seen: 9.5, 211, 413, 817, 1625, 3241, 6473 ms, 7 or 6 each).
    const gaps = rounds.slice(1).map((r, i) => r.start - rounds[i]!.start);
    for (let i = 3; i < gaps.length; i++) {
      const ratio = gaps[i]! / gaps[i - 1]!;
      assert.ok(ratio > 1.8 && ratio < 2.2, `gap ${i} ${gaps[i]} after ${gaps[i - 1]} (${shown})`);
    }
    // The connections still waiting at the end had backed off once per round they lost.
    const stats = a.tcp.stats;
    assert.ok(stats.timeouts >= N - perRound, `${stats.timeouts} timeouts`);
  });
});
