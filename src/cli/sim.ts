/** `sockstack sim [SCENARIO.json]`: TCP transfers on a simulated network, with numbers and plots. */

import type { LinkType } from '../link/device.ts';
import type { CaptureWriter, Direction } from '../link/pcap.ts';
import { type CwndSample, cwndChart, sampleFromInfo } from '../plot/cwnd.ts';
import { tcpSeries, timeSequenceGraph } from '../plot/tcp-graph.ts';
import type { TcpInfo } from '../tcp/info.ts';
import type { TraceFrame } from '../trace/frames.ts';
import {
  type CliIo,
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  num,
  oneOf,
  type Parsed,
  str,
  UsageError,
} from './command.ts';
import { formatBytes, Progress } from './progress.ts';
import type { Scenario } from './scenario.ts';

export const command: Command = {
  spec: {
    name: 'sim',
    summary: 'simulate TCP transfers under loss, delay and bandwidth limits (scenario files, plots)',
    usage: ['[options] [SCENARIO.json | NAME]'],
    description:
      'Runs the TCP transfers of a scenario file in virtual time on the network it\n' +
      'describes (hosts, cables and switches with impairments, routes), sampling each\n' +
      "sender's connection (cwnd, ssthresh, smoothed RTT) about once per RTT, and prints\n" +
      'per transfer: goodput, retransmissions, RTT and completion time. Same seed, same run.\n\n' +
      'NAME is one of the shipped examples (examples/scenarios/NAME.json): clean-lan,\n' +
      'lossy-wan, bottleneck. Without a scenario, one transfer client → router → server\n' +
      'is built from --bytes, --loss, --delay, --bandwidth, --queue and --cc (the\n' +
      'bottleneck is the router → server link).\n\n' +
      'With --svg-dir, writes per transfer a time–sequence graph of the sender-side\n' +
      'capture (retransmissions in red) and a cwnd/RTT chart. With --pcap, writes what\n' +
      "the senders' interfaces saw.\n\n" +
      'Scenario format: see examples/scenarios/*.json and src/cli/scenario.ts.',
    options: {
      bytes: { type: 'string', short: 'n', value: 'N', description: 'bytes to transfer', default: '1000000' },
      loss: { type: 'string', value: 'PERCENT', description: 'random loss on the bottleneck', default: '0' },
      delay: { type: 'string', value: 'MS', description: 'one-way delay of the bottleneck', default: '10' },
      bandwidth: { type: 'string', value: 'MBIT', description: 'bottleneck rate in Mbit/s', default: '10' },
      queue: { type: 'string', value: 'PACKETS', description: 'bottleneck queue length', default: '100' },
      cc: {
        type: 'string',
        value: 'ALGO',
        description: 'congestion control: newreno | cubic',
        default: 'cubic',
      },
      seed: { type: 'string', value: 'N', description: 'random seed (overrides the scenario’s)' },
      pcap: {
        type: 'string',
        short: 'w',
        value: 'FILE',
        description: "write the senders' packets to a pcapng file",
      },
      'svg-dir': {
        type: 'string',
        value: 'DIR',
        description: 'write time–sequence and cwnd/RTT SVGs for each transfer here',
      },
    },
    positionals: { min: 0, max: 1, names: 'SCENARIO' },
    examples: [
      'sockstack sim lossy-wan --svg-dir plots',
      'sockstack sim examples/scenarios/bottleneck.json --pcap bottleneck.pcapng',
      'sockstack sim --bytes 5000000 --loss 1 --delay 20 --svg-dir plots',
    ],
  },
  run: runSim,
};

interface TransferResult {
  readonly index: number;
  readonly label: string;
  readonly bytes: number;
  received: number;
  start: number;
  connected: number | undefined;
  completed: number | undefined;
  clientPort: number | undefined;
  serverPort: number;
  info: TcpInfo | undefined;
  samples: CwndSample[];
  error: string | undefined;
  cc: string;
}

