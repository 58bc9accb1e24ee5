/**
 * What a connection and a listener need of the TCP layer that owns them. The layer
 * (layer.ts) implements these; the connection's modules see only this, so none of them
 * imports the layer.
 */
import type { IpAddress } from '../wire/address.ts';
import type { TcpConfig, TcpSocketOptions } from './config.ts';
import type { TcpEnv, TcpUdpEncap } from './env.ts';
import type { FastOpen } from './fastopen.ts';
import type { IsnGenerator } from './isn.ts';
import type { TcpMemory } from './memory.ts';
import type { SharedOptions } from './shared-options.ts';
import type { TcpStats } from './stats.ts';
import type { SynCookies } from './syncookie.ts';

export interface TcpEndpoint {
  readonly address: IpAddress;
  readonly port: number;
}

/** A connection as the layer's connection table keys it. */
export interface TcpTuple {
  readonly local: TcpEndpoint;
  readonly remote: TcpEndpoint;
}

/** Something with socket events to deliver (a connection or a listener). */
export interface EventSource {
  /** Queued for the layer's next event delivery (deliverEvents). */
  eventsQueued: boolean;
  /** Delivers its pending events now. */
  deliverEvents(): void;
}

/** What a connection needs of its layer. */
export interface TcpHost {
  readonly env: TcpEnv;
  readonly config: TcpConfig;
  readonly stats: TcpStats;
  /** Bytes held by all connections' buffers, against config.memoryLimit (memory.ts). */
  readonly memory: TcpMemory;
  /** The layer's timestamp clock offset (RFC 7323 §5.4). */
  readonly tsOffset: number;
  /** RFC 7413 Fast Open: the server's cookie key and the client's cookie cache. */
  readonly fastOpen: FastOpen;
  /** RFC 5961 §7: may a challenge ACK go out now (layer-wide rate limit)? */
  allowChallengeAck(): boolean;
  /** Largest payload towards `dst` for a connection with these options. */
  routeMss(dst: IpAddress, opts: TcpSocketOptions): number;
  /** The UDP ports for a segment to a peer's tunnel port (undefined: plain TCP). */
  udpEncap(peerPort: number | undefined): TcpUdpEncap | undefined;
  /** Enters a connection into the connection table. */
  add(c: TcpTuple): void;
  /** Takes a connection out of the connection table. */
  remove(c: TcpTuple): void;
  /**
   * Queues `x` for the layer's once-per-poll event delivery and returns true, or returns
   * false when the layer delivers events at once (a layer driven without a Stack).
   */
  deferEvents(x: EventSource): boolean;
  /**
   * Queues a connection whose input left something to send for the layer's output pass
   * (runOutputPass, once per receive batch) and returns true, or returns false when the
   * caller must send now (a layer driven without a Stack).
   */
  deferOutput(c: OutputSource): boolean;
}

/** A connection as the output pass sees it. */
export interface OutputSource {
  /** Queued for the layer's next output pass. */
  outputQueued: boolean;
}

/** What a listener needs of its layer, beyond what its connections need. */
export interface TcpListenerHost extends TcpHost {
  readonly isn: IsnGenerator;
  readonly cookies: SynCookies;
  /** The MSS we announce towards `dst`. */
  announcedMss(dst: IpAddress, opts: TcpSocketOptions): number;
  /** The window shift we offer. */
  wscaleFor(opts: TcpSocketOptions): number;
  /** Timestamp clock for segments without a connection (cookie SYN-ACKs). */
  tsClock(): number;
  /** Option sets shared between connections (shared-options.ts). */
  readonly sharedOptions: SharedOptions;
  /** Takes a closed listener out of the listener table. */
  removeListener(l: { readonly local: { readonly port: number } }): void;
}
