/**
 * The OS-kernel socket backend: the front `Socket` over Node's `net` (TCP over
 * AF_INET/AF_INET6, AF_UNIX stream paths) and `dgram` (UDP).
 *
 * Node gives us connected sockets and servers, not the bare syscalls, so a few
 * kernel behaviours are rebuilt on top. What a Python program on Linux sees, and
 * where this backend differs:
 *
 * - bind() (TCP): Node cannot bind without listening, and listening at bind time
 *   would let clients connect before listen(). So bind() *probes*: it listens on
 *   the address, reads the port the kernel chose, and closes again; errors
 *   (EADDRINUSE, EACCES for ports < 1024 when not root, EADDRNOTAVAIL) surface at
 *   bind() as on Linux. The port is then reserved inside this process (a second
 *   bind to it fails EADDRINUSE unless both set SO_REUSEADDR, Linux's rule) and
 *   really taken at listen()/connect(). Deviation: between bind() and listen()
 *   another *process* could take the port; listen() then fails EADDRINUSE. Node
 *   listens with SO_REUSEADDR always, so TIME-WAIT never blocks a bind here.
 * - bind() (AF_UNIX): fails EADDRINUSE if the path exists, as Linux; the socket
 *   file appears at listen() (Linux: at bind()), and libuv unlinks it on close
 *   (Linux leaves it).
 * - listen(backlog): the kernel queue has the backlog, but Node accepts eagerly,
 *   so established connections wait in a user-space queue without a limit.
 * - recv(): an empty Uint8Array at end of stream; ECONNRESET once after a RST,
 *   then end of stream. Returned arrays are plain Uint8Arrays (copies, never Buffers).
 * - send(): Node takes everything into its write queue; send() returns the full
 *   length until that queue holds SO_SNDBUF bytes, then blocks (or EAGAIN). After
 *   the peer has gone, the first send usually succeeds and a later one fails with
 *   EPIPE or ECONNRESET, as with the kernel.
 * - UDP: whole datagrams arrive from Node; recvfrom(n) cuts them to n bytes and
 *   drops the rest (POSIX truncation). Broadcast without SO_BROADCAST fails EACCES
 *   (the kernel's own answer). On a connected UDP socket, ICMP port-unreachable
 *   is surfaced by libuv as an 'error' (ECONNREFUSED, syscall recvmsg) and raised
 *   once by the next recv/send, as on Linux. Deviation: sendto() with an address
 *   on a connected UDP socket fails EISCONN (Node refuses; Linux would send).
 * - AF_UNIX SOCK_DGRAM is not available (Node has no unix datagram sockets): EAFNOSUPPORT.
 * - SO_REUSEPORT, TCP_MAXSEG, TCP_KEEPINTVL/KEEPCNT are recorded but not applied
 *   (Node 20 has no API for them).
 */

import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
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
  AF_UNIX,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_V6ONLY,
  SO_BROADCAST,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_SNDBUF,
  SOCK_DGRAM,
  SOL_SOCKET,
  type SocketKind,
  TCP_KEEPIDLE,
  TCP_NODELAY,
  TCP_REMOTE_UDP_ENCAPS_PORT,
} from '../socket/constants.ts';
import { GaiError, SocketError, toSocketError } from '../socket/errno.ts';

const TIMEOUT_MAX = 2 ** 31 - 1;

/** Real timers; waits longer than Node's 24.8-day limit are chained. */
export const realScheduler: Scheduler = {
  schedule(fn: () => void, ms: number): unknown {
    const h: { t: ReturnType<typeof setTimeout> | undefined } = { t: undefined };
    let left = Math.max(0, ms);
    const arm = () => {
      const step = Math.min(left, TIMEOUT_MAX);
      left -= step;
      h.t = setTimeout(left > 0 ? arm : fn, step);
    };
    arm();
    return h;
  },
  cancel(handle: unknown): void {
    const h = handle as { t: ReturnType<typeof setTimeout> | undefined };
    if (h?.t !== undefined) clearTimeout(h.t);
  },
};

