import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArpCache, newArpStats } from '../../src/ip/arp.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { seconds } from '../../src/time/instant.ts';
import { TimerQueue } from '../../src/time/timers.ts';
import { localMac, type MacAddress } from '../../src/wire/address.ts';

interface P {
  bytes: Uint8Array;
  n: number;
}

function setup(config = {}) {
  const clock = new ManualClock();
  const timers = new TimerQueue();
  const stats = newArpStats();
  const requests: { target: number; to: MacAddress | undefined; at: number }[] = [];
  const sent: { mac: MacAddress; n: number }[] = [];
  const failed: { target: number; packets: number[] }[] = [];
  const cache = new ArpCache<P>(
    {
      now: () => clock.now(),
      timers,
      stats,
      sendRequest: (target, to) => requests.push({ target, to, at: clock.now() }),
      transmit: (mac, p) => sent.push({ mac, n: p.n }),
      resolutionFailed: (target, packets) => failed.push({ target, packets: packets.map((p) => p.n) }),
    },
    config,
  );
  const run = (t: number) => {
    clock.set(t);
    timers.runDue(t);
  };
  const pkt = (n: number, size = 100): P => ({ bytes: new Uint8Array(size), n });
  return { clock, timers, stats, requests, sent, failed, cache, run, pkt };
}

const IP = 0x0a000005;
const MAC = localMac(5);

test('incomplete: packets queue, a reply resolves them in order and the entry is reachable', () => {
  const { cache, requests, sent, pkt } = setup();
  assert.equal(cache.send(IP, pkt(1)), true);
  assert.equal(cache.send(IP, pkt(2)), true);
  assert.equal(requests.length, 1);
  assert.equal(requests[0].to, undefined); // broadcast
  assert.equal(cache.get(IP)?.state, 'incomplete');
  cache.learn(IP, MAC, true, true);
  assert.equal(cache.get(IP)?.state, 'reachable');
  assert.deepEqual(
    sent.map((s) => s.n),
    [1, 2],
  );
  cache.send(IP, pkt(3));
  assert.equal(sent.length, 3);
  assert.equal(requests.length, 1);
});

test('resolution retries every second, then fails: queued packets reported, entry removed', () => {
  const { cache, requests, failed, stats, run, pkt } = setup();
  cache.send(IP, pkt(1));
  cache.send(IP, pkt(2));
  run(seconds(1));
  run(seconds(2));
  assert.equal(requests.length, 3);
  assert.deepEqual(
    requests.map((r) => r.at),
    [0, seconds(1), seconds(2)],
  );
  assert.equal(failed.length, 0);
  run(seconds(3));
  assert.deepEqual(failed, [{ target: IP, packets: [1, 2] }]);
  assert.equal(cache.get(IP), undefined);
  assert.equal(stats.resolutionFailures, 1);
  assert.equal(stats.unresolvedDrops, 2);
  assert.equal(cache.queuedBytes, 0);
});

test('reachable → stale after 30 s; using a stale entry sends unicast probes; silence removes it', () => {
  const { cache, requests, sent, run, pkt } = setup();
  cache.send(IP, pkt(1));
  cache.learn(IP, MAC, true, true);
  run(seconds(30));
  assert.equal(cache.get(IP)?.state, 'stale');
  cache.send(IP, pkt(2)); // still sent to the known MAC
  assert.equal(sent.length, 2);
  assert.equal(cache.get(IP)?.state, 'probe');
  assert.deepEqual(requests.at(-1)?.to, MAC); // unicast re-probe
  run(seconds(31));
  run(seconds(32));
  assert.equal(requests.length, 4);
  run(seconds(33));
  assert.equal(cache.get(IP), undefined);
});

test('a probe answered returns the entry to reachable; an unused stale entry is collected', () => {
  const { cache, run, pkt } = setup();
  cache.send(IP, pkt(1));
  cache.learn(IP, MAC, true, true);
  run(seconds(30));
  cache.send(IP, pkt(2));
  cache.learn(IP, MAC, true, true);
  assert.equal(cache.get(IP)?.state, 'reachable');
  run(seconds(61));
  assert.equal(cache.get(IP)?.state, 'stale');
  run(seconds(200));
  assert.equal(cache.get(IP), undefined);
});

