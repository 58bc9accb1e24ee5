import type { ReassemblyStats } from './stats.ts';

/**
 * Counters of the IPv6 layer, NDP, SLAAC and MLD (names after RFC 4293's ipv6 rows
 * where one exists). Every dropped packet increments exactly one drop counter.
 */
export interface Ipv6Stats extends ReassemblyStats {
  received: number;
  /** Too short, bad version, Payload Length past the frame. */
  malformed: number;
  /** Extension header chain truncated, malformed or longer than the bound. */
  badExtHeaders: number;
  /** Source multicast, or loopback / our own address from the wire. */
  badSource: number;
  notForUs: number;
  /** Arrived on an interface where IPv6 is not enabled. */
  disabled: number;
  delivered: number;
  /** Unknown Next Header (Parameter Problem sent). */
  unknownProtocol: number;
  /** Unknown option whose action is to discard. */
  badOptions: number;
  /** Routing header type 0 (RFC 5095) or another unknown type with segments left. */
  badRouting: number;
  forwarded: number;
  hopLimitExceeded: number;
  noRoute: number;
  /** Too big for the next link while forwarding (Packet Too Big sent). */
  tooBig: number;
  sent: number;
  fragOk: number;
  fragCreates: number;
  fragFails: number;
  interfaceDown: number;
  /** Dropped on output, and to forward with a wrong TCP/UDP checksum (as IpStats.outDiscards). */
  outDiscards: number;
  icmpIn: number;
  icmpInErrors: number;
  icmpBadChecksum: number;
  icmpOut: number;
  icmpErrorsSent: number;
  icmpRateLimited: number;
  icmpErrorsSuppressed: number;
  echoRepliesSent: number;
  // NDP (RFC 4861)
  ndpMalformed: number;
  /** NDP with hop limit other than 255 (RFC 4861 §6.1, §7.1). */
  ndpBadHopLimit: number;
  ndpInvalid: number;
  nsReceived: number;
  naReceived: number;
  nsSent: number;
  naSent: number;
  rsReceived: number;
  raReceived: number;
  rsSent: number;
  raSent: number;
  /** Unsolicited NAs for neighbours we have no entry for (no entry created, RFC 4861 §7.2.5). */
  unsolicitedNa: number;
  /** NAs that changed nothing (RFC 4861 §7.2.5: O clear with another address, or no address for an INCOMPLETE entry). */
  naIgnored: number;
  /** Redirects that passed RFC 4861 §8.1 and changed where a destination's packets go. */
  redirectsAccepted: number;
  /** Redirects dropped: not from the destination's first-hop router, a bad target, or we route. */
  redirectsIgnored: number;
  /** Routers, prefixes or addresses an RA would have added past their bounds. */
  raBoundDrops: number;
  // SLAAC (RFC 4862)
  dadStarted: number;
  dadSucceeded: number;
  /** Addresses found duplicate (not used). */
  dadConflicts: number;
  slaacAddresses: number;
  // MLD (RFC 3810)
  mldReportsSent: number;
  mldQueriesReceived: number;
}

export function newIpv6Stats(): Ipv6Stats {
  const keys: (keyof Ipv6Stats)[] = [
    'received',
    'malformed',
    'badExtHeaders',
    'badSource',
    'notForUs',
    'disabled',
    'delivered',
    'unknownProtocol',
    'badOptions',
    'badRouting',
    'forwarded',
    'hopLimitExceeded',
    'noRoute',
    'tooBig',
    'sent',
    'fragOk',
    'fragCreates',
    'fragFails',
    'reasmRequired',
    'reasmOk',
    'reasmFails',
    'reasmTimeouts',
    'reasmOverlaps',
    'reasmEvictions',
    'reasmMalformed',
    'interfaceDown',
    'outDiscards',
    'icmpIn',
    'icmpInErrors',
    'icmpBadChecksum',
    'icmpOut',
    'icmpErrorsSent',
    'icmpRateLimited',
    'icmpErrorsSuppressed',
    'echoRepliesSent',
    'ndpMalformed',
    'ndpBadHopLimit',
    'ndpInvalid',
    'nsReceived',
    'naReceived',
    'nsSent',
    'naSent',
    'rsReceived',
    'raReceived',
    'rsSent',
    'raSent',
    'unsolicitedNa',
    'naIgnored',
    'redirectsAccepted',
    'redirectsIgnored',
    'raBoundDrops',
    'dadStarted',
    'dadSucceeded',
    'dadConflicts',
    'slaacAddresses',
    'mldReportsSent',
    'mldQueriesReceived',
  ];
  const s = {} as Ipv6Stats;
  for (const k of keys) s[k] = 0;
  return s;
}
