/**
 * A user-mode gateway for one guest link (a VM's NIC): a stack whose guest interface is
 * transparent (every destination is ours), with
 * - a DHCP server (dhcp-server.ts) handing out the address plan,
 * - a DNS forwarder (dns-forwarder.ts) on the DNS address,
 * - NAT by termination: the guest's TCP connections to any address are accepted by a
 *   catch-all listener and spliced (splice.ts) to host connections a `Dialer` opens; the
 *   SYN is answered only once the host side connected, and refused with a RST when it
 *   could not; UDP flows go out through one host datagram socket per guest (address,
 *   port), forgotten after an idle time; IPv6 the same once the RA names the gateway as the
 *   guest's default router (`ipv6DefaultRoute`),
 * - ICMP echo to any address forwarded from the host (`Dialer.pinger`: ping sockets) where
 *   the host allows it, with the real target's reply; answered by the gateway otherwise,
 * - the host-loopback alias: the gateway's own address stands for the host's 127.0.0.1
 *   (slirp's 10.0.2.2),
 * - inbound port forwards (`forwardToGuest`: a host connection spliced to a guest port),
 * - a destination policy (policy.ts) and a bound on flows, with a log line per refusal.
 *
 * The address plan defaults to slirp's, which QEMU users know: 10.0.2.0/24, gateway and
 * host alias 10.0.2.2, DNS 10.0.2.3, guests from 10.0.2.15.
 */

import type { EchoRequest } from '../ip/icmp.ts';
import type { Device } from '../link/device.ts';
import type { Rng } from '../rand/rng.ts';
import { Stack } from '../stack.ts';
import type { TcpConnection } from '../tcp/connection.ts';
import type { TcpListener } from '../tcp/listen.ts';
import type { Clock } from '../time/clock.ts';
import type { Timer } from '../time/timers.ts';
import {
  formatIp,
  formatIpv4,
  type IpAddress,
  type Ipv4Address,
  ipEquals,
  parseIp,
  parseIpv4,
  parseIpv6,
  prefixMask,
} from '../wire/address.ts';
import { ipv6SamePrefix } from '../wire/ipv6-address.ts';
import type { TcpRepr } from '../wire/tcp.ts';
import { DhcpServer } from './dhcp-server.ts';
import type { Dialer, HostDatagram, HostStream } from './dialer.ts';
import { DnsForwarder } from './dns-forwarder.ts';
import { DestinationPolicy } from './policy.ts';
import { splice } from './splice.ts';

export interface GatewayOptions {
  clock: Clock;
  rng: Rng;
  /** The guest's link (a QEMU stream link, a memory cable end, ...). */
  device: Device;
  dialer: Dialer;
  /** The guest network, default '10.0.2.0/24'. */
  network?: string;
  /** The gateway's address (router, DHCP server, host-loopback alias); default host .2. */
  gateway?: string;
  /** The DNS forwarder's address; default host .3. */
  dns?: string;
  /** First address leased; default host .15; `leases` addresses from there (default 16). */
  dhcpStart?: string;
  leases?: number;
  /** Where the alias goes on the host; default '127.0.0.1'. */
  hostLoopback?: string;
  /**
   * IPv6 for the guest: a /64 (a ULA, 'fd00:0:0:2::/64') advertised in Router
   * Advertisements, from which the guest takes an address by SLAAC (RFC 4862); the
   * gateway is prefix::2 there, the host-loopback alias for `hostLoopback6`. Without it
   * the guest link is IPv4 only.
   */
  ipv6Prefix?: string;
  /** Where the IPv6 alias goes on the host; default '::1'. */
  hostLoopback6?: string;
  /**
   * Advertise the gateway as the guest's IPv6 default router (RA Router Lifetime 1800 s),
   * so the guest's IPv6 to any address comes through it; default false (Router Lifetime 0:
   * only the gateway's own address is reached over IPv6). Offer it when the host has IPv6
   * connectivity: a guest with an IPv6 route and no IPv6 beyond would try IPv6 first and fail.
   */
  ipv6DefaultRoute?: boolean;
  /** The upstream DNS server (host, port); without it no DNS forwarder runs. */
  dnsUpstream?: { host: string; port: number };
  mtu?: number;
  /** Seconds; default 86400. */
  leaseTime?: number;
  /** Allowed / denied destination prefixes (policy.ts; default deny 169.254.0.0/16). */
  allow?: readonly string[];
  deny?: readonly string[];
  /** TCP and UDP flows at most at once (default 1024); more are refused. */
  maxFlows?: number;
  /** Seconds a UDP flow lives without traffic (default 60). */
  udpIdleSeconds?: number;
  /** Forwarded echo requests: per second at most (default 100) and outstanding per guest (default 32). */
  echoRate?: number;
  echoOutstanding?: number;
  /** Seconds a forwarded echo waits for its reply (default 5). */
  echoTimeoutSeconds?: number;
  /** Log lines (refused flows, leases). */
  log?: (line: string) => void;
}

