/**
 * A Linux guest under v86 (the `v86` npm package, in this Node process): Debian's 32-bit
 * kernel (linux-image-*-686) and its virtio modules, busybox-static:i386, both unpacked by
 * .ci/run into /opt/sockstack-vm-686 (or $SOCKSTACK_VM686_DIR), and Debian's SeaBIOS (v86's
 * package ships no BIOS). The initramfs is built here as for QEMU (vm.ts). See
 * ../shared/research/vm-guests.md, section 2: v86 takes the virtio card, not its ne2k.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V86Emulator } from '../../src/link/v86.ts';
import { buildInitramfs, findGuestKernel, type GuestKernel, VIRTIO_MODULES } from './vm.ts';

export const V86_DIR = process.env.SOCKSTACK_VM686_DIR ?? '/opt/sockstack-vm-686';
const SEABIOS = '/usr/share/seabios';

export interface V86Guest {
  kernel: GuestKernel;
  busybox: string;
  bios: string;
  vgaBios: string;
  /** The v86 package's wasm file. */
  wasm: string;
  /** The package's V86 class. */
  V86: new (
    options: Record<string, unknown>,
  ) => V86Emulator & V86Control;
}

/** The parts of V86 the tests drive beyond the bus (v86.d.ts has the full class). */
export interface V86Control {
  add_listener(event: string, fn: (value: never) => void): void;
  destroy(): Promise<void>;
  is_running(): boolean;
  get_instruction_counter(): number;
}

/** Everything a v86 guest needs, or the reason it cannot boot here. */
export async function findV86Guest(): Promise<V86Guest | string> {
  let mod: { V86: V86Guest['V86'] };
  try {
    mod = (await import('v86')) as unknown as typeof mod;
  } catch (e) {
    return `the v86 package is not installed (npm ci): ${(e as Error).message}`;
  }
  const wasm = join(new URL('.', import.meta.resolve('v86')).pathname, 'v86.wasm');
  if (!existsSync(wasm)) return `${wasm} is missing: v86 is not installed (npm ci)`;
  const kernel = findGuestKernel(V86_DIR, 'linux-image-*-686');
  if (typeof kernel === 'string') return kernel;
  const busybox = join(V86_DIR, 'bin', 'busybox');
  if (!existsSync(busybox))
    return `${busybox} is missing (.ci/run unpacks busybox-static:i386): not installed`;
  const bios = join(SEABIOS, 'bios.bin');
  const vgaBios = join(SEABIOS, 'vgabios-stdvga.bin');
  if (!existsSync(bios) || !existsSync(vgaBios))
    return `${SEABIOS} has no SeaBIOS (apt seabios): not installed`;
  return { kernel, busybox, bios, vgaBios, wasm, V86: mod.V86 };
}

/** The guest's serial console, collected, with a bounded wait for a line. */
export interface GuestConsole {
  readonly out: string;
  /** Resolves with the match once the console shows `re`; rejects after `ms` of real time. */
  waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray>;
}

export interface BootedV86 {
  readonly emulator: V86Emulator & V86Control;
  readonly console: GuestConsole;
  /** Whether the emulator runs and how far it got (for a failure's message). */
  progress(): string;
  destroy(): Promise<void>;
}

function buf(b: Uint8Array): { buffer: ArrayBuffer } {
  return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer };
}

/**
 * Boots `guest` with `init` as /init (and `files` beside it) and a virtio NIC of `mtu`. The
 * emulator starts at once; attach a V86Link to `emulator` before the guest brings its NIC up.
 */
export function bootV86(
  guest: V86Guest,
  init: string,
  files: Record<string, string> = {},
  o: { mtu?: number; cmdline?: string; memoryMiB?: number } = {},
): BootedV86 {
  const initrd = buildInitramfs(guest.kernel, init, files, guest.busybox);
  const emulator = new guest.V86({
    wasm_path: guest.wasm,
    bios: buf(readFileSync(guest.bios)),
    vga_bios: buf(readFileSync(guest.vgaBios)),
    bzimage: buf(readFileSync(guest.kernel.vmlinuz)),
    initrd: buf(initrd),
    cmdline: `console=ttyS0 loglevel=3 panic=-1 ipv6.disable=1 ${o.cmdline ?? ''}`,
    memory_size: (o.memoryMiB ?? 128) * 1024 * 1024,
    net_device: { type: 'virtio', mtu: o.mtu ?? 1500 },
    autostart: true,
    disable_speaker: true,
  });
  let out = '';
  const waiters = new Set<() => void>();
  emulator.add_listener('serial0-output-byte', (b: number) => {
    out += String.fromCharCode(b);
    if (b === 10) for (const w of [...waiters]) w();
  });
  const console: GuestConsole = {
    get out() {
      return out;
    },
    waitFor(re, ms) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(out);
          if (!m) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the guest did not print ${re} within ${ms} ms`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
  };
  let destroyed = false;
  const started = performance.now();
  return {
    emulator,
    console,
    progress: () =>
      `v86 ${emulator.is_running() ? 'running' : 'not running'}, ` +
      `${emulator.get_instruction_counter()} instructions in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await emulator.destroy();
    },
  };
}

/**
 * A v86 guest's init: virtio modules, a DHCP lease (UDHCPC), a lookup of files.test and a
 * download of http://files.test:PORT/file.bin (PORT from the kernel command line's
 * hostport=), each reported on the console (GW-DHCP, GW-NSLOOKUP, GW-SHA, or GW-FAIL), then
 * GW-END and power off.
 */
export const V86_FETCH_INIT = `#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${VIRTIO_MODULES.join(' ')}; do insmod /lib/$m.ko || echo "GW-FAIL insmod $m"; done
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -n -q -t 10 -T 1 -s /udhcpc.sh || echo "GW-FAIL dhcp"
HP=$(sed -n 's/.*hostport=\\([0-9]*\\).*/\\1/p' /proc/cmdline)
echo "GW-NSLOOKUP $(nslookup files.test 2>&1 | tr '\\n' ' ')"
wget -q -O /tmp/file.bin "http://files.test:$HP/file.bin" || echo "GW-FAIL wget"
echo "GW-SHA $(sha256sum /tmp/file.bin)"
echo "GW-END"
poweroff -f
`;
