/**
 * scripts/bundle-report.ts: what stack.js is made of, from the same build as
 * `npm run build:browser` (the ABSENT stand-ins in place of what they stand for).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CORE_GZIP_LIMIT } from '../../scripts/build-browser.ts';
import { stackReport } from '../../scripts/bundle-report.ts';

test('bundle-report: the stack build by module and by folder, with the stand-ins of ABSENT', async () => {
  const r = await stackReport();
  const names = new Set(r.modules.map((m) => m.name));
  for (const present of [
    'src/stack.ts',
    'src/tcp/input.ts',
    'src/dns/resolver-absent.ts',
    'src/ip/ping-absent.ts',
  ])
    assert.ok(names.has(present), `${present} is in stack.js`);
  for (const absent of [
    'src/dns/resolver.ts',
    'src/dns/message.ts',
    'src/ip/ping.ts',
    'src/ip/ndp-router.ts',
  ])
    assert.ok(!names.has(absent), `${absent} is not in stack.js`);
  assert.ok(!r.modules.some((m) => m.name.startsWith('src/node/')), 'no Node-only module');
  for (let i = 1; i < r.modules.length; i++)
    assert.ok(r.modules[i - 1].bytes >= r.modules[i].bytes, 'largest first');
  const sum = r.modules.reduce((n, m) => n + m.bytes, 0);
  assert.ok(
    sum <= r.esbuildBytes && sum > r.esbuildBytes * 0.9,
    `${sum} of ${r.esbuildBytes} bytes are modules'`,
  );
  assert.ok(r.bytes < r.esbuildBytes, 'terser shrinks what esbuild wrote');
  assert.ok(r.gzip > 10_000 && r.gzip <= CORE_GZIP_LIMIT, `${r.gzip} bytes gzipped`);
  const folders = await stackReport(true);
  const tcp = folders.modules.find((m) => m.name === 'src/tcp');
  assert.equal(
    tcp?.bytes,
    r.modules.filter((m) => /^src\/tcp\/[^/]+$/.test(m.name)).reduce((n, m) => n + m.bytes, 0),
  );
  assert.equal(folders.gzip, r.gzip, 'the same build');
});
