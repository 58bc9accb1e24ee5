/**
 * The 'stack' socket backend for Node programs: this process becomes one host on
 * a virtual Ethernet shared with other processes on the same machine, and its
 * sockets are sockstack's, not the kernel's.
 *
 *   import { socket, AF_INET, SOCK_STREAM } from 'sockstack/node';
 *   import { stackBackend } from 'sockstack/node';
 *   const s = socket(AF_INET, SOCK_STREAM, { backend: stackBackend({ address: '10.99.0.1/24' }) });
 *
 * or by name, after importing this module: `await getBackend('stack')` (what the
 * examples' `--backend stack` does).
 *
 * ## The virtual Ethernet: a hub on a loopback UDP port
 *
 *          process A (hub)                process B             process C
 *     Stack 10.99.0.1 ─ HubLink ◄──UDP──► HubLink ─ Stack   HubLink ─ Stack
 *                    127.0.0.1:47000 ◄────────────────────────┘
 *
 * Every process tries to bind the hub port (default 127.0.0.1:47000 + uid mod 2000,
 * so users do not share one virtual Ethernet). The first
 * one gets it and is the hub: it learns members from the datagrams they send
 * (each stack announces itself with a gratuitous ARP as its interface comes up),
 * delivers frames for its own stack, and relays the rest like a learning switch
 * (unicast to the member a MAC was seen from; broadcast and unknown destinations
 * to everyone but the sender). Every later process gets EADDRINUSE, binds an
 * ephemeral loopback port and sends all its frames to the hub. The datagram
 * format is the UDP tunnel's (src/node/udp-tunnel.ts: 'S' 'S' version=1 type=1,
 * then the Ethernet frame), so a plain `udpTunnel({ peers: [hub] })` can join too.
 *
 * A host probes for its address before use (RFC 5227: an ARP request from 0.0.0.0
 * for it): when another process on the hub answers, `ready` rejects with
 * EADDRINUSE instead of two hosts silently sharing one address.
 *
 * The hub lives as long as the process that hosts it: start servers first (or
 * run examples/stack-hub.ts, which only hosts the hub). If the hub's process
 * exits, members keep sending to the hub port; whoever binds it next becomes the
 * hub and learns them again from their next frame.
 *
 * ## Time and process lifetime
 *
 * The stack runs on the system clock under a RealtimeDriver, kicked whenever the
 * stack arms an earlier timer (`TimerQueue.onEarliestChanged`) and when a frame
 * from the link is queued on an idle stack (`Stack.onWake`). The process is kept alive while a socket of this backend is open
 * (like the kernel's sockets keep a Node process alive); once the last one is
 * closed it stays a little longer (at most `lingerMs`) while TCP connections still
 * have a FIN or data in flight, so the peer gets its bytes and its last ACK.
 */
import * as dgram from 'node:dgram';
import type { Device, LinkType } from '../link/device.ts';
import { RealtimeDriver } from '../link/realtime.ts';
import { CryptoRng, type Rng } from '../rand/rng.ts';
import type { SocketBackend, SocketImpl, StreamImpl } from '../socket/backend.ts';
import { SocketError } from '../socket/errno.ts';
import { registerBackend } from '../socket/registry.ts';
import { Stack } from '../stack.ts';
import type { Clock } from '../time/clock.ts';
import { SystemClock } from '../time/system.ts';
import { formatMac, MAC_BROADCAST, MAC_ZERO, parseIpv4 } from '../wire/address.ts';
import { ARP_LEN, ARP_OP_REQUEST, emitArp, parseArp } from '../wire/arp.ts';
import { isWireError } from '../wire/error.ts';
import { ETHERNET_HEADER_LEN, ETHERTYPE_ARP, emitEthernet } from '../wire/ethernet.ts';
import { TUNNEL_HEADER_LEN, TUNNEL_MAX_FRAME, TUNNEL_VERSION, type TunnelPeer } from './udp-tunnel.ts';

/**
 * The default hub port: 47000 + (uid mod 2000), so each user of the machine has a
 * virtual Ethernet of their own (root: 47000).
 */
export function defaultHubPort(uid: number = process.getuid?.() ?? 0): number {
  return 47000 + (uid % 2000);
}

export const DEFAULT_HUB: TunnelPeer = { host: '127.0.0.1', port: defaultHubPort() };
/** The virtual subnet the examples use. */
export const DEFAULT_PREFIX = '10.99.0';

