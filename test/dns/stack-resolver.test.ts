/**
 * DNS on the stack: getaddrinfo through `stack.backend` asks the hosts table, then
 * a DNS server over the stack's own UDP. The server is written here on another
 * stack (a UDP socket answering A queries with the src/dns codec); everything runs
 * on a memory switch under the virtual clock, so the retry/timeout schedule is
 * checked exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLASS_IN,
  encodeDnsMessage,
  parseDnsMessage,
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  TYPE_A,
} from '../../src/dns/message.ts';
import { Simulation } from '../../src/link/sim.ts';
import { Switch } from '../../src/link/switch.ts';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { GaiError } from '../../src/socket/errno.ts';
import { getaddrinfo, gethostbyname } from '../../src/socket/resolve.ts';
import { parseNameserver } from '../../src/socket/stack-resolver.ts';
import { Stack } from '../../src/stack.ts';
import { millis } from '../../src/time/instant.ts';

const ZONE: Record<string, string> = {
  'www.example.test': '10.0.2.80',
  'mail.example.test': '10.0.2.25',
};

/** client 10.0.2.15, dns 10.0.2.53, dns2 10.0.2.54 on one switch (QEMU slirp's numbering). */
function network(nameservers?: string[]) {
  const sim = new Simulation({ seed: 11 });
  const sw = sim.add(new Switch({ clock: sim.clock, rng: sim.rng.fork(), name: 'sw' }));
  const mk = (name: string, addr: string, ns?: string[]) => {
    const s = sim.add(
      new Stack({ clock: sim.clock, rng: sim.rng.fork(), name, privileged: true, nameservers: ns }),
    );
    s.addInterface({ name: 'eth0', device: sw.port({ delay: millis(1) }), addresses: [addr] });
    return s;
  };
  const client = mk('client', '10.0.2.15/24', nameservers);
  const dns = mk('dns', '10.0.2.53/24');
  const dns2 = mk('dns2', '10.0.2.54/24');
  sim.runUntilIdle();
  return { sim, client, dns, dns2 };
}

interface DnsServer {
  /** Question names received, in order. */
  readonly asked: string[];
  close(): Promise<void>;
}

/** A DNS server on `stack` port 53: A records from ZONE, NXDOMAIN otherwise; `silent` never answers. */
async function serveDns(stack: Stack, silent = false): Promise<DnsServer> {
  const s = stack.socket(AF_INET, SOCK_DGRAM);
  await s.bind(['0.0.0.0', 53]);
  const asked: string[] = [];
  void (async () => {
    for (;;) {
      let got: Awaited<ReturnType<typeof s.recvfrom>>;
      try {
        got = await s.recvfrom(512);
      } catch {
        return; // closed
      }
      const [bytes, from] = got;
      const r = parseDnsMessage(bytes);
      if (!r.ok || r.message.qr || r.message.questions.length !== 1) continue;
      const q = r.message.questions[0];
      asked.push(q.name);
      if (silent || !from) continue;
      const addr = ZONE[q.name.toLowerCase()];
      const reply = encodeDnsMessage({
        id: r.message.id,
        qr: true,
        aa: true,
        rd: r.message.rd,
        ra: true,
        rcode: addr === undefined ? RCODE_NXDOMAIN : RCODE_NOERROR,
        questions: [q],
        answers:
          addr !== undefined && q.type === TYPE_A
            ? [{ name: q.name, type: TYPE_A, class: CLASS_IN, ttl: 300, address: addr }]
            : [],
      });
      await s.sendto(reply, from as [string, number]);
    }
  })();
  return { asked, close: () => s.close() };
}

const gai = (code: string) => (e: unknown) => e instanceof GaiError && e.code === code;

