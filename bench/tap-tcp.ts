/**
 * Bulk TCP over a TAP: sockstack ↔ the Linux kernel, with virtio_net_hdr offloads
 * (TapOptions.offload) and without, beside kernel ↔ kernel over a veth pair with
 * offloads off (1500-byte frames, what a TAP without vnet headers gives) and with the
 * kernel's default offloads, measured in the same run and printed as ratios. Then goodput
 * under 1 % loss + 10 ms one-way delay on the data direction, through the same
 * user-space impairment bridge for both (scripts/impair-bridge.py,
 * this kernel has no netem), plus sockstack with the impairment applied on its own
 * side of the TAP (ImpairedDevice).
 *
 *   sudo node --import tsx bench/tap-tcp.ts [--bytes 64M] [--runs 3] [--seconds 10]
 *                                            [--only clean|impair|vnet] [--cc cubic]
 *                                            [--tcp JSON] [--dir s2k|k2s|both] [--lend 0]
 *
 * `--only vnet`: the vnet TAP both ways and the two veth rows only, with the CPU time of
 * the stack's thread, the TAP's reader and writer threads, and the whole machine per transfer;
 * and, when pasta is installed, the same two directions through pasta's TAP (pastaRef), the
 * C user-mode stack of Podman: what a user-space program at the far end of a TAP reaches here.
 *
 * The kernel end is scripts/kernel-peer.py (Python blocking sockets) in every row,
 * so rows differ only in the TCP/IP stack at the other end. Kernel senders use
 * TCP_CONGESTION=cubic (the machine default is BBR, a different algorithm; see
 * BASELINES.md §3b). Every namespace is created here and deleted on exit. Goodput =
 * bytes received / receiver time (first byte to EOF). Not a test: prints, never fails on speed.
 *
 * sockstack's end drives the TCP engine directly (stack.tcp), not the socket layer.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import {
  configureLink,
  createNetns,
  deleteNetns,
  ip,
  kernelLinkUnavailable,
  nsSpawn,
  uniqueName,
} from '../src/node/netns.ts';
import { type TapStackHost, tapStack } from '../src/node/tap-stack.ts';
import { rawConnect, rawListen } from '../test/kernel/raw-tcp.ts';

const PEER = new URL('../scripts/kernel-peer.py', import.meta.url).pathname;
const BRIDGE = process.env.IMPAIR_BRIDGE ?? new URL('../scripts/impair-bridge.py', import.meta.url).pathname;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
function size(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  const mult = { '': 1, K: 1024, M: 1 << 20, G: 1 << 30 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Math.round(Number(m[1]) * mult);
}

const BYTES = size(arg('bytes', '64M'));
const RUNS = Number(arg('runs', '3'));
const SECONDS = Number(arg('seconds', '10'));
const ONLY = arg('only', 'all');
const CC = arg('cc', 'cubic');
/**
 * SO_SNDBUF / SO_RCVBUF of sockstack's end (0: the stack's default, 256 KiB). The kernel
 * autotunes its own up to tcp_wmem[2] / tcp_rmem[2] (4 / 6 MiB by default); sockstack does
 * not autotune, so a bench may give it what the kernel grows to.
 */
const BUF = size(arg('buf', '0'));
/**
 * `--only vnet`: sockstack's TCP config overrides as JSON (e.g. `{"sndBufAuto":"none"}` or
 * `{"hystart":"none"}`), for A/B runs of one mechanism.
 */
const TCP_CONFIG = JSON.parse(arg('tcp', '{}')) as Record<string, unknown>;
/** `--only vnet`: which directions (s2k: sockstack → kernel, k2s: kernel → sockstack, both). */
const DIR = arg('dir', 'both');
/** `--only vnet`: `--lend 0` turns the TAP's receive-buffer lending off (TapOptions.lendRx), for A/B runs. */
const LEND = arg('lend', '1') !== '0';
/** `--only vnet`: the TAP's writer ring (TapOptions.txRingBytes; default the TAP's). */
const RING = arg('ring', '') === '' ? undefined : size(arg('ring', ''));

// ------------------------------------------------------------------ cleanup

const namespaces: string[] = [];
const children = new Set<ChildProcess>();
const hosts: TapStackHost[] = [];
async function cleanup(): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const h of hosts.splice(0)) await h.close().catch(() => {});
  for (const n of namespaces.splice(0)) deleteNetns(n);
}
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    void cleanup().then(() => process.exit(130));
  });

