// tshark as an external judge of our bytes: dissect a capture file and count
// what Wireshark considers malformed or wrongly checksummed.
import { spawnSync } from 'node:child_process';

let cached: boolean | undefined;

/** True when a runnable `tshark` is on PATH. */
export function hasTshark(): boolean {
  if (cached === undefined) {
    const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
    cached = r.status === 0 && /TShark/.test(r.stdout ?? '');
  }
  return cached;
}

export interface TsharkResult {
  /** Number of frames tshark read. */
  packets: number;
  /** `[Malformed Packet` occurrences. */
  malformed: number;
  /** Bad checksums ("Bad checksum", "[incorrect", "Checksum Status: Bad"), counted once per line. */
  checksumErrors: number;
  /**
   * Each line counted in `checksumErrors` (or `malformed`), as `frame N, <layer>: <line>`, the
   * layer being the top-level protocol tree it sits in (e.g. `Internet Control Message
   * Protocol v6` for a datagram quoted by an ICMP error): what an assertion message shows.
   */
  badLines: string[];
  /** Expert-info entries of severity Error. */
  expertErrors: number;
  /** The `frame.protocols` chain of each frame, e.g. `eth:ethertype:ip:tcp`. */
  protocols: string[];
  /** The full `-V` dissection. */
  text: string;
}

const CHECK = [
  '-o',
  'ip.check_checksum:TRUE',
  '-o',
  'udp.check_checksum:TRUE',
  '-o',
  'tcp.check_checksum:TRUE',
];

function run(args: string[]): string {
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Dissects `pcapPath` (pcap or pcapng) verbosely with checksum validation on. */
export function tsharkDissect(pcapPath: string): TsharkResult {
  const text = run(['-r', pcapPath, '-V', ...CHECK]);
  const lines = text.split('\n');
  let packets = 0;
  let malformed = 0;
  let checksumErrors = 0;
  let expertErrors = 0;
  const badLines: string[] = [];
  let frame = '';
  let layer = '';
  for (const line of lines) {
    const f = /^Frame (\d+):/.exec(line);
    if (f) {
      packets++;
      frame = f[1];
    }
    // A protocol tree's first line is not indented.
    if (line.length > 0 && line[0] !== ' ') layer = line.split(',')[0];
    let bad = false;
    if (line.includes('[Malformed Packet')) {
      malformed++;
      bad = true;
    }
    if (/Bad checksum|\[incorrect|incorrect, should be|Checksum Status: Bad/i.test(line)) {
      checksumErrors++;
      bad = true;
    }
    if (bad && badLines.length < 50) badLines.push(`frame ${frame}, ${layer}: ${line.trim()}`);
    if (/\[Expert Info \(Error\//.test(line)) expertErrors++;
  }
  const fields = run(['-r', pcapPath, '-T', 'fields', '-e', 'frame.protocols', ...CHECK]);
  const protocols = fields.split('\n').filter((l) => l.length > 0);
  return { packets, malformed, checksumErrors, badLines, expertErrors, protocols, text };
}

/** Runs tshark with `-T fields` for the given fields; one array of values per frame. */
export function tsharkFields(pcapPath: string, fields: string[]): string[][] {
  const args = ['-r', pcapPath, '-T', 'fields', '-E', 'separator=\t', ...CHECK];
  for (const f of fields) args.push('-e', f);
  return run(args)
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));
}

/**
 * For an assertion message: the lines `tsharkDissect` counted as bad, then the full dissection
 * and the bytes (`-V -x`) of the first frame they name.
 */
export function tsharkExplain(pcapPath: string, r: TsharkResult): string {
  const n = /^frame (\d+),/.exec(r.badLines[0] ?? '')?.[1];
  const frame =
    n === undefined ? '' : run(['-r', pcapPath, '-V', '-x', '-Y', `frame.number == ${n}`, ...CHECK]);
  return `${r.badLines.join('\n')}\n${frame}`;
}
