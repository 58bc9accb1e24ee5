/**
 * Congestion control against the Linux kernel over a TAP (issue #16): our CUBIC and BBR
 * senders beside the kernel's, over the same path, in the same run.
 *
 * The path (`--receiver kernel`, the default since session 9): both senders send to one kernel
 * receiver, over one impaired link, and differ only in the sender.
 *
 *   [kernel sender, ns A]–TAP1–eth0 [sockstack: router, and our sender] eth1–TAP2–[kernel receiver, ns B]
 *
 * eth1 carries the link (ImpairedDevice): a bottleneck of `--rate` Mbit/s with a drop-tail
 * buffer of one BDP and `--delay` ms one way, each way; random loss hits the frames towards the
 * receiver (data, and the SYN), drawn by our link layer on eth1's transmit side before the
 * bottleneck queue. Our sender sends out of eth1; the kernel's is forwarded by our stack
 * (IPv4 forwarding, RFC 1812: eth0 passes its frames one for one, without receive coalescing)
 * and meets the same link. Each repetition draws one seed and both flows of that repetition
 * meet the same loss sequence, frame by frame from the SYN on, so a controller comparison is
 * not decided by where the first losses of a short run happen to fall (common random numbers).
 * Goodput, for both: what the kernel receiver took in order (tcpi_bytes_received, `ss -tin` in
 * its namespace) over `--seconds` from the first sample that shows data; then the sender aborts.
 *
 * `--receiver ours` is the setup up to session 8: [sockstack]–TAP–[kernel, one namespace]. Our
 * sender's receiver is the kernel, the kernel sender's is our stack (which ACKed 0.72–0.82
 * times per data segment against the kernel's 0.52–0.66: the comparison was asymmetric). Loss:
 * by default (`--loss-by link`) our link layer makes it for both senders, on its transmit side
 * for ours and its receive side for the kernel's, one seeded sequence per repetition;
 * `--loss-by iptables`: what we send is dropped on the kernel side by `iptables -m statistic
 * --mode random` on INPUT (data segments, IP length over 200), what the kernel sends by our
 * link layer, independently. (Not iptables OUTPUT: the kernel's TCP always builds GSO
 * super-segments, split after netfilter, so OUTPUT would drop whole bursts.) Goodput there: our
 * sender, what the kernel acknowledged in the window; the kernel's, what our receiver read from
 * its first byte. `--trace` prints, per flow, both sides' recovery counters (ours, and the
 * kernel's nstat) and a cwnd/ssthresh series (ours from TCP_INFO every 20 ms, the kernel's from
 * `ss -tin` every 100 ms).
 *
 *   sudo node --import tsx bench/cc-tap.ts [--rate 50] [--seconds 8] [--runs 1]
 *        [--loss 0.001,0.01,0.05] [--delay 10,50] [--only goodput|fair|ecn] [--cc cubic,bbr]
 *        [--receiver kernel|ours] [--loss-by link|iptables] [--trace]
 *
 * `--runs N` repeats each goodput point N times, interleaving the four senders (ours CUBIC,
 * the kernel's CUBIC, ours BBR, the kernel's BBR) in every repetition so that load changes hit
 * all of them alike, and reports the medians; `--cc cubic` (or bbr) runs one controller's pair only.
 *
 * Tables: goodput per loss × delay for ours/kernel CUBIC and ours/kernel BBR (ratios ours /
 * kernel and BBR / CUBIC); two flows of one controller sharing the bottleneck (Jain's
 * index); queueing delay under load (the sender's smoothed RTT above the path's) for CUBIC
 * drop-tail, CUBIC with ECN marking at a quarter BDP (RFC 3168, the link's ceThreshold AQM),
 * and BBR. Not a test: prints, never fails on speed. Needs root (namespaces, TAP, iptables).
 */