function spawnIn(ns: string, argv: string[]): ChildProcess {
  const c = nsSpawn(ns, argv[0], argv.slice(1));
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** Waits for a line matching `re` on the child's stdout. */
function waitLine(c: ChildProcess, re: RegExp, ms: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms: ${out} ${err}`)), ms);
    c.stderr?.on('data', (b: Buffer) => {
      err += b;
    });
    const onData = (b: Buffer) => {
      out += b;
      const m = out.match(re);
      if (m) {
        clearTimeout(timer);
        c.stdout?.off('data', onData);
        resolve(m);
      }
    };
    c.stdout?.on('data', onData);
    c.once('exit', () => {
      setImmediate(() => {
        clearTimeout(timer);
        reject(new Error(`exited before ${re}: ${out} ${err}`));
      });
    });
  });
}

function nooffload(ns: string, dev: string): void {
  execFileSync(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'ethtool',
      '-K',
      dev,
      'tso',
      'off',
      'gso',
      'off',
      'gro',
      'off',
      'tx',
      'off',
      'rx',
      'off',
      'sg',
      'off',
    ],
    {
      stdio: 'ignore',
    },
  );
}

// ------------------------------------------------------------------ one transfer each way

interface Rate {
  bytes: number;
  seconds: number;
}
const mbps = (r: Rate) => r.bytes / r.seconds / 1e6;

/** Kernel (python) receiver in `ns` at ip:port; `send` drives the sender; returns the receiver's figure. */
async function kernelReceives(
  ns: string,
  ipAddr: string,
  port: number,
  send: () => Promise<unknown>,
): Promise<Rate> {
  const rx = spawnIn(ns, [
    'python3',
    PEER,
    'recv',
    '--listen',
    ipAddr,
    '--port',
    String(port),
    '--timeout',
    '300',
    '--nohash',
  ]);
  await waitLine(rx, /ready/, 10_000);
  const result = waitLine(rx, /RESULT (\d+) \S+ ([\d.]+)/, 400_000);
  await send();
  const m = await result;
  return { bytes: Number(m[1]), seconds: Number(m[2]) };
}

async function sockToKernel(
  h: TapStackHost,
  ns: string,
  kernelIp: string,
  port: number,
  limit: { bytes?: number; seconds?: number },
): Promise<Rate> {
  return kernelReceives(ns, kernelIp, port, async () => {
    const conn = rawConnect(h.stack, kernelIp, port);
    if (BUF > 0) conn.c.setOptions({ sndBuf: BUF, rcvBuf: BUF });
    await conn.established(10_000);
    const block = new Uint8Array(1 << 20);
    crypto.getRandomValues(block.subarray(0, 65536));
    for (let i = 65536; i < block.length; i += 65536) block.copyWithin(i, 0, 65536);
    const end = limit.seconds ? Date.now() + limit.seconds * 1000 : Number.POSITIVE_INFINITY;
    let left = limit.bytes ?? Number.POSITIVE_INFINITY;
    // No hash on our side (the kernel peers run with --nohash too): write what fits, wait for room.
    let at = 0;
    for (let i = 0; i < 1e9 && left > 0 && Date.now() < end; i++) {
      const n = conn.c.write(block.subarray(at, at + Math.min(left, block.length - at)));
      left -= n;
      at = (at + n) % block.length;
      if (n > 0) continue;
      await conn.waitUntil(() => conn.c.writableSpace > 0 || conn.closed, 300_000, 'send-buffer space');
      if (conn.closed) throw new Error(`connection closed (${conn.closeReason})`);
    }
    if (ONLY === 'vnet') {
      // What limited the sender at the end: its window, the slow-start threshold (HyStart's
      // exit), the send buffer (autotuned unless --buf), the peer's window.
      const f = conn.c.info();
      console.log(
        `    sender at the end: cwnd ${f.cwnd}, ssthresh ${f.ssthresh}, send buffer ${conn.c.unackedLength + conn.c.writableSpace}, peer window ${f.sndWnd}, srtt ${f.rtt} µs, loss probes ${conn.c.stats.lossProbes}, retransmits ${f.totalRetrans}`,
      );
    }
    conn.c.close();
  });
}

async function kernelToSock(
  h: TapStackHost,
  ns: string,
  port: number,
  limit: { bytes?: number; seconds?: number },
): Promise<Rate> {
  const l = rawListen(h.stack, port);
  try {
    const argv = [
      'python3',
      PEER,
      'send',
      '--connect',
      h.stackIp,
      '--port',
      String(port),
      '--cc',
      CC,
      '--timeout',
      '300',
      '--nohash',
    ];
    argv.push('--bytes', String(limit.bytes ?? 2 ** 40));
    if (limit.seconds) argv.push('--seconds', String(limit.seconds));
    const tx = spawnIn(ns, argv);
    const conn = await l.next(10_000);
    if (BUF > 0) conn.c.setOptions({ sndBuf: BUF, rcvBuf: BUF });
    let first = 0;
    let bytes = 0;
    const end = Date.now() + 400_000;
    // Into one reused buffer, as the kernel peer's recv_into.
    const buf = new Uint8Array(1 << 20);
    for (let i = 0; i < 1e9; i++) {
      const n = conn.c.readInto(buf);
      if (n !== null && n > 0) {
        if (bytes === 0) first = performance.now();
        bytes += n;
        continue;
      }
      if (conn.ended || conn.c.eof || conn.closed) break;
      await conn.waitUntil(
        () => conn.c.readableLength > 0 || conn.ended || conn.c.eof || conn.closed,
        end - Date.now(),
        'data',
      );
    }
    const seconds = (performance.now() - first) / 1000;
    if (ONLY === 'vnet') {
      // What the window could have limited: the receive buffer (autotuned unless --buf,
      // rcvbuf-auto.ts), the last window offered, the receiver's RTT estimate.
      console.log(
        `    receiver at the end: receive buffer ${conn.c.rcvBuf.limit}, window offered ${conn.c.info().rcvWnd}, receiver RTT ${conn.c.rcvSpace?.rtt ?? 0} µs`,
      );
    }
    conn.c.close();
    await waitLine(tx, /RESULT/, 30_000);
    return { bytes, seconds };
  } finally {
    l.close();
  }
}

// ------------------------------------------------------------------ topologies

/** Kernel ↔ kernel over a veth pair on `subnet`.0/24, offloads off (or the kernel's defaults). */
function vethPair(subnet: string, noOffload: boolean): { a: string; b: string; aIp: string; bIp: string } {
  const a = uniqueName('bka');
  const b = uniqueName('bkb');
  createNetns(a);
  namespaces.push(a);
  createNetns(b);
  namespaces.push(b);
  const va = uniqueName('va');
  const vb = uniqueName('vb');
  ip(['link', 'add', va, 'netns', a, 'type', 'veth', 'peer', 'name', vb, 'netns', b]);
  if (noOffload) {
    nooffload(a, va);
    nooffload(b, vb);
  }
  configureLink(va, { addresses: [`${subnet}.1/24`], mtu: 1500, disableIpv6: true }, a);
  configureLink(vb, { addresses: [`${subnet}.2/24`], mtu: 1500, disableIpv6: true }, b);
  return { a, b, aIp: `${subnet}.1`, bIp: `${subnet}.2` };
}

async function kernelKernel(
  pair: { a: string; b: string; bIp: string },
  port: number,
  limit: { bytes?: number; seconds?: number },
): Promise<Rate> {
  return kernelReceives(pair.b, pair.bIp, port, async () => {
    const argv = [
      'python3',
      PEER,
      'send',
      '--connect',
      pair.bIp,
      '--port',
      String(port),
      '--cc',
      CC,
      '--timeout',
      '300',
      '--nohash',
    ];
    argv.push('--bytes', String(limit.bytes ?? 2 ** 40));
    if (limit.seconds) argv.push('--seconds', String(limit.seconds));
    const tx = spawnIn(pair.a, argv);
    await waitLine(tx, /RESULT/, 400_000);
  });
}

/**
 * Bridged: [sockstack]–TAP–(ns M: impair-bridge)–veth–(ns B: kernel 10.77.4.1), and
 * (ns A: kernel 10.77.4.3)–veth–(ns M2: impair-bridge)–veth–(ns B2: kernel 10.77.4.4).
 */
async function bridgedStack(): Promise<{ h: TapStackHost; b: string; m: string; tap: string; mdev: string }> {
  const h = await tapStack({ kernelAddr: null, stackAddr: '10.77.4.2/24' });
  hosts.push(h);
  const b = uniqueName('bbb');
  createNetns(b);
  namespaces.push(b);
  const mdev = uniqueName('vm');
  const bdev = uniqueName('vb');
  ip(['link', 'add', mdev, 'netns', h.ns, 'type', 'veth', 'peer', 'name', bdev, 'netns', b]);
  nooffload(h.ns, mdev);
  nooffload(b, bdev);
  ip(['link', 'set', 'dev', h.ifname, 'promisc', 'on'], h.ns);
  configureLink(mdev, { disableIpv6: true }, h.ns);
  ip(['link', 'set', 'dev', mdev, 'promisc', 'on'], h.ns);
  configureLink(bdev, { addresses: ['10.77.4.1/24'], disableIpv6: true }, b);
  return { h, b, m: h.ns, tap: h.ifname, mdev };
}

function bridgedKernels(): { a: string; b: string; m: string; ma: string; mb: string; bIp: string } {
  const a = uniqueName('bka');
  const m = uniqueName('bkm');
  const b = uniqueName('bkb');
  for (const n of [a, m, b]) {
    createNetns(n);
    namespaces.push(n);
  }
  const pa = uniqueName('pa');
  const ma = uniqueName('ma');
  const pb = uniqueName('pb');
  const mb = uniqueName('mb');
  ip(['link', 'add', pa, 'netns', a, 'type', 'veth', 'peer', 'name', ma, 'netns', m]);
  ip(['link', 'add', pb, 'netns', b, 'type', 'veth', 'peer', 'name', mb, 'netns', m]);
  for (const [n, d] of [
    [a, pa],
    [m, ma],
    [m, mb],
    [b, pb],
  ] as const)
    nooffload(n, d);
  configureLink(pa, { addresses: ['10.77.5.1/24'], disableIpv6: true }, a);
  configureLink(pb, { addresses: ['10.77.5.2/24'], disableIpv6: true }, b);
  for (const d of [ma, mb]) {
    configureLink(d, { disableIpv6: true }, m);
    ip(['link', 'set', 'dev', d, 'promisc', 'on'], m);
  }
  return { a, b, m, ma, mb, bIp: '10.77.5.2' };
}

async function withBridge<T>(
  ns: string,
  a: string,
  b: string,
  extra: string[],
  run: () => Promise<T>,
): Promise<{ r: T; stats: string }> {
  const br = spawnIn(ns, ['python3', BRIDGE, '--a', a, '--b', b, ...extra, '--seconds', '600']);
  await waitLine(br, /impair-bridge/, 10_000);
  let stats = '';
  br.stdout?.on('data', (x: Buffer) => {
    stats += x;
  });
  try {
    const r = await run();
    return { r, stats };
  } finally {
    br.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      if (br.exitCode !== null && br.stdout?.readableEnded) resolve();
      else br.once('close', () => resolve());
    });
    const m = stats.match(/impair-bridge stats .*/);
    if (m) console.log(`    ${m[0]}`);
    if (process.env.DEBUG) console.log(execFileSync('ip', ['-n', ns, '-s', 'link'], { encoding: 'utf8' }));
  }
}

// ------------------------------------------------------------------ pasta (reference)

/**
 * A reference for `--only vnet`: pasta (passt's namespace mode, the C user-mode network stack
 * Podman and rootless containers use) over a TAP of its own, in namespaces created here.
 * [ns P: kernel]–TAP–(pasta, in ns H)–sockets–[ns H: kernel]. pasta is the other program that
 * does what sockstack's TAP end does: it reads the kernel's frames from a TAP and writes frames
 * into it, with a TCP/IP implementation in user space (it maps each flow to a socket on H).
 * P → H: P's kernel sends to the gateway address, which pasta maps to H's loopback (what our
 * "kernel → sockstack" row does: user space receives from a TAP). H → P: H's kernel connects to
 * H's own veth address on a port pasta forwards (-t) to P (user space sends into a TAP). From a
 * non-loopback address, so pasta takes the TAP path, not its loopback splice.
 * Undefined when pasta is not installed (apt-get install passt).
 */
async function pastaRef(subnet: string, ports: string): Promise<PastaRef | undefined> {
  try {
    execFileSync('pasta', ['--help'], { stdio: 'ignore' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  }
  // H needs a routable interface and a default route: pasta copies H's address and gateway to P.
  const pair = vethPair(subnet, false);
  ip(['-n', pair.a, 'route', 'add', 'default', 'via', pair.bIp]);
  const p = uniqueName('bkp');
  createNetns(p);
  namespaces.push(p);
  const argv = [
    'pasta',
    '--config-net',
    '--runas',
    '0',
    '-f',
    '-q',
    '-4',
    '-t',
    ports,
    '-T',
    'none',
    '-u',
    'none',
    '-U',
    'none',
    '--netns',
    p,
  ];
  const c = spawnIn(pair.a, argv);
  c.stdout?.resume();
  c.stderr?.resume();
  // Up when P has H's address.
  for (let i = 0; i < 100; i++) {
    if (c.exitCode !== null) throw new Error(`pasta exited with ${c.exitCode}`);
    const out = execFileSync('ip', ['-n', p, '-br', '-4', 'addr'], { encoding: 'utf8' });
    if (out.includes(pair.aIp)) return { h: pair.a, p, hIp: pair.aIp, gw: pair.bIp };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('pasta did not configure its namespace within 5 s');
}

interface PastaRef {
  /** H: pasta's own namespace (its sockets); P: the namespace behind its TAP. */
  h: string;
  p: string;
  /** H's veth address (P has it too, as pasta copies it); P's gateway, mapped to H's loopback. */
  hIp: string;
  gw: string;
}

/** P's kernel → H's kernel through pasta (pasta receives from its TAP). */
async function pastaFromTap(ref: PastaRef, port: number): Promise<Rate> {
  return kernelReceives(ref.h, '127.0.0.1', port, async () => {
    const argv = ['python3', PEER, 'send', '--connect', ref.gw, '--port', String(port), '--cc', CC];
    const tx = spawnIn(ref.p, [...argv, '--timeout', '300', '--nohash', '--bytes', String(BYTES)]);
    await waitLine(tx, /RESULT/, 400_000);
  });
}

/** H's kernel → P's kernel through pasta (pasta sends into its TAP). */
async function pastaIntoTap(ref: PastaRef, port: number): Promise<Rate> {
  return kernelReceives(ref.p, ref.hIp, port, async () => {
    const argv = ['python3', PEER, 'send', '--connect', ref.hIp, '--port', String(port), '--cc', CC];
    const tx = spawnIn(ref.h, [...argv, '--timeout', '300', '--nohash', '--bytes', String(BYTES)]);
    await waitLine(tx, /RESULT/, 400_000);
  });
}

// ------------------------------------------------------------------ CPU per thread

/** Clock ticks per second of /proc's utime/stime (USER_HZ, 100 on every Linux we run on). */
const HZ = 100;

/** utime + stime of one of this process's threads, in seconds (0 when unknown). */
function threadCpu(tid: number): number {
  if (tid <= 0) return 0;
  try {
    const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / HZ;
  } catch {
    return 0;
  }
}

/** Busy and total CPU seconds of the whole machine (/proc/stat). */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3] + (f[4] ?? 0);
  return { busy: (total - idle) / HZ, total: total / HZ };
}

interface CpuSnap {
  /** This process, every thread. */
  proc: number;
  /** This process's user time (its JavaScript and libc, not the kernel's work in its syscalls). */
  user: number;
  main: number;
  reader: number;
  writer: number;
  busy: number;
  total: number;
}

function cpuSnap(h: TapStackHost | null): CpuSnap {
  const t = (h?.tap as { threadIds?: { reader: number; writer: number } } | undefined)?.threadIds;
  const m = machineCpu();
  const u = process.cpuUsage();
  return {
    proc: (u.user + u.system) / 1e6,
    user: u.user / 1e6,
    main: threadCpu(process.pid),
    reader: threadCpu(t?.reader ?? 0),
    writer: threadCpu(t?.writer ?? 0),
    busy: m.busy,
    total: m.total,
  };
}

/** Runs `f`, returning its rate and the CPU seconds each thread and the machine spent meanwhile. */
async function measured(h: TapStackHost | null, f: () => Promise<Rate>): Promise<{ r: Rate; cpu: CpuSnap }> {
  const a = cpuSnap(h);
  const t0 = performance.now();
  const r = await f();
  const wall = (performance.now() - t0) / 1000;
  const b = cpuSnap(h);
  const cpu = {
    proc: b.proc - a.proc,
    user: b.user - a.user,
    main: b.main - a.main,
    reader: b.reader - a.reader,
    writer: b.writer - a.writer,
    busy: b.busy - a.busy,
    total: b.total - a.total,
  };
  // CPU per MiB moved (the rate moves with the machine's load, this much less), and what each
  // thread used of one CPU over the receiver's time (first byte to EOF).
  const mib = r.bytes / (1 << 20);
  const per = (x: number) => `${((1e6 * x) / mib).toFixed(0)}`;
  const pct = (x: number) => `${((100 * x) / r.seconds).toFixed(0)}%`;
  // The kernel's share: everything the machine did but this process's user time (the peer,
  // the kernel's TCP and TAP, and the copies inside our read(2)/write(2) calls).
  console.log(
    `    ${(r.bytes / r.seconds / 1e6).toFixed(1)} MB/s; CPU µs per MiB: process ${per(cpu.proc)}, stack thread ${per(cpu.main)} (${pct(cpu.main)}), reader ${per(cpu.reader)} (${pct(cpu.reader)}), writer ${per(cpu.writer)} (${pct(cpu.writer)}); machine ${per(cpu.busy)} (busy ${((100 * cpu.busy) / Math.max(cpu.total, 1e-9)).toFixed(0)}% over ${wall.toFixed(2)} s), of it not our user time ${per(cpu.busy - cpu.user)}`,
  );
  return { r, cpu };
}

async function vnetOnly(): Promise<void> {
  console.log(
    `\n## vnet TAP and veth only, ${BYTES / (1 << 20)} MiB per transfer, ${RUNS} runs (interleaved)`,
  );
  const on = await tapStack({
    kernelAddr: '10.77.1.1/24',
    stackAddr: '10.77.1.2/24',
    offload: true,
    txRingBytes: RING,
    lendRx: LEND,
    config: { tcp: TCP_CONFIG },
  });
  hosts.push(on);
  const pair = vethPair('10.77.3', true);
  const pairOn = vethPair('10.77.7', false);
  const PASTA_PORT = 6600;
  const ref = await pastaRef('10.77.11', `${PASTA_PORT}-${PASTA_PORT + RUNS}`);
  const r = {
    s2k: [] as number[],
    k2s: [] as number[],
    kk: [] as number[],
    kkOn: [] as number[],
    pastaTx: [] as number[],
    pastaRx: [] as number[],
    /** µs of CPU per MiB the machine spent outside our process's user time, per direction. */
    kernS2k: [] as number[],
    kernK2s: [] as number[],
  };
  /** CPU seconds per MiB that were not our process's user time. */
  const kernelShare = (m: { r: Rate; cpu: CpuSnap }) =>
    (1e6 * (m.cpu.busy - m.cpu.user)) / (m.r.bytes / (1 << 20));
  let port = 6000;
  for (let i = 0; i < RUNS; i++) {
    let a = 0;
    let b = 0;
    if (DIR !== 'k2s') {
      console.log(`  run ${i + 1}: sockstack → kernel`);
      const m = await measured(on, () => sockToKernel(on, on.ns, on.kernelIp, port++, { bytes: BYTES }));
      a = mbps(m.r);
      r.kernS2k.push(kernelShare(m));
    }
    if (DIR !== 's2k') {
      console.log(`  run ${i + 1}: kernel → sockstack`);
      const m = await measured(on, () => kernelToSock(on, on.ns, port++, { bytes: BYTES }));
      b = mbps(m.r);
      r.kernK2s.push(kernelShare(m));
    }
    console.log(`  run ${i + 1}: kernel → kernel, veth without offloads`);
    const c = mbps((await measured(null, () => kernelKernel(pair, port++, { bytes: BYTES }))).r);
    console.log(`  run ${i + 1}: kernel → kernel, veth with offloads`);
    const d = mbps((await measured(null, () => kernelKernel(pairOn, port++, { bytes: BYTES }))).r);
    let pasta = '';
    if (ref) {
      // The same two directions through pasta's TAP (see pastaRef).
      // (Ports pasta forwards with -t for H → P; others, which pasta leaves free on H, for P → H.)
      const e = DIR === 'k2s' ? 0 : mbps(await pastaIntoTap(ref, PASTA_PORT + i));
      const f = DIR === 's2k' ? 0 : mbps(await pastaFromTap(ref, PASTA_PORT + 100 + i));
      r.pastaTx.push(e);
      r.pastaRx.push(f);
      pasta = ` pasta->kernel=${e.toFixed(1)} kernel->pasta=${f.toFixed(1)}`;
    }
    console.log(
      `RESULT tap-tcp vnet run=${i + 1} sock->kernel=${a.toFixed(1)} kernel->sock=${b.toFixed(1)} kernel->kernel(veth,nooffload)=${c.toFixed(1)} kernel->kernel(veth,offload)=${d.toFixed(1)}${pasta} MB/s`,
    );
    r.s2k.push(a);
    r.k2s.push(b);
    r.kk.push(c);
    r.kkOn.push(d);
  }
  const kk = median(r.kk);
  const kkOn = median(r.kkOn);
  for (const [what, xs, pasta] of [
    ['sockstack → kernel (TAP, vnet hdr)', r.s2k, r.pastaTx],
    ['kernel → sockstack (TAP, vnet hdr)', r.k2s, r.pastaRx],
  ] as const)
    console.log(
      `  ${what.padEnd(36)} ${fmt(xs).padEnd(34)} ratio to veth no-offload ${(median(xs) / kk).toFixed(3)}, to veth offload ${(median(xs) / kkOn).toFixed(3)} (best run ${(Math.max(...xs) / kkOn).toFixed(3)})${ref ? `, to pasta ${(median(xs) / median(pasta)).toFixed(3)} (best runs ${(Math.max(...xs) / Math.max(...pasta)).toFixed(3)})` : ''}`,
    );
  console.log(`  ${'kernel → kernel (veth, no offload)'.padEnd(36)} ${fmt(r.kk)}`);
  console.log(`  ${'kernel → kernel (veth, offloads on)'.padEnd(36)} ${fmt(r.kkOn)}`);
  if (ref)
    // Best runs too: this pasta build (Debian's, 2023-03) stalls now and then for a second or
    // more on the kernel → pasta path, so its median there says little of what it can do.
    for (const [what, xs] of [
      ['pasta → kernel (its TAP)', r.pastaTx],
      ['kernel → pasta (its TAP)', r.pastaRx],
    ] as const)
      console.log(
        `  ${what.padEnd(36)} ${fmt(xs).padEnd(34)} ratio to veth offload ${(median(xs) / kkOn).toFixed(3)} (best run ${(Math.max(...xs) / kkOn).toFixed(3)})`,
      );
  else console.log('  (pasta is not installed: no reference rows; apt-get install passt)');
  // What half the veth-with-offloads rate leaves per MiB: every core busy for 1/(rate/2) s. If
  // the kernel's share of a TAP transfer (the peer, the kernel's TCP and TAP, the copies in our
  // read(2)/write(2)) alone exceeds it, no program at our end of the TAP reaches 0.5x here.
  const cores = availableParallelism();
  const budget = (cores * 1e6) / ((0.5 * kkOn * 1e6) / (1 << 20));
  const us = (xs: number[]) =>
    xs.length === 0
      ? 'n/a'
      : `${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}]`;
  console.log(
    `  CPU per MiB at 0.5x veth with offloads, ${cores} cores: ${budget.toFixed(0)} µs; spent outside our process's user time: sockstack → kernel ${us(r.kernS2k)}, kernel → sockstack ${us(r.kernK2s)} µs`,
  );
  const st = on.tap.stats;
  console.log(
    `  vnet TAP: ${st.rxGso} GSO super-segments of ${st.rxFrames} frames received in ${st.rxBatches} reader batches (${st.rxReused} read into buffers given back); ${st.txGso} TSO super-segments of ${st.txFrames} frames sent`,
  );
  console.log(`  sockstack TCP counters: ${JSON.stringify(pick(on.stack.tcp.stats))}`);
}

