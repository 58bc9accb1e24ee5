/**
 * Name resolution with IPv6: the hosts table's localhost (::1 and 127.0.0.1), AAAA
 * records from a DNS server asked over IPv6, and getaddrinfo's RFC 6724 destination
 * ordering against the stack's own routes. The DNS server is ours, on another stack.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CLASS_IN,
  type DnsRecord,
  encodeDnsMessage,
  parseDnsMessage,
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  TYPE_A,
  TYPE_AAAA,
} from '../../src/dns/message.ts';
import { policyOf, scopeOf, sortDestinations } from '../../src/dns/order.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Switch } from '../../src/link/switch.ts';
import { AF_INET, AF_INET6, AF_UNSPEC, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { GaiError } from '../../src/socket/errno.ts';
import { getaddrinfo } from '../../src/socket/resolve.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';
import { type IpAddress, parseIp } from '../../src/wire/address.ts';

const ZONE: Record<string, { a?: string; aaaa?: string }> = {
  'dual.example.test': { a: '10.0.2.80', aaaa: '2001:db8:2::80' },
  'ula.example.test': { a: '10.0.2.81', aaaa: 'fd00:2::81' },
  'v6only.example.test': { aaaa: '2001:db8:2::82' },
};

/** client and dns on one switch; the client's addresses are given, dns has fd00:2::53 and 2001:db8:2::53. */
function network(clientAddrs: string[], nameservers: string[]) {
  const sim = new Simulation({ seed: 21 });
  const sw = sim.add(new Switch({ clock: sim.clock, rng: sim.rng.fork(), name: 'sw' }));
  const client = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'client', nameservers }));
  const dns = sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name: 'dns', privileged: true }));
  client.addInterface({ name: 'eth0', device: sw.port({ delay: millis(1) }), addresses: clientAddrs });
  dns.addInterface({
    name: 'eth0',
    device: sw.port({ delay: millis(1) }),
    addresses: ['10.0.2.53/24', 'fd00:2::53/64', '2001:db8:2::53/64'],
  });
  sim.runFor(seconds(3));
  return { sim, client, dns };
}

/** A DNS server on `stack` [::]:53 (both families): A and AAAA from ZONE. Records who asked, over what. */
async function serveDns(stack: Stack) {
  const s = stack.socket(AF_INET6, SOCK_DGRAM);
  await s.bind(['::', 53]);
  const asked: { name: string; type: number; from: string }[] = [];
  void (async () => {
    for (let n = 0; n < 1000; n++) {
      let got: Awaited<ReturnType<typeof s.recvfrom>>;
      try {
        got = await s.recvfrom(512);
      } catch {
        return;
      }
      const [bytes, from] = got;
      const r = parseDnsMessage(bytes);
      if (!r.ok || r.message.qr || r.message.questions.length !== 1 || !from) continue;
      const q = r.message.questions[0];
      asked.push({ name: q.name, type: q.type, from: (from as [string, number])[0] });
      const e = ZONE[q.name.toLowerCase()];
      const answers: DnsRecord[] = [];
      if (e?.a && q.type === TYPE_A)
        answers.push({ name: q.name, type: TYPE_A, class: CLASS_IN, ttl: 60, address: e.a });
      if (e?.aaaa && q.type === TYPE_AAAA)
        answers.push({ name: q.name, type: TYPE_AAAA, class: CLASS_IN, ttl: 60, address: e.aaaa });
      const reply = encodeDnsMessage({
        id: r.message.id,
        qr: true,
        aa: true,
        rd: r.message.rd,
        ra: true,
        rcode: e === undefined ? RCODE_NXDOMAIN : RCODE_NOERROR,
        questions: [q],
        answers,
      });
      await s.sendto(reply, from as [string, number, number, number]);
    }
  })();
  return { asked, close: () => s.close() };
}

const hostsOf = (infos: unknown[][]) => infos.map((i) => (i[4] as [string])[0]);

test('localhost is ::1 and 127.0.0.1; AF_UNSPEC puts ::1 first (RFC 6724 rule 6)', async () => {
  const { sim, client } = network(['10.0.2.15/24'], []);
  await sim.run(async () => {
    const any = await getaddrinfo(client.backend, 'localhost', 80, AF_UNSPEC, SOCK_STREAM);
    assert.deepEqual(any, [
      [AF_INET6, SOCK_STREAM, 6, '', ['::1', 80, 0, 0]],
      [AF_INET, SOCK_STREAM, 6, '', ['127.0.0.1', 80]],
    ]);
    assert.deepEqual(hostsOf(await getaddrinfo(client.backend, 'localhost', 80, AF_INET6)), ['::1', '::1']);
    assert.deepEqual(hostsOf(await getaddrinfo(client.backend, 'localhost', 80, AF_INET, SOCK_STREAM)), [
      '127.0.0.1',
    ]);
    assert.deepEqual(hostsOf(await getaddrinfo(client.backend, 'ip6-localhost', 80, 0, SOCK_STREAM)), [
      '::1',
    ]);
    // A socket connects to localhost over IPv6.
    const srv = client.socket(AF_INET6, SOCK_STREAM);
    await srv.bind(['::1', 9000]);
    await srv.listen(1);
    const c = client.socket(AF_INET6, SOCK_STREAM);
    await c.connect(['localhost', 9000]);
    assert.deepEqual(c.getpeername(), ['::1', 9000, 0, 0]);
    c.close();
    srv.close();
  });
});

