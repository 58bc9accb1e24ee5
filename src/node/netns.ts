/**
 * Network-namespace helpers for tests, benchmarks and the CLI: give the Linux
 * kernel a private network to talk to a stack through a TAP/TUN device, without
 * touching the host's interfaces or routes.
 *
 * The Node process stays in its own namespace. A TAP is created there, then
 * moved into the namespace (`ip link set dev X netns NS`); its fd keeps working,
 * and everything on the kernel side (addresses, routes, ping, servers started
 * with `ip netns exec`) lives in the namespace. Deleting the namespace destroys
 * the interface, so close the device first (`TapInNetns.close()` does both).
 *
 * Uses the `ip` tool from iproute2 (synchronously: these are setup steps).
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { LinkError, openTap, type TapDevice, type TapOptions } from './tap.ts';

let counter = 0;

/**
 * A name unique to this process: `${prefix}${pid}x${n}`, kept within the 15 bytes
 * an interface name may have (namespace names may be longer, but one rule is simpler).
 */
export function uniqueName(prefix = 'ss'): string {
  const name = `${prefix}${process.pid}x${counter++}`;
  if (name.length > 15) return name.slice(name.length - 15);
  return name;
}

/** Runs `ip` with arguments; throws a LinkError carrying ip's message on failure. */
export function ip(args: readonly string[], netns?: string): string {
  const argv = netns === undefined ? [...args] : ['-n', netns, ...args];
  try {
    return execFileSync('ip', argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === 'ENOENT')
      throw new LinkError('ENOENT', 2, 'spawn', 'the `ip` tool (iproute2) is not installed');
    const msg = (err.stderr ?? '').trim() || err.message;
    throw new LinkError('EIO', 5, 'ip', `ip ${argv.join(' ')}: ${msg}`);
  }
}

/** Why kernel-link tests cannot run here, or undefined when they can. */
export function kernelLinkUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'TAP/TUN and network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return 'needs root (CAP_NET_ADMIN) for TAP/TUN and network namespaces';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/net/tun is missing or not accessible';
  }
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'the `ip` tool (iproute2) is not installed';
  }
  return undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, it is just not ours to signal.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes namespaces that uniqueName() made in processes that are gone: a test
 * run killed with SIGKILL (a timeout, a cancelled CI job) cannot clean up after
 * itself, and its namespaces would pile up. Only names of the form
 * `ss<letters><pid>x<n>` whose pid is not running, which hold no process and
 * which are older than `minAgeMs` (default 10 minutes: a fresh namespace of a
 * process we cannot see, e.g. from another PID namespace, is left alone) are
 * touched. Returns the names deleted. createNetns() runs it once per process.
 */
export function sweepStaleNetns(options: { minAgeMs?: number } = {}): string[] {
  const minAgeMs = options.minAgeMs ?? 10 * 60_000;
  let list: string;
  try {
    list = ip(['netns', 'list']);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    const m = /^ss[a-z]*?(\d+)x\d+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    try {
      // The mount point's times are the namespace's creation.
      if (Date.now() - statSync(`/run/netns/${name}`).mtimeMs < minAgeMs) continue;
      if (ip(['netns', 'pids', name]).trim() !== '') continue;
      ip(['netns', 'del', name]);
      removed.push(name);
    } catch {
      // Gone meanwhile, or not ours to delete: leave it.
    }
  }
  return removed;
}

let swept = false;

export function createNetns(name: string): void {
  if (!swept) {
    swept = true;
    sweepStaleNetns();
  }
  ip(['netns', 'add', name]);
  // Loopback up so local services inside behave normally.
  ip(['link', 'set', 'lo', 'up'], name);
}

/** Deletes a namespace; a missing one is not an error (cleanup paths call this freely). */
export function deleteNetns(name: string): void {
  try {
    ip(['netns', 'del', name]);
  } catch (e) {
    if (!/No such file|not found|Invalid netns/i.test((e as Error).message)) throw e;
  }
}

export interface LinkConfig {
  /** Addresses with prefix length, e.g. `10.77.1.1/24`. */
  addresses?: readonly string[];
  mtu?: number;
  /** Bring the link up (default true). */
  up?: boolean;
  /** Turn off IPv6 on the link, so the kernel does not send router solicitations and DAD probes. */
  disableIpv6?: boolean;
}

