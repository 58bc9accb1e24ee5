// The CLI with IPv6 addresses, as a user runs it (a child process): `sockstack ping`
// over the built-in network's IPv6 prefixes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('ping fd00:2::2 crosses the virtual router over IPv6, printed like iputils ping', () => {
  const r = run(['ping', '-c', '3', 'fd00:2::2']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines[0], 'PING fd00:2::2 (fd00:2::2) 56 data bytes');
  // The first reply also waited for neighbour discovery on both links.
  assert.match(lines[1], /^64 bytes from fd00:2::2: icmp_seq=1 ttl=63 time=\d+\.\d{3} ms$/);
  assert.equal(lines[2], '64 bytes from fd00:2::2: icmp_seq=2 ttl=63 time=2.000 ms');
  assert.equal(lines[3], '64 bytes from fd00:2::2: icmp_seq=3 ttl=63 time=2.000 ms');
  assert.equal(lines[5], '--- fd00:2::2 ping statistics ---');
  assert.equal(lines[6], '3 packets transmitted, 3 received, 0% packet loss, time 2000ms');
});

test('ping -6 takes names; hop limit 1 and an unrouted prefix answer with ICMPv6 errors from the router', () => {
  const hop = run(['ping', '-6', '-c', '1', '-t', '1', 'server']);
  assert.equal(hop.code, 1);
  assert.match(hop.out, /^PING fd00:2::2 /);
  assert.match(hop.out, /^From fd00:1::1 icmp_seq=1 Time exceeded: Hop limit$/m);
  const noRoute = run(['ping', '-c', '1', 'fd00:9::9']);
  assert.equal(noRoute.code, 1);
  assert.match(noRoute.out, /^From fd00:1::1 icmp_seq=1 Destination unreachable: No route$/m);
  const bad = run(['ping', '-6', 'fd00::zz']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /not an IPv6 address/);
});
