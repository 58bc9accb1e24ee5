/**
 * Python's `sock.makefile()`: a socket seen as a file (the course's "a socket is a
 * file": open, read, write, close), written over the socket's own recv/sendall so it
 * works on every backend.
 *
 *   const f = conn.makefile('rw');              // text; 'rb' / 'wb' / 'rwb' for bytes
 *   const line = await f.readline();            // up to and including '\n'; '' at EOF
 *   f.write('echo: ' + line);
 *   await f.flush();                            // writes are buffered until flush()
 *   for await (const l of f) ...                // line by line until EOF
 *   await f.close();                            // flushes; the socket stays open, as in Python
 *
 * As in Python, `read()` with no size reads to end of stream, `read(n)` returns n
 * characters (text) or bytes (binary) unless the stream ends first, and closing the
 * file does not close the socket.
 */
import { SocketError, ValueError } from './errno.ts';

/** What a socket file needs of its socket. */
export interface ByteSocket {
  recv(bufsize: number): Promise<Uint8Array>;
  sendall(data: Uint8Array): Promise<void>;
}

export type BinaryMode = 'rb' | 'wb' | 'rwb' | 'wrb' | 'b';
export type TextMode = 'r' | 'w' | 'rw' | 'wr' | '';

export interface MakefileOptions {
  /** Text mode's encoding (TextDecoder label). Default 'utf-8'. */
  encoding?: string;
  /** Bytes written before write() flushes by itself. Default 8192, as Python's io.DEFAULT_BUFFER_SIZE. */
  buffering?: number;
}

const CHUNK = 8192;
const NL = 0x0a;
const encoder = new TextEncoder();

function concat(a: Uint8Array<ArrayBufferLike>, b: Uint8Array<ArrayBufferLike>): Uint8Array<ArrayBufferLike> {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A socket file: `string` data in text mode, `Uint8Array` in binary mode. */
export class SocketFile<T extends string | Uint8Array> {
  readonly mode: string;
  readonly binary: boolean;
  readonly #sock: ByteSocket;
  readonly #readable: boolean;
  readonly #writable: boolean;
  readonly #decoder: TextDecoder | undefined;
  readonly #buffering: number;
  #bytes: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  #text = '';
  #eof = false;
  #closed = false;
  #out: Uint8Array[] = [];
  #outLen = 0;

  constructor(sock: ByteSocket, mode: string, options: MakefileOptions = {}) {
    if (typeof mode !== 'string' || /[^rwb]/.test(mode) || new Set(mode).size !== mode.length)
      throw new ValueError('makefile', `invalid mode '${String(mode)}' (only r, w and b allowed)`);
    this.#sock = sock;
    this.mode = mode;
    this.binary = mode.includes('b');
    this.#readable = mode.includes('r') || !mode.includes('w');
    this.#writable = mode.includes('w');
    this.#decoder = this.binary ? undefined : new TextDecoder(options.encoding ?? 'utf-8');
    this.#buffering = options.buffering ?? CHUNK;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Up to `size` characters/bytes (all until end of stream when size is omitted or negative). */
  async read(size = -1): Promise<T> {
    this.#check('read', this.#readable);
    while (!this.#eof && (size < 0 || this.#length() < size)) await this.#fill();
    return this.#take(size < 0 ? this.#length() : Math.min(size, this.#length()));
  }

  /** One line including its '\n' (the last line may lack it); empty at end of stream. */
  async readline(limit = -1): Promise<T> {
    this.#check('readline', this.#readable);
    for (;;) {
      const nl = this.binary ? this.#bytes.indexOf(NL) : this.#text.indexOf('\n');
      const have = this.#length();
      if (nl >= 0 && (limit < 0 || nl < limit)) return this.#take(nl + 1);
      if (limit >= 0 && have >= limit) return this.#take(limit);
      if (this.#eof) return this.#take(have);
      await this.#fill();
    }
  }

  /** Every remaining line. */
  async readlines(): Promise<T[]> {
    const lines: T[] = [];
    for (;;) {
      const l = await this.readline();
      if (l.length === 0) return lines;
      lines.push(l);
    }
  }

  /** Buffers `data`; it is sent by flush(), close(), or once the buffer is full. Returns its length. */
  async write(data: T): Promise<number> {
    this.#check('write', this.#writable);
    let bytes: Uint8Array;
    if (this.binary) {
      if (!(data instanceof Uint8Array))
        throw new TypeError('write(): a binary socket file takes a Uint8Array');
      bytes = data;
    } else {
      if (typeof data !== 'string') throw new TypeError('write(): a text socket file takes a string');
      bytes = encoder.encode(data);
    }
    this.#out.push(bytes);
    this.#outLen += bytes.length;
    if (this.#outLen >= this.#buffering) await this.flush();
    return data.length;
  }

  /** Sends what write() buffered. */
  async flush(): Promise<void> {
    if (this.#closed) throw new ValueError('flush', 'I/O operation on closed file');
    if (this.#outLen === 0) return;
    const parts = this.#out;
    this.#out = [];
    this.#outLen = 0;
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    await this.#sock.sendall(all);
  }

  /** Flushes and closes the file (not the socket). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      if (this.#writable) await this.flush();
    } finally {
      this.#closed = true;
    }
  }

  /** Lines until end of stream. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      const l = await this.readline();
      if (l.length === 0) return;
      yield l;
    }
  }

  #check(op: string, allowed: boolean): void {
    if (this.#closed) throw new ValueError(op, 'I/O operation on closed file');
    if (!allowed)
      throw new SocketError('EBADF', {
        syscall: op,
        detail: `the file is not ${op === 'write' ? 'writable' : 'readable'} (mode '${this.mode}')`,
      });
  }

  #length(): number {
    return this.binary ? this.#bytes.length : this.#text.length;
  }

  async #fill(): Promise<void> {
    const chunk = await this.#sock.recv(CHUNK);
    if (chunk.length === 0) {
      this.#eof = true;
      if (this.#decoder) this.#text += this.#decoder.decode();
      return;
    }
    if (this.#decoder) this.#text += this.#decoder.decode(chunk, { stream: true });
    else this.#bytes = concat(this.#bytes, chunk.slice());
  }

  #take(n: number): T {
    if (this.binary) {
      const out = this.#bytes.subarray(0, n);
      this.#bytes = this.#bytes.subarray(n);
      return out as T;
    }
    const out = this.#text.slice(0, n);
    this.#text = this.#text.slice(n);
    return out as T;
  }
}