import type { ChildProcess } from 'node:child_process';
import { execFile, execFileSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ImpairedDevice } from '../src/link/impaired-device.ts';
import { ip, kernelLinkUnavailable, nsSpawn, openTapInNetns, type TapInNetns } from '../src/node/netns.ts';
import { type TapStackHost, tapStack } from '../src/node/tap-stack.ts';
import { SeededRng } from '../src/rand/rng.ts';
import type { CongestionName } from '../src/tcp/congestion/types.ts';
import { recoveryPipe } from '../src/tcp/recovery.ts';
import { T_REO, T_RTX } from '../src/tcp/tcb.ts';
import { SystemClock } from '../src/time/system.ts';
import { type RawConn, rawConnect, rawListen } from '../test/kernel/raw-tcp.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '8' },
    runs: { type: 'string', default: '1' },
    loss: { type: 'string', default: '0.001,0.01,0.05' },
    delay: { type: 'string', default: '10,50' },
    only: { type: 'string', default: 'all' },
    cc: { type: 'string', default: 'cubic,bbr' },
    trace: { type: 'boolean', default: false },
    'loss-by': { type: 'string', default: 'link' },
    receiver: { type: 'string', default: 'kernel' },
  },
});
const RATE = Number(values.rate) * 1e6;
const SECONDS = Number(values.seconds);
const RUNS = Number(values.runs);
const LOSSES = values.loss.split(',').map(Number);
const DELAYS = values.delay.split(',').map(Number);
const CCS = new Set(values.cc.split(','));
/** `--trace`: per flow, the recovery counters of both senders and a cwnd/ssthresh sample series (diagnosis). */
const TRACE = values.trace;
/**
 * Where each sender's random loss is made (see the header): 'link' (default) — our link layer
 * for both senders, on the data's way in (tx for ours, rx for the kernel's), with the same
 * seeded loss sequence for the two flows of one repetition; 'iptables' — the earlier setup,
 * our data dropped by iptables at the kernel's input, the kernel's by our link layer.
 */
const LOSS_BY = values['loss-by'];
if (LOSS_BY !== 'link' && LOSS_BY !== 'iptables') throw new Error(`--loss-by link|iptables, not ${LOSS_BY}`);
/**
 * Who receives (see the header): 'kernel' (default) — both senders send to one kernel receiver
 * in its own namespace through our stack as a router, over one impaired egress link; 'ours' —
 * the earlier setup, our sender to the kernel and the kernel's sender to our stack.
 */
const RECEIVER = values.receiver;
if (RECEIVER !== 'kernel' && RECEIVER !== 'ours') throw new Error(`--receiver kernel|ours, not ${RECEIVER}`);
const SYMMETRIC = RECEIVER === 'kernel';

/** A loss stream the bench restarts at a seed: each flow of a repetition meets the same draws. */
class LossRng extends SeededRng {
  #inner = new SeededRng(1);
  reseed(seed: number): void {
    this.#inner = new SeededRng(seed);
  }
  override nextU32(): number {
    return this.#inner.nextU32();
  }
}
/** The stack's generator (seeded from crypto); the link's streams forked from it are LossRngs. */
class BenchRng extends SeededRng {
  readonly links: LossRng[] = [];
  override fork(): SeededRng {
    const r = new LossRng(0);
    this.links.push(r);
    return r;
  }
}

