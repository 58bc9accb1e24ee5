/**
 * An independent judge of the checksums on a simulated wire: its own RFC 1071 one's-complement
 * code (a plain byte loop, nothing from src/wire), its own header walking and fragment
 * reassembly. Wrap a device with `VerifyingDevice` and every frame the stack hands it is checked
 * as it is handed over (what a capture at the device records) and again when the far end
 * receives it (the bytes must not have changed in flight: a buffer reused while the link still
 * held the frame shows here). `KernelOffloadDevice` plays a vnet TAP's kernel side on a memory
 * cable: the stack sees checksum and segmentation offload, and the frames it sends are completed
 * and segmented here as Linux's skb_checksum_help and tcp_gso_segment would, then verified on
 * the wire below.
 */
import type { LinkType, SimDevice } from '../../src/link/device.ts';
import { PassThroughDevice } from '../../src/link/passthrough.ts';
import { setPartialChecksum, setTcpGso, type VirtioNetHdr } from '../../src/wire/virtio-net.ts';

/** The one's-complement sum of big-endian 16-bit words of b[start, end), added to `acc` (RFC 1071). */
export function onesSum(b: Uint8Array, start: number, end: number, acc = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += b[i] * 256 + b[i + 1];
  if (i < end) acc += b[i] * 256;
  return acc;
}

/** Folds a sum to 16 bits, end-around carry (RFC 1071 §4.1). */
export function fold16(acc: number): number {
  for (let n = 0; acc > 0xffff && n < 8; n++) acc = (acc % 65536) + Math.floor(acc / 65536);
  return acc;
}

const u16 = (b: Uint8Array, at: number) => b[at] * 256 + b[at + 1];

/** What the verifier saw, by kind. */
export interface WireCounts {
  frames: number;
  tcp: number;
  udp: number;
  icmp: number;
  icmp6: number;
  /** IPv4 and IPv6 fragments (their datagram verified once reassembled). */
  fragments: number;
  /** Datagrams put together from fragments and verified. */
  reassembled: number;
  /** Transport checksums left out for an offloading device (not checked). */
  leftOut: number;
  /** Frames re-checked when the far end received them. */
  rechecked: number;
  /** TCP segments with RST, with FIN, advertising a zero window; super-segments handed over. */
  rst: number;
  fin: number;
  zeroWindow: number;
  superSegments: number;
  /** ICMP and ICMPv6 error messages (destination unreachable, too big, time exceeded, ...). */
  icmpErrors: number;
  /** Datagrams a router passed on with the bad checksum they arrived with (a router does not check). */
  forwardedCorrupt: number;
}

/** A datagram's identity across a router: addresses, protocol, and every transport byte. */
function fingerprint(src: Uint8Array, dst: Uint8Array, proto: number, seg: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const part of [src, dst, seg])
    for (let i = 0; i < part.length; i++) h = Math.imul(h ^ part[i], 0x01000193) >>> 0;
  return `${proto}/${seg.length}/${h.toString(16)}`;
}

interface Pending {
  parts: Map<number, Uint8Array>;
  total: number;
  /** Pseudo-header inputs. */
  src: Uint8Array;
  dst: Uint8Array;
  proto: number;
}

/**
 * Checks frames; collects what is wrong in `errors` (never throws on bad input: a frame it
 * cannot walk is an error too).
 */
export class WireVerifier {
  readonly errors: string[] = [];
  readonly counts: WireCounts = {
    frames: 0,
    tcp: 0,
    udp: 0,
    icmp: 0,
    icmp6: 0,
    fragments: 0,
    reassembled: 0,
    leftOut: 0,
    rechecked: 0,
    rst: 0,
    fin: 0,
    zeroWindow: 0,
    superSegments: 0,
    icmpErrors: 0,
    forwardedCorrupt: 0,
  };
  /** Fragments waiting for the rest of their datagram, by source, destination, id, protocol. */
  readonly #frags = new Map<string, Pending>();
  /** Ids of fragmented datagrams already verified (a duplicated fragment must not start another). */
  readonly #done = new Set<string>();

  /**
   * `label` starts each error. `corrupt`: fingerprints of datagrams that arrived with a bad
   * transport checksum, shared by the verifiers of one network. A verifier with `ingress`
   * set checks received frames and only adds to it; the others excuse a bad checksum whose
   * datagram is in it (a router forwarding what the wire corrupted).
   */
  readonly label: string;
  readonly corrupt: Set<string>;
  readonly ingress: boolean;

