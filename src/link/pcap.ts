import type { Clock } from '../time/clock.ts';
import type { Instant } from '../time/instant.ts';
import { completeFrameChecksum } from '../wire/offload.ts';
import type { Device, LinkType, SimDevice } from './device.ts';
import { PassThroughDevice } from './passthrough.ts';

/**
 * Packet capture in the formats Wireshark/tshark/tcpdump read:
 * - classic pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.html):
 *   little-endian, microsecond timestamps, one link type per file;
 * - pcapng (RFC draft-ietf-opsawg-pcapng): SHB, one IDB per interface (with
 *   if_name), EPBs (with epb_flags direction); several link types in one file.
 *
 * Writers are pure: they hand Uint8Array chunks to a sink callback; src/node/pcap-file.ts
 * streams them to a file. Timestamps are Instants (µs) plus an optional offset
 * (`epoch`, µs) so a simulation starting at 0 can be shown at a real date.
 */
export type PcapSink = (chunk: Uint8Array) => void;

/** LINKTYPE_ETHERNET = 1, LINKTYPE_RAW = 101 (bare IPv4/IPv6). */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;

export function linkTypeNumber(t: LinkType): number {
  return t === 'ethernet' ? LINKTYPE_ETHERNET : LINKTYPE_RAW;
}

export type Direction = 'in' | 'out';

/** Anything captureDevice can record into. */
export interface CaptureWriter {
  /**
   * Records one packet seen at `time` on interface `iface` (pcapng; ignored by
   * classic pcap). The bytes are copied before this returns.
   */
  writePacket(time: Instant, data: Uint8Array, iface?: number, direction?: Direction): void;
  /**
   * Returns the interface index to use for a device (pcapng adds an IDB; classic
   * pcap checks the link type matches and returns 0).
   */
  interfaceFor(name: string, linkType: LinkType): number;
}

export interface PcapWriterOptions {
  /** Default 'ethernet'. A number is written as-is. */
  linkType?: LinkType | number;
  /** Default 262144. Longer packets are truncated (orig_len keeps the real length). */
  snaplen?: number;
  /** Added to every timestamp, in µs since the Unix epoch. Default 0. */
  epoch?: number;
}

/** Classic pcap, little-endian, microsecond resolution. Writes the global header at construction. */
export class PcapWriter implements CaptureWriter {
  readonly linkType: number;
  readonly snaplen: number;
  readonly #sink: PcapSink;
  readonly #epoch: number;
  packets = 0;

  constructor(sink: PcapSink, options: PcapWriterOptions = {}) {
    this.#sink = sink;
    const lt = options.linkType ?? 'ethernet';
    this.linkType = typeof lt === 'number' ? lt : linkTypeNumber(lt);
    this.snaplen = options.snaplen ?? 262144;
    this.#epoch = options.epoch ?? 0;
    const h = new Uint8Array(24);
    const v = new DataView(h.buffer);
    v.setUint32(0, 0xa1b2c3d4, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true); // thiszone
    v.setUint32(12, 0, true); // sigfigs
    v.setUint32(16, this.snaplen, true);
    v.setUint32(20, this.linkType, true);
    sink(h);
  }

  interfaceFor(name: string, linkType: LinkType): number {
    if (linkTypeNumber(linkType) !== this.linkType)
      throw new Error(
        `pcap: device ${name} is ${linkType}, file is linktype ${this.linkType}; use PcapngWriter`,
      );
    return 0;
  }

  writePacket(time: Instant, data: Uint8Array): void {
    const t = time + this.#epoch;
    const sec = Math.floor(t / 1e6);
    const usec = t - sec * 1e6;
    const cap = Math.min(data.length, this.snaplen);
    const rec = new Uint8Array(16 + cap);
    const v = new DataView(rec.buffer);
    v.setUint32(0, sec, true);
    v.setUint32(4, usec, true);
    v.setUint32(8, cap, true);
    v.setUint32(12, data.length, true);
    rec.set(cap === data.length ? data : data.subarray(0, cap), 16);
    this.packets++;
    this.#sink(rec);
  }
}

export interface PcapngWriterOptions {
  /** Default 262144. */
  snaplen?: number;
  /** Added to every timestamp, in µs since the Unix epoch. Default 0. */
  epoch?: number;
  /** shb_userappl option; default 'sockstack'. */
  application?: string;
}

const enc = new TextEncoder();

