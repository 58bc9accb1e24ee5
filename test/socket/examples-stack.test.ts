/**
 * Every example on `--backend stack`: each process is a host on sockstack's
 * virtual Ethernet (src/node/stack-backend.ts), joined through a hub on a loopback
 * UDP port private to the test. The first process started binds the hub; the
 * test process itself joins as further hosts where it plays a client.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  CLASS_IN,
  encodeDnsMessage,
  parseDnsMessage,
  RCODE_NXDOMAIN,
  TYPE_A,
} from '../../src/dns/message.ts';
import { socket } from '../../src/node/socket.ts';
import {
  configureStackBackend,
  defaultAddress,
  defaultHubPort,
  parseHub,
  type StackHost,
  stackHost,
  startStackHost,
} from '../../src/node/stack-backend.ts';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import { SocketError } from '../../src/socket/errno.ts';
import { getBackend, registeredBackends } from '../../src/socket/registry.ts';
import { freeUdpPort, killChildren, run } from './examples-run.ts';

const hosts: StackHost[] = [];
after(async () => {
  killChildren();
  for (const h of hosts) await h.close();
});

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** A host for the test process itself on the example's hub. */
function join(hub: number, address: string): StackHost {
  const h = startStackHost({ hub: { host: '127.0.0.1', port: hub }, address });
  hosts.push(h);
  return h;
}

