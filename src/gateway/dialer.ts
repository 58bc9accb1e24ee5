/**
 * How a gateway reaches the world outside the guest: a `Dialer` opens host-side
 * connections and datagram sockets for the flows it terminates. The Node dialer
 * (src/node/gateway-dialer.ts) uses the OS; a browser one (Wisp) plugs in the same way.
 * Addresses are text (dotted quad, or IPv6 as RFC 5952 writes it); failures carry a Node-style `code`
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

/**
 * ICMP echo from the host (Linux: unprivileged ping sockets, net.ipv4.ping_group_range),
 * for a gateway that forwards its guest's pings instead of answering them itself.
 */
export interface HostPinger {
  /**
   * Whether the host can send echoes of `family`: undefined while that is not known yet
   * (then `echo` finds out), false when it cannot (the gateway answers itself).
   */
  available(family: 4 | 6): boolean | undefined;
  /**
   * Sends one echo request carrying `data` to `host` and resolves with the TTL (hop limit)
   * of the reply as it arrived at the host, or undefined when none came within `timeoutMs`
   * (or the host learnt the target is unreachable). Rejects with an Error whose `code` is
   * EACCES (ping not allowed), ENOENT (no helper) or ENOSYS when the host cannot ping at all.
   */
  echo(
    family: 4 | 6,
    host: string,
    data: Uint8Array,
    timeoutMs: number,
  ): Promise<{ ttl: number } | undefined>;
  close(): void;
}

export interface Dialer {
  /** Opens a stream to host:port; rejects with an Error carrying `code` (ECONNREFUSED, ...). */
  connect(host: string, port: number): Promise<HostStream>;
  /** Opens a datagram socket of `family` (default 4), bound to an ephemeral port on the host. */
  openDatagram(family?: 4 | 6): HostDatagram;
  /** Echo requests out of the host; without one the gateway answers pings itself. */
  readonly pinger?: HostPinger;
}
