/**
 * A neighbour cache (the state machine of RFC 1122 §2.3.2.1 and RFC 4861 §7.3.2, as
 * Linux's neigh_* code shapes it): per interface, a bounded map from a protocol
 * address to a link-layer address. It is the mechanism; a resolution protocol plugs
 * in through `NeighborCacheEnv` (`sendRequest`): ARP for IPv4 (src/ip/arp.ts), and
 * Neighbor Discovery for IPv6 later. Addresses are keys of type `A` (a number for
 * IPv4; IPv6 will key by a string).
 *
 * States:
 * - 'incomplete': we asked (broadcast request) and wait; packets for the neighbour
 *   queue here (bounded per neighbour and in total). Requests are retried every
 *   `retransTime` up to `maxProbes` times; then the entry is dropped and the queued
 *   packets are handed to `resolutionFailed` (the stack answers ICMP host unreachable,
 *   RFC 1122 §2.3.2.2).
 * - 'reachable': confirmed by a reply within `reachableTime`.
 * - 'stale': usable, but not confirmed recently. Using a stale entry starts a
 *   unicast re-probe ('probe'); entries nobody uses for `gcStaleTime` are removed.
 * - 'probe': still used for sending while unicast requests confirm it; if they all go
 *   unanswered the entry is removed and the next packet resolves afresh.
 *
 * Flood safety: entries are only created for addresses we need to reach or for the
 * sender of a request aimed at one of our own addresses (RFC 826 "merge" rule);
 * everything else, unsolicited replies included (Linux arp_accept=0), only updates
 * existing entries. The table has a hard cap; when full, the least recently used
 * non-incomplete entry is evicted, or the new one refused. An entry made for a
 * stranger's request may only evict another entry we never sent through, so a flood of
 * requests from spoofed senders cannot push out the gateway's (or any neighbour in use).
 */
import type { Rng } from '../rand/rng.ts';
import type { Instant } from '../time/instant.ts';
import { millis, seconds } from '../time/instant.ts';
import type { Timer, TimerQueue } from '../time/timers.ts';
import type { MacAddress } from '../wire/address.ts';
import { macEquals } from '../wire/address.ts';

export type NeighborState = 'incomplete' | 'reachable' | 'stale' | 'probe';

export interface NeighborConfig {
  /** Hard cap on cache entries per interface. Default 256. */
  maxEntries: number;
  /** Time between requests while resolving. Default 1 s (Linux retrans_time_ms). */
  retransTime: number;
  /** Broadcast requests before resolution fails. Default 3 (Linux mcast_solicit). */
  maxProbes: number;
  /** Unicast re-probes of a stale entry in use. Default 3 (Linux ucast_solicit). */
  maxUnicastProbes: number;
  /** How long a confirmed entry stays 'reachable'. Default 30 s. */
  reachableTime: number;
  /** An unused stale entry is removed after this. Default 60 s (Linux gc_stale_time). */
  gcStaleTime: number;
  /** Packets queued for one unresolved neighbour. Default 256. */
  queuePerNeighbor: number;
  /** Bytes queued for one unresolved neighbour. Default 128 KiB. */
  queueBytesPerNeighbor: number;
  /** Bytes queued awaiting resolution across all neighbours of the interface. Default 512 KiB. */
  queueBytesTotal: number;
}

export const DEFAULT_NEIGHBOR_CONFIG: NeighborConfig = {
  maxEntries: 256,
  retransTime: seconds(1),
  maxProbes: 3,
  maxUnicastProbes: 3,
  reachableTime: seconds(30),
  gcStaleTime: seconds(60),
  queuePerNeighbor: 256,
  queueBytesPerNeighbor: 128 * 1024,
  queueBytesTotal: 512 * 1024,
};

export interface NeighborStats {
  requestsSent: number;
  repliesSent: number;
  requestsReceived: number;
  repliesReceived: number;
  /** Packets dropped because the per-neighbour or total queue bound was reached. */
  queueDrops: number;
  /** Resolutions that failed after all retries. */
  resolutionFailures: number;
  /** Packets dropped because their neighbour never resolved. */
  unresolvedDrops: number;
  /**
   * New entries refused: the cache was full of incomplete entries (or, for a stranger's
   * request, of entries in use).
   */
  cacheFull: number;
  /** Entries evicted to make room. */
  evictions: number;
  /**
   * Resolution packets ignored: bad sender (broadcast, multicast or all-zero MAC; broadcast,
   * multicast or loopback address).
   */
  badSender: number;
  /** Malformed or unsupported resolution packets. */
  malformed: number;
  /** Another host claims one of our addresses. */
  conflicts: number;
  /** Replies for a neighbour we have no entry for: ignored (Linux arp_accept=0). */
  unsolicitedReplies: number;
}

