/**
 * The os backend's datagram sockets: UDP over Node's `dgram`. How they differ from the
 * kernel's own is listed in os-backend.ts.
 */
import dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { anyAddress } from '../socket/address.ts';
import type { Datagram, DatagramImpl, OptionValue, SockAddr } from '../socket/backend.ts';
import {
  type AddressFamily,
  AF_INET6,
  IP_ADD_MEMBERSHIP,
  IP_ADD_SOURCE_MEMBERSHIP,
  IP_DROP_MEMBERSHIP,
  IP_DROP_SOURCE_MEMBERSHIP,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_LEAVE_GROUP,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  SO_ERROR,
  SOL_SOCKET,
} from '../socket/constants.ts';
import { SocketError, toSocketError } from '../socket/errno.ts';
import { Waiters } from '../socket/waiters.ts';
import { fromNode, hostOf, Opts } from './os-common.ts';

const dotted = (b: Uint8Array, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

/** The name of the kernel interface with index `i` (/sys/class/net/<name>/ifindex). */
function ifnameOf(i: number): string | undefined {
  try {
    for (const n of readdirSync('/sys/class/net'))
      if (Number(readFileSync(`/sys/class/net/${n}/ifindex`, 'utf8').trim()) === i) return n;
  } catch {}
  return undefined;
}

/** An IPv6 group's text form from its 16 bytes. */
function ipv6Text(b: Uint8Array): string {
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((b[i] << 8) | b[i + 1]).toString(16));
  return w.join(':');
}

export class OsDatagram implements DatagramImpl {
  readonly kind = 'dgram' as const;
  readonly #family: AddressFamily;
  #opts = new Opts();
  #sock: dgram.Socket | undefined;
  #bound = false;
  #binding: Promise<void> | undefined;
  #connected: SockAddr | undefined;
  #queue: Datagram[] = [];
  #queued = 0;
  #err: unknown;
  #closed = false;
  #rd = new Waiters();
  /** Datagrams dropped because the receive queue was full (like the kernel's RcvbufErrors). */
  drops = 0;
  /** Multicast calls made before the socket was bound, replayed in order once it is. */
  #pendingMulticast: ((s: dgram.Socket) => void)[] = [];
  /** getsockopt answers for the multicast options (Node's dgram cannot read them back). */
  #mc = new Map<string, number>();

  constructor(family: AddressFamily) {
    this.#family = family;
  }

  #socket(): dgram.Socket {
    if (this.#sock) return this.#sock;
    const s = dgram.createSocket({
      type: this.#family === AF_INET6 ? 'udp6' : 'udp4',
      reuseAddr: this.#opts.reuse,
      ipv6Only: this.#opts.v6only,
    });
    s.on('message', (msg, rinfo) => {
      if (this.#closed) return;
      if (this.#queued + msg.length > this.#opts.rcvbuf) {
        this.drops++;
        return;
      }
      this.#queue.push({
        data: msg,
        from: fromNode(this.#family, rinfo.address, rinfo.port),
        length: msg.length,
      });
      this.#queued += msg.length;
      this.#rd.wake();
    });
    s.on('error', (e) => {
      this.#err = e;
      this.#rd.wake();
    });
    this.#sock = s;
    return s;
  }