/** '127.0.0.1:47000' or a port number → a hub address on loopback. */
export function parseHub(text: string | number): TunnelPeer {
  if (typeof text === 'number' || /^\d+$/.test(text)) {
    const port = Number(text);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`bad hub port ${text}`);
    return { host: DEFAULT_HUB.host, port };
  }
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : 0;
  if (!m || parseIpv4(m[1]) === undefined || port < 1 || port > 65535)
    throw new TypeError(`bad hub address '${text}' (want HOST:PORT, e.g. 127.0.0.1:47000)`);
  return { host: m[1], port };
}

/** A default host address for this process: 10.99.0.(2 + pid mod 253)/24 (.1 is left for servers). */
export function defaultAddress(pid: number = process.pid): string {
  return `${DEFAULT_PREFIX}.${2 + (pid % 253)}/24`;
}

// ------------------------------------------------------------------ the link

const HEADER = Buffer.from([0x53, 0x53, TUNNEL_VERSION, 1]); // 'S' 'S' v1 Ethernet
const MAX_QUEUED = 64;
const MAX_MACS = 4096;

export interface HubLinkStats {
  rxFrames: number;
  txFrames: number;
  /** Frames the hub passed from one member to others. */
  relayed: number;
  /** Datagrams with a bad header, too short, or (member) not from the hub. */
  rxErrors: number;
  /** Frames dropped: too big, link closed, or nobody to send to. */
  txDropped: number;
}

function macKey(b: Uint8Array, off: number): number {
  return (
    b[off] * 0x10000000000 +
    b[off + 1] * 0x100000000 +
    ((b[off + 2] << 24) >>> 0) +
    ((b[off + 3] << 16) | (b[off + 4] << 8) | b[off + 5])
  );
}

/**
 * A Device on the shared virtual Ethernet: the hub (bound to the hub port, relays)
 * or a member (bound to an ephemeral port, talks only to the hub). Usable at once:
 * frames sent before the socket is bound are queued (a few) and sent when it is.
 */
export class HubLink implements Device {
  readonly name: string;
  readonly linkType: LinkType = 'ethernet';
  readonly mtu: number;
  readonly hub: TunnelPeer;
  readonly stats: HubLinkStats = { rxFrames: 0, txFrames: 0, relayed: 0, rxErrors: 0, txDropped: 0 };
  onReceive: ((frame: Uint8Array) => void) | null = null;
  /** Called after each frame handed to `onReceive` (a driver's kick). */
  onDelivered: (() => void) | null = null;
  /** Resolves with the role once the UDP socket is bound. */
  readonly ready: Promise<'hub' | 'member'>;
  #role: 'hub' | 'member' | undefined;
  #socket: dgram.Socket | undefined;
  #queue: Uint8Array[] = [];
  /** Hub: members learnt from their datagrams. */
  readonly #members = new Map<string, TunnelPeer>();
  /** Hub: MAC → member it was last seen from. */
  readonly #macs = new Map<number, TunnelPeer>();
  #closed = false;
  #ref = true;

  constructor(options: { hub?: TunnelPeer; mtu?: number; name?: string } = {}) {
    this.hub = options.hub ?? DEFAULT_HUB;
    this.mtu = options.mtu ?? 1500;
    this.name = options.name ?? 'hub0';
    this.ready = this.#open();
  }

  get role(): 'hub' | 'member' | undefined {
    return this.#role;
  }

