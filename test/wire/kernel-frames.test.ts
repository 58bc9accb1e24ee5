// Real Linux frames captured by scripts/capture-fixtures.sh: every frame parses
// through the codec stack with checksums verified and re-emits to identical bytes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ipv4 } from '../../src/wire/address.ts';
import { emitArp, parseArp } from '../../src/wire/arp.ts';
import { pseudoHeaderSumV4 } from '../../src/wire/checksum.ts';
import { isWireError, type WireError } from '../../src/wire/error.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, emitEthernet, parseEthernet } from '../../src/wire/ethernet.ts';
import { emitIcmpv4, icmpv4Length, parseIcmpv4, parseIcmpv4Invoking } from '../../src/wire/icmpv4.ts';
import {
  emitIpv4,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  type Ipv4Repr,
  parseIpv4Packet,
} from '../../src/wire/ipv4.ts';
import { emitTcp, parseTcp, TCP_ACK, TCP_FIN, TCP_SYN } from '../../src/wire/tcp.ts';
import { emitUdp, parseUdp, UdpView } from '../../src/wire/udp.ts';

interface Frame {
  readonly description: string;
  readonly hex: string;
}
const doc = JSON.parse(
  readFileSync(new URL('../fixtures/wire/kernel-frames.json', import.meta.url), 'utf8'),
) as { frames: Frame[] };
const frames = doc.frames.map((f) => ({ ...f, bytes: Uint8Array.from(Buffer.from(f.hex, 'hex')) }));

function ok<T>(x: T | WireError, what: string): T {
  if (isWireError(x)) assert.fail(`${what}: ${x.wireError} ${x.detail}`);
  return x as T;
}

const A = ipv4(10, 250, 0, 1);
const B = ipv4(10, 250, 0, 2);

/** Parses one frame fully and re-emits it into a fresh buffer; returns the re-emitted bytes. */
function roundTrip(bytes: Uint8Array, description: string): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const eth = ok(parseEthernet(bytes), `${description} ethernet`);
  let at = emitEthernet(eth.repr, out);
  if (eth.repr.ethertype === ETHERTYPE_ARP) {
    const arp = ok(parseArp(eth.payload), `${description} arp`);
    at += emitArp(arp.repr, out.subarray(at));
    out.set(arp.payload, at); // link padding, if any
    return out;
  }
  assert.equal(eth.repr.ethertype, ETHERTYPE_IPV4);
  const ip = ok(parseIpv4Packet(eth.payload), `${description} ipv4`);
  at += emitIpv4(ip.repr, out.subarray(at));
  const ps = pseudoHeaderSumV4(ip.repr.src, ip.repr.dst, ip.repr.protocol, ip.payload.length);
  const rest = out.subarray(at);
  const fragment = ip.repr.moreFragments || ip.repr.fragmentOffset !== 0;
  if (fragment) {
    rest.set(ip.payload); // transport checksum covers the reassembled datagram; checked below
  } else if (ip.repr.protocol === IP_PROTO_ICMP) {
    const icmp = ok(parseIcmpv4(ip.payload), `${description} icmp`);
    emitIcmpv4(icmp.repr, rest);
  } else if (ip.repr.protocol === IP_PROTO_UDP) {
    const udp = ok(parseUdp(ip.payload, ps), `${description} udp`);
    assert.notEqual(new UdpView(ip.payload).checksum, 0, 'the kernel sends UDP checksums');
    emitUdp(udp.repr, udp.payload, rest, ps);
  } else if (ip.repr.protocol === IP_PROTO_TCP) {
    const tcp = ok(parseTcp(ip.payload, ps), `${description} tcp`);
    emitTcp(tcp.repr, tcp.payload, rest, ps);
  } else {
    assert.fail(`${description}: unexpected protocol ${ip.repr.protocol}`);
  }
  return out;
}