function optionsBytes(opts: { code: number; value: Uint8Array }[]): Uint8Array {
  if (opts.length === 0) return new Uint8Array(0);
  let len = 4; // opt_endofopt
  for (const o of opts) len += 4 + pad4(o.value.length);
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  let p = 0;
  for (const o of opts) {
    v.setUint16(p, o.code, true);
    v.setUint16(p + 2, o.value.length, true);
    out.set(o.value, p + 4);
    p += 4 + pad4(o.value.length);
  }
  return out; // trailing 4 zero bytes = opt_endofopt
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function block(type: number, body: Uint8Array): Uint8Array {
  const total = 12 + body.length;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, total, true);
  out.set(body, 8);
  v.setUint32(total - 4, total, true);
  return out;
}

/** pcapng, little-endian, µs timestamps (the default if_tsresol). Writes the SHB at construction. */
export class PcapngWriter implements CaptureWriter {
  readonly #sink: PcapSink;
  readonly #epoch: number;
  readonly snaplen: number;
  readonly interfaces: { name: string; linkType: number }[] = [];
  packets = 0;

  constructor(sink: PcapSink, options: PcapngWriterOptions = {}) {
    this.#sink = sink;
    this.#epoch = options.epoch ?? 0;
    this.snaplen = options.snaplen ?? 262144;
    const app = enc.encode(options.application ?? 'sockstack');
    const opts = optionsBytes([{ code: 4, value: app }]); // shb_userappl
    const body = new Uint8Array(16 + opts.length);
    const v = new DataView(body.buffer);
    v.setUint32(0, 0x1a2b3c4d, true); // byte-order magic
    v.setUint16(4, 1, true);
    v.setUint16(6, 0, true);
    v.setUint32(8, 0xffffffff, true); // section length -1 (unknown)
    v.setUint32(12, 0xffffffff, true);
    body.set(opts, 16);
    sink(block(0x0a0d0d0a, body));
  }

  /** Adds an interface (IDB) and returns its index. */
  addInterface(name: string, linkType: LinkType | number): number {
    const lt = typeof linkType === 'number' ? linkType : linkTypeNumber(linkType);
    const opts = optionsBytes([
      { code: 2, value: enc.encode(name) }, // if_name
      { code: 9, value: new Uint8Array([6]) }, // if_tsresol: 10^-6
    ]);
    const body = new Uint8Array(8 + opts.length);
    const v = new DataView(body.buffer);
    v.setUint16(0, lt, true);
    v.setUint16(2, 0, true);
    v.setUint32(4, this.snaplen, true);
    body.set(opts, 8);
    this.#sink(block(1, body));
    this.interfaces.push({ name, linkType: lt });
    return this.interfaces.length - 1;
  }

  interfaceFor(name: string, linkType: LinkType): number {
    const lt = linkTypeNumber(linkType);
    const i = this.interfaces.findIndex((x) => x.name === name && x.linkType === lt);
    return i >= 0 ? i : this.addInterface(name, linkType);
  }

  writePacket(time: Instant, data: Uint8Array, iface = 0, direction?: Direction): void {
    if (iface >= this.interfaces.length)
      throw new RangeError(`pcapng: no interface ${iface}; call addInterface`);
    const t = time + this.#epoch;
    const hi = Math.floor(t / 4294967296);
    const lo = t - hi * 4294967296;
    const cap = Math.min(data.length, this.snaplen);
    const optLen = direction === undefined ? 0 : 12; // epb_flags (8) + endofopt (4)
    const total = 12 + 20 + pad4(cap) + optLen;
    const out = new Uint8Array(total);
    const v = new DataView(out.buffer);
    v.setUint32(0, 6, true);
    v.setUint32(4, total, true);
    v.setUint32(8, iface, true);
    v.setUint32(12, hi, true);
    v.setUint32(16, lo, true);
    v.setUint32(20, cap, true);
    v.setUint32(24, data.length, true);
    out.set(cap === data.length ? data : data.subarray(0, cap), 28);
    if (direction !== undefined) {
      const p = 28 + pad4(cap);
      v.setUint16(p, 2, true); // epb_flags
      v.setUint16(p + 2, 4, true);
      v.setUint32(p + 4, direction === 'in' ? 1 : 2, true); // bits 0-1: 01 inbound, 10 outbound
    }
    v.setUint32(total - 4, total, true);
    this.packets++;
    this.#sink(out);
  }
}

