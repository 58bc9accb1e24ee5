/**
 * TCP Fast Open (RFC 7413), client and server, as Linux runs it: hand-made segments at
 * virtual times against one layer, and two layers over a memory pipe.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/rand/rng.ts';
import type { TcpConnection } from '../../src/tcp/connection.ts';
import {
  FastOpen,
  TFO_CLIENT_ENABLE,
  TFO_CLIENT_NO_COOKIE,
  TFO_SERVER_COOKIE_NOT_REQD,
  TFO_SERVER_ENABLE,
} from '../../src/tcp/fastopen.ts';
import { type IpAddress, ipv4 } from '../../src/wire/address.ts';
import { emitTcpOptions, parseTcpOptions, type TcpOptions, tcpOptionsLength } from '../../src/wire/tcp.ts';
import { A, B, Harness, Pipe, type Sent, TCP_ACK, TCP_PSH, TCP_SYN } from './harness.ts';

const KEY = Uint8Array.from([
  0xa1, 0xa1, 0xa1, 0xa1, 0xb2, 0xb2, 0xb2, 0xb2, 0xc3, 0xc3, 0xc3, 0xc3, 0xd4, 0xd4, 0xd4, 0xd4,
]);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array | undefined): string =>
  b?.length ? [...b].map((x) => x.toString(16).padStart(2, '0')).join('') : '-';

describe('Fast Open option codec', () => {
  it('emits a cookie request and a cookie after the other SYN options, padded with NOPs (Linux layout)', () => {
    const o: TcpOptions = {
      mss: 1460,
      sackPermitted: true,
      timestamps: { tsVal: 1, tsEcr: 0 },
      windowScale: 7,
      fastOpen: { cookie: new Uint8Array(0) },
    };
    assert.equal(tcpOptionsLength(o), 24);
    const out = new Uint8Array(24);
    assert.equal(emitTcpOptions(o, out, 0), 24);
    assert.deepEqual([...out.subarray(20)], [34, 2, 1, 1]);
    assert.deepEqual(parseTcpOptions(out).fastOpen?.cookie.length, 0);
    const c: TcpOptions = { mss: 1460, fastOpen: { cookie: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) } };
    const b = new Uint8Array(tcpOptionsLength(c));
    emitTcpOptions(c, b, 0);
    assert.deepEqual([...b.subarray(4)], [34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1]);
    assert.equal(hex(parseTcpOptions(b).fastOpen?.cookie), '0102030405060708');
  });
  it('reads the experimental form (kind 254, ExID 0xF989) and writes it back', () => {
    const c: TcpOptions = { fastOpen: { cookie: Uint8Array.from([9, 9, 9, 9]), experimental: true } };
    const b = new Uint8Array(tcpOptionsLength(c));
    emitTcpOptions(c, b, 0);
    assert.deepEqual([...b], [254, 8, 0xf9, 0x89, 9, 9, 9, 9]);
    assert.deepEqual(parseTcpOptions(b).fastOpen, c.fastOpen);
  });
  it('ignores odd lengths and cookies outside 4..16 bytes (tcp_parse_fastopen_option)', () => {
    for (const len of [3, 4, 5, 19, 20]) {
      const b = new Uint8Array(((len + 3) & ~3) + 4).fill(1);
      b[0] = 34;
      b[1] = len;
      assert.equal(parseTcpOptions(b).fastOpen, undefined, `length ${len}`);
    }
  });
});

describe('Fast Open cookies', () => {
  const client: IpAddress = { family: 4, v4: ipv4(192, 0, 2, 1) };
  const server: IpAddress = { family: 4, v4: ipv4(192, 168, 0, 1) };
  it('are SipHash of the client and server addresses under the key: stable, per client, per key', () => {
    const fo = new FastOpen(new SeededRng(1), KEY);
    const c1 = fo.cookie(client, server);
    assert.equal(c1.length, 8);
    assert.deepEqual(fo.cookie(client, server), c1);
    assert.ok(fo.valid(c1, client, server));
    assert.ok(!fo.valid(c1, { family: 4, v4: ipv4(192, 0, 2, 2) }, server));
    const other = new FastOpen(
      new SeededRng(1),
      KEY.map((x) => x ^ 1),
    );
    assert.ok(!other.valid(c1, client, server));
    assert.ok(!fo.valid(c1.subarray(0, 4), client, server));
  });
});

/** Options of a segment as the tests compare them. */
function foOf(s: Sent): string {
  const fo = s.repr.options.fastOpen;
  return fo ? `FO${fo.experimental ? 'EXP' : ''} ${hex(fo.cookie)}` : 'none';
}

