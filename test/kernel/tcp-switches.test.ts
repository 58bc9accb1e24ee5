/**
 * Issue #16's switches against the Linux kernel over TAP, in namespaces the tests create
 * (named i9sw...), with a kernel peer (scripts/kernel-peer.py, or a python client) that must
 * get every byte:
 *
 * - the send switches on our stream socket: TCP_CORK, MSG_MORE, MSG_EOR, TCP_NOTSENT_LOWAT;
 * - drop_synfin and RFC 5961 (§3 RST, §4 SYN) with segments injected from the kernel's
 *   namespace by a raw socket (raw-inject.py), and the FreeBSD-style switches turned off;
 * - F-RTO (RFC 5682): the kernel's ACKs held on our receive path until our RTO fires;
 * - TCP_INFO against the kernel's tcp_info of the same connection (ss -tin).
 *
 * Offloads are off, so every frame we hand the TAP is one TCP segment; the test wraps the
 * TAP's transmit to record each segment's sequence number, length and flags on its way to
 * the kernel, and its receive callback to hold frames (the ACK-path delay spike).
 */
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { createNetns, deleteNetns, uniqueName } from '../../src/node/netns.ts';
import { type TapStackHost, type TapStackOptions, tapStack } from '../../src/node/tap-stack.ts';
import {
  AF_INET,
  IPPROTO_TCP,
  MSG_EOR,
  MSG_MORE,
  SO_SNDBUF,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_CORK,
  TCP_MAXSEG,
  TCP_NOTSENT_LOWAT,
} from '../../src/socket/constants.ts';
import type { Socket } from '../../src/socket/socket.ts';
import { decodeTcpInfo, encodeTcpInfo } from '../../src/socket/tcp-info.ts';
import { exited, lines, skipUnless, until } from './helpers.ts';
import { rawConnect, rawListen } from './raw-tcp.ts';

const PEER = new URL('../../scripts/kernel-peer.py', import.meta.url).pathname;
const INJECT = new URL('./raw-inject.py', import.meta.url).pathname;

interface Seg {
  seq: number;
  len: number;
  flags: number;
}

/** A host whose TCP segments to `port` are recorded as they are handed to the TAP. */
async function swHost(
  t: TestContext,
  config: TapStackOptions['config'] = undefined,
): Promise<{ h: TapStackHost; segs: (port: number) => Seg[]; hold: (on: boolean) => void }> {
  const ns = uniqueName('i9sw');
  createNetns(ns);
  let h: TapStackHost;
  try {
    h = await tapStack({
      netns: ns,
      kernelAddr: '10.89.1.1/24',
      stackAddr: '10.89.1.2/24',
      offload: false,
      tso: false,
      // Frames the ACK-path hold keeps must stay intact (no lent receive buffers).
      lendRx: false,
      config,
    });
  } catch (e) {
    deleteNetns(ns);
    throw e;
  }
  t.after(async () => {
    await h.close();
    deleteNetns(ns);
  });
  const seen: Array<Seg & { port: number }> = [];
  const tap = h.tap;
  const transmit = tap.transmit.bind(tap);
  tap.transmit = (f: Uint8Array, gso?: number) => {
    // Ethernet + IPv4 + TCP: note the segment's destination port, sequence and payload length.
    if (f.length >= 54 && f[12] === 0x08 && f[13] === 0x00 && f[23] === 6) {
      const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
      const ihl = (f[14] & 0xf) * 4;
      const tcp = 14 + ihl;
      const doff = (f[tcp + 12] >> 4) * 4;
      seen.push({
        port: dv.getUint16(tcp + 2),
        seq: dv.getUint32(tcp + 4),
        len: dv.getUint16(16) - ihl - doff,
        flags: f[tcp + 13],
      });
    }
    transmit(f, gso);
  };
  // A delay spike on our receive path (the kernel's ACKs): while held, frames from the TAP
  // wait here; on release they reach the stack in their order.
  const deliver = tap.onReceive;
  assert.ok(deliver, 'the stack receives from the TAP');
  let held: Uint8Array[] | undefined;
  tap.onReceive = (f) => {
    if (held !== undefined && held.length < 100_000) held.push(f);
    else deliver(f);
  };
  const hold = (on: boolean) => {
    if (on) held ??= [];
    else if (held !== undefined) {
      const frames = held;
      held = undefined;
      for (const f of frames) deliver(f);
    }
  };
  return { h, segs: (port) => seen.filter((s) => s.port === port), hold };
}

