// A QEMU guest's download through `sockstack gateway` vs through passt (Debian's) and
// QEMU's own user-mode network (libslirp, `-netdev user`: slirp4netns's engine, which runs
// inside QEMU here because slirp4netns itself serves a network namespace, not a VM), same
// guest, same file, same run. Not a test: prints numbers, never fails on speed.
// Run (needs qemu-system-x86, busybox-static, passt and the kernel .ci/run unpacks):
//   node --import tsx bench/gateway.ts [MiB=64] [rounds=3]
// The guest boots once per setup (TCG, ~10-80 s on a loaded 2-core machine), takes a
// DHCP lease, then fetches http://ROUTER:PORT/big.bin to /dev/null `rounds` times, timing
// each fetch with /proc/uptime (10 ms resolution) and printing MiB/s. Every setup maps the
// router address to the host's 127.0.0.1, where this script runs the HTTP server.
// The gateway runs as its own process (`sockstack gateway`), as passt does, so the CPU
// each network process spent during the downloads (from /proc/PID/stat) is printed too:
// on a machine shared with other work that number is steadier than the throughput.
// BENCH_GW_CPU_PROF=dir profiles the gateway process (node --cpu-prof) into dir.
// BENCH_GW_ARGS="--link-sndbuf 0" passes more options to `sockstack gateway` (A/B runs).
// BENCH_PCAP_DIR=dir also writes the guest link's frames: dir/gateway.pcapng, dir/passt.pcap.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInitramfs, findGuestKernel, VIRTIO_MODULES } from '../test/gateway/vm.ts';

const MiB = 1 << 20;
const size = Number(process.argv[2] ?? 64) * MiB;
const rounds = Number(process.argv[3] ?? 3);
const pcapDir = process.env.BENCH_PCAP_DIR;
/** BENCH_SETUPS=gateway,passt,slirp (default all): which setups to run. */
const setups = process.env.BENCH_SETUPS?.split(',');
const ROOT = new URL('..', import.meta.url).pathname;
/** Small fetches (one connection each) for the connection setup rate. */
const CONNS = 100;

const INIT = `#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${VIRTIO_MODULES.join(' ')}; do insmod /lib/$m.ko; done
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -n -q -t 10 -T 1 -s /udhcpc.sh
HP=$(sed -n 's/.*hostport=\\([0-9]*\\).*/\\1/p' /proc/cmdline)
R=$(cat /tmp/router)
echo BENCH-GO
i=0
while [ $i -lt ${rounds} ]; do
  t0=$(cut -d' ' -f1 /proc/uptime)
  wget -q -O /dev/null "http://$R:$HP/big.bin" || echo "BENCH-FAIL"
  t1=$(cut -d' ' -f1 /proc/uptime)
  echo "BENCH-ROUND $t0 $t1"
  i=$((i+1))
done
t0=$(cut -d' ' -f1 /proc/uptime)
i=0
while [ $i -lt ${CONNS} ]; do
  wget -q -O /dev/null "http://$R:$HP/small" || echo "BENCH-FAIL"
  i=$((i+1))
done
t1=$(cut -d' ' -f1 /proc/uptime)
echo "BENCH-CONNS $t0 $t1"
echo BENCH-DONE
poweroff -f
`;
const UDHCPC = `#!/bin/sh
case "$1" in
bound|renew)
  ifconfig "$interface" "$ip" netmask "$subnet" \${mtu:+mtu $mtu}
  route add default gw "$router"
  echo "$router" > /tmp/router
  ;;
esac
exit 0
`;

/** `-netdev stream` to a Unix socket (the gateway, passt). */
const streamNetdev = (sock: string) => `stream,id=n0,server=off,addr.type=unix,addr.path=${sock}`;
/** QEMU's libslirp: 10.0.2.2 is the host's loopback, as in the other setups. */
const SLIRP_NETDEV = 'user,id=n0,net=10.0.2.0/24,host=10.0.2.2';

