/**
 * A sockstack host on a Linux TAP whose other end is the kernel in a fresh
 * network namespace: the kernel as a real peer for tests, benchmarks and the CLI.
 *
 *   const h = await tapStack({ kernelAddr: '10.77.1.1/24', stackAddr: '10.77.1.2/24' });
 *   try {
 *     await h.stack.ping('10.77.1.1');
 *     const r = await h.exec(['ping', '-c', '1', '-W', '2', '10.77.1.2']);
 *   } finally {
 *     await h.close();
 *   }
 *
 * The stack runs on a SystemClock under a RealtimeDriver, which this helper kicks
 * whenever a timer becomes the stack's earliest (`TimerQueue.onEarliestChanged`),
 * whenever a frame from the TAP is queued on an idle stack (`Stack.onWake`), and
 * whenever an impairment channel accepts a frame.
 *
 * `exec` is asynchronous on purpose: a synchronous child (execFileSync) would
 * block this process, and with it the stack the child is talking to.
 */
import { type ChildProcess, type SpawnOptions, spawn as spawnChild } from 'node:child_process';
import type { Device } from '../link/device.ts';
import type { Impairments } from '../link/impair.ts';
import { ImpairedDevice } from '../link/impaired-device.ts';
import { RealtimeDriver } from '../link/realtime.ts';
import { CryptoRng, type Rng } from '../rand/rng.ts';
import { Stack, type StackConfig } from '../stack.ts';
import type { Clock } from '../time/clock.ts';
import { SystemClock } from '../time/system.ts';
import { ip, openTapInNetns } from './netns.ts';
import type { TapDevice } from './tap.ts';

export interface TapStackOptions {
  /**
   * The kernel's address on the link, with prefix (in the namespace). Default 10.77.1.1/24.
   * null: the TAP is brought up in the namespace without an address (to bridge it elsewhere).
   */
  kernelAddr?: string | null;
  /** The stack's address, with prefix. Default 10.77.1.2/24. */
  stackAddr?: string;
  /**
   * IPv6 on the link as well: the kernel's address (with prefix, configured without DAD) and
   * the stack's. Without it IPv6 is off on the kernel's side (no router solicitations, no DAD).
   */
  ipv6?: { kernelAddr: string; stackAddr: string };
  /** Link MTU on both sides. Default 1500. */
  mtu?: number;
  /**
   * Checksum and segmentation offloads through virtio_net_hdr (TapOptions.offload). Default
   * true without `impair`; with it false: the impairment sits between the TAP and the stack
   * and may corrupt bytes, so the stack must compute and verify every checksum itself.
   */
  offload?: boolean;
  /** TCP super-segments to the kernel with offload (TapOptions.tso). Default true. */
  tso?: boolean;
  /** The TAP's writer-thread ring (TapOptions.txRingBytes; 0: write on this thread). */
  txRingBytes?: number;
  /** TapOptions.lendRx: receive buffers come back for reuse once read. Default true without `impair`. */
  lendRx?: boolean;
  /** TapOptions.txGather: super-segments' payloads written from the send ring by reference. Default true. */
  txGather?: boolean;
  /** Impairments on our side of the TAP: `tx` = frames we send, `rx` = frames we receive. */
  impair?: { tx?: Impairments; rx?: Impairments };
  /** Stack configuration (TCP options, ARP, ...). */
  config?: StackConfig;
  /** Stack name (gethostname). Default 'sockstack'. */
  name?: string;
  /** May bind ports below 1024. Default true (the helper needs root anyway). */
  privileged?: boolean;
  rng?: Rng;
  clock?: Clock;
  /** Namespace name; default a unique one (created, and deleted on close). */
  netns?: string;
}

export interface ExecResult {
  /** Exit code, or null when killed by a signal (`signal` says which). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the command was killed because it ran past `timeoutMs`. */
  timedOut: boolean;
}

export interface ExecOptions {
  /** Kill (SIGKILL) after this many ms. Default 30 000. */
  timeoutMs?: number;
  /** Bytes for the child's stdin (then it is closed). */
  input?: Uint8Array | string;
  /** Output beyond this many bytes per stream is discarded. Default 16 MiB. */
  maxOutput?: number;
}

