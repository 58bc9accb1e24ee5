/**
 * A router's GRO run leaves as the segments it was made of. The run carries its first
 * segment's TCP checksum (GRO checked every segment and rewrote only the IP header), so when
 * the next link's MTU is large enough for the whole run it must still be cut back into its
 * segments, checksums filled in (Linux re-segments in validate_xmit_skb whenever the device
 * takes no super-segments). Sent whole, every run reached the receiver with a bad checksum
 * and was dropped there (an independent verifier on the router's outgoing wire shows it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { AF_INET, AF_INET6, SHUT_WR, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { VerifyingDevice, WireVerifier } from '../helpers/wire-verify.ts';
import { randomBytes, recvAll } from '../scenarios/tcp-net.ts';

for (const family of [4, 6] as const) {
  describe(`IPv${family}: a router forwards a GRO run into a link with a larger MTU`, () => {
    it('as its segments, each with a right checksum; nothing dropped at the receiver', async () => {
      const sim = new Simulation({ seed: 5 });
      const v6 = family === 6;
      const delay = millis(1);
      // a ── MTU 576/1280, checksums on the wire ── router ── MTU 9000, checksums ── b
      const mk = (mtu: number, i: number) =>
        sim.add(
          new Cable({
            clock: sim.clock,
            rng: sim.rng.fork(),
            mtu,
            aToB: { delay },
            bToA: { delay },
            checksumOffload: false,
            names: [`c${i}a`, `c${i}b`],
          }),
        );
      const c0 = mk(v6 ? 1280 : 576, 0);
      const c1 = mk(9000, 1);
      const verifier = new WireVerifier(`IPv${family}`);
      const wrap = (c: Cable): [VerifyingDevice, VerifyingDevice] => {
        const x = new VerifyingDevice(c.a, verifier);
        const y = new VerifyingDevice(c.b, verifier);
        VerifyingDevice.link(x, y);
        return [x, y];
      };
      const [a0, r0] = wrap(c0);
      const [r1, b1] = wrap(c1);
      const stack = (name: string, forwarding = false) =>
        sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name, forwarding }));
      const a = stack('a');
      const router = stack('router', true);
      const b = stack('b');
      const addr = (net: number, host: number) => (v6 ? `fd00:${net}::${host}` : `10.0.${net}.${host}`);
      const plen = v6 ? 64 : 24;
      a.addInterface({ name: 'eth0', device: a0, addresses: [`${addr(1, 2)}/${plen}`] });
      router.addInterface({ name: 'eth0', device: r0, addresses: [`${addr(1, 1)}/${plen}`] });
      router.addInterface({ name: 'eth1', device: r1, addresses: [`${addr(2, 1)}/${plen}`] });
      b.addInterface({ name: 'eth0', device: b1, addresses: [`${addr(2, 2)}/${plen}`] });
      a.addRoute({ destination: v6 ? '::/0' : '0.0.0.0/0', gateway: addr(1, 1) });
      b.addRoute({ destination: v6 ? '::/0' : '0.0.0.0/0', gateway: addr(2, 1) });
      sim.runFor(seconds(3));

      const data = randomBytes(256 * 1024, 11);
      const got = await sim.run(
        async () => {
          const af = v6 ? AF_INET6 : AF_INET;
          const srv = b.socket(af, SOCK_STREAM);
          await srv.bind([v6 ? '::' : '0.0.0.0', 5000]);
          await srv.listen(1);
          const cli = a.socket(af, SOCK_STREAM);
          await cli.connect([addr(2, 2), 5000]);
          const [conn] = await srv.accept();
          const sending = cli.sendall(data).then(() => cli.shutdown(SHUT_WR));
          const r = await recvAll(conn);
          await sending;
          await cli.close();
          await conn.close();
          await srv.close();
          return r;
        },
        { timeout: seconds(60) },
      );
      assert.deepEqual(got, data);
      // The router did coalesce (else this test would not test anything).
      assert.ok(router.stats.gro.runs > 10, `GRO runs ${router.stats.gro.runs}`);
      assert.deepEqual(verifier.errors, []);
      assert.equal(b.tcpStats.badChecksum, 0);
      assert.ok(verifier.counts.tcp > 256, `${verifier.counts.tcp} TCP segments checked`);
    });
  });
}