function serverHarness(
  fastOpen: number,
  qlen = 8,
): { h: Harness; l: ReturnType<Harness['layer']['listen']> } {
  const h = new Harness({ config: { fastOpen, fastOpenKey: KEY } });
  const l = h.layer.listen({ port: 80, backlog: 8, options: { fastOpenQlen: qlen } });
  return { h, l };
}

describe('Fast Open server (hand-made SYNs)', () => {
  const cookie = new FastOpen(new SeededRng(9), KEY).cookie(B, A);
  it('answers a cookie request with the cookie for the client address', () => {
    const { h, l } = serverHarness(TFO_SERVER_ENABLE);
    h.inject({
      dstPort: 80,
      seq: 1000,
      flags: TCP_SYN,
      options: { mss: 1460, fastOpen: { cookie: new Uint8Array(0) } },
    });
    const synAck = h.one();
    assert.equal(synAck.repr.flags, TCP_SYN | TCP_ACK);
    assert.equal(synAck.repr.ack, 1001);
    assert.equal(foOf(synAck), `FO ${hex(cookie)}`);
    assert.equal(l.acceptQueueLength, 0);
    assert.equal(h.layer.stats.fastOpenCookieReqd, 1);
  });
  it('takes the data of a SYN with a valid cookie: accept() at once, the SYN-ACK acknowledges it', () => {
    const { h, l } = serverHarness(TFO_SERVER_ENABLE);
    h.inject(
      { dstPort: 80, seq: 1000, flags: TCP_SYN, options: { mss: 1460, fastOpen: { cookie } } },
      text('hello'),
    );
    const synAck = h.one();
    assert.equal(synAck.repr.ack, 1006, 'the SYN-ACK acknowledges SYN and data');
    assert.equal(foOf(synAck), 'none');
    assert.equal(l.acceptQueueLength, 1);
    const c = l.accept()!;
    assert.equal(c.state, 'SYN-RECEIVED');
    assert.equal(new TextDecoder().decode(c.read()!), 'hello');
    // RFC 7413 §4.2.2: the server may answer before the handshake completes.
    c.write(text('world'));
    const data = h.one();
    assert.equal(data.repr.flags, TCP_ACK | TCP_PSH);
    assert.equal(data.repr.seq, (synAck.repr.seq + 1) >>> 0);
    assert.equal(data.payload.length, 5);
    // The client's ACK of SYN-ACK and data completes the handshake and frees the buffer.
    h.inject({ dstPort: 80, seq: 1006, ack: synAck.repr.seq + 6, flags: TCP_ACK });
    assert.equal(c.state, 'ESTABLISHED');
    assert.equal(c.unackedLength, 0);
    assert.equal(l.acceptQueueLength, 0, 'not queued twice');
    assert.equal(h.layer.stats.fastOpenPassive, 1);
  });
  it('ignores the data of a SYN with a bad cookie and sends the valid one (RFC 7413 §4.2.2)', () => {
    const { h, l } = serverHarness(TFO_SERVER_ENABLE);
    const bad = cookie.map((x) => x ^ 0xff);
    h.inject(
      { dstPort: 80, seq: 1000, flags: TCP_SYN, options: { mss: 1460, fastOpen: { cookie: bad } } },
      text('hello'),
    );
    const synAck = h.one();
    assert.equal(synAck.repr.ack, 1001, 'only the SYN is acknowledged');
    assert.equal(foOf(synAck), `FO ${hex(cookie)}`);
    assert.equal(l.acceptQueueLength, 0);
    assert.equal(h.layer.stats.fastOpenPassiveFail, 1);
  });
  it('takes data without a cookie under TFO_SERVER_COOKIE_NOT_REQD (0x200)', () => {
    const { h, l } = serverHarness(TFO_SERVER_ENABLE | TFO_SERVER_COOKIE_NOT_REQD);
    h.inject({ dstPort: 80, seq: 1000, flags: TCP_SYN, options: { mss: 1460 } }, text('abc'));
    assert.equal(h.one().repr.ack, 1004);
    assert.equal(l.acceptQueueLength, 1);
  });
  it('does nothing without the server bit or without TCP_FASTOPEN on the listener', () => {
    for (const [bits, qlen] of [
      [TFO_CLIENT_ENABLE, 8],
      [TFO_SERVER_ENABLE, 0],
    ] as const) {
      const { h, l } = serverHarness(bits, qlen);
      h.inject(
        { dstPort: 80, seq: 1000, flags: TCP_SYN, options: { mss: 1460, fastOpen: { cookie } } },
        text('x'),
      );
      const synAck = h.one();
      assert.equal(synAck.repr.ack, 1001);
      assert.equal(foOf(synAck), 'none');
      assert.equal(l.acceptQueueLength, 0);
    }
  });
  it('bounds pending Fast Open connections by the TCP_FASTOPEN queue length (RFC 7413 §5.1)', () => {
    const { h, l } = serverHarness(TFO_SERVER_ENABLE, 2);
    for (let i = 0; i < 3; i++)
      h.inject(
        {
          srcPort: 4000 + i,
          dstPort: 80,
          seq: 1000,
          flags: TCP_SYN,
          options: { mss: 1460, fastOpen: { cookie } },
        },
        text('x'),
      );
    const acks = h.take().map((s) => s.repr.ack);
    assert.deepEqual(acks, [1002, 1002, 1001], 'the third SYN falls back to a regular handshake');
    assert.equal(l.acceptQueueLength, 2);
    assert.equal(h.layer.stats.fastOpenListenOverflow, 1);
  });
});

