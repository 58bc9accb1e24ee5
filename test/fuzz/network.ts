/**
 * The live network the fuzzer attacks, and its census (issue #17).
 *
 *   a 10.0.1.2 ── cable ca ── router (10.0.1.1 | 10.0.2.1, eth1 MTU 1280) ── cable cb ── b 10.0.2.2
 *
 * Four input paths: a's eth0, the router's eth0 and eth1, b's eth0. Frames are injected
 * where a cable delivers them (`CableEnd.receive`), so they take the stack's real path:
 * receive queue, poll, Ethernet, ARP or IPv4, reassembly, forwarding, ICMP, UDP, TCP.
 *
 * Services: a TCP listener on b:5000 and on a:5001, a UDP socket on b:5353 and on a:7007, and
 * two live connections (a → b:5000 and b → a:5001) that must still move data byte-exact
 * after a campaign. `census()` counts what the stacks hold (connections, SYN and accept
 * queues, TCP memory, reassembly, neighbour entries, UDP queues, timers) so a
 * campaign can check that everything went back to its baseline.
 */

import type { CableEnd } from '../../src/link/memory.ts';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import type { Socket } from '../../src/socket/socket.ts';
import type { Stack } from '../../src/stack.ts';
import { tcpConfigFor } from '../../src/tcp/config.ts';
import type { TcpProfileName } from '../../src/tcp/profile.ts';
import { seconds } from '../../src/time/instant.ts';
import { randomBytes, recvExactly, routed } from '../scenarios/tcp-net.ts';

export interface InputPoint {
  readonly name: 'a' | 'r0' | 'r1' | 'b';
  readonly stack: Stack;
  /** The cable end whose `receive` hands frames to this interface. */
  readonly end: CableEnd;
  readonly mac: Uint8Array;
  /** The interface's address (host byte order). */
  readonly ip: number;
}

export const POINT_NAMES = ['a', 'r0', 'r1', 'b'] as const;

/** The fuzz network; every stack's TCP behaves as `profile` (src/tcp/profile.ts). */
export function buildNetwork(seed: number, profile: TcpProfileName = 'linux') {
  const config = profile === 'linux' ? undefined : { tcp: tcpConfigFor(profile) };
  const net = routed({ seed, routerMtuB: 1280, config });
  const { a, b, router, ca, cb } = net;
  const mac = (s: Stack, ifname = 'eth0') => {
    const i = s.ip.getInterface(ifname);
    if (i === undefined) throw new Error(`no ${ifname} on ${s.name}`);
    return i.mac;
  };
  const points: InputPoint[] = [
    { name: 'a', stack: a, end: ca.a, mac: mac(a), ip: 0x0a000102 },
    { name: 'r0', stack: router, end: ca.b, mac: mac(router), ip: 0x0a000101 },
    { name: 'r1', stack: router, end: cb.a, mac: mac(router, 'eth1'), ip: 0x0a000201 },
    { name: 'b', stack: b, end: cb.b, mac: mac(b), ip: 0x0a000202 },
  ];
  return { ...net, points, stacks: [a, router, b] as const };
}

export type FuzzNet = ReturnType<typeof buildNetwork>;

/** The long-lived sockets of a live network. */
export interface Services {
  srvB: Socket;
  srvA: Socket;
  udpB: Socket;
  udpA: Socket;
  /** a → b:5000 (client at a, accepted at b) and b → a:5001. */
  live: { client: Socket; server: Socket }[];
  /** Local ports of the live connections' clients (for retargeting mutations). */
  ports: { tcp: number[]; udp: number[] };
}

export async function startServices(net: FuzzNet): Promise<Services> {
  const { a, b, sim } = net;
  return sim.run(
    async () => {
      const srvB = b.socket(AF_INET, SOCK_STREAM);
      await srvB.bind(['0.0.0.0', 5000]);
      await srvB.listen(16);
      const srvA = a.socket(AF_INET, SOCK_STREAM);
      await srvA.bind(['0.0.0.0', 5001]);
      await srvA.listen(16);
      const udpB = b.socket(AF_INET, SOCK_DGRAM);
      await udpB.bind(['0.0.0.0', 5353]);
      const udpA = a.socket(AF_INET, SOCK_DGRAM);
      await udpA.bind(['0.0.0.0', 7007]);
      const c1 = a.socket(AF_INET, SOCK_STREAM);
      await c1.connect(['10.0.2.2', 5000]);
      const [s1] = await srvB.accept();
      const c2 = b.socket(AF_INET, SOCK_STREAM);
      await c2.connect(['10.0.1.2', 5001]);
      const [s2] = await srvA.accept();
      const live = [
        { client: c1, server: s1 },
        { client: c2, server: s2 },
      ];
      const ports = {
        tcp: [
          5000,
          5001,
          (c1.getsockname() as [string, number])[1],
          (c2.getsockname() as [string, number])[1],
        ],
        udp: [5353, 7007],
      };
      return { srvB, srvA, udpB, udpA, live, ports };
    },
    { timeout: seconds(30) },
  );
}

