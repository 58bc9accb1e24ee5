import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import { describeEvents, type TcpEvent, TcpTracker } from '../../src/trace/conversation.ts';
import { dissect } from '../../src/trace/dissect.ts';
import {
  formatEnvelope,
  previewBytes,
  type StyleFn,
  summaryLine,
  tcpFlagsText,
} from '../../src/trace/format.ts';
import { compileFilter, FilterError } from '../../src/trace/frames.ts';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/wire/tcp.ts';
import { CISN, mixedFrames, SISN, tcpSegment, transferFrames } from './scenario.ts';

test('SYN: every header field is dissected and the summary reads like tcpdump', () => {
  const syn = transferFrames()[0];
  const d = dissect(syn.data, 'ethernet');
  assert.deepEqual(d.problems, []);
  assert.equal(d.eth?.ethertype, 0x0800);
  assert.equal(d.ip?.ttl, 64);
  assert.equal(d.ip?.df, true);
  assert.equal(d.ip?.checksumOk, true);
  assert.equal(d.tcp?.seq, CISN);
  assert.equal(d.tcp?.flags, TCP_SYN);
  assert.equal(d.tcp?.checksumOk, true);
  assert.deepEqual(
    d.tcp?.options.map((o) => o.kind),
    ['mss', 'sackOK', 'ts', 'nop', 'wscale'],
  );
  assert.equal(
    summaryLine(d, { time: 12_000_250 }),
    '12.000250 10.0.1.2.49152 > 10.0.2.2.7: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0',
  );
});

test('tcpFlagsText uses tcpdump letters and order', () => {
  assert.equal(tcpFlagsText(TCP_SYN | TCP_ACK), 'S.');
  assert.equal(tcpFlagsText(TCP_FIN | TCP_PSH | TCP_ACK), 'FP.');
  assert.equal(tcpFlagsText(TCP_RST), 'R');
  assert.equal(tcpFlagsText(0), 'none');
});

test('the tracker makes numbers relative and names handshake, SACK dup ACKs, the retransmission and FINs', () => {
  const tracker = new TcpTracker();
  const lines: string[] = [];
  const events: TcpEvent[][] = [];
  for (const f of transferFrames()) {
    const d = dissect(f.data, f.linkType);
    const o = tracker.observe(d, f.time);
    assert.ok(o);
    events.push([...o.events]);
    lines.push(summaryLine(d, { tcp: o }));
  }
  assert.equal(tracker.conversations.length, 1);
  assert.deepEqual(events.slice(0, 3), [['syn'], ['syn-ack'], ['handshake-ack']]);
  assert.equal(
    lines[1],
    `10.0.2.2.7 > 10.0.1.2.49152: Flags [S.], seq ${SISN}, ack ${CISN + 1}, win 65160, options [mss 1460,sackOK,TS val 7 ecr 1,nop,wscale 7], length 0`,
  );
  assert.equal(lines[3], '10.0.1.2.49152 > 10.0.2.2.7: Flags [P.], seq 1:1001, ack 1, win 502, length 1000');
  assert.equal(
    lines[9],
    '10.0.2.2.7 > 10.0.1.2.49152: Flags [.], ack 1001, win 509, options [nop,nop,sack 1 {2001:3001}], length 0',
  );
  const flat = events.flat();
  assert.equal(flat.filter((e) => e === 'retransmission').length, 1);
  assert.deepEqual(events[12], ['retransmission']);
  assert.equal(flat.filter((e) => e === 'dup-ack').length, 3);
  assert.equal(flat.filter((e) => e === 'fin').length, 2);
  const conv = tracker.conversations[0];
  assert.equal(conv.client, 'a2b');
  assert.equal(conv.a2b.retransmissions, 1);
  assert.equal(conv.a2b.bytes, 5000);
});

test('describeEvents names the side: FIN from client / server, RST', () => {
  const tracker = new TcpTracker();
  const frames = transferFrames();
  const labels: string[][] = [];
  for (const f of frames) labels.push(describeEvents(tracker.observe(dissect(f.data), f.time)!));
  assert.deepEqual(labels[0], ['3-way handshake: SYN']);
  assert.deepEqual(labels[2], ['3-way handshake: ACK']);
  assert.deepEqual(labels[14], ['FIN from client']);
  assert.deepEqual(labels[15], ['FIN from server']);
  const rst = tcpSegment(false, { seq: SISN + 2, flags: TCP_RST, win: 0 });
  assert.deepEqual(describeEvents(tracker.observe(dissect(rst), 99)!), ['RST from server']);
});

