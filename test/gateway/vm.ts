/**
 * A Linux guest for gateway tests: Debian's kernel (a vmlinuz and its virtio modules,
 * unpacked from linux-image-*-amd64 by .ci/run into /opt/sockstack-vm, or found in
 * $SOCKSTACK_VM_DIR) and an initramfs built here from busybox-static, the modules and an
 * /init script the test writes (docs: ../shared/research/vm-guests.md).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** virtio_net and what it needs, in load order (vm-guests.md, pitfall 2). */
export const VIRTIO_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_legacy_dev',
  'virtio_pci_modern_dev',
  'virtio_pci',
  'failover',
  'net_failover',
  'virtio_net',
] as const;

export interface GuestKernel {
  vmlinuz: string;
  /** Module name → .ko path. */
  modules: Map<string, string>;
}

function walk(dir: string, out: string[] = [], depth = 0): string[] {
  if (depth > 12) return out;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    const s = statSync(p);
    if (s.isDirectory()) walk(p, out, depth + 1);
    else out.push(p);
  }
  return out;
}

/**
 * The kernel and its virtio modules, or a reason why not. `root` defaults to the amd64
 * kernel's directory; `what` names the package for the message.
 */
export function findGuestKernel(
  root = process.env.SOCKSTACK_VM_DIR ?? '/opt/sockstack-vm',
  what = 'linux-image-*-amd64',
): GuestKernel | string {
  const boot = join(root, 'boot');
  if (!existsSync(boot)) return `no guest kernel in ${root} (.ci/run unpacks ${what} there): not installed`;
  const vmlinuz = readdirSync(boot).find((n) => n.startsWith('vmlinuz-'));
  if (!vmlinuz) return `no vmlinuz-* in ${boot}: not installed`;
  const version = vmlinuz.slice('vmlinuz-'.length);
  const modDir = join(root, 'lib', 'modules', version);
  const modules = new Map<string, string>();
  if (existsSync(modDir))
    for (const f of walk(modDir)) {
      const name = f.split('/').pop()!.replace(/\.ko$/, '');
      if ((VIRTIO_MODULES as readonly string[]).includes(name)) modules.set(name, f);
    }
  const missing = VIRTIO_MODULES.filter((m) => !modules.has(m));
  if (missing.length)
    return `guest kernel modules missing (${missing.join(', ')}) in ${modDir}: not installed`;
  return { vmlinuz: join(boot, vmlinuz), modules };
}

type Entry = { path: string; mode: number; data: Uint8Array };

/** A gzipped cpio (newc) archive: what the kernel unpacks as its initramfs. */
export function cpioNewc(entries: readonly Entry[]): Uint8Array {
  const te = new TextEncoder();
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array): void => {
    parts.push(b);
    size += b.length;
  };
  const pad = (): void => {
    const n = (4 - (size % 4)) % 4;
    if (n) push(new Uint8Array(n));
  };
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  let ino = 1;
  for (const e of [...entries, { path: 'TRAILER!!!', mode: 0, data: new Uint8Array(0) }]) {
    const name = te.encode(`${e.path}\0`);
    const fields = [ino++, e.mode, 0, 0, 1, 0, e.data.length, 0, 0, 0, 0, name.length, 0];
    push(te.encode(`070701${fields.map(hex).join('')}`));
    push(name);
    pad();
    push(e.data);
    pad();
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return gzipSync(out);
}

const DIR = 0o040755;
const EXE = 0o100755;
const FILE = 0o100644;
const LINK = 0o120777;

/** busybox at /bin/busybox, /bin/sh → busybox, the modules in /lib, `/init` and extra files. */
export function buildInitramfs(
  kernel: GuestKernel,
  init: string,
  files: Record<string, string> = {},
  busybox = '/bin/busybox',
): Uint8Array {
  const te = new TextEncoder();
  const entries: Entry[] = [];
  for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'etc', 'lib', 'www'])
    entries.push({ path: d, mode: DIR, data: new Uint8Array(0) });
  entries.push({ path: 'bin/busybox', mode: EXE, data: readFileSync(busybox) });
  entries.push({ path: 'bin/sh', mode: LINK, data: te.encode('busybox') });
  for (const [name, path] of kernel.modules)
    entries.push({ path: `lib/${name}.ko`, mode: FILE, data: readFileSync(path) });
  entries.push({ path: 'init', mode: EXE, data: te.encode(init) });
  for (const [path, text] of Object.entries(files)) entries.push({ path, mode: EXE, data: te.encode(text) });
  return cpioNewc(entries);
}

/**
 * The guest's udhcpc script: configures the lease and prints it on the console as one
 * `GW-DHCP ip=... router=... dns=... subnet=... mtu=... lease=...` line.
 */
export const UDHCPC = `#!/bin/sh
case "$1" in
bound|renew)
  ifconfig "$interface" "$ip" netmask "$subnet" \${mtu:+mtu $mtu}
  route add default gw "$router"
  echo "nameserver $dns" > /etc/resolv.conf
  echo "GW-DHCP ip=$ip router=$router dns=$dns subnet=$subnet mtu=$mtu lease=$lease"
  ;;
esac
exit 0
`;