  /** Hub: the members it has heard from. */
  get members(): TunnelPeer[] {
    return [...this.#members.values()];
  }

  /** The local UDP port (the hub port for the hub). */
  get localPort(): number | undefined {
    return this.#socket?.address().port;
  }

  async #open(): Promise<'hub' | 'member'> {
    const hub = this.hub;
    let role: 'hub' | 'member' = 'hub';
    let sock = await bindUdp(hub.host, hub.port).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EADDRINUSE') throw e;
      return undefined;
    });
    if (!sock) {
      role = 'member';
      sock = await bindUdp(hub.host, 0);
    }
    if (this.#closed) {
      sock.close();
      return role;
    }
    this.#socket = sock;
    this.#role = role;
    if (!this.#ref) sock.unref();
    sock.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => this.#onMessage(msg, rinfo));
    sock.on('error', () => {
      this.stats.txDropped++;
    });
    const queued = this.#queue;
    this.#queue = [];
    for (const f of queued) this.transmit(f);
    return role;
  }

  /** Keep the process alive for this link's socket (default) or not. */
  ref(on: boolean): void {
    this.#ref = on;
    if (on) this.#socket?.ref();
    else this.#socket?.unref();
  }

  #onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (
      msg.length < TUNNEL_HEADER_LEN + 14 ||
      msg[0] !== HEADER[0] ||
      msg[1] !== HEADER[1] ||
      msg[2] !== HEADER[2] ||
      msg[3] !== HEADER[3]
    ) {
      this.stats.rxErrors++;
      return;
    }
    const frame = new Uint8Array(
      msg.buffer,
      msg.byteOffset + TUNNEL_HEADER_LEN,
      msg.length - TUNNEL_HEADER_LEN,
    );
    if (this.#role === 'member') {
      if (rinfo.port !== this.hub.port || rinfo.address !== this.hub.host) {
        this.stats.rxErrors++;
        return;
      }
      this.#deliver(frame);
      return;
    }
    // The hub: learn the sender (and its MAC), then switch the frame.
    const k = `${rinfo.address}|${rinfo.port}`;
    let from = this.#members.get(k);
    if (!from) {
      from = { host: rinfo.address, port: rinfo.port };
      this.#members.set(k, from);
    }
    if ((frame[6] & 1) === 0) {
      if (this.#macs.size >= MAX_MACS) this.#macs.clear();
      this.#macs.set(macKey(frame, 6), from);
    }
    const body = msg.subarray(TUNNEL_HEADER_LEN);
    if ((frame[0] & 1) === 0) {
      const to = this.#macs.get(macKey(frame, 0));
      if (to === from) return; // the sender's own segment: nothing to do
      if (to !== undefined) {
        this.stats.relayed++;
        this.#send(body, to);
        return;
      }
    }
    // Broadcast, multicast or unknown: our own stack and every other member.
    for (const m of this.#members.values()) {
      if (m !== from) {
        this.stats.relayed++;
        this.#send(body, m);
      }
    }
    this.#deliver(frame);
  }

  #deliver(frame: Uint8Array): void {
    this.stats.rxFrames++;
    const rx = this.onReceive;
    if (rx === null || this.#closed) return;
    // The frame's bytes belong to Node's receive buffer: hand over a copy the stack may keep.
    rx(frame.slice());
    this.onDelivered?.();
  }

  transmit(frame: Uint8Array): void {
    if (this.#closed || frame.length > TUNNEL_MAX_FRAME) {
      this.stats.txDropped++;
      return;
    }
    if (this.#socket === undefined) {
      if (this.#queue.length < MAX_QUEUED) this.#queue.push(frame);
      else this.stats.txDropped++;
      return;
    }
    const body = Buffer.from(frame.buffer, frame.byteOffset, frame.length);
    if (this.#role === 'member') {
      this.#send(body, this.hub);
      return;
    }
    if ((frame[0] & 1) === 0) {
      const to = this.#macs.get(macKey(frame, 0));
      if (to !== undefined) {
        this.#send(body, to);
        return;
      }
    }
    if (this.#members.size === 0) this.stats.txDropped++;
    for (const m of this.#members.values()) this.#send(body, m);
  }

  #send(body: Buffer, to: TunnelPeer): void {
    this.stats.txFrames++;
    this.#socket?.send([HEADER, body], to.port, to.host, (err) => {
      if (err) this.stats.txDropped++;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.onReceive = null;
    this.#queue = [];
    const s = this.#socket;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

function bindUdp(host: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type: 'udp4' });
    s.once('error', (e) => {
      s.close();
      reject(e);
    });
    s.bind(port, host, () => {
      s.removeAllListeners('error');
      resolve(s);
    });
  });
}

// ------------------------------------------------------------------ the host

export interface StackHostOptions {
  /** This host's address with prefix. Default `defaultAddress()` (10.99.0.2-254/24 from the pid). */
  address?: string;
  /** The hub's loopback UDP address. Default 127.0.0.1:47000. */
  hub?: TunnelPeer | string;
  /** A default gateway on the virtual subnet, if any. */
  gateway?: string;
  /** DNS servers on the virtual network (src/socket/stack-resolver.ts). */
  nameservers?: readonly string[];
  /** Extra hosts-table entries: name → IPv4 address. */
  hosts?: Readonly<Record<string, string>>;
  /** gethostname(). Default 'stack-10-99-0-N' from the address. */
  name?: string;
  mtu?: number;
  /** May bind ports below 1024. Default true: the process owns its virtual host. */
  privileged?: boolean;
  /** How long `ready` waits for an answer to the address probe (RFC 5227). Default 200 ms; 0 skips the probe. */
  probeMs?: number;
  /** How long to stay alive after the last socket closed while TCP still has data/FIN in flight. Default 2000 ms. */
  lingerMs?: number;
  clock?: Clock;
  rng?: Rng;
}

