/**
 * Slow start after idle (RFC 5681 §4.1, Linux net.ipv4.tcp_slow_start_after_idle): a sender
 * idle for longer than an RTO restarts from the restart window, unless the switch is off;
 * and a window the application does not fill does not grow (Linux tcp_is_cwnd_limited).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialWindow } from '../../src/tcp/congestion/types.ts';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import { B, Pipe } from './harness.ts';

function bulkThenIdle(slowStartAfterIdle: boolean): { c: TcpConnection; p: Pipe; grown: number } {
  const p = new Pipe(4, { delay: 10 }, [{ slowStartAfterIdle }, {}]);
  const [a, b] = p.layers;
  const l = b.listen({ port: 80, backlog: 4 });
  let got = 0;
  l.onAcceptable = () => {
    const s = l.accept()!;
    s.events = {
      onReadable: () => {
        for (let d = s.read(); d; d = s.read()) got += d.length;
      },
    };
  };
  const c = a.connect({ remote: B, remotePort: 80 });
  p.run(() => c.state === 'ESTABLISHED', 1000);
  const data = new Uint8Array(200_000);
  let off = 0;
  c.events = { onWritable: () => (off += c.write(data.subarray(off))) };
  off += c.write(data);
  p.run(() => got === data.length, 20_000);
  const grown = c.cc.cwnd;
  // Two seconds of silence (several RTOs), then a little more data.
  p.runFor(2000);
  c.write(new Uint8Array(100));
  return { c, p, grown };
}

describe('slow start after idle', () => {
  it('on (the default, Linux tcp_slow_start_after_idle=1): cwnd goes back to the restart window', () => {
    const { c, grown } = bulkThenIdle(true);
    assert.ok(grown > initialWindow(c.mss), `cwnd grew during the bulk transfer (${grown})`);
    assert.equal(c.cc.cwnd, Math.min(initialWindow(c.mss), grown));
  });
  it('off: cwnd survives the idle period', () => {
    const { c, grown } = bulkThenIdle(false);
    assert.equal(c.cc.cwnd, grown);
  });
});