describe('Fast Open client (hand-made SYN-ACKs)', () => {
  const cookie = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  it('asks for a cookie, caches it, then sends data in the SYN with it', () => {
    const h = new Harness({ config: { fastOpen: TFO_CLIENT_ENABLE } });
    const c = h.layer.connect({ remote: B, remotePort: 80, fastOpen: { data: text('hello') } });
    const syn = h.one();
    assert.equal(foOf(syn), 'FO -', 'a cookie request');
    assert.equal(syn.payload.length, 0, 'no data without a cookie');
    assert.equal(c.tfoSynData, 0);
    h.inject({
      srcPort: 80,
      dstPort: c.local.port,
      seq: 5000,
      ack: syn.repr.seq + 1,
      flags: TCP_SYN | TCP_ACK,
      options: { mss: 1400, fastOpen: { cookie } },
    });
    assert.equal(c.state, 'ESTABLISHED');
    assert.equal(hex(h.layer.fastOpen.cached(B)?.cookie?.cookie), hex(cookie));
    assert.equal(h.layer.fastOpen.cached(B)?.mss, 1400);
    h.take();
    const c2 = h.layer.connect({ remote: B, remotePort: 80, fastOpen: { data: text('hello') } });
    const syn2 = h.one();
    assert.equal(syn2.repr.flags, TCP_SYN);
    assert.equal(foOf(syn2), `FO ${hex(cookie)}`);
    assert.equal(new TextDecoder().decode(syn2.payload), 'hello');
    assert.equal(c2.tfoSynData, 5);
    // The SYN-ACK acknowledges the data: nothing to resend.
    h.inject({
      srcPort: 80,
      dstPort: c2.local.port,
      seq: 7000,
      ack: syn2.repr.seq + 6,
      flags: TCP_SYN | TCP_ACK,
      options: { mss: 1400 },
    });
    const ack = h.one();
    assert.equal(ack.repr.flags, TCP_ACK);
    assert.equal(ack.payload.length, 0);
    assert.equal(c2.unackedLength, 0);
    assert.ok(c2.tfoSynDataAcked);
    assert.equal(h.layer.stats.fastOpenActive, 1);
  });
  it('resends the data at once, with the ACK, when the SYN-ACK acknowledges only the SYN', () => {
    const h = new Harness({ config: { fastOpen: TFO_CLIENT_ENABLE | TFO_CLIENT_NO_COOKIE } });
    const c = h.layer.connect({ remote: B, remotePort: 80, fastOpen: { data: text('hello') } });
    const syn = h.one();
    assert.equal(foOf(syn), 'none', 'TFO_CLIENT_NO_COOKIE: data without the option');
    assert.equal(syn.payload.length, 5);
    h.inject({
      srcPort: 80,
      dstPort: c.local.port,
      seq: 5000,
      ack: syn.repr.seq + 1,
      flags: TCP_SYN | TCP_ACK,
      options: { mss: 1460 },
    });
    const [d, ...rest] = h.take();
    assert.equal(rest.length, 0);
    assert.equal(d!.repr.flags, TCP_ACK | TCP_PSH);
    assert.equal(d!.repr.seq, (syn.repr.seq + 1) >>> 0);
    assert.equal(d!.repr.ack, 5001);
    assert.equal(new TextDecoder().decode(d!.payload), 'hello');
    assert.equal(h.layer.stats.fastOpenActiveFail, 1);
  });
  it('retransmits a plain SYN (no data, no option) on timeout; the data follows the handshake', () => {
    const h = new Harness({ config: { fastOpen: TFO_CLIENT_ENABLE | TFO_CLIENT_NO_COOKIE } });
    const c = h.layer.connect({ remote: B, remotePort: 80, fastOpen: { data: text('hello') } });
    const syn = h.one();
    h.advance(1000);
    const rsyn = h.one();
    assert.equal(rsyn.repr.flags, TCP_SYN);
    assert.equal(rsyn.payload.length, 0);
    assert.equal(foOf(rsyn), 'none');
    h.inject({
      srcPort: 80,
      dstPort: c.local.port,
      seq: 5000,
      ack: syn.repr.seq + 1,
      flags: TCP_SYN | TCP_ACK,
      options: { mss: 1460 },
    });
    const d = h.one();
    assert.equal(d.payload.length, 5);
    assert.equal(d.repr.seq, (syn.repr.seq + 1) >>> 0);
  });
  it('TCP_FASTOPEN_CONNECT with a cached cookie holds the SYN for the first write', () => {
    const h = new Harness({ config: { fastOpen: TFO_CLIENT_ENABLE } });
    h.layer.fastOpen.remember(B, 1460, { cookie }, 0);
    const c = h.layer.connect({ remote: B, remotePort: 80, fastOpen: { defer: true } });
    h.none();
    assert.equal(c.state, 'SYN-SENT');
    assert.equal(c.write(text('GET /')), 5);
    const syn = h.one();
    assert.equal(syn.repr.flags, TCP_SYN);
    assert.equal(new TextDecoder().decode(syn.payload), 'GET /');
    assert.equal(foOf(syn), `FO ${hex(cookie)}`);
  });
  it('after an unanswered cookie request, asks with the experimental option next time (Linux try_exp)', () => {
    const h = new Harness({ config: { fastOpen: TFO_CLIENT_ENABLE } });
    const c = h.layer.connect({ remote: B, remotePort: 80, fastOpen: {} });
    const syn = h.one();
    h.inject({
      srcPort: 80,
      dstPort: c.local.port,
      seq: 5000,
      ack: syn.repr.seq + 1,
      flags: TCP_SYN | TCP_ACK,
      options: { mss: 1460 },
    });
    h.take();
    h.layer.connect({ remote: B, remotePort: 80, fastOpen: {} });
    assert.equal(foOf(h.one()), 'FOEXP -');
  });
  it('MSG_FASTOPEN / TCP_FASTOPEN_CONNECT need the client bit (EOPNOTSUPP)', () => {
    const h = new Harness({ config: { fastOpen: 0 } });
    assert.throws(() => h.layer.connect({ remote: B, remotePort: 80, fastOpen: {} }), { code: 'EOPNOTSUPP' });
  });
});

