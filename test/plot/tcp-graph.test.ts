import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { cwndChart, sampleFromInfo } from '../../src/plot/cwnd.ts';
import { tcpSeries, timeSequenceGraph } from '../../src/plot/tcp-graph.ts';
import { hasTshark } from '../helpers/tshark.ts';
import { mixedFrames, transferFrames, writePcap } from '../trace/scenario.ts';
import { allElements, byClass, parseXml } from './xml.ts';

test('series of the transfer: 6 data segments, 1 retransmission, 3 SACK blocks, ACKs and marks', () => {
  const s = tcpSeries(transferFrames());
  assert.ok(s);
  assert.equal(s.direction, 'a2b');
  assert.deepEqual(
    s.segments.map((g) => [g.seq, g.end, g.retransmission]),
    [
      [1, 1001, false],
      [1001, 2001, false],
      [2001, 3001, false],
      [3001, 4001, false],
      [4001, 5001, false],
      [1001, 2001, true],
    ],
  );
  assert.deepEqual(
    s.sacks.map((b) => [b.left, b.right]),
    [
      [2001, 3001],
      [2001, 4001],
      [2001, 5001],
    ],
  );
  // Server's ACKs relative to the client's ISN; the window edge is ack + 509 << 7.
  assert.deepEqual(
    s.acks.map((a) => a.ack),
    [1, 1001, 1001, 1001, 1001, 5001, 5002],
  );
  assert.equal(s.acks[1].windowEdge, 1001 + 509 * 128);
  assert.deepEqual(
    s.marks.map((m) => m.kind),
    ['syn', 'fin'],
  );
  assert.equal(s.marks[1].seq, 5001);
  const rev = tcpSeries(transferFrames(), { direction: 'b2a' });
  assert.equal(rev?.segments.length, 0);
  assert.deepEqual(
    rev?.marks.map((m) => m.kind),
    ['syn', 'fin'],
  );
  assert.equal(tcpSeries(transferFrames(), { stream: 1 }), undefined);
});

test('the time–sequence SVG is well-formed and has the marks the scenario implies', () => {
  const s = tcpSeries(mixedFrames());
  assert.ok(s);
  const svg = timeSequenceGraph(s);
  const root = parseXml(svg);
  assert.equal(root.name, 'svg');
  assert.equal(byClass(root, 'seg').length, 6);
  assert.equal(byClass(root, 'seg', 'retrans').length, 1);
  assert.equal(byClass(root, 'sack').length, 3);
  assert.equal(byClass(root, 'ack-line').length, 1);
  const win = byClass(root, 'win-line');
  assert.equal(win.length, 1);
  assert.match(win[0].attrs.d, /^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+)+$/);
  assert.equal(byClass(root, 'mark', 'syn').length, 1);
  assert.equal(byClass(root, 'mark', 'fin').length, 1);
  assert.equal(byClass(root, 'legend').length, 1);
  const texts = allElements(root)
    .filter((e) => e.name === 'text')
    .map((e) => e.text);
  assert.ok(texts.includes('time (s)'));
  assert.ok(texts.includes('retransmissions (1)'));
  assert.ok(texts.some((t) => t.includes('10.0.1.2.49152 → 10.0.2.2.7')));
  // Every coordinate is a finite number inside the image.
  for (const e of allElements(root)) {
    for (const k of ['x1', 'x2', 'y1', 'y2', 'cx', 'cy']) {
      if (e.attrs[k] === undefined) continue;
      const v = Number(e.attrs[k]);
      assert.ok(Number.isFinite(v) && v >= 0 && v <= 960, `${e.name} ${k}=${e.attrs[k]}`);
    }
  }
});

test('tshark agrees on the retransmission count', (t) => {
  if (!hasTshark()) {
    t.skip('tshark is not installed');
    return;
  }
  const path = writePcap(mixedFrames());
  const r = spawnSync(
    'tshark',
    ['-r', path, '-Y', 'tcp.analysis.retransmission', '-T', 'fields', '-e', 'frame.number'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const theirs = r.stdout.split('\n').filter(Boolean).length;
  const s = tcpSeries(mixedFrames());
  assert.equal(s?.segments.filter((g) => g.retransmission).length, theirs);
  assert.equal(theirs, 1);
});

test('cwnd chart: well-formed, cwnd step line, ssthresh only when finite, RTT samples and SRTT', () => {
  const samples = [];
  let cwnd = 14600;
  for (let i = 0; i < 40; i++) {
    const ssthresh = i < 20 ? 2 ** 31 - 1 : 40000;
    if (i === 20) cwnd = 40000;
    else cwnd += i < 20 ? 1460 * 2 : 1460;
    samples.push({
      ...sampleFromInfo(i * 10_000, { cwnd, ssthresh, rtt: 20_000 + i * 100 }),
      rtt: 20_000 + (i % 5) * 500,
    });
  }
  const root = parseXml(cwndChart(samples, { title: 'cwnd <&> test' }));
  assert.equal(byClass(root, 'cwnd-line').length, 1);
  assert.equal(byClass(root, 'ssthresh-line').length, 1);
  assert.equal(byClass(root, 'srtt-line').length, 1);
  assert.equal(byClass(root, 'rtt').length, 40);
  // The ssthresh line starts where ssthresh became finite (sample 20), not at 2^31.
  const d = byClass(root, 'ssthresh-line')[0].attrs.d;
  assert.equal(d.split(/[ML]/).filter(Boolean).length, 20 * 2 - 1);
  assert.ok(allElements(root).some((e) => e.name === 'title' && e.text === 'cwnd <&> test'));
  // Without RTT data: no right axis label; empty input still renders.
  const bare = parseXml(
    cwndChart(
      [
        { time: 0, cwnd: 1000 },
        { time: 5000, cwnd: 2000 },
      ],
      { mss: 1000 },
    ),
  );
  assert.ok(!allElements(bare).some((e) => e.name === 'text' && e.text === 'RTT (ms)'));
  assert.ok(allElements(bare).some((e) => e.name === 'text' && e.text === 'window (segments)'));
  assert.doesNotThrow(() => parseXml(cwndChart([])));
});