/** The kernel's TCP counters in the namespace (nstat -az: absolute). */
function kernelCounters(ns: string): Record<string, number> {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'nstat', '-az'], { encoding: 'utf8' });
  const r: Record<string, number> = {};
  for (const l of out.split('\n')) {
    const m = l.match(/^(\S+)\s+(\d+)/);
    if (m) r[m[1]!] = Number(m[2]);
  }
  return r;
}
const KCOUNTERS = [
  'TcpRetransSegs',
  'TcpOutSegs',
  'TcpInSegs',
  'TcpExtTCPTimeouts',
  'TcpExtTCPLossProbes',
  'TcpExtTCPLossProbeRecovery',
  'TcpExtTCPSackRecovery',
  'TcpExtTCPSACKReorder',
  'TcpExtTCPDSACKUndo',
  'TcpExtTCPLossUndo',
  'TcpExtTCPSpuriousRTOs',
  'TcpExtTCPDSACKRecv',
  'TcpExtTCPDSACKOldSent',
  'TcpExtTCPDSACKOfoSent',
  'TcpExtDelayedACKs',
  'TcpExtTCPFastRetrans',
  'TcpExtTCPLostRetransmit',
  'TcpExtTCPSpuriousRtxHostQueues',
  'TcpExtTCPOFOQueue',
  'TcpExtTCPRcvCoalesce',
  'TcpExtTCPHystartTrainDetect',
  'TcpExtTCPHystartTrainCwnd',
  'TcpExtTCPHystartDelayDetect',
  'TcpExtTCPHystartDelayCwnd',
];
/** Our event loop's delays over one flow (--trace): a stalled loop delays the ACKs we process or send. */
function loopDelay(): () => string {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return () => {
    h.disable();
    return `loop delay ms: p50 ${(h.percentile(50) / 1e6).toFixed(1)} p99 ${(h.percentile(99) / 1e6).toFixed(1)} max ${(h.max / 1e6).toFixed(1)}`;
  };
}
function counterDiff(a: Record<string, number>, b: Record<string, number>, keys: string[]): string {
  return keys
    .map((k) => [k.replace(/^TcpExt/, ''), (b[k] ?? 0) - (a[k] ?? 0)] as const)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
const OURCOUNTERS = [
  'segmentsIn',
  'segmentsOut',
  'retransmits',
  'timeouts',
  'fastRetransmits',
  'lossProbes',
  'lossProbeRecoveries',
  'rackLosses',
  'rackTimeouts',
  'sackRecoveries',
  'dupAcks',
  'spuriousUndos',
  'spuriousRtos',
  'delayedAcks',
  'outOfOrder',
  'deferredAcks',
] as const;
function ourDiff(a: Record<string, number>, b: Record<string, number>): string {
  return counterDiff(a, b, [...OURCOUNTERS]);
}
/** The kernel's view of its connections in the namespace (ss -tin), one line per flow. */
function kernelSs(ns: string, port: number): string {
  const out = execFileSync(
    'ip',
    ['netns', 'exec', ns, 'ss', '-tinH', `( sport = :${port} or dport = :${port} )`],
    {
      encoding: 'utf8',
    },
  );
  return out.replace(/\s+/g, ' ').trim();
}
const pick = (ss: string, k: string) => ss.match(new RegExp(`\\b${k}:(\\S+)`))?.[1] ?? '-';
const PEER = new URL('../scripts/kernel-peer.py', import.meta.url).pathname;

const children = new Set<ChildProcess>();
const hosts: TapStackHost[] = [];
const sinks: TapInNetns[] = [];
async function cleanup(): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const h of hosts.splice(0)) await h.close().catch(() => {});
  for (const b of sinks.splice(0)) await b.close().catch(() => {});
}
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    void cleanup().then(() => process.exit(130));
  });

