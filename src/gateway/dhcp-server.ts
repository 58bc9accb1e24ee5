/**
 * A DHCP server (RFC 2131) for a gateway's guest link: one pool, one subnet, no relays.
 * DISCOVER → OFFER, REQUEST → ACK/NAK (selecting, init-reboot, renewing, rebinding),
 * DECLINE, RELEASE, INFORM. Options (RFC 2132): subnet mask, router, DNS, MTU, broadcast
 * address, lease time, T1/T2, server identifier, domain name.
 *
 * The lease table is bounded by the pool: a client holds at most one lease, an offer is
 * held for `offerHoldSeconds`, and an expired lease (or offer) is reused when the pool is
 * otherwise full. Time comes from the stack's clock.
 */
import { IPV4_UNSPECIFIED } from '../ip/ip-address.ts';
import type { Stack } from '../stack.ts';
import type { UdpEndpoint } from '../udp/udp.ts';
import { formatIpv4, type Ipv4Address, prefixMask } from '../wire/address.ts';
import {
  BOOTREPLY,
  BOOTREQUEST,
  DHCP_CLIENT_PORT,
  DHCP_FLAG_BROADCAST,
  DHCP_SERVER_PORT,
  DHCPACK,
  DHCPDECLINE,
  DHCPDISCOVER,
  DHCPINFORM,
  DHCPNAK,
  DHCPOFFER,
  DHCPRELEASE,
  DHCPREQUEST,
  type DhcpOptions,
  type DhcpRepr,
  emitDhcp,
  parseDhcp,
} from '../wire/dhcp.ts';
import { isWireError } from '../wire/error.ts';

export interface DhcpServerConfig {
  /** Our address on the link: the server identifier. */
  serverAddress: Ipv4Address;
  /** The subnet's prefix length (the mask and broadcast address follow). */
  prefix: number;
  /** First address handed out, and how many follow it. */
  poolStart: Ipv4Address;
  poolSize: number;
  /** Default: serverAddress. */
  router?: Ipv4Address;
  dns?: readonly Ipv4Address[];
  mtu?: number;
  domainName?: string;
  /** Seconds; default 86400 (a day, as slirp). */
  leaseTime?: number;
  /** Seconds an offer reserves its address; default 60. */
  offerHoldSeconds?: number;
}

export interface DhcpLease {
  readonly client: string;
  readonly address: Ipv4Address;
  /** 'offered' until the REQUEST, then 'bound'. */
  state: 'offered' | 'bound';
  /** When it ends (µs on the stack's clock). */
  expires: number;
  hostname?: string;
}

export interface DhcpServerStats {
  received: number;
  malformed: number;
  /** Well-formed but not for us: replies, relayed, not Ethernet, unknown type. */
  ignored: number;
  offers: number;
  acks: number;
  naks: number;
  releases: number;
  declines: number;
  informs: number;
  /** A DISCOVER found no free address. */
  poolExhausted: number;
}

/** What to send for one request: the message and where (undefined: the limited broadcast). */
export interface DhcpReply {
  readonly message: Uint8Array;
  readonly repr: DhcpRepr;
  readonly to: Ipv4Address | undefined;
}

const SECOND = 1_000_000;
/** How long a declined address stays out of the pool (RFC 2131 §4.3.3: "mark the network address as not available"). */
const DECLINE_HOLD = 600 * SECOND;

export class DhcpServer {
  readonly config: Required<Omit<DhcpServerConfig, 'domainName'>> & { domainName?: string };
  readonly stats: DhcpServerStats = {
    received: 0,
    malformed: 0,
    ignored: 0,
    offers: 0,
    acks: 0,
    naks: 0,
    releases: 0,
    declines: 0,
    informs: 0,
    poolExhausted: 0,
  };
  /** Called for each lease bound (ACKed): for logs. */
  onLease: ((lease: DhcpLease) => void) | undefined = undefined;
  readonly #now: () => number;
  readonly #byClient = new Map<string, DhcpLease>();
  readonly #byAddress = new Map<Ipv4Address, DhcpLease>();
  /** Declined addresses and until when. */
  readonly #declined = new Map<Ipv4Address, number>();
  #ep: UdpEndpoint | undefined;

