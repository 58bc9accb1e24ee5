// `sockstack sim` as a user runs it: scenario files, numbers, pcap and SVG output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseScenario, ScenarioError } from '../../src/cli/scenario.ts';
import { readPcap } from '../../src/link/pcap.ts';
import { byClass, parseXml } from '../plot/xml.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sim(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sim', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const goodput = (out: string, n = 1): number => {
  const m = new RegExp(
    `transfer ${n}: [^\\n]*\\n {2}completed at [\\d.]+ s, took ([\\d.]+) s, goodput ([\\d.]+) Mbit/s`,
  ).exec(out);
  assert.ok(m, out);
  return Number(m[2]);
};
const retrans = (out: string): number => Number(/retransmissions (\d+) segments/.exec(out)?.[1]);

test('every shipped scenario parses', () => {
  const dir = join(root, 'examples/scenarios');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 3);
  for (const f of files) parseScenario(JSON.parse(readFileSync(join(dir, f), 'utf8')));
});

test('lossy WAN: plausible goodput, retransmissions, a readable pcap and well-formed SVGs with retransmission marks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-sim-'));
  const pcap = join(dir, 'wan.pcapng');
  const r = sim(['lossy-wan', '--svg-dir', join(dir, 'svg'), '--pcap', pcap]);
  assert.equal(r.code, 0, r.err);
  const g = goodput(r.out);
  // 2% loss, 80 ms RTT: Mathis et al. give about MSS/RTT · 1.22/√p ≈ 1.3 Mbit/s; the link is 20 Mbit/s.
  assert.ok(g > 0.3 && g < 20, `goodput ${g}`);
  assert.ok(retrans(r.out) > 0);
  assert.match(r.out, /RTT (\d+\.\d) ms smoothed/);
  const rtt = Number(/RTT (\d+\.\d) ms smoothed/.exec(r.out)?.[1]);
  assert.ok(rtt >= 80 && rtt < 400, `rtt ${rtt}`);
  const seq = parseXml(readFileSync(join(dir, 'svg/lossy-wan-1-seq.svg'), 'utf8'));
  assert.equal(seq.name, 'svg');
  assert.ok(byClass(seq, 'seg').length > 100);
  assert.ok(byClass(seq, 'seg', 'retrans').length > 0, 'retransmissions drawn');
  const cwnd = parseXml(readFileSync(join(dir, 'svg/lossy-wan-1-cwnd.svg'), 'utf8'));
  assert.equal(cwnd.name, 'svg');
  assert.ok(byClass(cwnd, 'cwnd-line').length === 1);
  const file = readPcap(readFileSync(pcap));
  assert.equal(file.format, 'pcapng');
  assert.ok(file.records.length > 1000);
  assert.deepEqual(
    file.interfaces.map((i) => i.name),
    ['client.eth0'],
  );
});

test('clean LAN over a switch: no retransmissions, goodput close to the link rate, no retransmission marks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-sim-'));
  const r = sim(['clean-lan', '--svg-dir', dir]);
  assert.equal(r.code, 0, r.err);
  assert.ok(goodput(r.out, 1) > 30 && goodput(r.out, 1) <= 100);
  assert.ok(goodput(r.out, 2) > 10 && goodput(r.out, 2) <= 100);
  assert.equal(retrans(r.out), 0);
  const seq = parseXml(readFileSync(join(dir, 'clean-lan-1-seq.svg'), 'utf8'));
  assert.ok(byClass(seq, 'seg').length > 100);
  assert.equal(byClass(seq, 'retrans').length, 0);
});

test('narrow bottleneck: tail drops, goodput below the bottleneck rate; same seed, same numbers', () => {
  const a = sim(['examples/scenarios/bottleneck.json']);
  assert.equal(a.code, 0, a.err);
  const g = goodput(a.out);
  assert.ok(g > 2 && g <= 5, `goodput ${g} on a 5 Mbit/s link`);
  assert.ok(retrans(a.out) > 0, 'a 10-packet queue overflows');
  const b = sim(['examples/scenarios/bottleneck.json']);
  const strip = (s: string) => s.replace(/ in [\d.]+ s of wall time/, '');
  assert.equal(strip(a.out), strip(b.out));
});

test('without a file: one transfer from the options', () => {
  const r = sim(['--bytes', '200000', '--bandwidth', '2', '--delay', '5']);
  assert.equal(r.code, 0, r.err);
  const g = goodput(r.out);
  assert.ok(g > 0.5 && g <= 2, `goodput ${g}`);
});

test('bad scenarios fail with the field named; bad options exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockstack-sim-'));
  const bad = join(dir, 'bad.json');
  writeFileSync(
    bad,
    JSON.stringify({ hosts: [{ name: 'a' }], links: [], transfers: [{ from: 'a', to: 'b', bytes: 1 }] }),
  );
  const r = sim([bad]);
  assert.equal(r.code, 1);
  assert.match(r.err, /transfers\[0\]\.to: no host named 'b'/);
  const unknown = sim(['no-such-scenario']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /no-such-scenario.*shipped: bottleneck, clean-lan, lossy-wan/);
  assert.equal(sim(['--cc', 'bbr']).code, 2);
  assert.throws(
    () => parseScenario({ hosts: [{ name: 'a', colour: 1 }], links: [], transfers: [] }),
    (e: unknown) => e instanceof ScenarioError && /hosts\[0\]: unknown field 'colour'/.test(e.message),
  );
});
