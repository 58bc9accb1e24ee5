/**
 * Joins a guest-side TCP connection of the gateway's stack to a host-side stream: bytes
 * both ways with back-pressure (a full host buffer stops reading the guest, whose window
 * then closes; a full send buffer pauses the host stream), half-close carried over (a FIN
 * from either side becomes `end()` on the other), and a reset on either side resets the
 * other.
 */
import type { TcpConnection } from '../tcp/connection.ts';
import type { HostStream } from './dialer.ts';

/** Largest chunk read from the guest connection at once. */
const READ_CHUNK = 65536;

export interface SpliceCounters {
  /** Bytes guest → host. */
  bytesOut: number;
  /** Bytes host → guest. */
  bytesIn: number;
}

/**
 * Splices `conn` (established, or about to be) and `host` until both are done; `onDone`
 * runs once, with the error that ended it (undefined: an orderly end both ways).
 */
export function splice(
  conn: TcpConnection,
  host: HostStream,
  counters: SpliceCounters,
  onDone: (err?: string) => void,
): void {
  let hostPaused = false;
  let guestBlocked = false; // host.write returned false: stop reading the guest
  let pending: Uint8Array | undefined; // host bytes the send buffer had no room for
  let hostEnded = false; // the host's EOF arrived
  let finSent = false; // ... and was passed on as our FIN
  let guestEof = false;
  let done = false;

  const finish = (err?: string): void => {
    if (done) return;
    done = true;
    host.onData = host.onEnd = host.onDrain = host.onClose = undefined;
    conn.events = undefined;
    // An orderly end leaves both to finish on their own (the host socket flushes and closes,
    // the connection runs its FIN handshake); an error resets both.
    if (err !== undefined) {
      host.destroy();
      if (conn.state !== 'CLOSED') conn.abort();
    }
    onDone(err);
  };

  const pumpGuest = (): void => {
    // Bounded: each pass reads at most what is buffered.
    for (let i = 0; i < 1024 && !guestBlocked && !done; i++) {
      let chunk: Uint8Array | null;
      try {
        chunk = conn.read(READ_CHUNK);
      } catch {
        finish('guest reset');
        return;
      }
      if (chunk === null) break;
      counters.bytesOut += chunk.length;
      if (!host.write(chunk)) guestBlocked = true;
    }
    if (!guestEof && conn.eof) {
      guestEof = true;
      host.end();
      maybeDone();
    }
  };

  const pushHost = (): void => {
    if (pending) {
      let n = 0;
      try {
        n = conn.write(pending);
      } catch {
        finish('guest gone');
        return;
      }
      counters.bytesIn += n;
      pending = n < pending.length ? pending.subarray(n) : undefined;
    }
    if (pending) {
      if (!hostPaused) {
        hostPaused = true;
        host.pause();
      }
      return;
    }
    if (hostPaused) {
      hostPaused = false;
      host.resume();
    }
    if (hostEnded && !finSent) {
      finSent = true;
      try {
        conn.shutdown('write');
      } catch {
        finish('guest gone');
        return;
      }
      maybeDone();
    }
  };

  const maybeDone = (): void => {
    // Both directions finished: the connection closes on its own (FIN handshake, TIME-WAIT).
    if (guestEof && finSent) finish();
  };

  host.onData = (data) => {
    if (done) return;
    if (pending) {
      pending = concat(pending, data);
    } else {
      // Straight into the send buffer; what does not fit is copied, since `data` is only
      // valid during this call (a dialer may read every connection into one buffer).
      let n = 0;
      try {
        n = conn.write(data);
      } catch {
        finish('guest gone');
        return;
      }
      counters.bytesIn += n;
      if (n < data.length) pending = data.slice(n);
    }
    pushHost();
  };
  host.onEnd = () => {
    hostEnded = true;
    pushHost();
  };
  host.onDrain = () => {
    guestBlocked = false;
    pumpGuest();
  };
  host.onClose = (err) => {
    if (err) finish(`host: ${err.code ?? err.message}`);
    else if (!hostEnded) {
      hostEnded = true;
      pushHost();
    }
  };
  conn.events = {
    onReadable: pumpGuest,
    onEnd: pumpGuest,
    onWritable: pushHost,
    onClose: (reason) => {
      if (reason !== undefined) finish(`guest: ${reason}`);
      else if (!done) finish();
    },
  };
  pumpGuest();
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
