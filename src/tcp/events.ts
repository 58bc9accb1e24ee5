/**
 * What a connection tells the socket layer: the callbacks it may register and the
 * pending-event bits a connection collects while it updates, delivered afterwards
 * (Tcb.flush) so callbacks never run mid-update.
 */
import type { TcpCloseReason } from './errors.ts';

/** The socket layer's view of events on a connection; every method is optional. */
export interface TcpConnectionEvents {
  /** The three-way handshake completed. */
  onEstablished?(): void;
  /** New data (or EOF) can be read. */
  onReadable?(): void;
  /** Send-buffer space became available after write() returned less than asked. */
  onWritable?(): void;
  /** The peer's FIN arrived: no more data will follow what is buffered. */
  onEnd?(): void;
  /** The connection is gone; `reason` undefined means an orderly end. */
  onClose?(reason?: TcpCloseReason): void;
}

// Pending-event bits, flushed after each input/timer step so callbacks never run mid-update.
export const EV_ESTABLISHED = 1;
export const EV_READABLE = 2;
export const EV_WRITABLE = 4;
export const EV_END = 8;
export const EV_CLOSE = 16;
