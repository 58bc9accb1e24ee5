/**
 * Issue #20: a Linux guest under v86 (the `v86` npm package, in this process) gets its
 * network from the gateway through a V86Link on its virtio card, in one boot:
 * - a DHCP lease from our server (udhcpc),
 * - a name resolved through our DNS forwarder by a DNS server this test runs on 127.0.0.1,
 * - a file fetched byte-exact (sha256 printed by the guest) from an HTTP server on the
 *   host's 127.0.0.1, reached through the host-loopback alias 10.0.2.2 by that name.
 * All traffic stays on loopback: the guest only talks to 10.0.2.2/10.0.2.3 (the gateway),
 * and the gateway only to 127.0.0.1. Skips with the reason when the v86 package, the 686
 * kernel, busybox-static:i386 or SeaBIOS are missing (.ci/run unpacks them).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { startV86Gateway } from '../../src/node/v86-gateway.ts';
import { dnsServer } from './dns-peer.ts';
import { bootV86, findV86Guest, V86_FETCH_INIT } from './v86-guest.ts';
import { UDHCPC } from './vm.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

it('a v86 guest gets DHCP, DNS and a download through the gateway on its virtio card', {
  timeout: 280_000,
}, async (t) => {
  const guest = await findV86Guest();
  if (typeof guest === 'string') return t.skip(guest);

  const file = randomBytes((1 << 20) + 4321);
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

  const vm = bootV86(guest, V86_FETCH_INIT, { 'udhcpc.sh': UDHCPC }, { cmdline: `hostport=${webPort}` });
  t.after(() => vm.destroy());
  const log: string[] = [];
  const gw = startV86Gateway(vm.emulator, {
    dnsUpstream: { host: '127.0.0.1', port: dns.port },
    log: (l) => log.push(l),
  });
  t.after(() => gw.close());
  const out = vm.console;
  try {
    // Boot to DHCP: about 20 s on an idle machine (vm-guests.md), several times that when
    // the two cores are shared with other test files; bounded.
    const dhcp = await out.waitFor(/GW-DHCP (.*)\r?\n/, 200_000);
    assert.match(
      dhcp[1],
      /ip=10\.0\.2\.15 router=10\.0\.2\.2 dns=10\.0\.2\.3 subnet=255\.255\.255\.0 mtu=1500 lease=86400/,
    );
    const ns = await out.waitFor(/GW-NSLOOKUP (.*)\r?\n/, 20_000);
    assert.match(ns[1], /Address:? *(1: *)?10\.0\.2\.2/, 'the name resolved through the forwarder');
    assert.ok(dns.queries.includes('files.test/1'), `upstream saw the query: ${dns.queries.join(' ')}`);
    const got = await out.waitFor(/GW-SHA ([0-9a-f]{64})/, 30_000);
    assert.equal(got[1], sha256(file), 'the guest downloaded the file byte-exact');
    const s = gw.gateway.stats;
    assert.ok(s.tcpFlows >= 1 && s.bytesIn >= file.length, gw.statusLine());
    const ls = gw.link.stats;
    assert.ok(ls.rxFrames > 0 && ls.txFrames > 0 && ls.txBytes >= file.length, JSON.stringify(ls));
    assert.equal(ls.rxErrors, 0, 'every frame the card sent was a plausible Ethernet frame');
    assert.ok(!/GW-FAIL/.test(out.out), out.out);
  } catch (e) {
    console.log(
      `--- guest console (${vm.progress()}) ---\n${out.out}\n--- link ---\n${JSON.stringify(gw.link.stats)}\n--- gateway log ---\n${log.join('\n')}`,
    );
    throw e;
  }
  console.log(`# gateway: ${gw.statusLine()}; link: ${JSON.stringify(gw.link.stats)}`);
});