// ------------------------------------------------------------------ report

const median = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (xs: number[], d = 1) =>
  `${median(xs).toFixed(d)} MB/s [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}] n=${xs.length}`;

async function clean(): Promise<void> {
  console.log(`\n## clean links, ${BYTES / (1 << 20)} MiB per transfer, ${RUNS} runs (interleaved)`);
  // Two TAP hosts, with virtio_net_hdr offloads (checksum offload both ways, GSO super-segments
  // received whole) and without; two veth pairs, offloads off (1500-byte frames, what a TAP
  // without vnet headers carries) and the kernel's defaults (TSO/GRO, checksum offload).
  const on = await tapStack({ kernelAddr: '10.77.1.1/24', stackAddr: '10.77.1.2/24', offload: true });
  hosts.push(on);
  // The same without TSO on transmit (TapOptions.tso false: MSS-sized frames to the kernel).
  const notso = await tapStack({
    kernelAddr: '10.77.9.1/24',
    stackAddr: '10.77.9.2/24',
    offload: true,
    tso: false,
  });
  hosts.push(notso);
  const off = await tapStack({ kernelAddr: '10.77.2.1/24', stackAddr: '10.77.2.2/24', offload: false });
  hosts.push(off);
  // As before vnet headers and the writer thread: plain frames, writes on the stack's thread.
  const old = await tapStack({
    kernelAddr: '10.77.8.1/24',
    stackAddr: '10.77.8.2/24',
    offload: false,
    txRingBytes: 0,
  });
  hosts.push(old);
  if (!on.tap.offload) console.log('  (this kernel has no IFF_VNET_HDR: the "vnet" rows run without it)');
  const pair = vethPair('10.77.3', true);
  const pairOn = vethPair('10.77.7', false);
  const r = {
    onS2k: [] as number[],
    onK2s: [] as number[],
    notsoS2k: [] as number[],
    offS2k: [] as number[],
    offK2s: [] as number[],
    oldS2k: [] as number[],
    oldK2s: [] as number[],
    kk: [] as number[],
    kkOn: [] as number[],
  };
  let port = 6000;
  for (let i = 0; i < RUNS; i++) {
    const a = mbps(await sockToKernel(on, on.ns, on.kernelIp, port++, { bytes: BYTES }));
    const b = mbps(await kernelToSock(on, on.ns, port++, { bytes: BYTES }));
    const a2 = mbps(await sockToKernel(notso, notso.ns, notso.kernelIp, port++, { bytes: BYTES }));
    const a0 = mbps(await sockToKernel(off, off.ns, off.kernelIp, port++, { bytes: BYTES }));
    const b0 = mbps(await kernelToSock(off, off.ns, port++, { bytes: BYTES }));
    const a1 = mbps(await sockToKernel(old, old.ns, old.kernelIp, port++, { bytes: BYTES }));
    const b1 = mbps(await kernelToSock(old, old.ns, port++, { bytes: BYTES }));
    const c = mbps(await kernelKernel(pair, port++, { bytes: BYTES }));
    const d = mbps(await kernelKernel(pairOn, port++, { bytes: BYTES }));
    console.log(
      `RESULT tap-tcp clean run=${i + 1} vnet: sock->kernel=${a.toFixed(1)} kernel->sock=${b.toFixed(1)} vnet,no-tso: sock->kernel=${a2.toFixed(1)} plain: sock->kernel=${a0.toFixed(1)} kernel->sock=${b0.toFixed(1)} plain,no-writer: sock->kernel=${a1.toFixed(1)} kernel->sock=${b1.toFixed(1)} kernel->kernel(veth,nooffload)=${c.toFixed(1)} kernel->kernel(veth,offload)=${d.toFixed(1)} MB/s`,
    );
    r.onS2k.push(a);
    r.onK2s.push(b);
    r.notsoS2k.push(a2);
    r.offS2k.push(a0);
    r.offK2s.push(b0);
    r.oldS2k.push(a1);
    r.oldK2s.push(b1);
    r.kk.push(c);
    r.kkOn.push(d);
  }
  const kk = median(r.kk);
  const kkOn = median(r.kkOn);
  const row = (what: string, xs: number[]) =>
    console.log(
      `  ${what.padEnd(36)} ${fmt(xs).padEnd(34)} ratio to veth no-offload ${(median(xs) / kk).toFixed(3)}, to veth offload ${(median(xs) / kkOn).toFixed(3)}`,
    );
  // "plain, no writer" is the TAP as it was before vnet headers and the writer thread.
  row('sockstack → kernel (TAP, vnet hdr)', r.onS2k);
  row('kernel → sockstack (TAP, vnet hdr)', r.onK2s);
  row('sockstack → kernel (vnet hdr, no TSO)', r.notsoS2k);
  row('sockstack → kernel (TAP, plain)', r.offS2k);
  row('kernel → sockstack (TAP, plain)', r.offK2s);
  row('sockstack → kernel (plain, no writer)', r.oldS2k);
  row('kernel → sockstack (plain, no writer)', r.oldK2s);
  console.log(`  ${'kernel → kernel (veth, no offload)'.padEnd(36)} ${fmt(r.kk)}`);
  console.log(`  ${'kernel → kernel (veth, offloads on)'.padEnd(36)} ${fmt(r.kkOn)}`);
  const st = on.tap.stats;
  console.log(
    `  vnet TAP: ${st.rxGso} GSO super-segments of ${st.rxFrames} frames received, ${st.txCsumOffloaded} of ${st.txFrames} sent with NEEDS_CSUM, ${st.txGso} sent as TSO super-segments; ${st.rxBatches} reader batches`,
  );
  console.log(`  sockstack TCP counters (vnet): ${JSON.stringify(pick(on.stack.tcp.stats))}`);
  console.log(`  sockstack TCP counters (plain): ${JSON.stringify(pick(off.stack.tcp.stats))}`);
}