test('window scaling is applied to non-SYN segments once both SYNs offered it', () => {
  const tracker = new TcpTracker();
  const frames = transferFrames();
  const obs = frames.map((f) => tracker.observe(dissect(f.data), f.time)!);
  assert.equal(obs[1].windowBytes, 65160); // SYN-ACK: never scaled
  assert.equal(obs[8].windowBytes, 509 * 128);
});

test('ARP, ICMP (echo and port unreachable quoting UDP) and UDP summaries', () => {
  const lines = mixedFrames()
    .slice(0, 6)
    .map((f) => summaryLine(dissect(f.data, f.linkType)));
  assert.deepEqual(lines, [
    'ARP, Request who-has 10.0.1.1 tell 10.0.1.2, length 28',
    'ARP, Reply 10.0.1.1 is-at 02:00:00:00:00:09, length 28',
    '10.0.1.2 > 10.0.2.2: ICMP echo request, id 77, seq 1, length 17',
    '10.0.2.2 > 10.0.1.2: ICMP echo reply, id 77, seq 1, length 17',
    '10.0.1.2.5000 > 10.0.2.2.9999: UDP, length 10',
    '10.0.2.2 > 10.0.1.2: ICMP destination unreachable, port unreachable [quoting 10.0.1.2.5000 > 10.0.2.2.9999 UDP], length 36',
  ]);
  const unreach = dissect(mixedFrames()[5].data);
  assert.equal(unreach.icmp?.quoted?.dstPort, 9999);
  assert.equal(unreach.icmp?.checksumOk, true);
});

test('bad checksums are reported, not fatal', () => {
  const f = transferFrames()[3].data.slice();
  f[f.length - 1] ^= 0xff; // payload byte: TCP checksum now wrong
  f[22] ^= 0x01; // TTL: IP header checksum now wrong
  const d = dissect(f);
  assert.equal(d.ip?.checksumOk, false);
  assert.equal(d.tcp?.checksumOk, false);
  assert.match(summaryLine(d), /\[bad tcp cksum\].*\[bad ip cksum\]/);
});

test('raw IP link type and IP fragments', () => {
  const f = transferFrames()[3].data;
  const raw = dissect(f.subarray(14), 'ip');
  assert.equal(raw.eth, undefined);
  assert.equal(raw.tcp?.payloadLength, 1000);
  const frag = f.slice(14);
  frag[6] = 0x20; // MF, offset 0x0010 → 128 bytes
  frag[7] = 0x10;
  const d = dissect(frag, 'ip');
  assert.equal(d.fragment, true);
  assert.equal(d.ip?.fragmentOffset, 128);
  // The flags were edited without fixing the header checksum, which the summary reports.
  assert.match(summaryLine(d), /^10\.0\.1\.2 > 10\.0\.2\.2: TCP \(frag \d+:1020@128\+\) \[bad ip cksum\]$/);
});

test('never throws: every truncated prefix and random garbage dissect and format', () => {
  const rng = new SeededRng(42);
  const frames = mixedFrames().map((f) => f.data);
  for (const frame of frames) {
    for (let n = 0; n < Math.min(frame.length, 90); n++) {
      for (const lt of ['ethernet', 'ip'] as const) {
        const d = dissect(frame.subarray(0, n), lt);
        summaryLine(d);
        formatEnvelope(d);
        formatEnvelope(d, { layout: 'tree' });
      }
    }
  }
  const short = dissect(frames[6].subarray(0, 40));
  assert.ok(short.problems.some((p) => p.layer === 'tcp'));
  assert.match(formatEnvelope(short), /malformed: truncated/);
  for (let k = 0; k < 2000; k++) {
    const len = rng.below(120);
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = rng.below(256);
    if (len > 14 && rng.below(2) === 0) {
      b[12] = 0x08;
      b[13] = 0x00;
      b[14] = 0x40 | (5 + rng.below(3));
      b[23] = [1, 6, 17][rng.below(3)];
    }
    const d = dissect(b, rng.below(2) === 0 ? 'ethernet' : 'ip');
    summaryLine(d);
    formatEnvelope(d);
  }
});

