/**
 * Send-buffer autotuning (src/tcp/sndbuf-auto.ts) end to end at virtual times: two Stacks on a
 * memory Cable of 200 Mbit/s with 10 ms each way (a BDP of 500 kB, twice the Linux profile's
 * default send buffer), a receiver with a 4 MiB buffer, and a sender that writes whenever it
 * may. Linux grows the buffer to twice the window (tcp_sndbuf_expand), FreeBSD by 8 KiB steps
 * (SB_AUTOSIZE); SO_SNDBUF stops both; tcp_wmem[2] / sendbuf_max bound them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import type { TcpConfig } from '../../src/tcp/config.ts';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import { millis } from '../../src/time/instant.ts';

const RATE = 200e6;
const DELAY_MS = 10;

interface Run {
  c: TcpConnection;
  got: number;
  intact: boolean;
  /** The send buffer's limit after each 50 ms step. */
  limits: number[];
  /** cwnd after each 50 ms step. */
  cwnds: number[];
}

function bulk(sender: Partial<TcpConfig>, ms: number, setSndBuf?: number, seed = 3): Run {
  const sim = new Simulation({ seed });
  const delay = millis(DELAY_MS);
  const cable = sim.add(
    new Cable({ clock: sim.clock, rng: sim.rng.fork(), mtu: 1500, aToB: { delay }, bToA: { delay } }),
  );
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', config: { tcp: sender } }));
  const b = sim.add(
    new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b', config: { tcp: { rcvBuf: 4 << 20 } } }),
  );
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  cable.aToB.configure({ delay, bandwidth: RATE });
  cable.bToA.configure({ delay, bandwidth: RATE });
  const l = b.tcp.listen({ port: 5001, backlog: 4 });
  const c = a.tcp.connect({ remote: { family: 4, v4: 0x0a000002 }, remotePort: 5001 });
  sim.runFor(millis(100));
  const s = l.accept();
  assert.ok(s, 'connected');
  if (setSndBuf !== undefined) c.setOptions({ sndBuf: setSndBuf });
  // A counter pattern the receiver checks byte by byte; the sender never runs out.
  const pattern = (i: number) => (i * 7 + (i >>> 9)) & 0xff;
  const block = new Uint8Array(1 << 16);
  let sent = 0;
  const pump = () => {
    for (let i = 0; i < 1000; i++) {
      for (let j = 0; j < block.length; j++) block[j] = pattern(sent + j);
      const n = c.write(block);
      sent += n;
      if (n < block.length) break;
    }
  };
  let got = 0;
  let intact = true;
  c.events = { onWritable: pump };
  s.events = {
    onReadable: () => {
      for (let k = 0; k < 1000; k++) {
        const d = s.read(1 << 20);
        if (d === null) break;
        for (let i = 0; i < d.length; i++) if (d[i] !== pattern(got + i)) intact = false;
        got += d.length;
      }
    },
  };
  pump();
  const limits: number[] = [];
  const cwnds: number[] = [];
  for (let t = 0; t < ms; t += 50) {
    sim.runFor(millis(50), { maxSteps: 1e7 });
    limits.push(c.sndBuf.limit);
    cwnds.push(c.info().cwnd);
  }
  return { c, got, intact, limits, cwnds };
}

const max = (xs: number[]) => Math.max(...xs);

describe('send-buffer autotuning (Linux profile: tcp_sndbuf_expand)', () => {
  it('grows past the 256 KiB default to twice the window, and moves more bytes than a fixed buffer', () => {
    const auto = bulk({}, 1500);
    const fixed = bulk({ sndBufAuto: 'none' }, 1500);
    assert.ok(auto.intact && fixed.intact, 'byte-exact');
    assert.equal(max(fixed.limits), 256 * 1024, 'off: the default stays');
    const grown = max(auto.limits);
    assert.ok(grown > 512 * 1024, `grew to ${grown}`);
    // Never more than twice the window (in whole segments), as tcp_sndbuf_expand sizes it.
    const mss = auto.c.mss;
    for (let i = 0; i < auto.limits.length; i++)
      assert.ok(
        auto.limits[i] <= Math.max(256 * 1024, 2 * Math.ceil(max(auto.cwnds.slice(0, i + 1)) / mss) * mss),
      );
    // The fixed buffer caps the flight at 256 KiB per 20 ms round trip (about 13 MB/s, half
    // the path); the grown one fills the path.
    assert.ok(auto.got > fixed.got * 1.4, `auto ${auto.got} vs fixed ${fixed.got} bytes`);
  });

  it('SO_SNDBUF set on the connection turns it off (SOCK_SNDBUF_LOCK)', () => {
    const r = bulk({}, 1000, 300_000);
    assert.ok(r.intact);
    assert.deepEqual([...new Set(r.limits)], [300_000]);
  });

  it('a buffer given at connect that differs from the default is not tuned either', () => {
    const sim = new Simulation({ seed: 1 });
    const cable = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), mtu: 1500 }));
    const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a' }));
    const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b' }));
    a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
    b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
    sim.runUntilIdle();
    b.tcp.listen({ port: 5001, backlog: 4 });
    const opts = a.tcp.defaultOptions();
    const locked = a.tcp.connect({
      remote: { family: 4, v4: 0x0a000002 },
      remotePort: 5001,
      options: { sndBuf: 100_000 },
    });
    const free = a.tcp.connect({ remote: { family: 4, v4: 0x0a000002 }, remotePort: 5001 });
    sim.runFor(millis(100));
    assert.equal(locked.state, 'ESTABLISHED');
    assert.equal(locked.sndBufLocked, true);
    assert.equal(free.sndBufLocked, false);
    assert.equal(free.opts.sndBuf, opts.sndBuf);
  });

  it('stops at tcp_wmem[2] (config.maxSndBuf)', () => {
    const r = bulk({ maxSndBuf: 400_000 }, 1000);
    assert.ok(r.intact);
    assert.equal(max(r.limits), 400_000);
  });
});

describe('send-buffer autotuning (FreeBSD profile: SB_AUTOSIZE)', () => {
  it('grows from sendspace in steps of sendbuf_inc (8 KiB) up to sendbuf_max', () => {
    const r = bulk({ profile: 'freebsd' }, 2000);
    const fixed = bulk({ profile: 'freebsd', sndBufAuto: 'none' }, 2000);
    assert.ok(r.intact && fixed.intact);
    // tcp_mss() rounded the 32 KiB default to whole segments first (23 x 1448 = 33304 with timestamps).
    const base = fixed.limits[0];
    assert.ok(base >= 32768 && base < 32768 + 1460, `base ${base}`);
    const grown = max(r.limits);
    assert.ok(grown > 256 * 1024, `grew to ${grown}`);
    for (const x of r.limits) assert.ok(x === 2 << 20 || (x - base) % 8192 === 0, `${x} is base + n * 8 KiB`);
    assert.ok(r.got > fixed.got * 2, `auto ${r.got} vs fixed ${fixed.got} bytes`);
  });

  it('stops at net.inet.tcp.sendbuf_max (config.maxSndBuf)', () => {
    const r = bulk({ profile: 'freebsd', maxSndBuf: 100_000 }, 1000);
    assert.equal(max(r.limits), 100_000);
  });
});