function qemu(kernel: string, initrd: string, netdev: string, port: number): ChildProcess {
  return spawn(
    'qemu-system-x86_64',
    [
      ...[
        '-accel',
        'tcg',
        '-m',
        '512',
        '-smp',
        '1',
        '-nographic',
        '-no-reboot',
        '-nodefaults',
        '-serial',
        'stdio',
      ],
      ...['-kernel', kernel, '-initrd', initrd],
      ...['-append', `console=ttyS0 loglevel=3 panic=-1 ipv6.disable=1 hostport=${port}`],
      ...['-netdev', netdev, '-device', 'virtio-net-pci,netdev=n0'],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
}

interface GuestResult {
  /** MiB/s per round. */
  rates: number[];
  /** Small HTTP fetches per second, one connection each (wget's own start-up included). */
  connsPerSec: number;
  /** CPU ms per MiB downloaded: the network process's (undefined: it runs inside QEMU), QEMU's. */
  netCpuPerMiB: number | undefined;
  qemuCpuPerMiB: number;
}

/** CPU time (user + system) of a process so far, in ms (/proc/PID/stat, clock ticks of 10 ms). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime, stime (fields 14, 15)
  } catch {
    return Number.NaN;
  }
}

/**
 * Runs the guest to BENCH-DONE (bounded at 10 minutes), sampling the CPU time of QEMU and
 * of the network process `netPid` when the downloads start and when the last one ended.
 */
function guestRun(child: ChildProcess, netPid: number | undefined): Promise<GuestResult> {
  return new Promise((resolve, reject) => {
    let out = '';
    let cpu0: [number, number] | undefined;
    let cpu1: [number, number] | undefined;
    const sample = (): [number, number] => [cpuMs(netPid), cpuMs(child.pid)];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`guest did not finish:\n${out}`));
    }, 600_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (!cpu0 && /BENCH-GO/.test(out)) cpu0 = sample();
      if (!cpu1 && (out.match(/BENCH-ROUND /g)?.length ?? 0) >= rounds) cpu1 = sample();
    });
    child.once('exit', () => {
      clearTimeout(timer);
      if (/BENCH-FAIL/.test(out) || !/BENCH-DONE/.test(out))
        return reject(new Error(`guest failed:\n${out}`));
      const rates = [...out.matchAll(/BENCH-ROUND ([\d.]+) ([\d.]+)/g)].map(
        (m) => size / MiB / Math.max(0.01, Number(m[2]) - Number(m[1])),
      );
      const c = /BENCH-CONNS ([\d.]+) ([\d.]+)/.exec(out);
      const connsPerSec = c ? CONNS / Math.max(0.01, Number(c[2]) - Number(c[1])) : 0;
      const mib = (rounds * size) / MiB;
      const per = (i: 0 | 1) => (cpu0 && cpu1 ? (cpu1[i] - cpu0[i]) / mib : Number.NaN);
      resolve({
        rates,
        connsPerSec,
        netCpuPerMiB: netPid === undefined ? undefined : per(0),
        qemuCpuPerMiB: per(1),
      });
    });
  });
}

/** Ends a child (SIGTERM) and waits for it, unless it has exited already. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Waits (bounded: 30 s) until `log()` matches `ready`. */
async function waitFor(log: () => string, ready: RegExp, what: string): Promise<void> {
  for (let i = 0; i < 300 && !ready.test(log()); i++) await new Promise((r) => setTimeout(r, 100));
  if (!ready.test(log())) throw new Error(`${what} did not start:\n${log()}`);
}

/** `sockstack gateway` in its own process (as a user runs it, and as passt runs). */
async function runGateway(vmlinuz: string, initrd: string, dir: string, port: number): Promise<GuestResult> {
  console.error('booting the guest on sockstack gateway ...');
  const sock = join(dir, 'gw.sock');
  const args = [join(ROOT, 'bin/sockstack.mjs'), 'gateway', '--socket', sock, '--status', '0'];
  if (pcapDir) args.push('--pcap', join(pcapDir, 'gateway.pcapng'));
  args.push(...(process.env.BENCH_GW_ARGS?.split(' ').filter(Boolean) ?? []));
  const prof = process.env.BENCH_GW_CPU_PROF; // a directory: the gateway writes a V8 CPU profile there
  if (prof) args.unshift('--cpu-prof', '--cpu-prof-dir', prof);
  const gw = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  gw.stderr!.on('data', (b: Buffer) => {
    log += b.toString();
  });
  try {
    await waitFor(() => log, /waiting for QEMU/, 'sockstack gateway');
    return await guestRun(qemu(vmlinuz, initrd, streamNetdev(sock), port), gw.pid);
  } catch (e) {
    console.error(`gateway log:\n${log}`);
    throw e;
  } finally {
    await stop(gw);
  }
}

