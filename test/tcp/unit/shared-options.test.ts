import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TcpSocketOptions } from '../../../src/tcp/config.ts';
import { SharedOptions } from '../../../src/tcp/shared-options.ts';

const base = (): TcpSocketOptions => ({
  noDelay: false,
  keepAlive: false,
  keepIdle: 7_200_000_000,
  keepInterval: 75_000_000,
  keepCount: 9,
  linger: undefined,
  rcvBuf: 131072,
  sndBuf: 16384,
  maxSeg: undefined,
  congestion: 'cubic',
  udpEncapsPort: undefined,
});

test('SharedOptions: equal sets share one object, field order and undefined fields aside', () => {
  const s = new SharedOptions();
  const first = s.intern(base());
  // The same fields in another order, and without the fields that are undefined.
  const { udpEncapsPort: _u, linger: _l, maxSeg: _m, ...rest } = base();
  const reordered = Object.fromEntries(Object.entries(rest).reverse()) as unknown as TcpSocketOptions;
  assert.equal(s.intern(reordered), first);
  assert.equal(s.intern({ ...base(), cork: undefined }), first);
});

test('SharedOptions: a field that differs, or is set on one side only, makes another set', () => {
  const s = new SharedOptions();
  const first = s.intern(base());
  const noDelay = { ...base(), noDelay: true };
  assert.equal(s.intern(noDelay), noDelay);
  // A field the remembered set lacks, set here (the remembered set is the shorter one).
  const corked = { ...base(), cork: true };
  assert.equal(s.intern(corked), corked);
  // And the other way round: the remembered set has a field this one leaves out.
  const s2 = new SharedOptions();
  const withTos = s2.intern({ ...base(), tos: 16 });
  const plain = base();
  assert.equal(s2.intern(plain), plain);
  assert.notEqual(plain, withTos);
  // Each is remembered: asking again gives the same objects.
  assert.equal(s.intern({ ...base(), cork: true }), corked);
  assert.equal(s.intern(base()), first);
});