describe('examples on the stack backend (one process per host, hub on loopback UDP)', () => {
  it('echo-server + echo-client: the course session across two processes', async () => {
    const hub = await freeUdpPort();
    const server = run('echo-server.ts', ['--backend', 'stack', '--hub', String(hub), '--port', '0']);
    await server.waitFor(new RegExp(`stack host 10\\.99\\.0\\.1 \\(hub on 127\\.0\\.0\\.1:${hub}\\)`));
    const [, port] = await server.waitFor(/listening on \[ '0\.0\.0\.0', (\d+) \]/);
    const client = run('echo-client.ts', [
      '--backend',
      'stack',
      '--hub',
      `127.0.0.1:${hub}`,
      '--address',
      '10.99.0.7/24',
      '--port',
      port,
      'Hello,',
      'world',
    ]);
    assert.equal(await client.exited(), 0, client.out());
    assert.match(client.out(), /stack host 10\.99\.0\.7 \(member/);
    assert.match(client.out(), /Received "Hello, world"/);
    assert.equal(await server.exited(), 0, server.out());
    assert.match(server.out(), /Connected by \[ '10\.99\.0\.7', \d+ \]/);
  });

  it('chat-server relays lines between two clients on two more hosts', async () => {
    const hub = await freeUdpPort();
    const server = run('chat-server.ts', ['--backend', 'stack', '--hub', String(hub), '--port', '0']);
    const [, port] = await server.waitFor(/listening on \[ '0\.0\.0\.0', (\d+) \]/);
    // Client A through the registry, as `--backend stack` does; client B on a host of its own.
    configureStackBackend({ hub: { host: '127.0.0.1', port: hub }, address: '10.99.0.2/24' });
    assert.ok(registeredBackends().includes('stack'));
    const backendA = await getBackend('stack');
    hosts.push(stackHost());
    assert.equal(stackHost().link.role, 'member');
    const hostB = join(hub, '10.99.0.3/24');
    const a = socket(AF_INET, SOCK_STREAM, { backend: backendA });
    const b = socket(AF_INET, SOCK_STREAM, { backend: hostB.backend });
    a.settimeout(10);
    b.settimeout(10);
    try {
      await a.connect(['10.99.0.1', Number(port)]);
      await server.waitFor(/connected 10\.99\.0\.2:\d+/);
      await b.connect(['10.99.0.1', Number(port)]);
      let seen = '';
      for (let i = 0; i < 20 && !seen.includes('joined'); i++) seen += decode(await a.recv(1024));
      assert.match(seen, /\* 10\.99\.0\.3:\d+ joined/);
      await a.sendall('hi there\n');
      let got = '';
      for (let i = 0; i < 20 && !got.includes('hi there'); i++) got += decode(await b.recv(1024));
      assert.match(got, /\[10\.99\.0\.2:\d+\] hi there\n/);
      await b.sendall('hello back\n');
      let back = '';
      for (let i = 0; i < 20 && !back.includes('hello back'); i++) back += decode(await a.recv(1024));
      assert.match(back, /\[10\.99\.0\.3:\d+\] hello back\n/);
    } finally {
      await a.close();
      await b.close();
      server.child.kill();
    }
    assert.equal(hostB.openSockets, 0);
  });

  it('udp broadcast: the hub relays the announcer’s broadcasts to every listener process', async () => {
    const hub = await freeUdpPort();
    const args = ['--backend', 'stack', '--hub', String(hub)];
    // Listener 1 is 10.99.0.1 and hosts the hub; listener 2 and the announcer are members,
    // so listener 2 only hears the broadcast through the hub's relay.
    const l1 = run('udp-broadcast-listener.ts', [...args, '--port', '0', '--count', '2', '--timeout', '10']);
    const [, port] = await l1.waitFor(/listening on \[ '0\.0\.0\.0', (\d+) \]/);
    const l2 = run('udp-broadcast-listener.ts', [
      ...args,
      '--address',
      '10.99.0.3/24',
      '--port',
      port,
      '--count',
      '2',
      '--timeout',
      '10',
    ]);
    await l2.waitFor(/listening on \[ '0\.0\.0\.0', \d+ \]/);
    const announcer = run('udp-broadcast-announcer.ts', [
      ...args,
      '--address',
      '10.99.0.2/24',
      '--port',
      port,
      '--count',
      '2',
      '--interval',
      '50',
    ]);
    assert.equal(await announcer.exited(), 0, announcer.out());
    assert.match(announcer.out(), /without SO_BROADCAST: sendto EACCES/);
    for (const l of [l1, l2]) {
      assert.equal(await l.exited(), 0, l.out());
      assert.match(
        l.out(),
        /from \[ '10\.99\.0\.2', \d+ \] "announce 1 from stack-10-99-0-2"[\s\S]*"announce 2 from stack-10-99-0-2"/,
      );
    }
  });

  it('voice over multicast: the hub floods the group frames to both receiver hosts; each reports the stream', async () => {
    const hub = await freeUdpPort();
    const args = ['--backend', 'stack', '--hub', String(hub)];
    const r1 = run('voice-receiver.ts', [...args, '--port', '5004', '--count', '30', '--timeout', '15']);
    await r1.waitFor(/joined 239\.255\.0\.1 on 10\.99\.0\.1/);
    const r2 = run('voice-receiver.ts', [
      ...args,
      '--address',
      '10.99.0.3/24',
      '--port',
      '5004',
      '--count',
      '30',
      '--timeout',
      '15',
    ]);
    await r2.waitFor(/joined 239\.255\.0\.1 on 10\.99\.0\.3/);
    const sender = run('voice-sender.ts', [
      ...args,
      '--address',
      '10.99.0.2/24',
      '--port',
      '5004',
      '--count',
      '30',
      '--interval',
      '10',
    ]);
    assert.equal(await sender.exited(), 0, sender.out());
    for (const r of [r1, r2]) {
      assert.equal(await r.exited(), 0, r.out());
      const m = r.out().match(/receiver: (\d+) of (\d+) frames from 10\.99\.0\.2:\d+ ssrc \d+, lost (\d+)/);
      assert.ok(m, r.out());
      const [got, expected, lost] = [Number(m[1]), Number(m[2]), Number(m[3])];
      // The hub is UDP over loopback: expect the stream, and the loss count to add up.
      assert.ok(got >= 20, r.out());
      assert.equal(got + lost, expected, r.out());
    }
  });

  it('http-get fetches from http-server across the hub', async () => {
    const hub = await freeUdpPort();
    const args = ['--backend', 'stack', '--hub', String(hub)];
    const server = run('http-server.ts', [...args, '--port', '0', '--count', '2']);
    const [, port] = await server.waitFor(/listening on \[ '0\.0\.0\.0', (\d+) \]/);
    const get = run('http-get.ts', [...args, `http://10.99.0.1:${port}/hello?x=1`]);
    assert.equal(await get.exited(), 0, get.out());
    assert.match(get.out(), /^HTTP\/1\.0 200 OK/m);
    assert.match(get.out(), /you asked for \/hello\?x=1 on stack-10-99-0-1/);

    // The same by name: a DNS server on a host of the test process answers for www.example.test.
    const dnsHost = join(hub, '10.99.0.53/24');
    const dns = socket(AF_INET, SOCK_DGRAM, { backend: dnsHost.backend });
    await dns.bind(['0.0.0.0', 53]);
    const asked: string[] = [];
    const serving = (async () => {
      for (;;) {
        const [bytes, from] = await dns.recvfrom(512).catch(() => [undefined, null] as const);
        if (!bytes || !from) return;
        const r = parseDnsMessage(bytes);
        if (!r.ok || r.message.questions.length !== 1) continue;
        const q = r.message.questions[0];
        asked.push(q.name);
        const exists = q.name.toLowerCase() === 'www.example.test';
        const known = exists && q.type === TYPE_A;
        await dns.sendto(
          encodeDnsMessage({
            id: r.message.id,
            qr: true,
            rd: true,
            ra: true,
            rcode: exists ? 0 : RCODE_NXDOMAIN,
            questions: [q],
            answers: known
              ? [{ name: q.name, type: TYPE_A, class: CLASS_IN, ttl: 60, address: '10.99.0.1' }]
              : [],
          }),
          from,
        );
      }
    })();
    try {
      const byName = run('http-get.ts', [
        ...args,
        '--nameserver',
        '10.99.0.53',
        `http://www.example.test:${port}/by-name`,
      ]);
      assert.equal(await byName.exited(), 0, byName.out());
      assert.match(byName.out(), /you asked for \/by-name on stack-10-99-0-1/);
      // AF_UNSPEC asks A and AAAA, as glibc does.
      assert.deepEqual(asked, ['www.example.test', 'www.example.test']);
      assert.equal(await server.exited(), 0, server.out());
    } finally {
      await dns.close();
      await serving;
    }
  });

  it('stack-hub hosts only the hub; two examples started afterwards talk through it', async () => {
    const hub = await freeUdpPort();
    const hubProc = run('stack-hub.ts', ['--hub', `127.0.0.1:${hub}`]);
    await hubProc.waitFor(new RegExp(`hub on 127\\.0\\.0\\.1:${hub}`));
    const args = ['--backend', 'stack', '--hub', String(hub)];
    const server = run('echo-server.ts', [...args, '--port', '5000']);
    await server.waitFor(/stack host 10\.99\.0\.1 \(member/);
    await server.waitFor(/listening on/);
    const client = run('echo-client.ts', [...args, '--port', '5000', 'via', 'the', 'hub']);
    assert.equal(await client.exited(), 0, client.out());
    assert.match(client.out(), /Received "via the hub"/);
    assert.equal(await server.exited(), 0, server.out());
    await hubProc.waitFor(/member 127\.0\.0\.1:\d+[\s\S]*member 127\.0\.0\.1:\d+/);
    hubProc.child.kill();
  });

  it('chat-client: two client processes chat through chat-server, typing on stdin', async () => {
    const hub = await freeUdpPort();
    const args = ['--backend', 'stack', '--hub', String(hub)];
    const server = run('chat-server.ts', [...args, '--port', '0']);
    const [, port] = await server.waitFor(/listening on \[ '0\.0\.0\.0', (\d+) \]/);
    const a = run('chat-client.ts', [...args, '--port', port, '--address', '10.99.0.2/24'], { stdin: true });
    await a.waitFor(/connected to \[ '10\.99\.0\.1', \d+ \]/);
    const b = run('chat-client.ts', [...args, '--port', port, '--address', '10.99.0.3/24'], { stdin: true });
    await b.waitFor(/connected to/);
    await a.waitFor(/\* 10\.99\.0\.3:\d+ joined/);
    b.child.stdin!.write('hello from b\n');
    await a.waitFor(/\[10\.99\.0\.3:\d+\] hello from b/);
    a.child.stdin!.end('bye from a\n');
    await b.waitFor(/\[10\.99\.0\.2:\d+\] bye from a/);
    assert.equal(await a.exited(), 0, a.out());
    b.child.stdin!.end();
    assert.equal(await b.exited(), 0, b.out());
    server.child.kill();
  });

  it('a second host taking an address already on the hub fails EADDRINUSE instead of sharing it', async () => {
    const hub = await freeUdpPort();
    const first = join(hub, '10.99.0.5/24');
    assert.equal(await first.ready, 'hub');
    const second = join(hub, '10.99.0.5/24');
    await assert.rejects(second.ready, (e: unknown) => {
      assert.ok(e instanceof SocketError && e.code === 'EADDRINUSE', String(e));
      assert.match(
        e.message,
        /another process on the hub 127\.0\.0\.1:\d+ \(MAC [\da-f:]+\) already uses this address/,
      );
      return true;
    });
    const other = join(hub, '10.99.0.6/24');
    assert.equal(await other.ready, 'member', 'a free address is fine');
    assert.equal(first.conflict !== undefined, true, 'the first host saw the newcomer claim its address');
  });

  it('helpers: hub addresses and default host addresses', () => {
    assert.equal(defaultHubPort(0), 47000);
    assert.equal(defaultHubPort(1000), 48000, 'each user has a hub of their own');
    assert.equal(defaultHubPort(1001), 48001);
    assert.deepEqual(parseHub('47001'), { host: '127.0.0.1', port: 47001 });
    assert.deepEqual(parseHub('127.0.0.2:5'), { host: '127.0.0.2', port: 5 });
    assert.throws(() => parseHub('localhost:47000'), TypeError);
    assert.throws(() => parseHub('70000'), TypeError);
    assert.equal(defaultAddress(0), '10.99.0.2/24');
    assert.equal(defaultAddress(252), '10.99.0.254/24');
    assert.equal(defaultAddress(253), '10.99.0.2/24');
    assert.throws(() => startStackHost({ address: '10.99.0.9' }), TypeError);
  });
});
