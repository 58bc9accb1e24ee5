import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import { isWireError } from '../../src/wire/error.ts';
import {
  emitWispPacket,
  parseWispPacket,
  WISP_CLOSE,
  WISP_CONNECT,
  WISP_CONTINUE,
  WISP_DATA,
  WISP_STREAM_TCP,
  WISP_STREAM_UDP,
  type WispPacket,
} from '../../src/wisp/packet.ts';
import { closeReasonError, describeCloseReason, WispCloseReason } from '../../src/wisp/reasons.ts';

const hex = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .replace(/\s+/g, '')
      .match(/../g)!
      .map((b) => parseInt(b, 16)),
  );

// Byte fixtures written from the specification's tables (little-endian fields).
const FIXTURES: [string, string, WispPacket][] = [
  [
    'CONNECT tcp example.com:80 on stream 1',
    '01 01000000 01 5000 6578616d706c652e636f6d',
    { type: WISP_CONNECT, streamId: 1, streamType: WISP_STREAM_TCP, port: 80, hostname: 'example.com' },
  ],
  [
    'CONNECT udp 127.0.0.1:53 on stream 0x01020304',
    '01 04030201 02 3500 3132372e302e302e31',
    {
      type: WISP_CONNECT,
      streamId: 0x01020304,
      streamType: WISP_STREAM_UDP,
      port: 53,
      hostname: '127.0.0.1',
    },
  ],
  ['DATA "hi" on stream 7', '02 07000000 6869', { type: WISP_DATA, streamId: 7, payload: hex('6869') }],
  ['DATA empty', '02 07000000', { type: WISP_DATA, streamId: 7, payload: new Uint8Array(0) }],
  [
    'the initial CONTINUE: stream 0, 128 packets',
    '03 00000000 80000000',
    { type: WISP_CONTINUE, streamId: 0, bufferRemaining: 128 },
  ],
  [
    'CONTINUE with the largest u32',
    '03 ffffffff ffffffff',
    { type: WISP_CONTINUE, streamId: 0xffffffff, bufferRemaining: 0xffffffff },
  ],
  ['CLOSE voluntary', '04 02000000 02', { type: WISP_CLOSE, streamId: 2, reason: WispCloseReason.VOLUNTARY }],
  ['CLOSE refused', '04 02000000 44', { type: WISP_CLOSE, streamId: 2, reason: WispCloseReason.REFUSED }],
];