export function newNeighborStats(): NeighborStats {
  return {
    requestsSent: 0,
    repliesSent: 0,
    requestsReceived: 0,
    repliesReceived: 0,
    queueDrops: 0,
    resolutionFailures: 0,
    unresolvedDrops: 0,
    cacheFull: 0,
    evictions: 0,
    badSender: 0,
    malformed: 0,
    conflicts: 0,
    unsolicitedReplies: 0,
  };
}

/** A packet waiting for resolution: opaque to the cache apart from its size. */
export interface QueuedPacket {
  readonly bytes: Uint8Array;
}

export interface NeighborCacheEnv<A, P extends QueuedPacket> {
  now(): Instant;
  readonly timers: TimerQueue;
  /** Sends a resolution request for `target` (ARP request, NDP solicitation); broadcast, or unicast to `to` when re-probing. */
  sendRequest(target: A, to: MacAddress | undefined): void;
  /** Sends a packet now that its neighbour's MAC is known. */
  transmit(mac: MacAddress, packet: P): void;
  /** Resolution of `target` failed: these packets will never be sent. */
  resolutionFailed(target: A, packets: readonly P[]): void;
  readonly stats: NeighborStats;
}

class Entry<A, P> {
  readonly ip: A;
  state: NeighborState;
  mac: MacAddress | undefined;
  /** Requests sent in the current resolution/probe round. */
  probes = 0;
  /** When the entry was last confirmed (reachable) or last changed state. */
  updated: Instant;
  lastUsed: Instant;
  queue: P[] = [];
  queueBytes = 0;
  /** We sent (or queued) through this entry: a neighbour in use. */
  used = false;
  timer: Timer;
  constructor(ip: A, state: NeighborState, now: Instant, timer: Timer) {
    this.ip = ip;
    this.state = state;
    this.updated = now;
    this.lastUsed = now;
    this.timer = timer;
  }
}

export interface NeighborInfo<A> {
  readonly ip: A;
  readonly state: NeighborState;
  readonly mac: MacAddress | undefined;
  readonly queued: number;
}

export class NeighborCache<A extends number | string, P extends QueuedPacket> {
  readonly config: NeighborConfig;
  readonly #env: NeighborCacheEnv<A, P>;
  readonly #entries = new Map<A, Entry<A, P>>();
  #queuedBytes = 0;

