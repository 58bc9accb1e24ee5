/**
 * examples/memory-network.ts: the pure-core echo session over a lossy memory cable
 * must echo every byte, lose frames on the way (so recovery really ran), and give the
 * same virtual time for the same seed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;
const runExample = (bytes: number, seed: number): string =>
  execFileSync(
    process.execPath,
    ['--import', 'tsx', 'examples/memory-network.ts', String(bytes), String(seed)],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );

test('memory-network example: byte-exact echo through loss, reproducible from its seed', () => {
  const first = runExample(300_000, 3);
  const m = first.match(/client: (\d+) of (\d+) bytes echoed back (\w+) in ([\d.]+) virtual seconds/);
  assert.ok(m, first);
  assert.equal(m[1], '300000');
  assert.equal(m[3], 'intact');
  const lost = Number(first.match(/cable: (\d+) frames lost/)?.[1]);
  assert.ok(lost > 0, `2% loss should drop some frames: ${first}`);
  assert.equal(runExample(300_000, 3), first, 'same seed, same run');
});
