/**
 * The conformance target for sockstack's own `Stack`: one host with a raw-IP memory
 * interface owned by the runner, a ManualClock the runner drives, a seeded rng, and
 * the sockets API (`stack.socket()`, the Python-style front `Socket`) behind the
 * runner's normalized syscalls.
 *
 *   const code = await conformanceCommand(['scripts/'], stackTargetFactory);
 *
 * - `inject` queues the datagram on the device and delivers it from a timer at
 *   the current instant (so the stack is never entered from inside the runner's
 *   call chain, and replies carry the injection time).
 * - `takeOutbound` drains what the stack transmitted, each with its send time.
 * - `syscall` calls the front `Socket` methods. They are async; the returned
 *   Promise settles within a few microtasks when the call does not block, and
 *   as the runner advances virtual time when it does. Errors are the front's
 *   `SocketError` codes.
 * - `configure` maps runner settings (docs/conformance.md) onto `stack.tcp.config`
 *   where an equivalent exists (stack-settings.ts), and answers `false` for knobs the
 *   stack lacks. Settings apply to connections opened afterwards, as sysctls do.
 * - `tcpInfo` and `connections` read the TCP layer's connection table.
 *
 * Dialects: the target only chooses the TCP profile of the script's system
 * (src/tcp/profile.ts: LINUX or FREEBSD, which include FreeBSD's socket-buffer
 * rounding) and maps the script's sysctls onto the config (`configure`).
 */

import { SeededRng } from '../rand/rng.ts';
import type { AddressTuple } from '../socket/address.ts';
import {
  AF_INET,
  AF_INET6,
  IP_MTU_DISCOVER,
  IP_PKTINFO,
  IP_RECVTOS,
  IP_RECVTTL,
  IP_TOS,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVPKTINFO,
  IPV6_RECVTCLASS,
  MSG_DONTWAIT,
  MSG_EOR,
  MSG_FASTOPEN,
  MSG_MORE,
  MSG_PEEK,
  SO_BROADCAST,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_CONGESTION,
  TCP_CORK,
  TCP_FASTOPEN,
  TCP_FASTOPEN_CONNECT,
  TCP_FASTOPEN_NO_COOKIE,
  TCP_INQ,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_MAXSEG,
  TCP_NODELAY,
  TCP_NOTSENT_LOWAT,
  TCP_REMOTE_UDP_ENCAPS_PORT,
} from '../socket/constants.ts';
import { ERRNO as SOCKET_ERRNO, SocketError } from '../socket/errno.ts';
import type { Socket } from '../socket/socket.ts';
import { IP_TTL } from '../socket/stack-dgram.ts';
import { Stack } from '../stack.ts';
import { deferAcceptRetries } from '../tcp/config.ts';
import type { TcpConnection } from '../tcp/connection.ts';
import type { TcpInfo } from '../tcp/info.ts';
import { FREEBSD, LINUX, type TcpProfile } from '../tcp/profile.ts';
import { ManualClock } from '../time/clock.ts';
import type { Instant } from '../time/instant.ts';
import type { Timer } from '../time/timers.ts';
import { type IpAddress, parseIpv4, parseIpv6 } from '../wire/address.ts';
import { ipv6Equals } from '../wire/ipv6-address.ts';
import { ConformanceDevice } from './conformance-device.ts';
import { findDeviation } from './deviations.ts';
import { StackSettings } from './stack-settings.ts';
import type {
  ConformanceTarget,
  SockAddr,
  Syscall,
  SyscallOutcome,
  TargetConfig,
  TargetConnection,
  TargetSetting,
  TargetTcpInfo,
  TargetTcpState,
} from './target.ts';

export { ConformanceDevice } from './conformance-device.ts';

export interface StackTargetOptions {
  /** Seed of the stack's rng (ISNs, ephemeral ports, timestamp offset). Default 1. */
  readonly seed?: number;
}

interface FdEntry {
  readonly sock: Socket;
  readonly stream: boolean;
  listening: boolean;
  /** The connection's tuple once known, so tcpInfo works after close() too. */
  tuple: { localPort: number; remotePort: number } | undefined;
  /** SO_SNDBUF / SO_RCVBUF values the script set (Linux reports them doubled). */
  readonly bufsSet: Set<string>;
  /** TCP_DEFER_ACCEPT seconds set on this (listening) socket. */
  deferAccept?: number;
  /** FreeBSD TCP_KEEPINIT seconds set before connect(); given to the connection it makes. */
  keepInit?: number;
  /** FreeBSD RACK pacing options set so far (TCP_RACK_PACE_*). */
  rackPace?: { maxSeg?: number; rate: number; always: boolean };
}

const SOCKET_ERRNO_NAMES = new Map<number, string>(
  Object.entries(SOCKET_ERRNO as Record<string, number>).map(([k, v]) => [v, k]),
);

