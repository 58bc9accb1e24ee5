/**
 * Python's `sock.sendfile(file, offset=0, count=None)`: sends a file's bytes and
 * returns how many were sent, over the socket's own sendall (so every backend has it).
 *
 * "A file" is anything with bytes to read: a Uint8Array, a Blob (a browser File, or
 * Node's `fs.openAsBlob(path)`), a ReadableStream, or an async iterable of chunks
 * (Node's `fs.createReadStream(path)`, another socket's makefile('rb'), a socket).
 * `offset` bytes are skipped first; at most `count` bytes are sent.
 */
import { ArgumentTypeError, describeValue, ValueError } from './errno.ts';

export type SendableFile =
  | Uint8Array
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array>;

const encoder = new TextEncoder();

async function* chunksOf(file: SendableFile): AsyncGenerator<Uint8Array> {
  if (file instanceof Uint8Array) {
    yield file;
    return;
  }
  if (typeof Blob !== 'undefined' && file instanceof Blob) {
    const reader = file.stream().getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  }
  if (typeof ReadableStream !== 'undefined' && file instanceof ReadableStream) {
    const reader = (file as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }
  const it = file as AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>;
  if (typeof (it as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    for await (const c of it as AsyncIterable<Uint8Array | string>)
      yield typeof c === 'string' ? encoder.encode(c) : c;
    return;
  }
  if (typeof (it as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const c of it as Iterable<Uint8Array>) yield c;
    return;
  }
  throw new ArgumentTypeError(
    'sendfile',
    `file must be a Uint8Array, Blob, ReadableStream or async iterable of chunks, got ${describeValue(file)}`,
  );
}

/** Sends `file` through `sendall`; resolves with the number of bytes sent. */
export async function sendFile(
  sendall: (data: Uint8Array) => Promise<void>,
  file: SendableFile,
  offset = 0,
  count: number | null = null,
): Promise<number> {
  if (!Number.isInteger(offset) || offset < 0)
    throw new ValueError('sendfile', `offset must be a non-negative integer, got ${offset}`);
  if (count !== null && (!Number.isInteger(count) || count <= 0))
    throw new ValueError('sendfile', `count must be a positive integer, got ${count}`);
  let skip = offset;
  let left = count ?? Number.POSITIVE_INFINITY;
  let sent = 0;
  for await (let chunk of chunksOf(file)) {
    if (!(chunk instanceof Uint8Array))
      throw new ArgumentTypeError('sendfile', `the file gave ${describeValue(chunk)}, not bytes`);
    if (skip > 0) {
      const n = Math.min(skip, chunk.length);
      skip -= n;
      chunk = chunk.subarray(n);
    }
    if (chunk.length > left) chunk = chunk.subarray(0, left);
    if (chunk.length === 0) {
      if (left === 0) break;
      continue;
    }
    await sendall(chunk);
    sent += chunk.length;
    left -= chunk.length;
    if (left === 0) break;
  }
  return sent;
}
