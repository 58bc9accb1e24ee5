/**
 * The client multiplexer against a scripted transport: what it sends, when it stops
 * for credit, how server packets change its streams. No network, no timers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isWireError } from '../../src/wire/error.ts';
import { WispClient } from '../../src/wisp/client.ts';
import {
  emitWispPacket,
  parseWispPacket,
  WISP_CLOSE,
  WISP_CONNECT,
  WISP_CONTINUE,
  WISP_DATA,
  type WispPacket,
} from '../../src/wisp/packet.ts';
import { WispCloseReason } from '../../src/wisp/reasons.ts';

type Listener = (e: { type: string; data?: unknown; code?: number }) => void;

/** A WebSocket stand-in: records what is sent, lets the test deliver messages. */
class FakeSocket {
  binaryType = 'blob';
  readyState = 1;
  bufferedAmount = 0;
  paused = false;
  readonly sent: WispPacket[] = [];
  readonly #listeners = new Map<string, Set<Listener>>();
  send(data: Uint8Array): void {
    const p = parseWispPacket(data);
    assert.ok(!isWireError(p), 'the client sent a packet that does not parse');
    this.sent.push(p.type === WISP_DATA ? { ...p, payload: p.payload.slice() } : p);
  }
  close(code = 1000): void {
    this.readyState = 3;
    this.emit('close', { type: 'close', code });
  }
  addEventListener(type: string, l: Listener): void {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type)!.add(l);
  }
  removeEventListener(type: string, l: Listener): void {
    this.#listeners.get(type)?.delete(l);
  }
  emit(type: string, e: { type: string; data?: unknown; code?: number }): void {
    for (const l of this.#listeners.get(type) ?? []) l(e);
  }
  deliver(p: WispPacket | Uint8Array | string): void {
    const data = typeof p === 'string' ? p : p instanceof Uint8Array ? p : emitWispPacket(p);
    this.emit('message', { type: 'message', data: typeof data === 'string' ? data : data.slice().buffer });
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}

async function readyClient(credit: number, opts = {}): Promise<{ ws: FakeSocket; client: WispClient }> {
  const ws = new FakeSocket();
  const client = new WispClient(ws, opts);
  assert.throws(() => client.open('tcp', 'x', 1), { code: 'ENOTCONN' });
  ws.deliver({ type: WISP_CONTINUE, streamId: 0, bufferRemaining: credit });
  await client.ready;
  return { ws, client };
}

describe('wisp client multiplexer', () => {
  it('waits for the initial CONTINUE; streams start with its credit and get distinct non-zero ids', async () => {
    const { ws, client } = await readyClient(5);
    assert.equal(client.initialCredit, 5);
    const a = client.open('tcp', 'example.com', 80);
    const b = client.open('udp', '127.0.0.1', 53);
    assert.notEqual(a.id, 0);
    assert.notEqual(a.id, b.id);
    assert.equal(a.credit, 5);
    assert.deepEqual(ws.sent[0], {
      type: WISP_CONNECT,
      streamId: a.id,
      streamType: 1,
      port: 80,
      hostname: 'example.com',
    });
    assert.deepEqual(ws.sent[1], {
      type: WISP_CONNECT,
      streamId: b.id,
      streamType: 2,
      port: 53,
      hostname: '127.0.0.1',
    });
    assert.equal(a.state, 'connecting');
    assert.equal(b.state, 'open'); // UDP: no CONTINUE ever comes
  });

  it('TCP: sends one DATA per credit unit, stops at zero, and resumes when a CONTINUE resets the credit', async () => {
    const { ws, client } = await readyClient(3, { maxDataPayload: 4 });
    const s = client.open('tcp', 'h', 1);
    ws.deliver({ type: WISP_CONTINUE, streamId: s.id, bufferRemaining: 3 });
    assert.equal(s.state, 'open');
    ws.sent.length = 0;
    assert.equal(s.write(new TextEncoder().encode('abcdefghijklmnopqrst')), 20); // 5 chunks of 4
    const data = () => ws.sent.filter((p) => p.type === WISP_DATA);
    assert.equal(data().length, 3);
    assert.equal(s.credit, 0);
    assert.equal(s.queuedBytes, 8);
    ws.deliver({ type: WISP_CONTINUE, streamId: s.id, bufferRemaining: 1 });
    assert.equal(data().length, 4);
    ws.deliver({ type: WISP_CONTINUE, streamId: s.id, bufferRemaining: 10 });
    assert.equal(data().length, 5);
    assert.equal(s.credit, 9);
    const text = new TextDecoder().decode(
      Uint8Array.from(data().flatMap((p) => (p.type === WISP_DATA ? [...p.payload] : []))),
    );
    assert.equal(text, 'abcdefghijklmnopqrst');
  });

  it('TCP: write accepts only up to the send queue, then 0 until credit lets bytes out', async () => {
    const { ws, client } = await readyClient(0, { sendBufferBytes: 10, maxDataPayload: 5 });
    const s = client.open('tcp', 'h', 1);
    ws.deliver({ type: WISP_CONTINUE, streamId: s.id, bufferRemaining: 0 });
    assert.equal(s.write(new Uint8Array(25)), 10);
    assert.equal(s.write(new Uint8Array(1)), 0);
    ws.deliver({ type: WISP_CONTINUE, streamId: s.id, bufferRemaining: 1 });
    assert.equal(s.queuedBytes, 5);
    assert.equal(s.write(new Uint8Array(25)), 5);
  });

  it('close() sends CLOSE after the queued DATA, once credit lets it out', async () => {
    const { ws, client } = await readyClient(1);
    const s = client.open('tcp', 'h', 1);
    ws.deliver({ type: WISP_CONTINUE, streamId: s.id, bufferRemaining: 1 });
    s.write(Uint8Array.of(1));
    s.write(Uint8Array.of(2));
    s.close();
    assert.equal(ws.sent.at(-1)!.type, WISP_DATA);
    assert.equal(s.state, 'open');
    ws.deliver({ type: WISP_CONTINUE, streamId: s.id, bufferRemaining: 4 });
    assert.deepEqual(ws.sent.at(-1), { type: WISP_CLOSE, streamId: s.id, reason: WispCloseReason.VOLUNTARY });
    assert.equal(s.state, 'closed');
    assert.equal(client.streamCount, 0);
    // Late DATA for it is dropped and counted.
    ws.deliver({ type: WISP_DATA, streamId: s.id, payload: Uint8Array.of(9) });
    assert.equal(client.stats.unknownStream, 1);
  });

  it('received DATA is read in order, cut to the size asked, and peek leaves it', async () => {
    const { ws, client } = await readyClient(4);
    const s = client.open('tcp', 'h', 1);
    ws.deliver({ type: WISP_DATA, streamId: s.id, payload: new TextEncoder().encode('hello ') });
    assert.equal(s.state, 'open'); // DATA also establishes
    ws.deliver({ type: WISP_DATA, streamId: s.id, payload: new Uint8Array(0) }); // nothing, not an EOF
    ws.deliver({ type: WISP_DATA, streamId: s.id, payload: new TextEncoder().encode('world') });
    const dec = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
    assert.equal(dec(s.read(3, true)), 'hel');
    assert.equal(dec(s.read(3)), 'hel');
    assert.equal(dec(s.read(100)), 'lo world');
    assert.equal(s.read(100), undefined);
    const u = client.open('udp', 'h', 53);
    ws.deliver({ type: WISP_DATA, streamId: u.id, payload: new Uint8Array(0) });
    assert.equal(u.read(100)?.length, 0, 'an empty datagram is a datagram');
    assert.equal(u.read(100), undefined);
  });

  it('a server CLOSE ends the stream with its reason; CLOSE on stream 0 ends them all', async () => {
    const { ws, client } = await readyClient(4);
    const a = client.open('tcp', 'h', 1);
    ws.deliver({ type: WISP_CLOSE, streamId: a.id, reason: WispCloseReason.REFUSED });
    assert.equal(a.state, 'closed');
    assert.equal(a.closeReason, WispCloseReason.REFUSED);
    assert.equal(a.closedByUs, false);
    const b = client.open('tcp', 'h', 1);
    const c = client.open('udp', 'h', 1);
    ws.deliver({ type: WISP_CLOSE, streamId: 0, reason: WispCloseReason.THROTTLED });
    assert.equal(b.closeReason, WispCloseReason.THROTTLED);
    assert.equal(c.state, 'closed');
  });

  it('bad messages are dropped and counted, never thrown', async () => {
    const { ws, client } = await readyClient(4);
    const s = client.open('udp', 'h', 1);
    ws.deliver('text');
    ws.deliver(Uint8Array.of(2, 1));
    ws.deliver(Uint8Array.of(0x42, 1, 0, 0, 0));
    ws.deliver(Uint8Array.of(3, 1, 0, 0, 0, 1)); // truncated CONTINUE
    assert.equal(client.stats.badPackets, 4);
    ws.deliver({ type: WISP_CONTINUE, streamId: s.id, bufferRemaining: 3 }); // never for UDP
    ws.deliver({ type: WISP_CONNECT, streamId: 9, streamType: 1, port: 1, hostname: 'x' });
    assert.equal(client.stats.unexpectedPackets, 2);
    assert.equal(s.state, 'open');
  });

  it('pauses a pausable transport when a stream holds more than receiveBufferBytes, resumes after reading', async () => {
    const { ws, client } = await readyClient(4, { receiveBufferBytes: 10 });
    const s = client.open('tcp', 'h', 1);
    ws.deliver({ type: WISP_DATA, streamId: s.id, payload: new Uint8Array(8) });
    assert.equal(ws.paused, false);
    ws.deliver({ type: WISP_DATA, streamId: s.id, payload: new Uint8Array(8) });
    assert.equal(ws.paused, true);
    assert.equal(client.stats.pauses, 1);
    s.read(8);
    assert.equal(ws.paused, true); // 8 bytes left: over half of the limit
    s.read(8);
    assert.equal(ws.paused, false);
  });

  it('the transport closing ends every stream; ready rejects when it closes first', async () => {
    const { ws, client } = await readyClient(4);
    const s = client.open('tcp', 'h', 1);
    ws.close(1006);
    assert.equal(s.state, 'closed');
    assert.equal(s.closeReason, WispCloseReason.NETWORK_ERROR);
    assert.throws(() => client.open('tcp', 'h', 1), { code: 'ECONNRESET' });
    const ws2 = new FakeSocket();
    const c2 = new WispClient(ws2);
    ws2.close(1011);
    await assert.rejects(c2.ready, { code: 'ECONNREFUSED' });
  });
});
