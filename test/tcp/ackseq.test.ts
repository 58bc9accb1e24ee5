/** The sequence number of segments without text after a go-back-N retransmission. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { B, established, expectSeg, PEER_PORT, Pipe, TCP_ACK, TCP_RST } from './harness.ts';

describe('ACK / RST sequence numbers', () => {
  it('after an RTO pulls snd.nxt back, ACKs and RSTs carry the highest sequence sent', () => {
    const e = established();
    e.c.write(new Uint8Array(3 * 1460));
    assert.equal(e.h.take().length, 3);
    e.h.advance(300); // RTO: the first segment again, snd.nxt = snd.una + 1460
    expectSeg(e.h.one(), { seq: e.iss + 1, len: 1460 });
    assert.equal(e.c.snd.nxt, (e.iss + 1 + 1460) >>> 0);
    // An old segment from the peer is answered with <SEQ=SND.MAX><ACK=RCV.NXT>: the peer
    // may hold everything we sent and must not find this ACK below its RCV.NXT.
    e.h.inject({ srcPort: PEER_PORT, dstPort: e.port, seq: e.peerSeq - 100, ack: e.iss + 1, flags: TCP_ACK });
    expectSeg(e.h.one(), { flags: TCP_ACK, seq: e.iss + 1 + 3 * 1460, ack: e.peerSeq });
    e.c.abort();
    expectSeg(e.h.one(), { flags: TCP_RST | TCP_ACK, seq: e.iss + 1 + 3 * 1460 });
  });

  it('both sides timing out at once still finish (no ACK war)', () => {
    // Both directions busy, every ACK lost for a while so both retransmission timers fire.
    const p = new Pipe(3, { delay: 5 }, [
      { sack: false, timestamps: false },
      { sack: false, timestamps: false },
    ]);
    const l = p.layers[1].listen({ port: 80, backlog: 1 });
    const a = p.layers[0].connect({ remote: B, remotePort: 80 });
    assert.ok(p.run(() => a.state === 'ESTABLISHED', 1000));
    let b = l.accept();
    assert.ok(p.run(() => (b ??= l.accept()) !== undefined, 1000));
    const srv = b as NonNullable<typeof b>;
    const n = 20_000;
    let dropping = true;
    p.filter = (_from, r, payload) => !(dropping && payload.length === 0 && r.flags === TCP_ACK);
    a.write(new Uint8Array(n));
    srv.write(new Uint8Array(n));
    p.runFor(50);
    // Data crossed but every pure ACK was lost... and data segments carry ACKs too, so cut
    // everything until both have timed out once.
    p.filter = () => false;
    p.runFor(1500);
    assert.ok(a.stats.timeouts > 0 && srv.stats.timeouts > 0);
    dropping = false;
    p.filter = undefined;
    let ga = 0;
    let gb = 0;
    const done = p.run(() => {
      ga += a.read()?.length ?? 0;
      gb += srv.read()?.length ?? 0;
      return ga === n && gb === n && a.unackedLength === 0 && srv.unackedLength === 0;
    }, 120_000);
    assert.ok(done, `a got ${ga}, b got ${gb}; a ${a.state}, b ${srv.state}`);
  });
});
