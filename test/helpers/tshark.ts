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
  for (const line of lines) {
    if (/^Frame \d+:/.test(line)) packets++;
    if (line.includes('[Malformed Packet')) malformed++;
    if (/Bad checksum|\[incorrect|incorrect, should be|Checksum Status: Bad/i.test(line)) checksumErrors++;
    if (/\[Expert Info \(Error\//.test(line)) expertErrors++;
  }
  const fields = run(['-r', pcapPath, '-T', 'fields', '-e', 'frame.protocols', ...CHECK]);
  const protocols = fields.split('\n').filter((l) => l.length > 0);
  return { packets, malformed, checksumErrors, expertErrors, protocols, text };
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
