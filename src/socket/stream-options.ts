/**
 * The socket options of a stack stream socket in their Linux units (seconds, bytes,
 * struct linger), mapped to the TCP layer's `TcpSocketOptions` (µs durations), and
 * TCP_INFO as Linux's `struct tcp_info`. A socket keeps the options set before its
 * connection or listener exists here; they are applied at listen/connect.
 */
import type { TcpSocketOptions } from '../tcp/config.ts';
import { congestionByName } from '../tcp/congestion/factory.ts';
import type { TcpConnection } from '../tcp/connection.ts';
import { TFO_CLIENT_ENABLE } from '../tcp/fastopen.ts';
import type { TcpLayer } from '../tcp/layer.ts';
import type { TcpListener } from '../tcp/listen.ts';
import type { OptionValue } from './backend.ts';
import {
  IP_MTU_DISCOVER,
  IP_TOS,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_TCP,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_MAX_PACING_RATE,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_SNDBUF,
  SOL_SOCKET,
  SOMAXCONN,
  TCP_CONGESTION,
  TCP_CORK,
  TCP_FASTOPEN,
  TCP_FASTOPEN_CONNECT,
  TCP_FASTOPEN_NO_COOKIE,
  TCP_INFO,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINIT,
  TCP_KEEPINTVL,
  TCP_MAXSEG,
  TCP_NODELAY,
  TCP_NOTSENT_LOWAT,
  TCP_REMOTE_UDP_ENCAPS_PORT,
  TCP_USER_TIMEOUT,
} from './constants.ts';
import { SocketError } from './errno.ts';
import { encodeTcpInfo } from './tcp-info.ts';

/** Smallest SO_RCVBUF / SO_SNDBUF we accept (Linux: SOCK_MIN_RCVBUF ≈ 2 KiB). */
export const MIN_SOCKET_BUFFER = 2048;

const SECOND = 1_000_000;

/** What the options read of their socket. */
export interface OptionSocket {
  readonly layer: TcpLayer;
  readonly connection: TcpConnection | undefined;
  readonly listener: TcpListener | undefined;
  /** The IP layer's default TTL (what IP_TTL reads before it is set; 64 when absent). */
  readonly defaultTtl: number | undefined;
}

export class StreamOptions {
  /** TCP options set on the socket (applied at listen/connect, and to a live connection). */
  readonly tcp: Partial<TcpSocketOptions> = {};
  /** SO_REUSEADDR. */
  reuseAddr = false;
  /** SO_LINGER as set (on, seconds); the connection only knows "0 = RST". */
  linger: readonly [number, number] = [0, 0];

