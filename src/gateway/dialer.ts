/**
 * How a gateway reaches the world outside the guest: a `Dialer` opens host-side
 * connections and datagram sockets for the flows it terminates. The Node dialer
 * (src/node/gateway-dialer.ts) uses the OS; a browser one (Wisp) plugs in the same way.
 * Addresses are dotted-quad text; failures carry a Node-style `code`
 * (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ...).
 */

/** A host-side byte stream, with back-pressure and half-close. */
export interface HostStream {
  /** Queues bytes; false when the host side's buffer is full (wait for `onDrain`). */
  write(data: Uint8Array): boolean;
  /** Half-close: no more bytes from us (the host peer reads EOF). */
  end(): void;
  /** Closes both ways at once (the host peer sees a reset where the transport has one). */
  destroy(): void;
  /** Stops `onData` until `resume` (back-pressure from the guest). */
  pause(): void;
  resume(): void;
  /** Bytes from the host; `data` is only valid during the call (it may be a reused buffer). */
  onData: ((data: Uint8Array) => void) | undefined;
  /** The host peer half-closed: no more `onData`. */
  onEnd: (() => void) | undefined;
  onDrain: (() => void) | undefined;
  /** Gone; `err` set when it ended by an error (a reset, say). */
  onClose: ((err?: Error & { code?: string }) => void) | undefined;
}

/** A host-side datagram socket (one per guest UDP flow). */
export interface HostDatagram {
  send(data: Uint8Array, host: string, port: number): void;
  onMessage: ((data: Uint8Array, host: string, port: number) => void) | undefined;
  close(): void;
}

export interface Dialer {
  /** Opens a stream to host:port; rejects with an Error carrying `code` (ECONNREFUSED, ...). */
  connect(host: string, port: number): Promise<HostStream>;
  /** Opens a datagram socket (bound to an ephemeral port on the host). */
  openDatagram(): HostDatagram;
}