export interface GatewayStats {
  tcpFlows: number;
  udpFlows: number;
  /** Flows now open. */
  activeTcp: number;
  activeUdp: number;
  /** Refused: denied by policy, over the flow limit, or the host refused or failed. */
  refused: number;
  /** Bytes guest → host and host → guest (TCP and UDP payload). */
  bytesOut: number;
  bytesIn: number;
  forwardsIn: number;
  /** Echo requests forwarded out of the host, replies from there, and those dropped (rate, bound, policy). */
  echoForwarded: number;
  echoReplies: number;
  echoDropped: number;
}

interface UdpFlow {
  readonly guest: IpAddress;
  readonly guestPort: number;
  readonly host: HostDatagram;
  /** host:port text → the guest-visible (address, port) it was sent to. */
  readonly peers: Map<string, { addr: IpAddress; port: number }>;
  last: number;
  readonly timer: Timer;
}

interface InboundUdp {
  readonly client: string;
  readonly port: number;
  readonly guest: Ipv4Address;
  readonly guestPort: number;
  readonly reply: (data: Uint8Array) => void;
  last: number;
  readonly timer: Timer;
}

/** Source ports the gateway uses towards the guest for inbound UDP forwards (IANA's dynamic range). */
const INBOUND_PORT_FIRST = 49152;
const INBOUND_PORT_COUNT = 16384;

const SECOND = 1_000_000;
/**
 * Socket buffers of the gateway's guest-side connections. A guest under emulation answers
 * late (RTTs of several ms), and a send buffer is all the data that can be in flight: the
 * default 256 KiB capped a download at about 256 KiB per RTT. Linux autotunes its send
 * buffer up to tcp_wmem[2] (4 MiB) for the same reason, and so do we: a Debian guest opens
 * its window to 1.7 MB and more, and with 2 MiB the buffer held little beyond what was in
 * flight, so the host side was paused and resumed every 256 KiB read: in captures of a
 * guest download the window was open with nothing to send for 60 % of the time with
 * 2 MiB, 25 % with 4 MiB (the rest: the guest's window full, as with passt).
 */
const FLOW_BUFFERS = { sndBuf: 4 * 1024 * 1024, rcvBuf: 1024 * 1024 };
/** How long a dialled host stream waits for the guest's handshake to complete. */
const HANDSHAKE_TIMEOUT = 75 * SECOND;

/** The IPv4 address of `a` (0 for IPv6: where only IPv4 applies, as the inbound forwards). */
function v4(a: IpAddress): Ipv4Address {
  return a.family === 4 ? a.v4 : 0;
}

/** An address as formatIp writes it (hosts may spell IPv6 differently); other text as is. */
function canonical(host: string): string {
  const a = parseIp(host);
  return a ? formatIp(a) : host;
}

interface EchoLimits {
  /** Forwarded echoes per second (a token bucket this deep). */
  readonly rate: number;
  /** Forwarded echoes waiting for a reply, per guest address. */
  readonly outstanding: number;
  /** Microseconds an echo waits for its reply. */
  readonly timeout: number;
}

function need(text: string, what: string): Ipv4Address {
  const a = parseIpv4(text);
  if (a === undefined) throw Object.assign(new Error(`EINVAL: bad ${what} '${text}'`), { code: 'EINVAL' });
  return a;
}

