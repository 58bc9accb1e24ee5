/**
 * The Web Streams face of a socket, for code that pipes streams
 * (`response.body.pipeTo(sock.writable)`, `sock.readable.pipeThrough(new TextDecoderStream())`),
 * written over the socket's own recv/sendall/shutdown so it works on every backend.
 *
 * - `readable`: a ReadableStream of the received chunks (datagrams on SOCK_DGRAM); it
 *   reads only when asked (highWaterMark 0), so it never takes data from under a
 *   recv() the program makes itself; it closes at end of stream.
 * - `writable`: a WritableStream taking Uint8Array (or string, sent as UTF-8); each
 *   chunk is sent with sendall; closing it half-closes the socket (SHUT_WR), so
 *   the peer sees end of stream; aborting it closes the socket.
 */

import { SHUT_WR, SOCK_STREAM } from './constants.ts';

/** What the streams need of a socket. */
export interface StreamSocket {
  readonly type: number;
  recv(bufsize: number): Promise<Uint8Array>;
  sendall(data: Uint8Array | string): Promise<void>;
  shutdown(how: number): void;
  close(): Promise<void>;
}

const CHUNK = 65536;

export function readableOf(sock: StreamSocket): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await sock.recv(CHUNK);
        if (chunk.length === 0 && sock.type === SOCK_STREAM) controller.close();
        else controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
}

export function writableOf(sock: StreamSocket): WritableStream<Uint8Array | string> {
  return new WritableStream<Uint8Array | string>({
    write: (chunk) => sock.sendall(chunk),
    close: () => {
      if (sock.type === SOCK_STREAM) sock.shutdown(SHUT_WR);
    },
    abort: () => sock.close(),
  });
}
