/**
 * SO_MAX_PACING_RATE through the sockets API: a paced sender's transfer takes at least its
 * bytes at the rate (virtual time), arrives intact, and an unpaced one on the same network
 * is far quicker.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AF_INET, SHUT_WR, SO_MAX_PACING_RATE, SOCK_STREAM, SOL_SOCKET } from '../../src/socket/constants.ts';
import { seconds } from '../../src/time/instant.ts';
import { pair, randomBytes, recvAll, sha256 } from './tcp-net.ts';

async function transfer(rate: number | undefined, n: number) {
  const net = pair({ seed: 11 });
  const data = randomBytes(n, 11);
  const r = await net.sim.run(
    async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', 7000]);
      await srv.listen(1);
      const c = net.a.socket(AF_INET, SOCK_STREAM);
      if (rate !== undefined) c.setsockopt(SOL_SOCKET, SO_MAX_PACING_RATE, rate);
      await c.connect([net.bAddr, 7000]);
      const [s] = await srv.accept();
      const start = net.sim.now;
      const got = recvAll(s);
      await c.sendall(data);
      c.shutdown(SHUT_WR);
      const bytes = await got;
      const took = net.sim.now - start;
      const readBack = c.getsockopt(SOL_SOCKET, SO_MAX_PACING_RATE);
      c.close();
      s.close();
      return { bytes, took, readBack };
    },
    { timeout: seconds(60) },
  );
  return { ok: (await sha256(r.bytes)) === (await sha256(data)), took: r.took, readBack: r.readBack };
}

describe('SO_MAX_PACING_RATE', () => {
  it('holds a transfer to the rate', async () => {
    const n = 200_000;
    const paced = await transfer(1_000_000, n);
    assert.ok(paced.ok);
    assert.equal(paced.readBack, 1_000_000);
    // 200 kB at 1 MB/s: at least 200 ms less the first burst's head start.
    assert.ok(paced.took >= 190_000, `paced transfer took ${paced.took} µs`);
    const free = await transfer(undefined, n);
    assert.ok(free.ok);
    assert.equal(free.readBack, -1);
    assert.ok(free.took < paced.took / 2, `unpaced ${free.took} µs vs paced ${paced.took} µs`);
  });
});