/** Socket options the stack's front Socket understands, by the runner's level and option names. */
const OPTION_NUMBERS: Record<string, [number, number]> = {
  'SOL_SOCKET:SO_REUSEADDR': [SOL_SOCKET, SO_REUSEADDR],
  'SOL_SOCKET:SO_REUSEPORT': [SOL_SOCKET, SO_REUSEPORT],
  'SOL_SOCKET:SO_BROADCAST': [SOL_SOCKET, SO_BROADCAST],
  'SOL_SOCKET:SO_KEEPALIVE': [SOL_SOCKET, SO_KEEPALIVE],
  'SOL_SOCKET:SO_LINGER': [SOL_SOCKET, SO_LINGER],
  'SOL_SOCKET:SO_RCVBUF': [SOL_SOCKET, SO_RCVBUF],
  'SOL_SOCKET:SO_SNDBUF': [SOL_SOCKET, SO_SNDBUF],
  'SOL_SOCKET:SO_ERROR': [SOL_SOCKET, SO_ERROR],
  'TCP:TCP_NODELAY': [IPPROTO_TCP, TCP_NODELAY],
  'TCP:TCP_CONGESTION': [IPPROTO_TCP, TCP_CONGESTION],
  'TCP:TCP_MAXSEG': [IPPROTO_TCP, TCP_MAXSEG],
  'TCP:TCP_KEEPIDLE': [IPPROTO_TCP, TCP_KEEPIDLE],
  'TCP:TCP_KEEPINTVL': [IPPROTO_TCP, TCP_KEEPINTVL],
  'TCP:TCP_KEEPCNT': [IPPROTO_TCP, TCP_KEEPCNT],
  'TCP:TCP_REMOTE_UDP_ENCAPS_PORT': [IPPROTO_TCP, TCP_REMOTE_UDP_ENCAPS_PORT],
  'TCP:TCP_FASTOPEN': [IPPROTO_TCP, TCP_FASTOPEN],
  'TCP:TCP_CORK': [IPPROTO_TCP, TCP_CORK],
  'TCP:TCP_NOTSENT_LOWAT': [IPPROTO_TCP, TCP_NOTSENT_LOWAT],
  'TCP:TCP_FASTOPEN_CONNECT': [IPPROTO_TCP, TCP_FASTOPEN_CONNECT],
  'TCP:TCP_FASTOPEN_NO_COOKIE': [IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE],
  'IP:IP_TTL': [IPPROTO_IP, IP_TTL],
  'IP:IP_TOS': [IPPROTO_IP, IP_TOS],
  'IP:IP_MTU_DISCOVER': [IPPROTO_IP, IP_MTU_DISCOVER],
  'TCP:TCP_INQ': [IPPROTO_TCP, TCP_INQ],
  'IP:IP_RECVTOS': [IPPROTO_IP, IP_RECVTOS],
  'IP:IP_RECVTTL': [IPPROTO_IP, IP_RECVTTL],
  'IP:IP_PKTINFO': [IPPROTO_IP, IP_PKTINFO],
  'IPV6:IPV6_RECVTCLASS': [IPPROTO_IPV6, IPV6_RECVTCLASS],
  'IPV6:IPV6_RECVHOPLIMIT': [IPPROTO_IPV6, IPV6_RECVHOPLIMIT],
  'IPV6:IPV6_RECVPKTINFO': [IPPROTO_IPV6, IPV6_RECVPKTINFO],
};

function levelKey(level: string): string {
  if (level === 'SOL_SOCKET' || level === '1' || level === '65535') return 'SOL_SOCKET';
  if (level === 'IPPROTO_TCP' || level === 'SOL_TCP' || level === '6') return 'TCP';
  if (level === 'IPPROTO_IP' || level === 'SOL_IP' || level === '0') return 'IP';
  if (level === 'IPPROTO_IPV6' || level === 'SOL_IPV6' || level === '41') return 'IPV6';
  return level;
}

function errorOutcome(e: unknown): SyscallOutcome {
  if (e instanceof SocketError) return { kind: 'error', errno: e.code };
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return { kind: 'error', errno: code };
  return { kind: 'unsupported', reason: `the stack threw: ${e instanceof Error ? e.message : String(e)}` };
}

/** Runs an async socket call and turns its result or SocketError into an outcome. */
async function outcome(f: () => Promise<SyscallOutcome> | SyscallOutcome): Promise<SyscallOutcome> {
  try {
    return await f();
  } catch (e) {
    return errorOutcome(e);
  }
}

const ok = (value: number | string | boolean): SyscallOutcome => ({ kind: 'ok', value });

/** An fd watched by an epoll instance (stack-target's epoll_ctl / epoll_wait). */
interface EpollItem {
  events: number;
  /** Edge-triggered: the events last reported (cleared as they stop holding) and the bytes received then. */
  last: number;
  lastBytes: number;
  /** EPOLLONESHOT: reported once, then off until EPOLL_CTL_MOD. */
  disabled: boolean;
}

