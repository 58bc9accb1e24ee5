/**
 * The CLI's built-in virtual network, shared by demo, ping, nc and sim:
 *
 *   client 10.0.1.2 ── link A ── 10.0.1.1 router 10.0.2.1 ── link B ── 10.0.2.2 server
 *
 * Two subnets joined by a forwarding stack, each link a Cable with its own
 * impairments, all driven by one Simulation (virtual time, seeded randomness).
 * With `capture`, the client's interface is recorded (pcap or pcapng writer).
 * With `ipv6`, the same hosts are also on two IPv6 (ULA) prefixes:
 *
 *   client fd00:1::2 ── fd00:1::1 router fd00:2::1 ── fd00:2::2 server
 */
import type { Impairments } from '../link/impair.ts';
import { Cable } from '../link/memory.ts';
import { type CaptureWriter, captureDevice } from '../link/pcap.ts';
import { Simulation } from '../link/sim.ts';
import { Stack } from '../stack.ts';
import { millis } from '../time/instant.ts';

export const CLIENT_ADDR = '10.0.1.2';
export const SERVER_ADDR = '10.0.2.2';
export const ROUTER_A_ADDR = '10.0.1.1';
export const ROUTER_B_ADDR = '10.0.2.1';

export const CLIENT_ADDR6 = 'fd00:1::2';
export const SERVER_ADDR6 = 'fd00:2::2';
export const ROUTER_A_ADDR6 = 'fd00:1::1';
export const ROUTER_B_ADDR6 = 'fd00:2::1';

/** Names the CLI accepts in place of addresses. */
export const HOST_NAMES: Readonly<Record<string, string>> = {
  client: CLIENT_ADDR,
  server: SERVER_ADDR,
  router: ROUTER_A_ADDR,
};

/** The same names on the IPv6 network (`ipv6: true`). */
export const HOST_NAMES6: Readonly<Record<string, string>> = {
  client: CLIENT_ADDR6,
  server: SERVER_ADDR6,
  router: ROUTER_A_ADDR6,
};

export interface TopologyOptions {
  /** Seed for the simulation (and every stack's Rng). Default 1. */
  seed?: number;
  /** One-way delay of each link in µs. Default 0.5 ms, so a client–server round trip is 2 ms. */
  delay?: number;
  /** Impairments added to both directions of link A (client–router). */
  linkA?: Impairments;
  /** Impairments added to both directions of link B (router–server). */
  linkB?: Impairments;
  /** Record the client's interface. */
  capture?: CaptureWriter;
  /** Where to record: the client's or the server's interface. Default client. */
  captureAt?: 'client' | 'server';
  /** Also number the network in IPv6 (fd00:1::/64 and fd00:2::/64, static routes). Default false. */
  ipv6?: boolean;
}

export interface Topology {
  readonly sim: Simulation;
  readonly client: Stack;
  readonly router: Stack;
  readonly server: Stack;
  readonly linkA: Cable;
  readonly linkB: Cable;
}

export function buildTopology(opts: TopologyOptions = {}): Topology {
  const sim = new Simulation({ seed: opts.seed ?? 1 });
  const delay = opts.delay ?? millis(0.5);
  const linkA = sim.add(
    new Cable({
      clock: sim.clock,
      rng: sim.rng.fork(),
      names: ['client.eth0', 'router.eth0'],
      aToB: { delay, ...opts.linkA },
      bToA: { delay, ...opts.linkA },
    }),
  );
  const linkB = sim.add(
    new Cable({
      clock: sim.clock,
      rng: sim.rng.fork(),
      names: ['router.eth1', 'server.eth0'],
      aToB: { delay, ...opts.linkB },
      bToA: { delay, ...opts.linkB },
    }),
  );
  const stack = (name: string, forwarding = false) =>
    sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name, forwarding }));
  const client = stack('client');
  const router = stack('router', true);
  const server = stack('server');
  const at = opts.captureAt ?? 'client';
  const clientDev =
    opts.capture && at === 'client' ? captureDevice(linkA.a, opts.capture, sim.clock) : linkA.a;
  const serverDev =
    opts.capture && at === 'server' ? captureDevice(linkB.b, opts.capture, sim.clock) : linkB.b;
  client.addInterface({ name: 'eth0', device: clientDev, addresses: [`${CLIENT_ADDR}/24`] });
  client.addRoute({ destination: '0.0.0.0/0', gateway: ROUTER_A_ADDR });
  router.addInterface({ name: 'eth0', device: linkA.b, addresses: [`${ROUTER_A_ADDR}/24`] });
  router.addInterface({ name: 'eth1', device: linkB.a, addresses: [`${ROUTER_B_ADDR}/24`] });
  server.addInterface({ name: 'eth0', device: serverDev, addresses: [`${SERVER_ADDR}/24`] });
  server.addRoute({ destination: '0.0.0.0/0', gateway: ROUTER_B_ADDR });
  if (opts.ipv6) {
    client.addAddress('eth0', `${CLIENT_ADDR6}/64`);
    client.addRoute({ destination: '::/0', gateway: ROUTER_A_ADDR6 });
    router.addAddress('eth0', `${ROUTER_A_ADDR6}/64`);
    router.addAddress('eth1', `${ROUTER_B_ADDR6}/64`);
    server.addAddress('eth0', `${SERVER_ADDR6}/64`);
    server.addRoute({ destination: '::/0', gateway: ROUTER_B_ADDR6 });
  }
  // Let the gratuitous ARPs (and IPv6's duplicate address detection) go out and settle.
  sim.runUntilIdle();
  return { sim, client, router, server, linkA, linkB };
}
