/**
 * Scenario files for `sockstack sim`: a network (hosts, cables and switches with
 * impairments, routes) and TCP transfers to run on it under the Simulation driver.
 *
 *   {
 *     "name": "lossy WAN",
 *     "seed": 1,
 *     "hosts": [
 *       { "name": "client", "routes": [{ "to": "0.0.0.0/0", "via": "10.0.1.1" }] },
 *       { "name": "router", "forwarding": true },
 *       { "name": "server", "routes": [{ "to": "0.0.0.0/0", "via": "10.0.2.1" }] }
 *     ],
 *     "links": [
 *       { "type": "cable", "ends": [{ "host": "client", "address": "10.0.1.2/24" },
 *                                   { "host": "router", "address": "10.0.1.1/24" }] },
 *       { "type": "cable", "ends": [...], "impairments": { "delayMs": 20, "loss": 0.02 } },
 *       { "type": "switch", "ports": [{ "host": "a", "address": "10.0.3.2/24", "impairments": {...} }] }
 *     ],
 *     "transfers": [{ "from": "client", "to": "server", "bytes": 1000000, "startMs": 0 }]
 *   }
 *
 * Impairments (per cable, both directions; or `aToB` / `bToA` for one direction,
 * a = the first end): delayMs, jitterMs, loss (probability 0–1), duplicate,
 * corrupt, bandwidthMbit, queueBytes or queuePackets (of 1514 bytes), mtu.
 * This module is pure: parsing and validation, then `buildScenario` on a Simulation.
 */
import type { Device } from '../link/device.ts';
import type { Impairments } from '../link/impair.ts';
import { Cable } from '../link/memory.ts';
import { type CaptureWriter, captureDevice } from '../link/pcap.ts';
import { Simulation } from '../link/sim.ts';
import { Switch } from '../link/switch.ts';
import { Stack } from '../stack.ts';
import { parseIpv4 } from '../wire/address.ts';

export interface ImpairmentSpec {
  delayMs?: number;
  jitterMs?: number;
  loss?: number;
  duplicate?: number;
  corrupt?: number;
  bandwidthMbit?: number;
  queueBytes?: number;
  queuePackets?: number;
  mtu?: number;
}

export interface EndSpec {
  host: string;
  /** CIDR, e.g. "10.0.1.2/24". */
  address: string;
  impairments?: ImpairmentSpec;
}

export interface CableSpec {
  type: 'cable';
  name?: string;
  mtu?: number;
  ends: [EndSpec, EndSpec];
  impairments?: ImpairmentSpec;
  aToB?: ImpairmentSpec;
  bToA?: ImpairmentSpec;
}

export interface SwitchSpec {
  type: 'switch';
  name?: string;
  mtu?: number;
  ports: EndSpec[];
}

export type LinkSpec = CableSpec | SwitchSpec;

export interface HostSpec {
  name: string;
  forwarding?: boolean;
  routes?: { to: string; via?: string }[];
}

export interface TransferSpec {
  from: string;
  to: string;
  bytes: number;
  /** Start time, ms of virtual time. Default 0. */
  startMs?: number;
  /** Server port. Default 5001 + index. */
  port?: number;
  /** Congestion control of the sender. Default the stack's (cubic). */
  cc?: 'newreno' | 'cubic';
  name?: string;
}

export interface Scenario {
  name: string;
  description?: string;
  seed: number;
  /** Give up after this much virtual time, seconds. Default 600. */
  timeLimit: number;
  hosts: HostSpec[];
  links: LinkSpec[];
  transfers: TransferSpec[];
}

export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

// ------------------------------------------------------------------ validation

type Json = unknown;

function isObj(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(o: Record<string, Json>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      throw new ScenarioError(`${where}: unknown field '${k}' (expected ${allowed.join(', ')})`);
  }
}

