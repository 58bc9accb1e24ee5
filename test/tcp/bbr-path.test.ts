/**
 * Congestion controllers end to end on a simulated path (two Stacks, a memory Cable with a
 * 20 Mbit/s bottleneck, a drop-tail buffer of one BDP, 10 ms each way): the delivery-rate
 * sampler (rate.ts) measures the bottleneck, BBR finds it without a standing queue, and every
 * controller moves the bytes exactly, with loss.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Stack } from '../../src/stack.ts';
import type { Bbr } from '../../src/tcp/congestion/bbr.ts';
import type { CongestionName } from '../../src/tcp/congestion/types.ts';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import type { TcpInfo } from '../../src/tcp/info.ts';
import { millis } from '../../src/time/instant.ts';

const RATE = 20e6; // bit/s
const DELAY_MS = 10;

interface Run {
  sent: number;
  got: number;
  intact: boolean;
  c: TcpConnection;
  /** TCP_INFO while the transfer is three quarters done (the sender not yet out of data). */
  mid: TcpInfo | undefined;
}

function transfer(cc: CongestionName, loss: number, total: number, seed = 7): Run {
  const sim = new Simulation({ seed });
  const delay = millis(DELAY_MS);
  const bdp = Math.ceil(((RATE / 8) * 2 * DELAY_MS) / 1000);
  const cable = sim.add(
    new Cable({ clock: sim.clock, rng: sim.rng.fork(), mtu: 1500, aToB: { delay }, bToA: { delay } }),
  );
  const tcp = { sndBuf: 4 << 20, rcvBuf: 4 << 20, congestion: cc };
  const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', config: { tcp } }));
  const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b', config: { tcp } }));
  a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  cable.aToB.configure({ delay, bandwidth: RATE, queueLimit: bdp });
  cable.bToA.configure({ delay, bandwidth: RATE });
  const l = b.tcp.listen({ port: 5001, backlog: 4 });
  const c = a.tcp.connect({ remote: { family: 4, v4: 0x0a000002 }, remotePort: 5001 });
  sim.runFor(millis(150));
  const s = l.accept();
  assert.ok(s, 'connected');
  cable.aToB.configure({ delay, bandwidth: RATE, queueLimit: bdp, loss });
  // The payload is a counter pattern, so that the receiver can check every byte.
  const data = new Uint8Array(total);
  for (let i = 0; i < total; i++) data[i] = (i * 7 + (i >>> 8)) & 0xff;
  let sent = 0;
  let got = 0;
  let intact = true;
  const pump = () => {
    while (sent < total) {
      const n = c.write(data.subarray(sent, Math.min(total, sent + 65536)));
      if (n === 0) break;
      sent += n;
    }
  };
  c.events = { onWritable: pump };
  s.events = {
    onReadable: () => {
      for (;;) {
        const d = s.read(1 << 20);
        if (d === null) break;
        for (let i = 0; i < d.length; i++) if (d[i] !== data[got + i]) intact = false;
        got += d.length;
      }
    },
  };
  pump();
  let mid: TcpInfo | undefined;
  for (let i = 0; i < 600 && got < total; i++) {
    sim.runFor(millis(50), { maxSteps: 1e7 });
    if (!mid && got >= total * 0.75) mid = c.info();
  }
  sim.runFor(millis(200)); // the last ACKs reach the sender
  return { sent, got, intact, c, mid };
}

describe('congestion controllers on a 20 Mbit/s, 20 ms path', () => {
  it('BBR fills the pipe without a standing queue: bandwidth and delivery rate at the bottleneck, RTT near the base', () => {
    const r = transfer('bbr', 0, 6_000_000);
    assert.equal(r.got, 6_000_000);
    assert.ok(r.intact);
    const bbr = (r.c as unknown as { cc: Bbr }).cc;
    const payloadRate = (RATE / 8) * (1448 / 1514); // bytes/s of payload at the bottleneck (Ethernet framing)
    const bw = bbr.state.bw * 1e6;
    assert.ok(bw > 0.9 * payloadRate && bw < 1.1 * payloadRate, `bw ${bw} vs ${payloadRate}`);
    assert.equal(bbr.state.mode === 'probe_bw' || bbr.state.mode === 'probe_rtt', true, bbr.state.mode);
    assert.ok(bbr.state.minRttUs >= 20_000 && bbr.state.minRttUs < 22_000, `min_rtt ${bbr.state.minRttUs}`);
    const info = r.mid!;
    assert.ok(
      info.deliveryRate > 0.85 * payloadRate && info.deliveryRate < 1.1 * payloadRate,
      `tcpi_delivery_rate ${info.deliveryRate}`,
    );
    // CUBIC fills the same buffer: BBR's smoothed RTT stays well under the full-buffer RTT (40 ms).
    assert.ok((info.rtt ?? 0) < 32_000, `srtt ${info.rtt}`);
    assert.equal(info.congestion, 'bbr');
  });

  for (const cc of ['newreno', 'cubic', 'bbr'] as const) {
    it(`${cc} moves 2 MB exactly through 2 % loss; tcpi_delivered counts each byte once`, () => {
      const r = transfer(cc, 0.02, 2_000_000, 11);
      assert.equal(r.got, 2_000_000);
      assert.ok(r.intact, 'every byte as sent');
      const info = r.c.info();
      assert.ok(info.totalRetrans > 0, 'there was loss to repair');
      assert.equal(info.bytesDelivered, 2_000_000, 'delivered = bytes acknowledged, no double count');
    });
  }
});
