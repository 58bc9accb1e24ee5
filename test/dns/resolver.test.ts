import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { HostsTable } from '../../src/dns/hosts.ts';
import {
  type DnsMessage,
  encodeDnsMessage,
  parseDnsMessage,
  RCODE_NXDOMAIN,
  RCODE_SERVFAIL,
  TYPE_A,
  TYPE_AAAA,
} from '../../src/dns/message.ts';
import { type DnsServer, type DnsTransport, StubResolver } from '../../src/dns/resolver.ts';
import { osBackend, realScheduler } from '../../src/node/os-backend.ts';
import { SeededRng } from '../../src/rand/rng.ts';
import type { Scheduler } from '../../src/socket/backend.ts';
import { AF_INET, SOCK_DGRAM } from '../../src/socket/constants.ts';
import { GaiError } from '../../src/socket/errno.ts';
import { Socket } from '../../src/socket/socket.ts';

/** Virtual timers: nothing fires until advance(). */
class FakeScheduler implements Scheduler {
  now = 0;
  timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  schedule(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  }
  cancel(h: unknown): void {
    this.timers.delete(h as number);
  }
  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= this.now) {
        this.timers.delete(id);
        t.fn();
      }
    }
  }
}

const tick = () => new Promise((r) => setImmediate(r));

type Responder = (q: DnsMessage, server: DnsServer) => Array<{ bytes: Uint8Array; from?: [string, number] }>;

/** A transport whose "network" is a function from query to replies. */
function fakeNet(respond: Responder) {
  const sent: DnsMessage[] = [];
  let opened = 0;
  const open = (server: DnsServer): DnsTransport => {
    opened++;
    const inbox: [Uint8Array, [string, number]][] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    return {
      async sendto(data) {
        const r = parseDnsMessage(data);
        assert.ok(r.ok);
        sent.push(r.message);
        for (const rep of respond(r.message, server))
          inbox.push([rep.bytes, rep.from ?? [server[0], server[1]]]);
        wake?.();
      },
      async recvfrom() {
        for (let i = 0; i < 1000; i++) {
          if (closed) throw new Error('closed');
          const m = inbox.shift();
          if (m) return m;
          await new Promise<void>((r) => (wake = r));
        }
        throw new Error('too many wakeups');
      },
      close() {
        closed = true;
        wake?.();
      },
    };
  };
  return { sent, open, opened: () => opened };
}

function reply(q: DnsMessage, init: Partial<DnsMessage>): Uint8Array {
  return encodeDnsMessage({ id: q.id, qr: true, rd: true, ra: true, questions: q.questions, ...init });
}

const rec = (name: string, address: string) =>
  address.includes(':')
    ? { name, class: 1, ttl: 60, type: TYPE_AAAA as 28, address }
    : { name, class: 1, ttl: 60, type: TYPE_A as 1, address };

