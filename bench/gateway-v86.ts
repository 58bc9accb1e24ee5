// A v86 guest's download through sockstack's gateway vs through passt (Debian's), same
// guest, same emulator, same file, same run. Not a test: prints numbers, never fails on speed.
// Run (needs the v86 package, passt, SeaBIOS and the i386 guest .ci/run unpacks):
//   node --import tsx bench/gateway-v86.ts [MiB=32] [rounds=2] [pairs=2] [mtu=1500]
// The guest (Debian 686 kernel + busybox-static:i386 under v86 in this process, virtio card)
// boots once per setup and pair (sockstack, passt, sockstack, passt, ...: the machine's
// load drifts, so the setups alternate and the best round counts), takes a DHCP lease,
// then fetches http://ROUTER:PORT/big.bin to /dev/null `rounds` times, then 20 small files
// (one connection each). Each fetch is timed on the host between the guest's console
// markers (v86's clocks follow real time).
// Both setups put the card on the same V86Link (src/link/v86.ts), which holds frames while
// the guest has no receive buffer posted; for passt the link's frames go over passt's Unix
// socket in QEMU's stream framing (a 4-byte big-endian length, then the frame), as
// vm-guests.md did. Both map the router address to the host's 127.0.0.1, where this script
// runs the HTTP server. The card's MTU (`net_device.mtu`) and the guest's interface MTU
// are `mtu` in both setups (the guest sets it; the leases' MTU options are not applied).
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { V86Link } from '../src/link/v86.ts';
import { startV86Gateway } from '../src/node/v86-gateway.ts';
import { type BootedV86, bootV86, findV86Guest, type V86Guest } from '../test/gateway/v86-guest.ts';
import { VIRTIO_MODULES } from '../test/gateway/vm.ts';

const MiB = 1 << 20;
const size = Number(process.argv[2] ?? 32) * MiB;
const rounds = Number(process.argv[3] ?? 2);
const pairs = Number(process.argv[4] ?? 2);
const mtu = Number(process.argv[5] ?? 1500);
const CONNS = 20;

const INIT = `#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${VIRTIO_MODULES.join(' ')}; do insmod /lib/$m.ko; done
ip link set lo up
ip link set eth0 up
ip link set eth0 mtu ${mtu}
udhcpc -i eth0 -n -q -t 10 -T 1 -s /udhcpc.sh
HP=$(sed -n 's/.*hostport=\\([0-9]*\\).*/\\1/p' /proc/cmdline)
R=$(cat /tmp/router)
i=0
while [ $i -lt ${rounds} ]; do
  echo "BENCH-START $i"
  wget -q -O /dev/null "http://$R:$HP/big.bin" || echo "BENCH-FAIL"
  echo "BENCH-END $i"
  i=$((i+1))
done
echo "BENCH-CONNS-START"
i=0
while [ $i -lt ${CONNS} ]; do
  wget -q -O /dev/null "http://$R:$HP/small" || echo "BENCH-FAIL"
  i=$((i+1))
done
echo "BENCH-CONNS-END"
echo BENCH-DONE
poweroff -f
`;
// The lease's MTU is not applied: init set the interface's (passt offers 65520 whatever the card).
const UDHCPC = `#!/bin/sh
case "$1" in
bound|renew)
  ifconfig "$interface" "$ip" netmask "$subnet"
  route add default gw "$router"
  echo "$router" > /tmp/router
  ;;
esac
exit 0
`;

interface GuestResult {
  /** MiB/s per round. */
  rates: number[];
  /** Small HTTP fetches per second, one connection each (wget's own start-up included). */
  connsPerSec: number;
}

