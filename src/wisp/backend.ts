/**
 * The `wisp` socket backend: the BSD sockets API (src/socket/socket.ts) over a Wisp
 * relay, beside `os` and `stack`. A page's `socket(AF_INET, SOCK_STREAM)` connects
 * through the relay to a real TCP server; SOCK_DGRAM sends and receives real UDP.
 *
 *   const client = await WispClient.connect('ws://127.0.0.1:8080/');
 *   const backend = wispBackend(client);
 *   const sock = new Socket(backend, AF_INET, SOCK_STREAM);
 *   await sock.connect(['127.0.0.1', 7]);
 *
 * What Wisp v1 can and cannot express, and what the sockets here do about it:
 * - Only outgoing connections exist: bind(), listen() and accept() fail EOPNOTSUPP
 *   with a message saying why. getsockname() shows the any-address, port 0 (the
 *   relay's local address is never told to the client).
 * - Host names are resolved by the relay, not here: `resolve` hands out a stand-in
 *   address for each name from 198.18.0.0/15 (RFC 2544's benchmarking range, which is
 *   never a real destination), and connecting to it sends the name in the CONNECT.
 *   Deviation: getpeername() then shows the stand-in address. 'localhost' is 127.0.0.1.
 * - A stream ends with CLOSE: the relay's 0x02 (the destination closed) reads as end
 *   of stream; other reasons raise their errno once (reasons.ts), then end of stream.
 * - Deviation: v1 has no half-close, so shutdown(SHUT_WR) fails EOPNOTSUPP;
 *   shutdown(SHUT_RDWR) closes the stream.
 * - UDP: one Wisp stream per destination. connect() opens it; sendto() to another
 *   address opens another (at most `maxDatagramStreams` per socket). Datagrams the
 *   destination sends come back as DATA and recvfrom() reports that destination.
 */
import { anyAddress } from '../socket/address.ts';
import type {
  Datagram,
  DatagramImpl,
  OptionValue,
  ResolvedAddress,
  Scheduler,
  SockAddr,
  SocketBackend,
  StreamImpl,
} from '../socket/backend.ts';
import {
  type AddressFamily,
  AF_INET,
  AF_INET6,
  SO_ERROR,
  SOCK_DGRAM,
  SOL_SOCKET,
  type SocketKind,
} from '../socket/constants.ts';
import { GaiError, SocketError, toSocketError } from '../socket/errno.ts';
import { Waiters } from '../socket/waiters.ts';
import { type HostTimers, systemTimers } from '../time/system.ts';
import type { WispClient, WispStream } from './client.ts';
import { closeReasonError, WispCloseReason } from './reasons.ts';

export interface WispBackendOptions {
  /** Shown in errors and tests. Default 'wisp'. */
  name?: string;
  /** What gethostname() answers. Default 'localhost'. */
  hostname?: string;
  /** Timers for socket timeouts. Default: the host's. */
  timers?: HostTimers;
  /** Wisp streams one UDP socket may hold (one per destination). Default 16. */
  maxDatagramStreams?: number;
}

const NO_LOCAL = 'a Wisp relay only makes outgoing connections; there is no local address to';

function unsupported(syscall: string, what: string): SocketError {
  return new SocketError('EOPNOTSUPP', { syscall, detail: `${NO_LOCAL} ${what}` });
}

/** Names ↔ stand-in addresses (see the header). */
class NameTable {
  readonly #byName = new Map<string, string>();
  readonly #byAddr = new Map<string, string>();
  #next = 1;

  addressOf(name: string): string | undefined {
    const key = name.toLowerCase().replace(/\.$/, '');
    let a = this.#byName.get(key);
    if (a !== undefined) return a;
    if (this.#next >= 1 << 17) return undefined; // 198.18.0.0/15 is used up
    const n = this.#next++;
    a = `198.${18 + (n >> 16)}.${(n >> 8) & 0xff}.${n & 0xff}`;
    this.#byName.set(key, a);
    this.#byAddr.set(a, key);
    return a;
  }

  /** What to put in a CONNECT for a numeric address. */
  target(host: string): string {
    return this.#byAddr.get(host) ?? host;
  }
}

function validName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/.test(name);
}

