/**
 * The Linux kernel as a peer over a TAP: ICMP echo and UDP, both directions.
 * Each test builds its own namespace (src/node/tap-stack.ts), talks only to
 * addresses inside it, and deletes it afterwards. Skips with the reason printed
 * without root, /dev/net/tun, iproute2 or the tool a test needs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AF_INET, SOCK_DGRAM } from '../../src/socket/constants.ts';
import { exited, host, lines, skipUnless, text } from './helpers.ts';

/** ping's count of replies ("N received"): with -c N -w DEADLINE it keeps probing until N arrive. */
function pingReplies(out: string): number {
  return Number(/(\d+) received/.exec(out)?.[1] ?? 0);
}

describe('kernel peer over TAP: ping', () => {
  it('the kernel pings sockstack (ping(8) in the namespace)', async (t) => {
    if (skipUnless(t, ['ping'])) return;
    const h = await host(t);
    const r = await h.exec(['ping', '-c', '3', '-i', '0.2', '-W', '2', '-w', '10', '-s', '100', h.stackIp], {
      timeoutMs: 15_000,
    });
    assert.equal(r.code, 0, `ping failed:\n${r.stdout}\n${r.stderr}`);
    assert.ok(pingReplies(r.stdout) >= 3, r.stdout);
    assert.match(r.stdout, /108 bytes from 10\.77\.1\.2: icmp_seq=1 ttl=64/);
    // With -w, ping sends one more request for each reply that is late on a loaded machine:
    // every request that reached the stack was answered, and no more than ping sent.
    const sent = Number(/(\d+) packets transmitted/.exec(r.stdout)?.[1]);
    const { inEchoRequests, outEchoReplies } = h.stack.stats.icmp;
    assert.ok(inEchoRequests >= 3 && inEchoRequests <= sent, `${inEchoRequests} requests, ping sent ${sent}`);
    assert.equal(outEchoReplies, inEchoRequests);
  });

  it('sockstack pings the kernel (stack.ping), ARP first', async (t) => {
    if (skipUnless(t)) return;
    const h = await host(t);
    for (let seq = 1; seq <= 3; seq++) {
      const r = await h.stack.ping(h.kernelIp, { seq, size: 200, timeout: 3_000_000 });
      assert.ok(r.ok, `ping ${seq} failed: ${JSON.stringify(r)}`);
      assert.equal(r.bytes, 208);
      assert.equal(r.seq, seq);
      assert.equal(r.ttl, 64);
      // Real time now: a round trip through the kernel takes well under a second.
      assert.ok(r.rtt > 0 && r.rtt < 1_000_000, `rtt ${r.rtt} µs`);
    }
    // The kernel learnt our MAC from our ARP request/its reply.
    const neigh = await h.exec(['ip', 'neigh', 'show', h.stackIp]);
    assert.match(neigh.stdout, /lladdr [0-9a-f:]{17}/);
  });

  it('a ping to an address nobody has on the link times out (ARP unanswered)', async (t) => {
    if (skipUnless(t)) return;
    const h = await host(t);
    const r = await h.stack.ping('10.77.1.99', { timeout: 500_000 });
    assert.equal(r.ok, false);
  });
});

describe('kernel peer over TAP: UDP', () => {
  it('kernel → sockstack: python3 client, sockstack echo server', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await host(t);
    const s = h.stack.socket(AF_INET, SOCK_DGRAM);
    t.after(() => s.close());
    await s.bind([h.stackIp, 7007]);
    const N = 20;
    let stop = false;
    const server = (async () => {
      for (let i = 0; i < N && !stop; i++) {
        const [data, from] = await s.recvfrom(65536);
        await s.sendto(data, from as [string, number]);
      }
    })();
    const py = [
      'import socket,sys',
      's=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3)',
      `s.bind(('${h.kernelIp}',0))`,
      'ok=0',
      `for i in range(${N}):`,
      '  msg=(b"dgram-%d-" % i) + bytes(range(256))*(1+i*5)',
      `  s.sendto(msg,('${h.stackIp}',7007))`,
      '  d,a=s.recvfrom(65536)',
      `  assert d==msg and a==('${h.stackIp}',7007), (i,len(d),a)`,
      '  ok+=1',
      'print("echoed",ok,"largest",len(msg))',
    ].join('\n');
    const r = await h.exec(['python3', '-c', py], { timeoutMs: 20_000 });
    stop = true;
    assert.equal(r.code, 0, r.stderr);
    // The largest datagram (256*96 + header bytes) is fragmented by the kernel and reassembled by us, and back.
    assert.match(r.stdout, /echoed 20 largest 24585/);
    await server;
  });

  it('sockstack → kernel: sockstack client, python3 echo server in the namespace', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await host(t);
    const py = [
      'import socket',
      's=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(10)',
      `s.bind(('${h.kernelIp}',7008))`,
      'print("ready",flush=True)',
      'for i in range(20):',
      '  d,a=s.recvfrom(65536)',
      '  s.sendto(d[::-1],a)',
    ].join('\n');
    const child = h.spawn(['python3', '-c', py]);
    const out = lines(child, 'python3 echo');
    await out.waitFor(/ready/);
    const s = h.stack.socket(AF_INET, SOCK_DGRAM);
    t.after(() => s.close());
    s.settimeout(5);
    for (let i = 0; i < 20; i++) {
      const msg = new TextEncoder().encode(`hello ${i} `.repeat(1 + i * 100));
      await s.sendto(msg, [h.kernelIp, 7008]);
      const [d, from] = await s.recvfrom(65536);
      assert.deepEqual(from, [h.kernelIp, 7008]);
      assert.equal(text(d), text(msg.slice().reverse()));
    }
    assert.equal(await exited(child, 5000), 0);
  });

  it('socat in the namespace sends to sockstack and receives its reply', async (t) => {
    if (skipUnless(t, ['socat'])) return;
    const h = await host(t);
    const s = h.stack.socket(AF_INET, SOCK_DGRAM);
    t.after(() => s.close());
    await s.bind(['', 7009]);
    const reply = (async () => {
      const [d, from] = await s.recvfrom(2048);
      await s.sendto(new TextEncoder().encode(`got:${text(d)}`), from as [string, number]);
    })();
    const r = await h.exec(['socat', '-T', '3', '-', `UDP4:${h.stackIp}:7009`], {
      input: 'from-socat',
      timeoutMs: 10_000,
    });
    await reply;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'got:from-socat');
  });

  it('a datagram to a closed port on the kernel comes back as ECONNREFUSED on a connected socket', async (t) => {
    if (skipUnless(t)) return;
    const h = await host(t);
    const s = h.stack.socket(AF_INET, SOCK_DGRAM);
    t.after(() => s.close());
    s.settimeout(3);
    await s.connect([h.kernelIp, 9]);
    await s.send(new TextEncoder().encode('anyone?'));
    await assert.rejects(s.recv(100), { code: 'ECONNREFUSED' });
  });
});