  constructor(label = '', corrupt = new Set<string>(), ingress = false) {
    this.label = label;
    this.corrupt = corrupt;
    this.ingress = ingress;
  }

  #fail(where: string, frame: Uint8Array, why: string): void {
    if (this.ingress || this.errors.length >= 20) return;
    const hex = Array.from(frame.subarray(0, Math.min(frame.length, 80)), (x) =>
      x.toString(16).padStart(2, '0'),
    );
    this.errors.push(`${this.label} ${where}: ${why} (${frame.length} bytes: ${hex.join('')})`);
  }

  /**
   * Checks one frame. `leftOut`: the device offloads checksums, so a transport checksum may be
   * missing (only IPv4 header checksums are checked then). `record`: reassembly state is kept
   * (false for a re-check of a frame already seen).
   */
  check(frame: Uint8Array, linkType: LinkType, where: string, leftOut = false, record = true): boolean {
    const before = this.errors.length;
    if (record) this.counts.frames++;
    let at = 0;
    let version: number;
    if (linkType === 'ethernet') {
      if (frame.length < 14) {
        this.#fail(where, frame, 'runt Ethernet frame');
        return false;
      }
      let type = u16(frame, 12);
      at = 14;
      if (type === 0x8100) {
        type = u16(frame, 16);
        at = 18;
      }
      if (type === 0x0806) return true; // ARP: no checksum
      if (type === 0x0800) version = 4;
      else if (type === 0x86dd) version = 6;
      else {
        this.#fail(where, frame, `EtherType 0x${type.toString(16)}`);
        return false;
      }
    } else version = frame[0] >> 4;
    if (version === 4) this.#ipv4(frame, at, where, leftOut, record);
    else if (version === 6) this.#ipv6(frame, at, where, leftOut, record);
    else this.#fail(where, frame, `IP version ${version}`);
    return this.errors.length === before;
  }

  #ipv4(f: Uint8Array, at: number, where: string, leftOut: boolean, record: boolean): void {
    if (f.length < at + 20) {
      this.#fail(where, f, 'truncated IPv4 header');
      return;
    }
    const ihl = (f[at] & 15) * 4;
    const total = u16(f, at + 2);
    if (ihl < 20 || total < ihl || at + total > f.length) {
      this.#fail(where, f, `IPv4 header length ${ihl}, total length ${total}`);
      return;
    }
    if (fold16(onesSum(f, at, at + ihl)) !== 0xffff) {
      this.#fail(where, f, 'IPv4 header checksum');
      return;
    }
    const proto = f[at + 9];
    const fragWord = u16(f, at + 6);
    const more = (fragWord & 0x2000) !== 0;
    const offset = (fragWord & 0x1fff) * 8;
    const src = f.subarray(at + 12, at + 16);
    const dst = f.subarray(at + 16, at + 20);
    const payload = f.subarray(at + ihl, at + total);
    if (more || offset > 0) {
      if (!record) return;
      const key = `4 ${src.join('.')} ${dst.join('.')} ${u16(f, at + 4)} ${proto}`;
      this.#fragment(key, payload, offset, more, src, dst, proto, where, f);
      return;
    }
    this.#transport(payload, src, dst, proto, where, f, leftOut, record);
  }

  #ipv6(f: Uint8Array, at: number, where: string, leftOut: boolean, record: boolean): void {
    if (f.length < at + 40) {
      this.#fail(where, f, 'truncated IPv6 header');
      return;
    }
    const plen = u16(f, at + 4);
    if (at + 40 + plen > f.length) {
      this.#fail(where, f, `IPv6 payload length ${plen}`);
      return;
    }
    const src = f.subarray(at + 8, at + 24);
    const dst = f.subarray(at + 24, at + 40);
    const end = at + 40 + plen;
    let next = f[at + 6];
    let p = at + 40;
    // Extension headers (RFC 8200 §4): hop-by-hop, routing, destination options, fragment.
    for (let n = 0; n < 8; n++) {
      if (next === 0 || next === 43 || next === 60) {
        if (p + 8 > end) {
          this.#fail(where, f, 'truncated extension header');
          return;
        }
        next = f[p];
        p += (f[p + 1] + 1) * 8;
        continue;
      }
      if (next === 44) {
        if (p + 8 > end) {
          this.#fail(where, f, 'truncated fragment header');
          return;
        }
        const w = u16(f, p + 2);
        const id = ((f[p + 4] << 24) | (f[p + 5] << 16) | (f[p + 6] << 8) | f[p + 7]) >>> 0;
        const proto = f[p];
        if (!record) return;
        const key = `6 ${src.join('.')} ${dst.join('.')} ${id}`;
        this.#fragment(key, f.subarray(p + 8, end), w & 0xfff8, (w & 1) !== 0, src, dst, proto, where, f);
        return;
      }
      break;
    }
    if (p > end) {
      this.#fail(where, f, 'extension headers overrun the payload');
      return;
    }
    this.#transport(f.subarray(p, end), src, dst, next, where, f, leftOut, record);
  }

  #fragment(
    key: string,
    data: Uint8Array,
    offset: number,
    more: boolean,
    src: Uint8Array,
    dst: Uint8Array,
    proto: number,
    where: string,
    f: Uint8Array,
  ): void {
    this.counts.fragments++;
    if (this.#done.has(key)) return;
    let p = this.#frags.get(key);
    if (p === undefined) {
      p = { parts: new Map(), total: -1, src: src.slice(), dst: dst.slice(), proto };
      this.#frags.set(key, p);
    }
    p.parts.set(offset, data.slice());
    if (!more) p.total = offset + data.length;
    if (p.total < 0) return;
    // Complete when the pieces cover [0, total) back to back.
    let have = 0;
    for (let i = 0; i < 8192 && have < p.total; i++) {
      const part = p.parts.get(have);
      if (part === undefined) return;
      have += part.length;
    }
    if (have !== p.total) {
      this.#fail(where, f, `fragments of ${key} overlap or overrun`);
      return;
    }
    const whole = new Uint8Array(p.total);
    for (const [o, part] of p.parts) if (o + part.length <= p.total) whole.set(part, o);
    this.#frags.delete(key);
    this.#done.add(key);
    this.counts.reassembled++;
    // A fragmented datagram always carries its checksum (no device can fill it in).
    this.#transport(whole, p.src, p.dst, p.proto, `${where} (reassembled ${key})`, f, false, true);
  }

  #transport(
    seg: Uint8Array,
    src: Uint8Array,
    dst: Uint8Array,
    proto: number,
    where: string,
    f: Uint8Array,
    leftOut: boolean,
    record: boolean,
  ): void {
    const c = this.counts;
    // A bad segment: at ingress remembered (the wire corrupted it); elsewhere an error, unless
    // a router is passing on what arrived so (IPv6 has no header checksum: a flipped length
    // bit leaves a datagram a router forwards as it is).
    const bad = (why: string) => {
      const fp = fingerprint(src, dst, proto, seg);
      if (this.ingress) this.corrupt.add(fp);
      else if (this.corrupt.has(fp)) c.forwardedCorrupt++;
      else this.#fail(where, f, why);
    };
    const pseudo = () => {
      const s = onesSum(src, 0, src.length) + onesSum(dst, 0, dst.length);
      // The upper-layer length: 16 bits in IPv4's pseudo-header, 32 in IPv6's (same sum here).
      return s + proto + Math.floor(seg.length / 65536) + (seg.length % 65536);
    };
    let field: number;
    let withPseudo = true;
    if (proto === 6) {
      if (record) c.tcp++;
      if (seg.length < 20) {
        bad('truncated TCP header');
        return;
      }
      field = 16;
      if (record) {
        if (seg[13] & 4) c.rst++;
        if (seg[13] & 1) c.fin++;
        if (u16(seg, 14) === 0 && !(seg[13] & 4)) c.zeroWindow++;
      }
    } else if (proto === 17) {
      if (record) c.udp++;
      if (seg.length < 8) {
        bad('truncated UDP header');
        return;
      }
      if (u16(seg, 4) !== seg.length) {
        bad(`UDP length ${u16(seg, 4)} of ${seg.length}`);
        return;
      }
      field = 6;
      // RFC 768: zero means "no checksum" in IPv4; RFC 8200 §8.1 forbids it in IPv6.
      if (u16(seg, 6) === 0 && src.length === 4) return;
    } else if (proto === 1 || proto === 2) {
      if (record) c.icmp++;
      if (record && proto === 1 && seg[0] !== 0 && seg[0] !== 8) c.icmpErrors++;
      field = 2;
      withPseudo = false;
    } else if (proto === 58) {
      if (record) c.icmp6++;
      if (record && seg[0] < 128) c.icmpErrors++;
      field = 2;
    } else return; // no checksum we know of (e.g. 59, no next header)
    if (leftOut && withPseudo) {
      if (record) c.leftOut++;
      return;
    }
    const s = fold16(onesSum(seg, 0, seg.length, withPseudo ? pseudo() : 0));
    if (s !== 0xffff)
      bad(`protocol ${proto} checksum 0x${u16(seg, field).toString(16)} is wrong (sum 0x${s.toString(16)})`);
  }
}