  async bind(addr: SockAddr): Promise<void> {
    const s = this.#socket();
    const p = new Promise<void>((resolve, reject) => {
      const onErr = (e: Error) => reject(e);
      s.once('error', onErr);
      s.bind({ address: hostOf(addr), port: (addr as { port: number }).port, exclusive: true }, () => {
        s.off('error', onErr);
        resolve();
      });
    });
    this.#binding = p;
    await p;
    this.#bound = true;
    this.#applyOptions();
    for (const f of this.#pendingMulticast.splice(0)) f(this.#sock!);
  }

  async #ensureBound(): Promise<void> {
    if (this.#bound) return;
    if (this.#binding) {
      await this.#binding;
      return;
    }
    await this.bind(anyAddress(this.#family));
  }

  #applyOptions(): void {
    const s = this.#sock;
    if (!s || !this.#bound || this.#closed) return;
    s.setBroadcast(this.#opts.broadcast);
    // Datagram sockets can take IP_TTL (dgram setTTL); -1 restores Linux's default of 64.
    s.setTTL(this.#opts.ttl ?? 64);
    try {
      s.setRecvBufferSize(this.#opts.rcvbuf);
      s.setSendBufferSize(this.#opts.sndbuf);
    } catch {
      // The kernel clamps to net.core.[rw]mem_max; a refusal is not fatal.
    }
  }

  getsockname(): SockAddr {
    if (!this.#bound || !this.#sock) return anyAddress(this.#family);
    const a = this.#sock.address();
    return fromNode(this.#family, a.address, a.port);
  }

  getpeername(): SockAddr | undefined {
    return this.#connected;
  }

  setOption(level: number, name: number, value: OptionValue): void {
    if (this.#multicastOption(level, name, value)) return;
    this.#opts.set(level, name, value);
    this.#applyOptions();
  }

  /**
   * The multicast options through Node's dgram calls (addMembership, setMulticastTTL, ...),
   * which need a bound socket: before bind() they wait and run right after it, as the
   * kernel would have taken them. Returns false for other options.
   */
  #multicastOption(level: number, name: number, value: OptionValue): boolean {
    const b = value instanceof Uint8Array ? value : undefined;
    const n = typeof value === 'number' ? value : 0;
    let op: ((s: dgram.Socket) => void) | undefined;
    if (level === IPPROTO_IP) {
      if ((name === IP_ADD_MEMBERSHIP || name === IP_DROP_MEMBERSHIP) && b) {
        const group = dotted(b, 0);
        // Deviation: Node names the interface by address only, so an ip_mreqn's index is not passed.
        const iface = dotted(b, 4);
        const via = iface === '0.0.0.0' ? undefined : iface;
        op = (s) => (name === IP_ADD_MEMBERSHIP ? s.addMembership(group, via) : s.dropMembership(group, via));
      } else if ((name === IP_ADD_SOURCE_MEMBERSHIP || name === IP_DROP_SOURCE_MEMBERSHIP) && b) {
        const [group, iface, source] = [dotted(b, 0), dotted(b, 4), dotted(b, 8)];
        const via = iface === '0.0.0.0' ? undefined : iface;
        op = (s) =>
          name === IP_ADD_SOURCE_MEMBERSHIP
            ? s.addSourceSpecificMembership(source, group, via)
            : s.dropSourceSpecificMembership(source, group, via);
      } else if (name === IP_MULTICAST_TTL) {
        op = (s) => s.setMulticastTTL(n);
        this.#mc.set(`${level}:${name}`, n);
      } else if (name === IP_MULTICAST_LOOP) {
        op = (s) => s.setMulticastLoopback(n !== 0);
        this.#mc.set(`${level}:${name}`, n !== 0 ? 1 : 0);
      } else if (name === IP_MULTICAST_IF && b) {
        const addr = b.length === 4 ? dotted(b, 0) : dotted(b, 4);
        op = (s) => s.setMulticastInterface(addr);
      }
    } else if (level === IPPROTO_IPV6) {
      if ((name === IPV6_JOIN_GROUP || name === IPV6_LEAVE_GROUP) && b) {
        const group = ipv6Text(b.subarray(0, 16));
        const index = new DataView(b.buffer, b.byteOffset + 16, 4).getUint32(0, true);
        const ifname = index === 0 ? undefined : ifnameOf(index);
        if (index !== 0 && ifname === undefined) throw new SocketError('ENODEV', { syscall: 'setsockopt' });
        const via = ifname === undefined ? undefined : `::%${ifname}`;
        op = (s) => (name === IPV6_JOIN_GROUP ? s.addMembership(group, via) : s.dropMembership(group, via));
      } else if (name === IPV6_MULTICAST_HOPS) {
        op = (s) => s.setMulticastTTL(n);
        this.#mc.set(`${level}:${name}`, n);
      } else if (name === IPV6_MULTICAST_LOOP) {
        op = (s) => s.setMulticastLoopback(n !== 0);
        this.#mc.set(`${level}:${name}`, n);
      } else if (name === IPV6_MULTICAST_IF) {
        const ifname = n === 0 ? undefined : ifnameOf(n);
        if (n !== 0 && ifname === undefined) throw new SocketError('ENODEV', { syscall: 'setsockopt' });
        op = (s) => s.setMulticastInterface(ifname === undefined ? '::' : `::%${ifname}`);
        this.#mc.set(`${level}:${name}`, n);
      }
    }
    if (op === undefined) return false;
    const s = this.#socket();
    if (!this.#bound) {
      this.#pendingMulticast.push(op);
      return true;
    }
    try {
      op(s);
    } catch (e) {
      throw toSocketError(e, { syscall: 'setsockopt' });
    }
    return true;
  }

  getOption(level: number, name: number): OptionValue | undefined {
    if (level === SOL_SOCKET && name === SO_ERROR) {
      const e = this.#err;
      this.#err = undefined;
      return e === undefined ? 0 : toSocketError(e).errno;
    }
    return this.#mc.get(`${level}:${name}`);
  }

  async connect(addr: SockAddr): Promise<void> {
    await this.#ensureBound();
    const s = this.#socket();
    if (this.#connected) s.disconnect();
    this.#connected = undefined;
    await new Promise<void>((resolve, reject) => {
      const onErr = (e: Error) => reject(e);
      s.once('error', onErr);
      s.connect((addr as { port: number }).port, hostOf(addr), () => {
        s.off('error', onErr);
        resolve();
      });
    });
    this.#connected = addr;
    this.#queue = []; // Linux: a connected UDP socket only receives from its peer
    this.#queued = 0;
  }

  async sendto(data: Uint8Array, to: SockAddr | undefined): Promise<number> {
    this.#throwPending();
    if (to && this.#connected)
      throw new SocketError('EISCONN', {
        detail: 'the OS backend cannot sendto() on a connected UDP socket',
      });
    await this.#ensureBound();
    const s = this.#socket();
    const copy = Buffer.from(data);
    await new Promise<void>((resolve, reject) => {
      const cb = (e: Error | null) => (e ? reject(e) : resolve());
      if (to) s.send(copy, (to as { port: number }).port, hostOf(to), cb);
      else s.send(copy, cb);
    });
    return data.length;
  }

  #throwPending(): void {
    if (this.#err !== undefined) {
      const e = this.#err;
      this.#err = undefined;
      throw e;
    }
  }

  recvfrom(max: number, peek: boolean): Datagram | undefined {
    if (this.#queue.length === 0) {
      this.#throwPending();
      return undefined;
    }
    const d = this.#queue[0];
    if (!peek) {
      this.#queue.shift();
      this.#queued -= d.length;
    }
    return { data: new Uint8Array(d.data.subarray(0, max)), from: d.from, length: d.length };
  }

  waitReadable(signal: AbortSignal): Promise<void> {
    return this.#rd.wait(signal, () => this.#queue.length > 0 || this.#err !== undefined || this.#closed);
  }

  waitWritable(_signal: AbortSignal): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const s = this.#sock;
    if (s) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
    this.#rd.wake();
  }
}
