/**
 * TCP Fast Open through the sockets API (Linux's: sendto(MSG_FASTOPEN), TCP_FASTOPEN on the
 * listener, TCP_FASTOPEN_CONNECT, TCP_FASTOPEN_NO_COOKIE) between two stacks on a memory
 * cable with 10 ms each way, on the virtual clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cable } from '../../src/link/memory.ts';
import { Simulation } from '../../src/link/sim.ts';
import {
  AF_INET,
  IPPROTO_TCP,
  MSG_DONTWAIT,
  MSG_FASTOPEN,
  SOCK_STREAM,
  TCP_FASTOPEN,
  TCP_FASTOPEN_CONNECT,
  TCP_FASTOPEN_NO_COOKIE,
} from '../../src/socket/constants.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { Stack } from '../../src/stack.ts';
import { millis, seconds } from '../../src/time/instant.ts';

function pair(fastOpen: [number, number] = [1, 2]) {
  const sim = new Simulation({ seed: 5 });
  const delay = millis(10);
  const cable = sim.add(
    new Cable({ clock: sim.clock, rng: sim.rng.fork(), mtu: 1500, aToB: { delay }, bToA: { delay } }),
  );
  const mk = (name: string, fo: number) =>
    sim.add(new Stack({ clock: sim.clock, rng: sim.rng.fork(), name, config: { tcp: { fastOpen: fo } } }));
  const client = mk('client', fastOpen[0]);
  const server = mk('server', fastOpen[1]);
  client.addInterface({ name: 'eth0', device: cable.a, addresses: ['10.0.0.1/24'] });
  server.addInterface({ name: 'eth0', device: cable.b, addresses: ['10.0.0.2/24'] });
  sim.runUntilIdle();
  return { sim, client, server };
}

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

async function listener(server: Stack, port: number, qlen: number): Promise<Socket> {
  const l = server.socket(AF_INET, SOCK_STREAM);
  l.setsockopt(IPPROTO_TCP, TCP_FASTOPEN, qlen);
  await l.bind(['10.0.0.2', port]);
  await l.listen(8);
  return l;
}

/** Resolves the neighbours (ARP) so that the timed exchanges measure TCP alone. */
async function warm(sim: Simulation, client: Stack): Promise<void> {
  const s = client.socket(AF_INET, SOCK_STREAM);
  await sim.run(s.connectEx(['10.0.0.2', 9]), { timeout: seconds(5) });
  await s.close();
}

/** One request/response: the server echoes in upper case. Returns virtual µs until the client has the answer. */
async function requestResponse(
  sim: Simulation,
  l: Socket,
  client: Stack,
  port: number,
  how: 'plain' | 'msg_fastopen' | 'fastopen_connect',
): Promise<number> {
  const serve = (async () => {
    const [conn] = await l.accept();
    const req = await conn.recv(100);
    await conn.sendall(str(req).toUpperCase());
    await conn.close();
  })();
  const start = sim.now;
  const s = client.socket(AF_INET, SOCK_STREAM);
  const run = (async () => {
    if (how === 'msg_fastopen') {
      assert.equal(await s.sendto(text('ping'), MSG_FASTOPEN, ['10.0.0.2', port]), 4);
    } else {
      if (how === 'fastopen_connect') s.setsockopt(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1);
      await s.connect(['10.0.0.2', port]);
      await s.sendall('ping');
    }
    const got = await s.recv(100);
    const t = sim.now - start;
    assert.equal(str(got), 'PING');
    // The server closed right after answering, before the handshake's last ACK reached it
    // (a Fast Open child is accepted in SYN-RECEIVED): a FIN follows the data, not a reset.
    assert.equal((await s.recv(100)).length, 0, 'end of stream');
    await s.close();
    return t;
  })();
  const t = await sim.run(run, { timeout: seconds(10) });
  await sim.run(serve, { timeout: seconds(10) });
  return t;
}

