/**
 * The MessagePort link (src/link/message-port.ts), in Node with worker_threads'
 * MessageChannel (the same API as the browser's; test/browser runs it between two
 * Web Workers). Frames are transferred, never delivered synchronously, and garbage
 * is counted; two Stacks on a channel ping and move 1 MiB byte-exact over TCP.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import type { Device } from '../../src/link/device.ts';
import { allocFrame } from '../../src/link/frame-alloc.ts';
import { MessagePortLink } from '../../src/link/message-port.ts';
import { RealtimeDriver } from '../../src/link/realtime.ts';
import { CryptoRng } from '../../src/rand/rng.ts';
import { AF_INET, SOCK_STREAM } from '../../src/socket/constants.ts';
import { Stack } from '../../src/stack.ts';
import { SystemClock } from '../../src/time/system.ts';
import { patternBytes, recvAll } from '../helpers/stream-bytes.ts';

function frame(n: number, fill: number): Uint8Array {
  const f = new Uint8Array(n).fill(fill);
  f.fill(0xff, 0, 6); // broadcast destination
  return f;
}

function nextFrame(link: MessagePortLink, ms = 5000): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no frame on ${link.name} in ${ms} ms`)), ms);
    link.onReceive = (f) => {
      clearTimeout(timer);
      link.onReceive = null;
      resolve(f);
    };
  });
}

function pair(t: TestContext, wakeA?: () => void): [MessagePortLink, MessagePortLink] {
  const ch = new MessageChannel();
  const a = new MessagePortLink(ch.port1, { name: 'a', wake: wakeA });
  const b = new MessagePortLink(ch.port2, { name: 'b' });
  t.after(() => {
    a.close();
    b.close();
  });
  return [a, b];
}

describe('MessagePortLink', () => {
  it('transfers a frame that owns its buffer, copies one carved from a slab, never delivers synchronously', async (t) => {
    const [a, b] = pair(t);
    const whole = frame(100, 7);
    let early = 0;
    a.onReceive = () => early++;
    const got = nextFrame(a);
    b.transmit(whole);
    assert.equal(whole.byteLength, 0, 'the buffer was transferred (detached here)');
    assert.equal(early, 0, 'not delivered inside transmit');
    const f = await got;
    assert.equal(f.length, 100);
    assert.equal(f[50], 7);

    const slab = allocFrame(60);
    slab.fill(0xff, 0, 6);
    slab.fill(9, 6);
    const got2 = nextFrame(a);
    b.transmit(slab);
    assert.equal(slab.byteLength, 60, 'a frame sharing a slab is copied, the slab stays');
    assert.deepEqual([...(await got2)], [...slab]);
    assert.equal(b.stats.txFrames, 2);
    assert.equal(b.stats.txBytes, 160);
    assert.equal(a.stats.rxFrames, 2);
  });

  it('drops what is not a frame and counts it; calls wake after each frame', async (t) => {
    let wakes = 0;
    const [a, b] = pair(t, () => wakes++);
    b.transmit(frame(1515, 1)); // over 1500 + 14
    assert.equal(b.stats.txDropped, 1);
    const got = nextFrame(a);
    b.port.postMessage('hello', []); // text
    b.port.postMessage(new ArrayBuffer(10), []); // shorter than an Ethernet header
    b.port.postMessage(new ArrayBuffer(2000), []); // longer than the MTU allows
    b.transmit(frame(64, 3));
    assert.equal((await got)[20], 3);
    assert.equal(a.stats.rxErrors, 3);
    assert.equal(a.stats.rxFrames, 1);
    assert.equal(wakes, 1);
    a.close();
    b.transmit(frame(64, 3));
    b.transmit(frame(64, 3));
    assert.equal(a.closed, true);
    assert.equal(b.stats.txFrames, 3, 'b still sends: closing one end is not visible to the other');
  });

  it('two Stacks on a MessageChannel: ping, then 1 MiB over TCP byte-exact', {
    timeout: 30_000,
  }, async (t) => {
    const ch = new MessageChannel();
    const stacks = (['10.0.0.1/24', '10.0.0.2/24'] as const).map((addr, i) => {
      const clock = new SystemClock();
      const driver = new RealtimeDriver({ clock });
      const link = new MessagePortLink(i === 0 ? ch.port1 : ch.port2, { wake: () => driver.kick() });
      t.after(() => {
        driver.stop();
        link.close();
      });
      const stack = new Stack({ clock, rng: new CryptoRng(), name: addr });
      stack.timers.onEarliestChanged = () => driver.kick();
      stack.addInterface({ name: 'eth0', device: link as Device, addresses: [addr] });
      driver.add(stack);
      return stack;
    });
    const [server, client] = stacks;
    const r = await client.ping('10.0.0.1', { timeout: 3_000_000 });
    assert.ok(r.ok, JSON.stringify(r));

    const ls = server.socket(AF_INET, SOCK_STREAM);
    await ls.bind(['', 5000]);
    await ls.listen(1);
    const c = client.socket(AF_INET, SOCK_STREAM);
    await c.connect(['10.0.0.1', 5000]);
    const [conn] = await ls.accept();
    const size = 1 << 20;
    const data = patternBytes(size);
    const received = recvAll(conn);
    await c.sendall(data);
    await c.close();
    const got = await received;
    await conn.close();
    await ls.close();
    assert.equal(got.length, size);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'bytes differ');
  });
});
