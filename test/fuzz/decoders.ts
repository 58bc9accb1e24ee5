/**
 * Fuzz targets over the wire decoders (src/wire) and the packetdrill parser
 * (src/conformance/parser.ts), shared by the coverage-guided run (Jazzer.js, scripts/fuzz.ts
 * --jazzer) and the property tests of test/fuzz/decoders.test.ts (fast-check).
 *
 * Each target throws only when it finds a bug: a decoder that throws on bytes (it must return
 * a WireError), returns a payload that is not inside its input, or parses bytes that do not
 * parse the same way after being emitted again; a script parser that fails with anything but
 * its syntax error (ScriptSyntaxError, with line:column).
 */
import { ScriptSyntaxError } from '../../src/conformance/lexer.ts';
import { parseScript } from '../../src/conformance/parser.ts';
import { ParseOptionsError } from '../../src/conformance/script.ts';
import { parseArp } from '../../src/wire/arp.ts';
import { parseEthernet } from '../../src/wire/ethernet.ts';
import { parseIcmpv4, parseIcmpv4Invoking } from '../../src/wire/icmpv4.ts';
import { parseIpv4Packet } from '../../src/wire/ipv4.ts';
import { emitTcpOptions, parseTcp, parseTcpOptions, tcpOptionsLength } from '../../src/wire/tcp.ts';
import { parseUdp } from '../../src/wire/udp.ts';

/** A payload returned by a decoder must be a view inside the bytes it was given. */
function inside(payload: Uint8Array, bytes: Uint8Array, what: string): void {
  if (payload.buffer !== bytes.buffer) throw new Error(`${what}: payload is not a view of the input`);
  const start = payload.byteOffset - bytes.byteOffset;
  if (start < 0 || start + payload.length > bytes.length)
    throw new Error(`${what}: payload outside the input`);
}

type Parsed = { payload: Uint8Array } | { wireError: unknown };

function check(r: Parsed, bytes: Uint8Array, what: string): void {
  if ('payload' in r) inside(r.payload, bytes, what);
}

/** Every decoder over `data` (and over its tail at each header offset). */
export function fuzzWire(data: Uint8Array): void {
  check(parseEthernet(data), data, 'ethernet');
  const l3 = data.subarray(Math.min(14, data.length));
  check(parseArp(data), data, 'arp');
  check(parseArp(l3), l3, 'arp@14');
  check(parseIpv4Packet(data), data, 'ipv4');
  check(parseIpv4Packet(data, { verifyChecksum: false }), data, 'ipv4 no checksum');
  check(parseIpv4Packet(l3, { verifyChecksum: false }), l3, 'ipv4@14');
  for (const b of [data, data.subarray(Math.min(20, data.length))]) {
    check(parseTcp(b), b, 'tcp');
    check(parseTcp(b, 0x1234), b, 'tcp with pseudo-header');
    check(parseUdp(b), b, 'udp');
    check(parseUdp(b, 0x1234), b, 'udp with pseudo-header');
    check(parseIcmpv4(b), b, 'icmpv4');
    check(parseIcmpv4(b, { verifyChecksum: false }), b, 'icmpv4 no checksum');
    parseIcmpv4Invoking(b);
  }
  // TCP options: whatever parses must emit and parse back to the same options.
  const opts = parseTcpOptions(data.subarray(0, Math.min(40, data.length)));
  const len = tcpOptionsLength(opts);
  if (len <= 40) {
    const out = new Uint8Array(len);
    emitTcpOptions(opts, out, 0);
    const again = parseTcpOptions(out);
    if (JSON.stringify(again) !== JSON.stringify(opts))
      throw new Error(`tcp options do not round-trip: ${JSON.stringify(opts)} -> ${JSON.stringify(again)}`);
  }
}

/** The packetdrill parser over `text`: a Script or a ScriptSyntaxError, nothing else. */
export function fuzzScript(text: string): void {
  try {
    parseScript(text);
  } catch (e) {
    if (e instanceof ScriptSyntaxError || e instanceof ParseOptionsError) return;
    throw e;
  }
}

/** Text edits for mutating packetdrill scripts: tokens of its grammar and of its mistakes. */
export const SCRIPT_TOKENS = [
  '+0',
  '0.1',
  '+.5',
  '~+1',
  'socket(..., SOCK_STREAM, IPPROTO_TCP) = 3',
  'bind(3, ..., ...) = 0',
  'listen(3, 1) = 0',
  'accept(3, ..., ...) = 4',
  '<',
  '>',
  'S',
  'S.',
  'F.',
  'R',
  'P.',
  '0:0(0)',
  '1:1001(1000)',
  'ack 1',
  'win 65535',
  '<mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>',
  '<sack 1:2 3:4>',
  '<TS val 1 ecr',
  'icmp unreachable frag_needed mtu 1200',
  '[1:1001(1000)]',
  '`echo hi`',
  '%{ print(1) }%',
  '--mtu=1500',
  '(',
  ')',
  '{',
  '}',
  ',',
  '...',
  '"',
  "'",
  '\n',
  '//',
  '/*',
  '-1',
  '4294967296',
  '1e309',
  'ecr',
  'udp (100)',
  '/udp(1 > 2)',
];