function pick(s: Record<string, number>) {
  const keys = ['retransmits', 'fastRetransmits', 'timeouts', 'sackRecoveries', 'outOfOrder', 'dupAcks'];
  return Object.fromEntries(keys.map((k) => [k, s[k]]));
}

async function impaired(): Promise<void> {
  if (!existsSync(BRIDGE)) {
    console.log(`\n## impaired: skipped, ${BRIDGE} not found (set IMPAIR_BRIDGE)`);
    return;
  }
  const loss = ['--ab-loss', '0.01', '--ab-delay-ms', '10'];
  const lossBa = ['--ba-loss', '0.01', '--ba-delay-ms', '10'];
  console.log(
    `\n## loss 1 % + 10 ms one-way delay on the data direction (impair-bridge.py), ${SECONDS} s per run, ${RUNS} runs`,
  );
  const s = await bridgedStack();
  const k = bridgedKernels();
  const own = await tapStack({
    kernelAddr: '10.77.6.1/24',
    stackAddr: '10.77.6.2/24',
    impair: { tx: { loss: 0.01, delay: 10_000 } },
  });
  hosts.push(own);
  const r = { s2k: [] as number[], k2s: [] as number[], own: [] as number[], kk: [] as number[] };
  let port = 7000;
  for (let i = 0; i < RUNS; i++) {
    const a = mbps(
      (
        await withBridge(s.m, s.tap, s.mdev, loss, () =>
          sockToKernel(s.h, s.b, '10.77.4.1', port++, { seconds: SECONDS }),
        )
      ).r,
    );
    const b = mbps(
      (
        await withBridge(s.m, s.tap, s.mdev, lossBa, () =>
          kernelToSock(s.h, s.b, port++, { seconds: SECONDS }),
        )
      ).r,
    );
    const c = mbps(await sockToKernel(own, own.ns, own.kernelIp, port++, { seconds: SECONDS }));
    const d = mbps(
      (await withBridge(k.m, k.ma, k.mb, loss, () => kernelKernel(k, port++, { seconds: SECONDS }))).r,
    );
    console.log(
      `RESULT tap-tcp loss1+delay10 run=${i + 1} sock->kernel=${a.toFixed(2)} kernel->sock=${b.toFixed(2)} sock->kernel(own-side impair)=${c.toFixed(2)} kernel->kernel(${CC})=${d.toFixed(2)} MB/s`,
    );
    r.s2k.push(a);
    r.k2s.push(b);
    r.own.push(c);
    r.kk.push(d);
  }
  const kk = median(r.kk);
  const f2 = (xs: number[]) => fmt(xs, 2);
  console.log(
    `  sockstack → kernel via bridge     ${f2(r.s2k)}   ratio to kernel↔kernel ${(median(r.s2k) / kk).toFixed(3)}`,
  );
  console.log(
    `  kernel(${CC}) → sockstack via bridge ${f2(r.k2s)}   ratio ${(median(r.k2s) / kk).toFixed(3)}`,
  );
  console.log(
    `  sockstack → kernel, impairment on our side of the TAP ${f2(r.own)}   ratio ${(median(r.own) / kk).toFixed(3)}`,
  );
  console.log(`  kernel(${CC}) → kernel via bridge   ${f2(r.kk)}`);
  console.log(`  sockstack TCP counters (bridge host): ${JSON.stringify(pick(s.h.stack.tcp.stats))}`);
  console.log(
    `  own-side channel: ${JSON.stringify(own.impaired?.txStats?.dropped)} sent=${own.impaired?.txStats?.sent}`,
  );
}

const why = kernelLinkUnavailable();
if (why !== undefined) {
  console.log(`tap-tcp: skipped: ${why}`);
  process.exit(0);
}
try {
  execFileSync('ethtool', ['--version'], { stdio: 'ignore' });
} catch {
  console.log(
    'tap-tcp: skipped: ethtool is missing (apt-get install ethtool): veth offloads cannot be turned off',
  );
  process.exit(0);
}
console.log(
  `# bench/tap-tcp  node ${process.version}  sockstack TCP: engine defaults (newreno, SACK), kernel senders: ${CC}`,
);
try {
  if (ONLY === 'all' || ONLY === 'clean') await clean();
  if (ONLY === 'all' || ONLY === 'impair') await impaired();
  if (ONLY === 'vnet') await vnetOnly();
} finally {
  await cleanup();
}
