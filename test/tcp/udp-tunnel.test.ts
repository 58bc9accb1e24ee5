/** TCP over UDP at the TCP layer (FreeBSD's tunnelling: tcp_input's t_port checks). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { B, Harness, PEER_PORT, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from './harness.ts';

const TUNNEL = 9811;
const PEER_UDP = 4000;

/** A listener on port 80 that took a SYN tunnelled from PEER_UDP, and the handshake's end. */
function tunnelled() {
  const h = new Harness({ config: { udpTunnelingPort: TUNNEL } });
  const l = h.layer.listen({ port: 80, backlog: 4 });
  h.inject(
    { srcPort: PEER_PORT, dstPort: 80, seq: 1000, flags: TCP_SYN, options: { mss: 1460 } },
    undefined,
    B,
    PEER_UDP,
  );
  const synAck = h.take()[0]!;
  return { h, l, synAck };
}

describe('TCP over UDP (TcpConfig.udpTunnelingPort)', () => {
  it('a tunnelled SYN makes a tunnelled connection: replies go back to its UDP port, the MSS shrinks by the overhead', () => {
    const { h, l, synAck } = tunnelled();
    assert.deepEqual(synAck.udp, { srcPort: TUNNEL, dstPort: PEER_UDP });
    assert.equal(synAck.repr.options.mss, 1460 - 8);
    h.inject(
      { srcPort: PEER_PORT, dstPort: 80, seq: 1001, ack: synAck.repr.seq + 1, flags: TCP_ACK },
      undefined,
      B,
      PEER_UDP,
    );
    const c = l.accept()!;
    assert.equal(c.state, 'ESTABLISHED');
    assert.equal(c.mss, 1460 - 8);
    c.write(new Uint8Array(100));
    const d = h.take();
    assert.equal(d.length, 1);
    assert.deepEqual(d[0]!.udp, { srcPort: TUNNEL, dstPort: PEER_UDP });
  });

  it('a segment from another UDP port, or plain, is answered with a reset the way it came, as in CLOSED', () => {
    const { h, l, synAck } = tunnelled();
    const iss = synAck.repr.seq;
    h.inject(
      { srcPort: PEER_PORT, dstPort: 80, seq: 1001, ack: iss + 1, flags: TCP_ACK },
      undefined,
      B,
      PEER_UDP,
    );
    const c = l.accept()!;
    // Another UDP port, with ACK: <SEQ=SEG.ACK><CTL=RST> to that port.
    h.inject(
      { srcPort: PEER_PORT, dstPort: 80, seq: 1001, ack: iss + 1, flags: TCP_FIN | TCP_ACK },
      undefined,
      B,
      1,
    );
    let r = h.take();
    assert.equal(r.length, 1);
    assert.equal(r[0]!.repr.flags, TCP_RST);
    assert.equal(r[0]!.repr.seq, iss + 1);
    assert.deepEqual(r[0]!.udp, { srcPort: TUNNEL, dstPort: 1 });
    // Plain TCP, without ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, not tunnelled.
    h.inject({ srcPort: PEER_PORT, dstPort: 80, seq: 1001, flags: TCP_SYN });
    r = h.take();
    assert.equal(r.length, 1);
    assert.equal(r[0]!.repr.flags, TCP_RST | TCP_ACK);
    assert.equal(r[0]!.repr.seq, 0);
    assert.equal(r[0]!.repr.ack, 1002);
    assert.equal(r[0]!.udp, undefined);
    // Neither touched the connection.
    assert.equal(c.state, 'ESTABLISHED');
    assert.equal(h.layer.stats.tunnelPortMismatch, 2);
  });

  it('a tunnelled segment for no connection gets its reset through the tunnel', () => {
    const h = new Harness({ config: { udpTunnelingPort: TUNNEL } });
    h.inject({ srcPort: PEER_PORT, dstPort: 81, seq: 5, ack: 77, flags: TCP_ACK }, undefined, B, PEER_UDP);
    const r = h.take();
    assert.equal(r.length, 1);
    assert.equal(r[0]!.repr.seq, 77);
    assert.deepEqual(r[0]!.udp, { srcPort: TUNNEL, dstPort: PEER_UDP });
  });

  it('connect() with udpEncapsPort needs tunnelling on', () => {
    const h = new Harness();
    assert.throws(() => h.layer.connect({ remote: B, remotePort: 80, options: { udpEncapsPort: TUNNEL } }), {
      code: 'EINVAL',
    });
    const t = new Harness({ config: { udpTunnelingPort: TUNNEL } });
    t.layer.connect({ remote: B, remotePort: 80, options: { udpEncapsPort: 5555 } });
    const syn = t.take()[0]!;
    assert.deepEqual(syn.udp, { srcPort: TUNNEL, dstPort: 5555 });
    assert.equal(syn.repr.options.mss, 1460 - 8);
  });
});
