/**
 * Seeded networks whose every wire frame is checked by an independent verifier
 * (test/helpers/wire-verify.ts), under impairment, with traffic that walks the
 * timing-dependent send paths: TCP bulk both ways (SACK, RACK, TLP, RTO, pacing with the
 * loss and reordering; CUBIC, Reno or BBR with its pacing), zero-window probes, keepalives, FIN and RST, UDP to an open and a
 * closed port (ICMP errors), datagrams and echo requests larger than the MTU (fragments),
 * and through a router, forwarding, software GSO and PMTU errors. Used by
 * wire-checksums.test.ts (a short slice) and scripts/soak-checksums.ts (the campaign).
 */

import type { SimDevice } from '../../src/link/device.ts';
import type { Impairments } from '../../src/link/impair.ts';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import { SeededRng } from '../../src/rand/rng.ts';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_TCP,
  SHUT_WR,
  SO_KEEPALIVE,
  SO_RCVBUF,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_CONGESTION,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
} from '../../src/socket/constants.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { KernelOffloadDevice, VerifyingDevice, WireVerifier } from '../helpers/wire-verify.ts';
import { randomBytes, recvAll } from './tcp-net.ts';

/** How one cable's ends present themselves to the stacks. */
export type CableKind =
  /** Both ends compute and verify every checksum (a real wire). */
  | 'plain'
  /** Checksum offload with super-segments (a veth pair). */
  | 'offload'
  /** Checksum offload, no super-segments. */
  | 'offload-nogso'
  /** A vnet TAP's kernel side in front of each end: partial checksums and TSO, completed below. */
  | 'vnet';

export interface WireScenario {
  seed: number;
  family: 4 | 6;
  routed: boolean;
  /** Per cable (one for a pair, two through a router): kind, MTU, impairments each way. */
  cables: { kind: CableKind; mtu: number; there: Impairments; back: Impairments }[];
  /** Bytes each way of the bulk transfer. */
  bulk: number;
  /** The bulk sender's congestion control (BBR paces its segments). */
  congestion: 'cubic' | 'reno' | 'bbr';
}

export interface WireOutcome {
  scenario: WireScenario;
  verifier: WireVerifier;
  /** Bulk transfer byte-exact both ways (undefined: it did not finish in time). */
  bulkExact: boolean | undefined;
  /** What each traffic task ended with ('ok' or an error code). */
  tasks: Record<string, string>;
  /** Stack counters of frames dropped for a bad checksum (corruption on the wire makes them). */
  badChecksumDrops: number;
  /** The vnet kind's kernel side: partial checksums completed, segments cut from super-segments. */
  kernelCompleted: number;
  kernelSegmented: number;
}

function impairments(rng: SeededRng, heavy: boolean): Impairments {
  const p = () => rng.nextFloat();
  const i: { -readonly [K in keyof Impairments]: Impairments[K] } = {};
  if (p() < 0.6) i.loss = (heavy ? 0.08 : 0.03) * p();
  if (p() < 0.15) i.lossBurst = { enter: 0.01 * p(), exit: 0.3 + 0.6 * p() };
  if (p() < 0.35) i.reorder = { probability: 0.1 * p(), extraDelay: millis(1 + rng.below(8)) };
  if (p() < 0.3) i.duplicate = 0.05 * p();
  if (p() < 0.25) i.corrupt = 0.02 * p();
  if (p() < 0.3) i.jitter = millis(rng.below(6));
  if (p() < 0.25) {
    i.bandwidth = 2e6 + rng.below(40e6);
    i.queueLimit = 16384 + rng.below(64 * 1024);
  }
  return i;
}

/** Draws a scenario from its seed. `bulk`: bytes each way (the campaign draws larger ones). */
export function drawScenario(seed: number, bulk = 96 * 1024, heavy = false): WireScenario {
  const rng = new SeededRng(seed);
  const family = rng.below(2) === 0 ? 4 : 6;
  const routed = rng.below(3) === 0;
  const kinds: CableKind[] = ['plain', 'plain', 'offload', 'offload-nogso', 'vnet', 'vnet'];
  const mtus = family === 4 ? [576, 1280, 1500, 1500, 9000] : [1280, 1500, 1500, 9000];
  const cables = [];
  for (let n = 0; n < (routed ? 2 : 1); n++)
    cables.push({
      kind: kinds[rng.below(kinds.length)],
      mtu: mtus[rng.below(mtus.length)],
      there: impairments(rng, heavy),
      back: rng.below(2) === 0 ? impairments(rng, heavy) : {},
    });
  const congestion = (['cubic', 'reno', 'bbr'] as const)[rng.below(3)];
  return { seed, family, routed, cables, bulk: Math.round(bulk * (0.5 + rng.nextFloat())), congestion };
}