describe('Fast Open sockets', () => {
  it('sendto(MSG_FASTOPEN): the first connection asks for a cookie, the next saves a round trip', async () => {
    const { sim, client, server } = pair();
    const l = await listener(server, 8080, 16);
    await warm(sim, client);
    const plain = await requestResponse(sim, l, client, 8080, 'plain');
    const first = await requestResponse(sim, l, client, 8080, 'msg_fastopen');
    const second = await requestResponse(sim, l, client, 8080, 'msg_fastopen');
    assert.equal(plain, millis(40), 'handshake + request/response: two round trips');
    assert.equal(first, plain, 'no cookie yet: a regular handshake');
    assert.equal(second, millis(20), 'the request rode on the SYN: one round trip');
    assert.equal(server.tcp.stats.fastOpenCookieReqd, 1);
    assert.equal(server.tcp.stats.fastOpenPassive, 1);
    assert.equal(client.tcp.stats.fastOpenActive, 1);
  });

  it('TCP_FASTOPEN_CONNECT: connect() returns at once and the first write rides on the SYN', async () => {
    const { sim, client, server } = pair();
    const l = await listener(server, 8081, 16);
    await warm(sim, client);
    const first = await requestResponse(sim, l, client, 8081, 'fastopen_connect');
    const second = await requestResponse(sim, l, client, 8081, 'fastopen_connect');
    assert.equal(first, millis(40));
    assert.equal(second, millis(20));
  });

  it('a non-blocking sendto(MSG_FASTOPEN) without a cookie raises EINPROGRESS; with one it returns the SYN bytes', async () => {
    const { sim, client, server } = pair([1 | 4, 2 | 0x200]);
    await listener(server, 8082, 16);
    const s = client.socket(AF_INET, SOCK_STREAM);
    s.setblocking(false);
    // TFO_CLIENT_NO_COOKIE (0x4) on the client, TFO_SERVER_COOKIE_NOT_REQD (0x200) on the server.
    assert.equal(await s.sendto(text('hello'), MSG_FASTOPEN | MSG_DONTWAIT, ['10.0.0.2', 8082]), 5);
    assert.equal(s.getsockopt(IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE), 0);
    const { sim: sim2, client: cl2, server: sv2 } = pair();
    await listener(sv2, 8083, 16);
    const n = cl2.socket(AF_INET, SOCK_STREAM);
    n.setblocking(false);
    await assert.rejects(n.sendto(text('hello'), MSG_FASTOPEN, ['10.0.0.2', 8083]), { code: 'EINPROGRESS' });
    sim.runFor(millis(100));
    sim2.runFor(millis(100));
    await s.close();
    await n.close();
  });

  it('options: values read back, EOPNOTSUPP without the client bit, EINVAL once connected', async () => {
    const { sim, client, server } = pair([0, 2]);
    const l = await listener(server, 8084, 5000);
    assert.equal(l.getsockopt(IPPROTO_TCP, TCP_FASTOPEN), 4096, 'capped at somaxconn');
    const s = client.socket(AF_INET, SOCK_STREAM);
    assert.throws(() => s.setsockopt(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1), { code: 'EOPNOTSUPP' });
    await assert.rejects(s.sendto(text('x'), MSG_FASTOPEN, ['10.0.0.2', 8084]), { code: 'EOPNOTSUPP' });
    const { client: c2, sim: sim2 } = pair();
    const t = c2.socket(AF_INET, SOCK_STREAM);
    t.setsockopt(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1);
    assert.equal(t.getsockopt(IPPROTO_TCP, TCP_FASTOPEN_CONNECT), 1);
    assert.throws(() => t.setsockopt(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 2), { code: 'EINVAL' });
    t.setblocking(false);
    await assert.rejects(t.connect(['10.0.0.2', 8084]), { code: 'EINPROGRESS' });
    assert.throws(() => t.setsockopt(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 0), { code: 'EINVAL' });
    sim.runFor(millis(100));
    sim2.runFor(millis(100));
    await t.close();
    await s.close();
  });
});
