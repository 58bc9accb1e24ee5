/**
 * Named counters for the IP layer (names follow the SNMP MIB-II / RFC 4293 ipSystemStats
 * where one exists). Every dropped packet increments exactly one drop counter.
 */
import { type NeighborStats as ArpStats, newNeighborStats as newArpStats } from './neighbor.ts';

/** The reassembly counters both families keep (RFC 4293 ipSystemStatsReasm*, and ours). */
export interface ReassemblyStats {
  /** Fragments received (ipReasmReqds), datagrams reassembled (ipReasmOKs). */
  reasmRequired: number;
  reasmOk: number;
  /** Fragments dropped (reasm failures of every kind; the kind is counted below too). */
  reasmFails: number;
  reasmTimeouts: number;
  /** Datagrams dropped because two fragments overlapped (RFC 5722 style). */
  reasmOverlaps: number;
  /** Datagrams in reassembly evicted to stay within the memory cap. */
  reasmEvictions: number;
  /** Fragments with a bad length or offset (reassembly past 65535, non-multiple of 8). */
  reasmMalformed: number;
}

export interface IpStats extends ReassemblyStats {
  /** Datagrams received from interfaces (ipInReceives). */
  received: number;
  /** Dropped: shorter than a header, bad version or IHL, Total Length past the frame. */
  malformed: number;
  badChecksum: number;
  /** Dropped: source address is broadcast/multicast/ours-from-the-wire (martian). */
  badSource: number;
  /** Dropped: not for us and forwarding is off (ipInAddrErrors). */
  notForUs: number;
  /** Delivered to a transport or ICMP (ipInDelivers). */
  delivered: number;
  /** Dropped: unknown protocol (ICMP protocol unreachable sent). */
  unknownProtocol: number;
  /** Forwarded datagrams (ipForwDatagrams). */
  forwarded: number;
  /** Dropped while forwarding: TTL reached zero (ICMP time exceeded sent). */
  ttlExceeded: number;
  /** No route to the destination (ipOutNoRoutes / ipInNoRoutes). */
  noRoute: number;
  /** Dropped: DF set and the next MTU too small (ICMP fragmentation needed sent). */
  fragNeeded: number;
  /** Datagrams sent by this host (ipOutRequests). */
  sent: number;
  /** Datagrams successfully fragmented (ipFragOKs) and fragments made (ipFragCreates). */
  fragOk: number;
  fragCreates: number;
  /** Sends refused: datagram larger than 65535 or options make fragmentation impossible. */
  fragFails: number;
  /** Exact duplicate fragments ignored. */
  reasmDuplicates: number;
  /** Datagrams dropped on an interface that is down or has no link. */
  interfaceDown: number;
  /**
   * Datagrams the link layer dropped (no resolution, queue full), and datagrams to forward
   * with a wrong TCP/UDP checksum bound for a device whose far end trusts it (forward.ts).
   */
  outDiscards: number;
  /** Directed/limited broadcasts received. */
  broadcastIn: number;
  /** Datagrams dropped for malformed IP options (answered with parameter problem, RFC 1122 §3.2.1.8). */
  badOptions: number;
}

export interface IcmpStats {
  inMessages: number;
  inErrors: number;
  badChecksum: number;
  malformed: number;
  inEchoRequests: number;
  inEchoReplies: number;
  inDestUnreachable: number;
  inTimeExceeded: number;
  outMessages: number;
  outEchoReplies: number;
  outEchoRequests: number;
  outDestUnreachable: number;
  outTimeExceeded: number;
  outParamProblems: number;
  /** Errors not sent because the token bucket was empty (RFC 1812 §4.3.2.8). */
  rateLimited: number;
  /** Errors not sent because RFC 1122 §3.2.2 forbids it (about an error, broadcast, fragment...). */
  suppressed: number;
  /** Received errors that matched no transport endpoint. */
  unmatchedErrors: number;
}

export interface UdpStats {
  inDatagrams: number;
  outDatagrams: number;
  /** Datagrams to a port with no socket (udpNoPorts); ICMP port unreachable sent. */
  noPorts: number;
  badChecksum: number;
  malformed: number;
  /** Dropped because the socket's receive queue was full (udpRcvbufErrors). */
  receiveQueueDrops: number;
  /** Broadcast/multicast datagrams that matched no socket (no ICMP for these). */
  broadcastNoPorts: number;
}

/** IGMP (RFC 3376) as a host: src/ip/igmp.ts. */
export interface IgmpStats {
  /** Messages received (any type, before checks). */
  received: number;
  /** Dropped: truncated, bad checksum, unknown type, or a query of 9-11 bytes. */
  malformed: number;
  /** Dropped: well-formed but not acceptable (a general query to a unicast address). */
  invalid: number;
  queriesReceived: number;
  reportsSent: number;
  leavesSent: number;
}

/** Receive coalescing (src/ip/gro.ts). */
export interface GroStats {
  /** Segments merged into super-segments (a run of n segments counts n). */
  coalesced: number;
  /** Super-segments (runs of two or more segments) handed up. */
  runs: number;
}

export interface StackStats {
  readonly ip: IpStats;
  readonly icmp: IcmpStats;
  readonly udp: UdpStats;
  readonly arp: ArpStats;
  readonly igmp: IgmpStats;
  /** Frames dropped at the link layer: malformed, wrong destination MAC, unknown EtherType. */
  readonly link: {
    received: number;
    sent: number;
    malformed: number;
    notForUs: number;
    unknownEthertype: number;
    /** Frames longer than the interface MTU that were not sent. */
    tooBig: number;
    /** Frames dropped on arrival because the interface's receive queue was full. */
    rxQueueDrops: number;
  };
  readonly gro: GroStats;
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  const o = {} as Record<K, number>;
  for (const k of keys) o[k] = 0;
  return o;
}

export function newStackStats(): StackStats {
  return {
    ip: zeros([
      'received',
      'malformed',
      'badChecksum',
      'badSource',
      'notForUs',
      'delivered',
      'unknownProtocol',
      'forwarded',
      'ttlExceeded',
      'noRoute',
      'fragNeeded',
      'sent',
      'fragOk',
      'fragCreates',
      'fragFails',
      'reasmRequired',
      'reasmOk',
      'reasmFails',
      'reasmTimeouts',
      'reasmOverlaps',
      'reasmDuplicates',
      'reasmEvictions',
      'reasmMalformed',
      'interfaceDown',
      'outDiscards',
      'broadcastIn',
      'badOptions',
    ]),
    icmp: zeros([
      'inMessages',
      'inErrors',
      'badChecksum',
      'malformed',
      'inEchoRequests',
      'inEchoReplies',
      'inDestUnreachable',
      'inTimeExceeded',
      'outMessages',
      'outEchoReplies',
      'outEchoRequests',
      'outDestUnreachable',
      'outTimeExceeded',
      'outParamProblems',
      'rateLimited',
      'suppressed',
      'unmatchedErrors',
    ]),
    udp: zeros([
      'inDatagrams',
      'outDatagrams',
      'noPorts',
      'badChecksum',
      'malformed',
      'receiveQueueDrops',
      'broadcastNoPorts',
    ]),
    arp: newArpStats(),
    igmp: zeros(['received', 'malformed', 'invalid', 'queriesReceived', 'reportsSent', 'leavesSent']),
    link: zeros(['received', 'sent', 'malformed', 'notForUs', 'unknownEthertype', 'tooBig', 'rxQueueDrops']),
    gro: zeros(['coalesced', 'runs']),
  };
}