/**
 * Checks every frame a stack sends through `inner` as it is handed over, and again (same
 * object, same bytes) when the far end receives it. Checksums must be complete unless the
 * inner device offloads them; a super-segment may only go to a device that takes them.
 */
export class VerifyingDevice extends PassThroughDevice<SimDevice> {
  /** Frames handed over, with their bytes then, until the far end's verifier sees them. */
  readonly sent = new WeakMap<Uint8Array, Uint8Array>();
  /** The verifier of the device at the other end of the link (set with `link`). */
  peer: VerifyingDevice | null = null;
  /** Received frames, for what the wire corrupted (see WireVerifier's `corrupt`). */
  readonly #ingress: WireVerifier;

  readonly verifier: WireVerifier;

  constructor(inner: SimDevice, verifier: WireVerifier) {
    super(inner);
    this.verifier = verifier;
    this.#ingress = new WireVerifier(verifier.label, verifier.corrupt, true);
  }

  protected override receive(frame: Uint8Array): void {
    const inner = this.inner;
    if (inner.rxChecksumValid !== true) this.#ingress.check(frame, inner.linkType, `${inner.name} rx`);
    const p = this.peer;
    const copy = p?.sent.get(frame);
    if (p !== null && copy !== undefined) {
      p.sent.delete(frame);
      this.verifier.counts.rechecked++;
      if (!sameBytes(copy, frame))
        this.verifier.errors.push(
          `${this.verifier.label} ${p.name}->${this.name}: frame bytes changed between transmit and delivery`,
        );
    }
    super.receive(frame);
  }

