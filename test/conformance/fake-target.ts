/**
 * A deliberately tiny TCP responder implementing ConformanceTarget, for testing the
 * runner without the real stack: 3-way handshakes (both directions), SYN
 * retransmission with a 1 s doubling RTO and `synRetries`, one segment per MSS on
 * write, an immediate ACK for every data segment or FIN, FIN/close state changes,
 * RST for unknown connections, and a UDP socket. No windows, no loss recovery.
 * Linux-flavoured option layouts, TS clock = 1 tick/ms starting at 100.
 */

import type { TcpOptionSpec } from '../../src/conformance/ast.ts';
import {
  buildTcpPacket,
  buildUdpPacket,
  decodePacket,
  F_ACK,
  F_FIN,
  F_PSH,
  F_RST,
  F_SYN,
} from '../../src/conformance/packet.ts';
import type {
  ConformanceTarget,
  Syscall,
  SyscallOutcome,
  TargetConfig,
  TargetConnection,
  TargetSetting,
  TargetTcpInfo,
  TargetTcpState,
} from '../../src/conformance/target.ts';

interface Sock {
  fd: number;
  proto: 'tcp' | 'udp';
  nonBlocking: boolean;
  state: TargetTcpState;
  localPort: number | undefined;
  remotePort: number | undefined;
  listening: boolean;
  acceptQueue: Sock[];
  acceptWaiters: ((o: SyscallOutcome) => void)[];
  readWaiters: { len: number; resolve: (o: SyscallOutcome) => void }[];
  connectWaiter: ((o: SyscallOutcome) => void) | undefined;
  iss: number;
  sndNxt: number;
  rcvNxt: number;
  recvBytes: number;
  finReceived: boolean;
  peerMss: number;
  ts: boolean;
  tsRecent: number;
  sack: boolean;
  wscale: boolean;
  error: string | undefined;
  synTries: number;
  udpQueue: number[];
  parent: Sock | undefined;
}

export interface FakeTargetOptions {
  /** Override the ISN the fake picks (default 1000000). */
  readonly iss?: number;
  /** Send this (wrong) MSS in SYN / SYN-ACK, to provoke mismatches. */
  readonly advertisedMss?: number;
}

export class FakeTarget implements ConformanceTarget {
  readonly config: TargetConfig;
  readonly settings = new Map<string, number | boolean | string>();
  readonly injected: Uint8Array[] = [];
  private readonly opts: FakeTargetOptions;
  private t = 0;
  private timers: { at: number; fn: () => void }[] = [];
  private out: { time: number; packet: Uint8Array }[] = [];
  private readonly socks = new Map<number, Sock>();
  private readonly conns: Sock[] = [];
  private nextFd = 3;
  private nextPort = 50000;

  constructor(config: TargetConfig, opts: FakeTargetOptions = {}) {
    this.config = config;
    this.opts = opts;
  }

