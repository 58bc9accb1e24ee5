import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NeighborCache, newNeighborStats } from '../../src/ip/neighbor.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { seconds } from '../../src/time/instant.ts';
import { TimerQueue } from '../../src/time/timers.ts';
import { localMac, type MacAddress } from '../../src/wire/address.ts';

interface P {
  bytes: Uint8Array;
  n: number;
}

/** The cache keyed by text, as IPv6 (NDP) will key it: the mechanism knows no protocol. */
function ndpLike() {
  const clock = new ManualClock();
  const timers = new TimerQueue();
  const stats = newNeighborStats();
  const solicited: { target: string; to: MacAddress | undefined }[] = [];
  const sent: { mac: MacAddress; n: number }[] = [];
  const failed: { target: string; n: number[] }[] = [];
  const cache = new NeighborCache<string, P>({
    now: () => clock.now(),
    timers,
    stats,
    sendRequest: (target, to) => solicited.push({ target, to }),
    transmit: (mac, p) => sent.push({ mac, n: p.n }),
    resolutionFailed: (target, packets) => failed.push({ target, n: packets.map((p) => p.n) }),
  });
  const run = (t: number) => {
    clock.set(t);
    timers.runDue(t);
  };
  return { cache, stats, solicited, sent, failed, run };
}

const pkt = (n: number): P => ({ bytes: new Uint8Array(100), n });

test('neighbour cache over another protocol: resolve with queued packets, then reachable, then stale and re-probed', () => {
  const { cache, solicited, sent, run } = ndpLike();
  const peer = 'fe80::1';
  const mac = localMac(1);
  cache.send(peer, pkt(1));
  cache.send(peer, pkt(2));
  assert.deepEqual(solicited, [{ target: peer, to: undefined }]);
  assert.equal(cache.get(peer)?.state, 'incomplete');
  cache.learn(peer, mac, true, true);
  assert.deepEqual(
    sent.map((s) => s.n),
    [1, 2],
  );
  assert.equal(cache.get(peer)?.state, 'reachable');
  run(seconds(31));
  assert.equal(cache.get(peer)?.state, 'stale');
  // Using a stale entry sends at once and starts a unicast probe.
  cache.send(peer, pkt(3));
  assert.equal(sent.at(-1)?.n, 3);
  assert.equal(cache.get(peer)?.state, 'probe');
  assert.deepEqual(solicited.at(-1), { target: peer, to: mac });
});

test('neighbour cache over another protocol: an unanswered resolution hands its packets back and counts', () => {
  const { cache, stats, failed, run } = ndpLike();
  cache.send('fe80::2', pkt(7));
  for (let t = 1; t <= 3; t++) run(seconds(t));
  assert.deepEqual(failed, [{ target: 'fe80::2', n: [7] }]);
  assert.equal(stats.resolutionFailures, 1);
  assert.equal(stats.unresolvedDrops, 1);
  assert.equal(cache.get('fe80::2'), undefined);
});