  /** Pairs two wrapped ends of one cable, so each re-checks what the other sent. */
  static link(x: VerifyingDevice, y: VerifyingDevice): void {
    x.peer = y;
    y.peer = x;
  }

  override transmit(frame: Uint8Array, gsoSize?: number): void {
    const offload = this.inner.txChecksumOffload === true;
    if (gsoSize !== undefined && !(this.gsoMaxSize > 0))
      this.verifier.errors.push(`${this.verifier.label} ${this.name}: super-segment to a device without GSO`);
    if (gsoSize !== undefined && frame.length > this.gsoMaxSize + 18)
      this.verifier.errors.push(
        `${this.verifier.label} ${this.name}: super-segment of ${frame.length} bytes`,
      );
    if (gsoSize !== undefined) this.verifier.counts.superSegments++;
    this.verifier.check(frame, this.linkType, `${this.name} tx`, offload || gsoSize !== undefined);
    this.sent.set(frame, frame.slice());
    super.transmit(frame, gsoSize);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One's-complement difference folded: x - y in 16-bit one's-complement arithmetic. */
function onesSub(x: number, y: number): number {
  return fold16(x + (~y & 0xffff));
}

/**
 * A vnet TAP's kernel side on a memory link: the stack sees checksum offload and TSO (as on
 * `tap --offload`), the frame gets its virtio_net_hdr from src/wire/virtio-net.ts exactly as
 * the TAP writes it, and the "kernel" here does what Linux does with it (tun's
 * virtio_net_hdr_to_skb, then tcp_gso_segment per gso_size and skb_checksum_help) before the
 * wire segments go to `inner`, a device that needs complete checksums.
 */
export class KernelOffloadDevice extends PassThroughDevice<SimDevice> {
  readonly #hdr: VirtioNetHdr = {
    flags: 0,
    gsoType: 0,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: 0,
    csumOffset: 0,
    numBuffers: 0,
  };
  /** Frames completed from a partial checksum, and TCP segments cut from super-segments. */
  completed = 0;
  segmented = 0;

  readonly verifier: WireVerifier;

  constructor(inner: SimDevice, verifier: WireVerifier) {
    super(inner);
    this.verifier = verifier;
  }
  override get txChecksumOffload(): boolean {
    return true;
  }
  override get rxChecksumValid(): boolean {
    return false;
  }
  override get gsoMaxSize(): number {
    return 65535;
  }

  override transmit(frame: Uint8Array, gsoSize?: number): void {
    const h = this.#hdr;
    if (!setPartialChecksum(frame, this.linkType, h, gsoSize !== undefined)) {
      // Not TCP/UDP, a fragment, or a checksum already there: it goes as it is.
      this.inner.transmit(frame);
      return;
    }
    if (gsoSize !== undefined && !setTcpGso(frame, this.linkType, h, gsoSize)) {
      this.verifier.errors.push(`${this.verifier.label} ${this.name}: a super-segment setTcpGso refused`);
      return;
    }
    if (gsoSize === undefined || h.gsoSize === 0) {
      this.#complete(frame, h.csumStart, h.csumOffset);
      this.inner.transmit(frame);
      return;
    }
    for (const seg of this.#segment(frame, h.csumStart, h.hdrLen, h.gsoSize)) {
      this.#complete(seg, h.csumStart, h.csumOffset);
      this.inner.transmit(seg);
    }
  }

  /** skb_checksum_help: sum from csum_start to the end (the field holds the pseudo sum), store ~fold. */
  #complete(f: Uint8Array, start: number, offset: number): void {
    const s = fold16(onesSum(f, start, f.length));
    let c = ~s & 0xffff;
    // UDP: a computed zero goes out as 0xffff (RFC 768); TCP sends it as it is.
    if (offset === 6 && c === 0) c = 0xffff;
    f[start + offset] = c >> 8;
    f[start + offset + 1] = c & 0xff;
    this.completed++;
  }

