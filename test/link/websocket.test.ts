/**
 * The WebSocket link (src/link/websocket.ts) and the relay (src/node/relay.ts), in
 * Node with the `ws` package, over real loopback sockets and the system clock
 * (test/browser runs the link with the browser's WebSocket). Frames cross the
 * relay's switch one per binary message; garbage is counted; two Stacks talk TCP
 * through the relay; a stack on the relay's UDP-tunnel hub shares the Ethernet.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import type { Device } from '../../src/link/device.ts';
import { RealtimeDriver } from '../../src/link/realtime.ts';
import { connectWebSocketLink, type WebSocketLink } from '../../src/link/websocket.ts';
import { type Relay, startRelay } from '../../src/node/relay.ts';
import { udpTunnel } from '../../src/node/udp-tunnel.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { AF_INET, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { SystemClock } from '../../src/time/system.ts';
import { patternBytes, recvAll } from '../helpers/stream-bytes.ts';

async function relayFor(t: TestContext, options: Parameters<typeof startRelay>[0] = {}): Promise<Relay> {
  const relay = await startRelay(options);
  t.after(() => relay.close());
  return relay;
}

async function link(t: TestContext, relay: Relay, wake?: () => void): Promise<WebSocketLink> {
  const l = await connectWebSocketLink(relay.url, { WebSocket, wake, timeoutMs: 5000 });
  t.after(() => l.close());
  return l;
}

function nextFrame(l: { name: string; onReceive: ((f: Uint8Array) => void) | null }, ms = 5000) {
  return new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no frame on ${l.name} in ${ms} ms`)), ms);
    l.onReceive = (f) => {
      clearTimeout(timer);
      l.onReceive = null;
      resolve(f);
    };
  });
}

/** An Ethernet frame from MAC 02:00:00:00:00:<src> to `dst` (broadcast by default). */
function ether(src: number, fill: number, dst = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]): Uint8Array {
  const f = new Uint8Array(60).fill(fill);
  f.set(dst, 0);
  f.set([2, 0, 0, 0, 0, src], 6);
  return f;
}

function stackOn(t: TestContext, address: string, attach: (wake: () => void) => Promise<Device>) {
  const clock = new SystemClock();
  const driver = new RealtimeDriver({ clock });
  t.after(() => driver.stop());
  const stack = new Stack({ clock, rng: new CryptoRng(), name: address });
  stack.timers.onEarliestChanged = () => driver.kick();
  driver.add(stack);
  return attach(() => driver.kick()).then((device) => {
    stack.addInterface({ name: 'eth0', device, addresses: [address] });
    return stack;
  });
}