test('envelope: nested boxes line up, labels and notes show, style roles are applied', () => {
  const frames = transferFrames();
  const tracker = new TcpTracker();
  let obs = tracker.observe(dissect(frames[0].data), 0);
  for (let i = 1; i <= 3; i++) obs = tracker.observe(dissect(frames[i].data), frames[i].time);
  const d = dissect(frames[3].data);
  const out = formatEnvelope(d, {
    index: 4,
    time: frames[3].time,
    tcp: obs,
    label: 'client sends',
    notes: ['client: ESTABLISHED'],
  });
  const lines = out.split('\n');
  assert.match(lines[0], /^#4 0\.020100 client sends$/);
  assert.equal(lines[1], '  client: ESTABLISHED');
  const box = lines.slice(2);
  assert.ok(box[0].startsWith('┌─ Ethernet frame, 1054 bytes'));
  const widths = new Set(box.map((l) => [...l].length));
  assert.equal(widths.size, 1, `box lines differ in width:\n${box.join('\n')}`);
  for (const title of ['IPv4 datagram, 1040 bytes', 'TCP segment, 1000 bytes of data', 'Data, 1000 bytes']) {
    assert.ok(out.includes(title), title);
  }
  assert.match(out, /seq 1 \(abs 1001\)/);
  assert.match(out, /"AAAAAAAA/);
  const seen = new Set<string>();
  const style: StyleFn = (role, text) => {
    seen.add(role);
    return `<${role}>${text}</${role}>`;
  };
  const styled = formatEnvelope(d, { style });
  assert.ok(['border', 'title', 'addr', 'port', 'flags', 'data'].every((r) => seen.has(r)));
  assert.equal(styled.replace(/<\/?[a-z]+>/g, ''), formatEnvelope(d));
  const tree = formatEnvelope(d, { layout: 'tree', label: 'x' }).split('\n');
  assert.deepEqual(
    tree.filter((l) => /└─|^Ethernet/.test(l)).map((l) => l.trim()),
    [
      'Ethernet frame, 1054 bytes',
      '└─ IPv4 datagram, 1040 bytes',
      '└─ TCP segment, 1000 bytes of data',
      '└─ Data, 1000 bytes',
    ],
  );
});

test('previewBytes: text escaped, binary as hex, long data elided', () => {
  const enc = new TextEncoder();
  assert.equal(previewBytes(enc.encode('GET / HTTP/1.1\r\n')), '"GET / HTTP/1.1\\r\\n"');
  assert.equal(previewBytes(enc.encode('say "hi"\\')), '"say \\"hi\\"\\\\"');
  assert.equal(previewBytes(new Uint8Array([0, 1, 2, 0xff])), '0001 02ff');
  assert.equal(previewBytes(enc.encode('x'.repeat(100)), 10), `"${'x'.repeat(10)}"…`);
  assert.equal(previewBytes(new Uint8Array(0)), '');
});

test('filters: protocols, ports, hosts, and/or/not, and clear errors', () => {
  const ds = mixedFrames().map((f) => dissect(f.data));
  const count = (expr: string) => ds.filter(compileFilter(expr)).length;
  assert.equal(count(''), ds.length);
  assert.equal(count('arp'), 2);
  assert.equal(count('icmp'), 3);
  assert.equal(count('udp'), 1);
  assert.equal(count('tcp'), 17);
  assert.equal(count('port 7'), 17);
  assert.equal(count('port 9999'), 1);
  assert.equal(count('tcp and src host 10.0.2.2'), 7);
  assert.equal(count('host 10.0.1.1'), 2);
  assert.equal(count('not tcp'), 6);
  assert.equal(count('udp or arp'), 3);
  assert.equal(count('!(tcp || arp)'), 4);
  assert.equal(count('dst port 7 && tcp'), 10);
  // tcpdump's protocol qualifier (as in its own help): 'tcp port N', 'udp dst port N'.
  assert.equal(count('tcp port 7'), 17);
  assert.equal(count('udp port 7'), 0);
  assert.equal(count('udp port 9999'), 1);
  assert.equal(count('tcp dst port 7'), 10);
  assert.equal(count('tcp port 7 and not src host 10.0.2.2'), 10);
  for (const bad of ['bogus', 'port', 'port x', 'host 1.2.3', '(tcp', 'tcp udp', 'src tcp']) {
    assert.throws(() => compileFilter(bad), FilterError, bad);
  }
});
