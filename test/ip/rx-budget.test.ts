import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InterfaceTable } from '../../src/ip/interfaces.ts';
import { newStackStats } from '../../src/ip/stats.ts';
import type { Device } from '../../src/link/device.ts';

function device(): Device {
  return { name: 'd', linkType: 'ethernet', mtu: 65535, transmit() {}, onReceive: null };
}

test('pollReceive takes at most `batch` frames and about `byteBudget` bytes per interface, at least one frame', () => {
  const table = new InterfaceTable(newStackStats());
  const dev = device();
  table.add('eth0', dev, new Uint8Array(6), 65535);
  const sizes = [40_000, 40_000, 40_000, 70_000, 100, 100, 100];
  for (const n of sizes) dev.onReceive?.(new Uint8Array(n));
  assert.equal(table.pending, sizes.length);
  const polls: number[][] = [];
  for (let i = 0; i < 10 && table.pending > 0; i++) {
    const got: number[] = [];
    const n = table.pollReceive(2, 64 * 1024, (_iface, f) => got.push(f.length));
    assert.equal(n, got.length);
    polls.push(got);
  }
  // 40 kB + 40 kB reach the budget; a frame larger than the budget still goes alone; the
  // frame count bounds the small ones.
  assert.deepEqual(polls, [[40_000, 40_000], [40_000, 70_000], [100, 100], [100]]);
  assert.equal(table.pending, 0);
});