describe('WebSocketLink through the relay', () => {
  it('a frame crosses the switch as one binary message; the sender does not hear itself', async (t) => {
    const relay = await relayFor(t);
    const a = await link(t, relay);
    const b = await link(t, relay);
    const c = await link(t, relay);
    let echoed = 0;
    a.onReceive = () => echoed++;
    const atB = nextFrame(b);
    const atC = nextFrame(c);
    a.transmit(ether(1, 0x41));
    assert.deepEqual([...(await atB)], [...ether(1, 0x41)]);
    assert.deepEqual([...(await atC)], [...ether(1, 0x41)]);
    // The switch learnt a's MAC: a unicast frame to it from c reaches a only.
    const atA = nextFrame(a);
    let bGot = 0;
    b.onReceive = () => bGot++;
    c.transmit(ether(3, 0x43, [2, 0, 0, 0, 0, 1]));
    assert.equal((await atA)[20], 0x43);
    assert.equal(echoed, 0);
    assert.equal(bGot, 0);
    assert.equal(relay.stats.framesIn, 2);
    assert.equal(relay.stats.framesOut, 3);
    assert.equal(relay.connected, 3);
  });

  it('text, runt and oversized messages are counted and dropped, at the relay and at the link', async (t) => {
    const relay = await relayFor(t);
    const a = await link(t, relay);
    const b = await link(t, relay);
    a.socket.send(new Uint8Array(10)); // runt
    (a.socket as unknown as WebSocket).send('hello'); // text
    a.transmit(new Uint8Array(1515)); // over the MTU: not even sent
    assert.equal(a.stats.txDropped, 1);
    const atB = nextFrame(b);
    a.transmit(ether(1, 0x55));
    assert.equal((await atB)[30], 0x55);
    assert.equal(relay.stats.badMessages, 2);
    assert.equal(b.stats.rxErrors, 0);
    // And at the link: the relay's peer here is a bare ws server sending garbage.
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    t.after(async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    });
    await new Promise((r) => wss.once('listening', r));
    // It answers the client's first frame with garbage, then one good frame.
    wss.on('connection', (ws) =>
      ws.once('message', () => {
        ws.send('text');
        ws.send(new Uint8Array(5));
        ws.send(new Uint8Array(3000));
        ws.send(ether(9, 0x66));
      }),
    );
    const port = (wss.address() as { port: number }).port;
    const l = await connectWebSocketLink(`ws://127.0.0.1:${port}/`, { WebSocket, timeoutMs: 5000 });
    t.after(() => l.close());
    const answer = nextFrame(l);
    l.transmit(ether(8, 0));
    assert.equal((await answer)[40], 0x66);
    assert.equal(l.stats.rxErrors, 3);
    assert.equal(l.stats.rxFrames, 1);
  });

  it('connecting to nothing fails with ECONNREFUSED; a closed link drops frames and says so once', async (t) => {
    const relay = await relayFor(t);
    const url = relay.url;
    const a = await link(t, relay);
    let closes = 0;
    a.onClose = () => closes++;
    await relay.close();
    await a.close();
    assert.equal(a.closed, true);
    assert.equal(closes, 1);
    a.transmit(ether(1, 1));
    assert.equal(a.stats.txDropped, 1);
    await assert.rejects(connectWebSocketLink(url, { WebSocket, timeoutMs: 5000 }), { code: 'ECONNREFUSED' });
    assert.throws(() => connectWebSocketLink(url), { code: 'ERR_MISSING_OPTION' });
  });

  it('turns away clients beyond maxClients, and reuses the ports of clients that left', async (t) => {
    const relay = await relayFor(t, { maxClients: 2 });
    const a = await link(t, relay);
    await link(t, relay);
    const third = await connectWebSocketLink(relay.url, { WebSocket, timeoutMs: 5000 });
    const closed = new Promise<void>((r) => {
      third.onClose = () => r();
    });
    await closed;
    assert.equal(relay.stats.rejected, 1);
    await a.close();
    for (let i = 0; i < 50 && relay.connected !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(relay.connected, 1);
    await link(t, relay);
    assert.equal(relay.switch.portCount, 2, 'the new client took the port the old one left');
  });

  it('two Stacks through the relay: ping and 1 MiB over TCP byte-exact', { timeout: 30_000 }, async (t) => {
    const relay = await relayFor(t);
    const server = await stackOn(t, '10.0.0.1/24', (wake) => link(t, relay, wake));
    const client = await stackOn(t, '10.0.0.2/24', (wake) => link(t, relay, wake));
    assert.ok((await client.ping('10.0.0.1', { timeout: 3_000_000 })).ok);
    const ls = server.socket(AF_INET, SOCK_STREAM);
    await ls.bind(['', 5000]);
    await ls.listen(1);
    const c = client.socket(AF_INET, SOCK_STREAM);
    await c.connect(['10.0.0.1', 5000]);
    const [conn] = await ls.accept();
    const data = patternBytes(1 << 20);
    const received = recvAll(conn);
    await c.sendall(data);
    await c.close();
    const got = await received;
    await conn.close();
    await ls.close();
    assert.ok(Buffer.from(got).equals(Buffer.from(data)), `got ${got.length} bytes, not the ones sent`);
  });

  it("a stack on the relay's UDP-tunnel hub and one on a WebSocket share the Ethernet", {
    timeout: 30_000,
  }, async (t) => {
    const relay = await relayFor(t, { tunnel: {} });
    assert.ok(relay.tunnel);
    const tunnelPort = relay.tunnel.localPort;
    const viaWs = await stackOn(t, '10.0.0.1/24', (wake) => link(t, relay, wake));
    const viaUdp = await stackOn(t, '10.0.0.2/24', async (wake) => {
      const tun = await udpTunnel({ peers: [{ host: '127.0.0.1', port: tunnelPort }] });
      t.after(() => tun.close());
      const deliver = (f: Uint8Array) => {
        rx?.(f);
        wake();
      };
      let rx: ((f: Uint8Array) => void) | null = null;
      // The stack sets onReceive when it adds the interface; wake the driver after it.
      return {
        name: tun.name,
        linkType: tun.linkType,
        mtu: tun.mtu,
        transmit: (f: Uint8Array) => tun.transmit(f),
        get onReceive() {
          return rx;
        },
        set onReceive(h) {
          rx = h;
          tun.onReceive = h === null ? null : deliver;
        },
      } satisfies Device;
    });
    assert.ok((await viaUdp.ping('10.0.0.1', { timeout: 3_000_000 })).ok);
    assert.ok((await viaWs.ping('10.0.0.2', { timeout: 3_000_000 })).ok);
  });
});