export interface PcapRecord {
  /** Timestamp in µs (including any epoch offset written into the file). */
  time: Instant;
  data: Uint8Array;
  /** Original length on the wire (>= data.length when truncated). */
  origLen: number;
  /** Interface index (always 0 for classic pcap). */
  iface: number;
  direction?: Direction;
}

export interface PcapFile {
  format: 'pcap' | 'pcapng';
  /** Link type of the first interface. */
  linkType: number;
  interfaces: { linkType: number; name?: string }[];
  records: PcapRecord[];
}

/**
 * Reads a classic pcap (either byte order, µs or ns) or pcapng (first section's
 * byte order, if_tsresol honoured) file. Throws an Error on malformed input.
 */
export function readPcap(bytes: Uint8Array): PcapFile {
  if (bytes.length < 4) throw new Error('pcap: file too short');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) === 0x0a0d0d0a) return readPcapng(bytes, v);
  const m = v.getUint32(0, true);
  let le: boolean;
  let nano: boolean;
  if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) {
    le = true;
    nano = m === 0xa1b23c4d;
  } else {
    const mb = v.getUint32(0, false);
    if (mb !== 0xa1b2c3d4 && mb !== 0xa1b23c4d) throw new Error('pcap: bad magic');
    le = false;
    nano = mb === 0xa1b23c4d;
  }
  if (bytes.length < 24) throw new Error('pcap: truncated header');
  const linkType = v.getUint32(20, le) & 0x0fffffff;
  const records: PcapRecord[] = [];
  let p = 24;
  while (p < bytes.length) {
    if (p + 16 > bytes.length) throw new Error(`pcap: truncated record header at ${p}`);
    const sec = v.getUint32(p, le);
    const frac = v.getUint32(p + 4, le);
    const cap = v.getUint32(p + 8, le);
    const orig = v.getUint32(p + 12, le);
    if (p + 16 + cap > bytes.length) throw new Error(`pcap: truncated record at ${p}`);
    records.push({
      time: sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac),
      data: bytes.slice(p + 16, p + 16 + cap),
      origLen: orig,
      iface: 0,
    });
    p += 16 + cap;
  }
  return { format: 'pcap', linkType, interfaces: [{ linkType }], records };
}

function readPcapng(bytes: Uint8Array, v: DataView): PcapFile {
  const dec = new TextDecoder();
  let le = true;
  const interfaces: { linkType: number; name?: string; tsDiv: number; tsMul: number }[] = [];
  const records: PcapRecord[] = [];
  let p = 0;
  while (p < bytes.length) {
    if (p + 12 > bytes.length) throw new Error(`pcapng: truncated block at ${p}`);
    let type = v.getUint32(p, le);
    if (v.getUint32(p, true) === 0x0a0d0d0a) {
      type = 0x0a0d0d0a;
      const bom = v.getUint32(p + 8, true);
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else throw new Error('pcapng: bad byte-order magic');
      interfaces.length = 0;
    }
    const total = v.getUint32(p + 4, le);
    if (total < 12 || total % 4 !== 0 || p + total > bytes.length)
      throw new Error(`pcapng: bad block length ${total} at ${p}`);
    if (v.getUint32(p + total - 4, le) !== total) throw new Error(`pcapng: trailing length mismatch at ${p}`);
    const body = p + 8;
    const end = p + total - 4;
    if (type === 1) {
      const lt = v.getUint16(body, le);
      const iface: { linkType: number; name?: string; tsDiv: number; tsMul: number } = {
        linkType: lt,
        tsDiv: 1,
        tsMul: 1,
      };
      forEachOption(v, body + 8, end, le, (code, off, len) => {
        if (code === 2) iface.name = dec.decode(bytes.subarray(off, off + len));
        if (code === 9 && len >= 1) {
          const r = bytes[off];
          const units = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r; // ticks per second
          if (units >= 1e6) iface.tsDiv = units / 1e6;
          else iface.tsMul = 1e6 / units;
        }
      });
      interfaces.push(iface);
    } else if (type === 6) {
      const id = v.getUint32(body, le);
      const iface = interfaces[id];
      if (iface === undefined) throw new Error(`pcapng: EPB for unknown interface ${id}`);
      const ticks = v.getUint32(body + 4, le) * 4294967296 + v.getUint32(body + 8, le);
      const cap = v.getUint32(body + 12, le);
      const orig = v.getUint32(body + 16, le);
      const dataStart = body + 20;
      if (dataStart + cap > end) throw new Error(`pcapng: EPB data overruns block at ${p}`);
      const rec: PcapRecord = {
        time: Math.floor((ticks * iface.tsMul) / iface.tsDiv),
        data: bytes.slice(dataStart, dataStart + cap),
        origLen: orig,
        iface: id,
      };
      forEachOption(v, dataStart + pad4(cap), end, le, (code, off, len) => {
        if (code === 2 && len === 4) {
          const d = v.getUint32(off, le) & 3;
          if (d === 1) rec.direction = 'in';
          else if (d === 2) rec.direction = 'out';
        }
      });
      records.push(rec);
    } else if (type === 3) {
      // Simple Packet Block: interface 0, no timestamp.
      const orig = v.getUint32(body, le);
      const cap = Math.min(orig, end - body - 4);
      records.push({ time: 0, data: bytes.slice(body + 4, body + 4 + cap), origLen: orig, iface: 0 });
    }
    p += total;
  }
  return {
    format: 'pcapng',
    linkType: interfaces[0]?.linkType ?? 0,
    interfaces: interfaces.map((i) =>
      i.name === undefined ? { linkType: i.linkType } : { linkType: i.linkType, name: i.name },
    ),
    records,
  };
}