/** A kernel receiver on `port`; `result()` resolves with the count and SHA-256 it read. */
async function kernelReceiver(h: TapStackHost, port: number) {
  const peer = h.spawn(['python3', PEER, 'recv', '--listen', h.kernelIp, '--port', String(port)]);
  const out = lines(peer, 'kernel-peer recv');
  await out.waitFor(/ready/);
  return {
    async result(): Promise<{ bytes: number; sha: string }> {
      const m = await out.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, 30_000);
      assert.equal(await exited(peer, 5000), 0);
      return { bytes: Number(m[1]), sha: m[2] };
    },
  };
}

function streamSocket(t: TestContext, h: TapStackHost): Socket {
  const s = h.stack.socket(AF_INET, SOCK_STREAM);
  t.after(() => s.close());
  s.settimeout(30);
  return s;
}

/**
 * Our connection's TCP_INFO (struct tcp_info, decoded), found by the peer's port through the
 * TCP layer (the same bytes Socket.getsockopt(IPPROTO_TCP, TCP_INFO, 1024) returns).
 */
function info(h: TapStackHost, port: number) {
  for (const c of h.stack.tcp.connections())
    if (c.remote.port === port) return decodeTcpInfo(encodeTcpInfo(c.info(), h.stack.clock.now()));
  throw new Error(`no connection to port ${port}`);
}
const SYN = 0x02;
/** The data segments (payload > 0), first-sent order, with sequence numbers relative to ISS+1. */
function dataSegs(all: Seg[]): Array<{ rel: number; len: number }> {
  const syn = all.find((s) => (s.flags & SYN) !== 0);
  assert.ok(syn, 'our SYN was captured');
  const base = (syn.seq + 1) >>> 0;
  return all.filter((s) => s.len > 0).map((s) => ({ rel: (s.seq - base) >>> 0, len: s.len }));
}
const sum = (a: Array<{ len: number }>) => a.reduce((n, s) => n + s.len, 0);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('send switches against the kernel over TAP', () => {
  it('TCP_CORK: small writes leave as full-sized segments, the partial only when the cork is pulled', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const { h, segs } = await swHost(t);
    const port = 5401;
    const rx = await kernelReceiver(h, port);
    const s = streamSocket(t, h);
    await s.connect([h.kernelIp, port]);
    s.setsockopt(IPPROTO_TCP, TCP_CORK, 1);
    const data = randomFillSync(new Uint8Array(4000));
    for (let i = 0; i < data.length; i += 100) await s.send(data.subarray(i, i + 100));
    // Wait until the kernel acknowledged what left: a Nagle-only sender would now send the
    // rest (nothing in flight); a corked one keeps the partial segment (until the probe
    // timer, >= 200 ms later: next test).
    await until(() => info(h, port).unacked === 0, 10_000, 'the kernel to acknowledge the full segments');
    const corked = dataSegs(segs(port));
    assert.ok(corked.length >= 1, 'full segments left while corked');
    const full = info(h, port).sndMss;
    assert.ok(full >= 1400, `the send MSS on a 1500-byte MTU: ${full}`);
    for (const x of corked)
      assert.equal(x.len, full, `a corked segment is full-sized: ${JSON.stringify(corked)}`);
    assert.equal(sum(corked), Math.floor(data.length / full) * full, 'every full segment left, no partial');
    s.setsockopt(IPPROTO_TCP, TCP_CORK, 0);
    await until(
      () => sum(dataSegs(segs(port))) >= data.length,
      10_000,
      'the partial segment after uncorking',
    );
    const after = dataSegs(segs(port)).slice(corked.length);
    assert.deepEqual(
      after.map((x) => x.len),
      [data.length % full],
      'pulling the cork sent the rest as one segment',
    );
    await s.close();
    const r = await rx.result();
    assert.equal(r.bytes, data.length);
    assert.equal(r.sha, sha(data), 'the kernel received the bytes exactly');
  });

  it('MSG_MORE: writes flagged MSG_MORE leave only as full segments, the last plain write sends the rest', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const { h, segs } = await swHost(t);
    const port = 5402;
    const rx = await kernelReceiver(h, port);
    const s = streamSocket(t, h);
    await s.connect([h.kernelIp, port]);
    const data = randomFillSync(new Uint8Array(4000));
    const piece = 250;
    let heldBefore = -1;
    for (let i = 0; i < data.length; i += piece) {
      const last = i + piece >= data.length;
      if (last) heldBefore = sum(dataSegs(segs(port)));
      await s.send(data.subarray(i, i + piece), last ? 0 : MSG_MORE);
    }
    await until(() => sum(dataSegs(segs(port))) >= data.length, 10_000, 'every byte sent');
    const all = dataSegs(segs(port));
    const full = info(h, port).sndMss;
    assert.ok(full >= 1400, `the send MSS on a 1500-byte MTU: ${full}`);
    // Before the last write (no MSG_MORE) only whole segments had left.
    assert.equal(heldBefore % full, 0, `only full segments before the last write: ${heldBefore} bytes`);
    assert.equal(heldBefore, Math.floor((data.length - piece) / full) * full);
    assert.deepEqual(
      all.map((x) => x.len),
      [...Array(Math.floor(data.length / full)).fill(full), data.length % full],
      'full segments, then the rest once more data was not promised',
    );
    await s.close();
    const r = await rx.result();
    assert.equal(r.bytes, data.length);
    assert.equal(r.sha, sha(data), 'the kernel received the bytes exactly');
  });

  it('TCP_CORK: a corked tail leaves, still corked, once nothing has been in flight for a probe timeout (as Linux)', async (t) => {
    // Linux, kernel to kernel on lo on this machine: the corked 854-byte tail left ~205 ms
    // after the full segments with the cork still in (the probe timer's tcp_write_wakeup,
    // TCP_RTO_MIN after packets_out reached 0), and a MSG_MORE-held tail likewise. Ours: the
    // persist timer (output.ts armPersistIfStalled) at max(RTO, minRto).
    if (skipUnless(t, ['python3'])) return;
    const { h, segs } = await swHost(t);
    const port = 5405;
    const rx = await kernelReceiver(h, port);
    const s = streamSocket(t, h);
    await s.connect([h.kernelIp, port]);
    s.setsockopt(IPPROTO_TCP, TCP_CORK, 1);
    const data = randomFillSync(new Uint8Array(4000));
    for (let i = 0; i < data.length; i += 100) await s.send(data.subarray(i, i + 100));
    await until(() => sum(dataSegs(segs(port))) >= data.length, 5000, 'the corked tail to leave');
    assert.equal(s.getsockopt(IPPROTO_TCP, TCP_CORK), 1, 'still corked');
    const all = dataSegs(segs(port));
    const full = info(h, port).sndMss;
    assert.deepEqual(
      all.map((x) => x.len),
      [...Array(Math.floor(data.length / full)).fill(full), data.length % full],
      'full segments, then the tail alone',
    );
    await s.close();
    const r = await rx.result();
    assert.equal(r.bytes, data.length);
    assert.equal(r.sha, sha(data), 'the kernel received the bytes exactly');
  });

  it('MSG_EOR: no segment spans the end of a record', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const { h, segs } = await swHost(t);
    const port = 5403;
    const rx = await kernelReceiver(h, port);
    const s = streamSocket(t, h);
    await s.connect([h.kernelIp, port]);
    // Records that a byte stream would pack across their ends (written back to back).
    const sizes = [1000, 2500, 700, 3000, 1448, 10, 5000, 1];
    const data = randomFillSync(new Uint8Array(sizes.reduce((a, b) => a + b, 0)));
    const ends: number[] = [];
    let at = 0;
    for (const n of sizes) {
      await s.sendall(data.subarray(at, at + n), MSG_EOR);
      at += n;
      ends.push(at);
    }
    await until(() => sum(dataSegs(segs(port))) >= data.length, 10_000, 'every byte sent');
    const all = dataSegs(segs(port));
    for (const x of all) {
      const inside = ends.filter((e) => e > x.rel && e < x.rel + x.len);
      assert.deepEqual(inside, [], `segment [${x.rel}, ${x.rel + x.len}) spans a record end`);
    }
    // Each record's end is some segment's end.
    const segEnds = new Set(all.map((x) => x.rel + x.len));
    for (const e of ends) assert.ok(segEnds.has(e), `a segment ends at the record end ${e}`);
    await s.close();
    const r = await rx.result();
    assert.equal(r.bytes, data.length);
    assert.equal(r.sha, sha(data), 'the kernel received the bytes exactly');
  });

  it('TCP_NOTSENT_LOWAT: the writer is held while more than the mark waits unsent', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const { h, segs } = await swHost(t);
    const port = 5404;
    const rx = await kernelReceiver(h, port);
    const s = streamSocket(t, h);
    const lowat = 8192;
    // A send buffer far above the mark: without the mark a write would queue 1 MiB unsent.
    s.setsockopt(SOL_SOCKET, SO_SNDBUF, 4 << 20);
    s.setsockopt(IPPROTO_TCP, TCP_NOTSENT_LOWAT, lowat);
    await s.connect([h.kernelIp, port]);
    const data = randomFillSync(new Uint8Array(2 << 20));
    // The write takes its bytes in pieces of the connection's MSS as the TCP layer counts it
    // (TCP_MAXSEG: the option room included, 1460 here; stack-stream.ts send).
    const mss = s.getsockopt(IPPROTO_TCP, TCP_MAXSEG) as number;
    let written = 0;
    let calls = 0;
    let maxUnsent = 0;
    for (let i = 0; written < data.length && i < 100_000; i++) {
      written += await s.send(data.subarray(written, Math.min(data.length, written + (1 << 20))));
      calls++;
      // Unsent = written by us - sent onto the wire (the highest byte the capture saw).
      const sent = dataSegs(segs(port)).reduce((m, x) => Math.max(m, x.rel + x.len), 0);
      maxUnsent = Math.max(maxUnsent, written - sent);
    }
    assert.equal(written, data.length);
    assert.ok(calls > 2, `the 1 MiB writes were taken a part at a time: ${calls} calls`);
    // A write takes a segment at a time while fewer than `lowat` bytes are unsent: at most one
    // segment beyond the mark waits after it returns.
    assert.ok(maxUnsent <= lowat + mss, `unsent after a write: ${maxUnsent} > ${lowat} + ${mss}`);
    await s.close();
    const r = await rx.result();
    assert.equal(r.bytes, data.length);
    assert.equal(r.sha, sha(data), 'the kernel received the bytes exactly');
  });
});

