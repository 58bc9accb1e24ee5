/**
 * A Stack drives its TCP by polls (TcpLayer.driveByPolls): what a receive batch lets a
 * connection send goes out in one output pass per connection (runOutputPass), and socket
 * events are delivered once per poll (deliverEvents): the segments of one batch raise one
 * readable event, seen after the whole batch was processed; an event raised outside a poll
 * still goes out at the next one. A TcpLayer driven without a Stack sends and delivers
 * after each segment (test/tcp/unit).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { EV_READABLE } from '../../src/tcp/events.ts';
import { millis } from '../../src/time/instant.ts';
import type { IpAddress } from '../../src/wire/address.ts';
import { pair } from '../scenarios/tcp-net.ts';

const B: IpAddress = { family: 4, v4: 0x0a000002 };

function established() {
  // Real segments (no TSO): the batches these tests look at are of MTU-sized segments.
  const net = pair({ seed: 7, delay: millis(5), gso: false });
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

it('one output pass per connection per receive batch: a burst of ACKs is answered once, with everything they opened', () => {
  const { sim, a, b, c, s } = established();
  s.events = {
    onReadable: () => {
      while (s.read() !== null) {}
    },
  };
  // Enough data for several round trips; b acknowledges every second segment, so ten
  // segments arriving together come back as five ACKs that reach a at one instant. (With
  // GRO, b takes the ten as one run and answers once: test/ip/gro.test.ts; off here.)
  b.gro = false;
  const mss = c.mss;
  c.write(new Uint8Array(200 * mss));
  const passes0 = a.tcp.stats.outputPasses;
  const in0 = a.tcp.stats.segmentsIn;
  sim.runFor(millis(11)); // the first flight out and its ACKs back (5 ms each way)
  const acks = a.tcp.stats.segmentsIn - in0;
  const passes = a.tcp.stats.outputPasses - passes0;
  assert.ok(acks >= 5, `${acks} ACKs came back`);
  assert.equal(passes, 1, `${acks} ACKs in one batch, ${passes} output passes`);
  // Everything the ACKs opened went out in that pass: slow start doubled the flight.
  assert.ok(c.flight >= 2 * 10 * (mss - 40), `flight ${c.flight}`);
});