const EPOLLONESHOT = 0x40000000;
const EPOLLET = 0x80000000;

/** Linux's poll(2) event bits (<asm-generic/poll.h>). */
const POLL = {
  IN: 0x1,
  OUT: 0x4,
  ERR: 0x8,
  HUP: 0x10,
  NVAL: 0x20,
  RDNORM: 0x40,
  WRNORM: 0x100,
  RDHUP: 0x2000,
} as const;

export class StackTarget implements ConformanceTarget {
  readonly config: TargetConfig;
  readonly clock = new ManualClock(0);
  /** The TCP profile of the script's system. */
  readonly profile: TcpProfile;
  readonly stack: Stack;
  readonly device: ConformanceDevice;
  readonly #fds = new Map<number, FdEntry>();
  #nextFd = 3;
  readonly #inbox: Uint8Array[] = [];
  readonly #deliver: Timer;
  readonly #settings: StackSettings;

  constructor(config: TargetConfig, options: StackTargetOptions = {}) {
    this.config = config;
    // The script's system chooses the profile (src/tcp/profile.ts); its sysctls map onto
    // the config through configure().
    this.profile = config.dialect === 'freebsd' ? FREEBSD : LINUX;
    this.stack = new Stack({
      clock: this.clock,
      rng: new SeededRng(options.seed ?? 1),
      name: 'conformance',
      privileged: true,
      config: {
        tcp: {
          profile: this.profile.name,
          // Linux sizes tcp_rmem[2] by memory: min(6 MiB, free buffer pages / 128). A script that
          // sets no tcp_rmem sees its recording host's value; the only such scripts that show it
          // (nplab's Linux scripts) offer wscale 6, i.e. a host with tcp_rmem[2] under 4 MiB.
          // Scripts that run defaults.sh set tcp_rmem themselves (commands.ts maps it onto maxRcvBuf).
          ...(this.profile === LINUX ? { maxRcvBuf: 3 * 1024 * 1024 } : {}),
        },
      },
    });
    this.device = new ConformanceDevice(this.clock, config.mtu);
    this.stack.addInterface({
      name: this.device.name,
      device: this.device,
      addresses: [`${config.localIp}/${config.prefixLength}`],
    });
    // The scripted peer is off-link, behind the gateway (packetdrill's tun setup).
    this.stack.addRoute({
      destination: config.ipVersion === 6 ? '::/0' : '0.0.0.0/0',
      gateway: config.gatewayIp,
    });
    this.#deliver = this.stack.timers.timer(() => this.#flushInbox());
    this.#settings = new StackSettings(
      this.stack.tcp.config,
      this.profile,
      config.dialect,
      this.stack.tcp.fastOpen,
    );
  }

  // ---- clock and wire --------------------------------------------------------

  now(): Instant {
    return this.clock.now();
  }

  nextDeadline(): Instant | undefined {
    return this.stack.nextDeadline();
  }

  advance(to: Instant): void {
    for (;;) {
      const d = this.stack.nextDeadline();
      if (d === undefined || d > to) break;
      if (d > this.clock.now()) this.clock.set(d);
      this.stack.poll(this.clock.now());
      if (this.#pollWaiters.size > 0) this.#checkPolls();
    }
    if (to > this.clock.now()) this.clock.set(to);
  }

  inject(packet: Uint8Array): void {
    this.#inbox.push(packet.slice());
    if (!this.#deliver.armed) this.#deliver.set(this.clock.now());
  }

  #flushInbox(): void {
    while (this.#inbox.length > 0) {
      const p = this.#inbox.shift()!;
      this.device.onReceive?.(p);
      // The device only queues the frame: process it now, before the next one.
      this.stack.pollReceive();
    }
    if (this.#pollWaiters.size > 0) this.#checkPolls();
  }

  takeOutbound(): { time: Instant; packet: Uint8Array }[] {
    return this.device.take();
  }

  // ---- syscalls --------------------------------------------------------------

  syscall(call: Syscall): SyscallOutcome | Promise<SyscallOutcome> {
    if (call.op === 'socket') return this.#socket(call);
    if (call.op === 'poll') return this.#poll(call);
    if (call.op === 'epollCreate') {
      const n = this.#nextFd++;
      this.#epolls.set(n, new Map());
      return ok(n);
    }
    if (call.op === 'epollCtl') return this.#epollCtl(call);
    if (call.op === 'close' && this.#epolls.delete(call.fd)) return ok(0);
    if (call.op === 'epollWait') return this.#epollWait(call);
    const fd = this.#fds.get(call.fd);
    if (!fd) return { kind: 'error', errno: 'EBADF' };
    const s = fd.sock;
    switch (call.op) {
      case 'bind':
        return outcome(async () => {
          await s.bind(tuple(call.addr));
          return ok(0);
        });
      case 'listen':
        return outcome(async () => {
          await s.listen(call.backlog);
          fd.listening = true;
          this.#applyDeferAccept(fd);
          return ok(0);
        });
      case 'accept':
        return outcome(async () => {
          const [conn] = await s.accept();
          const n = this.#add(conn, true);
          this.#learnTuple(this.#fds.get(n)!);
          return ok(n);
        });
      case 'connect':
        return outcome(async () => {
          if (!fd.stream) {
            await s.connect(tuple(call.addr));
            return ok(0);
          }
          // The front hides the local port until connected: find the new connection instead.
          const before = new Set(this.stack.tcp.connections());
          const p = s.connect(tuple(call.addr));
          p.catch(() => undefined);
          for (let k = 0; k < 8 && fd.tuple === undefined; k++) {
            await Promise.resolve();
            for (const c of this.stack.tcp.connections())
              if (!before.has(c) && c.active && c.remote.port === call.addr.port) {
                fd.tuple = { localPort: c.local.port, remotePort: c.remote.port };
                if (fd.keepInit) c.setOptions({ keepInit: fd.keepInit * 1_000_000 });
              }
          }
          await p;
          this.#learnTuple(fd);
          return ok(0);
        });
      case 'recv':
        return outcome(async () => {
          const flags = (call.peek ? MSG_PEEK : 0) | (call.dontWait ? MSG_DONTWAIT : 0);
          if (call.control !== undefined) {
            const [data, anc, msgFlags] = await s.recvmsg(call.length, call.control, flags);
            const cmsgs = anc.map(([level, type, d]) => ({ level, type, data: d }));
            return { kind: 'ok', value: data.length, cmsgs, msgFlags };
          }
          if (call.from && !fd.stream) {
            const [data] = await s.recvfrom(call.length, flags);
            return ok(data.length);
          }
          const data = await s.recv(call.length, flags);
          return ok(data.length);
        });
      case 'send':
        return outcome(async () => {
          if (call.fastOpen && fd.stream) {
            // sendto(MSG_FASTOPEN) connects: learn the new connection's ports as connect does.
            const before = new Set(this.stack.tcp.connections());
            const flags = MSG_FASTOPEN | (s.getblocking() ? 0 : MSG_DONTWAIT);
            const p = s.sendto(call.data, flags, tuple(call.to ?? { ip: this.config.remoteIp, port: 0 }));
            p.catch(() => undefined);
            for (const c of this.stack.tcp.connections())
              if (!before.has(c) && c.active)
                fd.tuple = { localPort: c.local.port, remotePort: c.remote.port };
            for (let k = 0; k < 8 && fd.tuple === undefined; k++) {
              await Promise.resolve();
              for (const c of this.stack.tcp.connections())
                if (!before.has(c) && c.active)
                  fd.tuple = { localPort: c.local.port, remotePort: c.remote.port };
            }
            return ok(await p);
          }
          if (call.to && !fd.stream) return ok(await s.sendto(call.data, tuple(call.to)));
          const flags =
            (call.more ? MSG_MORE : 0) | (call.eor ? MSG_EOR : 0) | (call.dontWait ? MSG_DONTWAIT : 0);
          if (call.control)
            return ok(
              await s.sendmsg(
                [call.data],
                call.control.map((c) => [c.level, c.type, c.data]),
                flags,
              ),
            );
          if (!fd.stream || !s.getblocking() || call.dontWait) return ok(await s.send(call.data, flags));
          // A blocking write(2) on a stream returns once all of it is queued.
          await s.sendall(call.data, flags);
          return ok(call.data.length);
        });
      case 'close':
        this.#learnTuple(fd);
        this.#fds.delete(call.fd);
        this.#closed.set(call.fd, fd);
        return outcome(async () => {
          await s.close();
          return ok(0);
        });
      case 'shutdown':
        try {
          s.shutdown(call.how === 'read' ? 0 : call.how === 'write' ? 1 : 2);
          return ok(0);
        } catch (e) {
          return errorOutcome(e);
        }
      case 'setsockopt':
        return this.#setsockopt(fd, call.level, call.name, call.value);
      case 'getsockopt':
        return this.#getsockopt(fd, call.level, call.name);
      case 'getNonBlocking':
        return { kind: 'ok', value: !s.getblocking() };
      case 'setNonBlocking':
        s.setblocking(!call.nonBlocking);
        return ok(0);
      case 'ioctl':
        return this.#ioctl(fd, call.request);
    }
  }

  #socket(call: Extract<Syscall, { op: 'socket' }>): SyscallOutcome {
    if (call.type !== 'stream' && call.type !== 'dgram')
      return { kind: 'unsupported', reason: `socket type ${call.type} not supported by the stack` };
    try {
      const type = call.type === 'stream' ? SOCK_STREAM : SOCK_DGRAM;
      const sock = this.stack.socket(call.family === 'inet6' ? AF_INET6 : AF_INET, type, call.protocol);
      return ok(this.#add(sock, call.type === 'stream'));
    } catch (e) {
      return errorOutcome(e);
    }
  }

  #add(sock: Socket, stream: boolean): number {
    const n = this.#nextFd++;
    this.#fds.set(n, { sock, stream, listening: false, tuple: undefined, bufsSet: new Set() });
    return n;
  }

  /** Records the fd's (local port, remote port) while the socket can still tell. */
  #learnTuple(fd: FdEntry, remotePort?: number): void {
    if (!fd.stream || fd.sock.closed) return;
    try {
      const local = fd.sock.getsockname()[1] as number;
      let remote = remotePort;
      try {
        remote = fd.sock.getpeername()[1] as number;
      } catch {
        // not connected (yet)
      }
      if (local > 0 && remote !== undefined) fd.tuple = { localPort: local, remotePort: remote };
    } catch {
      // closed
    }
  }

  #setsockopt(
    fd: FdEntry,
    level: string,
    name: string,
    value: Extract<Syscall, { op: 'setsockopt' }>['value'],
  ): SyscallOutcome {
    if (name === 'TCP_DEFER_ACCEPT' && value.kind !== 'linger') {
      // Linux TCP_DEFER_ACCEPT (seconds). The front Socket has no such option yet, so the
      // target hands it to the listener (now, or when listen() makes one).
      const secs = Number(value.value);
      if (!fd.stream || !Number.isInteger(secs)) return { kind: 'error', errno: 'EINVAL' };
      fd.deferAccept = secs;
      if (fd.listening) this.#applyDeferAccept(fd);
      return ok(0);
    }
    if (name === 'TCP_LINGER2' && value.kind !== 'linger') {
      // Linux TCP_LINGER2 (seconds in FIN-WAIT-2 after close; 0: the default). The front
      // Socket has no such option yet, so the target sets the connection's option itself.
      const conn = fd.stream ? this.#connectionFor(fd) : undefined;
      const secs = Number(value.value);
      if (!conn || !Number.isInteger(secs))
        return { kind: 'unsupported', reason: 'TCP_LINGER2 without a connection' };
      conn.setOptions({
        finWait2Timeout: secs > 0 ? secs * 1_000_000 : this.stack.tcp.config.finWait2Timeout,
      });
      return ok(0);
    }
    if (name.startsWith('TCP_RACK_PACE_') && value.kind !== 'linger') {
      // FreeBSD RACK stack pacing: TCP_RACK_PACE_MAX_SEG (segments per burst), TCP_RACK_PACE_RATE_*
      // (bytes/s) and TCP_RACK_PACE_ALWAYS, onto the connection's pacingRate / pacingBurst.
      // Deviation: RACK keeps a rate per phase (slow start, congestion avoidance, recovery);
      // the stack paces at one rate, the last one set.
      const n = Number(value.value);
      if (!fd.stream || !Number.isInteger(n) || n < 0) return { kind: 'error', errno: 'EINVAL' };
      const conn = this.#connectionFor(fd);
      if (!conn) return { kind: 'unsupported', reason: `${name} before the connection exists` };
      const rack = (fd.rackPace ??= { rate: 0, always: false });
      if (name === 'TCP_RACK_PACE_MAX_SEG') rack.maxSeg = n;
      else if (/^TCP_RACK_PACE_RATE_(SS|CA|REC)$/.test(name)) rack.rate = n;
      else if (name === 'TCP_RACK_PACE_ALWAYS') rack.always = n !== 0;
      else return { kind: 'unsupported', reason: `${name}: no such pacing setting in the stack` };
      conn.setOptions({
        pacingRate: rack.always && rack.rate > 0 ? rack.rate : undefined,
        ...(rack.maxSeg ? { pacingBurst: rack.maxSeg } : {}),
      });
      return ok(0);
    }
    if (name === 'TCP_KEEPINIT' && value.kind !== 'linger') {
      // FreeBSD TCP_KEEPINIT (seconds; 0: the sysctl default). The front Socket has no such
      // option, so the target keeps it and sets it on the connection connect() makes.
      const secs = Number(value.value);
      if (!fd.stream || !Number.isInteger(secs) || secs < 0) return { kind: 'error', errno: 'EINVAL' };
      fd.keepInit = secs;
      const conn = this.#connectionFor(fd);
      if (conn) conn.setOptions({ keepInit: secs > 0 ? secs * 1_000_000 : undefined });
      return ok(0);
    }
    if (name === 'TCP_USER_TIMEOUT' && value.kind !== 'linger') {
      // Linux TCP_USER_TIMEOUT (ms; RFC 5482). The front Socket has no such option yet, so the
      // target sets it on the connection (or the listener, whose connections inherit it).
      const ms = Number(value.value);
      if (!fd.stream || !Number.isInteger(ms) || ms < 0) return { kind: 'error', errno: 'EINVAL' };
      const conn = this.#connectionFor(fd);
      if (!conn) return { kind: 'unsupported', reason: 'TCP_USER_TIMEOUT without a connection' };
      conn.setOptions({ userTimeout: ms * 1000 });
      return ok(0);
    }
    const num = OPTION_NUMBERS[`${levelKey(level)}:${name}`];
    if (!num || name === 'SO_ERROR') return { kind: 'unsupported', reason: 'the stack has no such option' };
    try {
      if (value.kind === 'linger') fd.sock.setsockopt(num[0], num[1], [value.onoff ? 1 : 0, value.seconds]);
      else fd.sock.setsockopt(num[0], num[1], value.value);
      if (name === 'SO_SNDBUF' || name === 'SO_RCVBUF') fd.bufsSet.add(name);
      return ok(0);
    } catch (e) {
      return errorOutcome(e);
    }
  }

  #getsockopt(fd: FdEntry, level: string, name: string): SyscallOutcome {
    const num = OPTION_NUMBERS[`${levelKey(level)}:${name}`];
    if (!num) return { kind: 'unsupported', reason: 'the stack has no such option' };
    try {
      if (name === 'SO_LINGER') {
        const b = fd.sock.getsockopt(num[0], num[1], 8) as Uint8Array;
        const dv = new DataView(b.buffer, b.byteOffset, 8);
        return { kind: 'ok', value: { onoff: dv.getInt32(0, true) !== 0, seconds: dv.getInt32(4, true) } };
      }
      let v = fd.sock.getsockopt(num[0], num[1]) as number;
      const conn = fd.stream ? this.#connectionFor(fd) : undefined;
      if (conn && name === 'SO_RCVBUF') v = conn.opts.rcvBuf;
      if (conn && name === 'SO_SNDBUF') v = conn.opts.sndBuf;
      // Linux doubles a SO_SNDBUF/SO_RCVBUF request (the room it books for overhead, socket(7)).
      if (this.config.dialect === 'linux' && fd.bufsSet.has(name)) v *= 2;
      if (name === 'SO_ERROR') return { kind: 'ok', value: v === 0 ? 0 : (SOCKET_ERRNO_NAMES.get(v) ?? v) };
      return ok(v);
    } catch (e) {
      return errorOutcome(e);
    }
  }

  /** FIONREAD / SIOCINQ: the bytes a recv could return now (a non-blocking peek). */
  #ioctl(fd: FdEntry, request: string): SyscallOutcome | Promise<SyscallOutcome> {
    if (request !== 'FIONREAD' && request !== 'SIOCINQ')
      return { kind: 'unsupported', reason: `ioctl ${request} not supported by the stack` };
    return outcome(async () => {
      try {
        const data = await fd.sock.recv(1 << 24, MSG_PEEK | MSG_DONTWAIT);
        return ok(data.length);
      } catch (e) {
        if (e instanceof SocketError && e.code === 'EAGAIN') return ok(0);
        throw e;
      }
    });
  }

  // ---- poll(2) ---------------------------------------------------------------------

  /** poll() calls waiting for an event or their timeout: each re-checks after every stack poll. */
  readonly #pollWaiters = new Set<() => boolean>();

  #poll(call: Extract<Syscall, { op: 'poll' }>): SyscallOutcome | Promise<SyscallOutcome> {
    const check = (): SyscallOutcome | undefined => {
      const revents = call.fds.map(({ fd, events }) => {
        const e = this.#fds.get(fd);
        // POLLNVAL for an fd that is not open; POLLERR and POLLHUP are reported unasked.
        if (!e) return POLL.NVAL;
        return this.#revents(e) & (events | POLL.ERR | POLL.HUP);
      });
      const n = revents.filter((v) => v !== 0).length;
      return n > 0 ? { kind: 'ok', value: n, revents } : undefined;
    };
    return this.#waitFor(check, { kind: 'ok', value: 0, revents: call.fds.map(() => 0) }, call.timeoutMs);
  }

  /**
   * What `check` finds now; else, for a timeout other than 0, a promise of what it finds after
   * a later stack poll, or of `none` once `timeoutMs` has passed (negative: no timeout).
   */
  #waitFor(
    check: () => SyscallOutcome | undefined,
    none: SyscallOutcome,
    timeoutMs: number,
  ): SyscallOutcome | Promise<SyscallOutcome> {
    const now = check();
    if (now) return now;
    if (timeoutMs === 0) return none;
    return new Promise<SyscallOutcome>((resolve) => {
      let timer: Timer | undefined;
      const waiter = (): boolean => {
        const o = check();
        if (!o) return false;
        timer?.cancel();
        resolve(o);
        return true;
      };
      this.#pollWaiters.add(waiter);
      if (timeoutMs > 0) {
        timer = this.stack.timers.timer(() => {
          this.#pollWaiters.delete(waiter);
          resolve(none);
        });
        timer.set(this.clock.now() + timeoutMs * 1000);
      }
    });
  }

  // ---- epoll(7) ----------------------------------------------------------------------

  /**
   * epoll instances by fd: each item's requested events (EPOLLET, EPOLLONESHOT included) and,
   * for edge-triggered ones, what was last reported and the bytes received then.
   */
  readonly #epolls = new Map<number, Map<number, EpollItem>>();

  #epollCtl(call: Extract<Syscall, { op: 'epollCtl' }>): SyscallOutcome {
    const ep = this.#epolls.get(call.epfd);
    if (!ep) return { kind: 'error', errno: 'EINVAL' };
    if (!this.#fds.has(call.fd)) return { kind: 'error', errno: 'EBADF' };
    const have = ep.get(call.fd);
    if (call.ctl === 1) {
      if (have) return { kind: 'error', errno: 'EEXIST' };
      ep.set(call.fd, { events: call.events, last: 0, lastBytes: -1, disabled: false });
    } else if (call.ctl === 2) {
      if (!have) return { kind: 'error', errno: 'ENOENT' };
      ep.delete(call.fd);
    } else if (call.ctl === 3) {
      if (!have) return { kind: 'error', errno: 'ENOENT' };
      ep.set(call.fd, { events: call.events, last: 0, lastBytes: -1, disabled: false });
    } else return { kind: 'error', errno: 'EINVAL' };
    return ok(0);
  }

  #epollWait(call: Extract<Syscall, { op: 'epollWait' }>): SyscallOutcome | Promise<SyscallOutcome> {
    const ep = this.#epolls.get(call.epfd);
    if (!ep) return { kind: 'error', errno: 'EINVAL' };
    if (call.max <= 0) return { kind: 'error', errno: 'EINVAL' };
    const check = (): SyscallOutcome | undefined => {
      const ready: { fd: number; events: number }[] = [];
      for (const [fd, item] of ep) {
        if (ready.length >= call.max) break;
        const entry = this.#fds.get(fd);
        if (!entry || item.disabled) continue;
        const now = this.#revents(entry) & ((item.events & 0x3fffffff) | POLL.ERR | POLL.HUP);
        const bytes = this.#connectionFor(entry)?.stats.bytesReceived ?? 0;
        if (item.events & EPOLLET) {
          // Edge-triggered (epoll(7)): only what changed since the last report: a condition
          // that appeared, or new data that arrived (each arrival is a wakeup on Linux).
          item.last &= now;
          const fresh = (now & ~item.last) !== 0 || (now & POLL.IN && bytes !== item.lastBytes);
          if (!fresh) continue;
          item.last = now;
          item.lastBytes = bytes;
        }
        if (now === 0) continue;
        if (item.events & EPOLLONESHOT) item.disabled = true;
        ready.push({ fd, events: now });
      }
      return ready.length > 0 ? { kind: 'ok', value: ready.length, ready } : undefined;
    };
    return this.#waitFor(check, { kind: 'ok', value: 0, ready: [] }, call.timeoutMs);
  }

  #checkPolls(): void {
    for (const w of [...this.#pollWaiters]) if (w()) this.#pollWaiters.delete(w);
  }

  /**
   * An fd's poll events now, as Linux's tcp_poll computes them: a listener is readable with a
   * connection to accept; a connection is readable with data or after the peer's FIN
   * (POLLRDHUP then too), writable once established with send-buffer room and under
   * TCP_NOTSENT_LOWAT, POLLHUP when both directions are shut or it is closed, POLLERR with an
   * error pending.
   */
  #revents(fd: FdEntry): number {
    if (!fd.stream) return 0;
    if (fd.listening) {
      const port = fd.sock.getsockname()[1] as number;
      for (const l of this.stack.tcp.listeners())
        if (l.local.port === port) return l.acceptQueueLength > 0 ? POLL.IN | POLL.RDNORM : 0;
      return 0;
    }
    const c = this.#connectionFor(fd);
    if (!c) return POLL.OUT | POLL.HUP; // a fresh socket: TCP_CLOSE
    let m = 0;
    const st = c.state;
    if (
      c.error !== undefined ||
      (st === 'CLOSED' && c.closeReason !== undefined && c.closeReason !== 'aborted')
    )
      m |= POLL.ERR;
    if (st === 'CLOSED' || (c.finReceived && c.finQueued)) m |= POLL.HUP;
    if (c.finReceived || st === 'CLOSED') m |= POLL.IN | POLL.RDNORM | POLL.RDHUP;
    else if (c.readableLength > 0) m |= POLL.IN | POLL.RDNORM;
    const open = st !== 'SYN-SENT' && st !== 'SYN-RECEIVED' && st !== 'CLOSED';
    if (open && (c.finQueued || c.writeReady)) m |= POLL.OUT | POLL.WRNORM;
    return m;
  }

  // ---- settings ----------------------------------------------------------------

  configure(setting: TargetSetting): boolean {
    return this.#settings.configure(setting);
  }

  // ---- introspection --------------------------------------------------------------

  #connectionFor(fd: FdEntry): TcpConnection | undefined {
    if (!fd.tuple) this.#learnTuple(fd);
    const t = fd.tuple;
    if (!t) return undefined;
    for (const c of this.stack.tcp.connections()) {
      if (c.local.port !== t.localPort || c.remote.port !== t.remotePort) continue;
      if (this.#isLocal(c.local.address)) return c;
    }
    return undefined;
  }

  /** The interface address the script's connections use, of the config's family. */
  #isLocal(a: IpAddress): boolean {
    if (a.family === 4) return this.config.ipVersion === 4 && a.v4 === parseIpv4(this.config.localIp);
    const local = this.config.ipVersion === 6 ? parseIpv6(this.config.localIp) : undefined;
    return local !== undefined && ipv6Equals(a.v6, local);
  }

  /** fds closed by the script are still looked up (a FreeBSD script asserts the state after close). */
  readonly #closed = new Map<number, FdEntry>();

  tcpInfo(fdNum: number): TargetTcpInfo | undefined {
    const fd = this.#fds.get(fdNum) ?? this.#closed.get(fdNum);
    if (!fd?.stream) return undefined;
    if (fd.listening && !fd.sock.closed) return { state: 'LISTEN' };
    const c = this.#connectionFor(fd);
    if (!c) return { state: 'CLOSED' };
    return toTargetInfo(c.info(), c);
  }

  connections(): readonly TargetConnection[] {
    const out: TargetConnection[] = [];
    for (const l of this.stack.tcp.listeners())
      out.push({ state: 'LISTEN', localPort: l.local.port, remotePort: 0 });
    for (const c of this.stack.tcp.connections())
      out.push({ state: c.state as TargetTcpState, localPort: c.local.port, remotePort: c.remote.port });
    return out;
  }

  dropConnections(state: TargetTcpState): boolean {
    for (const c of [...this.stack.tcp.connections()]) if (c.state === state) c.abort();
    return true;
  }

  #applyDeferAccept(fd: FdEntry): void {
    if (fd.deferAccept === undefined) return;
    let port: number | undefined;
    try {
      port = fd.sock.getsockname()[1] as number;
    } catch {
      return;
    }
    for (const l of this.stack.tcp.listeners())
      if (l.local.port === port) l.opts.deferAccept = deferAcceptRetries(fd.deferAccept);
  }

  knownDeviation(path: string | undefined, line: number, message: string): string | undefined {
    const d = findDeviation(path, line, message);
    return d ? `documented deviation ${d.id}: ${d.reason}` : undefined;
  }

  close(): void {
    for (const fd of this.#fds.values()) void fd.sock.close();
    this.#fds.clear();
  }
}

