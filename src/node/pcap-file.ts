import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import {
  PcapngWriter,
  type PcapngWriterOptions,
  type PcapSink,
  PcapWriter,
  type PcapWriterOptions,
} from '../link/pcap.ts';

/**
 * A buffered synchronous file sink for the capture writers. Chunks are collected
 * up to `bufferSize` bytes and written with fs.writeSync; call `flush()` to push
 * them out (e.g. before reading the file) and `close()` at the end.
 */
export class FileSink {
  readonly path: string;
  #fd: number | null;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  readonly #bufferSize: number;
  /** Bytes handed to the sink so far. */
  bytes = 0;
  /** The callback to give a writer. */
  readonly sink: PcapSink;

  constructor(path: string, options: { bufferSize?: number } = {}) {
    this.path = path;
    this.#fd = openSync(path, 'w');
    this.#bufferSize = options.bufferSize ?? 65536;
    this.sink = (chunk) => this.write(chunk);
  }

  write(chunk: Uint8Array): void {
    if (this.#fd === null) throw new Error(`pcap file ${this.path} is closed`);
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    this.bytes += chunk.length;
    if (this.#buffered >= this.#bufferSize) this.flush();
  }

  flush(): void {
    if (this.#fd === null || this.#chunks.length === 0) return;
    const all = new Uint8Array(this.#buffered);
    let p = 0;
    for (const c of this.#chunks) {
      all.set(c, p);
      p += c.length;
    }
    this.#chunks = [];
    this.#buffered = 0;
    let off = 0;
    while (off < all.length) off += writeSync(this.#fd, all, off, all.length - off);
  }

  close(options: { sync?: boolean } = {}): void {
    if (this.#fd === null) return;
    this.flush();
    if (options.sync) fsyncSync(this.#fd);
    closeSync(this.#fd);
    this.#fd = null;
  }
}

/** A classic pcap writer streaming to `path`. */
export function openPcapFile(
  path: string,
  options: PcapWriterOptions = {},
): { writer: PcapWriter; file: FileSink } {
  const file = new FileSink(path);
  return { writer: new PcapWriter(file.sink, options), file };
}

/** A pcapng writer streaming to `path`. */
export function openPcapngFile(
  path: string,
  options: PcapngWriterOptions = {},
): { writer: PcapngWriter; file: FileSink } {
  const file = new FileSink(path);
  return { writer: new PcapngWriter(file.sink, options), file };
}