/** The error a closed stream reports, or undefined for a normal end. */
function streamError(
  s: WispStream,
  connecting: boolean,
  ctx: { syscall?: string; address?: string; port?: number } = {},
): SocketError | undefined {
  if (s.closedByUs) return undefined;
  const reason = s.closeReason ?? WispCloseReason.UNKNOWN;
  const e = closeReasonError(reason, connecting);
  return e && new SocketError(e.code, { ...ctx, detail: e.detail });
}

/** Connect-time readiness of a stream: established, or the error it ended with. */
function established(
  s: WispStream,
  signal: AbortSignal,
  ctx: { address: string; port: number },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = (): boolean => {
      if (s.state === 'open') {
        resolve();
        return true;
      }
      if (s.state === 'closed') {
        reject(
          streamError(s, true, { syscall: 'connect', ...ctx }) ??
            new SocketError('ECONNREFUSED', { syscall: 'connect', ...ctx, detail: 'the Wisp stream closed' }),
        );
        return true;
      }
      return false;
    };
    if (check()) return;
    const onAbort = (): void => {
      s.onChange = null;
      s.close();
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    const prev = s.onChange;
    s.onChange = () => {
      prev?.();
      if (check()) signal.removeEventListener('abort', onAbort);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function peerAddr(family: AddressFamily, host: string, port: number): SockAddr {
  return family === AF_INET6
    ? { family: AF_INET6, host, port, flowinfo: 0, scopeid: 0 }
    : { family: AF_INET, host, port };
}

function hostPort(addr: SockAddr): { host: string; port: number } {
  if (addr.family === 1) throw new SocketError('EAFNOSUPPORT', { detail: 'Wisp carries TCP and UDP only' });
  return { host: addr.host, port: addr.port };
}

class WispStreamSocket implements StreamImpl {
  readonly kind = 'stream' as const;
  readonly #client: WispClient;
  readonly #names: NameTable;
  readonly #family: AddressFamily;
  #stream: WispStream | undefined;
  #peer: SockAddr | undefined;
  #pending: SocketError | undefined;
  #reported = false;
  #rdShut = false;
  #closed = false;
  readonly #rd = new Waiters();
  readonly #wr = new Waiters();

  constructor(client: WispClient, names: NameTable, family: AddressFamily) {
    this.#client = client;
    this.#names = names;
    this.#family = family;
  }

  async bind(): Promise<void> {
    throw unsupported('bind', 'bind');
  }
  getsockname(): SockAddr {
    return anyAddress(this.#family);
  }
  getpeername(): SockAddr | undefined {
    return this.#stream ? this.#peer : undefined;
  }
  setOption(): void {}
  getOption(level: number, name: number): OptionValue | undefined {
    if (level === SOL_SOCKET && name === SO_ERROR) {
      const e = this.#takeError();
      return e ? e.errno : 0;
    }
    return undefined;
  }
  async listen(): Promise<void> {
    throw unsupported('listen', 'listen on');
  }
  accept(): undefined {
    return undefined;
  }

  async connect(addr: SockAddr, signal: AbortSignal): Promise<void> {
    const { host, port } = hostPort(addr);
    let s: WispStream;
    try {
      s = this.#client.open('tcp', this.#names.target(host), port);
    } catch (e) {
      throw toSocketError(e);
    }
    this.#stream = s;
    this.#peer = peerAddr(this.#family, host, port);
    await established(s, signal, { address: host, port });
    s.onChange = () => {
      if (s.state === 'closed' && this.#pending === undefined && !this.#closed)
        this.#pending = streamError(s, false);
      this.#rd.wake();
      this.#wr.wake();
    };
  }

  /** The error the stream ended with, the first time it is asked for (Linux's sk_err). */
  #takeError(): SocketError | undefined {
    if (this.#reported) return undefined;
    this.#reported = this.#pending !== undefined;
    return this.#pending;
  }

  recv(max: number, peek: boolean): Uint8Array | undefined {
    const s = this.#stream;
    if (!s || this.#rdShut) return new Uint8Array(0);
    const got = s.read(max, peek);
    if (got !== undefined) return got;
    if (s.state !== 'closed') return undefined;
    const e = this.#takeError();
    if (e) throw e;
    return new Uint8Array(0);
  }

  send(data: Uint8Array): number {
    const s = this.#stream;
    if (!s || this.#closed) throw new SocketError('EPIPE');
    if (s.state === 'closed' || s.closedByUs) {
      const e = this.#takeError();
      throw e ?? new SocketError('EPIPE', { detail: 'the Wisp stream is closed' });
    }
    return s.write(data);
  }

  shutdown(how: 0 | 1 | 2): void {
    if (how === 0) {
      this.#rdShut = true;
      this.#rd.wake();
      return;
    }
    if (how === 1)
      // Deviation: Wisp v1 has no half-close (a CLOSE ends both directions).
      throw new SocketError('EOPNOTSUPP', {
        syscall: 'shutdown',
        detail: 'Wisp v1 has no half-close; use shutdown(SHUT_RDWR) or close()',
      });
    this.#rdShut = true;
    this.#stream?.close();
    this.#rd.wake();
    this.#wr.wake();
  }

  waitReadable(signal: AbortSignal): Promise<void> {
    return this.#rd.wait(signal, () => {
      const s = this.#stream;
      return !s || this.#rdShut || this.#closed || s.receivedBytes > 0 || s.state === 'closed';
    });
  }

  waitWritable(signal: AbortSignal): Promise<void> {
    return this.#wr.wait(signal, () => {
      const s = this.#stream;
      return !s || this.#closed || s.state === 'closed' || s.queuedBytes < this.#client.sendBufferBytes;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream?.close();
    this.#rd.wake();
    this.#wr.wake();
  }
}

interface Flow {
  readonly stream: WispStream;
  readonly addr: SockAddr;
}

class WispDatagramSocket implements DatagramImpl {
  readonly kind = 'dgram' as const;
  readonly #client: WispClient;
  readonly #names: NameTable;
  readonly #family: AddressFamily;
  readonly #max: number;
  readonly #flows = new Map<string, Flow>();
  #connected: Flow | undefined;
  /** Datagrams in arrival order across this socket's streams. */
  readonly #queue: { data: Uint8Array; from: SockAddr }[] = [];
  #pending: SocketError | undefined;
  #closed = false;
  readonly #rd = new Waiters();

  constructor(client: WispClient, names: NameTable, family: AddressFamily, max: number) {
    this.#client = client;
    this.#names = names;
    this.#family = family;
    this.#max = max;
  }

  async bind(): Promise<void> {
    throw unsupported('bind', 'bind');
  }
  getsockname(): SockAddr {
    return anyAddress(this.#family);
  }
  getpeername(): SockAddr | undefined {
    return this.#connected?.addr;
  }
  setOption(): void {}
  getOption(level: number, name: number): OptionValue | undefined {
    if (level === SOL_SOCKET && name === SO_ERROR) {
      const e = this.#pending;
      this.#pending = undefined;
      return e ? e.errno : 0;
    }
    return undefined;
  }

  #flow(addr: SockAddr): Flow {
    const { host, port } = hostPort(addr);
    const key = `${host}|${port}`;
    const have = this.#flows.get(key);
    if (have && have.stream.state !== 'closed') return have;
    if (!have && this.#flows.size >= this.#max)
      throw new SocketError('ENOBUFS', {
        detail: `this socket already has ${this.#max} Wisp UDP streams (one per destination)`,
      });
    let stream: WispStream;
    try {
      stream = this.#client.open('udp', this.#names.target(host), port);
    } catch (e) {
      throw toSocketError(e);
    }
    const flow: Flow = { stream, addr: peerAddr(this.#family, host, port) };
    stream.onChange = () => {
      for (let d = stream.read(65536); d !== undefined; d = stream.read(65536))
        this.#queue.push({ data: d, from: flow.addr });
      // An ICMP error on the relay's connected socket (CLOSE 0x44) is the connected socket's
      // pending error, as on Linux; an idle stream the relay closed is reopened by the next send.
      if (stream.state === 'closed' && flow === this.#connected) this.#pending ??= streamError(stream, false);
      if (stream.state === 'closed' && this.#flows.get(key) === flow) this.#flows.delete(key);
      this.#rd.wake();
    };
    this.#flows.set(key, flow);
    return flow;
  }

  async connect(addr: SockAddr): Promise<void> {
    this.#connected = this.#flow(addr);
  }

  async sendto(data: Uint8Array, to: SockAddr | undefined): Promise<number> {
    if (this.#pending) {
      const e = this.#pending;
      this.#pending = undefined;
      throw e;
    }
    if (data.length > 65507) throw new SocketError('EMSGSIZE', { syscall: 'sendto' });
    const dest = to ?? this.#connected?.addr;
    if (!dest) throw new SocketError('EDESTADDRREQ');
    const flow = this.#flow(dest);
    if (to === undefined) this.#connected = flow;
    // A datagram the transport cannot take is lost, as one a full NIC queue drops.
    flow.stream.write(data);
    return data.length;
  }

  recvfrom(max: number, peek: boolean): Datagram | undefined {
    const c = this.#connected;
    for (;;) {
      const d = this.#queue[0];
      if (d === undefined) break;
      if (
        c &&
        (d.from.family === 1 ||
          c.addr.family === 1 ||
          d.from.host !== c.addr.host ||
          d.from.port !== c.addr.port)
      ) {
        this.#queue.shift(); // a connected socket accepts only its peer's datagrams
        continue;
      }
      if (!peek) this.#queue.shift();
      return {
        data: d.data.length > max ? d.data.slice(0, max) : d.data,
        from: d.from,
        length: d.data.length,
      };
    }
    if (this.#pending) {
      const e = this.#pending;
      this.#pending = undefined;
      throw e;
    }
    return undefined;
  }

  waitReadable(signal: AbortSignal): Promise<void> {
    return this.#rd.wait(signal, () => this.#closed || this.#queue.length > 0 || this.#pending !== undefined);
  }
  async waitWritable(): Promise<void> {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const f of this.#flows.values()) f.stream.close();
    this.#flows.clear();
    this.#rd.wake();
  }
}

/** A socket backend whose sockets reach the network through `client`'s Wisp relay. */
export function wispBackend(client: WispClient, options: WispBackendOptions = {}): SocketBackend {
  const names = new NameTable();
  const timers = options.timers ?? systemTimers;
  const maxFlows = options.maxDatagramStreams ?? 16;
  const scheduler: Scheduler = {
    schedule: (fn, ms) => timers.set(fn, Math.max(0, Math.min(ms, 2 ** 31 - 1))),
    cancel: (h) => timers.clear(h),
  };
  return {
    name: options.name ?? 'wisp',
    scheduler,
    create(family: AddressFamily, type: SocketKind) {
      if (family !== AF_INET && family !== AF_INET6)
        throw new SocketError('EAFNOSUPPORT', {
          syscall: 'socket',
          detail: 'a Wisp relay carries TCP and UDP (AF_INET, AF_INET6) only',
        });
      return type === SOCK_DGRAM
        ? new WispDatagramSocket(client, names, family, maxFlows)
        : new WispStreamSocket(client, names, family);
    },
    async resolve(host: string, family: 0 | 2 | 10): Promise<ResolvedAddress[]> {
      const h = host.toLowerCase();
      if (h === 'localhost' || h === 'localhost.')
        return family === AF_INET6
          ? [{ family: AF_INET6, host: '::1' }]
          : [{ family: AF_INET, host: '127.0.0.1' }];
      // The relay resolves names; IPv6 stand-ins are not handed out.
      if (family === AF_INET6 || !validName(host)) throw new GaiError('EAI_NONAME', host);
      const a = names.addressOf(host);
      if (a === undefined) throw new GaiError('EAI_AGAIN', host);
      return [{ family: AF_INET, host: a }];
    },
    gethostname: () => options.hostname ?? 'localhost',
  };
}
