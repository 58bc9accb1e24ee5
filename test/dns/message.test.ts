import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildQuery,
  CLASS_IN,
  encodeDnsMessage,
  encodeName,
  parseDnsMessage,
  RCODE_NXDOMAIN,
  TYPE_A,
  TYPE_AAAA,
  TYPE_CNAME,
  TYPE_MX,
} from '../../src/dns/message.ts';

const hex = (s: string) =>
  new Uint8Array(
    s
      .replace(/\s+/g, '')
      .match(/../g)!
      .map((h) => Number.parseInt(h, 16)),
  );

describe('dns message codec', () => {
  it('builds a query byte for byte (RFC 1035 §4.1)', () => {
    const q = buildQuery(0x1234, 'example.com', TYPE_A);
    assert.deepEqual(q, hex('1234 0100 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001'));
  });

  it('parses a hand-built response with compression pointers, CNAME, A and AAAA', () => {
    // Question www.example.com A; answers: www CNAME → ptr to example.com; example.com A; example.com AAAA.
    const bytes = hex(
      `abcd 8180 0001 0003 0000 0000
       03 777777 07 6578616d706c65 03 636f6d 00 0001 0001
       c00c 0005 0001 00000e10 0002 c010
       c010 0001 0001 0000012c 0004 5db8d822
       c010 001c 0001 0000012c 0010 2606280000000000000000000000000a`,
    );
    const r = parseDnsMessage(bytes);
    assert.ok(r.ok, r.ok ? '' : r.error);
    const m = r.message;
    assert.equal(m.id, 0xabcd);
    assert.equal(m.qr, true);
    assert.equal(m.rd, true);
    assert.equal(m.ra, true);
    assert.equal(m.rcode, 0);
    assert.deepEqual(m.questions, [{ name: 'www.example.com', type: TYPE_A, class: CLASS_IN }]);
    assert.deepEqual(m.answers[0], {
      name: 'www.example.com',
      class: 1,
      ttl: 3600,
      type: TYPE_CNAME,
      target: 'example.com',
    });
    assert.deepEqual(m.answers[1], {
      name: 'example.com',
      class: 1,
      ttl: 300,
      type: TYPE_A,
      address: '93.184.216.34',
    });
    assert.deepEqual(m.answers[2], {
      name: 'example.com',
      class: 1,
      ttl: 300,
      type: TYPE_AAAA,
      address: '2606:2800::a',
    });
  });

  it('round-trips through encode and parse, keeping unknown types as raw rdata', () => {
    const msg = {
      id: 7,
      qr: true,
      aa: true,
      rd: true,
      rcode: RCODE_NXDOMAIN,
      questions: [{ name: 'a.b', type: TYPE_MX, class: CLASS_IN }],
      answers: [
        { name: 'a.b', class: 1, ttl: 5, type: TYPE_A as 1, address: '10.0.0.1' },
        { name: 'a.b', class: 1, ttl: 5, type: TYPE_MX, rdata: new Uint8Array([0, 10, 0]) },
      ],
    };
    const r = parseDnsMessage(encodeDnsMessage(msg));
    assert.ok(r.ok);
    assert.equal(r.message.rcode, RCODE_NXDOMAIN);
    assert.equal(r.message.aa, true);
    assert.deepEqual(r.message.answers, msg.answers);
  });

  it('never throws on bad bytes: every truncated prefix and pointer loops fail cleanly', () => {
    const full = encodeDnsMessage({
      id: 1,
      qr: true,
      questions: [{ name: 'x.example', type: TYPE_A, class: 1 }],
      answers: [{ name: 'x.example', class: 1, ttl: 1, type: 1, address: '1.2.3.4' }],
    });
    for (let n = 0; n < full.length; n++) {
      const r = parseDnsMessage(full.subarray(0, n));
      assert.equal(r.ok, false, `prefix of ${n} bytes parsed`);
    }
    const loop = hex('0000 8000 0001 0000 0000 0000 c00c 0001 0001');
    const r = parseDnsMessage(loop);
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, /loop/);
    assert.equal(parseDnsMessage(hex('0000 8000 0001 0000 0000 0000 80')).ok, false, 'reserved label type');
    const badA = hex('0000 8000 0000 0001 0000 0000 00 0001 0001 00000000 0003 010203');
    assert.equal(parseDnsMessage(badA).ok, false);
  });

  it('rejects names that cannot be encoded', () => {
    assert.throws(() => encodeName('a..b'), RangeError);
    assert.throws(() => encodeName(`${'x'.repeat(64)}.com`), RangeError);
    assert.throws(() => encodeName(Array(130).fill('ab').join('.')), RangeError);
    assert.deepEqual(encodeName('.'), new Uint8Array([0]));
    assert.deepEqual(encodeName('a.'), new Uint8Array([1, 97, 0]));
  });
});