describe('Fast Open end to end (two layers, 10 ms each way)', () => {
  function exchange(
    p: Pipe,
    fastOpen: boolean,
    port: number,
  ): { conn: TcpConnection; start: number; answeredAt: number } {
    const [cl, sv] = p.layers;
    const l = sv.listen({ port, backlog: 8, options: { fastOpenQlen: 8 } });
    let server: TcpConnection | undefined;
    l.onAcceptable = () => {
      server = l.accept();
    };
    const start = p.clock.now();
    const conn = cl.connect({
      remote: B,
      remotePort: port,
      ...(fastOpen ? { fastOpen: { data: text('ping') } } : {}),
    });
    // What did not ride on the SYN (all of it without a cookie) is written once connected,
    // as a blocking sendto(MSG_FASTOPEN) does.
    if (conn.tfoSynData < 4) {
      p.run(() => conn.state === 'ESTABLISHED', 5000);
      conn.write(text('ping').subarray(conn.tfoSynData));
    }
    // The server answers as soon as it has the request.
    let answered = false;
    p.run(() => {
      if (server && !answered && server.readableLength === 4) {
        server.read();
        server.write(text('pong'));
        answered = true;
      }
      return conn.readableLength === 4;
    }, 5000);
    const answeredAt = p.clock.now();
    l.close();
    return { conn, start, answeredAt };
  }
  it('a repeat connection with a cookie gets its answer one round trip sooner', () => {
    const p = new Pipe(3, { delay: 10 }, [{ fastOpen: 1 }, { fastOpen: 3, fastOpenKey: KEY }]);
    const plain = exchange(p, false, 80);
    const plainTime = plain.answeredAt - plain.start;
    const first = exchange(p, true, 81); // asks for the cookie
    const firstTime = first.answeredAt - first.start;
    const second = exchange(p, true, 82); // uses it
    const secondTime = second.answeredAt - second.start;
    assert.equal(new TextDecoder().decode(second.conn.read()!), 'pong');
    assert.equal(firstTime, plainTime, 'without a cookie: a regular handshake first');
    assert.equal(plainTime - secondTime, 20_000, 'one RTT (2 x 10 ms) saved');
    assert.ok(second.conn.tfoSynDataAcked);
    assert.equal(p.layers[1].stats.fastOpenPassive, 1);
  });
});
