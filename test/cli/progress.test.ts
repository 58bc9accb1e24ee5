import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatDuration, Progress } from '../../src/cli/progress.ts';

test('progress: rate, percent and ETA from an injected clock; redraw throttled; \\r on a TTY', () => {
  let now = 0;
  const out: string[] = [];
  const p = new Progress({
    total: 10 * 1024 * 1024,
    label: 'send',
    write: (t) => out.push(t),
    isTTY: true,
    now: () => now,
    columns: 80,
  });
  now = 1000;
  p.add(1024 * 1024);
  assert.equal(out.length, 1);
  assert.ok(out[0].startsWith('\rsend ['));
  assert.match(out[0], / 10% 1\.0 MiB\/10\.0 MiB 1\.0 MiB\/s ETA 0:09/);
  now = 1050; // within 100 ms: no redraw
  p.add(1);
  assert.equal(out.length, 1);
  now = 2000;
  p.update(10 * 1024 * 1024);
  p.finish();
  assert.match(out.at(-2) ?? '', /100% .* ETA 0:00/);
  assert.equal(out.at(-1), '\n');
  assert.ok(p.line(2000).length <= 80);
});

test('progress is silent when not a TTY; unknown total shows bytes and rate', () => {
  const out: string[] = [];
  let now = 0;
  const p = new Progress({ write: (t) => out.push(t), isTTY: false, now: () => now });
  now = 2000;
  p.add(4096);
  p.finish();
  assert.deepEqual(out, []);
  assert.equal(p.line(2000), '4.0 KiB  2.0 KiB/s');
});

test('formatBytes / formatDuration', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatDuration(3725), '1:02:05');
  assert.equal(formatDuration(65), '1:05');
  assert.equal(formatDuration(Number.POSITIVE_INFINITY), '--:--');
});