/** Collects frames per host (for plots) and forwards them to an optional file writer. */
class Collector implements CaptureWriter {
  readonly frames = new Map<string, TraceFrame[]>();
  readonly #hostOf: string[] = [];
  readonly #file: CaptureWriter | undefined;
  constructor(file: CaptureWriter | undefined) {
    this.#file = file;
  }
  interfaceFor(name: string, linkType: LinkType): number {
    const i = this.#file ? this.#file.interfaceFor(name, linkType) : this.#hostOf.length;
    this.#hostOf[i] = name.split('.')[0];
    return i;
  }
  writePacket(time: number, data: Uint8Array, iface = 0, direction?: Direction): void {
    this.#file?.writePacket(time, data, iface, direction);
    const host = this.#hostOf[iface] ?? '?';
    let list = this.frames.get(host);
    if (!list) this.frames.set(host, (list = []));
    list.push({ time, data: data.slice(), linkType: 'ethernet' });
  }
}

export async function loadScenario(arg: string): Promise<Scenario> {
  const { readFileSync, readdirSync, existsSync } = await import('node:fs');
  const { parseScenario, ScenarioError } = await import('./scenario.ts');
  let path = arg;
  if (!existsSync(path) && /^[\w-]+$/.test(arg)) {
    // The shipped scenarios (package.json's "files" includes examples/scenarios).
    const dir = new URL('../../examples/scenarios/', import.meta.url);
    const shipped = new URL(`${arg}.json`, dir);
    if (existsSync(shipped)) path = shipped.pathname;
    else {
      let names: string[] = [];
      try {
        names = readdirSync(dir)
          .filter((f) => f.endsWith('.json'))
          .map((f) => f.slice(0, -5))
          .sort();
      } catch {
        // no shipped scenarios beside this build
      }
      throw new ScenarioError(
        `no scenario file or shipped scenario named '${arg}' (shipped: ${names.join(', ') || 'none'})`,
      );
    }
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScenarioError(
      `cannot read ${arg}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(`${arg}: not JSON: ${(e as Error).message}`);
  }
  const base =
    path
      .split('/')
      .pop()
      ?.replace(/\.json$/, '') ?? 'scenario';
  return parseScenario(json, base);
}

function mbit(bytes: number, us: number): string {
  return us > 0 ? `${((bytes * 8) / us).toFixed(2)} Mbit/s` : '-';
}

const ms = (us: number) => `${(us / 1000).toFixed(1)} ms`;

async function runSim(p: Parsed, io: CliIo): Promise<number> {
  const { ScenarioError, buildScenario, defaultScenario } = await import('./scenario.ts');
  let sc: Scenario;
  try {
    if (p.positionals[0] !== undefined) sc = await loadScenario(p.positionals[0]);
    else
      sc = defaultScenario({
        bytes: num(p, 'bytes', 1_000_000, { min: 1, max: 4e9, integer: true }),
        lossPct: num(p, 'loss', 0, { min: 0, max: 50 }),
        delayMs: num(p, 'delay', 10, { min: 0 }),
        bandwidthMbit: num(p, 'bandwidth', 10, { min: 0.001 }),
        queuePackets: num(p, 'queue', 100, { min: 1, integer: true }),
        cc: oneOf(p, 'cc', ['newreno', 'cubic'] as const, 'cubic'),
        seed: 1,
      });
  } catch (e) {
    if (e instanceof ScenarioError) {
      io.err(`sockstack sim: ${e.message}`);
      return EXIT_FAILURE;
    }
    throw e;
  }
  if (str(p, 'seed') !== undefined) sc = { ...sc, seed: num(p, 'seed', 1, { integer: true }) };
  const pcapPath = str(p, 'pcap');
  const svgDir = str(p, 'svg-dir');
  if (svgDir !== undefined && svgDir.trim() === '') throw new UsageError('--svg-dir: empty');

  let file: { close(): void } | undefined;
  let fileWriter: CaptureWriter | undefined;
  if (pcapPath !== undefined) {
    const { openPcapngFile } = await import('../node/pcap-file.ts');
    try {
      const o = openPcapngFile(pcapPath, { application: 'sockstack sim' });
      file = o.file;
      fileWriter = o.writer;
    } catch (e) {
      io.err(`sockstack sim: cannot write ${pcapPath}: ${(e as Error).message}`);
      return EXIT_FAILURE;
    }
  }
  const collector = new Collector(fileWriter);
  const senders = new Set(sc.transfers.map((t) => t.from));
  const net = buildScenario(sc, { writer: collector, capture: senders });
  const { sim, hosts, addressOf } = net;
  const { connectionOf } = await import('../trace/session.ts');
  const { AF_INET, SOCK_STREAM } = await import('../socket/constants.ts');

  io.out(`scenario ${sc.name}${sc.description ? `: ${sc.description}` : ''} (seed ${sc.seed})`);
  const t0 = sim.now;
  const total = sc.transfers.reduce((n, t) => n + t.bytes, 0);
  const progress = new Progress({
    total,
    label: 'received',
    write: io.progress,
    isTTY: io.stderrIsTTY,
    ...(io.columns ? { columns: io.columns } : {}),
  });
  const results: TransferResult[] = sc.transfers.map((t, i) => ({
    index: i,
    label: t.name ?? `${t.from} → ${t.to}`,
    bytes: t.bytes,
    received: 0,
    start: t0 + Math.round((t.startMs ?? 0) * 1000),
    connected: undefined,
    completed: undefined,
    clientPort: undefined,
    serverPort: t.port ?? 5001 + i,
    info: undefined,
    samples: [],
    error: undefined,
    cc: t.cc ?? (hosts.get(t.from)?.tcp.config.congestion as string),
  }));
  const active = new Map<number, () => TcpInfo | undefined>();

  const transfer = async (i: number): Promise<void> => {
    const t = sc.transfers[i];
    const r = results[i];
    const from = hosts.get(t.from);
    const to = hosts.get(t.to);
    const dst = addressOf.get(t.to);
    if (!from || !to || !dst) throw new Error(`transfer ${i + 1}: host without an address`);
    const srv = to.socket(AF_INET, SOCK_STREAM);
    await srv.bind(['', r.serverPort]);
    await srv.listen(1);
    const receiving = (async () => {
      const [conn] = await srv.accept();
      for (;;) {
        const d = await conn.recv(65536);
        if (d.length === 0) break;
        r.received += d.length;
        progress.add(d.length);
      }
      r.completed = sim.now;
      await conn.close();
      await srv.close();
    })();
    if (r.start > sim.now) await sim.delay(r.start - sim.now);
    const c = from.socket(AF_INET, SOCK_STREAM);
    if (t.cc) (from.tcp.config as { congestion: string }).congestion = t.cc;
    await c.connect([dst, r.serverPort]);
    r.connected = sim.now;
    const conn = connectionOf(from, c);
    r.clientPort = (c.getsockname() as [string, number])[1];
    if (conn) active.set(i, () => conn.info());
    const chunk = new Uint8Array(65536);
    for (let k = 0; k < chunk.length; k++) chunk[k] = (k * 7 + i) & 0xff;
    let sent = 0;
    while (sent < t.bytes) {
      const n = Math.min(chunk.length, t.bytes - sent);
      await c.sendall(n === chunk.length ? chunk : chunk.subarray(0, n));
      sent += n;
    }
    await c.close();
    await receiving;
    r.info = conn?.info() ?? r.info;
    active.delete(i);
  };

  // Sample every active sender about once per smoothed RTT (10 ms before the first sample).
  const sampler = () => {
    let next = 10_000;
    for (const [i, get] of active) {
      const info = get();
      if (!info) continue;
      const r = results[i];
      r.info = info;
      r.samples.push(sampleFromInfo(sim.now - r.start, info));
      if (info.rtt !== undefined) next = Math.min(next, info.rtt);
    }
    if (pending > 0) sim.timers.timer(sampler).set(sim.now + Math.max(1000, Math.min(next, 200_000)));
  };
  let pending = results.length;
  sim.timers.timer(sampler).set(sim.now);

  let failure: string | undefined;
  const wall = performance.now();
  try {
    await sim.run(
      Promise.all(
        results.map((_, i) =>
          transfer(i)
            .catch((e: unknown) => {
              results[i].error = (e as Error).message;
            })
            .finally(() => {
              pending--;
            }),
        ),
      ),
      { timeout: Math.round(sc.timeLimit * 1e6) },
    );
  } catch (e) {
    failure = (e as Error).message;
  }
  progress.finish();
  file?.close();
  const wallMs = performance.now() - wall;

  io.out('');
  let ok = failure === undefined;
  for (const r of results) {
    const rtts = r.samples.map((s) => s.srtt).filter((x): x is number => x !== undefined);
    io.out(`transfer ${r.index + 1}: ${r.label}, ${formatBytes(r.bytes)} (${r.bytes} bytes), ${r.cc}`);
    if (r.completed === undefined) {
      ok = false;
      io.out(
        `  did not complete: ${r.received} of ${r.bytes} bytes received${r.error ? ` (${r.error})` : ''}`,
      );
    } else {
      const took = r.completed - r.start;
      io.out(
        `  completed at ${((r.completed - t0) / 1e6).toFixed(3)} s, took ${(took / 1e6).toFixed(3)} s, goodput ${mbit(r.bytes, took)}`,
      );
    }
    const i = r.info;
    if (i) {
      io.out(
        `  retransmissions ${i.totalRetrans} segments, RTT ${i.rtt !== undefined ? ms(i.rtt) : '-'} smoothed${rtts.length ? ` (sampled ${ms(Math.min(...rtts))} – ${ms(Math.max(...rtts))})` : ''}, final cwnd ${formatBytes(i.cwnd)}, mss ${i.mss}`,
      );
    }
  }
  io.out('');
  io.out(
    `virtual time ${((sim.now - t0) / 1e6).toFixed(3)} s in ${(wallMs / 1000).toFixed(2)} s of wall time`,
  );

  if (svgDir !== undefined) {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    mkdirSync(svgDir, { recursive: true });
    const slug = sc.name.replace(/[^\w-]+/g, '-').toLowerCase();
    for (const r of results) {
      const t = sc.transfers[r.index];
      const n = r.index + 1;
      const frames = collector.frames.get(t.from) ?? [];
      const probe = tcpSeries(frames);
      const conv = probe?.conversations.findIndex(
        (c) =>
          (c.a.port === r.clientPort && c.b.port === r.serverPort) ||
          (c.b.port === r.clientPort && c.a.port === r.serverPort),
      );
      if (probe && conv !== undefined && conv >= 0) {
        const cv = probe.conversations[conv];
        const series = tcpSeries(frames, {
          stream: conv,
          direction: cv.a.port === r.clientPort ? 'a2b' : 'b2a',
        });
        if (series) {
          const f = join(svgDir, `${slug}-${n}-seq.svg`);
          writeFileSync(
            f,
            timeSequenceGraph(series, { title: `${sc.name}: transfer ${n} (${r.label}), time–sequence` }),
          );
          io.out(`wrote ${f}`);
        }
      }
      if (r.samples.length > 0) {
        const f = join(svgDir, `${slug}-${n}-cwnd.svg`);
        writeFileSync(
          f,
          cwndChart(r.samples, {
            title: `${sc.name}: transfer ${n} (${r.label}), cwnd and RTT`,
            mss: r.info?.mss,
          }),
        );
        io.out(`wrote ${f}`);
      }
    }
  }
  if (pcapPath !== undefined) io.out(`wrote ${pcapPath}`);
  if (failure !== undefined) io.err(`sockstack sim: ${failure}`);
  return ok ? EXIT_OK : EXIT_FAILURE;
}