/** One hand-made segment from the kernel's namespace (raw socket), to our address. */
async function inject(
  h: TapStackHost,
  sport: number,
  dport: number,
  seq: number,
  flags: string,
  ts: [number, number] | undefined = undefined,
): Promise<void> {
  const tsArgs = ts === undefined ? [] : ts.map((v) => String(v >>> 0));
  const r = await h.exec([
    'python3',
    INJECT,
    h.kernelIp,
    h.stackIp,
    String(sport),
    String(dport),
    String(seq >>> 0),
    '0',
    flags,
    ...tsArgs,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sent/);
}

/** A kernel client of our listener that sends "hello" and prints what it got, once told to go. */
const CLIENT = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
print('port', s.getsockname()[1], flush=True)
sys.stdin.readline()
s.sendall(b'hello')
s.shutdown(socket.SHUT_WR)
d = b''
while True:
    k = s.recv(100)
    if not k:
        break
    d += k
print('got', d.decode(), flush=True)
`;

/** Our listener on `port`, a kernel client connected to it, and a way to finish the exchange. */
async function established(t: TestContext, h: TapStackHost, port: number) {
  const l = rawListen(h.stack, port);
  t.after(() => l.close());
  const client = h.spawn(['python3', '-c', CLIENT, h.stackIp, String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out = lines(client, 'kernel client');
  const conn = await l.next(10_000);
  t.after(() => conn.c.abort());
  const clientPort = Number((await out.waitFor(/port (\d+)/))[1]);
  assert.equal(conn.c.remote.port, clientPort);
  return {
    conn,
    clientPort,
    /** The kernel sends "hello" and ends; we answer "bye" and close: both ends see the other's bytes. */
    async finish(): Promise<void> {
      client.stdin?.write('go\n');
      const got = await conn.readAll(10_000);
      assert.equal(got.bytes, 5, 'the kernel\'s "hello" arrived');
      conn.c.write(new TextEncoder().encode('bye'));
      conn.c.close();
      await out.waitFor(/got bye/, 10_000);
      assert.equal(await exited(client, 5000), 0);
    },
  };
}

describe('drop_synfin and RFC 5961 against segments from the kernel namespace (raw socket)', () => {
  it('a SYN|FIN to our listener is dropped without a reply and counted; the listener still serves', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const { h, segs } = await swHost(t);
    const port = 5420;
    const st = h.stack.tcp.stats;
    const before = st.synFinDrops;
    const l = rawListen(h.stack, port);
    t.after(() => l.close());
    await inject(h, 40001, port, 1000, 'SF');
    await until(() => st.synFinDrops > before, 5000, 'the SYN|FIN to be dropped');
    assert.equal(st.synFinDrops - before, 1);
    assert.deepEqual(segs(40001), [], 'nothing was sent in reply');
    // The listener is unharmed: a kernel connection is accepted and its bytes arrive.
    const peer = h.spawn([
      'python3',
      PEER,
      'send',
      '--connect',
      h.stackIp,
      '--port',
      String(port),
      '--bytes',
      '65536',
    ]);
    const out = lines(peer, 'kernel-peer send');
    const conn = await l.next(10_000);
    t.after(() => conn.c.abort());
    const got = await conn.readAll(20_000);
    conn.c.close();
    const m = await out.waitFor(/RESULT (\d+) ([0-9a-f]{64})/, 20_000);
    assert.equal(got.bytes, 65536);
    assert.equal(got.sha256, m[2]);
  });

  it('with dropSynFin off (FreeBSD drop_synfin=0) the SYN|FIN is answered as a SYN', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const { h, segs } = await swHost(t, { tcp: { dropSynFin: false } });
    const port = 5421;
    const st = h.stack.tcp.stats;
    const before = st.synFinDrops;
    const l = rawListen(h.stack, port);
    t.after(() => l.close());
    await inject(h, 40002, port, 1000, 'SF');
    await until(() => segs(40002).length > 0, 5000, 'a reply to the SYN|FIN');
    const synAck = segs(40002)[0];
    assert.equal(synAck.flags & 0x12, 0x12, `a SYN-ACK: flags 0x${synAck.flags.toString(16)}`);
    assert.equal(st.synFinDrops, before, 'not counted as dropped');
  });

  it('RFC 5961 §3: a blind in-window RST draws a challenge ACK and the connection survives', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const { h, segs } = await swHost(t);
    const e = await established(t, h, 5422);
    const st = h.stack.tcp.stats;
    const before = st.challengeAcks;
    const mark = segs(e.clientPort).length;
    await inject(h, e.clientPort, 5422, e.conn.c.rcv.nxt + 1000, 'R');
    await until(() => st.challengeAcks > before, 5000, 'a challenge ACK');
    const replies = segs(e.clientPort).slice(mark);
    assert.equal(replies.length, 1, 'one reply');
    assert.equal(replies[0].flags & 0x17, 0x10, 'a bare ACK');
    assert.equal(replies[0].len, 0);
    assert.equal(e.conn.c.state, 'ESTABLISHED');
    await e.finish();
  });

  it('RFC 5961 §4: a blind in-window SYN on a connection draws a challenge ACK and the connection survives', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const { h, segs } = await swHost(t);
    const e = await established(t, h, 5423);
    const st = h.stack.tcp.stats;
    const before = st.challengeAcks;
    const mark = segs(e.clientPort).length;
    // With a timestamp at or above TS.Recent (PAWS passes; one without a timestamp: the next test).
    await inject(h, e.clientPort, 5423, e.conn.c.rcv.nxt + 1000, 'S', [e.conn.c.tsRecent + 1, 0]);
    await until(() => st.challengeAcks > before, 5000, 'a challenge ACK');
    const replies = segs(e.clientPort).slice(mark);
    assert.equal(replies.length, 1, 'one reply');
    assert.equal(replies[0].flags & 0x17, 0x10, 'a bare ACK, no RST');
    assert.equal(e.conn.c.state, 'ESTABLISHED');
    await e.finish();
  });

  // Linux processes a segment without TSopt on a timestamped connection (PAWS needs the
  // option) and challenges such a SYN: checked against this kernel, a TS-less SYN into a kernel
  // connection on lo counted TcpExtTCPSYNChallenge 1 (profile missingTimestamp).
  it('RFC 5961 §4 under the Linux profile: a blind SYN without timestamps also draws a challenge ACK', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const { h, segs } = await swHost(t);
    const e = await established(t, h, 5425);
    const st = h.stack.tcp.stats;
    const before = st.challengeAcks;
    const mark = segs(e.clientPort).length;
    await inject(h, e.clientPort, 5425, e.conn.c.rcv.nxt + 1000, 'S');
    await until(() => st.challengeAcks > before, 2000, 'a challenge ACK');
    assert.equal(segs(e.clientPort).slice(mark).length, 1, 'one reply');
    await e.finish();
  });

  it('with rfc5961Rst off (FreeBSD insecure_rst=1) the in-window RST resets the connection', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const { h } = await swHost(t, { tcp: { rfc5961Rst: false } });
    const e = await established(t, h, 5424);
    const st = h.stack.tcp.stats;
    const before = st.challengeAcks;
    await inject(h, e.clientPort, 5424, e.conn.c.rcv.nxt + 1000, 'R');
    await e.conn.waitUntil(() => e.conn.closed, 5000, 'the reset');
    assert.equal(st.challengeAcks, before, 'no challenge ACK');
    assert.match(String(e.conn.closeReason), /reset/i);
  });
});

describe('F-RTO (RFC 5682) against a kernel receiver over TAP', () => {
  it('a delay spike on the ACK path makes our RTO spurious: F-RTO detects it and undoes the reduction', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const { h, hold } = await swHost(t);
    const port = 5430;
    const rx = await kernelReceiver(h, port);
    const conn = rawConnect(h.stack, h.kernelIp, port);
    t.after(() => conn.c.abort());
    await conn.established();
    const st = h.stack.tcp.stats;
    const data = randomFillSync(new Uint8Array(4 << 20));
    const writing = conn.writeAll(data, 60_000);
    await until(() => conn.c.info().bytesAcked > 512 * 1024, 20_000, '512 KiB acknowledged');
    const t0 = { timeouts: st.timeouts, spurious: st.spuriousRtos };
    // The kernel's ACKs are held (the data still reaches it) until our RTO fires.
    hold(true);
    const before = conn.c.info();
    await until(() => st.timeouts > t0.timeouts, 10_000, 'our retransmission timeout');
    hold(false);
    // Sampled as soon as F-RTO decided: cwnd back at (or above) its value before the spike.
    await until(() => st.spuriousRtos > t0.spurious, 10_000, 'F-RTO to find the timeout spurious', 1);
    const after = conn.c.info();
    assert.equal(st.spuriousRtos - t0.spurious, 1, 'one spurious RTO');
    assert.ok(after.cwnd >= before.cwnd, `cwnd restored: ${after.cwnd} < ${before.cwnd} before the spike`);
    assert.ok(after.ssthresh >= before.ssthresh, `ssthresh restored: ${after.ssthresh} < ${before.ssthresh}`);
    const digest = await writing;
    conn.c.close();
    const r = await rx.result();
    assert.equal(r.bytes, data.length);
    assert.equal(r.sha, digest, 'the kernel received the bytes exactly');
  });
});

/** The kernel's tcp_info of its connection with local port `port`, as `ss -tin` prints it. */
async function kernelInfo(h: TapStackHost, port: number): Promise<Map<string, number>> {
  const r = await h.exec(['ss', '-tinH', 'state', 'established', `( sport = :${port} )`]);
  assert.equal(r.code, 0, r.stderr);
  const m = new Map<string, number>();
  for (const f of r.stdout.matchAll(/\b([a-z_]+):(\d+)\b/g)) m.set(f[1], Number(f[2]));
  assert.ok(m.has('segs_in'), `ss found the connection: ${r.stdout}`);
  return m;
}

describe('TCP_INFO against the kernel view of the same connection (ss -tin)', () => {
  it('bytes and segment counts agree on both ends after a transfer', async (t) => {
    if (skipUnless(t, ['python3', 'ss'])) return;
    const { h, segs } = await swHost(t);
    const port = 5440;
    const rx = await kernelReceiver(h, port);
    const s = streamSocket(t, h);
    await s.connect([h.kernelIp, port]);
    const data = randomFillSync(new Uint8Array(1 << 20));
    await s.sendall(data);
    await until(() => info(h, port).unacked === 0, 20_000, 'every byte acknowledged');
    // The connection is idle now; a kernel ACK could still be on its way, so read both ends
    // until a read of ours follows one of the kernel's with nothing in between.
    let k = await kernelInfo(h, port);
    let ours = info(h, port);
    for (let i = 0; i < 20 && ours.segsIn !== (k.get('segs_out') ?? 0) + 1; i++) {
      await new Promise((r) => setTimeout(r, 50));
      k = await kernelInfo(h, port);
      ours = info(h, port);
    }
    const kv = (name: string) => k.get(name) ?? 0; // ss leaves out counters that are 0
    assert.equal(Number(ours.bytesAcked), data.length, 'our tcpi_bytes_acked');
    assert.equal(kv('bytes_received'), data.length, "the kernel's tcpi_bytes_received");
    assert.equal(kv('bytes_acked'), Number(ours.bytesReceived), 'bytes the other way (none)');
    assert.equal(kv('segs_in'), ours.segsOut, "the kernel's segs_in = our segs_out");
    // Linux's accepted socket never counts its SYN-ACK (the request socket sent it;
    // tcp_create_openreq_child starts segs_in at 1 for the SYN, segs_out at 0); we count it
    // as received, as Linux's connecting side does.
    assert.equal(kv('segs_out') + 1, ours.segsIn, "the kernel's segs_out + its SYN-ACK = our segs_in");
    const dataSent = segs(port).filter((x) => x.len > 0).length;
    assert.equal(kv('data_segs_in'), dataSent, "the kernel's data_segs_in = the data segments we sent");
    assert.equal(kv('rcvmss'), ours.sndMss, "the kernel's rcvmss = our snd_mss");
    await s.close();
    const r = await rx.result();
    assert.equal(r.bytes, data.length);
    assert.equal(r.sha, sha(data));
  });
});
