/**
 * Networks and helpers for the whole-stack TCP scenarios (tcp-*.test.ts) and the
 * stream-socket tests: stacks on memory links under the virtual clock, used only
 * through the sockets API.
 *
 *   pair():   a 10.0.0.1 ── cable ── b 10.0.0.2          (impairments per direction)
 *   routed(): a 10.0.1.2 ── cable ── router ── cable ── b 10.0.2.2
 */

import type { Impairments } from '../../src/link/impair.ts';
import { Cable } from '../../src/link/memory.ts';
import { type CaptureWriter, captureDevice } from '../../src/link/pcap.ts';
import { Simulation } from '../../src/link/sim.ts';
import { SeededRng } from '../../src/rand/rng.ts';
import { AF_INET, SHUT_WR, SOCK_STREAM } from '../../src/socket/constants.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { StackStreamSocket } from '../../src/socket/stack-stream.ts';
import { Stack, type StackConfig } from '../../src/stack.ts';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import { millis } from '../../src/time/instant.ts';
import { parseIpv4 } from '../../src/wire/address.ts';
import { pseudoHeaderSumV4 } from '../../src/wire/checksum.ts';
import { ETHERTYPE_IPV4, emitEthernet } from '../../src/wire/ethernet.ts';
import { emitIpv4, IP_PROTO_TCP } from '../../src/wire/ipv4.ts';
import { emitTcp, type TcpOptions, type TcpRepr, tcpHeaderLength } from '../../src/wire/tcp.ts';

export interface PairOptions {
  seed?: number;
  mtu?: number;
  /** Impairments of a → b and b → a, applied after the addresses settled. */
  aToB?: Impairments;
  bToA?: Impairments;
  config?: StackConfig;
  /** One-way delay when no impairment sets one. Default 1 ms. */
  delay?: number;
  privileged?: boolean;
  /** Records every frame a sends and receives (its eth0). */
  captureA?: CaptureWriter;
  /** The cable's super-segments (CableOptions.gso). Default true. */
  gso?: boolean;
}

export function pair(opts: PairOptions = {}) {
  const sim = new Simulation({ seed: opts.seed ?? 1 });
  const delay = opts.delay ?? millis(1);
  const cable = sim.add(
    new Cable({
      clock: sim.clock,
      rng: sim.rng.fork(),
      mtu: opts.mtu ?? 1500,
      aToB: { delay },
      bToA: { delay },
      gso: opts.gso,
    }),
  );
  const mk = (name: string) =>
    sim.add(
      new Stack({
        clock: sim.clock,
        rng: sim.rng.fork(),
        name,
        config: opts.config,
        privileged: opts.privileged,
      }),
    );
  const a = mk('a');
  const b = mk('b');
  const devA = opts.captureA ? captureDevice(cable.a, opts.captureA, sim.clock) : cable.a;
  a.addInterface({ name: 'eth0', device: devA, addresses: ['10.0.0.1/24'] });
  b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  if (opts.aToB) cable.aToB.configure({ delay, ...opts.aToB });
  if (opts.bToA) cable.bToA.configure({ delay, ...opts.bToA });
  return { sim, cable, a, b, aAddr: '10.0.0.1', bAddr: '10.0.0.2' };
}

export interface RoutedOptions {
  seed?: number;
  /** MTU of the second subnet (router ↔ b). Default 1500. */
  mtuB?: number;
  /** MTU of the router's interface into subnet B only (the cable and b stay at mtuB): a PMTU bottleneck. */
  routerMtuB?: number;
  config?: StackConfig;
  delay?: number;
}

/** Two subnets joined by a router: a 10.0.1.2/24 ─ router ─ b 10.0.2.2/24. */
export function routed(opts: RoutedOptions = {}) {
  const sim = new Simulation({ seed: opts.seed ?? 1 });
  const delay = opts.delay ?? millis(1);
  const ca = sim.add(new Cable({ clock: sim.clock, rng: sim.rng.fork(), aToB: { delay }, bToA: { delay } }));
  const cb = sim.add(
    new Cable({
      clock: sim.clock,
      rng: sim.rng.fork(),
      mtu: opts.mtuB ?? 1500,
      aToB: { delay },
      bToA: { delay },
    }),
  );
  const mk = (name: string, forwarding = false) =>
    sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name, forwarding, config: opts.config }));
  const a = mk('a');
  const router = mk('router', true);
  const b = mk('b');
  a.addInterface({ name: 'eth0', device: ca.a, addresses: ['10.0.1.2/24'] });
  router.addInterface({ name: 'eth0', device: ca.b, addresses: ['10.0.1.1/24'] });
  router.addInterface({ name: 'eth1', device: cb.a, addresses: ['10.0.2.1/24'], mtu: opts.routerMtuB });
  b.addInterface({ name: 'eth0', device: cb.b, addresses: ['10.0.2.2/24'] });
  a.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.1.1' });
  b.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.2.1' });
  sim.runUntilIdle();
  return { sim, ca, cb, a, router, b, aAddr: '10.0.1.2', bAddr: '10.0.2.2' };
}