describe('kernel frames', () => {
  it('the fixture covers every scenario', () => {
    const d = frames.map((f) => f.description).join('\n');
    for (const want of [
      'ARP request',
      'ARP reply',
      'echo request',
      'fragment offset 2960',
      'UDP',
      'code 3',
      '[S]',
      '[SA]',
      '[FA]',
    ]) {
      assert.ok(d.includes(want), want);
    }
  });

  for (const f of frames) {
    it(`${f.description}: parses with checksums verified and re-emits identically`, () => {
      assert.deepEqual(roundTrip(f.bytes, f.description), f.bytes);
    });
  }

  it('every truncated prefix of every frame is a WireError at some layer, never a throw', () => {
    for (const f of frames) {
      for (let n = 0; n < f.bytes.length; n++) {
        const cut = f.bytes.subarray(0, n);
        const eth = parseEthernet(cut);
        if (isWireError(eth)) continue;
        const inner =
          eth.repr.ethertype === ETHERTYPE_ARP ? parseArp(eth.payload) : parseIpv4Packet(eth.payload);
        assert.ok(isWireError(inner), `${f.description} cut at ${n} parsed`);
      }
    }
  });

  it('the fragmented echo reassembles into a valid ICMP message', () => {
    for (const dir of [
      { src: A, dst: B, kind: 'echoRequest' },
      { src: B, dst: A, kind: 'echoReply' },
    ]) {
      const frags = frames
        .map((f) => parseIpv4Packet(ok(parseEthernet(f.bytes), 'eth').payload))
        .filter((p): p is { repr: Ipv4Repr; payload: Uint8Array } => !isWireError(p))
        .filter((p) => p.repr.src === dir.src && p.repr.dst === dir.dst)
        .filter((p) => p.repr.moreFragments || p.repr.fragmentOffset !== 0);
      assert.equal(frags.length, 3);
      assert.deepEqual(
        frags.map((p) => p.repr.fragmentOffset),
        [0, 1480, 2960],
      );
      assert.ok(frags.every((p) => p.repr.identification === frags[0].repr.identification));
      const last = frags[2];
      const whole = new Uint8Array(last.repr.fragmentOffset + last.payload.length);
      for (const p of frags) whole.set(p.payload, p.repr.fragmentOffset);
      const icmp = ok(parseIcmpv4(whole), 'reassembled icmp');
      assert.equal(icmp.repr.kind, dir.kind);
      if (icmp.repr.kind === 'echoRequest' || icmp.repr.kind === 'echoReply')
        assert.equal(icmp.repr.data.length, 3000);
      const again = new Uint8Array(icmpv4Length(icmp.repr));
      emitIcmpv4(icmp.repr, again);
      assert.deepEqual(again, whole);
      // A corrupted byte fails the checksum.
      whole[100] ^= 1;
      assert.equal((parseIcmpv4(whole) as WireError).wireError, 'checksum');
    }
  });

  it('the port unreachable quotes the UDP datagram, and the quote yields its ports', () => {
    const f = frames.find((x) => x.description.includes('destination unreachable'))!;
    const ip = ok(parseIpv4Packet(ok(parseEthernet(f.bytes), 'eth').payload), 'ip');
    const icmp = ok(parseIcmpv4(ip.payload), 'icmp');
    assert.equal(icmp.repr.kind, 'destUnreachable');
    if (icmp.repr.kind !== 'destUnreachable') return;
    assert.equal(icmp.repr.code, 3);
    const q = ok(parseIcmpv4Invoking(icmp.repr.invoking), 'invoking');
    assert.equal(q.src, A);
    assert.equal(q.dst, B);
    assert.equal(q.protocol, IP_PROTO_UDP);
    assert.equal(q.srcPort, 40002);
    assert.equal(q.dstPort, 9);
  });

  it('the TCP handshake carries the Linux SYN options and the data arrives', () => {
    const segs = frames
      .filter((f) => f.description.startsWith('TCP'))
      .map((f) => {
        const ip = ok(parseIpv4Packet(ok(parseEthernet(f.bytes), 'eth').payload), 'ip');
        return ok(parseTcp(ip.payload), 'tcp');
      });
    const syn = segs[0];
    assert.equal(syn.repr.flags, TCP_SYN);
    assert.equal(syn.repr.options.mss, 1460);
    assert.equal(syn.repr.options.sackPermitted, true);
    assert.ok(syn.repr.options.timestamps);
    assert.equal(typeof syn.repr.options.windowScale, 'number');
    assert.equal(segs[1].repr.flags, TCP_SYN | TCP_ACK);
    assert.equal(segs[1].repr.ack, (syn.repr.seq + 1) >>> 0);
    const data = segs.find((s) => s.payload.length === 18)!;
    assert.equal(new TextDecoder().decode(data.payload), 'GET / HTTP/1.0\r\n\r\n');
    assert.ok(segs.some((s) => s.repr.flags === (TCP_FIN | TCP_ACK)));
  });

  it('a flipped bit anywhere in a TCP/UDP segment fails its checksum', () => {
    for (const f of frames.filter((x) => /^(TCP|UDP)/.test(x.description))) {
      const bytes = f.bytes.slice();
      const ip = ok(parseIpv4Packet(ok(parseEthernet(bytes), 'eth').payload), 'ip');
      const ps = pseudoHeaderSumV4(ip.repr.src, ip.repr.dst, ip.repr.protocol, ip.payload.length);
      ip.payload[ip.payload.length - 1] ^= 0x10;
      const r = ip.repr.protocol === IP_PROTO_TCP ? parseTcp(ip.payload, ps) : parseUdp(ip.payload, ps);
      assert.ok(isWireError(r) && r.wireError === 'checksum', f.description);
    }
  });
});