  /**
   * With a stack: listens on its UDP port 67 (bind needs a privileged stack). Without one
   * (`now` given): only `handle`, for tests of the protocol alone.
   */
  constructor(config: DhcpServerConfig, host: { stack: Stack } | { now: () => number }) {
    if (!(config.poolSize >= 1 && config.poolSize <= 65536))
      throw new RangeError('poolSize must be 1..65536');
    if (!(config.prefix >= 0 && config.prefix <= 30)) throw new RangeError('prefix must be 0..30');
    this.config = {
      ...config,
      router: config.router ?? config.serverAddress,
      dns: config.dns ?? [],
      mtu: config.mtu ?? 1500,
      leaseTime: config.leaseTime ?? 86400,
      offerHoldSeconds: config.offerHoldSeconds ?? 60,
    };
    if ('stack' in host) {
      const stack = host.stack;
      this.#now = () => stack.clock.now();
      const ep = stack.udp.open();
      ep.broadcast = true;
      stack.udp.bind(ep, IPV4_UNSPECIFIED, DHCP_SERVER_PORT);
      ep.onReadable = () => this.#drain();
      this.#ep = ep;
    } else {
      this.#now = host.now;
    }
  }

  close(): void {
    this.#ep?.close();
    this.#ep = undefined;
  }

  /** Leases and offers now held. */
  leases(): DhcpLease[] {
    return [...this.#byClient.values()];
  }

  #drain(): void {
    const ep = this.#ep;
    if (!ep) return;
    // Bounded: at most what is queued now.
    for (let n = ep.queue.length; n > 0; n--) {
      const d = ep.recv();
      if (!d) break;
      if (d.srcPort !== DHCP_CLIENT_PORT) {
        this.stats.ignored++;
        continue;
      }
      const reply = this.handle(d.data);
      if (!reply) continue;
      const to = reply.to ?? 0xffffffff;
      try {
        ep.sendto(reply.message, { family: 4, v4: to }, DHCP_CLIENT_PORT);
      } catch {
        // No route to the client (not ours to fix): the client retransmits.
      }
    }
  }

  /** Processes one request; returns the reply to send, if any. */
  handle(bytes: Uint8Array): DhcpReply | undefined {
    const st = this.stats;
    st.received++;
    const p = parseDhcp(bytes);
    if (isWireError(p)) {
      st.malformed++;
      return undefined;
    }
    const m = p.repr;
    // Deviation: no relay agents (giaddr) and only Ethernet clients: a guest link has neither.
    if (m.op !== BOOTREQUEST || m.htype !== 1 || m.hlen !== 6 || m.giaddr !== 0) {
      st.ignored++;
      return undefined;
    }
    const now = this.#now();
    const client = clientKey(m);
    switch (m.options.messageType) {
      case DHCPDISCOVER:
        return this.#discover(m, client, now);
      case DHCPREQUEST:
        return this.#request(m, client, now);
      case DHCPDECLINE: {
        // RFC 2131 §4.3.3: the client found the address in use.
        const l = this.#byClient.get(client);
        if (l && m.options.serverId === this.config.serverAddress && m.options.requestedIp === l.address) {
          st.declines++;
          this.#drop(l);
          this.#declined.set(l.address, now + DECLINE_HOLD);
        } else st.ignored++;
        return undefined;
      }
      case DHCPRELEASE: {
        // RFC 2131 §4.3.4: "the server marks the network address as not allocated".
        const l = this.#byClient.get(client);
        if (l && l.address === m.ciaddr) {
          st.releases++;
          this.#drop(l);
        } else st.ignored++;
        return undefined;
      }
      case DHCPINFORM:
        // RFC 2131 §4.3.5: configuration only, "MUST NOT send a lease expiration time ... and
        // SHOULD NOT fill in 'yiaddr'"; sent to ciaddr.
        if (m.ciaddr === 0) {
          st.ignored++;
          return undefined;
        }
        st.informs++;
        return this.#reply(m, DHCPACK, 0, false, m.ciaddr);
      default:
        st.ignored++;
        return undefined;
    }
  }

