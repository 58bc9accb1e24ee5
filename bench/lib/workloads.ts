/**
 * The memory-network workloads of bench/tcp.ts (bulk, rr, crr), written against a set of
 * the stack's modules passed in, so one process can run them over two source trees
 * (scripts/bench-ab.ts) as well as over this one (bench/tcp.ts).
 */
import type { Cable as CableT } from '../../src/link/memory.ts';
import type { Simulation as SimulationT } from '../../src/link/sim.ts';
import type { Stack as StackT } from '../../src/stack.ts';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import type { TcpListener } from '../../src/tcp/listen.ts';
import type { IpAddress } from '../../src/wire/address.ts';

/** The modules the workloads use (as `import * as` of each file gives them). */
export interface StackModules {
  Cable: typeof CableT;
  Simulation: typeof SimulationT;
  Stack: typeof StackT;
  micros(n: number): number;
  millis(n: number): number;
}

/** Loads StackModules from the source tree at `root` (a directory holding src/). */
export async function loadStackModules(root: string): Promise<StackModules> {
  const base = root.endsWith('/') ? root : `${root}/`;
  const [memory, sim, stack, instant] = await Promise.all([
    import(`${base}src/link/memory.ts`),
    import(`${base}src/link/sim.ts`),
    import(`${base}src/stack.ts`),
    import(`${base}src/time/instant.ts`),
  ]);
  return {
    Cable: memory.Cable,
    Simulation: sim.Simulation,
    Stack: stack.Stack,
    micros: instant.micros,
    millis: instant.millis,
  };
}

export interface Workloads {
  /** `frames`: frames the sender's end put on the cable (fewer than `segs` with super-segments). */
  bulk(mtu: number, bytes: number): { MBps: number; wallS: number; segs: number; frames: number };
  rr(mtu: number, transactions: number): { tps: number; wallS: number };
  crr(mtu: number, conns: number): { cps: number; wallS: number };
}

export interface WorkloadOptions {
  /**
   * The cable's checksum offload (Device.txChecksumOffload / rxChecksumValid). Default
   * false: every checksum computed and verified, as on a real wire (and as trees from
   * before offload did, so bench-ab compares like with like).
   */
  checksumOffload?: boolean;
  /** Bulk's receiver reads into one buffer it reuses (readInto) instead of read()'s fresh arrays. */
  readInto?: boolean;
  /**
   * Super-segments (CableOptions.gso, Device.gsoMaxSize: TCP sends up to 64 KiB under one
   * header when checksums are offloaded). Default false, so trees from before it compare alike.
   */
  gso?: boolean;
}