export class Gateway {
  readonly stack: Stack;
  readonly dhcp: DhcpServer;
  readonly dns: DnsForwarder | undefined;
  readonly policy: DestinationPolicy;
  readonly stats: GatewayStats = {
    tcpFlows: 0,
    udpFlows: 0,
    activeTcp: 0,
    activeUdp: 0,
    refused: 0,
    bytesOut: 0,
    bytesIn: 0,
    forwardsIn: 0,
    echoForwarded: 0,
    echoReplies: 0,
    echoDropped: 0,
  };
  readonly address: Ipv4Address;
  readonly dnsAddress: Ipv4Address;
  readonly network: Ipv4Address;
  readonly prefix: number;
  readonly hostLoopback: string;
  /** The gateway's IPv6 address on the guest link (prefix::2), when `ipv6Prefix` was given. */
  readonly address6: Uint8Array | undefined;
  readonly hostLoopback6: string;
  /** The guest's IPv6 prefix (a /64), when `ipv6Prefix` was given. */
  readonly prefix6: Uint8Array | undefined;
  readonly #dialer: Dialer;
  readonly #maxFlows: number;
  readonly #udpIdle: number;
  readonly #log: (line: string) => void;
  readonly #listener: TcpListener;
  /** SYNs held while their host connection is being opened, by 4-tuple. */
  readonly #dialing = new Map<string, true>();
  /** Host streams opened, waiting for their guest connection to be accepted, by 4-tuple. */
  readonly #ready = new Map<string, HostStream>();
  readonly #udp = new Map<string, UdpFlow>();
  /** Inbound UDP forwards: gateway source port → the host client's flow. */
  readonly #inbound = new Map<number, InboundUdp>();
  readonly #inboundByClient = new Map<string, InboundUdp>();
  #nextInboundPort = INBOUND_PORT_FIRST;
  /** The guest address last seen opening a flow (forwards go there when no lease is bound). */
  #lastGuest: Ipv4Address | undefined = undefined;
  readonly #echo: EchoLimits;
  /** Forwarded echoes waiting for their reply, per guest address. */
  readonly #echoPending = new Map<string, number>();
  #echoTokens: number;
  #echoRefilled = 0;

