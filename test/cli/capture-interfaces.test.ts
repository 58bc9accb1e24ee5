import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const run = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8' });

test('capture tracks TCP per interface: a router capture of two subnets shows no false retransmissions', () => {
  const pcap = join(mkdtempSync(join(tmpdir(), 'sockstack-cap-')), 'demo.pcapng');
  assert.equal(run(['demo', '--quiet', '--pcap', pcap]).status, 0);
  const r = run(['capture', '-A', pcap, 'tcp']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  // Each TCP segment of the echo session appears once per subnet.
  assert.ok(lines.length >= 16, `only ${lines.length} TCP lines`);
  assert.equal(lines.filter((l) => l.includes('[3-way handshake: SYN]')).length, 2);
  assert.deepEqual(
    lines.filter((l) => /retransmission/i.test(l)),
    [],
  );
});
