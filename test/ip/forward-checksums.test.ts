/**
 * Checksums across a router, checked on the wire by an independent verifier
 * (test/helpers/wire-verify.ts):
 *
 * - A GRO run leaves as the segments it was made of. It carries its first segment's TCP
 *   checksum (GRO checked every segment and rewrote only the IP header), so when the next
 *   link's MTU is large enough for the whole run it must still be cut back into its segments,
 *   checksums filled in (Linux re-segments in validate_xmit_skb whenever the device takes no
 *   super-segments). Sent whole, every run reached the receiver with a bad checksum.
 * - A datagram corrupted on the way in must not reach an application through a link whose far
 *   end trusts its frames (checksum offload): the router checks it before such a link.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Impairments } from '../../src/link/impair.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { AF_INET, AF_INET6, SHUT_WR, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { VerifyingDevice, WireVerifier } from '../helpers/wire-verify.ts';
import { randomBytes, recvAll } from '../scenarios/tcp-net.ts';

interface Side {
  mtu: number;
  offload: boolean;
  /** Impairments towards the router. */
  in?: Impairments;
}

/** a ── cable 0 ── router ── cable 1 ── b, every cable end verified; `data` sent a → b. */
async function throughRouter(family: 4 | 6, c0: Side, c1: Side, data: Uint8Array) {
  const sim = new Simulation({ seed: 5 });
  const v6 = family === 6;
  const delay = millis(1);
  const verifier = new WireVerifier(`IPv${family}`);
  const cables: Cable[] = [];
  const wire = (side: Side, i: number): [VerifyingDevice, VerifyingDevice] => {
    const c = sim.add(
      new Cable({
        clock: sim.clock,
        rng: sim.rng.fork(),
        mtu: side.mtu,
        aToB: { delay },
        bToA: { delay },
        checksumOffload: side.offload,
        names: [`c${i}a`, `c${i}b`],
      }),
    );
    cables.push(c);
    const x = new VerifyingDevice(c.a, verifier);
    const y = new VerifyingDevice(c.b, verifier);
    VerifyingDevice.link(x, y);
    return [x, y];
  };
  const [a0, r0] = wire(c0, 0);
  const [r1, b1] = wire(c1, 1);
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
  cables[0].aToB.configure({ delay, ...c0.in });
  cables[1].aToB.configure({ delay, ...c1.in });

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
    { timeout: seconds(120) },
  );
  return { got, verifier, a, router, b };
}

for (const family of [4, 6] as const) {
  describe(`IPv${family}: checksums through a router`, () => {
    it('a GRO run into a link with a larger MTU leaves as its segments, each with a right checksum', async () => {
      const data = randomBytes(256 * 1024, 11);
      const { got, verifier, router, b } = await throughRouter(
        family,
        { mtu: family === 6 ? 1280 : 576, offload: false },
        { mtu: 9000, offload: false },
        data,
      );
      assert.deepEqual(got, data);
      // The router did coalesce (else this would test nothing).
      assert.ok(router.stats.gro.runs > 10, `GRO runs ${router.stats.gro.runs}`);
      assert.deepEqual(verifier.errors, []);
      assert.equal(b.tcpStats.badChecksum, 0);
      assert.ok(verifier.counts.tcp > 256, `${verifier.counts.tcp} TCP segments checked`);
    });

    it('a segment corrupted on the way in is dropped before a link whose far end trusts it', async () => {
      const data = randomBytes(256 * 1024, 12);
      const { got, verifier, router } = await throughRouter(
        family,
        { mtu: 1500, offload: false, in: { corrupt: 0.05 } },
        { mtu: 1500, offload: true },
        data,
      );
      assert.deepEqual(got, data, 'byte-exact: no corruption reached b');
      const st = family === 4 ? router.stats.ip.outDiscards : router.ip6.stats.outDiscards;
      assert.ok(st > 5, `router dropped ${st}`);
      assert.deepEqual(verifier.errors, []);
    });
  });
}