/** Runs the booted guest to BENCH-DONE, timing the markers on the host (bounded: 10 minutes). */
async function guestRun(vm: BootedV86): Promise<GuestResult> {
  const marks = new Map<string, number>();
  const c = vm.console;
  const deadline = Date.now() + 600_000;
  const left = () => Math.max(1, deadline - Date.now());
  const mark = async (m: string) => {
    await c.waitFor(new RegExp(`${m}\\r?\\n`), left());
    marks.set(m, performance.now());
    if (/BENCH-FAIL/.test(c.out)) throw new Error(`guest failed:\n${c.out}`);
  };
  try {
    for (let i = 0; i < rounds; i++) {
      await mark(`BENCH-START ${i}`);
      await mark(`BENCH-END ${i}`);
    }
    await mark('BENCH-CONNS-START');
    await mark('BENCH-CONNS-END');
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- guest console ---\n${c.out}`);
  }
  const rates = [];
  for (let i = 0; i < rounds; i++)
    rates.push(size / MiB / ((marks.get(`BENCH-END ${i}`)! - marks.get(`BENCH-START ${i}`)!) / 1000));
  const connsPerSec = CONNS / ((marks.get('BENCH-CONNS-END')! - marks.get('BENCH-CONNS-START')!) / 1000);
  return { rates, connsPerSec };
}

async function viaSockstack(guest: V86Guest, port: number): Promise<GuestResult> {
  const vm = bootV86(guest, INIT, { 'udhcpc.sh': UDHCPC }, { cmdline: `hostport=${port}`, mtu });
  const gw = startV86Gateway(vm.emulator, { mtu });
  try {
    const r = await guestRun(vm);
    console.error(`  gateway: ${gw.statusLine()}; link: ${JSON.stringify(gw.link.stats)}`);
    return r;
  } finally {
    gw.close();
    await vm.destroy();
  }
}

let passtRuns = 0;

async function viaPasst(guest: V86Guest, port: number, dir: string): Promise<GuestResult> {
  // passt drops to nobody before binding: its socket directory must be nobody's (vm-guests.md).
  const run = join(dir, `passt-${passtRuns++}`);
  chmodSync(dir, 0o711);
  mkdirSync(run);
  chownSync(run, 65534, 65534);
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
  const vm = bootV86(guest, INIT, { 'udhcpc.sh': UDHCPC }, { cmdline: `hostport=${port}`, mtu });
  const link = new V86Link(vm.emulator, { mtu });
  const sock = net.createConnection(psock);
  sock.setNoDelay(true);
  // Guest → passt: one length-prefixed frame per write.
  link.onReceive = (frame) => {
    const hdr = Buffer.alloc(4);
    hdr.writeUInt32BE(frame.length);
    sock.write(Buffer.concat([hdr, frame]));
  };
  // passt → guest: split the stream into frames, hand each to the link (paced to the ring).
  let pending: Buffer = Buffer.alloc(0);
  sock.on('data', (b: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, b]) : b;
    let at = 0;
    while (pending.length - at >= 4) {
      const n = pending.readUInt32BE(at);
      if (pending.length - at - 4 < n) break;
      link.transmit(new Uint8Array(pending.subarray(at + 4, at + 4 + n)));
      at += 4 + n;
    }
    pending = pending.subarray(at);
  });
  sock.on('error', (e) => console.error(`passt socket: ${e.message}`));
  try {
    const r = await guestRun(vm);
    console.error(`  link: ${JSON.stringify(link.stats)}`);
    return r;
  } catch (e) {
    console.error(`passt log:\n${passtLog}`);
    throw e;
  } finally {
    link.close();
    sock.destroy();
    passt.kill();
    await vm.destroy();
  }
}

async function main(): Promise<void> {
  const guest = await findV86Guest();
  if (typeof guest === 'string') {
    console.log(`skipped: ${guest}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-gateway-v86-'));
  const big = Buffer.alloc(size, 0x5a);
  const web = http.createServer((req, res) => {
    if (req.url === '/small') res.end('ok\n');
    else res.writeHead(200, { 'content-length': size }).end(big);
  });
  try {
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    const port = (web.address() as net.AddressInfo).port;
    const ours: GuestResult = { rates: [], connsPerSec: 0 };
    const theirs: GuestResult = { rates: [], connsPerSec: 0 };
    const add = (to: GuestResult, r: GuestResult) => {
      to.rates.push(...r.rates);
      to.connsPerSec = Math.max(to.connsPerSec, r.connsPerSec);
    };
    for (let p = 0; p < pairs; p++) {
      console.error(`pair ${p + 1}/${pairs}: booting the v86 guest on sockstack gateway ...`);
      add(ours, await viaSockstack(guest, port));
      console.error(`pair ${p + 1}/${pairs}: booting the v86 guest on passt ...`);
      add(theirs, await viaPasst(guest, port, dir));
    }
    const results: [string, GuestResult][] = [
      ['sockstack gateway', ours],
      ['passt', theirs],
    ];
    const best = (xs: number[]) => Math.max(...xs);
    const passtRes = theirs;
    console.log(
      `\nv86 guest (Node, virtio-net, MTU ${mtu}): ${size / MiB} MiB downloads (best of ${rounds * pairs}, ` +
        `${pairs} alternating boots per path), ${CONNS} small fetches (best boot):`,
    );
    console.log('| path | MiB/s (each round) | best | vs passt | connections/s | vs passt |');
    console.log('|---|---|---|---|---|---|');
    for (const [name, r] of results)
      console.log(
        `| ${name} | ${r.rates.map((x) => x.toFixed(2)).join(', ')} | ${best(r.rates).toFixed(2)} | ` +
          `${(best(r.rates) / best(passtRes.rates)).toFixed(2)}× | ${r.connsPerSec.toFixed(1)} | ${(r.connsPerSec / passtRes.connsPerSec).toFixed(2)}× |`,
      );
  } finally {
    web.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