export interface TapStackHost {
  readonly stack: Stack;
  readonly driver: RealtimeDriver;
  /** The namespace holding the kernel side. */
  readonly ns: string;
  readonly tap: TapDevice;
  /** What the stack's interface sends through: the TAP, or an ImpairedDevice over it. */
  readonly device: Device;
  /** Set when `impair` was given. */
  readonly impaired: ImpairedDevice | undefined;
  /** The kernel's address without prefix, e.g. '10.77.1.1' ('' when kernelAddr was null). */
  readonly kernelIp: string;
  /** The stack's address without prefix. */
  readonly stackIp: string;
  /** The kernel interface name inside the namespace. */
  readonly ifname: string;
  /**
   * Runs a command in the namespace: an argv array, or a string for `sh -c`.
   * Resolves when it exits (never rejects for a non-zero exit: look at `code`).
   */
  exec(cmd: string | readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Starts a command in the namespace; the caller owns the child (`close()` kills any still running). */
  spawn(cmd: string | readonly string[], options?: SpawnOptions): ChildProcess;
  /** Kills children still running, stops the driver, closes the TAP and deletes the namespace. */
  close(): Promise<void>;
}

function argvOf(ns: string, cmd: string | readonly string[]): string[] {
  const inner = typeof cmd === 'string' ? ['sh', '-c', cmd] : [...cmd];
  return ['netns', 'exec', ns, ...inner];
}

export async function tapStack(options: TapStackOptions = {}): Promise<TapStackHost> {
  const kernelAddr = options.kernelAddr === null ? null : (options.kernelAddr ?? '10.77.1.1/24');
  const stackAddr = options.stackAddr ?? '10.77.1.2/24';
  const h = await openTapInNetns({
    mode: 'tap',
    addresses: kernelAddr === null ? [] : [kernelAddr],
    mtu: options.mtu,
    offload: options.offload ?? options.impair === undefined,
    // Frames go straight to the stack unless an impairment sits between (it may hold or
    // duplicate them): then the stack's TCP gives their buffers back for reuse.
    lendRx: options.lendRx ?? options.impair === undefined,
    txRingBytes: options.txRingBytes,
    tso: options.tso,
    txGather: options.txGather,
    disableIpv6: options.ipv6 === undefined,
    netns: options.netns,
  });
  if (options.ipv6 !== undefined)
    ip(['-6', 'addr', 'add', options.ipv6.kernelAddr, 'dev', h.tap.ifname, 'nodad'], h.netns);
  const children = new Set<ChildProcess>();
  let driver: RealtimeDriver | undefined;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    await Promise.all(
      [...children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) resolve();
            else {
              c.once('exit', () => resolve());
              c.once('error', () => resolve());
            }
          }),
      ),
    );
    driver?.stop();
    await h.close();
  };
  try {
    const clock = options.clock ?? new SystemClock();
    const rng = options.rng ?? new CryptoRng();
    driver = new RealtimeDriver({ clock });
    const d = driver;
    const kick = (): void => d.kick();
    const stack = new Stack({
      clock,
      rng,
      name: options.name ?? 'sockstack',
      privileged: options.privileged ?? true,
      config: options.config,
    });
    // A newly armed timer may be earlier than what the driver sleeps until.
    stack.timers.onEarliestChanged = kick;
    // Frames from the TAP wait in the stack's receive queue; the stack wakes the driver.
    stack.onWake = kick;
    let device: Device = h.tap;
    let impaired: ImpairedDevice | undefined;
    if (options.impair) {
      impaired = new ImpairedDevice(h.tap, {
        clock,
        rng,
        tx: options.impair.tx,
        rx: options.impair.rx,
        wake: kick,
      });
      device = impaired;
      d.add(impaired);
    }
    const addresses = options.ipv6 === undefined ? [stackAddr] : [stackAddr, options.ipv6.stackAddr];
    stack.addInterface({ name: 'eth0', device, addresses, mtu: options.mtu });
    const tap = h.tap;
    d.add(stack);
    const ns = h.netns;
    const host: TapStackHost = {
      stack,
      driver: d,
      ns,
      tap,
      device,
      impaired,
      kernelIp: kernelAddr === null ? '' : kernelAddr.split('/')[0],
      stackIp: stackAddr.split('/')[0],
      ifname: tap.ifname,
      spawn(cmd, spawnOptions = {}) {
        if (closed) throw new Error('tapStack: closed');
        const c = spawnChild('ip', argvOf(ns, cmd), { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
        children.add(c);
        c.once('exit', () => children.delete(c));
        c.once('error', () => children.delete(c));
        return c;
      },
      exec(cmd, execOptions = {}) {
        const timeoutMs = execOptions.timeoutMs ?? 30_000;
        const maxOutput = execOptions.maxOutput ?? 16 << 20;
        return new Promise<ExecResult>((resolve, reject) => {
          let c: ChildProcess;
          try {
            c = host.spawn(cmd, {
              stdio: [execOptions.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
            });
          } catch (e) {
            reject(e);
            return;
          }
          const out: Buffer[] = [];
          const err: Buffer[] = [];
          let outLen = 0;
          let errLen = 0;
          c.stdout?.on('data', (b: Buffer) => {
            if (outLen < maxOutput) out.push(b);
            outLen += b.length;
          });
          c.stderr?.on('data', (b: Buffer) => {
            if (errLen < maxOutput) err.push(b);
            errLen += b.length;
          });
          let timedOut = false;
          const timer = setTimeout(() => {
            timedOut = true;
            c.kill('SIGKILL');
          }, timeoutMs);
          c.once('error', (e) => {
            clearTimeout(timer);
            reject(e);
          });
          c.once('close', (code, signal) => {
            clearTimeout(timer);
            resolve({
              code,
              signal,
              stdout: Buffer.concat(out).toString('utf8'),
              stderr: Buffer.concat(err).toString('utf8'),
              timedOut,
            });
          });
          if (execOptions.input !== undefined) c.stdin?.end(execOptions.input);
        });
      },
      close,
    };
    return host;
  } catch (e) {
    await close();
    throw e;
  }
}