function forEachOption(
  v: DataView,
  p: number,
  end: number,
  le: boolean,
  fn: (code: number, off: number, len: number) => void,
): void {
  while (p + 4 <= end) {
    const code = v.getUint16(p, le);
    const len = v.getUint16(p + 2, le);
    if (code === 0) return;
    if (p + 4 + len > end) return;
    fn(code, p + 4, len);
    p += 4 + pad4(len);
  }
}

/**
 * A Device wrapper that records every frame transmitted and received by the
 * inner device, with the clock's timestamp, then forwards it. Use the returned
 * device in place of the inner one (the wrapper takes over the inner's onReceive).
 * If the inner device is a SimDevice, so is the wrapper (poll/nextDeadline forward).
 */
export class CaptureDevice extends PassThroughDevice {
  readonly #writer: CaptureWriter;
  readonly #clock: Clock;
  readonly #iface: number;

  constructor(inner: Device, writer: CaptureWriter, clock: Clock, ifaceIndex?: number) {
    super(inner);
    this.#writer = writer;
    this.#clock = clock;
    this.#iface = ifaceIndex ?? writer.interfaceFor(inner.name, inner.linkType);
  }
  protected override receive(frame: Uint8Array): void {
    this.#writer.writePacket(
      this.#clock.now(),
      this.#asOnWire(frame, this.inner.rxChecksumValid),
      this.#iface,
      'in',
    );
    super.receive(frame);
  }
  /**
   * A super-segment (`gsoSize`) is recorded as the device takes it, one large frame with its
   * checksum filled in, as tcpdump on a Linux interface with TSO shows it; the segments a
   * wire would carry are cut below the capture point.
   */
  override transmit(frame: Uint8Array, gsoSize?: number): void {
    // Record before handing over: after transmit the frame belongs to the inner device.
    this.#writer.writePacket(
      this.#clock.now(),
      this.#asOnWire(frame, this.inner.txChecksumOffload),
      this.#iface,
      'out',
    );
    super.transmit(frame, gsoSize);
  }
  /**
   * The frame as a wire would carry it: on a link with checksum offload the transport
   * checksum may be left out, so the trace gets a copy with it filled in (as a capture on a
   * NIC's wire side shows it).
   */
  #asOnWire(frame: Uint8Array, offloaded: boolean | undefined): Uint8Array {
    if (offloaded !== true) return frame;
    const copy = frame.slice();
    completeFrameChecksum(copy, this.inner.linkType);
    return copy;
  }
}

/** See CaptureDevice. `ifaceIndex` defaults to an interface named after the device. */
export function captureDevice(
  device: SimDevice,
  writer: CaptureWriter,
  clock: Clock,
  ifaceIndex?: number,
): SimDevice;
export function captureDevice(
  device: Device,
  writer: CaptureWriter,
  clock: Clock,
  ifaceIndex?: number,
): Device;
export function captureDevice(
  device: Device,
  writer: CaptureWriter,
  clock: Clock,
  ifaceIndex?: number,
): Device {
  return new CaptureDevice(device, writer, clock, ifaceIndex);
}
