/**
 * `sockstack gateway` carrying a guest's IPv6 and pings to a real peer without leaving
 * the machine: the test makes a network namespace holding an interface with
 * documentation-range addresses (198.51.100.1/24, 2001:db8:6::1/64, on a veth end) and servers on them,
 * and runs the gateway inside that namespace (`ip netns exec`), so the host the gateway
 * dials is that namespace's kernel. A sockstack stack is the guest, on the gateway's
 * stream socket as QEMU would be. It takes its IPv6 default route from the RA (the host
 * has IPv6 to offer: auto), fetches byte-exact over TCP from [2001:db8:6::1], gets a UDP
 * echo, is refused where nothing listens, and pings both families through the host's ping
 * sockets: the replies carry the namespace's TTL and hop limit less one, and an address
 * that does not answer gets no reply. With ping sockets not allowed
 * (net.ipv4.ping_group_range "1 0") the gateway answers the pings itself. Only this
 * namespace and the gateway's Unix socket are used; both are removed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it, type TestContext } from 'node:test';
import { connectStreamLink } from '../../src/node/qemu-link.ts';
import { StackRuntime } from '../../src/node/stack-runtime.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { AF_INET6, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { seconds } from '../../src/time/instant.ts';
import { parseIpv6 } from '../../src/wire/address.ts';
import { skipWithoutKernelLinks } from '../helpers/netns.ts';
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
  UDP_PORT,
} from './peer-netns.ts';

async function startGateway(t: TestContext, ns: string, extra: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'gw6-netns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'gw.sock');
  const log = await gatewayInNamespace(t, ns, sock, ['--ipv6-prefix', 'fd00:0:0:6::/64', ...extra]);

  const rt = new StackRuntime();
  t.after(() => rt.stop());
  const link = await connectStreamLink({ path: sock });
  t.after(() => link.close());
  const guest = rt.addStack(
    new Stack({
      clock: rt.clock,
      rng: new CryptoRng(),
      name: 'guest',
      privileged: true,
      config: { ipv6: { enable: true } },
    }),
  );
  const eth0 = guest.addInterface({ name: 'eth0', device: link, addresses: ['10.0.2.15/24'] });
  guest.addRoute({ destination: '0.0.0.0/0', gateway: '10.0.2.2' });
  return { guest, eth0, log };
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  for (let i = 0; i < ms / 50 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

it('sockstack gateway in a namespace: IPv6 to any address and pings reach the real peer', {
  timeout: 90_000,
}, async (t) => {
  if (skipWithoutKernelLinks(t)) return;
  const ns = await peerNamespace(t, { pingAllowed: true });
  const { guest, eth0, log } = await startGateway(t, ns);

  // SLAAC from the RA, and the gateway as IPv6 default router (the host has IPv6: auto).
  await until(() => {
    const st = guest.ip6.state(eth0);
    return (
      st?.addresses.some((a) => a.state === 'preferred' && a.address[0] === 0xfd) === true &&
      guest.ip6.routes.lookup(parseIpv6(PEER6)!, () => true) !== undefined
    );
  }, 'a SLAAC address and an IPv6 default route');

  // TCP to the peer's IPv6 address, byte-exact.
  const s = guest.socket(AF_INET6, SOCK_STREAM);
  s.settimeout(15);
  await s.connect([PEER6, HTTP_PORT]);
  await s.sendall(new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n'));
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 10_000; i++) {
    const b = await s.recv(65536);
    if (b.length === 0) break;
    parts.push(b);
  }
  await s.close();
  const all = Buffer.concat(parts);
  const body = all.subarray(all.indexOf('\r\n\r\n') + 4);
  assert.match(all.subarray(0, 20).toString('latin1'), /^HTTP\/1\.0 200 OK/);
  assert.deepEqual(new Uint8Array(body), peerBody(), 'byte-exact from [2001:db8:6::1]');

  // UDP over IPv6.
  const u = guest.socket(AF_INET6, SOCK_DGRAM);
  u.settimeout(10);
  await u.sendto(new TextEncoder().encode('ping6-udp'), [PEER6, UDP_PORT]);
  const [data, from] = await u.recvfrom(100);
  assert.equal(new TextDecoder().decode(data), 'echo:ping6-udp');
  assert.equal(from?.[0], PEER6);
  await u.close();

  // Nothing listens: the host's refusal is the guest's RST.
  const r = guest.socket(AF_INET6, SOCK_STREAM);
  r.settimeout(15);
  await assert.rejects(r.connect([PEER6, UDP_PORT + 1]), { code: 'ECONNREFUSED' });
  await r.close();

  // Pings through the host's ping sockets: the peer's TTL / hop limit, less the gateway's hop.
  const p4 = await guest.ping(PEER4, { timeout: seconds(5) });
  assert.ok(p4.ok, JSON.stringify(p4));
  assert.equal(p4.ok && p4.ttl, TTL4 - 1);
  const p6 = await guest.ping6(PEER6, { timeout: seconds(5) });
  assert.ok(p6.ok, JSON.stringify(p6));
  assert.equal(p6.ok && p6.ttl, HOPS6 - 1);
  // An address nobody answers on: no reply for the guest either.
  const silent = await guest.ping(SILENT4, { timeout: seconds(2) });
  assert.equal(silent.ok, false);
  assert.equal(!silent.ok && silent.error, 'timeout');
  assert.doesNotMatch(log.out, /host cannot ping/);
});

it('sockstack gateway in a namespace without ping sockets answers pings itself', {
  timeout: 60_000,
}, async (t) => {
  if (skipWithoutKernelLinks(t)) return;
  const ns = await peerNamespace(t, { pingAllowed: false, servers: false });
  const { guest, log } = await startGateway(t, ns, ['--ipv6-default-route', 'off']);
  const first = await guest.ping(SILENT4, { timeout: seconds(5) });
  assert.ok(first.ok, JSON.stringify(first));
  assert.equal(first.ok && first.ttl, 64, "the gateway's own TTL, not the namespace's");
  await log.waitFor(/host cannot ping \(EACCES\)/, 5_000).catch(() => {});
  assert.match(log.out, /host cannot ping \(EACCES\)/);
});