describe('DNS on the stack backend', () => {
  it('getaddrinfo resolves a name through a DNS server on another stack', async () => {
    const { sim, client, dns } = network(['10.0.2.53']);
    await sim.run(async () => {
      const server = await serveDns(dns);
      const infos = await getaddrinfo(client.backend, 'www.example.test', 80, AF_INET, SOCK_STREAM);
      assert.deepEqual(infos, [[AF_INET, SOCK_STREAM, 6, '', ['10.0.2.80', 80]]]);
      // AF_UNSPEC asks A and AAAA, as glibc does (this zone has no AAAA: IPv4 only).
      assert.equal(await gethostbyname(client.backend, 'MAIL.example.test.'), '10.0.2.25');
      const any = await getaddrinfo(client.backend, 'www.example.test', 'http', 0, SOCK_DGRAM);
      assert.deepEqual(any, [[AF_INET, SOCK_DGRAM, 17, '', ['10.0.2.80', 80]]]);
      assert.deepEqual(server.asked, [
        'www.example.test',
        'MAIL.example.test',
        'www.example.test',
        'www.example.test',
      ]);
      assert.equal(client.resolver.stub?.stats.queries, 4);
      await server.close();
    });
  });

  it('the hosts table answers first; no query goes out', async () => {
    const { sim, client, dns } = network(['10.0.2.53']);
    await sim.run(async () => {
      const server = await serveDns(dns);
      client.hosts.set('www.example.test', 0x0a000263); // 10.0.2.99
      assert.equal(await gethostbyname(client.backend, 'WWW.example.test'), '10.0.2.99');
      assert.equal(await gethostbyname(client.backend, 'localhost'), '127.0.0.1');
      assert.deepEqual(server.asked, []);
      await server.close();
    });
  });

  it('an unknown name is EAI_NONAME (NXDOMAIN), after one query', async () => {
    const { sim, client, dns } = network(['10.0.2.53']);
    await sim.run(async () => {
      const server = await serveDns(dns);
      const t0 = sim.clock.now();
      await assert.rejects(getaddrinfo(client.backend, 'nope.example.test', 80), gai('EAI_NONAME'));
      assert.deepEqual(server.asked, ['nope.example.test']);
      assert.ok(sim.clock.now() - t0 < millis(100), 'answered, not timed out');
      await server.close();
    });
  });

  it('a silent server: EAI_AGAIN after attempts × timeout of virtual time', async () => {
    const { sim, client, dns } = network();
    assert.deepEqual(client.nameservers, []);
    client.setNameservers(['10.0.2.53'], { timeoutMs: 1500, attempts: 3 });
    assert.deepEqual(client.nameservers, ['10.0.2.53:53']);
    await sim.run(async () => {
      const server = await serveDns(dns, true);
      const t0 = sim.clock.now();
      await assert.rejects(getaddrinfo(client.backend, 'www.example.test', 80, AF_INET), gai('EAI_AGAIN'));
      const elapsed = sim.clock.now() - t0;
      assert.equal(elapsed, millis(4500), `3 tries of 1.5 s, took ${elapsed} µs`);
      assert.deepEqual(server.asked, ['www.example.test', 'www.example.test', 'www.example.test']);
      assert.equal(client.resolver.stub?.stats.timeouts, 3);
      await server.close();
    });
  });

  it('falls over to the second nameserver when the first stays silent', async () => {
    const { sim, client, dns, dns2 } = network(['10.0.2.53', '10.0.2.54:53']);
    await sim.run(async () => {
      const silent = await serveDns(dns, true);
      const good = await serveDns(dns2);
      const t0 = sim.clock.now();
      assert.equal(await gethostbyname(client.backend, 'www.example.test'), '10.0.2.80');
      const elapsed = sim.clock.now() - t0;
      // Default schedule: 2 tries × 2 s at the first server, then an answer within a few ms.
      assert.ok(elapsed >= millis(4000) && elapsed < millis(4100), `took ${elapsed} µs`);
      assert.equal(silent.asked.length, 2);
      assert.deepEqual(good.asked, ['www.example.test']);
      await silent.close();
      await good.close();
    });
  });

  it('no nameservers: a name not in hosts is EAI_NONAME without any traffic', async () => {
    const { sim, client } = network();
    const sent = client.stats.udp;
    await sim.run(async () => {
      await assert.rejects(gethostbyname(client.backend, 'www.example.test'), gai('EAI_NONAME'));
    });
    assert.deepEqual(client.stats.udp, sent);
    client.setNameservers(['10.0.2.53']);
    client.setNameservers([]);
    assert.equal(client.resolver.stub, undefined);
  });

  it('nameserver text is checked', () => {
    assert.deepEqual(parseNameserver('10.0.2.53'), ['10.0.2.53', 53]);
    assert.deepEqual(parseNameserver(' 10.0.2.53:5353 '), ['10.0.2.53', 5353]);
    assert.deepEqual(parseNameserver('fd00::53'), ['fd00::53', 53]);
    assert.deepEqual(parseNameserver('[FD00::53]:5353'), ['fd00::53', 5353]);
    for (const bad of [
      'dns.example',
      '10.0.2.53:0',
      '10.0.2.53:70000',
      '10.0.2.300',
      '[::1',
      '[::1]:0',
      'fd00::zz',
      '::1:53:',
    ])
      assert.throws(() => parseNameserver(bad), TypeError, bad);
    const { client } = network();
    assert.throws(() => client.setNameservers(['nope']), TypeError);
  });
});