/** Wakes everything waiting for one kind of readiness. */
class Waiters {
  #set = new Set<() => void>();
  wait(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.#set.delete(done);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#set.delete(done);
        reject(signal.reason);
      };
      this.#set.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
  wake(): void {
    for (const w of [...this.#set]) w();
  }
}

function ipFamily(f: AddressFamily): 4 | 6 {
  return f === AF_INET6 ? 6 : 4;
}

function fromNode(family: AddressFamily, address: string | undefined, port: number | undefined): SockAddr {
  if (family === AF_INET6)
    return { family: AF_INET6, host: address ?? '::', port: port ?? 0, flowinfo: 0, scopeid: 0 };
  return { family: AF_INET, host: address ?? '0.0.0.0', port: port ?? 0 };
}

function hostOf(a: SockAddr): string {
  if (a.family === AF_UNIX) return a.path;
  return a.family === AF_INET6 && a.scopeid ? `${a.host}%${a.scopeid}` : a.host;
}

// ---- in-process port reservations between bind() and listen()/connect() ------

interface Reservation {
  key: string;
  host: string;
  port: number;
  reuse: boolean;
}
const reservations = new Set<Reservation>();
const ANY = new Set(['0.0.0.0', '::', '']);

/** A /proc/net/tcp{,6} local address (hex, 32-bit words in host byte order) as text. */
function procAddress(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8)
    for (let i = 6; i >= 0; i -= 2) bytes.push(Number.parseInt(hex.slice(w + i, w + i + 2), 16));
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

const WILDCARDS = new Set(['', '0.0.0.0', '::']);

/**
 * Whether a kernel TCP socket that does not listen (a connection, TIME-WAIT included, or a
 * bound socket) holds `port` on an address overlapping `host`, from Linux's /proc/net/tcp and
 * tcp6 (false where they do not exist). libuv sets SO_REUSEADDR on every TCP socket it binds,
 * so the kernel lets Node bind over such sockets; Linux refuses a bind without SO_REUSEADDR
 * there (inet_csk_bind_conflict), and this lets the os backend do the same. Listeners need no
 * check: the kernel refuses those itself.
 */
function kernelHoldsTcpPort(host: string, port: number): boolean {
  const want = port.toString(16).toUpperCase().padStart(4, '0');
  const ours = host.startsWith('::ffff:') ? host.slice(7) : host;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] === '0A') continue; // 0A: LISTEN
      const [hex, p] = f[1]!.split(':');
      if (p !== want || !hex) continue;
      let theirs = procAddress(hex);
      if (theirs.startsWith('::ffff:')) theirs = theirs.slice(7);
      if (WILDCARDS.has(theirs) || WILDCARDS.has(ours) || theirs === ours) return true;
    }
  }
  return false;
}

function conflicts(host: string, port: number, reuse: boolean, key: string): boolean {
  for (const r of reservations) {
    if (r.key !== key || r.port !== port) continue;
    if (r.reuse && reuse) continue; // Linux: both SO_REUSEADDR and neither listening
    if (r.host === host || ANY.has(r.host) || ANY.has(host)) return true;
  }
  return false;
}

