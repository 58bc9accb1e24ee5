/**
 * How TCP reaches the rest of the host: IP output, routing and the clock, timers and
 * randomness it is given (the stack implements TcpEnv).
 */
import type { Rng } from '../rand/rng.ts';
import type { Clock } from '../time/clock.ts';
import type { TimerQueue } from '../time/timers.ts';
import type { IpAddress } from '../wire/address.ts';
import type { TcpRepr } from '../wire/tcp.ts';

/**
 * The IP header fields a connection chooses for its segments (IP_TOS, IP_MTU_DISCOVER; see
 * TcpSocketOptions). Absent: TOS 0 and DF set (RFC 1191 path MTU discovery).
 */
export interface TcpIpFields {
  readonly tos?: number;
  readonly pmtuDisc?: number;
  readonly ttl?: number;
}

/** The UDP ports around a tunnelled segment (TcpConfig.udpTunnelingPort). */
export interface TcpUdpEncap {
  readonly srcPort: number;
  readonly dstPort: number;
}

export interface TcpEnv {
  clock: Clock;
  rng: Rng;
  timers: TimerQueue;
  /**
   * Hand a segment to IP (which adds the IP header, routes, computes the checksum).
   * `repr` and `payload` are lent for the duration of the call only: copy to keep. Except a
   * super-segment's payload (`gsoSize`, new data only) when it lies in a SharedArrayBuffer
   * (the send ring's, ByteRing `shared`): it stays unchanged until acknowledged, so a device
   * may send it by reference (Device.txGather). A peer that acknowledges bytes before they
   * reached it (an optimistic ACK) frees their ring space early, so the device may send newer
   * bytes under their sequence numbers: that corrupts only the stream of the peer that lied
   * (an off-path sender needs an acceptable ACK, RFC 5961, which would let it inject anyway).
   */
  output(
    src: IpAddress,
    dst: IpAddress,
    repr: TcpRepr,
    payload: Uint8Array,
    ip?: TcpIpFields,
    udp?: TcpUdpEncap,
    /** The IP ECN field (RFC 3168 §5: 0 Not-ECT, 2 ECT(0)); absent: Not-ECT. */
    ecn?: number,
    /**
     * A super-segment (TSO): `payload` is several segments of `gsoSize` bytes (the last may
     * be shorter) sent under this one header, cut by the device or by IP where needed.
     */
    gsoSize?: number,
  ): void;
  /**
   * The largest TCP segment (header and data) one super-segment from `src` to `dst` may be,
   * when the route's device takes them (the kernel's sk_gso_max_size); 0 or absent: none.
   */
  gsoMaxSegment?(src: IpAddress, dst: IpAddress): number;
  /**
   * Whether the route's device sends super-segments' payloads by reference (Device.txGather):
   * the connection's send ring is then shared (ByteRing.share). Absent: no.
   */
  txGather?(src: IpAddress, dst: IpAddress): boolean;
  /** Source address the host would use to reach dst (undefined: no route -> ENETUNREACH/EHOSTUNREACH). */
  routeSource(dst: IpAddress): IpAddress | undefined;
  /** Largest TCP payload on the route to dst (path MTU - IP - TCP headers, no options), e.g. 1460. */
  mssFor(dst: IpAddress): number;
  isLocalAddress(a: IpAddress): boolean;
  /**
   * A validated "fragmentation needed" (RFC 5927 §4.1): record `mtu` as the path MTU to dst
   * (the network layer clamps it); returns the path MTU now in effect. Absent: TCP uses
   * `mtu` as given.
   */
  learnPathMtu?(dst: IpAddress, mtu: number): number;
}