  constructor(o: GatewayOptions) {
    const [netText, prefixText] = (o.network ?? '10.0.2.0/24').split('/');
    const prefix = Number(prefixText ?? '24');
    if (!Number.isInteger(prefix) || prefix < 8 || prefix > 29)
      throw Object.assign(new Error(`EINVAL: network prefix must be /8../29`), { code: 'EINVAL' });
    this.prefix = prefix;
    this.network = (need(netText ?? '', 'network') & prefixMask(prefix)) >>> 0;
    const host = (n: number) => (this.network + n) >>> 0;
    this.address = o.gateway ? need(o.gateway, 'gateway') : host(2);
    this.dnsAddress = o.dns ? need(o.dns, 'DNS address') : host(3);
    this.hostLoopback = o.hostLoopback ?? '127.0.0.1';
    this.hostLoopback6 = o.hostLoopback6 ?? '::1';
    let prefix6: string | undefined;
    if (o.ipv6Prefix !== undefined) {
      const [p6, len6] = o.ipv6Prefix.split('/');
      const a6 = parseIpv6(p6 ?? '');
      // RFC 4862 §5.5.3 (d): SLAAC forms addresses only from /64 prefixes on Ethernet.
      if (a6 === undefined || len6 !== '64')
        throw Object.assign(new Error(`EINVAL: IPv6 prefix must be a /64, not '${o.ipv6Prefix}'`), {
          code: 'EINVAL',
        });
      a6.fill(0, 8);
      this.prefix6 = a6.slice();
      prefix6 = `${formatIp({ family: 6, v6: a6 })}/64`;
      a6[15] = 2;
      this.address6 = a6;
    }
    this.#dialer = o.dialer;
    this.#maxFlows = o.maxFlows ?? 1024;
    this.#udpIdle = (o.udpIdleSeconds ?? 60) * SECOND;
    this.#log = o.log ?? (() => {});
    this.#echo = {
      rate: o.echoRate ?? 100,
      outstanding: o.echoOutstanding ?? 32,
      timeout: (o.echoTimeoutSeconds ?? 5) * SECOND,
    };
    this.#echoTokens = this.#echo.rate;
    this.policy = new DestinationPolicy({ allow: o.allow, deny: o.deny });
    const mtu = o.mtu ?? 1500;
    // Room for many flows' buffers (Linux: tcp_mem); each flow's buffers are FLOW_SNDBUF/RCVBUF.
    this.stack = new Stack({
      clock: o.clock,
      rng: o.rng,
      name: 'gateway',
      privileged: true,
      // A router stack is what sends RAs (RFC 4861 §6.2). Forwarding changes nothing for
      // IPv4 here: the transparent guest interface takes every unicast destination as ours.
      forwarding: this.address6 !== undefined,
      config: {
        tcp: { memoryLimit: 256 * 1024 * 1024 },
        // RFC 4861 §4.2, §6.2.1: Router Lifetime 0 says "not a default router": without
        // `ipv6DefaultRoute` the prefix is for SLAAC and on-link use only, and the guest
        // keeps its IPv4 default route for everything else. With it, AdvDefaultLifetime's
        // default (3 × MaxRtrAdvInterval, 1800 s).
        ...(this.address6 !== undefined
          ? { ipv6: { enable: true, ndp: { routerLifetime: o.ipv6DefaultRoute ? 1800 : 0 } } }
          : {}),
      },
    });
    const addrs = [`${formatIpv4(this.address)}/${prefix}`];
    if (this.dnsAddress !== this.address) addrs.push(`${formatIpv4(this.dnsAddress)}/${prefix}`);
    if (this.address6 !== undefined) addrs.push(`${formatIp({ family: 6, v6: this.address6 })}/64`);
    this.stack.addInterface({ name: 'guest', device: o.device, addresses: addrs, mtu, transparent: true });
    if (prefix6 !== undefined) this.stack.advertiseIpv6Prefix('guest', prefix6);
    this.dhcp = new DhcpServer(
      {
        serverAddress: this.address,
        prefix,
        poolStart: o.dhcpStart ? need(o.dhcpStart, 'DHCP start') : host(15),
        poolSize: o.leases ?? 16,
        router: this.address,
        dns: o.dnsUpstream ? [this.dnsAddress] : [],
        mtu,
        leaseTime: o.leaseTime,
      },
      { stack: this.stack },
    );
    this.dhcp.onLease = (l) => this.#log(`dhcp: ${DhcpServer.describe(l)}`);
    this.dns = o.dnsUpstream
      ? new DnsForwarder(this.stack, this.dnsAddress, o.dnsUpstream, o.dialer)
      : undefined;
    this.#listener = this.stack.tcp.listenAny({ backlog: this.#maxFlows, options: FLOW_BUFFERS });
    this.#listener.onSyn = (src, dst, r) => this.#syn(src, dst, r);
    this.#listener.onAcceptable = () => this.#accept();
    this.stack.udp.catchAll = (info, srcPort, dstPort, data) =>
      info.iface.name === 'guest' && this.#udpOut(info.src, srcPort, info.dst, dstPort, data);
    if (o.dialer.pinger) {
      this.stack.ip.icmp.onEchoRequest = (req) => this.#echoRequest(req);
      this.stack.ip6.icmp.onEchoRequest = (req) => this.#echoRequest(req);
    }
  }

  /** One line: flows, bytes, leases (the CLI prints it). */
  statusLine(): string {
    const s = this.stats;
    return (
      `tcp ${s.activeTcp} open/${s.tcpFlows} total, udp ${s.activeUdp}/${s.udpFlows}, refused ${s.refused}, ` +
      `out ${s.bytesOut} B, in ${s.bytesIn} B, leases ${this.dhcp.leases().filter((l) => l.state === 'bound').length}`
    );
  }

  close(): void {
    this.#listener.close();
    this.dhcp.close();
    this.dns?.close();
    for (const f of this.#udp.values()) this.#dropUdp(f);
    for (const f of this.#inbound.values()) this.#dropInbound(f);
    for (const h of this.#ready.values()) h.destroy();
    this.#ready.clear();
    this.#dialing.clear();
  }

  /** Where a guest destination goes on the host; undefined: nowhere (one of ours, or on the guest link). */
  #hostFor(dst: Ipv4Address): string | undefined {
    if (dst === 0) return undefined;
    if (dst === this.address) return this.hostLoopback;
    if (this.stack.ip.isLocalAddress(dst)) return undefined;
    // Other addresses of the guest network have no one behind the gateway.
    if ((dst & prefixMask(this.prefix)) >>> 0 === this.network) return undefined;
    return formatIpv4(dst);
  }

  /** `#hostFor` for either family: the gateway's IPv6 address is the host's `hostLoopback6`. */
  #hostForAddress(dst: IpAddress): string | undefined {
    if (dst.family === 4) return this.#hostFor(dst.v4);
    if (this.address6 === undefined) return undefined;
    if (ipEquals(dst, { family: 6, v6: this.address6 })) return this.hostLoopback6;
    if (this.stack.ip6.isLocalAddress(dst.v6)) return undefined;
    // Other addresses of the guest's /64 are on the guest link, with no one behind the gateway.
    if (this.prefix6 !== undefined && ipv6SamePrefix(dst.v6, this.prefix6, 64)) return undefined;
    return formatIp(dst);
  }

  /** The gateway's own address of `dst`'s family (the host-loopback alias). */
  #isAlias(dst: IpAddress): boolean {
    return dst.family === 4
      ? dst.v4 === this.address
      : this.address6 !== undefined && ipEquals(dst, { family: 6, v6: this.address6 });
  }

  /** Whether the policy lets the guest reach `dst` (the gateway's own addresses always). */
  #permits(dst: IpAddress): boolean {
    return this.#isAlias(dst) || this.policy.permits(dst);
  }

  #refuse(what: string, why: string): void {
    this.stats.refused++;
    this.#log(`refused ${what}: ${why}`);
  }

  #active(): number {
    return this.stats.activeTcp + this.stats.activeUdp + this.#dialing.size;
  }

  // ------------------------------------------------------------------ TCP

  /** A guest SYN no connection took: dial the host, answer the SYN when that is done. */
  #syn(src: IpAddress, dst: IpAddress, r: TcpRepr): boolean {
    const key = `${formatIp(src)}:${r.srcPort}>${formatIp(dst)}:${r.dstPort}`;
    if (this.#dialing.has(key)) return false; // a retransmitted SYN while we dial
    if (this.#ready.has(key)) return true; // dialled; this SYN opens the connection
    const what = `tcp ${key}`;
    if (src.family === 4) this.#lastGuest = src.v4;
    const host = this.#hostForAddress(dst);
    if (host === undefined) {
      this.#refuse(what, 'no host behind this address');
      this.#listener.refuseSyn(src, dst, r);
      return false;
    }
    if (!this.#permits(dst)) {
      this.#refuse(what, 'destination denied by policy');
      this.#listener.refuseSyn(src, dst, r);
      return false;
    }
    if (this.#active() >= this.#maxFlows) {
      this.#refuse(what, `flow limit ${this.#maxFlows} reached`);
      this.#listener.refuseSyn(src, dst, r);
      return false;
    }
    this.#dialing.set(key, true);
    const syn: TcpRepr = { ...r, options: { ...r.options } };
    this.#dialer.connect(host, r.dstPort).then(
      (hs) => {
        this.#dialing.delete(key);
        if (this.#listener.closed) {
          hs.destroy();
          return;
        }
        hs.pause(); // until the guest's connection is established and spliced
        this.#ready.set(key, hs);
        // If the guest never completes the handshake (or the SYN found no room), the host
        // stream is dropped after the time a SYN-RECEIVED embryo may live.
        const t = this.stack.timers.timer(() => {
          if (this.#ready.get(key) === hs) {
            this.#refuse(what, 'the guest did not complete the handshake');
            this.#dropReady(key);
          }
        });
        t.set(this.stack.clock.now() + HANDSHAKE_TIMEOUT);
        this.#listener.acceptSyn(src, dst, syn);
      },
      (err: Error & { code?: string }) => {
        this.#dialing.delete(key);
        this.#refuse(what, `host ${host}:${r.dstPort}: ${err.code ?? err.message}`);
        // Deviation: every failure is answered with a RST (as passt and slirp do), not only
        // ECONNREFUSED; an ICMP unreachable would tell the guest more for timeouts.
        if (!this.#listener.closed) this.#listener.refuseSyn(src, dst, syn);
      },
    );
    return false;
  }

  #dropReady(key: string): void {
    const hs = this.#ready.get(key);
    if (!hs) return;
    this.#ready.delete(key);
    hs.destroy();
  }

  #accept(): void {
    for (let c = this.#listener.accept(); c; c = this.#listener.accept()) {
      const key = `${formatIp(c.remote.address)}:${c.remote.port}>${formatIp(c.local.address)}:${c.local.port}`;
      const hs = this.#ready.get(key);
      this.#ready.delete(key);
      if (!hs) {
        c.abort();
        continue;
      }
      this.#spliceFlow(c, hs, `tcp ${key}`);
    }
  }

  #spliceFlow(c: TcpConnection, hs: HostStream, what: string): void {
    const s = this.stats;
    s.tcpFlows++;
    s.activeTcp++;
    hs.resume();
    splice(c, hs, s, (err) => {
      s.activeTcp--;
      if (err) this.#log(`${what}: ended: ${err}`);
    });
  }

  /**
   * An inbound port forward: opens a connection from the gateway to `guestPort` on the guest
   * (default: the newest bound DHCP lease, else the guest address last seen opening a flow)
   * and splices `hs` to it; `hs` is destroyed when the guest cannot be reached.
   */
  forwardToGuest(guestPort: number, hs: HostStream, guest?: Ipv4Address): void {
    const leases = this.dhcp.leases().filter((l) => l.state === 'bound');
    const to = guest ?? leases[leases.length - 1]?.address ?? this.#lastGuest;
    const what = `forward host -> guest:${guestPort}`;
    if (to === undefined) {
      this.#refuse(what, 'no guest address known yet (no lease, no flow)');
      hs.destroy();
      return;
    }
    if (this.#active() >= this.#maxFlows) {
      this.#refuse(what, `flow limit ${this.#maxFlows} reached`);
      hs.destroy();
      return;
    }
    hs.pause();
    let c: TcpConnection;
    try {
      c = this.stack.tcp.connect({
        remote: { family: 4, v4: to },
        remotePort: guestPort,
        local: { family: 4, v4: this.address },
        options: FLOW_BUFFERS,
      });
    } catch (e) {
      this.#refuse(what, (e as Error).message);
      hs.destroy();
      return;
    }
    this.stats.forwardsIn++;
    hs.onClose = () => c.abort();
    c.events = {
      onEstablished: () => {
        hs.onClose = undefined;
        this.#spliceFlow(c, hs, `${what} (${formatIpv4(to)})`);
      },
      onClose: (reason) => {
        this.#refuse(what, `guest ${formatIpv4(to)}:${guestPort}: ${reason ?? 'closed'}`);
        hs.destroy();
      },
    };
  }

  // ------------------------------------------------------------------ ICMP echo

  /**
   * A guest's echo request to an address beyond the gateway (the stack offers it before
   * answering, icmp.ts EchoRequest): forwarded out of the host by the dialer's pinger, and
   * the reply the host gets is sent to the guest from the pinged address, with the TTL it
   * arrived with less one (the gateway is a router hop). No reply from the target: none to
   * the guest (as passt). Where the host cannot ping, the stack answers itself, as it did
   * before there were ping sockets. Returns true when the stack should not answer.
   */
  /** Takes a token from the echo bucket (refilled at `echoRate` per second); false when empty. */
  #echoToken(now: number): boolean {
    const rate = this.#echo.rate;
    this.#echoTokens = Math.min(rate, this.#echoTokens + ((now - this.#echoRefilled) * rate) / SECOND);
    this.#echoRefilled = now;
    if (this.#echoTokens < 1) return false;
    this.#echoTokens -= 1;
    return true;
  }

  #echoRequest(req: EchoRequest): boolean {
    const pinger = this.#dialer.pinger;
    if (!pinger || req.iface.name !== 'guest' || this.#isAlias(req.dst)) return false;
    const fam = req.dst.family;
    const host = this.#hostForAddress(req.dst);
    if (host === undefined) return false;
    const what = `icmp echo ${formatIp(req.src)}>${formatIp(req.dst)}`;
    const now = this.stack.clock.now();
    if (!this.policy.permits(req.dst)) {
      this.stats.echoDropped++;
      // Logged within the echo rate, so a flood of denied pings cannot flood the log.
      if (this.#echoToken(now)) this.#refuse(what, 'destination denied by policy');
      return true;
    }
    if (pinger.available(fam) === false) return false;
    // Bounded: a token bucket over the stack's clock, and outstanding echoes per guest.
    const lim = this.#echo;
    const guest = formatIp(req.src);
    const pending = this.#echoPending.get(guest) ?? 0;
    if (pending >= lim.outstanding || !this.#echoToken(now)) {
      // Silently, as a rate-limited router drops: a log line per echo would flood.
      this.stats.echoDropped++;
      return true;
    }
    this.#echoPending.set(guest, pending + 1);
    this.stats.echoForwarded++;
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      timer.cancel();
      const n = (this.#echoPending.get(guest) ?? 1) - 1;
      if (n > 0) this.#echoPending.set(guest, n);
      else this.#echoPending.delete(guest);
      return !this.#listener.closed;
    };
    // The stack's clock bounds the wait (the pinger's own timeout frees its side).
    const timer = this.stack.timers.timer(() => {
      finish();
    });
    timer.set(now + lim.timeout);
    const reply = (ttl: number | undefined): void => {
      if (req.src.family === 4 && req.dst.family === 4)
        this.stack.ip.icmp.sendEchoReply(req.dst.v4, req.src.v4, req.ident, req.seq, req.data, ttl);
      else if (req.src.family === 6 && req.dst.family === 6)
        this.stack.ip6.icmp.sendEchoReply(req.dst.v6, req.src.v6, req.ident, req.seq, req.data, ttl);
    };
    pinger.echo(fam, host, req.data, lim.timeout / 1000).then(
      (r) => {
        if (!finish() || r === undefined) return;
        // A router forwarding the reply decrements it (RFC 1812 §5.3.1, RFC 8200 §3); at 0 it dies.
        if (r.ttl <= 1) return;
        this.stats.echoReplies++;
        reply(r.ttl - 1);
      },
      (err: Error & { code?: string }) => {
        // The host cannot ping (no ping sockets for our group, no helper): answer as before.
        if (!finish()) return;
        this.#log(`${what}: host cannot ping (${err.code ?? err.message}); the gateway answers`);
        reply(undefined);
      },
    );
    return true;
  }

  // ------------------------------------------------------------------ UDP

  /**
   * An inbound UDP forward: `data` from the host client `client` ('addr:port', one flow per
   * client) goes to `guestPort` on the guest from the gateway's address and a port of its
   * own; the guest's answers to that port go to `reply`. Flows end after the idle time.
   */
  forwardDatagramToGuest(
    guestPort: number,
    data: Uint8Array,
    client: string,
    reply: (d: Uint8Array) => void,
    guest?: Ipv4Address,
  ): void {
    let f = this.#inboundByClient.get(client);
    if (!f) {
      const leases = this.dhcp.leases().filter((l) => l.state === 'bound');
      const to = guest ?? leases[leases.length - 1]?.address ?? this.#lastGuest;
      const what = `udp forward ${client} -> guest:${guestPort}`;
      if (to === undefined) {
        this.#refuse(what, 'no guest address known yet (no lease, no flow)');
        return;
      }
      if (this.#active() >= this.#maxFlows) {
        this.#refuse(what, `flow limit ${this.#maxFlows} reached`);
        return;
      }
      let port = 0;
      for (let i = 0; i < INBOUND_PORT_COUNT; i++) {
        const p = this.#nextInboundPort;
        this.#nextInboundPort = p + 1 >= INBOUND_PORT_FIRST + INBOUND_PORT_COUNT ? INBOUND_PORT_FIRST : p + 1;
        if (!this.#inbound.has(p) && this.stack.udp.portTable.claimsAt(p) === undefined) {
          port = p;
          break;
        }
      }
      if (port === 0) {
        this.#refuse(what, 'no free gateway port');
        return;
      }
      const flow: InboundUdp = {
        client,
        port,
        guest: to,
        guestPort,
        reply,
        last: 0,
        timer: this.stack.timers.timer((now) => {
          const until = flow.last + this.#udpIdle;
          if (until > now) flow.timer.set(until);
          else this.#dropInbound(flow);
        }),
      };
      f = flow;
      this.#inbound.set(port, f);
      this.#inboundByClient.set(client, f);
      this.stats.udpFlows++;
      this.stats.activeUdp++;
      this.stats.forwardsIn++;
    }
    const now = this.stack.clock.now();
    f.last = now;
    if (!f.timer.armed) f.timer.set(now + this.#udpIdle);
    this.stats.bytesIn += data.length;
    try {
      this.stack.udp.sendFrom(
        { family: 4, v4: this.address },
        f.port,
        { family: 4, v4: f.guest },
        f.guestPort,
        data,
      );
    } catch {
      // Too big, or no route: dropped, as a NAT would.
    }
  }

  #dropInbound(f: InboundUdp): void {
    if (this.#inbound.get(f.port) !== f) return;
    this.#inbound.delete(f.port);
    this.#inboundByClient.delete(f.client);
    f.timer.cancel();
    this.stats.activeUdp--;
  }

  #udpOut(src: IpAddress, srcPort: number, dst: IpAddress, dstPort: number, data: Uint8Array): boolean {
    if (v4(dst) === this.address) {
      // The guest answering an inbound forward.
      const f = this.#inbound.get(dstPort);
      if (f && f.guest === v4(src) && f.guestPort === srcPort) {
        f.last = this.stack.clock.now();
        this.stats.bytesOut += data.length;
        f.reply(data.slice());
        return true;
      }
    }
    const what = `udp ${formatIp(src)}:${srcPort}>${formatIp(dst)}:${dstPort}`;
    const host = this.#hostForAddress(dst);
    if (host === undefined) return false; // ICMP port unreachable, as from an idle port
    if (!this.#permits(dst)) {
      this.#refuse(what, 'destination denied by policy');
      return true;
    }
    const key = `${formatIp(src)}:${srcPort}`;
    if (src.family === 4 && src.v4 !== 0) this.#lastGuest = src.v4;
    let f = this.#udp.get(key);
    if (!f) {
      if (this.#active() >= this.#maxFlows) {
        this.#refuse(what, `flow limit ${this.#maxFlows} reached`);
        return true;
      }
      const hd = this.#dialer.openDatagram(src.family);
      const flow: UdpFlow = {
        guest: src,
        guestPort: srcPort,
        host: hd,
        peers: new Map(),
        last: 0,
        timer: this.stack.timers.timer((now) => this.#udpIdleCheck(flow, now)),
      };
      hd.onMessage = (d, h, p) => this.#udpIn(flow, d, h, p);
      f = flow;
      this.#udp.set(key, f);
      this.stats.udpFlows++;
      this.stats.activeUdp++;
    }
    const now = this.stack.clock.now();
    f.last = now;
    if (!f.timer.armed) f.timer.set(now + this.#udpIdle);
    // RFC 4787 REQ-8 (address and port-dependent filtering): only peers the guest sent to answer.
    const peerKey = `${canonical(host)}:${dstPort}`;
    if (!f.peers.has(peerKey)) {
      if (f.peers.size >= 64) f.peers.delete(f.peers.keys().next().value!);
      f.peers.set(peerKey, { addr: dst, port: dstPort });
    }
    this.stats.bytesOut += data.length;
    f.host.send(data.slice(), host, dstPort);
    return true;
  }

  #udpIn(f: UdpFlow, data: Uint8Array, host: string, port: number): void {
    // The host's text for an address may differ from ours (IPv6 zero compression): canonical().
    const peer = f.peers.get(`${canonical(host)}:${port}`);
    if (!peer || this.#udp.get(`${formatIp(f.guest)}:${f.guestPort}`) !== f) return;
    f.last = this.stack.clock.now();
    this.stats.bytesIn += data.length;
    try {
      this.stack.udp.sendFrom(peer.addr, peer.port, f.guest, f.guestPort, data);
    } catch {
      // Too big or no route to the guest: dropped, as a NAT would.
    }
  }

  #udpIdleCheck(f: UdpFlow, now: number): void {
    const until = f.last + this.#udpIdle;
    if (until > now) {
      f.timer.set(until);
      return;
    }
    this.#dropUdp(f);
  }

  #dropUdp(f: UdpFlow): void {
    const key = `${formatIp(f.guest)}:${f.guestPort}`;
    if (this.#udp.get(key) !== f) return;
    this.#udp.delete(key);
    f.timer.cancel();
    f.host.close();
    this.stats.activeUdp--;
  }
}