function listenOnce(server: net.Server, opts: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onErr = (e: Error) => reject(e);
    server.once('error', onErr);
    server.listen(opts, () => {
      server.off('error', onErr);
      resolve();
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Options every OS socket records (the front keeps the authoritative copy for getsockopt). */
class Opts {
  reuse = false;
  broadcast = false;
  keepalive = false;
  keepidle = 7200;
  nodelay = false;
  linger: Uint8Array | undefined;
  sndbuf = 65536;
  rcvbuf = 131072;
  v6only = false;
  /** IP_TTL (undefined: the kernel's default). */
  ttl: number | undefined;
  copy(): Opts {
    return Object.assign(new Opts(), this);
  }
  get abortive(): boolean {
    if (!this.linger) return false;
    const dv = new DataView(this.linger.buffer, this.linger.byteOffset, 8);
    return dv.getInt32(0, true) !== 0 && dv.getInt32(4, true) === 0;
  }
  set(level: number, name: number, v: OptionValue): void {
    const n = typeof v === 'number' ? v : 0;
    if (level === SOL_SOCKET) {
      if (name === SO_REUSEADDR) this.reuse = n !== 0;
      else if (name === SO_BROADCAST) this.broadcast = n !== 0;
      else if (name === SO_KEEPALIVE) this.keepalive = n !== 0;
      else if (name === SO_LINGER) this.linger = v as Uint8Array;
      else if (name === SO_SNDBUF) this.sndbuf = Math.max(4096, n);
      else if (name === SO_RCVBUF) this.rcvbuf = Math.max(4096, n);
    } else if (level === IPPROTO_TCP) {
      if (name === TCP_NODELAY) this.nodelay = n !== 0;
      else if (name === TCP_KEEPIDLE) this.keepidle = n;
    } else if (level === IPPROTO_IPV6 && name === IPV6_V6ONLY) this.v6only = n !== 0;
    else if (level === IPPROTO_IP && name === IP_TTL) this.ttl = n === -1 ? undefined : n;
  }
}

// ---- streams --------------------------------------------------------------------

class OsStream implements StreamImpl {
  readonly kind = 'stream' as const;
  readonly #family: AddressFamily;
  #opts: Opts;
  #local: SockAddr | undefined;
  #reservation: Reservation | undefined;
  #server: net.Server | undefined;
  #sock: net.Socket | undefined;
  #peer: SockAddr | undefined;
  #acceptQ: { impl: OsStream; peer: SockAddr }[] = [];
  #queue: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #eof = false;
  #rdShut = false;
  #wrShut = false;
  #err: unknown;
  #errReported = false;
  #closed = false;
  #rd = new Waiters();
  #wr = new Waiters();

  constructor(family: AddressFamily, opts = new Opts()) {
    this.#family = family;
    this.#opts = opts;
  }

  async bind(addr: SockAddr): Promise<void> {
    if (addr.family === AF_UNIX) {
      if (existsSync(addr.path)) throw new SocketError('EADDRINUSE', { syscall: 'bind', address: addr.path });
      if (!existsSync(dirname(addr.path)) && !addr.path.startsWith('\0'))
        throw new SocketError('ENOENT', { syscall: 'bind', address: addr.path });
      const key = 'unix';
      if (conflicts(addr.path, 0, false, key))
        throw new SocketError('EADDRINUSE', { syscall: 'bind', address: addr.path });
      this.#reservation = { key, host: addr.path, port: 0, reuse: false };
      reservations.add(this.#reservation);
      this.#local = addr;
      return;
    }
    const key = 'tcp';
    if (addr.port !== 0 && conflicts(addr.host, addr.port, this.#opts.reuse, key))
      throw new SocketError('EADDRINUSE', { syscall: 'bind', address: addr.host, port: addr.port });
    // Deviation: with SO_REUSEADDR set here the bind is let through whatever the old socket had
    // (libuv set the flag on it at the kernel level, so the kernel cannot tell us).
    if (addr.port !== 0 && !this.#opts.reuse && kernelHoldsTcpPort(addr.host, addr.port))
      throw new SocketError('EADDRINUSE', { syscall: 'bind', address: addr.host, port: addr.port });
    for (let attempt = 0; attempt < 20; attempt++) {
      const probe = net.createServer();
      await listenOnce(probe, {
        host: hostOf(addr),
        port: addr.port,
        ipv6Only: this.#opts.v6only,
        exclusive: true,
      });
      const port = (probe.address() as net.AddressInfo).port;
      await closeServer(probe);
      if (addr.port === 0 && conflicts(addr.host, port, this.#opts.reuse, key)) continue; // reused ephemeral port
      this.#reservation = { key, host: addr.host, port, reuse: this.#opts.reuse };
      reservations.add(this.#reservation);
      this.#local = { ...addr, port };
      return;
    }
    throw new SocketError('EADDRINUSE', { syscall: 'bind', detail: 'no free ephemeral port' });
  }

  #release(): void {
    if (this.#reservation) reservations.delete(this.#reservation);
    this.#reservation = undefined;
  }

  getsockname(): SockAddr {
    if (this.#family === AF_UNIX) return this.#local ?? anyAddress(AF_UNIX);
    return this.#local ?? anyAddress(this.#family);
  }

  getpeername(): SockAddr | undefined {
    return this.#peer;
  }

  setOption(level: number, name: number, value: OptionValue): void {
    if (level === IPPROTO_TCP && name === TCP_REMOTE_UDP_ENCAPS_PORT)
      throw new SocketError('ENOPROTOOPT', { detail: 'TCP over UDP is a stack-backend feature (FreeBSD)' });
    this.#opts.set(level, name, value);
    const s = this.#sock;
    if (s && !s.destroyed) {
      if (level === IPPROTO_TCP && name === TCP_NODELAY) s.setNoDelay(this.#opts.nodelay);
      if ((level === SOL_SOCKET && name === SO_KEEPALIVE) || (level === IPPROTO_TCP && name === TCP_KEEPIDLE))
        s.setKeepAlive(this.#opts.keepalive, this.#opts.keepidle * 1000);
    }
  }

  getOption(level: number, name: number): OptionValue | undefined {
    if (level === SOL_SOCKET && name === SO_ERROR) {
      if (this.#err === undefined || this.#errReported) return 0;
      this.#errReported = true;
      return toSocketError(this.#err).errno;
    }
    return undefined;
  }

  async listen(backlog: number): Promise<void> {
    if (this.#server) return; // Linux lets listen() be called again (to change the backlog)
    const server = net.createServer({ allowHalfOpen: true });
    server.on('connection', (s) => {
      if (this.#closed) {
        s.resetAndDestroy();
        return;
      }
      const conn = new OsStream(this.#family, this.#opts.copy());
      conn.#attach(s);
      this.#acceptQ.push({ impl: conn, peer: conn.#peer! });
      this.#rd.wake();
    });
    server.on('error', (e) => {
      this.#err = e;
      this.#rd.wake();
    });
    const local = this.#local ?? anyAddress(this.#family);
    const opts: net.ListenOptions =
      local.family === AF_UNIX
        ? { path: local.path, backlog }
        : { host: hostOf(local), port: local.port, backlog, ipv6Only: this.#opts.v6only, exclusive: true };
    try {
      await listenOnce(server, opts);
    } catch (e) {
      server.close();
      throw e;
    }
    this.#release();
    this.#server = server;
    if (local.family !== AF_UNIX) {
      const a = server.address() as net.AddressInfo;
      this.#local = fromNode(this.#family, a.address, a.port);
    }
  }

  accept(): { impl: StreamImpl; peer: SockAddr } | undefined {
    if (this.#err !== undefined && !this.#errReported) {
      this.#errReported = true;
      throw this.#err;
    }
    return this.#acceptQ.shift();
  }

  connect(addr: SockAddr, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const local = this.#local;
      let s: net.Socket;
      if (addr.family === AF_UNIX) {
        s = net.connect({ path: addr.path, allowHalfOpen: true });
      } else {
        const o: net.TcpNetConnectOpts = {
          host: hostOf(addr),
          port: addr.port,
          family: ipFamily(this.#family),
          allowHalfOpen: true,
          noDelay: this.#opts.nodelay,
        };
        if (local && local.family !== AF_UNIX) {
          o.localAddress = ANY.has(local.host)
            ? this.#family === AF_INET6
              ? '::'
              : '0.0.0.0'
            : hostOf(local);
          o.localPort = local.port;
        }
        this.#release();
        s = net.connect(o);
      }
      const onAbort = () => {
        s.destroy();
        cleanup();
        reject(signal.reason);
      };
      const onErr = (e: Error) => {
        cleanup();
        s.destroy();
        reject(e);
      };
      const onConnect = () => {
        cleanup();
        this.#attach(s);
        if (addr.family === AF_UNIX) this.#peer = addr;
        resolve();
      };
      const cleanup = () => {
        signal.removeEventListener('abort', onAbort);
        s.off('error', onErr);
        s.off('connect', onConnect);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      s.once('error', onErr);
      s.once('connect', onConnect);
    });
  }

  #attach(s: net.Socket): void {
    this.#sock = s;
    if (this.#family === AF_UNIX) {
      this.#local ??= anyAddress(AF_UNIX);
      this.#peer = { family: AF_UNIX, path: '' };
    } else {
      this.#local = fromNode(this.#family, s.localAddress, s.localPort);
      this.#peer = fromNode(this.#family, s.remoteAddress, s.remotePort);
    }
    if (this.#opts.nodelay) s.setNoDelay(true);
    if (this.#opts.keepalive) s.setKeepAlive(true, this.#opts.keepidle * 1000);
    s.on('data', (b: Buffer) => {
      if (this.#closed) return;
      this.#queue.push(b);
      this.#queued += b.length;
      if (this.#queued >= this.#opts.rcvbuf && !this.#paused) {
        this.#paused = true;
        s.pause();
      }
      this.#rd.wake();
    });
    s.on('end', () => {
      // libuv reports EOF, without reading again, when POLLHUP comes with a partial read
      // (uv__stream_io), which is also how a RST right behind data looks; the kernel still holds
      // that socket's ECONNRESET. A zero-length write tells the two apart: after a RST it fails
      // with the pending error (tcp_sendmsg -> sk_stream_error), after a FIN it succeeds. Only
      // with nothing queued: behind queued bytes the answer could wait on a peer that never reads.
      if (!s.writable || s.writableEnded || s.destroyed || s.writableLength > 0) {
        this.#eof = true;
        this.#rd.wake();
        return;
      }
      s.write(Buffer.alloc(0), (err) => {
        if (err && this.#err === undefined && (err as NodeJS.ErrnoException).code === 'ECONNRESET')
          this.#err = Object.assign(err, { syscall: 'read' });
        this.#eof = true;
        this.#rd.wake();
        this.#wr.wake();
      });
    });
    s.on('error', (e) => {
      if (this.#err === undefined) this.#err = e;
      this.#rd.wake();
      this.#wr.wake();
    });
    s.on('close', () => {
      this.#eof = true;
      this.#rd.wake();
      this.#wr.wake();
    });
    s.on('drain', () => this.#wr.wake());
  }

  #takeError(): unknown {
    if (this.#err === undefined || this.#errReported) return undefined;
    this.#errReported = true;
    return this.#err;
  }

  recv(max: number, peek: boolean): Uint8Array | undefined {
    if (this.#queued > 0) {
      const n = Math.min(max, this.#queued);
      const out = new Uint8Array(n);
      let off = 0;
      let i = 0;
      while (off < n) {
        const c = this.#queue[i];
        const k = Math.min(c.length, n - off);
        out.set(c.subarray(0, k), off);
        off += k;
        if (!peek) {
          if (k === c.length) this.#queue.shift();
          else this.#queue[0] = c.subarray(k);
        } else i++;
      }
      if (!peek) {
        this.#queued -= n;
        if (this.#paused && this.#queued < this.#opts.rcvbuf / 2) {
          this.#paused = false;
          this.#sock?.resume();
        }
      }
      return out;
    }
    const e = this.#takeError();
    if (e !== undefined) throw e;
    if (this.#eof || this.#rdShut || this.#errReported || this.#closed || !this.#sock)
      return new Uint8Array(0);
    return undefined;
  }

  send(data: Uint8Array): number {
    const e = this.#takeError();
    if (e !== undefined) throw e;
    const s = this.#sock;
    if (!s || this.#wrShut || this.#errReported || s.destroyed || !s.writable)
      throw new SocketError('EPIPE', { syscall: 'send' });
    const room = this.#opts.sndbuf - s.writableLength;
    if (room <= 0) return 0;
    // Like the kernel's tcp_sendmsg: take what fits in the send buffer and report that count
    // (a blocking sendall loops; a timeout then bounds it). Taking all of a large buffer would
    // queue it in Node's memory, unbounded, and sendall could never time out.
    const n = Math.min(data.length, room);
    s.write(Buffer.from(data.subarray(0, n))); // a copy: the caller may reuse its buffer
    return n;
  }

  shutdown(how: 0 | 1 | 2): void {
    if (how !== 1) {
      this.#rdShut = true;
      this.#rd.wake();
    }
    if (how !== 0 && !this.#wrShut) {
      this.#wrShut = true;
      this.#sock?.end();
    }
  }

  waitReadable(signal: AbortSignal): Promise<void> {
    if (this.#queued > 0 || this.#acceptQ.length > 0 || this.#eof || this.#closed || this.#err !== undefined)
      return Promise.resolve();
    return this.#rd.wait(signal);
  }

  waitWritable(signal: AbortSignal): Promise<void> {
    const s = this.#sock;
    if (!s || s.destroyed || this.#closed || this.#err !== undefined || s.writableLength < this.#opts.sndbuf)
      return Promise.resolve();
    return this.#wr.wait(signal);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    if (this.#server) {
      this.#server.close();
      // Connections the program never accepted are reset, as the kernel does on close().
      for (const c of this.#acceptQ) c.impl.#sock?.resetAndDestroy();
      this.#acceptQ = [];
    }
    const s = this.#sock;
    if (s && !s.destroyed) {
      if (this.#opts.abortive) s.resetAndDestroy();
      else if (this.#queued > 0)
        s.resetAndDestroy(); // Linux tcp_close: unread data at close → RST
      else {
        s.end();
        if (s.writableFinished) s.destroy();
        else s.once('finish', () => s.destroy());
      }
    }
    this.#rd.wake();
    this.#wr.wake();
  }
}

// ---- datagrams -------------------------------------------------------------------

class OsDatagram implements DatagramImpl {
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
    if (this.#queue.length > 0 || this.#err !== undefined || this.#closed) return Promise.resolve();
    return this.#rd.wait(signal);
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

// ---- the backend -----------------------------------------------------------------

async function resolve(host: string, family: 0 | 2 | 10): Promise<ResolvedAddress[]> {
  try {
    const r = await lookup(host, { all: true, family: family === AF_INET ? 4 : family === AF_INET6 ? 6 : 0 });
    return r.map((a) => ({ family: a.family === 6 ? AF_INET6 : AF_INET, host: a.address }));
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new GaiError(
      code === 'EAI_AGAIN' ? 'EAI_AGAIN' : code === 'EAI_FAIL' ? 'EAI_FAIL' : 'EAI_NONAME',
      host,
    );
  }
}

export function createOsBackend(): SocketBackend {
  return {
    name: 'os',
    scheduler: realScheduler,
    create(family: AddressFamily, type: SocketKind) {
      if (type === SOCK_DGRAM) {
        if (family === AF_UNIX)
          throw new SocketError('EAFNOSUPPORT', {
            syscall: 'socket',
            detail: 'the OS backend has no AF_UNIX datagram sockets (Node lacks them)',
          });
        return new OsDatagram(family);
      }
      return new OsStream(family);
    },
    resolve,
    gethostname: () => hostname(),
  };
}

let shared: SocketBackend | undefined;
/** The process-wide OS backend. */
export function osBackend(): SocketBackend {
  shared ??= createOsBackend();
  return shared;
}