function tuple(a: SockAddr): AddressTuple {
  return [a.ip, a.port] as AddressTuple;
}

function toTargetInfo(i: TcpInfo, c: TcpConnection): TargetTcpInfo {
  // Linux counts packets of mss_cache, the payload MSS (tcpi_snd_mss).
  const mss = Math.max(1, i.sndMss);
  const segs = (bytes: number): number => Math.ceil(bytes / mss);
  const out: {
    -readonly [K in keyof TargetTcpInfo]: TargetTcpInfo[K];
  } = {
    state: i.state as TargetTcpState,
    cwndBytes: i.cwnd,
    ssthreshBytes: i.ssthresh,
    sndMss: i.sndMss,
    advMss: c.rcvMss,
    rcvMss: i.rcvMss,
    rtoUs: i.rto,
    unacked: segs(i.unacked),
    sacked: segs(i.sacked),
    lost: i.lost,
    retransmits: i.retransmits,
    totalRetrans: i.totalRetrans,
    backoff: i.backoff,
    timestamps: i.options.timestamps,
    sack: i.options.sack,
    windowScaling: i.options.windowScale !== undefined,
    ecn: i.options.ecn,
    synData: i.options.synData,
    tfoChild: i.options.tfoChild,
    caState: i.caState,
    reordering: i.reordering,
    sndWnd: i.sndWnd,
    rcvWnd: i.rcvWnd,
    pacingRate: i.pacingRate,
    deliveryRate: i.deliveryRate,
  };
  if (i.rtt !== undefined) out.rttUs = i.rtt;
  if (i.rttvar !== undefined) out.rttVarUs = i.rttvar;
  if (i.options.windowScale) {
    out.sndWscale = i.options.windowScale.snd;
    out.rcvWscale = i.options.windowScale.rcv;
  }
  return out;
}

/** The target factory for the runner and `sockstack conformance`: a fresh stack per script. */
export const stackTargetFactory = (config: TargetConfig): StackTarget => new StackTarget(config);