const code = (e: unknown) => (e as { code?: string }).code ?? (e as Error).name ?? 'error';

/** Builds the network, runs the traffic, and returns what the verifier found. */
export async function runWireScenario(sc: WireScenario): Promise<WireOutcome> {
  const sim = new Simulation({ seed: sc.seed });
  const verifier = new WireVerifier(`seed ${sc.seed}:`);
  const v6 = sc.family === 6;
  const delay = millis(2);
  const mk = (name: string, forwarding = false) =>
    sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name, forwarding }));
  const a = mk('a');
  const b = mk('b');
  const router = sc.routed ? mk('router', true) : null;
  const cables: Cable[] = [];
  const kernels: KernelOffloadDevice[] = [];
  // Each cable: its two ends wrapped (verifier; the vnet kind's kernel side above it).
  const wire = (i: number): [SimDevice, SimDevice] => {
    const c = sc.cables[i];
    const offload = c.kind === 'offload' || c.kind === 'offload-nogso';
    const cable = sim.add(
      new Cable({
        clock: sim.clock,
        rng: sim.rng.fork(),
        mtu: c.mtu,
        aToB: { delay },
        bToA: { delay },
        checksumOffload: offload,
        gso: c.kind === 'offload',
        names: [`c${i}a`, `c${i}b`],
      }),
    );
    cables.push(cable);
    const x = new VerifyingDevice(cable.a, verifier);
    const y = new VerifyingDevice(cable.b, verifier);
    VerifyingDevice.link(x, y);
    if (c.kind !== 'vnet') return [x, y];
    const k: [KernelOffloadDevice, KernelOffloadDevice] = [
      new KernelOffloadDevice(x, verifier),
      new KernelOffloadDevice(y, verifier),
    ];
    kernels.push(...k);
    return k;
  };
  const addr = (net: number, host: number) => (v6 ? `fd00:${net}::${host}` : `10.0.${net}.${host}`);
  const plen = v6 ? 64 : 24;
  const [a0, b0] = wire(0);
  a.addInterface({ name: 'eth0', device: a0, addresses: [`${addr(1, 2)}/${plen}`] });
  let bAddr: string;
  if (router === null) {
    b.addInterface({ name: 'eth0', device: b0, addresses: [`${addr(1, 3)}/${plen}`] });
    bAddr = addr(1, 3);
  } else {
    const [r1, b1] = wire(1);
    router.addInterface({ name: 'eth0', device: b0, addresses: [`${addr(1, 1)}/${plen}`] });
    router.addInterface({ name: 'eth1', device: r1, addresses: [`${addr(2, 1)}/${plen}`] });
    b.addInterface({ name: 'eth0', device: b1, addresses: [`${addr(2, 2)}/${plen}`] });
    a.addRoute({ destination: v6 ? '::/0' : '0.0.0.0/0', gateway: addr(1, 1) });
    b.addRoute({ destination: v6 ? '::/0' : '0.0.0.0/0', gateway: addr(2, 1) });
    bAddr = addr(2, 2);
  }
  // Addresses settle (IPv6 DAD) and neighbours are resolved (an echo each way) on clean links;
  // the impairments start after (else a lost ARP or NDP exchange fails the connects at once).
  sim.runFor(seconds(3));
  await sim.run(async () => {
    if (v6) await a.ping6(bAddr);
    else await a.ping(bAddr);
  });
  sc.cables.forEach((c, i) => {
    cables[i].aToB.configure({ delay, ...c.there });
    cables[i].bToA.configure({ delay, ...c.back });
  });

  const af = v6 ? AF_INET6 : AF_INET;
  const any = v6 ? '::' : '0.0.0.0';
  const tasks: Record<string, string> = {};
  const task = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
      tasks[name] = 'ok';
    } catch (e) {
      tasks[name] = code(e);
    }
  };
  const fromA = randomBytes(sc.bulk, sc.seed * 2 + 1);
  const fromB = randomBytes(Math.round(sc.bulk * 0.75), sc.seed * 2 + 2);
  let bulkExact: boolean | undefined;

  const listener = async (port: number, rcvbuf?: number) => {
    const s = b.socket(af, SOCK_STREAM);
    if (rcvbuf !== undefined) s.setsockopt(SOL_SOCKET, SO_RCVBUF, rcvbuf);
    await s.bind([any, port]);
    await s.listen(4);
    return s;
  };
  const dial = async (port: number, setup?: (s: Socket) => void) => {
    const s = a.socket(af, SOCK_STREAM);
    setup?.(s);
    await s.connect([bAddr, port]);
    return s;
  };
  const close = async (...ss: (Socket | undefined)[]) => {
    for (const s of ss) await s?.close().catch(() => undefined);
  };

  await sim
    .run(
      () =>
        Promise.all([
          // Bulk both ways at once, then FIN both ways.
          task('bulk', async () => {
            const srv = await listener(5000);
            const cc = (x: Socket) => x.setsockopt(IPPROTO_TCP, TCP_CONGESTION, sc.congestion);
            const cli = await dial(5000, cc);
            const [conn] = await srv.accept();
            cc(conn);
            const sendA = cli.sendall(fromA).then(() => cli.shutdown(SHUT_WR));
            const sendB = conn.sendall(fromB).then(() => conn.shutdown(SHUT_WR));
            const [atB, atA] = await Promise.all([recvAll(conn), recvAll(cli), sendA, sendB]);
            bulkExact = sameBytes(atB, fromA) && sameBytes(atA, fromB);
            await close(cli, conn, srv);
          }),
          // A reader that stops: the window closes, the sender probes it (zero-window probes).
          task('zero-window', async () => {
            const srv = await listener(5001, 4096);
            const cli = await dial(5001);
            const [conn] = await srv.accept();
            const data = randomBytes(48 * 1024, sc.seed + 7);
            const sending = cli.sendall(data).then(() => cli.shutdown(SHUT_WR));
            await sim.delay(seconds(4));
            const got = await recvAll(conn, 1000);
            await sending;
            if (!sameBytes(got, data))
              throw Object.assign(new Error('zero-window data differs'), { code: 'EDATA' });
            await close(cli, conn, srv);
          }),
          // An idle connection with keepalives every second.
          task('keepalive', async () => {
            const srv = await listener(5002);
            const cli = await dial(5002, (s) => {
              s.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1);
              s.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, 1);
              s.setsockopt(IPPROTO_TCP, TCP_KEEPINTVL, 1);
            });
            const [conn] = await srv.accept();
            await sim.delay(seconds(5));
            await cli.sendall(new Uint8Array(10));
            await close(cli, conn, srv);
          }),
          // RST: close with unread data, and a connection to a port nobody listens on.
          task('rst', async () => {
            const srv = await listener(5003);
            const cli = await dial(5003);
            const [conn] = await srv.accept();
            await cli.sendall(randomBytes(3000, sc.seed + 9));
            await sim.delay(millis(200));
            await close(conn, srv);
            await sim.delay(millis(200));
            await cli.sendall(new Uint8Array(100)).catch(() => undefined);
            await close(cli);
            await dial(5999).then(close, () => undefined);
          }),
          // UDP: sizes up to three MTUs (fragments), to an open port and a closed one.
          task('udp', async () => {
            const rx = b.socket(af, SOCK_DGRAM);
            await rx.bind([any, 7000]);
            const tx = a.socket(af, SOCK_DGRAM);
            const rng = new SeededRng(sc.seed + 11);
            const mtu = Math.min(...sc.cables.map((c) => c.mtu));
            for (let i = 0; i < 24; i++) {
              const size = i % 4 === 0 ? mtu * 2 + rng.below(mtu) : rng.below(mtu);
              await tx.sendto(randomBytes(size, sc.seed + i), [bAddr, i % 3 === 0 ? 7001 : 7000]);
              await sim.delay(millis(20));
            }
            await close(tx, rx);
          }),
          // Echo requests larger than the MTU (fragmented both ways).
          task('ping', async () => {
            const mtu = Math.min(...sc.cables.map((c) => c.mtu));
            for (const size of [56, mtu + 100, 2 * mtu + 7]) {
              if (v6) await a.ping6(bAddr, { size, timeout: 1_000_000 });
              else await a.ping(bAddr, { size, timeout: 1_000_000 });
            }
          }),
        ]),
      { timeout: seconds(300) },
    )
    .catch((e) => {
      tasks.run = code(e);
    });
  // Let retransmissions and closes drain.
  sim.runFor(seconds(10));
  const badChecksumDrops = [a, b, ...(router ? [router] : [])].reduce(
    (n, s) => n + s.tcpStats.badChecksum,
    0,
  );
  return {
    scenario: sc,
    verifier,
    bulkExact,
    tasks,
    badChecksumDrops,
    kernelCompleted: kernels.reduce((n, k) => n + k.completed, 0),
    kernelSegmented: kernels.reduce((n, k) => n + k.segmented, 0),
  };
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** One line describing a scenario, for failure messages and the campaign's log. */
export function describeScenario(sc: WireScenario): string {
  const cab = sc.cables
    .map((c) => `${c.kind}/${c.mtu} there=${JSON.stringify(c.there)} back=${JSON.stringify(c.back)}`)
    .join(' | ');
  return `seed ${sc.seed} IPv${sc.family} ${sc.routed ? 'routed' : 'pair'} ${sc.congestion} bulk=${sc.bulk} ${cab}`;
}