/** The workloads over `m`, timed with `clock` (milliseconds). */
export function tcpWorkloads(m: StackModules, clock: () => number, opts: WorkloadOptions = {}): Workloads {
  const checksumOffload = opts.checksumOffload ?? false;
  const gso = opts.gso ?? false;
  const readInto = opts.readInto ?? false;
  const sink = new Uint8Array(readInto ? 1 << 20 : 0);
  const { Cable, Simulation, Stack, micros, millis } = m;
  const B: IpAddress = { family: 4, v4: 0x0a000002 };

  function net(mtu: number, msl?: number) {
    const sim = new Simulation({ seed: 1 });
    const delay = micros(10);
    const cable = sim.add(
      new Cable({
        clock: sim.clock,
        rng: sim.rng.fork(),
        mtu,
        aToB: { delay },
        bToA: { delay },
        checksumOffload,
        gso,
      }),
    );
    const tcp = {
      // Large buffers so the window is not the limit on a 20 µs virtual RTT.
      sndBuf: 4 << 20,
      rcvBuf: 4 << 20,
      ...(msl !== undefined ? { msl } : {}),
    };
    const a = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'a', config: { tcp } }));
    const b = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'b', config: { tcp } }));
    a.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
    b.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
    sim.runUntilIdle();
    return { sim, a, b, cable };
  }

  /** Drives the sim until `done()` or no more events. */
  function drive(sim: SimulationT, done: () => boolean): void {
    while (!done()) {
      const r = sim.runUntil(sim.now + millis(1), { maxSteps: 1_000_000_000 });
      if (r.idle && !done()) throw new Error('bench: simulation went idle before the task finished');
    }
  }

  function accepted(l: TcpListener): TcpConnection {
    const c = l.accept();
    if (!c) throw new Error('nothing to accept');
    return c;
  }

  // ---------------------------------------------------------------- bulk

  function bulk(mtu: number, bytes: number): { MBps: number; wallS: number; segs: number; frames: number } {
    const { sim, a, b, cable } = net(mtu);
    const l = b.tcp.listen({ port: 5001, backlog: 4 });
    const c = a.tcp.connect({ remote: B, remotePort: 5001 });
    sim.runFor(millis(5));
    const s = accepted(l);
    const chunk = new Uint8Array(64 * 1024);
    let sent = 0;
    let got = 0;
    const pump = () => {
      while (sent < bytes) {
        const n = c.write(sent + chunk.length <= bytes ? chunk : chunk.subarray(0, bytes - sent));
        sent += n;
        if (n < chunk.length) return;
      }
    };
    c.events = { onWritable: pump };
    s.events = {
      onReadable: readInto
        ? () => {
            for (;;) {
              const n = s.readInto(sink);
              if (n === null) break;
              got += n;
            }
          }
        : () => {
            for (;;) {
              const d = s.read(1 << 20);
              if (d === null) break;
              got += d.length;
            }
          },
    };
    const seg0 = a.tcp.stats.segmentsOut;
    const frames0 = cable.aToB.stats.sent;
    const t0 = clock();
    pump();
    drive(sim, () => got >= bytes);
    const wallS = (clock() - t0) / 1000;
    return {
      MBps: bytes / wallS / 1e6,
      wallS,
      segs: a.tcp.stats.segmentsOut - seg0,
      frames: cable.aToB.stats.sent - frames0,
    };
  }

  // ---------------------------------------------------------------- rr

  function rr(mtu: number, transactions: number): { tps: number; wallS: number } {
    const { sim, a, b } = net(mtu);
    const l = b.tcp.listen({ port: 5002, backlog: 4, options: { noDelay: true } });
    const c = a.tcp.connect({ remote: B, remotePort: 5002, options: { noDelay: true } });
    sim.runFor(millis(5));
    const s = accepted(l);
    const one = new Uint8Array([1]);
    let n = 0;
    s.events = {
      onReadable: () => {
        while (s.read(64) !== null) s.write(one);
      },
    };
    c.events = {
      onReadable: () => {
        while (c.read(64) !== null) {
          n++;
          if (n < transactions) c.write(one);
        }
      },
    };
    const t0 = clock();
    c.write(one);
    drive(sim, () => n >= transactions);
    const wallS = (clock() - t0) / 1000;
    return { tps: transactions / wallS, wallS };
  }

  // ---------------------------------------------------------------- crr

  function crr(mtu: number, conns: number): { cps: number; wallS: number } {
    const { sim, a, b } = net(mtu, millis(1));
    const l = b.tcp.listen({ port: 5003, backlog: 128, options: { noDelay: true } });
    const one = new Uint8Array([1]);
    let done = 0;
    l.onAcceptable = () => {
      for (;;) {
        const s = l.accept();
        if (!s) break;
        const echo = () => {
          for (;;) {
            const d = s.read(64);
            if (d === null) break;
            s.write(d);
          }
          if (s.eof) s.close();
        };
        s.events = { onReadable: echo, onEnd: echo };
        echo();
      }
    };
    const next = () => {
      const c = a.tcp.connect({ remote: B, remotePort: 5003, options: { noDelay: true } });
      c.events = {
        onEstablished: () => c.write(one),
        onReadable: () => {
          if (c.read(64) === null) return;
          // close() detaches the events (the FIN exchange finishes unattended, then TIME-WAIT).
          c.close();
          done++;
          if (done < conns) next();
        },
      };
    };
    const t0 = clock();
    next();
    drive(sim, () => done >= conns);
    const wallS = (clock() - t0) / 1000;
    return { cps: conns / wallS, wallS };
  }
  return { bulk, rr, crr };
}