function numberField(
  o: Record<string, Json>,
  k: string,
  where: string,
  opts: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ScenarioError(`${where}.${k}: not a number`);
  if (opts.integer && !Number.isInteger(v)) throw new ScenarioError(`${where}.${k}: not a whole number`);
  if (opts.min !== undefined && v < opts.min)
    throw new ScenarioError(`${where}.${k}: ${v} is below ${opts.min}`);
  if (opts.max !== undefined && v > opts.max)
    throw new ScenarioError(`${where}.${k}: ${v} is above ${opts.max}`);
  return v;
}

function stringField(
  o: Record<string, Json>,
  k: string,
  where: string,
  required = false,
): string | undefined {
  const v = o[k];
  if (v === undefined) {
    if (required) throw new ScenarioError(`${where}: missing '${k}'`);
    return undefined;
  }
  if (typeof v !== 'string') throw new ScenarioError(`${where}.${k}: not a string`);
  return v;
}

function cidr(text: string, where: string): void {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text);
  if (!m || parseIpv4(m[1]) === undefined || Number(m[2]) > 32)
    throw new ScenarioError(`${where}: '${text}' is not an IPv4 address with a prefix length (10.0.1.2/24)`);
}

const IMPAIRMENT_KEYS = [
  'delayMs',
  'jitterMs',
  'loss',
  'duplicate',
  'corrupt',
  'bandwidthMbit',
  'queueBytes',
  'queuePackets',
  'mtu',
] as const;

function impairmentSpec(v: Json, where: string): ImpairmentSpec | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) throw new ScenarioError(`${where}: expected an object`);
  checkKeys(v, IMPAIRMENT_KEYS, where);
  const out: ImpairmentSpec = {};
  for (const k of ['delayMs', 'jitterMs', 'bandwidthMbit'] as const) {
    const n = numberField(v, k, where, { min: 0 });
    if (n !== undefined) out[k] = n;
  }
  for (const k of ['loss', 'duplicate', 'corrupt'] as const) {
    const n = numberField(v, k, where, { min: 0, max: 1 });
    if (n !== undefined) out[k] = n;
  }
  for (const k of ['queueBytes', 'queuePackets'] as const) {
    const n = numberField(v, k, where, { min: 1, integer: true });
    if (n !== undefined) out[k] = n;
  }
  const mtu = numberField(v, 'mtu', where, { min: 68, max: 65535, integer: true });
  if (mtu !== undefined) out.mtu = mtu;
  return out;
}

function endSpec(v: Json, where: string, hosts: Set<string>): EndSpec {
  if (!isObj(v)) throw new ScenarioError(`${where}: expected { host, address }`);
  checkKeys(v, ['host', 'address', 'impairments'], where);
  const host = stringField(v, 'host', where, true) as string;
  if (!hosts.has(host)) throw new ScenarioError(`${where}.host: no host named '${host}'`);
  const address = stringField(v, 'address', where, true) as string;
  cidr(address, `${where}.address`);
  const imp = impairmentSpec(v.impairments, `${where}.impairments`);
  return { host, address, ...(imp ? { impairments: imp } : {}) };
}