  constructor(env: NeighborCacheEnv<A, P>, config: Partial<NeighborConfig> = {}, _rng?: Rng) {
    this.#env = env;
    this.config = { ...DEFAULT_NEIGHBOR_CONFIG, ...config };
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Bytes of packets waiting for resolution on this interface. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get(ip: A): NeighborInfo<A> | undefined {
    const e = this.#entries.get(ip);
    if (!e) return undefined;
    return { ip: e.ip, state: e.state, mac: e.mac, queued: e.queue.length };
  }

  entries(): NeighborInfo<A>[] {
    return [...this.#entries.values()].map((e) => ({
      ip: e.ip,
      state: e.state,
      mac: e.mac,
      queued: e.queue.length,
    }));
  }

  /**
   * Sends `packet` to `ip` on this link: now when the MAC is known, otherwise queued
   * while resolution runs. Returns false when the packet was dropped (queue full or
   * cache full), after counting it.
   */
  send(ip: A, packet: P): boolean {
    const mac = this.resolved(ip);
    if (mac !== undefined) {
      this.#env.transmit(mac, packet);
      return true;
    }
    const now = this.#env.now();
    let e = this.#entries.get(ip);
    if (!e) {
      const created = this.#create(ip, 'incomplete', now, true);
      if (!created) {
        this.#env.stats.queueDrops++;
        return false;
      }
      e = created;
      e.used = true;
      this.#enqueue(e, packet);
      e.probes = 1;
      this.#env.stats.requestsSent++;
      this.#env.sendRequest(ip, undefined);
      e.timer.set(now + this.config.retransTime);
      return true;
    }
    return this.#enqueue(e, packet);
  }

  /**
   * The MAC to send to `ip` right now, when it is known (reachable, stale or probe),
   * with the bookkeeping of a send (last use; a stale entry starts its re-probe).
   * Undefined: the caller must `send` (which queues and resolves). This is `send`'s
   * fast path without a packet object, so the IP layer can write the Ethernet header
   * into a frame it already holds.
   */
  resolved(ip: A): MacAddress | undefined {
    const e = this.#entries.get(ip);
    if (e === undefined || e.state === 'incomplete' || !e.mac) return undefined;
    const now = this.#env.now();
    e.lastUsed = now;
    e.used = true;
    if (e.state === 'stale') this.#startProbe(e, now);
    return e.mac;
  }

  /**
   * Learns from a resolution packet (ARP: RFC 826 "Packet Reception"). `forUs` is true when the
   * target protocol address is one of ours; `solicitedReply` when it is a reply.
   * Returns nothing: replies to requests are the caller's job.
   */
  learn(senderIp: A, senderMac: MacAddress, forUs: boolean, isReply: boolean): void {
    const now = this.#env.now();
    const e = this.#entries.get(senderIp);
    // RFC 826: "If the pair <protocol type, sender protocol address> is already in my
    // translation table, update the sender hardware address field of the entry with the
    // new information in the packet and set Merge_flag to true."
    if (e) {
      const changed = e.mac === undefined || !macEquals(e.mac, senderMac);
      e.mac = senderMac.slice(0, 6);
      if (isReply && forUs) this.#confirm(e, now);
      else if (e.state === 'incomplete') this.#confirm(e, now);
      else if (changed) this.#makeStale(e, now);
      return;
    }
    // RFC 826: "?Am I the target protocol address? ... If Merge_flag is false, add the
    // triplet <protocol type, sender protocol address, sender hardware address> to the
    // translation table." Unsolicited traffic not aimed at us never creates entries, and
    // neither does a reply we did not ask for: RFC 826 adds the triplet only on the way to
    // answering a request ("Is the opcode ares_op$REQUEST?" follows), and Linux's arp_process
    // creates nothing for an unsolicited reply unless arp_accept is set (default off).
    if (!forUs) return;
    if (isReply) {
      this.#env.stats.unsolicitedReplies++;
      return;
    }
    // Made for a stranger: it may evict only entries we never sent through.
    const created = this.#create(senderIp, 'stale', now, false);
    if (!created) return;
    created.mac = senderMac.slice(0, 6);
    this.#makeStale(created, now);
  }

  /**
   * RFC 4861 §7.2.5, a Neighbor Advertisement for an entry that exists: its Solicited (S)
   * and Override (O) flags and Target Link-Layer Address option (`mac`, when given) decide.
   * Returns false when the advertisement changed nothing (discarded).
   */
  advertised(ip: A, mac: MacAddress | undefined, solicited: boolean, override: boolean): boolean {
    const now = this.#env.now();
    const e = this.#entries.get(ip);
    if (!e) return false;
    if (e.state === 'incomplete') {
      // "If the link layer has addresses and no Target Link-Layer Address option is
      // included, the receiving node SHOULD silently discard the received advertisement."
      if (mac === undefined) return false;
      e.mac = mac.slice(0, 6);
      // "If the advertisement's Solicited flag is set, the state of the entry is set to
      // REACHABLE; otherwise, it is set to STALE." Either way the queued packets go.
      if (solicited) this.#confirm(e, now);
      else this.#makeStale(e, now);
      return true;
    }
    const differs = mac !== undefined && e.mac !== undefined && !macEquals(mac, e.mac);
    if (!override && differs) {
      // "If the Override flag is clear and the supplied link-layer address differs from that
      // in the cache, then ... a. If the state of the entry is REACHABLE, set it to STALE,
      // but do not update the entry in any other way. b. Otherwise, the received
      // advertisement should be ignored".
      if (e.state !== 'reachable') return false;
      this.#makeStale(e, now);
      return true;
    }
    // "If the Override flag is set, or the supplied link-layer address is the same as that
    // in the cache, or no Target Link-Layer Address option was supplied": the address is
    // recorded, and S set makes the entry REACHABLE; S clear with a new address, STALE.
    if (mac !== undefined) e.mac = mac.slice(0, 6);
    if (solicited) this.#confirm(e, now);
    else if (differs) this.#makeStale(e, now);
    return true;
  }

  /** Removes every entry (interface down); queued packets are dropped and counted. */
  flush(): void {
    for (const e of this.#entries.values()) {
      this.#env.stats.unresolvedDrops += e.queue.length;
      this.#dropEntry(e);
    }
  }

  /** `evictInUse`: may a full table make room by evicting an entry we send through? */
  #create(ip: A, state: NeighborState, now: Instant, evictInUse: boolean): Entry<A, P> | undefined {
    if (this.#entries.size >= this.config.maxEntries && !this.#evictOne(evictInUse)) {
      this.#env.stats.cacheFull++;
      return undefined;
    }
    const entry: Entry<A, P> = new Entry<A, P>(
      ip,
      state,
      now,
      this.#env.timers.timer((t) => this.#onTimer(entry, t)),
    );
    this.#entries.set(ip, entry);
    return entry;
  }

  /** Evicts the least recently used resolved entry (in use only when `inUse`); false when none may go. */
  #evictOne(inUse: boolean): boolean {
    let victim: Entry<A, P> | undefined;
    for (const e of this.#entries.values()) {
      if (e.state === 'incomplete' || (e.used && !inUse)) continue;
      // Prefer stale entries over reachable ones, then the least recently used.
      if (
        !victim ||
        (victim.state === 'reachable' && e.state !== 'reachable') ||
        ((victim.state === 'reachable') === (e.state === 'reachable') && e.lastUsed < victim.lastUsed)
      )
        victim = e;
    }
    if (!victim) return false;
    this.#env.stats.evictions++;
    this.#dropEntry(victim);
    return true;
  }

  #dropEntry(e: Entry<A, P>): void {
    e.timer.cancel();
    this.#queuedBytes -= e.queueBytes;
    e.queue = [];
    e.queueBytes = 0;
    this.#entries.delete(e.ip);
  }

  #enqueue(e: Entry<A, P>, packet: P): boolean {
    const n = packet.bytes.length;
    if (
      e.queue.length >= this.config.queuePerNeighbor ||
      e.queueBytes + n > this.config.queueBytesPerNeighbor ||
      this.#queuedBytes + n > this.config.queueBytesTotal
    ) {
      this.#env.stats.queueDrops++;
      return false;
    }
    e.queue.push(packet);
    e.queueBytes += n;
    this.#queuedBytes += n;
    return true;
  }

  #confirm(e: Entry<A, P>, now: Instant): void {
    e.state = 'reachable';
    e.updated = now;
    e.probes = 0;
    e.timer.set(now + this.config.reachableTime);
    this.#flushQueue(e);
  }

  #makeStale(e: Entry<A, P>, now: Instant): void {
    e.state = 'stale';
    e.updated = now;
    e.probes = 0;
    e.timer.set(Math.max(now, e.lastUsed) + this.config.gcStaleTime);
    this.#flushQueue(e);
  }

  #startProbe(e: Entry<A, P>, now: Instant): void {
    e.state = 'probe';
    e.probes = 1;
    e.updated = now;
    this.#env.stats.requestsSent++;
    this.#env.sendRequest(e.ip, e.mac);
    e.timer.set(now + this.config.retransTime);
  }

  #flushQueue(e: Entry<A, P>): void {
    if (e.queue.length === 0 || !e.mac) return;
    const q = e.queue;
    e.queue = [];
    this.#queuedBytes -= e.queueBytes;
    e.queueBytes = 0;
    for (const p of q) this.#env.transmit(e.mac, p);
  }

  #onTimer(e: Entry<A, P>, now: Instant): void {
    if (this.#entries.get(e.ip) !== e) return;
    switch (e.state) {
      case 'incomplete': {
        if (e.probes < this.config.maxProbes) {
          e.probes++;
          this.#env.stats.requestsSent++;
          this.#env.sendRequest(e.ip, undefined);
          e.timer.set(now + this.config.retransTime);
          return;
        }
        // RFC 1122 §2.3.2.2: the queue is bounded; when resolution fails the
        // packets are discarded and the sender learns host unreachable.
        const queued = e.queue;
        this.#env.stats.resolutionFailures++;
        this.#env.stats.unresolvedDrops += queued.length;
        this.#dropEntry(e);
        this.#env.resolutionFailed(e.ip, queued);
        return;
      }
      case 'reachable':
        this.#makeStale(e, now);
        return;
      case 'probe': {
        if (e.probes < this.config.maxUnicastProbes) {
          e.probes++;
          this.#env.stats.requestsSent++;
          this.#env.sendRequest(e.ip, e.mac);
          e.timer.set(now + this.config.retransTime);
          return;
        }
        this.#dropEntry(e);
        return;
      }
      case 'stale': {
        const expiry = e.lastUsed + this.config.gcStaleTime;
        if (expiry <= now && e.updated + this.config.gcStaleTime <= now) this.#dropEntry(e);
        else e.timer.set(Math.max(expiry, e.updated + this.config.gcStaleTime, now + millis(1)));
        return;
      }
    }
  }
}