export interface StackHost {
  readonly stack: Stack;
  readonly link: HubLink;
  readonly driver: RealtimeDriver;
  /** The socket backend (keeps the process alive while one of its sockets is open). */
  readonly backend: SocketBackend;
  /** The address without prefix. */
  readonly address: string;
  /**
   * Resolves with 'hub' or 'member' once the link is bound and no other host on the hub
   * answered the probe for this address; rejects with a SocketError EADDRINUSE when one did.
   */
  readonly ready: Promise<'hub' | 'member'>;
  /** The MAC of another host seen claiming this host's address, if any. */
  readonly conflict: string | undefined;
  /** Sockets of this backend not closed yet (and name lookups in progress). */
  readonly openSockets: number;
  /** Stops the driver and closes the link (sockets still open just stall). */
  close(): Promise<void>;
}

/** TCP states in which a closed socket still has something to tell its peer. */
const FLUSHING = new Set([
  'ESTABLISHED',
  'CLOSE-WAIT',
  'FIN-WAIT-1',
  'CLOSING',
  'LAST-ACK',
  'SYN-SENT',
  'SYN-RECEIVED',
]);

/** Starts a host on the shared virtual Ethernet. Synchronous: the link binds in the background. */
export function startStackHost(options: StackHostOptions = {}): StackHost {
  const cidr = options.address ?? defaultAddress();
  const address = cidr.split('/')[0];
  if (parseIpv4(address) === undefined || !/\/\d+$/.test(cidr))
    throw new TypeError(`bad address '${cidr}' (want A.B.C.D/PREFIX, e.g. 10.99.0.2/24)`);
  const hub = typeof options.hub === 'string' ? parseHub(options.hub) : (options.hub ?? DEFAULT_HUB);
  const clock = options.clock ?? new SystemClock();
  const rng = options.rng ?? new CryptoRng();
  const driver = new RealtimeDriver({ clock, unref: true });
  const link = new HubLink({ hub, mtu: options.mtu });
  const stack = new Stack({
    clock,
    rng,
    name: options.name ?? `stack-${address.replaceAll('.', '-')}`,
    privileged: options.privileged ?? true,
    nameservers: options.nameservers,
  });
  // A newly armed timer may be earlier than what the driver sleeps until.
  stack.timers.onEarliestChanged = () => driver.kick();
  // Frames from the link wait in the stack's receive queue; the stack wakes the driver.
  stack.onWake = () => driver.kick();
  const iface = stack.addInterface({ name: 'eth0', device: link, addresses: [cidr], mtu: options.mtu });
  const self = parseIpv4(address) as number;
  let conflict: string | undefined;
  // RFC 5227 §2.1.1 / §2.4: an ARP packet whose sender is our address but not our MAC means
  // another host on the hub has taken it.
  const deliver = link.onReceive;
  link.onReceive = (frame) => {
    if (frame.length >= ETHERNET_HEADER_LEN + ARP_LEN && frame[12] === 0x08 && frame[13] === 0x06) {
      const arp = parseArp(frame.subarray(ETHERNET_HEADER_LEN));
      if (
        !isWireError(arp) &&
        arp.repr.senderIp === self &&
        formatMac(arp.repr.senderMac) !== formatMac(iface.mac)
      ) {
        if (conflict === undefined)
          process.emitWarning(
            `sockstack: another host on the hub ${hub.host}:${hub.port} (MAC ${formatMac(arp.repr.senderMac)}) uses ${address}`,
          );
        conflict = formatMac(arp.repr.senderMac);
      }
    }
    deliver?.(frame);
  };
  if (options.gateway) stack.addRoute({ destination: '0.0.0.0/0', gateway: options.gateway });
  for (const [n, a] of Object.entries(options.hosts ?? {})) {
    const v = parseIpv4(a);
    if (v === undefined) throw new TypeError(`bad address for host ${n}: ${a}`);
    stack.hosts.set(n.toLowerCase(), v);
  }
  driver.add(stack);

  // ---- process lifetime: the link's UDP socket is the handle that keeps Node running.
  const lingerMs = options.lingerMs ?? 2000;
  let open = 0;
  let lingerTimer: ReturnType<typeof setTimeout> | undefined;
  const flushing = (): boolean => {
    for (const c of stack.tcp.connections()) if (FLUSHING.has(c.state)) return true;
    return false;
  };
  const released = (): void => {
    if (open > 0) return;
    const until = Date.now() + lingerMs;
    const check = (): void => {
      lingerTimer = undefined;
      if (open > 0) return;
      if (flushing() && Date.now() < until) lingerTimer = setTimeout(check, 20);
      else link.ref(false);
    };
    clearTimeout(lingerTimer);
    check();
  };
  link.ref(false);
  const hold = (): void => {
    open++;
    clearTimeout(lingerTimer);
    link.ref(true);
  };
  const release = (): void => {
    open--;
    driver.kick();
    released();
  };
  const track = <T extends SocketImpl>(impl: T): T => {
    hold();
    let closed = false;
    return new Proxy(impl, {
      get(target, key) {
        if (key === 'close')
          return async () => {
            try {
              await target.close();
            } finally {
              if (!closed) {
                closed = true;
                release();
              }
            }
          };
        if (key === 'accept' && target.kind === 'stream')
          return () => {
            const got = (target as StreamImpl).accept();
            return got && { impl: track(got.impl), peer: got.peer };
          };
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function'
          ? (...args: unknown[]) => {
              const r = (v as (...a: unknown[]) => unknown).apply(target, args);
              // Application I/O may have queued output or armed timers: let the driver look.
              driver.kick();
              return r;
            }
          : v;
      },
    });
  };
  const inner = stack.backend;
  const backend: SocketBackend = {
    name: 'stack',
    scheduler: inner.scheduler,
    create: (family, type) => track(inner.create(family, type)),
    // A DNS lookup runs on the stack's own UDP sockets (made by the inner backend): hold the process meanwhile.
    resolve: async (host, family) => {
      hold();
      try {
        return await inner.resolve(host, family);
      } finally {
        release();
      }
    },
    gethostname: () => inner.gethostname(),
  };
  const probeMs = options.probeMs ?? 200;
  const ready = link.ready.then(async (role) => {
    if (probeMs <= 0) return role;
    const probe = new Uint8Array(ETHERNET_HEADER_LEN + ARP_LEN);
    emitEthernet({ dst: MAC_BROADCAST, src: iface.mac, ethertype: ETHERTYPE_ARP }, probe);
    emitArp(
      { op: ARP_OP_REQUEST, senderMac: iface.mac, senderIp: 0, targetMac: MAC_ZERO, targetIp: self },
      probe.subarray(ETHERNET_HEADER_LEN),
    );
    link.transmit(probe);
    await new Promise((r) => setTimeout(r, probeMs));
    if (conflict !== undefined)
      throw new SocketError('EADDRINUSE', {
        syscall: 'bind',
        address,
        detail: `another process on the hub ${hub.host}:${hub.port} (MAC ${conflict}) already uses this address; pick another with --address or SOCKSTACK_ADDRESS`,
      });
    return role;
  });
  // Whoever uses the backend without awaiting `ready` still gets the warning above.
  ready.catch(() => undefined);
  let stopped = false;
  return {
    stack,
    link,
    driver,
    backend,
    address,
    ready,
    get conflict() {
      return conflict;
    },
    get openSockets() {
      return open;
    },
    async close() {
      if (stopped) return;
      stopped = true;
      clearTimeout(lingerTimer);
      driver.runNow();
      driver.stop();
      await link.close();
    },
  };
}

