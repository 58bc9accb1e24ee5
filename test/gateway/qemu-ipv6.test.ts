/**
 * IPv6 on the gateway with a real Linux guest under QEMU (TCG): the gateway advertises a
 * ULA /64 in Router Advertisements, the guest's kernel takes an address by SLAAC, and
 * busybox wget fetches a file byte-exact from an HTTP server on the host's [::1] through
 * the gateway's address PREFIX::2 (the IPv6 host-loopback alias). Loopback only. Skips
 * with the reason when QEMU, busybox-static or the Debian kernel are missing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { startGateway } from '../../src/node/gateway.ts';
import { hasCommand, lines } from '../kernel/helpers.ts';
import { buildInitramfs, findGuestKernel, VIRTIO_MODULES } from './vm.ts';

const QEMU = 'qemu-system-x86_64';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const INIT = `#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${VIRTIO_MODULES.join(' ')}; do insmod /lib/$m.ko || echo "GW6-FAIL insmod $m"; done
ip link set lo up
ip link set eth0 up
HP=$(sed -n 's/.*hostport=\\([0-9]*\\).*/\\1/p' /proc/cmdline)
i=0
while [ $i -lt 30 ] && ! ip -6 addr show dev eth0 scope global | grep -v tentative | grep -q 'inet6 fd00::2:'; do
  sleep 1
  i=$((i+1))
done
echo "GW6-ADDR $(ip -6 addr show dev eth0 scope global | tr '\\n' ' ')"
echo "GW6-ROUTE $(ip -6 route show default | tr '\\n' ' ')."
wget -q -O /tmp/six.bin "http://[fd00:0:0:2::2]:$HP/six.bin" || echo "GW6-FAIL wget"
echo "GW6-SHA $(sha256sum /tmp/six.bin)"
poweroff -f
`;

it('a QEMU guest takes an IPv6 address by SLAAC from the gateway and fetches from the host [::1]', {
  timeout: 150_000,
}, async (t) => {
  if (!hasCommand(QEMU)) return t.skip(`${QEMU} is not installed (apt qemu-system-x86)`);
  if (!existsSync('/bin/busybox')) return t.skip('/bin/busybox is not installed (apt busybox-static)');
  const kernel = findGuestKernel();
  if (typeof kernel === 'string') return t.skip(kernel);

  const dir = mkdtempSync(join(tmpdir(), 'gateway-qemu6-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const initrd = join(dir, 'initrd.gz');
  writeFileSync(initrd, buildInitramfs(kernel, INIT));

  const file = randomBytes(1 << 20);
  const web = http.createServer((req, res) => {
    if (req.url !== '/six.bin') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': file.length }).end(file);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      web.once('error', reject);
      web.listen(0, '::1', () => resolve());
    });
  } catch (e) {
    return t.skip(`no IPv6 loopback here: ${(e as Error).message}`);
  }
  t.after(() => web.close());
  const webPort = (web.address() as AddressInfo).port;

  const log: string[] = [];
  const gw = await startGateway({
    socket: join(dir, 'gw.sock'),
    ipv6Prefix: 'fd00:0:0:2::/64',
    // Whatever IPv6 this host has: the RA here says "not a default router" (Router Lifetime 0).
    ipv6DefaultRoute: false,
    log: (l) => log.push(l),
  });
  t.after(() => gw.close());
  const qemu = spawn(
    QEMU,
    [
      ...['-accel', 'tcg', '-m', '256', '-smp', '1', '-nographic', '-no-reboot', '-nodefaults'],
      ...['-serial', 'stdio', '-kernel', kernel.vmlinuz, '-initrd', initrd],
      ...['-append', `console=ttyS0 loglevel=3 panic=-1 hostport=${webPort}`],
      ...['-netdev', `stream,id=n0,server=off,addr.type=unix,addr.path=${join(dir, 'gw.sock')}`],
      ...['-device', 'virtio-net-pci,netdev=n0'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => {
    if (qemu.exitCode === null) qemu.kill('SIGKILL');
  });
  const out = lines(qemu, 'qemu');
  try {
    const addr = await out.waitFor(/GW6-ADDR (.*)\r?\n/, 100_000);
    assert.match(addr[1], /inet6 fd00::2:[0-9a-f:]+\/64 scope global/, 'a SLAAC address from the RA');
    const route = await out.waitFor(/GW6-ROUTE (.*)\.\r?\n/, 10_000);
    assert.equal(route[1].trim(), '', 'Router Lifetime 0: no IPv6 default route through the gateway');
    const got = await out.waitFor(/GW6-SHA ([0-9a-f]{64})/, 30_000);
    assert.equal(got[1], sha256(file), 'the guest downloaded the file byte-exact over IPv6');
    assert.ok(!/GW6-FAIL/.test(out.out), out.out);
  } catch (e) {
    console.log(
      `--- guest console ---\n${out.out}\n--- qemu stderr ---\n${out.err}\n--- gateway log ---\n${log.join('\n')}`,
    );
    throw e;
  }
});