  /**
   * tcp_gso_segment / inet_gso_segment: each segment gets the headers, its own sequence
   * number, IP length (and IPv4 id + 1 each, header checksum), FIN and PSH only on the
   * last, CWR only on the first, and its partial checksum adjusted for its own length.
   */
  #segment(f: Uint8Array, tcpAt: number, hdrLen: number, mss: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const ipAt = this.linkType === 'ethernet' ? (u16(f, 12) === 0x8100 ? 18 : 14) : 0;
    const v4 = f[ipAt] >> 4 === 4;
    const data = f.length - hdrLen;
    const oldTcpLen = f.length - tcpAt;
    const seq0 = ((f[tcpAt + 4] << 24) | (f[tcpAt + 5] << 16) | (f[tcpAt + 6] << 8) | f[tcpAt + 7]) >>> 0;
    const flags = f[tcpAt + 13];
    const partial = u16(f, tcpAt + 16);
    for (let o = 0, i = 0; o < data && i < 65536; o += mss, i++) {
      const n = Math.min(mss, data - o);
      const last = o + n >= data;
      const s = new Uint8Array(hdrLen + n);
      s.set(f.subarray(0, hdrLen));
      s.set(f.subarray(hdrLen + o, hdrLen + o + n), hdrLen);
      const seq = (seq0 + o) >>> 0;
      s[tcpAt + 4] = seq >>> 24;
      s[tcpAt + 5] = (seq >>> 16) & 255;
      s[tcpAt + 6] = (seq >>> 8) & 255;
      s[tcpAt + 7] = seq & 255;
      let fl = flags;
      if (!last) fl &= ~0x09; // FIN, PSH
      if (i > 0) fl &= ~0x80; // CWR
      s[tcpAt + 13] = fl;
      const tcpLen = s.length - tcpAt;
      const p = onesSub(fold16(partial + tcpLen), oldTcpLen);
      s[tcpAt + 16] = p >> 8;
      s[tcpAt + 17] = p & 255;
      if (v4) {
        const total = s.length - ipAt;
        s[ipAt + 2] = total >> 8;
        s[ipAt + 3] = total & 255;
        const id = (u16(f, ipAt + 4) + i) & 0xffff;
        s[ipAt + 4] = id >> 8;
        s[ipAt + 5] = id & 255;
        s[ipAt + 10] = 0;
        s[ipAt + 11] = 0;
        const ihl = (s[ipAt] & 15) * 4;
        const c = ~fold16(onesSum(s, ipAt, ipAt + ihl)) & 0xffff;
        s[ipAt + 10] = c >> 8;
        s[ipAt + 11] = c & 255;
      } else {
        const plen = s.length - ipAt - 40;
        s[ipAt + 4] = plen >> 8;
        s[ipAt + 5] = plen & 255;
      }
      out.push(s);
      this.segmented++;
    }
    return out;
  }
}
