/**
 * The TCP conversation tracker and the time–sequence series over IPv6: a transfer between
 * two stacks on a lossy cable over fd00:1::/64, captured at the sender, is one stream
 * with IPv6 endpoints, relative sequence numbers from each ISN, the retransmissions the
 * loss caused, and a plot series; the tcpdump-style lines and the envelope show the
 * IPv6 addresses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { tcpSeries } from '../../src/plot/tcp-graph.ts';
import { AF_INET6, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';
import { endpointText, TcpTracker } from '../../src/trace/conversation.ts';
import { dissect } from '../../src/trace/dissect.ts';
import { formatEnvelope, summaryLine } from '../../src/trace/format.ts';
import type { TraceFrame } from '../../src/trace/frames.ts';

test('an IPv6 transfer with loss: one stream, IPv6 endpoints, relative numbers, retransmissions, a plot series', async () => {
  const sim = new Simulation({ seed: 61 });
  const cable = sim.add(
    new Cable({ clock: sim.clock, rng: sim.rng.fork(), aToB: { loss: 0.03 }, checksumOffload: false }),
  );
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  const frames: TraceFrame[] = [];
  const tx = cable.a.transmit.bind(cable.a);
  cable.a.transmit = (f: Uint8Array) => {
    frames.push({ time: sim.clock.now(), data: f.slice(), linkType: 'ethernet' });
    tx(f);
  };
  const rx = (f: Uint8Array) => frames.push({ time: sim.clock.now(), data: f.slice(), linkType: 'ethernet' });
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['fd00:1::1/64'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['fd00:1::2/64'] });
  const deliver = cable.a.onReceive!;
  cable.a.onReceive = (f) => {
    rx(f);
    deliver(f);
  };
  sim.runFor(seconds(3));
  const data = new Uint8Array(200_000).map((_, i) => i & 0xff);
  let got = 0;
  await sim.run(async () => {
    const srv = b.socket(AF_INET6, SOCK_STREAM);
    await srv.bind(['::', 8000]);
    await srv.listen(1);
    const acc = srv.accept();
    const c = a.socket(AF_INET6, SOCK_STREAM);
    await c.connect(['fd00:1::2', 8000]);
    const [conn] = await acc;
    const reading = (async () => {
      for await (const chunk of conn) got += chunk.length;
    })();
    await c.sendall(data);
    await c.close();
    await reading;
    for (const s of [conn, srv]) await s.close();
  });
  assert.equal(got, data.length);

  const tracker = new TcpTracker();
  let retrans = 0;
  const lines: string[] = [];
  for (const f of frames) {
    const d = dissect(f.data, f.linkType);
    const o = tracker.observe(d, f.time);
    if (o?.events.includes('retransmission')) retrans++;
    if (d.tcp) lines.push(summaryLine(d, { tcp: o }));
  }
  assert.equal(tracker.conversations.length, 1);
  const conv = tracker.conversations[0];
  assert.equal(endpointText(conv.a).replace(/\.\d+$/, ''), 'fd00:1::1');
  assert.equal(endpointText(conv.b), 'fd00:1::2.8000');
  assert.equal(conv.client, 'a2b');
  assert.ok(conv.handshakeDone);
  assert.ok(conv.a2b.sawSyn && conv.b2a.sawSyn);
  // Relative numbers: the client's data ends at 200000 + 1 (SYN) + 1 (FIN).
  assert.equal(conv.a2b.maxSeqEnd, data.length + 2);
  assert.ok(retrans > 0, '3% loss caused retransmissions the tracker saw');
  assert.equal(conv.a2b.retransmissions, retrans);
  // tcpdump's lines: relative after the SYN, IPv6 addresses as printed.
  assert.match(lines[0], /^fd00:1::1\.\d+ > fd00:1::2\.8000: Flags \[S\], seq \d+, win \d+/);
  assert.ok(lines.some((l) => /^fd00:1::1\.\d+ > fd00:1::2\.8000: Flags \[\.\], seq 1:1429, ack 1,/.test(l)));
  const acks = lines
    .map((l) => /^fd00:1::2\.8000 > fd00:1::1\.\d+: Flags \[\.\], ack (\d+),/.exec(l)?.[1])
    .filter((x) => x !== undefined)
    .map(Number);
  assert.ok(acks.length > 10 && acks.every((n) => n >= 1 && n <= data.length + 2), 'relative ACKs');

  const series = tcpSeries(frames)!;
  assert.equal(series.direction, 'a2b');
  assert.equal(series.receiver.addr, 'fd00:1::2');
  assert.ok(series.segments.length > 100);
  assert.ok(series.segments.every((s) => s.seq >= 0 && s.seq <= data.length + 1));
  assert.ok(series.segments.some((x) => x.retransmission));
  assert.ok(series.marks.some((m) => m.kind === 'syn') && series.marks.some((m) => m.kind === 'fin'));

  const env = formatEnvelope(
    dissect(frames.find((f) => dissect(f.data, f.linkType).tcp?.payloadLength)!.data, 'ethernet'),
  );
  assert.match(env, /IPv6 packet/);
  assert.match(env, /fd00:1::1 → fd00:1::2/);
});
