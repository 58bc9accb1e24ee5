import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The modules of the IPv4 layer itself (not the family-generic ones beside it). */
const IPV4_LAYER = /from '[./]*\/ip\/(ipv4|ipv4-network|output|icmpv4|forward|ping|arp|pmtu)\.ts'/;

test('transports, sockets, DNS and the TCP glue import nothing from the IPv4 layer (types included)', () => {
  const offenders: string[] = [];
  for (const dir of ['tcp', 'udp', 'socket', 'dns', 'stack']) {
    for (const f of tsFiles(join(SRC, dir))) {
      const text = readFileSync(f, 'utf8');
      for (const line of text.split('\n'))
        if (IPV4_LAYER.test(line)) offenders.push(`${relative(SRC, f)}: ${line.trim()}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('the pattern catches an import of the IPv4 layer', () => {
  assert.ok(IPV4_LAYER.test("import type { Ipv4Layer } from '../ip/ipv4.ts';"));
  assert.ok(!IPV4_LAYER.test("import type { NetworkLayer } from '../ip/network.ts';"));
});