  /**
   * setsockopt(2): records the option and returns the TcpSocketOptions it changes, for the
   * caller to apply to the live connection or listener. SO_REUSEADDR changes none (the
   * caller hands `reuseAddr` to the socket's port claim). Throws EINVAL, ENOPROTOOPT.
   */
  set(level: number, name: number, value: OptionValue, s: OptionSocket): Partial<TcpSocketOptions> {
    const n = typeof value === 'number' ? value : 0;
    const o: Partial<TcpSocketOptions> = {};
    if (level === SOL_SOCKET) {
      if (name === SO_REUSEADDR) {
        this.reuseAddr = n !== 0;
        return o;
      }
      if (name === SO_KEEPALIVE) o.keepAlive = n !== 0;
      // Deviation: Linux doubles the value for bookkeeping overhead; ours holds exactly this many data bytes.
      else if (name === SO_RCVBUF) o.rcvBuf = Math.max(MIN_SOCKET_BUFFER, n);
      else if (name === SO_SNDBUF) o.sndBuf = Math.max(MIN_SOCKET_BUFFER, n);
      // socket(7) SO_MAX_PACING_RATE: bytes per second; ~0U (-1 here) lifts the limit.
      else if (name === SO_MAX_PACING_RATE) o.pacingRate = n === -1 || n === 0 ? undefined : n;
      else if (name === SO_LINGER) {
        if (!(value instanceof Uint8Array) || value.length < 8)
          throw new SocketError('EINVAL', { detail: 'SO_LINGER takes struct linger' });
        const dv = new DataView(value.buffer, value.byteOffset, 8);
        const on = dv.getInt32(0, true) !== 0;
        const secs = dv.getInt32(4, true);
        this.linger = [on ? 1 : 0, secs];
        // Deviation: close() never blocks (backend.ts), so {1, N > 0} still closes gracefully in the
        // background; only {1, 0} changes behaviour (RST on close, RFC 9293 §3.10.5 ABORT).
        o.linger = on ? secs * SECOND : undefined;
      } else throw new SocketError('ENOPROTOOPT');
    } else if (level === IPPROTO_TCP) {
      if (name === TCP_CONGESTION) {
        // Linux tcp_set_congestion_control: an algorithm this stack has, else ENOENT.
        const text = value instanceof Uint8Array ? new TextDecoder().decode(value) : String(value);
        const cc = congestionByName(text);
        if (!cc) throw new SocketError('ENOENT', { detail: `no congestion control named "${text}"` });
        o.congestion = cc;
      } else if (name === TCP_NODELAY) o.noDelay = n !== 0;
      else if (name === TCP_MAXSEG) {
        // Linux: 88 (TCP_MIN_MSS) .. 65535 (MAX_TCP_WINDOW), only before the connection exists matters.
        if (n < 88 || n > 65535) throw new SocketError('EINVAL', { detail: 'TCP_MAXSEG out of range' });
        o.maxSeg = n;
      } else if (name === TCP_KEEPIDLE || name === TCP_KEEPINTVL) {
        // Linux: 1 .. MAX_TCP_KEEPIDLE (32767) seconds.
        if (n < 1 || n > 32767) throw new SocketError('EINVAL', { detail: 'keepalive time out of range' });
        if (name === TCP_KEEPIDLE) o.keepIdle = n * SECOND;
        else o.keepInterval = n * SECOND;
      } else if (name === TCP_KEEPCNT) {
        if (n < 1 || n > 127) throw new SocketError('EINVAL', { detail: 'TCP_KEEPCNT out of range' });
        o.keepCount = n;
      } else if (name === TCP_USER_TIMEOUT) {
        // Linux tcp(7): milliseconds, 0 restores the retry-count default; negative is EINVAL.
        if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff)
          throw new SocketError('EINVAL', { detail: 'TCP_USER_TIMEOUT out of range' });
        o.userTimeout = n * 1000;
      } else if (name === TCP_KEEPINIT) {
        // FreeBSD tcp(4): seconds; 0 restores the stack default (config.keepInit).
        if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff)
          throw new SocketError('EINVAL', { detail: 'TCP_KEEPINIT out of range' });
        o.keepInit = n > 0 ? n * SECOND : undefined;
      } else if (name === TCP_CORK) {
        o.cork = n !== 0;
      } else if (name === TCP_NOTSENT_LOWAT) {
        // Linux stores a u32: -1 (UINT_MAX) is "no limit", as is the sysctl's default.
        o.notSentLowat = n < 0 ? Number.POSITIVE_INFINITY : n;
      } else if (name === TCP_FASTOPEN) {
        // Linux do_tcp_setsockopt: only on a socket that is closed or listening; the queue bound
        // is capped at somaxconn (fastopen_queue_tune).
        if (!Number.isInteger(n) || n < 0)
          throw new SocketError('EINVAL', { detail: 'TCP_FASTOPEN must be >= 0' });
        if (s.connection && s.connection.state !== 'CLOSED')
          throw new SocketError('EINVAL', { detail: 'TCP_FASTOPEN on a connected socket' });
        o.fastOpenQlen = Math.min(n, SOMAXCONN);
      } else if (name === TCP_FASTOPEN_CONNECT) {
        // Linux: 0 or 1, the client bit of net.ipv4.tcp_fastopen (else EOPNOTSUPP), before connect().
        if (n !== 0 && n !== 1)
          throw new SocketError('EINVAL', { detail: 'TCP_FASTOPEN_CONNECT takes 0 or 1' });
        if (!(s.layer.config.fastOpen & TFO_CLIENT_ENABLE))
          throw new SocketError('EOPNOTSUPP', { detail: 'Fast Open client is off (config.fastOpen)' });
        if (s.connection || s.listener)
          throw new SocketError('EINVAL', { detail: 'TCP_FASTOPEN_CONNECT only before connect()' });
        o.fastOpenConnect = n === 1;
      } else if (name === TCP_FASTOPEN_NO_COOKIE) {
        if (n !== 0 && n !== 1)
          throw new SocketError('EINVAL', { detail: 'TCP_FASTOPEN_NO_COOKIE takes 0 or 1' });
        o.fastOpenNoCookie = n === 1;
      } else if (name === TCP_REMOTE_UDP_ENCAPS_PORT) {
        // FreeBSD tcp_default_ctloutput: a port in range, tunnelling enabled ("You have to have
        // enabled a UDP tunneling port first"), and the connection not yet made.
        if (!Number.isInteger(n) || n < 0 || n > 65535)
          throw new SocketError('EINVAL', { detail: 'TCP_REMOTE_UDP_ENCAPS_PORT out of range' });
        if (n !== 0 && s.layer.config.udpTunnelingPort === 0)
          throw new SocketError('EINVAL', {
            detail: 'TCP over UDP is off (TcpConfig.udpTunnelingPort is 0)',
          });
        if (s.connection || s.listener)
          throw new SocketError('EINVAL', { detail: 'TCP_REMOTE_UDP_ENCAPS_PORT only before connect()' });
        o.udpEncapsPort = n || undefined;
      } else throw new SocketError('ENOPROTOOPT');
    } else if (level === IPPROTO_IP) {
      // ip(7) IP_TOS: on a stream socket Linux keeps the ECN bits under TCP's control (RFC 3168
      // §5; no ECN here, so they stay 0) and takes the DSCP from the value.
      if (name === IP_TOS) o.tos = n & 0xfc;
      else if (name === IP_TTL) {
        if (!Number.isInteger(n) || n === 0 || n < -1 || n > 255)
          throw new SocketError('EINVAL', { detail: 'IP_TTL must be 1..255 (or -1)' });
        o.ttl = n === -1 ? undefined : n;
      } else if (name === IP_MTU_DISCOVER) {
        if (!Number.isInteger(n) || n < 0 || n > 5)
          throw new SocketError('EINVAL', { detail: 'IP_MTU_DISCOVER out of range' });
        o.pmtuDisc = n;
      } else throw new SocketError('ENOPROTOOPT');
    } else {
      throw new SocketError('ENOPROTOOPT');
    }
    Object.assign(this.tcp, o);
    return o;
  }

  /** getsockopt(2) for every option but SO_ERROR (the socket's own state); undefined: not one we know. */
  get(level: number, name: number, s: OptionSocket): OptionValue | undefined {
    const c = s.connection;
    const opts = c?.options ?? s.listener?.opts ?? { ...s.layer.defaultOptions(), ...this.tcp };
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_RCVBUF:
          return opts.rcvBuf;
        case SO_SNDBUF:
          return opts.sndBuf;
        case SO_MAX_PACING_RATE:
          return opts.pacingRate ?? -1;
        case SO_KEEPALIVE:
          return opts.keepAlive ? 1 : 0;
        case SO_REUSEADDR:
          return this.reuseAddr ? 1 : 0;
        case SO_LINGER: {
          const out = new Uint8Array(8);
          const dv = new DataView(out.buffer);
          dv.setInt32(0, this.linger[0], true);
          dv.setInt32(4, this.linger[1], true);
          return out;
        }
      }
      return undefined;
    }
    if (level === IPPROTO_IP) {
      if (name === IP_TOS) return opts.tos ?? 0;
      if (name === IP_TTL) return opts.ttl ?? s.defaultTtl ?? 64;
      if (name === IP_MTU_DISCOVER) return opts.pmtuDisc ?? 1;
      return undefined;
    }
    if (level === IPPROTO_TCP) {
      switch (name) {
        case TCP_CONGESTION: {
          // The name as the system spells it: Linux's NewReno is "reno".
          const cc = c ? c.congestionName : opts.congestion;
          const name = cc === 'newreno' && s.layer.config.profile === 'linux' ? 'reno' : cc;
          return new TextEncoder().encode(name);
        }
        case TCP_NODELAY:
          return opts.noDelay ? 1 : 0;
        case TCP_MAXSEG:
          // Linux: the current send MSS once connected; before that the user's cap or 536.
          return c && c.state !== 'CLOSED' && c.state !== 'SYN-SENT' ? c.mss : (opts.maxSeg ?? 536);
        case TCP_KEEPIDLE:
          return Math.round(opts.keepIdle / SECOND);
        case TCP_KEEPINTVL:
          return Math.round(opts.keepInterval / SECOND);
        case TCP_KEEPCNT:
          return opts.keepCount;
        case TCP_USER_TIMEOUT:
          return Math.round((opts.userTimeout ?? 0) / 1000);
        case TCP_REMOTE_UDP_ENCAPS_PORT:
          return opts.udpEncapsPort ?? 0;
        case TCP_CORK:
          return opts.cork ? 1 : 0;
        case TCP_NOTSENT_LOWAT: {
          const v = opts.notSentLowat ?? s.layer.config.notSentLowat;
          return v === Number.POSITIVE_INFINITY ? -1 : v;
        }
        case TCP_FASTOPEN:
          return opts.fastOpenQlen ?? 0;
        case TCP_FASTOPEN_CONNECT:
          return opts.fastOpenConnect ? 1 : 0;
        case TCP_FASTOPEN_NO_COOKIE:
          return opts.fastOpenNoCookie ? 1 : 0;
        case TCP_KEEPINIT:
          return Math.round((opts.keepInit ?? s.layer.config.keepInit) / SECOND);
        case TCP_INFO:
          return encodeTcpInfo(
            c ? c.info() : undefined,
            s.layer.env.clock.now(),
            s.listener ? 'LISTEN' : 'CLOSED',
          );
      }
    }
    return undefined;
  }
}