describe('wisp packet codec', () => {
  for (const [name, bytes, repr] of FIXTURES) {
    it(`${name}: parses to the repr and emits back to the same bytes`, () => {
      const b = hex(bytes);
      const p = parseWispPacket(b);
      assert.ok(!isWireError(p), JSON.stringify(p));
      assert.deepEqual(
        { ...p, ...('payload' in p ? { payload: [...p.payload] } : {}) },
        {
          ...repr,
          ...('payload' in repr ? { payload: [...repr.payload] } : {}),
        },
      );
      assert.deepEqual([...emitWispPacket(repr)], [...b]);
    });
  }

  it('every prefix shorter than the fixed fields is rejected as truncated', () => {
    for (const [name, bytes] of FIXTURES) {
      const b = hex(bytes);
      const type = b[0]!;
      const fixed = type === WISP_CONNECT ? 8 : type === WISP_CONTINUE ? 9 : type === WISP_CLOSE ? 6 : 5;
      for (let n = 0; n < fixed; n++) {
        const r = parseWispPacket(b.subarray(0, n));
        assert.ok(isWireError(r), `${name}: a ${n}-byte prefix parsed`);
        assert.equal(r.wireError, 'truncated', `${name} prefix ${n}: ${r.detail}`);
      }
    }
  });

  it('longer prefixes: DATA and CONNECT carry what is there (the message is the frame); others are malformed', () => {
    const connect = hex(FIXTURES[0]![1]);
    for (let n = 8; n <= connect.length; n++) {
      const r = parseWispPacket(connect.subarray(0, n));
      assert.ok(!isWireError(r) && r.type === WISP_CONNECT);
      assert.equal(r.hostname, 'example.com'.slice(0, n - 8));
    }
    const data = hex(FIXTURES[2]![1]);
    for (let n = 5; n <= data.length; n++) {
      const r = parseWispPacket(data.subarray(0, n));
      assert.ok(!isWireError(r) && r.type === WISP_DATA);
      assert.equal(r.payload.length, n - 5);
    }
  });

  it('a CONNECT whose hostname is cut inside a UTF-8 sequence is malformed', () => {
    const full = emitWispPacket({
      type: WISP_CONNECT,
      streamId: 3,
      streamType: 1,
      port: 443,
      hostname: 'bücher.de',
    });
    assert.ok(!isWireError(parseWispPacket(full)));
    const cut = full.subarray(0, 8 + 2); // 'b' and the first byte of 'ü'
    const r = parseWispPacket(cut);
    assert.ok(isWireError(r));
    assert.equal(r.wireError, 'malformed');
  });

  it('trailing bytes after CONTINUE or CLOSE are malformed, unknown types unsupported', () => {
    const c = parseWispPacket(hex('03 01000000 10000000 00'));
    assert.ok(isWireError(c) && c.wireError === 'malformed');
    const x = parseWispPacket(hex('04 01000000 02 02'));
    assert.ok(isWireError(x) && x.wireError === 'malformed');
    for (const t of [0x00, 0x05, 0x80, 0xff]) {
      const u = parseWispPacket(Uint8Array.of(t, 1, 0, 0, 0, 1));
      assert.ok(isWireError(u) && u.wireError === 'unsupported', `type ${t}`);
    }
  });

  it('parses a view with a byte offset inside a larger buffer', () => {
    const big = new Uint8Array(32);
    big.set(hex('03 05000000 20000000'), 11);
    const p = parseWispPacket(big.subarray(11, 20));
    assert.deepEqual(p, { type: WISP_CONTINUE, streamId: 5, bufferRemaining: 32 });
  });

  it('20000 seeded random messages: never a throw; whatever parses emits back to the same bytes', () => {
    const rng = new SeededRng(19);
    let parsed = 0;
    for (let i = 0; i < 20_000; i++) {
      const b = new Uint8Array(rng.below(24));
      rng.fill(b);
      if (b.length > 0 && rng.below(2) === 0) b[0] = 1 + rng.below(4); // a known type half the time
      const p = parseWispPacket(b);
      if (isWireError(p)) continue;
      parsed++;
      assert.deepEqual([...emitWispPacket(p)], [...b], `message ${i}`);
    }
    assert.ok(parsed > 1000, `only ${parsed} of 20000 parsed`); // 2441 with this seed
  });

  it('emitting values the format cannot carry throws RangeError', () => {
    assert.throws(
      () => emitWispPacket({ type: WISP_DATA, streamId: -1, payload: new Uint8Array() }),
      RangeError,
    );
    assert.throws(
      () => emitWispPacket({ type: WISP_DATA, streamId: 2 ** 32, payload: new Uint8Array() }),
      RangeError,
    );
    assert.throws(
      () => emitWispPacket({ type: WISP_CONNECT, streamId: 1, streamType: 1, port: 65536, hostname: 'a' }),
      RangeError,
    );
    assert.throws(
      () => emitWispPacket({ type: WISP_CONTINUE, streamId: 1, bufferRemaining: -1 }),
      RangeError,
    );
  });
});

describe('wisp close reasons', () => {
  it('map to the errno a socket raises', () => {
    const code = (r: number, connecting: boolean) => closeReasonError(r, connecting)?.code;
    assert.equal(code(WispCloseReason.REFUSED, true), 'ECONNREFUSED');
    assert.equal(code(WispCloseReason.CONNECT_TIMEOUT, true), 'ETIMEDOUT');
    assert.equal(code(WispCloseReason.DATA_TIMEOUT, false), 'ETIMEDOUT');
    assert.equal(code(WispCloseReason.UNREACHABLE, true), 'EHOSTUNREACH');
    assert.equal(code(WispCloseReason.BLOCKED, true), 'EACCES');
    assert.equal(code(WispCloseReason.NETWORK_ERROR, false), 'ECONNRESET');
    assert.equal(code(WispCloseReason.NETWORK_ERROR, true), 'ECONNREFUSED');
    // An established stream closed voluntarily is the normal end: end of stream, no error.
    assert.equal(closeReasonError(WispCloseReason.VOLUNTARY, false), undefined);
    assert.equal(code(WispCloseReason.VOLUNTARY, true), 'ECONNREFUSED');
    assert.equal(code(0x99, false), 'ECONNRESET');
  });

  it('describe themselves by name and value', () => {
    assert.equal(describeCloseReason(0x44), 'REFUSED (0x44)');
    assert.equal(describeCloseReason(0x99), 'reason 0x99');
    assert.match(closeReasonError(0x48, true)!.detail, /BLOCKED \(0x48\).*allow-list/);
  });
});
