import assert from 'node:assert/strict';
import { describe as suite, test } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import type { TcpConfig } from '../../src/tcp/config.ts';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import type { TcpCloseReason } from '../../src/tcp/errors.ts';
import { B, EventLog, type Impairments, Pipe, TCP_ACK, TCP_RST, TCP_SYN } from './harness.ts';

function randomBytes(rng: SeededRng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  rng.fill(b);
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function sha256(b: Uint8Array): Promise<string> {
  const d = await globalThis.crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>);
  return Buffer.from(d).toString('hex');
}

/** One endpoint's pump: writes its data then shuts down writing; reads everything. */
class Endpoint {
  readonly out: Uint8Array;
  sentBytes = 0;
  got: Uint8Array[] = [];
  conn: TcpConnection | undefined;
  closed: TcpCloseReason | undefined | 'open' = 'open';
  readChunk: number;
  constructor(out: Uint8Array, readChunk = 1 << 20) {
    this.out = out;
    this.readChunk = readChunk;
  }
  attach(c: TcpConnection): void {
    this.conn = c;
    const ev = new EventLog();
    c.events = {
      onEstablished: () => ev.onEstablished(),
      onReadable: () => this.pump(),
      onWritable: () => this.pump(),
      onEnd: () => this.pump(),
      onClose: (r) => {
        this.closed = r;
      },
    };
  }
  pump(): void {
    const c = this.conn;
    if (!c || c.state === 'CLOSED') return;
    if (this.sentBytes < this.out.length && c.writable) {
      this.sentBytes += c.write(this.out.subarray(this.sentBytes, this.sentBytes + 65536));
    }
    if (
      this.sentBytes === this.out.length &&
      c.writable &&
      c.state !== 'SYN-SENT' &&
      c.state !== 'SYN-RECEIVED'
    ) {
      c.shutdown('write');
    }
    for (;;) {
      const d = c.read(this.readChunk);
      if (!d) break;
      this.got.push(d);
    }
  }
  get received(): number {
    return this.got.reduce((s, p) => s + p.length, 0);
  }
}

interface TransferResult {
  p: Pipe;
  a: Endpoint;
  b: Endpoint;
}

function transfer(
  seed: number,
  sizeA: number,
  sizeB: number,
  imp: Impairments,
  config: Partial<TcpConfig> = {},
  limitMs = 3_600_000,
): TransferResult {
  const rng = new SeededRng(seed);
  const p = new Pipe(seed, imp, [config, config]);
  const a = new Endpoint(randomBytes(rng, sizeA));
  const b = new Endpoint(randomBytes(rng, sizeB));
  const l = p.layers[1].listen({ port: 80, backlog: 4 });
  l.onAcceptable = () => {
    const c = l.accept();
    if (c) {
      b.attach(c);
      b.pump();
    }
  };
  a.attach(p.layers[0].connect({ remote: B, remotePort: 80 }));
  a.pump();
  const done = () => {
    a.pump();
    b.pump();
    return (
      a.received === sizeB &&
      b.received === sizeA &&
      a.conn?.eof === true &&
      b.conn?.eof === true &&
      (a.conn.state === 'TIME-WAIT' || a.conn.state === 'CLOSED') &&
      (b.conn.state === 'TIME-WAIT' || b.conn.state === 'CLOSED')
    );
  };
  const ok = p.run(done, limitMs);
  assert.ok(
    ok,
    `transfer did not finish: a ${a.conn?.state}/${String(a.closed)} got ${a.received}/${sizeB}, b ${b.conn?.state}/${String(b.closed)} got ${b.received}/${sizeA}`,
  );
  return { p, a, b };
}

