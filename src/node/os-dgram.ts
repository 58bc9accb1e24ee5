/**
 * The os backend's datagram sockets: UDP over Node's `dgram`. How they differ from the
 * kernel's own is listed in os-backend.ts.
 */
import dgram from 'node:dgram';
import { anyAddress } from '../socket/address.ts';
import type { Datagram, DatagramImpl, OptionValue, SockAddr } from '../socket/backend.ts';
import {
  type AddressFamily,
  AF_INET6,
  IPPROTO_IPV6,
  IPV6_JOIN_GROUP,
  IPV6_LEAVE_GROUP,
  IPV6_MULTICAST_HOPS,
  SO_ERROR,
  SOL_SOCKET,
} from '../socket/constants.ts';
import { SocketError, toSocketError } from '../socket/errno.ts';
import { Waiters } from '../socket/waiters.ts';
import { fromNode, hostOf, Opts } from './os-common.ts';

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
    // Deviation: IPv6 multicast options are the stack backend's for now; saying so beats
    // recording a membership the kernel never got.
    if (
      level === IPPROTO_IPV6 &&
      (name === IPV6_JOIN_GROUP || name === IPV6_LEAVE_GROUP || name === IPV6_MULTICAST_HOPS)
    )
      throw new SocketError('ENOPROTOOPT', {
        syscall: 'setsockopt',
        detail: 'IPv6 multicast options are not supported on the os backend yet',
      });
    this.#opts.set(level, name, value);
    this.#applyOptions();
  }

  getOption(level: number, name: number): OptionValue | undefined {
    if (level === SOL_SOCKET && name === SO_ERROR) {
      const e = this.#err;
      this.#err = undefined;
      return e === undefined ? 0 : toSocketError(e).errno;
    }
    return undefined;
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
