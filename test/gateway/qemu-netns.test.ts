/**
 * A real Linux guest under QEMU (TCG) reaching a real IPv6 peer and pinging it through the
 * gateway, without leaving the machine: the peer is a namespace the test makes
 * (peer-netns.ts: 198.51.100.1 and 2001:db8:6::1, TTL 77, hop limit 66, ping sockets
 * allowed), and `sockstack gateway` runs inside it. The guest's kernel takes its IPv6
 * address and default route from the gateway's RA (the namespace has IPv6 to offer), busybox
 * wget fetches byte-exact from http://[2001:db8:6::1]/, and busybox ping sees replies from
 * both peer addresses with the peer's TTL and hop limit less the gateway's hop, and none
 * from an address that does not answer. Skips with the reason when QEMU, busybox-static,
 * the Debian kernel or namespaces are missing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { kernelLinkUnavailable } from '../../src/node/netns.ts';
import { hasCommand, lines } from '../kernel/helpers.ts';
import {
  gatewayInNamespace,
  HOPS6,
  HTTP_PORT,
  PEER4,
  PEER6,
  peerBody,
  peerNamespace,
  SILENT4,
  TTL4,
} from './peer-netns.ts';
import { buildInitramfs, findGuestKernel, VIRTIO_MODULES } from './vm.ts';

const QEMU = 'qemu-system-x86_64';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const INIT = `#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${VIRTIO_MODULES.join(' ')}; do insmod /lib/$m.ko || echo "GWN-FAIL insmod $m"; done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
i=0
while [ $i -lt 30 ] && ! ip -6 route show default | grep -q 'via fe80'; do
  sleep 1
  i=$((i+1))
done
i=0
while [ $i -lt 30 ] && ! ip -6 addr show dev eth0 scope global | grep -v tentative | grep -q 'inet6 fd00::6:'; do
  sleep 1
  i=$((i+1))
done
echo "GWN-ROUTE $(ip -6 route show default | tr '\\n' ' ')."
wget -q -O /tmp/peer.bin "http://[${PEER6}]:${HTTP_PORT}/" || echo "GWN-FAIL wget"
echo "GWN-SHA $(sha256sum /tmp/peer.bin)"
echo "GWN-PING4 $(ping -c 2 -W 5 ${PEER4} | grep 'bytes from' | tr '\\n' ' ')."
echo "GWN-PING6 $(ping -c 2 -W 5 ${PEER6} | grep 'bytes from' | tr '\\n' ' ')."
echo "GWN-SILENT $(ping -c 1 -W 3 ${SILENT4} | grep 'packets' | tr '\\n' ' ')."
poweroff -f
`;

it('a QEMU guest reaches an IPv6 peer and pings it through the gateway in a namespace', {
  timeout: 180_000,
}, async (t) => {
  if (!hasCommand(QEMU)) return t.skip(`${QEMU} is not installed (apt qemu-system-x86)`);
  if (!existsSync('/bin/busybox')) return t.skip('/bin/busybox is not installed (apt busybox-static)');
  const kernel = findGuestKernel();
  if (typeof kernel === 'string') return t.skip(kernel);
  const why = kernelLinkUnavailable();
  if (why !== undefined) return t.skip(why);

  const dir = mkdtempSync(join(tmpdir(), 'gateway-qemu-netns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const initrd = join(dir, 'initrd.gz');
  writeFileSync(initrd, buildInitramfs(kernel, INIT));
  const ns = await peerNamespace(t, { pingAllowed: true });
  const sock = join(dir, 'gw.sock');
  const log = await gatewayInNamespace(t, ns, sock, ['--ipv6-prefix', 'fd00:0:0:6::/64']);

  const qemu = spawn(
    QEMU,
    [
      ...['-accel', 'tcg', '-m', '256', '-smp', '1', '-nographic', '-no-reboot', '-nodefaults'],
      ...['-serial', 'stdio', '-kernel', kernel.vmlinuz, '-initrd', initrd],
      ...['-append', 'console=ttyS0 loglevel=3 panic=-1'],
      ...['-netdev', `stream,id=n0,server=off,addr.type=unix,addr.path=${sock}`],
      ...['-device', 'virtio-net-pci,netdev=n0'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => {
    if (qemu.exitCode === null) qemu.kill('SIGKILL');
  });
  const out = lines(qemu, 'qemu');
  try {
    const route = await out.waitFor(/GWN-ROUTE (.*)\.\r?\n/, 120_000);
    assert.match(
      route[1],
      /default via fe80::[0-9a-f:]+ dev eth0/,
      "the gateway is the guest's IPv6 default router",
    );
    const got = await out.waitFor(/GWN-SHA ([0-9a-f]{64})/, 30_000);
    assert.equal(got[1], sha256(peerBody()), 'the guest downloaded byte-exact from [2001:db8:6::1]');
    const p4 = await out.waitFor(/GWN-PING4 (.*)\.\r?\n/, 30_000);
    const ttls4 = [...p4[1].matchAll(/from 198\.51\.100\.1: seq=\d+ ttl=(\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(ttls4, [TTL4 - 1, TTL4 - 1], p4[1]);
    const p6 = await out.waitFor(/GWN-PING6 (.*)\.\r?\n/, 30_000);
    const ttls6 = [...p6[1].matchAll(/from 2001:db8:6::1: seq=\d+ ttl=(\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(ttls6, [HOPS6 - 1, HOPS6 - 1], p6[1]);
    const silent = await out.waitFor(/GWN-SILENT (.*)\.\r?\n/, 30_000);
    assert.match(silent[1], /1 packets transmitted, 0 packets received/);
    assert.ok(!/GWN-FAIL/.test(out.out), out.out);
  } catch (e) {
    console.log(
      `--- guest console ---\n${out.out}\n--- qemu stderr ---\n${out.err}\n--- gateway log ---\n${log.out}`,
    );
    throw e;
  }
});