/** What the stacks hold, by structure. */
export interface Census {
  conns: number;
  synQueue: number;
  acceptQueue: number;
  tcpMemory: number;
  reassemblyBytes: number;
  neighbors: number;
  udpQueued: number;
  udpQueueBytes: number;
  rxPending: number;
  timers: number;
}

export function census(net: FuzzNet): Census {
  const c: Census = {
    conns: 0,
    synQueue: 0,
    acceptQueue: 0,
    tcpMemory: 0,
    reassemblyBytes: 0,
    neighbors: 0,
    udpQueued: 0,
    udpQueueBytes: 0,
    rxPending: 0,
    timers: 0,
  };
  for (const s of net.stacks) {
    c.conns += s.tcp.connectionCount;
    for (const l of s.tcp.listeners()) {
      c.synQueue += l.synQueueLength;
      c.acceptQueue += l.acceptQueueLength;
    }
    c.tcpMemory += s.tcp.memory.inUse;
    c.reassemblyBytes += s.ip.reassembler.bytes;
    for (const i of s.interfaces) c.neighbors += i.arp?.size ?? 0;
    for (const ep of s.udp.endpoints()) {
      c.udpQueued += ep.queue.length;
      c.udpQueueBytes += ep.queueBytes;
    }
    c.rxPending += s.ip.table.pending;
    c.timers += s.timers.size;
  }
  return c;
}

/** The census fields that must come back exactly to the baseline (timers are bounded instead). */
export const EXACT: readonly (keyof Census)[] = [
  'conns',
  'synQueue',
  'acceptQueue',
  'tcpMemory',
  'reassemblyBytes',
  'neighbors',
  'udpQueued',
  'udpQueueBytes',
  'rxPending',
];

/** Fields of `now` that differ from `base` (timers: more than 2048 above it). */
export function censusDiff(base: Census, now: Census): string[] {
  const out: string[] = [];
  for (const k of EXACT) if (now[k] !== base[k]) out.push(`${k} ${base[k]} -> ${now[k]}`);
  if (now.timers > base.timers + 2048) out.push(`timers ${base.timers} -> ${now.timers}`);
  return out;
}

/** Reads every datagram waiting on the UDP sockets (fuzzed datagrams are legitimately queued). */
export function drainUdp(net: FuzzNet): number {
  let n = 0;
  for (const s of net.stacks)
    for (const ep of s.udp.endpoints()) {
      while (ep.queue.length > 0 && n < 1_000_000) {
        try {
          ep.recv();
        } catch {
          // A pending ICMP error is reported (once) before the next datagram.
        }
        n++;
      }
    }
  return n;
}

/**
 * Liveness after a campaign: both live connections move `size` bytes each way byte-exact,
 * a new connection each way does too, and a UDP datagram crosses the router. Throws with
 * what failed.
 */
export async function checkLiveness(net: FuzzNet, svc: Services, round: number, size = 32 * 1024) {
  const { sim, a, b } = net;
  await sim.run(
    async () => {
      const check = async (from: Socket, to: Socket, seed: number) => {
        const data = randomBytes(size, seed);
        const [, got] = await Promise.all([from.sendall(data), recvExactly(to, size)]);
        for (let i = 0; i < size; i++)
          if (got[i] !== data[i]) throw new Error(`liveness: byte ${i} differs (round ${round})`);
      };
      let k = round * 16;
      for (const { client, server } of svc.live) {
        await check(client, server, k++);
        await check(server, client, k++);
      }
      // New connections, both ways.
      const fresh: [Stack, string, number, Socket][] = [
        [a, '10.0.2.2', 5000, svc.srvB],
        [b, '10.0.1.2', 5001, svc.srvA],
      ];
      for (const [from, addr, port, srv] of fresh) {
        const c = from.socket(AF_INET, SOCK_STREAM);
        await c.connect([addr, port]);
        const [s] = await srv.accept();
        await check(c, s, k++);
        await check(s, c, k++);
        await c.close();
        await s.close();
      }
      // A datagram across the router (b → a:7007), read back exactly.
      const u = b.socket(AF_INET, SOCK_DGRAM);
      const dg = randomBytes(900, k++);
      await u.sendto(dg, ['10.0.1.2', 7007]);
      const [got] = await svc.udpA.recvfrom(2048);
      await u.close();
      if (got.length !== dg.length || got.some((x, i) => x !== dg[i]))
        throw new Error('liveness: UDP datagram differs');
    },
    { timeout: seconds(300) },
  );
}