describe('stub resolver', () => {
  const servers: DnsServer[] = [['10.0.0.53', 53]];

  it('answers from the hosts table first (localhost), without DNS traffic', async () => {
    const net = fakeNet(() => []);
    const r = new StubResolver({
      servers,
      open: net.open,
      scheduler: new FakeScheduler(),
      rng: new SeededRng(1),
    });
    assert.deepEqual(await r.resolve('localhost', AF_INET), [{ family: 2, host: '127.0.0.1' }]);
    assert.deepEqual(await r.resolve('LOCALHOST.', 10), [{ family: 10, host: '::1' }]);
    assert.equal(net.opened(), 0);
    const h = HostsTable.parse('# comment\n192.0.2.7  printer printer.lan\nbogus line\n');
    assert.deepEqual(h.lookup('Printer.LAN'), [{ family: 2, host: '192.0.2.7' }]);
  });

  it('resolves A and AAAA, following a CNAME chain and ignoring forged replies', async () => {
    const net = fakeNet((q) => {
      const name = q.questions[0].name;
      const forged = { bytes: reply({ ...q, id: (q.id + 1) & 0xffff }, { answers: [rec(name, '6.6.6.6')] }) };
      const wrongSource = {
        bytes: reply(q, { answers: [rec(name, '6.6.6.7')] }),
        from: ['10.9.9.9', 53] as [string, number],
      };
      const wrongQuestion = {
        bytes: encodeDnsMessage({
          id: q.id,
          qr: true,
          questions: [{ name: 'evil.test', type: 1, class: 1 }],
        }),
      };
      const good = {
        bytes: reply(q, {
          answers: [
            { name, class: 1, ttl: 60, type: 5 as const, target: 'real.example' },
            q.questions[0].type === TYPE_A
              ? rec('real.example', '192.0.2.1')
              : rec('real.example', '2001:db8::1'),
          ],
        }),
      };
      return [forged, wrongSource, wrongQuestion, { bytes: new Uint8Array([1, 2, 3]) }, good];
    });
    const r = new StubResolver({
      servers,
      open: net.open,
      scheduler: new FakeScheduler(),
      rng: new SeededRng(2),
    });
    const got = await r.resolve('www.example', 0);
    assert.deepEqual(got, [
      { family: 2, host: '192.0.2.1' },
      { family: 10, host: '2001:db8::1' },
    ]);
    assert.equal(r.stats.ignored, 8);
    assert.equal(net.sent.length, 2);
    assert.deepEqual(
      net.sent.map((m) => m.questions[0].type),
      [TYPE_A, TYPE_AAAA],
    );
    assert.ok(net.sent.every((m) => m.rd));
  });

  it('NXDOMAIN → EAI_NONAME; name without the type → EAI_NODATA', async () => {
    const net = fakeNet((q) => [
      {
        bytes: reply(q, q.questions[0].name === 'nope.example' ? { rcode: RCODE_NXDOMAIN } : { answers: [] }),
      },
    ]);
    const r = new StubResolver({
      servers,
      open: net.open,
      scheduler: new FakeScheduler(),
      rng: new SeededRng(3),
    });
    await assert.rejects(
      r.resolve('nope.example', AF_INET),
      (e: unknown) => e instanceof GaiError && e.code === 'EAI_NONAME' && e.errno === -2,
    );
    await assert.rejects(
      r.resolve('empty.example', AF_INET),
      (e: unknown) => e instanceof GaiError && e.code === 'EAI_NODATA',
    );
  });

  it('AF_UNSPEC: the A answer stands when the AAAA question fails (as glibc); NXDOMAIN first ends it', async () => {
    // A server that (wrongly) answers NXDOMAIN for the type it has no record of.
    const net = fakeNet((q) => {
      const { name, type } = q.questions[0];
      if (name === 'v4.example' && type === TYPE_A)
        return [{ bytes: reply(q, { answers: [rec(name, '10.0.0.4')] }) }];
      if (name === 'v6.example')
        return [{ bytes: reply(q, { answers: type === TYPE_AAAA ? [rec(name, 'fd00::6')] : [] }) }];
      return [{ bytes: reply(q, { rcode: RCODE_NXDOMAIN }) }];
    });
    const r = new StubResolver({
      servers,
      open: net.open,
      scheduler: new FakeScheduler(),
      rng: new SeededRng(4),
    });
    assert.deepEqual(await r.resolve('v4.example', 0), [{ family: 2, host: '10.0.0.4' }]);
    assert.deepEqual(await r.resolve('v6.example', 0), [{ family: 10, host: 'fd00::6' }]);
    const before = net.sent.length;
    await assert.rejects(
      r.resolve('none.example', 0),
      (e: unknown) => e instanceof GaiError && e.code === 'EAI_NONAME',
    );
    assert.equal(net.sent.length - before, 1, 'no AAAA question after NXDOMAIN (RFC 8020)');
  });

  it('retries on timeout in virtual time, then EAI_AGAIN; SERVFAIL moves to the next server', async () => {
    const sched = new FakeScheduler();
    const net = fakeNet(() => []);
    const r = new StubResolver({
      servers,
      open: net.open,
      scheduler: sched,
      rng: new SeededRng(4),
      timeoutMs: 1000,
      attempts: 3,
    });
    let settled: unknown;
    const p = r.resolve('slow.example', AF_INET).then(
      (v) => (settled = v),
      (e) => (settled = e),
    );
    for (let i = 0; i < 3; i++) {
      await tick();
      assert.equal(net.sent.length, i + 1, `try ${i + 1} sent`);
      assert.equal(settled, undefined);
      sched.advance(999);
      await tick();
      assert.equal(net.sent.length, i + 1, 'no retry before the timeout');
      sched.advance(1);
    }
    await p;
    assert.ok(settled instanceof GaiError && settled.code === 'EAI_AGAIN', String(settled));
    assert.equal(r.stats.timeouts, 3);
    assert.equal(sched.timers.size, 0, 'no timers left behind');

    const two: DnsServer[] = [
      ['10.0.0.1', 53],
      ['10.0.0.2', 53],
    ];
    const net2 = fakeNet((q, server) => [
      {
        bytes:
          server[0] === '10.0.0.1'
            ? reply(q, { rcode: RCODE_SERVFAIL })
            : reply(q, { answers: [rec('x.example', '192.0.2.9')] }),
      },
    ]);
    const r2 = new StubResolver({ servers: two, open: net2.open, scheduler: sched, rng: new SeededRng(5) });
    assert.deepEqual(await r2.resolve('x.example', AF_INET), [{ family: 2, host: '192.0.2.9' }]);
  });

  it('works over real UDP: a tiny DNS server on 127.0.0.1 and the front Socket as transport', async () => {
    const server = dgram.createSocket('udp4');
    let drop = 1; // the first query is lost, so the resolver must retry
    server.on('message', (msg, rinfo) => {
      const r = parseDnsMessage(msg);
      if (!r.ok) return;
      if (drop-- > 0) return;
      const q = r.message;
      const name = q.questions[0].name;
      const body =
        name === 'svc.test' ? { answers: [rec('svc.test', '127.0.0.9')] } : { rcode: RCODE_NXDOMAIN };
      server.send(reply(q, body), rinfo.port, rinfo.address);
    });
    await new Promise<void>((res) => server.bind(0, '127.0.0.1', res));
    const port = server.address().port;
    try {
      const r = new StubResolver({
        servers: [['127.0.0.1', port]],
        open: () => new Socket(osBackend(), AF_INET, SOCK_DGRAM),
        scheduler: realScheduler,
        rng: new SeededRng(6),
        timeoutMs: 100,
      });
      assert.deepEqual(await r.resolve('svc.test', AF_INET), [{ family: 2, host: '127.0.0.9' }]);
      assert.equal(r.stats.timeouts, 1);
      await assert.rejects(
        r.resolve('gone.test', AF_INET),
        (e: unknown) => e instanceof GaiError && e.code === 'EAI_NONAME',
      );
    } finally {
      server.close();
    }
  });
});