function spawnIn(ns: string, argv: string[]): ChildProcess {
  const c = nsSpawn(ns, argv[0]!, argv.slice(1));
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

function waitLine(c: ChildProcess, re: RegExp, ms: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms: ${out}`)), ms);
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
    c.once('exit', () => setImmediate(() => reject(new Error(`exited before ${re}: ${out}`))));
  });
}

/** Turns off the kernel interface's offloads: its segments leave, and arrive, as single frames. */
function offloadsOff(ns: string, ifname: string): void {
  execFileSync(
    'ip',
    ['netns', 'exec', ns, 'ethtool', '-K', ifname, 'tso', 'off', 'gso', 'off', 'gro', 'off'],
    {
      stdio: process.env.DEBUG ? 'inherit' : 'ignore',
    },
  );
}

/**
 * One path. `--receiver ours`: a TAP host whose link is the bottleneck, the kernel in one
 * namespace (loss by our link or by iptables there). `--receiver kernel`: our stack routes
 * between two TAPs — eth0 to the kernel sender's namespace (unimpaired), eth1 to the kernel
 * receiver's namespace (the bottleneck, loss on its transmit side) — and our own sender uses eth1
 * too, so both senders meet the same link, queue, loss sequence and receiver.
 */
async function path(loss: number, delayMs: number, opts: { ecnMark?: boolean; ecn?: boolean } = {}) {
  const delay = delayMs * 1000;
  const bdp = Math.ceil(((RATE / 8) * 2 * delayMs) / 1000);
  const link = {
    delay,
    bandwidth: RATE,
    queueLimit: Math.max(30_000, bdp),
    ...(opts.ecnMark ? { ceThreshold: Math.max(6000, Math.round(bdp / 4)) } : {}),
  };
  const rng = new BenchRng(crypto.getRandomValues(new Uint32Array(1))[0]!);
  const clock = new SystemClock();
  const h = await tapStack({
    rng,
    clock,
    kernelAddr: '10.79.1.1/24',
    stackAddr: '10.79.1.2/24',
    offload: false,
    ...(SYMMETRIC ? {} : { impair: { tx: link, rx: link } }),
    config: { tcp: { sndBuf: 8 << 20, rcvBuf: 8 << 20, ...(opts.ecn ? { ecn: 1 } : {}) } },
  });
  hosts.push(h);
  /** The impaired link and the direction the data takes through it, per sender. */
  let impaired = h.impaired;
  /** The kernel receiver's namespace and address (our sender's peer; the kernel sender's too when symmetric). */
  let sinkNs = h.ns;
  let sinkIp = h.kernelIp;
  if (SYMMETRIC) {
    // The kernel sender's segments are forwarded one for one (no receive coalescing on eth0),
    // so the egress link draws its loss per wire frame for both senders alike.
    h.stack.forwarding = true;
    h.stack.interfaces.find((i) => i.name === 'eth0')!.gro = false;
    const b = await openTapInNetns({
      mode: 'tap',
      addresses: ['10.79.2.1/24'],
      offload: false,
      disableIpv6: true,
    });
    sinks.push(b);
    impaired = new ImpairedDevice(b.tap, { clock, rng, tx: link, rx: link, wake: () => h.driver.kick() });
    h.driver.add(impaired);
    h.stack.addInterface({ name: 'eth1', device: impaired, addresses: ['10.79.2.2/24'] });
    ip(['route', 'add', '10.79.2.0/24', 'via', '10.79.1.2'], h.ns);
    ip(['route', 'add', '10.79.1.0/24', 'via', '10.79.2.2'], b.netns);
    sinkNs = b.netns;
    sinkIp = '10.79.2.1';
    offloadsOff(b.netns, b.tap.ifname);
  }
  // The kernel receives with a window as large as ours (8 MiB from the start, as our receiver's
  // rcvBuf), so that its receive-buffer autotuning does not cap a sender early in a run.
  execFileSync('ip', ['netns', 'exec', sinkNs, 'sysctl', '-qw', 'net.ipv4.tcp_rmem=4096 8388608 16777216']);
  // The kernel's segments leave as single frames (no TSO/GSO), so that iptables or our link
  // sees, and may drop, each one as our link layer does ours.
  offloadsOff(h.ns, h.ifname);
  if (process.env.DEBUG)
    console.log(
      execFileSync('ip', ['netns', 'exec', h.ns, 'ethtool', '-k', h.ifname], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => /segmentation-offload|scatter-gather:/.test(l))
        .join(' '),
    );
  if (loss > 0 && LOSS_BY === 'iptables' && !SYMMETRIC) {
    // Data segments only (IP length over 200 bytes): ACKs are never dropped.
    execFileSync('ip', [
      'netns',
      'exec',
      h.ns,
      'iptables',
      '-A',
      'INPUT',
      '-i',
      h.ifname,
      '-p',
      'tcp',
      '-m',
      'length',
      '--length',
      '200:65535',
      '-m',
      'statistic',
      '--mode',
      'random',
      '--probability',
      String(loss),
      '-j',
      'DROP',
    ]);
  }
  /** Restarts the links' loss draws: call at the start of each flow with the repetition's seed. */
  const reseed = (seed: number) => {
    for (const r of rng.links) r.reseed(seed);
  };
  /**
   * Switches the random loss on the data's way (on: the path's loss, off: none) for a flow of
   * `sender`: ours meets it on the transmit side (of eth0, or of eth1 when symmetric); the
   * kernel's on our receive side, or on eth1's transmit side when we only route it.
   */
  const lossOn = (sender: 'ours' | 'kernel', on: boolean) => {
    if (loss === 0 || (sender === 'ours' && LOSS_BY !== 'link' && !SYMMETRIC)) return;
    const dir = SYMMETRIC || sender === 'ours' ? 'tx' : 'rx';
    impaired?.configure(dir, on ? { ...link, loss } : link);
  };
  /** Where the kernel sender connects: our stack, or the kernel receiver behind it. */
  const kernelDst = SYMMETRIC ? sinkIp : h.stackIp;
  return { h, link, loss, reseed, lossOn, sinkNs, sinkIp, kernelDst };
}

/** Closes the second TAPs (the kernel receivers' namespaces) of symmetric paths. */
async function closePath(p: Path): Promise<void> {
  await p.h.close();
  hosts.splice(hosts.indexOf(p.h), 1);
  for (const b of sinks.splice(0)) await b.close().catch(() => {});
}

type Path = Awaited<ReturnType<typeof path>>;

interface Flow {
  mbps: number;
  srttMs: number[];
}

/**
 * Our stack sends for SECONDS to a kernel receiver: goodput is what the kernel acknowledged in
 * that window (bytes delivered in order); then the connection is aborted, so a full send buffer
 * never has to drain through the loss. Samples the sender's SRTT every 100 ms.
 */
async function oursSend(p: Path, cc: CongestionName, port: number, seed = 1): Promise<Flow> {
  const h = p.h;
  const rx = spawnIn(p.sinkNs, [
    'python3',
    PEER,
    'recv',
    '--listen',
    p.sinkIp,
    '--port',
    String(port),
    '--timeout',
    '120',
    '--nohash',
  ]);
  await waitLine(rx, /ready/, 10_000);
  // From our SYN on, as the kernel's flow meets it from its SYN: the two flows' frames draw
  // from the same sequence in the same order (SYN, ACK, data).
  p.reseed(seed);
  p.lossOn('ours', true);
  const conn: RawConn = rawConnect(h.stack, p.sinkIp, port);
  conn.c.setOptions({ congestion: cc });
  await conn.established(10_000);
  const window = SYMMETRIC ? sinkWindow(p.sinkNs, port) : undefined;
  const srttMs: number[] = [];
  const acked0 = conn.c.info().bytesAcked;
  const k0 = TRACE ? kernelCounters(p.sinkNs) : {};
  const s0 = { ...h.stack.tcp.stats };
  const t0 = performance.now();
  const trace: string[] = [];
  const lag = TRACE ? loopDelay() : undefined;
  let stallUna = -1;
  let stallN = 0;
  const sampler = setInterval(
    () => {
      const i = conn.c.info();
      if (i.rtt !== undefined) srttMs.push(i.rtt / 1000);
      if (TRACE)
        trace.push(
          `${((performance.now() - t0) / 1000).toFixed(2)}s cwnd=${Math.round(i.cwnd / i.mss)} ssthresh=${i.ssthresh > 1e9 ? '-' : Math.round(i.ssthresh / i.mss)} ${i.caState} unacked=${Math.round(i.unacked / i.mss)} rwnd=${Math.round(i.sndWnd / i.mss)} srtt=${((i.rtt ?? 0) / 1000).toFixed(0)} acked=${Math.round((i.bytesAcked - acked0) / i.mss)} rtos=${h.stack.tcp.stats.timeouts - s0.timeouts} tlps=${h.stack.tcp.stats.lossProbes - s0.lossProbes} rto=${(i.rto / 1000).toFixed(0)}`,
        );
      // A recovery that stalls (no cumulative progress for 60 ms): what the sender holds.
      if (TRACE && i.caState === 'recovery') {
        const c = conn.c;
        if (c.snd.una !== stallUna) {
          stallUna = c.snd.una;
          stallN = 0;
        } else if (++stallN === 3) {
          const segs: string[] = [];
          for (let k = 0; k < c.txLog.size && k < 12; k++) {
            const g = c.txLog.at(k);
            segs.push(
              `${((g.start - c.snd.una) >>> 0) / i.mss}${g.sacked ? 'S' : ''}${g.lost ? 'L' : ''}${g.rtx ? 'R' : ''}`,
            );
          }
          trace.push(
            `    stalled: prrCwnd=${c.prrCwnd / i.mss} prrDelivered=${c.prrDelivered / i.mss} prrOut=${c.prrOut / i.mss} pipe=${recoveryPipe(c) / i.mss} sndBufAvail=${c.sndBuf.length - ((c.sndMax - c.sndBufSeq) >>> 0)} wnd=${c.snd.wnd} rtx=${c.timerArmed(T_RTX)} reo=${c.timerArmed(T_REO)} segs ${segs.join(' ')}`,
          );
        }
      }
    },
    TRACE ? 20 : 100,
  );
  const block = new Uint8Array(1 << 20);
  crypto.getRandomValues(block.subarray(0, 65536));
  for (let i = 65536; i < block.length; i += 65536) block.copyWithin(i, 0, 65536);
  const start = performance.now();
  const end = Date.now() + SECONDS * 1000;
  const writer = (async () => {
    while (Date.now() < end && !conn.closed) await conn.writeAll(block, 120_000).catch(() => {});
  })();
  let bytes: number;
  let seconds: number;
  if (window !== undefined) {
    // Symmetric: what the kernel receiver took in order in SECONDS from its first byte.
    const w = await window;
    bytes = w.bytes;
    seconds = w.seconds;
  } else {
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    bytes = conn.c.info().bytesAcked - acked0;
    seconds = (performance.now() - start) / 1000;
  }
  clearInterval(sampler);
  if (TRACE) {
    const hs = (conn.c.cc as { hystart?: { reason?: string; delayMin: number } }).hystart;
    console.log(
      `TRACE ours ${cc} ${(bytes * 8) / seconds / 1e6} Mbit/s hystart=${hs?.reason ?? '-'} delayMin=${hs?.delayMin}`,
    );
    console.log(
      `  ours:   ${ourDiff(s0, { ...h.stack.tcp.stats })} totalRetrans=${conn.c.info().totalRetrans}`,
    );
    console.log(`  ${lag?.()}`);
    console.log(`  kernel: ${counterDiff(k0, kernelCounters(p.sinkNs), KCOUNTERS)}`);
    console.log(`  kernel rx: ${kernelSs(p.sinkNs, port)}`);
    console.log(`  ${trace.join('\n  ')}`);
  }
  conn.c.abort();
  p.lossOn('ours', false);
  // (The writer may be waiting for send-buffer space; it gives up on its own.)
  void writer;
  rx.kill('SIGKILL');
  return { mbps: (bytes * 8) / seconds / 1e6, srttMs };
}

/**
 * What the kernel receiver in `ns` took in order on `port` (tcpi_bytes_received, `ss -tin`) over
 * SECONDS from the first sample that shows data: the same measure for either sender.
 */
async function sinkWindow(ns: string, port: number): Promise<{ bytes: number; seconds: number }> {
  const sample = () =>
    new Promise<{ t: number; b: number }>((resolve) => {
      const t = performance.now();
      execFile(
        'ip',
        ['netns', 'exec', ns, 'ss', '-tinH', 'state', 'established', `( sport = :${port} )`],
        (_e, out) =>
          resolve({
            t: (t + performance.now()) / 2,
            b: Number(pick(String(out ?? ''), 'bytes_received')) || 0,
          }),
      );
    });
  let first = { t: 0, b: 0 };
  for (let i = 0; i < 3000 && first.b === 0; i++) {
    first = await sample();
    if (first.b === 0) await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, Math.max(0, first.t + SECONDS * 1000 - performance.now())));
  const last = await sample();
  return { bytes: last.b - first.b, seconds: (last.t - first.t) / 1000 };
}

/**
 * The kernel sends with its `cc`: to our receiver (`--receiver ours`: what we read in SECONDS
 * from the first byte), or through our stack to the kernel receiver (sinkWindow).
 */
async function kernelSends(p: Path, cc: string, port: number, seed = 1): Promise<Flow> {
  const h = p.h;
  const l = SYMMETRIC ? undefined : rawListen(h.stack, port);
  const rx = SYMMETRIC
    ? spawnIn(p.sinkNs, [
        'python3',
        PEER,
        'recv',
        '--listen',
        p.sinkIp,
        '--port',
        String(port),
        '--timeout',
        '120',
        '--nohash',
      ])
    : undefined;
  if (rx !== undefined) await waitLine(rx, /ready/, 10_000);
  // The kernel's data meets the loss in our link layer (see the header), from the handshake
  // on (its SYN too; goodput counts from the first byte).
  p.reseed(seed);
  p.lossOn('kernel', true);
  const tx = spawnIn(h.ns, [
    'python3',
    PEER,
    'send',
    '--connect',
    p.kernelDst,
    '--port',
    String(port),
    '--cc',
    cc,
    '--bytes',
    String(2 ** 40),
    '--timeout',
    '120',
    '--nohash',
  ]);
  const k0 = TRACE ? kernelCounters(h.ns) : {};
  const s0 = { ...h.stack.tcp.stats };
  const f0 = h.stack.stats.ip.forwarded;
  const trace: string[] = [];
  const t0 = performance.now();
  const lag = TRACE ? loopDelay() : undefined;
  let sampling = false;
  const sampler = setInterval(() => {
    if (!TRACE || sampling) return;
    sampling = true;
    execFile('ip', ['netns', 'exec', h.ns, 'ss', '-tinH', `( dport = :${port} )`], (_e, out) => {
      sampling = false;
      const ss = String(out ?? '');
      const seg = (k: string) => pick(ss, k);
      trace.push(
        `${((performance.now() - t0) / 1000).toFixed(1)}s cwnd=${seg('cwnd')} ssthresh=${seg('ssthresh')} unacked=${seg('unacked')} retrans=${seg('retrans')} lost=${seg('lost')} sacked=${seg('sacked')} rtt=${seg('rtt')} rto=${seg('rto')} acked=${Math.round(Number(seg('bytes_acked')) / 1448)} ${/app_limited/.test(ss) ? 'app_limited' : ''}${/rwnd_limited:\S+/.exec(ss)?.[0] ?? ''}`,
      );
    });
  }, 100);
  try {
    let bytes = 0;
    let seconds = 0;
    let ours = '';
    if (l === undefined) {
      const w = await sinkWindow(p.sinkNs, port);
      bytes = w.bytes;
      seconds = w.seconds;
      ours = `forwarded=${h.stack.stats.ip.forwarded - f0}`;
    } else {
      const conn = await l.next(10_000);
      let first = 0;
      let end = Date.now() + 60_000;
      for (let i = 0; i < 1e9 && Date.now() < end; i++) {
        const b = conn.c.read();
        if (b !== null) {
          if (bytes === 0) {
            first = performance.now();
            end = Date.now() + SECONDS * 1000;
          }
          bytes += b.length;
          continue;
        }
        if (conn.ended || conn.c.eof || conn.closed) break;
        await conn
          .waitUntil(
            () => conn.c.readableLength > 0 || conn.ended || conn.c.eof || conn.closed,
            Math.max(1, end - Date.now()),
            'data',
          )
          .catch(() => {});
      }
      seconds = (performance.now() - first) / 1000;
      ours = `rcvWnd=${conn.c.info().rcvWnd}`;
      conn.c.abort();
    }
    clearInterval(sampler);
    if (TRACE) {
      console.log(`TRACE kernel ${cc} ${(bytes * 8) / seconds / 1e6} Mbit/s`);
      console.log(`  kernel: ${counterDiff(k0, kernelCounters(h.ns), KCOUNTERS)}`);
      console.log(`  kernel tx: ${kernelSs(h.ns, port)}`);
      console.log(`  ours:   ${ourDiff(s0, { ...h.stack.tcp.stats })} ${ours}`);
      console.log(`  ${lag?.()}`);
      console.log(`  ${trace.join('\n  ')}`);
    }
    return { mbps: (bytes * 8) / seconds / 1e6, srttMs: [] };
  } finally {
    clearInterval(sampler);
    tx.kill('SIGKILL');
    rx?.kill('SIGKILL');
    l?.close();
    p.lossOn('kernel', false);
  }
}

const median = (xs: number[]) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const f2 = (x: number) => x.toFixed(2);
let port = 7100;

async function goodput(): Promise<void> {
  console.log(
    `\n## goodput, one flow, ${values.rate} Mbit/s bottleneck (buffer 1 BDP), ${SECONDS} s, median of ${RUNS}`,
  );
  console.log('');
  console.log(
    '| loss | one-way delay | ours CUBIC | kernel CUBIC | ratio | ours BBR | kernel BBR | ratio | ours BBR / ours CUBIC | kernel BBR / kernel CUBIC |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const loss of LOSSES)
    for (const delayMs of DELAYS) {
      const p = await path(loss, delayMs);
      const h = p.h;
      const r = { oc: [] as number[], kc: [] as number[], ob: [] as number[], kb: [] as number[] };
      for (let i = 0; i < RUNS; i++) {
        // One loss sequence per repetition, the same for our sender and the kernel's.
        const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
        if (CCS.has('cubic')) {
          r.oc.push((await oursSend(p, 'cubic', port++, seed)).mbps);
          r.kc.push((await kernelSends(p, 'cubic', port++, seed)).mbps);
        }
        if (CCS.has('bbr')) {
          r.ob.push((await oursSend(p, 'bbr', port++, seed)).mbps);
          r.kb.push((await kernelSends(p, 'bbr', port++, seed)).mbps);
        }
      }
      const [oc, kc, ob, kb] = [median(r.oc), median(r.kc), median(r.ob), median(r.kb)];
      console.log(
        `| ${loss * 100}% | ${delayMs} ms | ${f2(oc)} | ${f2(kc)} | ${f2(oc / kc)} | ${f2(ob)} | ${f2(kb)} | ${f2(ob / kb)} | ${f2(ob / oc)} | ${f2(kb / kc)} |`,
      );
      console.log(`RESULT cc-tap loss=${loss} delay=${delayMs} ${JSON.stringify(r)}`);
      if (process.env.DEBUG)
        console.log(
          execFileSync('ip', ['netns', 'exec', h.ns, 'iptables', '-L', '-v', '-n', '-x'], {
            encoding: 'utf8',
          }),
          execFileSync(
            'ip',
            ['netns', 'exec', h.ns, 'nstat', '-az', 'TcpRetransSegs', 'TcpOutSegs', 'TcpInSegs'],
            {
              encoding: 'utf8',
            },
          ),
          JSON.stringify(h.stack.tcp.stats),
        );
      await closePath(p);
    }
}

const jain = (xs: number[]) => {
  const s = xs.reduce((a, b) => a + b, 0);
  return (s * s) / (xs.length * xs.reduce((a, b) => a + b * b, 0));
};

async function fairness(): Promise<void> {
  const delayMs = DELAYS[0]!;
  console.log(
    `\n## two flows of one controller sharing the bottleneck (${values.rate} Mbit/s, ${delayMs} ms one way, no loss), ${SECONDS} s`,
  );
  console.log('');
  console.log('| sender | controller | flow 1 Mbit/s | flow 2 Mbit/s | Jain index |');
  console.log('|---|---|---:|---:|---:|');
  const p = await path(0, delayMs);
  for (const cc of ['cubic', 'bbr'] as const) {
    const ours = await Promise.all([oursSend(p, cc, port++), oursSend(p, cc, port++)]);
    console.log(
      `| sockstack | ${cc} | ${f2(ours[0]!.mbps)} | ${f2(ours[1]!.mbps)} | ${jain(ours.map((x) => x.mbps)).toFixed(3)} |`,
    );
    const kern = await Promise.all([kernelSends(p, cc, port++), kernelSends(p, cc, port++)]);
    console.log(
      `| kernel | ${cc} | ${f2(kern[0]!.mbps)} | ${f2(kern[1]!.mbps)} | ${jain(kern.map((x) => x.mbps)).toFixed(3)} |`,
    );
  }
  await closePath(p);
}

async function queueing(): Promise<void> {
  const delayMs = DELAYS[0]!;
  console.log(
    `\n## queueing delay under load (${values.rate} Mbit/s, ${delayMs} ms one way, buffer 1 BDP, no loss): our sender's SRTT, median over the run`,
  );
  console.log('');
  console.log('| sender | goodput Mbit/s | median SRTT ms | queueing ms (SRTT − 2 × delay) |');
  console.log('|---|---:|---:|---:|');
  const rows: [string, CongestionName, { ecnMark?: boolean; ecn?: boolean }][] = [
    ['CUBIC, drop-tail', 'cubic', {}],
    ['CUBIC + ECN, CE above BDP/4', 'cubic', { ecnMark: true, ecn: true }],
    ['BBR, drop-tail', 'bbr', {}],
  ];
  for (const [what, cc, o] of rows) {
    const p = await path(0, delayMs, o);
    const f = await oursSend(p, cc, port++);
    const srtt = median(f.srttMs.slice(Math.floor(f.srttMs.length / 4)));
    console.log(`| ${what} | ${f2(f.mbps)} | ${srtt.toFixed(1)} | ${(srtt - 2 * delayMs).toFixed(1)} |`);
    await closePath(p);
  }
}

const why = kernelLinkUnavailable();
if (why !== undefined) {
  console.log(`cc-tap: skipped: ${why}`);
  process.exit(0);
}
const avail = execFileSync('sysctl', ['-n', 'net.ipv4.tcp_available_congestion_control'], {
  encoding: 'utf8',
}).trim();
console.log(
  `# bench/cc-tap  node ${process.version}  kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`,
);
console.log(`# kernel congestion controls available: ${avail}`);
if (!avail.split(/\s+/).includes('bbr')) console.log('# (no BBR in this kernel: its BBR columns fail)');
try {
  if (values.only === 'all' || values.only === 'goodput') await goodput();
  if (values.only === 'all' || values.only === 'fair') await fairness();
  if (values.only === 'all' || values.only === 'ecn') await queueing();
} finally {
  await cleanup();
}
process.exit(0);
