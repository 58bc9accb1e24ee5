/** Reading a capture file for the CLI, with errors a person can act on. */
import { readFileSync } from 'node:fs';
import { type PcapFile, readPcap } from '../link/pcap.ts';

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

const LINKTYPE_NAMES: Record<number, string> = {
  1: 'EN10MB (Ethernet)',
  101: 'RAW (bare IP)',
  228: 'IPV4 (bare IPv4)',
};

export function linkTypeText(lt: number): string {
  return LINKTYPE_NAMES[lt] ?? `linktype ${lt}`;
}

/** Reads and parses FILE; throws InputError with the reason. */
export function readCaptureFile(path: string): PcapFile {
  let bytes: Uint8Array;
  try {
    const buf = readFileSync(path);
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (e as Error).message;
    throw new InputError(`cannot read ${path}: ${why}`);
  }
  try {
    return readPcap(bytes);
  } catch (e) {
    throw new InputError(`${path} is not a readable pcap or pcapng file (${(e as Error).message})`);
  }
}