/** passt (drops to nobody before binding: its socket directory must be nobody's, vm-guests.md). */
async function runPasst(vmlinuz: string, initrd: string, dir: string, port: number): Promise<GuestResult> {
  const run = join(dir, 'passt');
  chmodSync(dir, 0o711); // nobody must reach the directory inside (mkdtemp makes it 0700)
  mkdirSync(run);
  chownSync(run, 65534, 65534);
  console.error('booting the guest on passt ...');
  const psock = join(run, 'p.sock');
  const args = ['-f', '-e', '-1', '-4', '-s', psock, '--no-dhcp-dns', '--no-dhcp-search'];
  if (pcapDir) args.push('--pcap', join(run, 'passt.pcap'));
  const passt = spawn('passt', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  passt.stderr!.on('data', (b: Buffer) => {
    log += b.toString();
  });
  try {
    // Ready once it says so. No probe connection: passt serves one client.
    await waitFor(() => log, /You can now start qemu/, 'passt');
    await new Promise((r) => setTimeout(r, 200));
    return await guestRun(qemu(vmlinuz, initrd, streamNetdev(psock), port), passt.pid);
  } catch (e) {
    console.error(`passt log:\n${log}`);
    throw e;
  } finally {
    await stop(passt); // passt -1 may have exited already, with its guest
    if (pcapDir) copyFileSync(join(run, 'passt.pcap'), join(pcapDir, 'passt.pcap'));
  }
}

async function main(): Promise<void> {
  const kernel = findGuestKernel();
  if (typeof kernel === 'string') {
    console.log(`skipped: ${kernel}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-gateway-'));
  try {
    const initrd = join(dir, 'initrd.gz');
    writeFileSync(initrd, buildInitramfs(kernel, INIT, { 'udhcpc.sh': UDHCPC }));
    const big = Buffer.alloc(size, 0x5a);
    const web = http.createServer((req, res) => {
      if (req.url === '/small') res.end('ok\n');
      else res.writeHead(200, { 'content-length': size }).end(big);
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    const port = (web.address() as AddressInfo).port;
    const results: [string, GuestResult][] = [];

    const want = (name: string) => !setups || setups.includes(name);
    if (want('gateway'))
      results.push(['sockstack gateway', await runGateway(kernel.vmlinuz, initrd, dir, port)]);
    if (want('passt')) results.push(['passt', await runPasst(kernel.vmlinuz, initrd, dir, port)]);
    if (want('slirp')) {
      const slirp = qemu(kernel.vmlinuz, initrd, SLIRP_NETDEV, port);
      results.push(['libslirp (QEMU -netdev user)', await guestRun(slirp, undefined)]);
    }
    web.close();

    const best = (xs: number[]) => Math.max(...xs);
    const passtRes = (results.find(([n]) => n === 'passt') ?? results[0])[1];
    console.log(
      `\nQEMU guest (TCG, virtio-net, 1 vCPU): ${size / MiB} MiB downloads (best of ${rounds}), ${CONNS} small fetches.` +
        " CPU: per MiB over all rounds, from the first download's start to the last one's end:",
    );
    console.log(
      '| path | MiB/s (each round) | best | vs passt | net process CPU ms/MiB | QEMU CPU ms/MiB | connections/s | vs passt |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const [name, r] of results)
      console.log(
        `| ${name} | ${r.rates.map((x) => x.toFixed(0)).join(', ')} | ${best(r.rates).toFixed(0)} | ` +
          `${(best(r.rates) / best(passtRes.rates)).toFixed(2)}× | ` +
          `${r.netCpuPerMiB === undefined ? 'in QEMU' : r.netCpuPerMiB.toFixed(2)} | ${r.qemuCpuPerMiB.toFixed(2)} | ` +
          `${r.connsPerSec.toFixed(0)} | ${(r.connsPerSec / passtRes.connsPerSec).toFixed(2)}× |`,
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