/** Moves an interface into `netns` (it keeps its name) and configures it there. */
export function moveLinkToNetns(ifname: string, netns: string, config: LinkConfig = {}): void {
  ip(['link', 'set', 'dev', ifname, 'netns', netns]);
  configureLink(ifname, config, netns);
}

/** Configures an interface (in `netns`, or the current namespace). */
export function configureLink(ifname: string, config: LinkConfig, netns?: string): void {
  if (config.disableIpv6) {
    // Not fatal: a kernel without IPv6 has no such sysctl.
    try {
      nsExecSync(netns, 'sysctl', ['-qw', `net.ipv6.conf.${ifname}.disable_ipv6=1`]);
    } catch {}
  }
  if (config.mtu !== undefined) ip(['link', 'set', 'dev', ifname, 'mtu', String(config.mtu)], netns);
  for (const a of config.addresses ?? []) ip(['addr', 'add', a, 'dev', ifname], netns);
  if (config.up ?? true) ip(['link', 'set', 'dev', ifname, 'up'], netns);
}

/** Runs a command inside a namespace (or directly when netns is undefined) and returns its stdout. */
export function nsExecSync(netns: string | undefined, cmd: string, args: readonly string[] = []): string {
  const argv = netns === undefined ? [cmd, ...args] : ['ip', 'netns', 'exec', netns, cmd, ...args];
  return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts a command inside a namespace; the caller owns the child (kill it in cleanup). */
export function nsSpawn(
  netns: string | undefined,
  cmd: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): ChildProcess {
  const argv = netns === undefined ? [cmd, ...args] : ['ip', 'netns', 'exec', netns, cmd, ...args];
  return spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

/** Kernel interface counters (from `ip -s -j link`). */
export interface LinkCounters {
  rxPackets: number;
  rxBytes: number;
  rxDropped: number;
  txPackets: number;
  txBytes: number;
  txDropped: number;
}

export function linkCounters(ifname: string, netns?: string): LinkCounters {
  const out = ip(['-s', '-j', 'link', 'show', 'dev', ifname], netns);
  const j = JSON.parse(out) as Array<{
    stats64: {
      rx: { packets: number; bytes: number; dropped: number };
      tx: { packets: number; bytes: number; dropped: number };
    };
  }>;
  const s = j[0].stats64;
  return {
    rxPackets: s.rx.packets,
    rxBytes: s.rx.bytes,
    rxDropped: s.rx.dropped,
    txPackets: s.tx.packets,
    txBytes: s.tx.bytes,
    txDropped: s.tx.dropped,
  };
}

export interface TapInNetnsOptions extends TapOptions, LinkConfig {
  /** Namespace to use; created (and deleted on close) when omitted or when `create` is true. */
  netns?: string;
  /** Create the namespace (default: true when `netns` is omitted). */
  create?: boolean;
}

/** A TAP/TUN whose kernel side lives in a namespace. */
export interface TapInNetns {
  readonly tap: TapDevice;
  readonly netns: string;
  /** Closes the device, then deletes the namespace if this helper created it. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Creates (or uses) a namespace, opens a TAP/TUN, moves it in and configures it
 * there. On any failure everything made so far is undone.
 *
 * Example: `const { tap, netns, close } = await openTapInNetns({ addresses: ['10.77.1.1/24'] })`,
 * then `ip netns exec <netns> ping 10.77.1.2` talks to whatever answers on `tap`.
 */
export async function openTapInNetns(options: TapInNetnsOptions = {}): Promise<TapInNetns> {
  const netns = options.netns ?? uniqueName('ssns');
  const create = options.create ?? options.netns === undefined;
  if (create) createNetns(netns);
  let tap: TapDevice | undefined;
  let done = false;
  const close = async (): Promise<void> => {
    if (done) return;
    done = true;
    try {
      if (tap) await tap.close();
    } finally {
      if (create) deleteNetns(netns);
    }
  };
  try {
    tap = await openTap({
      ...options,
      name: options.name ?? uniqueName(options.mode === 'tun' ? 'sstun' : 'sstap'),
    });
    moveLinkToNetns(tap.ifname, netns, options);
    return { tap, netns, close };
  } catch (e) {
    await close();
    throw e;
  }
}
