// A QEMU guest's download through `sockstack gateway` vs through passt (Debian's), same
// guest, same file, same run. Not a test: prints numbers, never fails on speed.
// Run (needs qemu-system-x86, busybox-static, passt and the kernel .ci/run unpacks):
//   node --import tsx bench/gateway.ts [MiB=64] [rounds=2]
// The guest boots once per setup (TCG, ~10-80 s on a loaded 2-core machine), takes a
// DHCP lease, then fetches http://ROUTER:PORT/big.bin to /dev/null `rounds` times, timing
// each fetch with /proc/uptime (10 ms resolution) and printing MiB/s. Both setups map the
// router address to the host's 127.0.0.1, where this script runs the HTTP server.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../src/node/gateway.ts';
import { buildInitramfs, findGuestKernel, VIRTIO_MODULES } from '../test/gateway/vm.ts';

const MiB = 1 << 20;
const size = Number(process.argv[2] ?? 64) * MiB;
const rounds = Number(process.argv[3] ?? 2);
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

function qemu(kernel: string, initrd: string, sock: string, port: number): ChildProcess {
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
      ...[
        '-netdev',
        `stream,id=n0,server=off,addr.type=unix,addr.path=${sock}`,
        '-device',
        'virtio-net-pci,netdev=n0',
      ],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
}

interface GuestResult {
  /** MiB/s per round. */
  rates: number[];
  /** Small HTTP fetches per second, one connection each (wget's own start-up included). */
  connsPerSec: number;
}

/** Runs the guest to BENCH-DONE (bounded at 10 minutes). */
function guestRun(child: ChildProcess): Promise<GuestResult> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`guest did not finish:\n${out}`));
    }, 600_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
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
      resolve({ rates, connsPerSec });
    });
  });
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

    // sockstack gateway, in this process.
    console.error('booting the guest on sockstack gateway ...');
    const gw = await startGateway({ socket: join(dir, 'gw.sock') });
    results.push([
      'sockstack gateway',
      await guestRun(qemu(kernel.vmlinuz, initrd, join(dir, 'gw.sock'), port)),
    ]);
    await gw.close();

    // passt (drops to nobody before binding: its socket directory must be nobody's, vm-guests.md).
    const run = join(dir, 'passt');
    chmodSync(dir, 0o711); // nobody must reach the directory inside (mkdtemp makes it 0700)
    mkdirSync(run);
    chownSync(run, 65534, 65534);
    console.error('booting the guest on passt ...');
    const psock = join(run, 'p.sock');
    const passt = spawn('passt', ['-f', '-e', '-1', '-4', '-s', psock, '--no-dhcp-dns', '--no-dhcp-search'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let passtLog = '';
    passt.stderr!.on('data', (b: Buffer) => {
      passtLog += b.toString();
    });
    // Ready once it says so (bounded: 20 s). No probe connection: passt serves one client.
    for (let i = 0; i < 200 && !/You can now start qemu/.test(passtLog); i++)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 200));
    try {
      results.push(['passt', await guestRun(qemu(kernel.vmlinuz, initrd, psock, port))]);
    } catch (e) {
      console.error(`passt log:\n${passtLog}`);
      throw e;
    } finally {
      passt.kill();
    }
    web.close();

    const best = (xs: number[]) => Math.max(...xs);
    const passtRes = results[results.length - 1][1];
    console.log(
      `\nQEMU guest (TCG, virtio-net, 1 vCPU): ${size / MiB} MiB downloads (best of ${rounds}), ${CONNS} small fetches:`,
    );
    console.log('| path | MiB/s (each round) | best | vs passt | connections/s | vs passt |');
    console.log('|---|---|---|---|---|---|');
    for (const [name, r] of results)
      console.log(
        `| ${name} | ${r.rates.map((x) => x.toFixed(0)).join(', ')} | ${best(r.rates).toFixed(0)} | ` +
          `${(best(r.rates) / best(passtRes.rates)).toFixed(2)}× | ${r.connsPerSec.toFixed(0)} | ${(r.connsPerSec / passtRes.connsPerSec).toFixed(2)}× |`,
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
