/**
 * The os backend's stream sockets: TCP over Node's `net` (AF_INET, AF_INET6) and AF_UNIX
 * stream paths. How they differ from the kernel's own is listed in os-backend.ts.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { anyAddress } from '../socket/address.ts';
import type { OptionValue, SockAddr, StreamImpl } from '../socket/backend.ts';
import {
  type AddressFamily,
  AF_INET6,
  AF_UNIX,
  IPPROTO_TCP,
  SO_ERROR,
  SO_KEEPALIVE,
  SOL_SOCKET,
  TCP_INFO,
  TCP_KEEPIDLE,
  TCP_NODELAY,
  TCP_REMOTE_UDP_ENCAPS_PORT,
} from '../socket/constants.ts';
import { SocketError, toSocketError } from '../socket/errno.ts';
import { encodeTcpInfo } from '../socket/tcp-info.ts';
import { Waiters } from '../socket/waiters.ts';
import { kernelTcpInfo } from './kernel-tcp-info.ts';
import { ANY_HOSTS, fromNode, hostOf, ipFamily, Opts } from './os-common.ts';
import {
  type Reservation,
  reservedInProcess,
  reserveTcp,
  reserveUnixPath,
  tcpBindConflict,
} from './os-ports.ts';

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

export class OsStream implements StreamImpl {
  readonly kind = 'stream' as const;
  readonly #family: AddressFamily;
  #opts: Opts;
  #local: SockAddr | undefined;
  /** The port (or AF_UNIX path) bind() holds until listen()/connect() (os-ports.ts). */
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
      const r = reserveUnixPath(addr.path);
      if (!r) throw new SocketError('EADDRINUSE', { syscall: 'bind', address: addr.path });
      this.#reservation = r;
      this.#local = addr;
      return;
    }
    // Deviation: with SO_REUSEADDR set here the bind is let through whatever the old socket had
    // (libuv set the flag on it at the kernel level, so the kernel cannot tell us).
    if (addr.port !== 0 && tcpBindConflict(addr.host, addr.port, this.#opts.reuse))
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
      if (addr.port === 0 && reservedInProcess(addr.host, port, this.#opts.reuse)) continue; // reused ephemeral port
      this.#reservation = reserveTcp(addr.host, port, this.#opts);
      this.#local = { ...addr, port };
      return;
    }
    throw new SocketError('EADDRINUSE', { syscall: 'bind', detail: 'no free ephemeral port' });
  }

  #release(): void {
    this.#reservation?.release();
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
    if (level === IPPROTO_TCP && name === TCP_INFO) {
      const h = this.#sock ?? this.#server;
      return (h && kernelTcpInfo(h)) ?? encodeTcpInfo(undefined, 0, 'CLOSED');
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
          o.localAddress = ANY_HOSTS.has(local.host)
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
    return this.#rd.wait(
      signal,
      () =>
        this.#queued > 0 || this.#acceptQ.length > 0 || this.#eof || this.#closed || this.#err !== undefined,
    );
  }

  waitWritable(signal: AbortSignal): Promise<void> {
    return this.#wr.wait(signal, () => {
      const s = this.#sock;
      return (
        !s || s.destroyed || this.#closed || this.#err !== undefined || s.writableLength < this.#opts.sndbuf
      );
    });
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