test('AAAA over DNS asked over IPv6; a global IPv6 destination sorts before IPv4 when we have a global source', async () => {
  const { sim, client, dns } = network(['10.0.2.15/24', '2001:db8:2::15/64'], ['[2001:db8:2::53]:53']);
  await sim.run(async () => {
    const server = await serveDns(dns);
    const any = await getaddrinfo(client.backend, 'dual.example.test', 80, AF_UNSPEC, SOCK_STREAM);
    assert.deepEqual(hostsOf(any), ['2001:db8:2::80', '10.0.2.80']);
    // Both questions went to the server over IPv6, from the client's IPv6 address.
    assert.deepEqual(
      server.asked.map((q) => [q.type, q.from]),
      [
        [TYPE_A, '2001:db8:2::15'],
        [TYPE_AAAA, '2001:db8:2::15'],
      ],
    );
    const six = await getaddrinfo(client.backend, 'dual.example.test', 80, AF_INET6, SOCK_STREAM);
    assert.deepEqual(six, [[AF_INET6, SOCK_STREAM, 6, '', ['2001:db8:2::80', 80, 0, 0]]]);
    const only6 = await getaddrinfo(client.backend, 'v6only.example.test', 80, AF_UNSPEC, SOCK_STREAM);
    assert.deepEqual(hostsOf(only6), ['2001:db8:2::82']);
    await assert.rejects(
      getaddrinfo(client.backend, 'v6only.example.test', 80, AF_INET),
      (e: unknown) => e instanceof GaiError && e.code === 'EAI_NODATA',
    );
    await server.close();
  });
});

test('IPv4 sorts first for a ULA destination (precedence 3) and when IPv6 has no usable source (rule 1/5)', async () => {
  // Only a ULA source: the global AAAA's label (1) does not match it (13), IPv4's does.
  const { sim, client, dns } = network(['10.0.2.15/24', 'fd00:2::15/64'], ['fd00:2::53']);
  await sim.run(async () => {
    const server = await serveDns(dns);
    assert.deepEqual(hostsOf(await getaddrinfo(client.backend, 'ula.example.test', 80, 0, SOCK_STREAM)), [
      '10.0.2.81',
      'fd00:2::81',
    ]);
    // 2001:db8:2::80 has no route at all from a ULA-only host without a default route: unusable.
    assert.deepEqual(hostsOf(await getaddrinfo(client.backend, 'dual.example.test', 80, 0, SOCK_STREAM)), [
      '10.0.2.80',
      '2001:db8:2::80',
    ]);
    assert.ok(server.asked.every((q) => q.from === 'fd00:2::15'));
    await server.close();
  });
});

const ip = (t: string): IpAddress => parseIp(t)!;

test('RFC 6724 rules on their own: scope, label, precedence, smaller scope, longest prefix', () => {
  const sort = (dsts: string[], sources: Record<string, string | undefined>) => {
    const addrs = new Map(dsts.map((d) => [d, ip(d)]));
    const back = new Map([...addrs].map(([t, a]) => [a, t]));
    return sortDestinations(
      dsts,
      (d) => addrs.get(d)!,
      (a) => {
        const s = sources[back.get(a)!];
        return s === undefined ? undefined : ip(s);
      },
    );
  };
  // Rule 1: no source, unusable, last.
  assert.deepEqual(sort(['2001:db8::1', '10.1.1.1'], { '10.1.1.1': '10.0.0.2' }), [
    '10.1.1.1',
    '2001:db8::1',
  ]);
  // Rule 2: matching scope (a link-local source for a global destination does not match).
  assert.deepEqual(sort(['2001:db8::1', '10.1.1.1'], { '2001:db8::1': 'fe80::1', '10.1.1.1': '10.0.0.2' }), [
    '10.1.1.1',
    '2001:db8::1',
  ]);
  // Rule 6: ::1 (50) before IPv4 (35) before ULA (3).
  assert.deepEqual(
    sort(['fd00::1', '127.0.0.1', '::1'], { 'fd00::1': 'fd00::2', '127.0.0.1': '127.0.0.1', '::1': '::1' }),
    ['::1', '127.0.0.1', 'fd00::1'],
  );
  // Rule 8: smaller scope first (link-local before global, same precedence and label).
  assert.deepEqual(sort(['2001:db8::1', 'fe80::1'], { '2001:db8::1': '2001:db8::2', 'fe80::1': 'fe80::2' }), [
    'fe80::1',
    '2001:db8::1',
  ]);
  // Rule 9: the longest prefix shared with the source, within /64.
  assert.deepEqual(
    sort(['2001:db8:ffff::1', '2001:db8:1::1'], {
      '2001:db8:ffff::1': '2001:db8:1::2',
      '2001:db8:1::1': '2001:db8:1::2',
    }),
    ['2001:db8:1::1', '2001:db8:ffff::1'],
  );
  assert.equal(scopeOf(ip('169.254.1.1')), 2);
  assert.equal(scopeOf(ip('ff05::1')), 5);
  assert.deepEqual(policyOf(ip('2002::1')), { precedence: 30, label: 2 });
});
