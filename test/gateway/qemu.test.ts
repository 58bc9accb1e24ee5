/**
 * Issue #20: a real Linux guest under QEMU (TCG) gets its network from the gateway, over a
 * `-netdev stream` Unix socket, in one boot:
 * - a DHCP lease from our server (udhcpc),
 * - a name resolved through our DNS forwarder by a DNS server this test runs on 127.0.0.1,
 * - a file fetched byte-exact (sha256 printed by the guest) from an HTTP server on the
 *   host's 127.0.0.1, reached through the host-loopback alias 10.0.2.2,
 * - a file the guest serves (busybox httpd on port 8080), fetched here through a port
 *   forward on 127.0.0.1 and compared with the guest's sha256.
 * All traffic stays on loopback: the guest only talks to 10.0.2.2/10.0.2.3 (the gateway),
 * and the gateway only to 127.0.0.1. Skips with the reason when QEMU, busybox-static or
 * the Debian kernel are missing (.ci/run installs them).
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
import { dnsServer } from './dns-peer.ts';
import { buildInitramfs, findGuestKernel, UDHCPC, VIRTIO_MODULES } from './vm.ts';

const QEMU = 'qemu-system-x86_64';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const INIT = `#!/bin/sh
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
dd if=/dev/urandom of=/www/served.bin bs=1024 count=768 2>/dev/null
echo "GW-SERVED-SHA $(sha256sum /www/served.bin)"
httpd -p 8080 -h /www
echo "GW-SERVING"
sleep 60
poweroff -f
`;

it('a QEMU guest gets DHCP, DNS, a download and a port forward through the gateway', {
  timeout: 150_000,
}, async (t) => {
  if (!hasCommand(QEMU)) return t.skip(`${QEMU} is not installed (apt qemu-system-x86)`);
  if (!existsSync('/bin/busybox')) return t.skip('/bin/busybox is not installed (apt busybox-static)');
  const kernel = findGuestKernel();
  if (typeof kernel === 'string') return t.skip(kernel);

  const dir = mkdtempSync(join(tmpdir(), 'gateway-qemu-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const initrd = join(dir, 'initrd.gz');
  writeFileSync(initrd, buildInitramfs(kernel, INIT, { 'udhcpc.sh': UDHCPC }));

  const file = randomBytes(3 * (1 << 20) + 12345);
  const web = http.createServer((req, res) => {
    if (req.url !== '/file.bin') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': file.length }).end(file);
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
  t.after(() => web.close());
  const webPort = (web.address() as AddressInfo).port;
  const dns = await dnsServer();
  t.after(() => dns.close());

  const log: string[] = [];
  const gw = await startGateway({
    socket: join(dir, 'gw.sock'),
    dnsUpstream: { host: '127.0.0.1', port: dns.port },
    forwards: [{ host: 0, guest: 8080 }],
    log: (l) => log.push(l),
  });
  t.after(() => gw.close());

  const qemu = spawn(
    QEMU,
    [
      '-accel',
      'tcg',
      '-m',
      '256',
      '-smp',
      '1',
      '-nographic',
      '-no-reboot',
      '-nodefaults',
      '-serial',
      'stdio',
      '-kernel',
      kernel.vmlinuz,
      '-initrd',
      initrd,
      '-append',
      `console=ttyS0 loglevel=3 panic=-1 ipv6.disable=1 hostport=${webPort}`,
      '-netdev',
      `stream,id=n0,server=off,addr.type=unix,addr.path=${join(dir, 'gw.sock')}`,
      '-device',
      'virtio-net-pci,netdev=n0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => {
    if (qemu.exitCode === null) qemu.kill('SIGKILL');
  });
  const out = lines(qemu, 'qemu');
  try {
    const dhcp = await out.waitFor(/GW-DHCP (.*)\r?\n/, 90_000);
    assert.match(
      dhcp[1],
      /ip=10\.0\.2\.15 router=10\.0\.2\.2 dns=10\.0\.2\.3 subnet=255\.255\.255\.0 mtu=65520 lease=86400/,
    );
    const ns = await out.waitFor(/GW-NSLOOKUP (.*)\r?\n/, 20_000);
    assert.match(ns[1], /10\.0\.2\.2/, 'the name resolved through the forwarder');
    assert.ok(dns.queries.includes('files.test/1'), `upstream saw the query: ${dns.queries.join(' ')}`);
    const got = await out.waitFor(/GW-SHA ([0-9a-f]{64})/, 30_000);
    assert.equal(got[1], sha256(file), 'the guest downloaded the file byte-exact');
    const served = await out.waitFor(/GW-SERVED-SHA ([0-9a-f]{64})/, 10_000);
    await out.waitFor(/GW-SERVING/, 10_000);
    const body = await new Promise<Buffer>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: gw.forwardPorts[0], path: '/served.bin', timeout: 20_000 }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        })
        .on('error', reject)
        .on('timeout', () => reject(new Error('port forward fetch timed out')));
    });
    assert.equal(body.length, 768 * 1024);
    assert.equal(sha256(body), served[1], 'the file the guest served arrived byte-exact through the forward');
    const s = gw.gateway!.stats;
    assert.ok(s.tcpFlows >= 2 && s.bytesIn >= file.length && s.forwardsIn === 1, gw.statusLine());
    assert.ok(!/GW-FAIL/.test(out.out), out.out);
  } catch (e) {
    console.log(
      `--- guest console ---\n${out.out}\n--- qemu stderr ---\n${out.err}\n--- gateway log ---\n${log.join('\n')}`,
    );
    throw e;
  }
  console.log(`# gateway: ${gw.statusLine()}`);
});