// ------------------------------------------------------------------ the registered backend

let configured: StackHostOptions = {};
let current: StackHost | undefined;

/**
 * Options for this process's 'stack' backend (the examples' `--address`/`--hub`);
 * call before the first `stackBackend()` / `getBackend('stack')`.
 * Environment defaults: SOCKSTACK_ADDRESS, SOCKSTACK_HUB, SOCKSTACK_NAMESERVER.
 */
export function configureStackBackend(options: StackHostOptions): void {
  if (current) throw new Error('configureStackBackend: the stack backend is already running');
  configured = { ...options };
}

/** This process's host on the virtual Ethernet (started on first use). */
export function stackHost(options?: StackHostOptions): StackHost {
  if (!current) {
    const env = process.env;
    const o: StackHostOptions = { ...configured, ...options };
    o.address ??= env.SOCKSTACK_ADDRESS || undefined;
    o.hub ??= env.SOCKSTACK_HUB || undefined;
    if (o.nameservers === undefined && env.SOCKSTACK_NAMESERVER)
      o.nameservers = env.SOCKSTACK_NAMESERVER.split(',');
    current = startStackHost(o);
  }
  return current;
}

/** The 'stack' SocketBackend of this process. */
export function stackBackend(options?: StackHostOptions): SocketBackend {
  return stackHost(options).backend;
}

registerBackend('stack', async () => {
  const h = stackHost();
  await h.ready;
  return h.backend;
});