test('a changed MAC in an unsolicited packet makes the entry stale with the new MAC', () => {
  const { cache, pkt } = setup();
  cache.send(IP, pkt(1));
  cache.learn(IP, MAC, true, true);
  const other = localMac(6);
  cache.learn(IP, other, false, false);
  assert.equal(cache.get(IP)?.state, 'stale');
  assert.deepEqual(cache.get(IP)?.mac, other);
});

test('learn: traffic not aimed at us never creates entries (RFC 826 merge rule)', () => {
  const { cache } = setup();
  cache.learn(IP, MAC, false, true);
  cache.learn(IP, MAC, false, false);
  assert.equal(cache.size, 0);
  cache.learn(IP, MAC, true, false);
  assert.equal(cache.get(IP)?.state, 'stale');
});

test('learn: an unsolicited reply addressed to us creates no entry (Linux arp_accept=0), but confirms an existing one', () => {
  const { cache, stats } = setup();
  cache.learn(IP, MAC, true, true);
  assert.equal(cache.size, 0);
  assert.equal(stats.unsolicitedReplies, 1);
  cache.learn(IP, MAC, true, false);
  cache.learn(IP, MAC, true, true);
  assert.equal(cache.get(IP)?.state, 'reachable');
});

test("cache cap: an entry made for a stranger's request never evicts one we send through", () => {
  const { cache, stats, pkt } = setup({ maxEntries: 2 });
  cache.send(IP, pkt(1));
  cache.learn(IP, MAC, true, true);
  cache.learn(IP + 1, localMac(1), true, false);
  // Full: the stranger's entry goes, never the one in use.
  cache.learn(IP + 2, localMac(2), true, false);
  assert.ok(cache.get(IP));
  assert.equal(cache.get(IP + 1), undefined);
  assert.ok(cache.get(IP + 2));
  assert.equal(stats.evictions, 1);
  // Only entries in use left: a stranger's request makes nothing.
  cache.send(IP + 3, pkt(3));
  assert.equal(cache.get(IP + 2), undefined);
  cache.learn(IP + 3, localMac(3), true, true);
  cache.learn(IP + 4, localMac(4), true, false);
  assert.equal(cache.get(IP + 4), undefined);
  assert.equal(stats.cacheFull, 1);
});

test('queue bounds: per neighbour count/bytes and total bytes; drops counted', () => {
  const { cache, stats, pkt } = setup({
    queuePerNeighbor: 3,
    queueBytesPerNeighbor: 10_000,
    queueBytesTotal: 500,
  });
  for (let i = 0; i < 5; i++) cache.send(IP, pkt(i));
  assert.equal(cache.get(IP)?.queued, 3);
  assert.equal(stats.queueDrops, 2);
  cache.send(IP + 1, pkt(10, 200));
  cache.send(IP + 1, pkt(11, 200)); // total would be 300 + 400 > 500
  assert.equal(cache.get(IP + 1)?.queued, 1);
  assert.equal(stats.queueDrops, 3);
  assert.equal(cache.queuedBytes, 500);
});

test('cache cap: resolved entries are evicted (LRU), incomplete ones are not', () => {
  const { cache, stats, pkt } = setup({ maxEntries: 4 });
  for (let i = 0; i < 4; i++) cache.send(IP + i, pkt(i));
  // Full of incomplete entries: a fifth destination is refused.
  assert.equal(cache.send(IP + 10, pkt(10)), false);
  assert.equal(stats.cacheFull, 1);
  for (let i = 0; i < 4; i++) cache.learn(IP + i, localMac(i), true, true);
  assert.equal(cache.send(IP + 10, pkt(10)), true);
  assert.equal(cache.size, 4);
  assert.equal(stats.evictions, 1);
});