/** Seeded pseudo-random bytes (fast: one u32 per 4 bytes). */
export function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  new SeededRng(seed).fill(out);
  return out;
}

export async function sha256(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  let s = '';
  for (const x of d) s += x.toString(16).padStart(2, '0');
  return s;
}

/** Reads until EOF; returns every byte, concatenated. */
export async function recvAll(sock: Socket, chunk = 65536): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const d = await sock.recv(chunk);
    if (d.length === 0) break;
    parts.push(d);
    total += d.length;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Reads exactly n bytes (fails on early EOF). */
export async function recvExactly(sock: Socket, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let o = 0;
  while (o < n) {
    const d = await sock.recv(n - o);
    if (d.length === 0) throw new Error(`EOF after ${o} of ${n} bytes`);
    out.set(d, o);
    o += d.length;
  }
  return out;
}

/** The TcpConnection under a connected stack socket, found by its 4-tuple (white-box checks). */
export function connectionOf(stack: Stack, sock: Socket): TcpConnection | undefined {
  const [lh, lp] = sock.getsockname() as [string, number];
  const [rh, rp] = sock.getpeername() as [string, number];
  for (const c of stack.tcp.connections()) {
    if (
      c.local.port === lp &&
      c.remote.port === rp &&
      c.local.address.family === 4 &&
      c.remote.address.family === 4 &&
      fmt(c.local.address.v4) === lh &&
      fmt(c.remote.address.v4) === rh
    )
      return c;
  }
  return undefined;
}

function fmt(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

export { StackStreamSocket };

export interface TransferResult {
  /** Bytes b received from a, and a from b. */
  atB: Uint8Array;
  atA: Uint8Array;
  /** Virtual µs from connect() to both sides seeing EOF. */
  elapsed: number;
}

/**
 * A full-duplex transfer through the sockets API: a connects to b, both send
 * their bytes at once (sendall, then SHUT_WR) and read to EOF, then both close.
 * Runs inside `sim.run` with a virtual-time bound; hash the results outside it
 * (crypto.subtle is real asynchronous work the virtual clock cannot wait for).
 */
export async function duplexTransfer(
  net: { sim: Simulation; a: Stack; b: Stack; bAddr: string },
  fromA: Uint8Array,
  fromB: Uint8Array,
  timeout: number,
  port = 5000,
): Promise<TransferResult> {
  const { sim } = net;
  return sim.run(
    async () => {
      const srv = net.b.socket(AF_INET, SOCK_STREAM);
      await srv.bind(['0.0.0.0', port]);
      await srv.listen(8);
      const cli = net.a.socket(AF_INET, SOCK_STREAM);
      const t0 = sim.now;
      await cli.connect([net.bAddr, port]);
      const [conn] = await srv.accept();
      const sendA = cli.sendall(fromA).then(() => cli.shutdown(SHUT_WR));
      const sendB = conn.sendall(fromB).then(() => conn.shutdown(SHUT_WR));
      const [atB, atA] = await Promise.all([recvAll(conn), recvAll(cli), sendA, sendB]);
      const elapsed = sim.now - t0;
      await cli.close();
      await conn.close();
      await srv.close();
      return { atB, atA, elapsed };
    },
    { timeout },
  );
}

export interface ForgedSegment {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  /** Dotted-quad addresses. */
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  options?: TcpOptions;
  payload?: Uint8Array;
}

/** An Ethernet frame carrying a TCP segment with valid checksums (an attacker's raw packet). */
export function forgeTcpFrame(f: ForgedSegment): Uint8Array {
  const src = parseIpv4(f.src)!;
  const dst = parseIpv4(f.dst)!;
  const payload = f.payload ?? new Uint8Array(0);
  const repr: TcpRepr = {
    srcPort: f.srcPort,
    dstPort: f.dstPort,
    seq: f.seq >>> 0,
    ack: (f.ack ?? 0) >>> 0,
    flags: f.flags,
    window: f.window ?? 65535,
    urgentPointer: 0,
    options: f.options ?? {},
  };
  const tcpLen = tcpHeaderLength(repr) + payload.length;
  const frame = new Uint8Array(14 + 20 + tcpLen);
  emitEthernet({ dst: f.dstMac, src: f.srcMac, ethertype: ETHERTYPE_IPV4 }, frame);
  emitIpv4(
    {
      dscp: 0,
      ecn: 0,
      identification: 0,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: IP_PROTO_TCP,
      src,
      dst,
      options: new Uint8Array(0),
      payloadLength: tcpLen,
    },
    frame.subarray(14),
  );
  emitTcp(repr, payload, frame.subarray(34), pseudoHeaderSumV4(src, dst, IP_PROTO_TCP, tcpLen));
  return frame;
}
