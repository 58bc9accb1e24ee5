/**
 * Linux's send-side switches through the sockets API of two stacks on a memory cable:
 * TCP_NOTSENT_LOWAT (writable only while few bytes wait unsent), TCP_CORK and MSG_MORE /
 * MSG_EOR reaching the connection, and the options reading back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import {
  AF_INET,
  IPPROTO_TCP,
  MSG_DONTWAIT,
  MSG_MORE,
  SO_RCVBUF,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_CORK,
  TCP_NOTSENT_LOWAT,
} from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';

async function pair() {
  const sim = new Simulation({ seed: 3 });
  const delay = millis(5);
  const cable = sim.add(
    new Cable({ clock: sim.clock, rng: sim.rng.fork(), aToB: { delay }, bToA: { delay } }),
  );
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  const l = b.socket(AF_INET, SOCK_STREAM);
  l.setsockopt(SOL_SOCKET, SO_RCVBUF, 8192);
  await l.bind(['10.0.0.2', 7000]);
  await l.listen(4);
  const c = a.socket(AF_INET, SOCK_STREAM);
  const accepted = l.accept();
  await sim.run(c.connect(['10.0.0.2', 7000]), { timeout: seconds(5) });
  const [s] = await sim.run(accepted, { timeout: seconds(5) });
  const conn = [...a.tcp.connections()][0]!;
  return { sim, c, s, conn };
}

describe('TCP_NOTSENT_LOWAT', () => {
  it('a non-blocking sender stops (EAGAIN) once the mark is unsent, with send buffer to spare, and resumes as it drains', async () => {
    const { sim, c, s, conn } = await pair();
    assert.equal(c.getsockopt(IPPROTO_TCP, TCP_NOTSENT_LOWAT), -1, 'no limit by default');
    c.setsockopt(IPPROTO_TCP, TCP_NOTSENT_LOWAT, 4000);
    assert.equal(c.getsockopt(IPPROTO_TCP, TCP_NOTSENT_LOWAT), 4000);
    c.setblocking(false);
    // The receiver does not read: its 8 KiB window fills, and the rest waits unsent.
    let sent = 0;
    for (let i = 0; i < 100; i++) {
      try {
        sent += await c.send(new Uint8Array(1000));
      } catch (e) {
        assert.equal((e as { code: string }).code, 'EAGAIN');
        sim.runFor(millis(50));
        try {
          sent += await c.send(new Uint8Array(1000), MSG_DONTWAIT);
        } catch {
          break;
        }
      }
    }
    assert.ok(conn.notSent >= 4000 && conn.notSent < 4000 + conn.mss, `unsent ${conn.notSent}`);
    assert.ok(conn.sndBuf.space > 100_000, 'the send buffer itself had room');
    // Reading opens the window; the unsent bytes drain and the socket is writable again.
    c.setblocking(true);
    const more = c.send(new Uint8Array(1000));
    let got = 0;
    const reader = (async () => {
      while (got < sent + 1000) got += (await s.recv(65536)).length;
    })();
    assert.equal(await sim.run(more, { timeout: seconds(5) }), 1000);
    await sim.run(reader, { timeout: seconds(5) });
    assert.equal(got, sent + 1000);
    await c.close();
    await s.close();
  });
});

describe('TCP_CORK and MSG_MORE through the socket', () => {
  it('set on the socket, they hold a small write until pushed', async () => {
    const { sim, c, s } = await pair();
    c.setsockopt(IPPROTO_TCP, TCP_CORK, 1);
    assert.equal(c.getsockopt(IPPROTO_TCP, TCP_CORK), 1);
    await c.send('abc');
    sim.runFor(millis(100));
    await assert.rejects(s.recv(10, MSG_DONTWAIT), { code: 'EAGAIN' }, 'corked: nothing sent yet');
    c.setsockopt(IPPROTO_TCP, TCP_CORK, 0);
    assert.equal(new TextDecoder().decode(await sim.run(s.recv(10), { timeout: seconds(1) })), 'abc');
    await c.send('de', MSG_MORE);
    sim.runFor(millis(100));
    await assert.rejects(s.recv(10, MSG_DONTWAIT), { code: 'EAGAIN' }, 'MSG_MORE: held');
    await c.send('f');
    assert.equal(new TextDecoder().decode(await sim.run(s.recv(10), { timeout: seconds(1) })), 'def');
    await c.close();
    await s.close();
  });
});