/** Validates a parsed JSON scenario; throws ScenarioError naming the bad field. */
export function parseScenario(json: Json, fallbackName = 'scenario'): Scenario {
  if (!isObj(json)) throw new ScenarioError('a scenario is a JSON object');
  checkKeys(json, ['name', 'description', 'seed', 'timeLimit', 'hosts', 'links', 'transfers'], 'scenario');
  const name = stringField(json, 'name', 'scenario') ?? fallbackName;
  const description = stringField(json, 'description', 'scenario');
  const seed = numberField(json, 'seed', 'scenario', { integer: true }) ?? 1;
  const timeLimit = numberField(json, 'timeLimit', 'scenario', { min: 0.001 }) ?? 600;
  if (!Array.isArray(json.hosts) || json.hosts.length === 0)
    throw new ScenarioError('scenario.hosts: expected a non-empty array');
  const hosts: HostSpec[] = [];
  const names = new Set<string>();
  json.hosts.forEach((h, i) => {
    const where = `hosts[${i}]`;
    if (!isObj(h)) throw new ScenarioError(`${where}: expected an object`);
    checkKeys(h, ['name', 'forwarding', 'routes'], where);
    const n = stringField(h, 'name', where, true) as string;
    if (names.has(n)) throw new ScenarioError(`${where}.name: '${n}' used twice`);
    names.add(n);
    const routes: { to: string; via?: string }[] = [];
    if (h.routes !== undefined) {
      if (!Array.isArray(h.routes)) throw new ScenarioError(`${where}.routes: expected an array`);
      h.routes.forEach((r, j) => {
        const w = `${where}.routes[${j}]`;
        if (!isObj(r)) throw new ScenarioError(`${w}: expected { to, via }`);
        checkKeys(r, ['to', 'via'], w);
        const to = stringField(r, 'to', w, true) as string;
        cidr(to, `${w}.to`);
        const via = stringField(r, 'via', w);
        if (via !== undefined && parseIpv4(via) === undefined)
          throw new ScenarioError(`${w}.via: '${via}' is not an IPv4 address`);
        routes.push({ to, ...(via !== undefined ? { via } : {}) });
      });
    }
    if (h.forwarding !== undefined && typeof h.forwarding !== 'boolean')
      throw new ScenarioError(`${where}.forwarding: expected true or false`);
    hosts.push({ name: n, forwarding: h.forwarding === true, routes });
  });
  if (!Array.isArray(json.links)) throw new ScenarioError('scenario.links: expected an array');
  const links: LinkSpec[] = json.links.map((l, i): LinkSpec => {
    const where = `links[${i}]`;
    if (!isObj(l)) throw new ScenarioError(`${where}: expected an object`);
    const type = l.type ?? 'cable';
    const mtu = numberField(l, 'mtu', where, { min: 68, max: 65535, integer: true });
    const lname = stringField(l, 'name', where);
    if (type === 'cable') {
      checkKeys(l, ['type', 'name', 'mtu', 'ends', 'impairments', 'aToB', 'bToA'], where);
      if (!Array.isArray(l.ends) || l.ends.length !== 2)
        throw new ScenarioError(`${where}.ends: a cable has exactly two ends`);
      const ends = l.ends.map((e, j) => endSpec(e, `${where}.ends[${j}]`, names)) as [EndSpec, EndSpec];
      const imp = impairmentSpec(l.impairments, `${where}.impairments`);
      const aToB = impairmentSpec(l.aToB, `${where}.aToB`);
      const bToA = impairmentSpec(l.bToA, `${where}.bToA`);
      return {
        type: 'cable',
        ends,
        ...(lname !== undefined ? { name: lname } : {}),
        ...(mtu !== undefined ? { mtu } : {}),
        ...(imp ? { impairments: imp } : {}),
        ...(aToB ? { aToB } : {}),
        ...(bToA ? { bToA } : {}),
      };
    }
    if (type === 'switch') {
      checkKeys(l, ['type', 'name', 'mtu', 'ports'], where);
      if (!Array.isArray(l.ports) || l.ports.length < 2)
        throw new ScenarioError(`${where}.ports: a switch needs at least two ports`);
      const ports = l.ports.map((e, j) => endSpec(e, `${where}.ports[${j}]`, names));
      return {
        type: 'switch',
        ports,
        ...(lname !== undefined ? { name: lname } : {}),
        ...(mtu !== undefined ? { mtu } : {}),
      };
    }
    throw new ScenarioError(`${where}.type: '${String(type)}' is not cable or switch`);
  });
  if (!Array.isArray(json.transfers) || json.transfers.length === 0)
    throw new ScenarioError('scenario.transfers: expected a non-empty array');
  const transfers: TransferSpec[] = json.transfers.map((t, i) => {
    const where = `transfers[${i}]`;
    if (!isObj(t)) throw new ScenarioError(`${where}: expected an object`);
    checkKeys(t, ['name', 'from', 'to', 'bytes', 'startMs', 'port', 'cc'], where);
    const from = stringField(t, 'from', where, true) as string;
    const to = stringField(t, 'to', where, true) as string;
    for (const [k, h] of [
      ['from', from],
      ['to', to],
    ] as const)
      if (!names.has(h)) throw new ScenarioError(`${where}.${k}: no host named '${h}'`);
    const bytes = numberField(t, 'bytes', where, { min: 1, integer: true });
    if (bytes === undefined) throw new ScenarioError(`${where}: missing 'bytes'`);
    const startMs = numberField(t, 'startMs', where, { min: 0 });
    const port = numberField(t, 'port', where, { min: 1, max: 65535, integer: true });
    const cc = stringField(t, 'cc', where);
    if (cc !== undefined && cc !== 'newreno' && cc !== 'cubic')
      throw new ScenarioError(`${where}.cc: '${cc}' is not newreno or cubic`);
    const tname = stringField(t, 'name', where);
    return {
      from,
      to,
      bytes,
      ...(startMs !== undefined ? { startMs } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(cc !== undefined ? { cc: cc as 'newreno' | 'cubic' } : {}),
      ...(tname !== undefined ? { name: tname } : {}),
    };
  });
  return {
    name,
    ...(description !== undefined ? { description } : {}),
    seed,
    timeLimit,
    hosts,
    links,
    transfers,
  };
}

/** The simulator's Impairments for a spec (ms → µs, Mbit/s → bit/s, packets → bytes). */
export function toImpairments(s: ImpairmentSpec | undefined): Impairments {
  if (!s) return {};
  const out: Impairments = {};
  if (s.delayMs !== undefined) out.delay = Math.round(s.delayMs * 1000);
  if (s.jitterMs !== undefined) out.jitter = Math.round(s.jitterMs * 1000);
  if (s.loss !== undefined && s.loss > 0) out.loss = s.loss;
  if (s.duplicate !== undefined && s.duplicate > 0) out.duplicate = s.duplicate;
  if (s.corrupt !== undefined && s.corrupt > 0) out.corrupt = s.corrupt;
  if (s.bandwidthMbit !== undefined && s.bandwidthMbit > 0) out.bandwidth = s.bandwidthMbit * 1e6;
  if (s.queueBytes !== undefined) out.queueLimit = s.queueBytes;
  else if (s.queuePackets !== undefined) out.queueLimit = s.queuePackets * 1514;
  if (s.mtu !== undefined) out.mtu = s.mtu;
  return out;
}

// ------------------------------------------------------------------ building

export interface BuiltScenario {
  readonly sim: Simulation;
  readonly hosts: ReadonlyMap<string, Stack>;
  /** The first address of each host (for transfers' destinations). */
  readonly addressOf: ReadonlyMap<string, string>;
}

/**
 * Builds the network on a fresh Simulation. Interfaces of hosts in `capture` are
 * recorded into `writer` (one capture interface per host interface).
 */
export function buildScenario(
  sc: Scenario,
  opts: { writer?: CaptureWriter; capture?: ReadonlySet<string> } = {},
): BuiltScenario {
  const sim = new Simulation({ seed: sc.seed });
  const hosts = new Map<string, Stack>();
  const addressOf = new Map<string, string>();
  for (const h of sc.hosts) {
    const cfg = { clock: sim.clock, rng: sim.rng.fork(), name: h.name, forwarding: h.forwarding === true };
    hosts.set(h.name, sim.add(new Stack(cfg)));
  }
  const ifCount = new Map<string, number>();
  const plug = (end: EndSpec, device: Device) => {
    const stack = hosts.get(end.host) as Stack;
    const n = ifCount.get(end.host) ?? 0;
    ifCount.set(end.host, n + 1);
    // Capture interfaces are named after the host's interface, whatever the link calls its device.
    const w = opts.writer;
    const dev =
      w && opts.capture?.has(end.host)
        ? captureDevice(device, w, sim.clock, w.interfaceFor(`${end.host}.eth${n}`, device.linkType))
        : device;
    stack.addInterface({ name: `eth${n}`, device: dev, addresses: [end.address] });
    if (!addressOf.has(end.host)) addressOf.set(end.host, end.address.split('/')[0]);
  };
  sc.links.forEach((l, i) => {
    if (l.type === 'cable') {
      const both = toImpairments(l.impairments);
      const [a, b] = l.ends;
      const cable = sim.add(
        new Cable({
          clock: sim.clock,
          rng: sim.rng.fork(),
          ...(l.mtu !== undefined ? { mtu: l.mtu } : {}),
          names: [`${a.host}.eth${ifCount.get(a.host) ?? 0}`, `${b.host}.eth${ifCount.get(b.host) ?? 0}`],
          aToB: { ...both, ...toImpairments(a.impairments), ...toImpairments(l.aToB) },
          bToA: { ...both, ...toImpairments(b.impairments), ...toImpairments(l.bToA) },
        }),
      );
      plug(a, cable.a);
      plug(b, cable.b);
    } else {
      const sw = sim.add(
        new Switch({
          clock: sim.clock,
          rng: sim.rng.fork(),
          name: l.name ?? `sw${i}`,
          ...(l.mtu !== undefined ? { mtu: l.mtu } : {}),
        }),
      );
      for (const p of l.ports) plug(p, sw.port(toImpairments(p.impairments)));
    }
  });
  for (const h of sc.hosts) {
    const stack = hosts.get(h.name) as Stack;
    for (const r of h.routes ?? [])
      stack.addRoute({ destination: r.to, ...(r.via !== undefined ? { gateway: r.via } : {}) });
  }
  sim.runUntilIdle({ maxTime: 1_000_000 });
  return { sim, hosts, addressOf };
}

/** The scenario the `sim` options describe when no file is given: client – router – server, a bottleneck on the server side. */
export function defaultScenario(o: {
  bytes: number;
  lossPct: number;
  delayMs: number;
  bandwidthMbit: number;
  queuePackets: number;
  cc: 'newreno' | 'cubic';
  seed: number;
}): Scenario {
  return {
    name: 'builtin',
    description: `client – router – server; ${o.bandwidthMbit} Mbit/s, ${o.delayMs} ms, ${o.lossPct}% loss, ${o.queuePackets}-packet queue between router and server`,
    seed: o.seed,
    timeLimit: 3600,
    hosts: [
      { name: 'client', routes: [{ to: '0.0.0.0/0', via: '10.0.1.1' }] },
      { name: 'router', forwarding: true },
      { name: 'server', routes: [{ to: '0.0.0.0/0', via: '10.0.2.1' }] },
    ],
    links: [
      {
        type: 'cable',
        ends: [
          { host: 'client', address: '10.0.1.2/24' },
          { host: 'router', address: '10.0.1.1/24' },
        ],
        impairments: { delayMs: 0.1 },
      },
      {
        type: 'cable',
        ends: [
          { host: 'router', address: '10.0.2.1/24' },
          { host: 'server', address: '10.0.2.2/24' },
        ],
        aToB: {
          delayMs: o.delayMs,
          bandwidthMbit: o.bandwidthMbit,
          queuePackets: o.queuePackets,
          ...(o.lossPct > 0 ? { loss: o.lossPct / 100 } : {}),
        },
        bToA: { delayMs: o.delayMs, ...(o.lossPct > 0 ? { loss: o.lossPct / 100 } : {}) },
      },
    ],
    transfers: [{ from: 'client', to: 'server', bytes: o.bytes, cc: o.cc }],
  };
}