suite('two layers over a pipe', () => {
  test('clean transfer both ways, byte-exact, orderly close', async () => {
    const { a, b, p } = transfer(1, 300_000, 123_457, {});
    assert.equal(await sha256(concat(b.got)), await sha256(a.out));
    assert.equal(await sha256(concat(a.got)), await sha256(b.out));
    assert.equal(p.layers[0].stats.retransmits, 0);
    // active closer ends in TIME-WAIT; after 2*MSL the tables are empty
    p.runFor(61_000);
    assert.equal(p.layers[0].connectionCount, 0);
    assert.equal(p.layers[1].connectionCount, 0);
  });

  const cases: [number, Impairments, string][] = [
    [2, { loss: 0.02 }, '2% loss'],
    [3, { loss: 0.05, reorder: 0.05, dup: 0.02, delay: 5, jitter: 3 }, 'loss+reorder+dup+jitter'],
    [4, { reorder: 0.2, delay: 10 }, 'heavy reordering'],
    [5, { loss: 0.1, delay: 2 }, '10% loss'],
  ];
  for (const [seed, imp, name] of cases) {
    for (const sack of [true, false]) {
      test(`random sizes 0..1 MiB, ${name}, sack=${sack}`, async () => {
        const rng = new SeededRng(seed * 7 + (sack ? 1 : 0));
        const sa = rng.below(1 << 20);
        const sb = rng.below(1 << 19);
        const { a, b, p } = transfer(seed, sa, sb, imp, { sack, timestamps: sack });
        assert.equal(await sha256(concat(b.got)), await sha256(a.out));
        assert.equal(await sha256(concat(a.got)), await sha256(b.out));
        if (imp.loss) assert.ok(p.layers[0].stats.retransmits + p.layers[1].stats.retransmits > 0);
      });
    }
  }

  test('zero-byte transfer (open, close)', () => {
    transfer(9, 0, 0, { loss: 0.1 });
  });

  test('cubic, small buffers, no window scaling', async () => {
    const { a, b } = transfer(
      10,
      200_000,
      50_000,
      { loss: 0.03, delay: 20 },
      {
        congestion: 'cubic',
        windowScaling: false,
        rcvBuf: 20_000,
        sndBuf: 10_000,
      },
    );
    assert.equal(await sha256(concat(b.got)), await sha256(a.out));
  });

  test('slow reader: zero window, persist probes, transfer completes', async () => {
    const p = new Pipe(11, { delay: 1 }, [{}, { rcvBuf: 8192 }]);
    const rng = new SeededRng(11);
    const data = randomBytes(rng, 100_000);
    const l = p.layers[1].listen({ port: 80, backlog: 1 });
    const a = p.layers[0].connect({ remote: B, remotePort: 80 });
    let sent = 0;
    const got: Uint8Array[] = [];
    let server: TcpConnection | undefined;
    // The reader reads 4 KiB every 2 s of virtual time.
    const step = () => {
      server ??= l.accept();
      if (sent < data.length && a.writable) sent += a.write(data.subarray(sent));
    };
    for (let i = 0; i < 200 && got.reduce((s, x) => s + x.length, 0) < data.length; i++) {
      p.run(() => {
        step();
        return false;
      }, 2000);
      const d = server?.read(4096);
      if (d) got.push(d);
    }
    assert.deepEqual(concat(got), data);
    assert.ok(p.layers[0].stats.zeroWindowProbes > 0, 'expected zero-window probes');
  });

  test('simultaneous open', () => {
    const p = new Pipe(12, { delay: 5 });
    const a = p.layers[0].connect({ remote: B, remotePort: 7000, localPort: 6000 });
    const b = p.layers[1].connect({
      remote: { family: 4, v4: p.addrs[0].family === 4 ? p.addrs[0].v4 : 0 },
      remotePort: 6000,
      localPort: 7000,
    });
    assert.ok(p.run(() => a.state === 'ESTABLISHED' && b.state === 'ESTABLISHED', 10_000));
    a.write(new Uint8Array([1, 2, 3]));
    assert.ok(p.run(() => b.readableLength === 3, 10_000));
    // simultaneous close
    a.shutdown('write');
    b.shutdown('write');
    assert.ok(p.run(() => a.state === 'TIME-WAIT' && b.state === 'TIME-WAIT', 10_000));
    assert.ok(p.run(() => a.state === 'CLOSED' && b.state === 'CLOSED', 200_000));
  });

  test('half-close: the side that shut down writing keeps receiving', () => {
    const p = new Pipe(13, { delay: 1 });
    const l = p.layers[1].listen({ port: 80, backlog: 1 });
    const a = p.layers[0].connect({ remote: B, remotePort: 80 });
    p.run(() => l.acceptQueueLength === 1);
    const s = l.accept()!;
    a.shutdown('write');
    p.run(() => s.eof && a.state === 'FIN-WAIT-2');
    assert.equal(s.state, 'CLOSE-WAIT');
    assert.equal(a.state, 'FIN-WAIT-2');
    s.write(new Uint8Array(5000).fill(7));
    p.run(() => a.readableLength === 5000);
    s.close();
    p.run(() => s.state === 'CLOSED' && a.state === 'TIME-WAIT');
    assert.equal(a.read()?.length, 5000);
  });

  test('connect to a closed port is refused (RST)', () => {
    const p = new Pipe(14);
    const ev = new EventLog();
    const a = p.layers[0].connect({ remote: B, remotePort: 81, events: ev });
    p.run(() => a.state === 'CLOSED');
    assert.equal(ev.reason, 'refused');
    assert.equal(p.layers[1].stats.noListener, 1);
  });

  test('backlog overflow: extra SYNs are dropped until accept() makes room', () => {
    const p = new Pipe(15, { delay: 1 });
    const l = p.layers[1].listen({ port: 80, backlog: 2 });
    const conns = [0, 1, 2, 3, 4].map(() => p.layers[0].connect({ remote: B, remotePort: 80 }));
    p.runFor(500);
    assert.equal(l.acceptQueueLength, 3, 'backlog + 1, as Linux');
    assert.ok(p.layers[1].stats.backlogDrops > 0);
    assert.ok(l.accept());
    assert.ok(l.accept());
    assert.ok(p.run(() => l.acceptQueueLength === 3, 30_000));
    assert.ok(conns.every((c) => c.state === 'ESTABLISHED'));
  });

  test('SYN flood: cookies still admit a real client', () => {
    const p = new Pipe(16, { delay: 1 });
    const l = p.layers[1].listen({ port: 80, backlog: 16, synBacklog: 8 });
    // 500 spoofed SYNs from addresses that never answer.
    for (let i = 0; i < 500; i++) {
      p.injectTo(
        1,
        {
          srcPort: 1024 + i,
          dstPort: 80,
          seq: i * 7919,
          ack: 0,
          flags: TCP_SYN,
          window: 1000,
          urgentPointer: 0,
          options: { mss: 1460 },
        },
        new Uint8Array(0),
        { family: 4, v4: 0x0b000000 + i },
      );
    }
    assert.equal(l.synQueueLength, 8);
    assert.ok(p.layers[1].stats.cookiesSent >= 492);
    const a = p.layers[0].connect({ remote: B, remotePort: 80 });
    assert.ok(p.run(() => a.state === 'ESTABLISHED' && l.acceptQueueLength === 1, 10_000));
    assert.equal(p.layers[1].stats.cookiesAccepted, 1);
    const s = l.accept()!;
    a.write(new Uint8Array(10_000).fill(3));
    assert.ok(p.run(() => s.readableLength === 10_000, 10_000));
    s.write(new Uint8Array(3000).fill(4));
    assert.ok(p.run(() => a.readableLength === 3000, 10_000));
  });

  test('blind RST and data injection do not break a connection', () => {
    const p = new Pipe(17, { delay: 1 });
    const l = p.layers[1].listen({ port: 80, backlog: 1 });
    const a = p.layers[0].connect({ remote: B, remotePort: 80 });
    p.run(() => l.acceptQueueLength === 1);
    const s = l.accept()!;
    const rng = new SeededRng(99);
    for (let i = 0; i < 2000; i++) {
      const flags = i % 3 === 0 ? TCP_RST : i % 3 === 1 ? TCP_SYN : TCP_ACK;
      p.injectTo(
        1,
        {
          srcPort: a.local.port,
          dstPort: 80,
          seq: rng.nextU32(),
          ack: rng.nextU32(),
          flags,
          window: 65535,
          urgentPointer: 0,
          options: {},
        },
        flags === TCP_ACK ? new Uint8Array([0xde, 0xad]) : new Uint8Array(0),
      );
    }
    p.runFor(100);
    assert.equal(s.state, 'ESTABLISHED');
    assert.equal(a.state, 'ESTABLISHED');
    assert.equal(s.readableLength, 0);
    a.write(new Uint8Array([1, 2, 3]));
    p.run(() => s.readableLength === 3);
    assert.deepEqual(s.read(), new Uint8Array([1, 2, 3]));
  });

  test('TIME-WAIT lasts 2*MSL on the active closer', () => {
    const p = new Pipe(18, { delay: 1 }, [{ msl: 5_000_000 }, {}]);
    const l = p.layers[1].listen({ port: 80, backlog: 1 });
    const a = p.layers[0].connect({ remote: B, remotePort: 80 });
    p.run(() => l.acceptQueueLength === 1);
    const s = l.accept()!;
    a.close();
    p.run(() => s.eof);
    s.close();
    p.run(() => a.state === 'TIME-WAIT');
    const t0 = p.clock.now();
    p.run(() => a.state === 'CLOSED');
    assert.equal(p.clock.now() - t0, 10_000_000);
  });

  test('a dead peer: retransmission until timed-out', () => {
    const p = new Pipe(19, { delay: 1 }, [{ retries: 5 }, {}]);
    const l = p.layers[1].listen({ port: 80, backlog: 1 });
    const ev = new EventLog();
    const a = p.layers[0].connect({ remote: B, remotePort: 80, events: ev });
    p.run(() => l.acceptQueueLength === 1);
    p.filter = () => false; // cable cut
    a.write(new Uint8Array(100));
    assert.ok(p.run(() => a.state === 'CLOSED', 600_000));
    assert.equal(ev.reason, 'timed-out');
    assert.equal(p.layers[0].stats.timedOut, 1);
  });
});
