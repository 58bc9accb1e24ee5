/**
 * A v86 guest with a network: boots a Linux bzImage (32-bit) under v86 in this process,
 * its virtio card on sockstack's gateway (DHCP, DNS forwarding, NAT to this host's sockets;
 * docs/gateway.md). The serial console is this terminal.
 *
 *   npx tsx examples/v86-gateway.ts --bzimage vmlinuz-6.1.0-50-686 --initrd initrd.gz \
 *     [--cmdline 'console=ttyS0'] [--dns-upstream 127.0.0.53] [--memory 128] \
 *     [--bios /usr/share/seabios/bios.bin] [--vga-bios /usr/share/seabios/vgabios-stdvga.bin]
 *
 * In the guest: `udhcpc -i eth0` (the lease: 10.0.2.15/24, router 10.0.2.2, DNS 10.0.2.3),
 * then the host's 127.0.0.1 is 10.0.2.2. v86's package ships no BIOS: Debian's seabios
 * package has one. The initrd needs the kernel's virtio_net modules (test/gateway/vm.ts
 * builds such an initramfs).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { V86 } from 'v86';
import type { V86Emulator } from '../src/link/v86.ts';
import { startV86Gateway } from '../src/node/v86-gateway.ts';

const { values: o } = parseArgs({
  options: {
    bzimage: { type: 'string' },
    initrd: { type: 'string' },
    cmdline: { type: 'string', default: 'console=ttyS0' },
    'dns-upstream': { type: 'string' },
    memory: { type: 'string', default: '128' },
    bios: { type: 'string', default: '/usr/share/seabios/bios.bin' },
    'vga-bios': { type: 'string', default: '/usr/share/seabios/vgabios-stdvga.bin' },
  },
});
if (!o.bzimage) {
  console.error('usage: examples/v86-gateway.ts --bzimage FILE [--initrd FILE] (see the comment at the top)');
  process.exit(2);
}
const image = (path: string) => {
  const b = readFileSync(path);
  return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer };
};
// v86.d.ts does not declare the emulator's `bus`, which the network card speaks on.
const emulator = new V86({
  wasm_path: new URL('v86.wasm', import.meta.resolve('v86')).pathname,
  bios: image(o.bios),
  vga_bios: image(o['vga-bios']),
  bzimage: image(o.bzimage),
  initrd: o.initrd ? image(o.initrd) : undefined,
  cmdline: o.cmdline,
  memory_size: Number(o.memory) * 1024 * 1024,
  net_device: { type: 'virtio' },
  autostart: true,
  disable_speaker: true,
}) as V86 & V86Emulator;
const [dnsHost, dnsPort] = (o['dns-upstream'] ?? '').split(':');
const gw = startV86Gateway(emulator, {
  dnsUpstream: dnsHost ? { host: dnsHost, port: Number(dnsPort ?? 53) } : undefined,
  log: (line) => console.error(`[gateway] ${line}`),
});
emulator.add_listener('serial0-output-byte', (b) => process.stdout.write(String.fromCharCode(b)));
process.stdin.setRawMode?.(true);
process.stdin.on('data', (d: Buffer) => {
  if (d[0] === 3 && process.stdin.isTTY) return void stop(); // Ctrl-C
  for (const b of d) emulator.bus.send('serial0-input', b);
});
// A guest's poweroff only halts v86's CPU: Ctrl-C (or SIGTERM) ends the emulator and this script.
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.error(`\n[gateway] ${gw.statusLine()}`);
  gw.close();
  await emulator.destroy();
  process.exit(0);
}
