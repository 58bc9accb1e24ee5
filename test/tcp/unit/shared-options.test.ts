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

test('SharedOptions.internMerged answers as intern({ ...base, ...over }) and makes the merged set only when new', () => {
  const s = new SharedOptions();
  const first = s.intern(base());
  // Overrides equal to the base, or none: the remembered set.
  assert.equal(s.internMerged(base(), undefined), first);
  assert.equal(s.internMerged(base(), { rcvBuf: 131072, udpEncapsPort: undefined }), first);
  // An override set to undefined replaces a base field that is set, as a spread does.
  const noTos = s.internMerged({ ...base(), tos: 16 }, { tos: undefined });
  assert.equal(noTos, first);
  // A field that differs: a new merged set with the override's value, remembered.
  const nd = s.internMerged(base(), { noDelay: true });
  assert.notEqual(nd, first);
  assert.deepEqual(nd, { ...base(), noDelay: true });
  assert.equal(s.internMerged(base(), { noDelay: true }), nd);
  assert.equal(s.intern({ ...base(), noDelay: true }), nd);
  // A field only the override has, and one only the base has.
  const tunnel = s.internMerged(base(), { udpEncapsPort: 9899 });
  assert.equal(tunnel.udpEncapsPort, 9899);
  assert.notEqual(tunnel, first);
  const corked = s.internMerged({ ...base(), cork: true }, { noDelay: true });
  assert.notEqual(corked, nd);
  assert.equal(corked.cork, true);
  // An override that only looks like one (inherited, not its own) is not applied.
  const inherited = Object.create({ noDelay: true }) as Partial<TcpSocketOptions>;
  assert.equal(s.internMerged(base(), inherited), first);
});
