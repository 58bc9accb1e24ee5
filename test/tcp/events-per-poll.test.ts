/**
 * A Stack delivers socket events once per poll (TcpLayer.deferEventsToPoll /
 * deliverEvents): the segments of one receive batch raise one readable event, seen
 * after the whole batch was processed; an event raised outside a poll (an application
 * call) still goes out at the next one. A TcpLayer driven without a Stack delivers after
 * each segment (test/tcp/unit).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { EV_READABLE } from '../../src/tcp/events.ts';
import { millis } from '../../src/time/instant.ts';
import type { IpAddress } from '../../src/wire/address.ts';
import { pair } from '../scenarios/tcp-net.ts';

const B: IpAddress = { family: 4, v4: 0x0a000002 };

function established() {
  const net = pair({ seed: 7, delay: millis(5) });
  const l = net.b.tcp.listen({ port: 7000, backlog: 4 });
  const c = net.a.tcp.connect({ remote: B, remotePort: 7000 });
  net.sim.runFor(millis(50));
  const s = l.accept();
  assert.ok(s, 'the connection was accepted');
  return { ...net, c, s };
}

it('one readable event per poll: the segments of a burst that arrives at one instant raise it once, after all of them', () => {
  const { sim, b, c, s } = established();
  const segsBefore = b.tcp.stats.segmentsIn;
  const seen: number[] = [];
  s.events = {
    onReadable: () => {
      seen.push(s.readableLength);
      while (s.read() !== null) {}
    },
  };
  // Ten full segments (the initial window, RFC 6928), written at once: they leave together
  // and arrive at b at the same virtual instant, so one poll takes them as one batch.
  const mss = c.mss;
  assert.equal(c.write(new Uint8Array(10 * mss)), 10 * mss);
  sim.runFor(millis(6));
  const segs = b.tcp.stats.segmentsIn - segsBefore;
  assert.equal(segs, 10, 'the ten segments arrived');
  assert.deepEqual(seen, [s.stats.bytesReceived], 'one readable event, with the whole burst readable');
  assert.ok(s.stats.bytesReceived > 9 * (mss - 40), `${s.stats.bytesReceived} bytes in ten segments`);
});

it('an event raised outside a poll is delivered at the next poll, not inside the call that raised it', () => {
  const { sim, c } = established();
  let readable = 0;
  c.events = { onReadable: () => readable++ };
  // Raised from outside any poll, as an application call would (the internal path every
  // event takes: pending bits, then flush).
  c.pending |= EV_READABLE;
  c.flush();
  assert.equal(readable, 0, 'not delivered inside the call');
  const at = sim.clock.now();
  sim.runUntil(at);
  assert.equal(readable, 1, 'delivered by the next poll, at the same instant');
  assert.equal(sim.clock.now(), at);
});