  now(): number {
    return this.t;
  }
  nextDeadline(): number | undefined {
    return this.timers.length ? Math.min(...this.timers.map((x) => x.at)) : undefined;
  }
  advance(to: number): void {
    for (;;) {
      const due = this.timers.filter((x) => x.at <= to).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = Math.max(this.t, to);
  }
  takeOutbound(): { time: number; packet: Uint8Array }[] {
    const o = this.out;
    this.out = [];
    return o;
  }
  configure(s: TargetSetting): boolean {
    this.settings.set(s.name, s.value);
    return ['timestamps', 'sack', 'windowScaling', 'synRetries', 'synAckRetries', 'ecn'].includes(s.name);
  }
  connections(): readonly TargetConnection[] {
    return this.conns
      .filter((c) => c.state !== 'CLOSED')
      .map((c) => ({ state: c.state, localPort: c.localPort ?? 0, remotePort: c.remotePort ?? 0 }));
  }
  tcpInfo(fd: number): TargetTcpInfo | undefined {
    const s = this.socks.get(fd);
    if (s?.proto !== 'tcp') return undefined;
    return {
      state: s.state,
      cwndBytes: 10 * 1460,
      sndMss: Math.min(1460, s.peerMss),
      advMss: 1460,
      timestamps: s.ts,
      sack: s.sack,
    };
  }

  // ---- wire ----------------------------------------------------------------

  private tsNow(): number {
    return 100 + Math.floor(this.t / 1000);
  }

  private send(s: Sock, flags: number, seq: number, len: number, options: TcpOptionSpec[] = []): void {
    const opts = [...options];
    if (s.ts && !(flags & F_SYN) && !(flags & F_RST))
      opts.unshift({ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: this.tsNow(), ecr: s.tsRecent });
    this.emit(s.localPort!, s.remotePort!, seq, flags & F_ACK ? s.rcvNxt : 0, flags, opts, len);
  }

  private emit(
    sport: number,
    dport: number,
    seq: number,
    ack: number,
    flags: number,
    options: TcpOptionSpec[],
    len: number,
    win = 65535,
  ): void {
    const packet = buildTcpPacket(
      { src: this.config.localIp, dst: this.config.remoteIp, ttl: 64 },
      {
        srcPort: sport,
        dstPort: dport,
        seq: seq >>> 0,
        ack: ack >>> 0,
        flags,
        window: win,
        options,
        payload: new Uint8Array(len),
      },
    );
    this.out.push({ time: this.t, packet });
  }

  private synOptions(s: Sock, synAck: boolean): TcpOptionSpec[] {
    const mss: TcpOptionSpec = { kind: 'mss', value: this.opts.advertisedMss ?? 1460 };
    if (!synAck) {
      return [
        mss,
        { kind: 'sackOK' },
        { kind: 'ts', val: this.tsNow(), ecr: 0 },
        { kind: 'nop' },
        { kind: 'wscale', value: 8 },
      ];
    }
    const o: TcpOptionSpec[] = [mss];
    if (s.ts) o.push({ kind: 'sackOK' }, { kind: 'ts', val: this.tsNow(), ecr: s.tsRecent });
    else if (s.sack) o.push({ kind: 'nop' }, { kind: 'nop' }, { kind: 'sackOK' });
    if (s.wscale) o.push({ kind: 'nop' }, { kind: 'wscale', value: 8 });
    return o;
  }

  inject(packet: Uint8Array): void {
    this.injected.push(packet);
    const d = decodePacket(packet);
    if ('error' in d) return;
    if (d.proto === 'udp') {
      const s = [...this.socks.values()].find((x) => x.proto === 'udp' && x.localPort === d.dstPort);
      s?.udpQueue.push(d.payloadLength);
      return;
    }
    if (d.proto !== 'tcp') return;
    const t = d.tcp;
    let s = this.conns.find(
      (c) => c.state !== 'CLOSED' && c.localPort === t.dstPort && c.remotePort === t.srcPort,
    );
    if (!s) {
      const l = [...this.socks.values()].find((x) => x.listening && x.localPort === t.dstPort);
      if (t.flags & F_RST) return;
      if (l && (t.flags & (F_SYN | F_ACK)) === F_SYN) {
        s = this.newSock('tcp');
        this.socks.delete(s.fd);
        s.parent = l;
        s.localPort = t.dstPort;
        s.remotePort = t.srcPort;
        s.state = 'SYN-RECEIVED';
        s.rcvNxt = (t.seq + 1) >>> 0;
        this.learnOptions(s, t.options);
        this.conns.push(s);
        this.send(s, F_SYN | F_ACK, s.iss, 0, this.synOptions(s, true));
        s.sndNxt = (s.iss + 1) >>> 0;
        return;
      }
      if (l && !(t.flags & F_ACK)) return;
      // RFC 9293 §3.10.7.1: RST for segments to no connection.
      if (t.flags & F_ACK) this.emit(t.dstPort, t.srcPort, t.ack, 0, F_RST, [], 0, 0);
      else
        this.emit(
          t.dstPort,
          t.srcPort,
          0,
          t.seq + t.payloadLength + (t.flags & F_SYN ? 1 : 0) + (t.flags & F_FIN ? 1 : 0),
          F_RST | F_ACK,
          [],
          0,
          0,
        );
      return;
    }
    const tsOpt = t.options.find((o) => o.kind === 'ts');
    if (tsOpt?.kind === 'ts') s.tsRecent = tsOpt.val;
    if (t.flags & F_RST) {
      s.error = s.state === 'SYN-SENT' ? 'ECONNREFUSED' : 'ECONNRESET';
      this.closeConn(s);
      this.wake(s);
      return;
    }
    if (s.state === 'SYN-SENT') {
      if ((t.flags & (F_SYN | F_ACK)) === (F_SYN | F_ACK) && t.ack === (s.iss + 1) >>> 0) {
        s.rcvNxt = (t.seq + 1) >>> 0;
        this.learnOptions(s, t.options);
        s.ts = s.ts && t.options.some((o) => o.kind === 'ts');
        s.state = 'ESTABLISHED';
        this.timers = this.timers.filter((x) => (x as { owner?: Sock }).owner !== s);
        this.send(s, F_ACK, s.sndNxt, 0);
        s.connectWaiter?.({ kind: 'ok', value: 0 });
        s.connectWaiter = undefined;
      }
      return;
    }
    if (s.state === 'SYN-RECEIVED' && t.flags & F_ACK && t.ack === s.sndNxt) {
      s.state = 'ESTABLISHED';
      const parent = s.parent!;
      const w = parent.acceptWaiters.shift();
      if (w) w(this.adopt(s));
      else parent.acceptQueue.push(s);
    }
    if (t.flags & F_ACK && t.ack === s.sndNxt) {
      if (s.state === 'FIN-WAIT-1') s.state = 'FIN-WAIT-2';
      else if (s.state === 'CLOSING') s.state = 'TIME-WAIT';
      else if (s.state === 'LAST-ACK') this.closeConn(s);
    }
    let ack = false;
    if (t.payloadLength > 0 && t.seq === s.rcvNxt) {
      s.rcvNxt = (s.rcvNxt + t.payloadLength) >>> 0;
      s.recvBytes += t.payloadLength;
      ack = true;
    }
    if (t.flags & F_FIN && (t.seq + t.payloadLength) >>> 0 === s.rcvNxt) {
      s.rcvNxt = (s.rcvNxt + 1) >>> 0;
      s.finReceived = true;
      ack = true;
      if (s.state === 'ESTABLISHED') s.state = 'CLOSE-WAIT';
      else if (s.state === 'FIN-WAIT-1') s.state = 'CLOSING';
      else if (s.state === 'FIN-WAIT-2') s.state = 'TIME-WAIT';
    }
    if (ack) this.send(s, F_ACK, s.sndNxt, 0);
    this.wake(s);
  }

  private learnOptions(s: Sock, options: readonly TcpOptionSpec[]): void {
    const mss = options.find((o) => o.kind === 'mss');
    s.peerMss = mss?.kind === 'mss' ? mss.value : 536;
    const ts = options.find((o) => o.kind === 'ts');
    s.ts = ts !== undefined && this.settings.get('timestamps') !== false;
    if (ts?.kind === 'ts') s.tsRecent = ts.val;
    s.sack = options.some((o) => o.kind === 'sackOK');
    s.wscale = options.some((o) => o.kind === 'wscale');
  }

  private closeConn(s: Sock): void {
    s.state = 'CLOSED';
    this.timers = this.timers.filter((x) => (x as { owner?: Sock }).owner !== s);
  }

  private wake(s: Sock): void {
    while (s.readWaiters.length && (s.recvBytes > 0 || s.finReceived || s.error)) {
      const w = s.readWaiters.shift()!;
      w.resolve(this.readNow(s, w.len));
    }
    if (s.error && s.connectWaiter) {
      s.connectWaiter({ kind: 'error', errno: s.error });
      s.connectWaiter = undefined;
    }
  }

  private readNow(s: Sock, len: number): SyscallOutcome {
    if (s.recvBytes > 0) {
      const n = Math.min(len, s.recvBytes);
      s.recvBytes -= n;
      return { kind: 'ok', value: n };
    }
    if (s.error) return { kind: 'error', errno: s.error };
    return { kind: 'ok', value: 0 };
  }

  private newSock(proto: 'tcp' | 'udp'): Sock {
    const s: Sock = {
      fd: this.nextFd++,
      proto,
      nonBlocking: false,
      state: 'CLOSED',
      localPort: undefined,
      remotePort: undefined,
      listening: false,
      acceptQueue: [],
      acceptWaiters: [],
      readWaiters: [],
      connectWaiter: undefined,
      iss: this.opts.iss ?? 1_000_000,
      sndNxt: 0,
      rcvNxt: 0,
      recvBytes: 0,
      finReceived: false,
      peerMss: 536,
      ts: this.settings.get('timestamps') !== false,
      tsRecent: 0,
      sack: true,
      wscale: true,
      error: undefined,
      synTries: 0,
      udpQueue: [],
      parent: undefined,
    };
    this.socks.set(s.fd, s);
    return s;
  }

  private adopt(s: Sock): SyscallOutcome {
    s.fd = this.nextFd++;
    this.socks.set(s.fd, s);
    return { kind: 'ok', value: s.fd };
  }

  private sendSyn(s: Sock): void {
    s.synTries++;
    this.send(s, F_SYN, s.iss, 0, this.synOptions(s, false));
    const retries = Number(this.settings.get('synRetries') ?? 5);
    const rto = 1_000_000 * 2 ** (s.synTries - 1);
    const timer = {
      at: this.t + rto,
      owner: s,
      fn: () => {
        if (s.state !== 'SYN-SENT') return;
        if (s.synTries > retries) {
          s.error = 'ETIMEDOUT';
          this.closeConn(s);
          this.wake(s);
        } else this.sendSyn(s);
      },
    };
    this.timers.push(timer);
  }

  syscall(c: Syscall): SyscallOutcome | Promise<SyscallOutcome> {
    if (c.op === 'socket') {
      if (c.type === 'stream' && c.protocol !== 6 && c.protocol !== 0)
        return { kind: 'error', errno: 'EPROTONOSUPPORT' };
      if (c.type === 'dgram' && c.protocol !== 17 && c.protocol !== 0)
        return { kind: 'error', errno: 'EPROTONOSUPPORT' };
      return { kind: 'ok', value: this.newSock(c.type === 'stream' ? 'tcp' : 'udp').fd };
    }
    if (c.op === 'poll' || c.op === 'epollCreate' || c.op === 'epollCtl' || c.op === 'epollWait')
      return { kind: 'unsupported', reason: `${c.op} not supported by the fake target` };
    const s = this.socks.get(c.fd);
    if (!s) return { kind: 'error', errno: 'EBADF' };
    switch (c.op) {
      case 'bind':
        s.localPort = c.addr.port;
        return { kind: 'ok', value: 0 };
      case 'listen':
        s.listening = true;
        s.state = 'LISTEN';
        return { kind: 'ok', value: 0 };
      case 'accept': {
        const child = s.acceptQueue.shift();
        if (child) return this.adopt(child);
        if (s.nonBlocking) return { kind: 'error', errno: 'EAGAIN' };
        return new Promise((resolve) => s.acceptWaiters.push(resolve));
      }
      case 'connect': {
        if (s.proto === 'udp') {
          s.remotePort = c.addr.port;
          return { kind: 'ok', value: 0 };
        }
        s.localPort ??= this.nextPort++;
        s.remotePort = c.addr.port;
        s.state = 'SYN-SENT';
        s.sndNxt = (s.iss + 1) >>> 0;
        this.conns.push(s);
        this.sendSyn(s);
        if (s.nonBlocking) return { kind: 'error', errno: 'EINPROGRESS' };
        return new Promise((resolve) => {
          s.connectWaiter = resolve;
        });
      }
      case 'recv': {
        if (s.proto === 'udp') {
          const n = s.udpQueue.shift();
          return n === undefined
            ? { kind: 'error', errno: 'EAGAIN' }
            : { kind: 'ok', value: Math.min(n, c.length) };
        }
        if (s.recvBytes > 0 || s.finReceived || s.error) return this.readNow(s, c.length);
        if (s.nonBlocking) return { kind: 'error', errno: 'EAGAIN' };
        return new Promise((resolve) => s.readWaiters.push({ len: c.length, resolve }));
      }
      case 'send': {
        if (s.proto === 'udp') {
          s.localPort ??= this.nextPort++;
          const to = c.to ?? { ip: this.config.remoteIp, port: s.remotePort ?? 0 };
          this.out.push({
            time: this.t,
            packet: buildUdpPacket({ src: this.config.localIp, dst: to.ip }, s.localPort, to.port, c.data),
          });
          return { kind: 'ok', value: c.data.length };
        }
        if (s.state !== 'ESTABLISHED' && s.state !== 'CLOSE-WAIT') return { kind: 'error', errno: 'EPIPE' };
        const mss = Math.min(1460, s.peerMss);
        for (let off = 0; off < c.data.length; off += mss) {
          const len = Math.min(mss, c.data.length - off);
          const last = off + len >= c.data.length;
          this.send(s, F_ACK | (last ? F_PSH : 0), s.sndNxt, len);
          s.sndNxt = (s.sndNxt + len) >>> 0;
        }
        return { kind: 'ok', value: c.data.length };
      }
      case 'close':
      case 'shutdown': {
        if (c.op === 'shutdown' && c.how === 'read') return { kind: 'ok', value: 0 };
        if (s.listening) s.state = 'CLOSED';
        if (s.state === 'ESTABLISHED' || s.state === 'CLOSE-WAIT') {
          this.send(s, F_FIN | F_ACK, s.sndNxt, 0);
          s.sndNxt = (s.sndNxt + 1) >>> 0;
          s.state = s.state === 'ESTABLISHED' ? 'FIN-WAIT-1' : 'LAST-ACK';
        } else if (s.state === 'SYN-SENT') this.closeConn(s);
        if (c.op === 'close') this.socks.delete(s.fd);
        return { kind: 'ok', value: 0 };
      }
      case 'setsockopt':
        if (c.name === 'SO_REUSEADDR' || c.name === 'TCP_NODELAY') return { kind: 'ok', value: 0 };
        return { kind: 'unsupported', reason: `option ${c.name} not supported` };
      case 'getsockopt':
        if (c.name === 'SO_ERROR') {
          const e = s.error;
          s.error = undefined;
          return { kind: 'ok', value: e ?? 0 };
        }
        return { kind: 'unsupported', reason: `option ${c.name} not supported` };
      case 'getNonBlocking':
        return { kind: 'ok', value: s.nonBlocking };
      case 'setNonBlocking':
        s.nonBlocking = c.nonBlocking;
        return { kind: 'ok', value: 0 };
      case 'ioctl':
        return { kind: 'unsupported', reason: `ioctl ${c.request} not supported` };
    }
  }
}

export const fakeFactory =
  (opts: FakeTargetOptions = {}) =>
  (config: TargetConfig): FakeTarget =>
    new FakeTarget(config, opts);
