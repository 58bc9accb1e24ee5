/**
 * ARP (RFC 826) for IPv4 over Ethernet: one protocol over the neighbour cache of
 * src/ip/neighbor.ts. `ArpCache` is that cache keyed by IPv4 address (with ARP's
 * names for its configuration and counters); `Arp` sends requests, replies and
 * announcements and learns from the ARP packets an interface receives.
 */
import type { Rng } from '../rand/rng.ts';
import type { Instant } from '../time/instant.ts';
import type { TimerQueue } from '../time/timers.ts';
import {
  type Ipv4Address,
  isIpv4Loopback,
  isIpv4Multicast,
  isMacMulticast,
  MAC_BROADCAST,
  MAC_ZERO,
  type MacAddress,
  macEquals,
} from '../wire/address.ts';
import { ARP_LEN, ARP_OP_REPLY, ARP_OP_REQUEST, emitArp, parseArp } from '../wire/arp.ts';
import { isWireError } from '../wire/error.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4 } from '../wire/ethernet.ts';
import type { LinkLayer } from './ethernet.ts';
import type { NetInterface, PendingPacket } from './interface.ts';
import {
  DEFAULT_NEIGHBOR_CONFIG,
  NeighborCache,
  type NeighborCacheEnv,
  type NeighborConfig,
  type NeighborStats,
  newNeighborStats,
  type QueuedPacket,
} from './neighbor.ts';

export type { NeighborInfo, NeighborState, QueuedPacket } from './neighbor.ts';

export type ArpConfig = NeighborConfig;
export type ArpStats = NeighborStats;
export type ArpCacheEnv<P extends QueuedPacket> = NeighborCacheEnv<Ipv4Address, P>;
export const DEFAULT_ARP_CONFIG: ArpConfig = DEFAULT_NEIGHBOR_CONFIG;
export const newArpStats: () => ArpStats = newNeighborStats;

/** The neighbour cache of one interface, keyed by IPv4 address and resolved by ARP. */
export class ArpCache<P extends QueuedPacket> extends NeighborCache<Ipv4Address, P> {
  constructor(env: ArpCacheEnv<P>, config: Partial<ArpConfig> = {}, rng?: Rng) {
    super(env, config, rng);
  }
}

export interface ArpEnv {
  now(): Instant;
  readonly timers: TimerQueue;
  readonly stats: ArpStats;
  readonly link: LinkLayer;
  /** Resolution failed: these IPv4 datagrams will never be sent (the sender learns host unreachable). */
  resolutionFailed(packets: readonly PendingPacket[]): void;
}

/** ARP on a stack's Ethernet interfaces. */
export class Arp {
  readonly #env: ArpEnv;
  readonly #config: Partial<ArpConfig> | undefined;

  constructor(env: ArpEnv, config?: Partial<ArpConfig>) {
    this.#env = env;
    this.#config = config;
    env.link.register(ETHERTYPE_ARP, (iface, bytes) => this.input(iface, bytes));
  }

  /** Gives an Ethernet interface its neighbour cache. */
  attach(iface: NetInterface): void {
    const env = this.#env;
    iface.arp = new ArpCache<PendingPacket>(
      {
        now: () => env.now(),
        timers: env.timers,
        stats: env.stats,
        sendRequest: (target, to) => this.#send(iface, ARP_OP_REQUEST, target, to ?? MAC_BROADCAST, to),
        transmit: (dstMac, p) => env.link.transmit(iface, dstMac, ETHERTYPE_IPV4, p.bytes, p.frame),
        resolutionFailed: (_target, packets) => env.resolutionFailed(packets),
      },
      this.#config,
    );
  }

  /** Gratuitous ARP (RFC 5227 §3 "ARP Announcement"): sender = target = the new address. */
  announce(iface: NetInterface, address: Ipv4Address): void {
    this.#send(iface, ARP_OP_REQUEST, address, MAC_BROADCAST, undefined, address);
  }

  #send(
    iface: NetInterface,
    op: typeof ARP_OP_REQUEST | typeof ARP_OP_REPLY,
    targetIp: Ipv4Address,
    frameDst: MacAddress,
    targetMac: MacAddress | undefined,
    senderIp?: Ipv4Address,
  ): void {
    const sip = senderIp ?? iface.addressFor(targetIp) ?? iface.primaryAddress;
    if (sip === undefined) return;
    const body = new Uint8Array(ARP_LEN);
    emitArp({ op, senderMac: iface.mac, senderIp: sip, targetMac: targetMac ?? MAC_ZERO, targetIp }, body);
    this.#env.link.transmit(iface, frameDst, ETHERTYPE_ARP, body);
  }

  /** An ARP packet received on `iface`. */
  input(iface: NetInterface, bytes: Uint8Array): void {
    const stats = this.#env.stats;
    const p = parseArp(bytes);
    if (isWireError(p)) {
      stats.malformed++;
      return;
    }
    const a = p.repr;
    if (a.op === ARP_OP_REQUEST) stats.requestsReceived++;
    else stats.repliesReceived++;
    const sip = a.senderIp;
    // A broadcast, multicast or all-zero sender MAC is no station's address: never learnt.
    if (
      isMacMulticast(a.senderMac) ||
      macEquals(a.senderMac, MAC_ZERO) ||
      sip === 0xffffffff ||
      isIpv4Multicast(sip) ||
      isIpv4Loopback(sip)
    ) {
      stats.badSender++;
      return;
    }
    if (!iface.arp) return; // not an Ethernet interface of ours
    const forUs = iface.hasAddress(a.targetIp);
    if (sip !== 0) {
      if (iface.hasAddress(sip)) {
        // Someone else claims our address (RFC 5227 §2.4 conflict); never learn it.
        if (!macEquals(a.senderMac, iface.mac)) stats.conflicts++;
        return;
      }
      iface.arp.learn(sip, a.senderMac, forUs, a.op === ARP_OP_REPLY);
    }
    // RFC 826: "Is the opcode ares_op$REQUEST? If so, swap fields, putting the local
    // hardware and protocol addresses in the sender fields ... send the packet to the
    // (new) target hardware address on the same hardware on which the request was received."
    if (a.op === ARP_OP_REQUEST && forUs) {
      stats.repliesSent++;
      this.#send(iface, ARP_OP_REPLY, sip, a.senderMac, a.senderMac, a.targetIp);
    }
  }
}