  #discover(m: DhcpRepr, client: string, now: number): DhcpReply | undefined {
    const addr = this.#choose(client, m.options.requestedIp, now);
    if (addr === undefined) {
      this.stats.poolExhausted++;
      return undefined;
    }
    let l = this.#byClient.get(client);
    if (!l || l.address !== addr) {
      if (l) this.#drop(l);
      l = { client, address: addr, state: 'offered', expires: 0 };
      this.#byClient.set(client, l);
      this.#byAddress.set(addr, l);
    }
    // RFC 2131 §4.3.1: the server "need not reserve the address" but should avoid offering it twice.
    if (l.state === 'offered') l.expires = now + this.config.offerHoldSeconds * SECOND;
    this.stats.offers++;
    return this.#reply(m, DHCPOFFER, addr, true, undefined);
  }

  #request(m: DhcpRepr, client: string, now: number): DhcpReply | undefined {
    const o = m.options;
    const l = this.#byClient.get(client);
    if (o.serverId !== undefined) {
      // SELECTING (RFC 2131 §4.3.2): the client chose a server.
      if (o.serverId !== this.config.serverAddress) {
        // "the server ... SHOULD ... notice that the client has chosen another server".
        if (l?.state === 'offered') this.#drop(l);
        this.stats.ignored++;
        return undefined;
      }
      if (!l || o.requestedIp !== l.address || (l.state === 'offered' && l.expires <= now))
        return this.#nak(m, 'no offer for that address');
      return this.#ack(m, l, now);
    }
    if (o.requestedIp !== undefined) {
      // INIT-REBOOT: "If the client's 'requested IP address' is incorrect or on the wrong
      // network, the server SHOULD send a DHCPNAK".
      const want = o.requestedIp;
      if (!this.#inPool(want)) return this.#nak(m, 'wrong network');
      if (l && l.address === want) return this.#ack(m, l, now);
      const holder = this.#byAddress.get(want);
      if (holder && holder.expires > now) return this.#nak(m, 'address in use');
      // Deviation: RFC 2131 says a server with no record of the client "MUST remain silent";
      // as the only server on a guest link we lease the free address instead (as slirp does).
      if (this.#declined.has(want) && this.#declined.get(want)! > now)
        return this.#nak(m, 'address declined');
      if (holder) this.#drop(holder);
      if (l) this.#drop(l);
      const nl: DhcpLease = { client, address: want, state: 'offered', expires: now };
      this.#byClient.set(client, nl);
      this.#byAddress.set(want, nl);
      return this.#ack(m, nl, now);
    }
    // RENEWING (unicast) or REBINDING (broadcast): ciaddr is the client's address.
    if (m.ciaddr === 0) {
      this.stats.ignored++;
      return undefined;
    }
    if (!l || l.address !== m.ciaddr || l.state !== 'bound') return this.#nak(m, 'no such lease');
    return this.#ack(m, l, now);
  }

  #ack(m: DhcpRepr, l: DhcpLease, now: number): DhcpReply {
    l.state = 'bound';
    l.expires = now + this.config.leaseTime * SECOND;
    if (m.options.hostname !== undefined) l.hostname = m.options.hostname;
    this.stats.acks++;
    this.onLease?.(l);
    return this.#reply(m, DHCPACK, l.address, true, m.ciaddr !== 0 ? m.ciaddr : undefined);
  }

  #nak(m: DhcpRepr, why: string): DhcpReply {
    this.stats.naks++;
    // RFC 2131 §4.1: "In all cases, when 'giaddr' is zero, the server broadcasts any DHCPNAK messages".
    const repr: DhcpRepr = {
      ...replyHeader(m),
      options: { messageType: DHCPNAK, serverId: this.config.serverAddress, message: why },
    };
    return { repr, message: emitDhcp(repr), to: undefined };
  }

  #reply(
    m: DhcpRepr,
    type: number,
    yiaddr: Ipv4Address,
    lease: boolean,
    ciaddr: Ipv4Address | undefined,
  ): DhcpReply {
    const c = this.config;
    const mask = prefixMask(c.prefix);
    const options: DhcpOptions = {
      messageType: type,
      serverId: c.serverAddress,
      subnetMask: mask,
      routers: [c.router],
      dns: c.dns,
      broadcast: (c.serverAddress | ~mask) >>> 0,
      mtu: c.mtu,
      ...(c.domainName !== undefined ? { domainName: c.domainName } : {}),
      ...(lease
        ? {
            leaseTime: c.leaseTime,
            // RFC 2131 §4.4.5: T1 defaults to 0.5 and T2 to 0.875 of the lease.
            renewalTime: Math.floor(c.leaseTime / 2),
            rebindingTime: Math.floor((c.leaseTime * 7) / 8),
          }
        : {}),
    };
    const repr: DhcpRepr = { ...replyHeader(m), ciaddr: type === DHCPACK ? m.ciaddr : 0, yiaddr, options };
    // RFC 2131 §4.1: to 'ciaddr' when set; else broadcast if the client asked for it.
    // Deviation: otherwise RFC 2131 unicasts to 'chaddr'/'yiaddr' without ARP; we broadcast
    // (allowed for clients that cannot take unicast, and every client takes a broadcast).
    const to = ciaddr !== undefined && !(m.flags & DHCP_FLAG_BROADCAST) ? ciaddr : undefined;
    return { repr, message: emitDhcp(repr), to };
  }

  #inPool(a: Ipv4Address): boolean {
    const off = (a - this.config.poolStart) >>> 0;
    return off < this.config.poolSize;
  }

  /** The client's address, the one it asks for if free, else the first free (or expired) one. */
  #choose(client: string, requested: Ipv4Address | undefined, now: number): Ipv4Address | undefined {
    const mine = this.#byClient.get(client);
    if (mine) return mine.address;
    const free = (a: Ipv4Address): boolean => {
      if (a === this.config.serverAddress || a === this.config.router) return false;
      if (this.config.dns.includes(a)) return false;
      const d = this.#declined.get(a);
      if (d !== undefined) {
        if (d > now) return false;
        this.#declined.delete(a);
      }
      const l = this.#byAddress.get(a);
      if (!l) return true;
      if (l.expires > now) return false;
      this.#drop(l); // expired: reuse
      return true;
    };
    if (requested !== undefined && this.#inPool(requested) && free(requested)) return requested;
    const { poolStart, poolSize } = this.config;
    for (let i = 0; i < poolSize; i++) {
      const a = (poolStart + i) >>> 0;
      if (free(a)) return a;
    }
    return undefined;
  }

  #drop(l: DhcpLease): void {
    if (this.#byClient.get(l.client) === l) this.#byClient.delete(l.client);
    if (this.#byAddress.get(l.address) === l) this.#byAddress.delete(l.address);
  }

  /** A lease as text (logs). */
  static describe(l: DhcpLease): string {
    return `${formatIpv4(l.address)} ${l.state} to ${l.client}${l.hostname ? ` (${l.hostname})` : ''}`;
  }
}

/** RFC 2131 §4.2: the client is named by its client identifier, else by 'chaddr'. */
function clientKey(m: DhcpRepr): string {
  const id = m.options.clientId;
  const bytes = id ?? m.chaddr.subarray(0, m.hlen);
  let s = id ? 'id:' : 'hw:';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** The fixed fields of a reply (RFC 2131 Table 3). */
function replyHeader(m: DhcpRepr): Omit<DhcpRepr, 'options'> {
  return {
    op: BOOTREPLY,
    htype: m.htype,
    hlen: m.hlen,
    hops: 0,
    xid: m.xid,
    secs: 0,
    flags: m.flags,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: m.giaddr,
    chaddr: m.chaddr,
  };
}
