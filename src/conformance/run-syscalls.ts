/**
 * System calls: a script call's arguments translated into a target Syscall, run
 * (blocking or not) and its result, errno and out-values checked.
 */
import type { Expr, SyscallEvent } from './ast.ts';
import { settle } from './run-clock.ts';
import { DEFAULT_PORT, Failure, type Pending, type RunState, Skip } from './run-state.ts';
import { canonicalErrno, ERRNO, isErrnoName, optionSkipReason } from './symbols.ts';
import type { SockAddr, SockOptValue, Syscall, SyscallOutcome } from './target.ts';

function word(r: RunState, name: string): number | undefined {
  const d = r.defines[name];
  if (d !== undefined) {
    const n = Number(d);
    return Number.isFinite(n) ? n : word(r, d);
  }
  return r.consts[name];
}

/** Integer value of an argument expression. */
function intArg(r: RunState, x: Expr, what: string): number {
  if (x.kind === 'int') return x.value;
  if (x.kind === 'word') {
    const v = word(r, x.name);
    if (v === undefined) {
      if (isErrnoName(x.name)) return ERRNO[canonicalErrno(x.name)]!;
      throw new Skip(`unknown symbol ${x.name} (${what})`, x.pos.line);
    }
    return v;
  }
  if (x.kind === 'or') return intArg(r, x.left, what) | intArg(r, x.right, what);
  if (x.kind === 'array' && x.items.length === 1) return intArg(r, x.items[0]!, what);
  throw new Failure(x.pos, `expected an integer for ${what}`, 'other');
}

function fdArg(r: RunState, x: Expr): number {
  const sfd = intArg(r, x, 'fd');
  const live = r.fds.get(sfd);
  if (live === undefined) throw new Failure(x.pos, `fd ${sfd} is not open in the script`, 'other');
  return live;
}

function addrArg(r: RunState, x: Expr | undefined, defaultAddr: SockAddr): SockAddr {
  if (!x || x.kind === 'ellipsis') return defaultAddr;
  if (x.kind === 'struct') {
    let ip = defaultAddr.ip;
    let port = defaultAddr.port;
    for (const f of x.items) {
      if (f.kind !== 'assign') continue;
      // sa_family / sin_family / sin6_family: the address text says its family, and the
      // stack answers a mismatch with the socket as the kernel does.
      if (/^sin6?_port$/.test(f.name)) {
        port =
          f.value.kind === 'call' && f.value.args[0]
            ? intArg(r, f.value.args[0], 'port')
            : intArg(r, f.value, 'port');
      } else if (/^sin6?_addr$/.test(f.name)) {
        const a = f.value.kind === 'call' ? f.value.args.find((v) => v.kind === 'string') : f.value;
        if (a?.kind === 'string') ip = r.sockIp(a.value);
      }
    }
    return { ip, port };
  }
  throw new Skip(`unsupported address argument form`, x.pos.line);
}

function sockoptValue(r: RunState, x: Expr | undefined): SockOptValue {
  if (!x) return { kind: 'int', value: 0 };
  if (x.kind === 'string') return { kind: 'string', value: x.value };
  if (x.kind === 'struct') {
    let onoff = 0;
    let linger = 0;
    for (const f of x.items) {
      if (f.kind !== 'assign') continue;
      if (/onoff$/.test(f.name)) onoff = intArg(r, f.value, 'l_onoff');
      else if (/linger$/.test(f.name)) linger = intArg(r, f.value, 'l_linger');
    }
    return { kind: 'linger', onoff: onoff !== 0, seconds: linger };
  }
  return { kind: 'int', value: intArg(r, x, 'option value') };
}

function payload(buf: Expr | undefined, len: number): Uint8Array {
  if (buf?.kind === 'string') {
    const bytes = new TextEncoder().encode(buf.value);
    const out = new Uint8Array(len);
    out.set(bytes.subarray(0, len));
    return out;
  }
  return new Uint8Array(len);
}

/** The fields of a `{cmsg_level=..., cmsg_type=..., cmsg_data=...}` the runner can compare. */
function cmsgFields(r: RunState, c: Expr): { level: number; type: number; data: Expr } {
  const f = (n: string) =>
    c.kind === 'struct' ? c.items.find((x) => x.kind === 'assign' && x.name === n) : undefined;
  const level = f('cmsg_level');
  const type = f('cmsg_type');
  const data = f('cmsg_data');
  if (level?.kind !== 'assign' || type?.kind !== 'assign' || data?.kind !== 'assign')
    throw new Failure(c.pos, 'expected {cmsg_level=..., cmsg_type=..., cmsg_data=...}', 'other');
  if (data.value.kind === 'struct' || data.value.kind === 'array')
    throw new Skip('control message data other than an integer not supported', c.pos.line);
  return {
    level: intArg(r, level.value, 'cmsg_level'),
    type: intArg(r, type.value, 'cmsg_type'),
    data: data.value,
  };
}

/** A control message's data size: Linux's IP_TOS is one byte, the integer ones an int. */
function cmsgSize(r: RunState, c: Expr): number {
  const m = cmsgFields(r, c);
  return m.level === r.consts.SOL_IP && m.type === r.consts.IP_TOS ? 1 : 4;
}

/** recvmsg's out-values: msg_flags, and each control message against the script's list, in order. */
function checkMsg(r: RunState, e: SyscallEvent, o: Extract<SyscallOutcome, { kind: 'ok' }>): void {
  const msg = e.args[1];
  if (msg?.kind !== 'struct') return;
  const field = (name: string) => msg.items.find((f) => f.kind === 'assign' && f.name === name);
  const mf = field('msg_flags');
  const fail = (what: string, want: string, got: string) =>
    r.fail(e.pos, `recvmsg: ${what} ${got}, expected ${want}`, 'syscall', want, got);
  if (mf?.kind === 'assign' && mf.value.kind !== 'ellipsis') {
    const want = intArg(r, mf.value, 'msg_flags');
    if (want !== (o.msgFlags ?? 0))
      fail('msg_flags', `0x${want.toString(16)}`, `0x${(o.msgFlags ?? 0).toString(16)}`);
  }
  const ctl = field('msg_control');
  if (ctl?.kind !== 'assign' || ctl.value.kind !== 'array') return;
  const got = o.cmsgs ?? [];
  const show = (c: { level: number; type: number; data: Uint8Array }) => {
    const dv = new DataView(c.data.buffer, c.data.byteOffset, c.data.byteLength);
    const v = c.data.length === 4 ? dv.getInt32(0, true) : c.data.length === 1 ? c.data[0]! : undefined;
    return { text: `{level ${c.level}, type ${c.type}, data ${v ?? `${c.data.length} bytes`}}`, v };
  };
  const wants = ctl.value.items.map((c) => cmsgFields(r, c));
  if (wants.length !== got.length) {
    fail(
      'control messages',
      String(wants.length),
      `${got.length}: ${got.map((c) => show(c).text).join(' ')}`,
    );
    return;
  }
  wants.forEach((w, k) => {
    const g = got[k]!;
    const { text, v } = show(g);
    const data = w.data.kind === 'ellipsis' ? v : intArg(r, w.data, 'cmsg_data');
    if (w.level !== g.level || w.type !== g.type || data !== v)
      fail(`control message ${k}`, `{level ${w.level}, type ${w.type}, data ${data}}`, text);
  });
}

/** MSG_DONTWAIT: this call does not block (EAGAIN instead). */
function dontWait(r: RunState, flags: number): { dontWait?: true } {
  return flags & r.consts.MSG_DONTWAIT! ? { dontWait: true } : {};
}

/** Send flags that need nothing of the target: MSG_DONTWAIT, and MSG_NOSIGNAL (it raises no SIGPIPE). */
function quietFlags(r: RunState): number {
  return r.consts.MSG_DONTWAIT! | r.consts.MSG_NOSIGNAL!;
}

/** Translates a script syscall to a target call (undefined: handled here). */
function translate(r: RunState, e: SyscallEvent): Syscall {
  const a = e.args;
  const need = (n: number): void => {
    if (a.length < n) throw new Failure(e.pos, `${e.name}() needs ${n} arguments`, 'other');
  };
  const local: SockAddr = { ip: r.sockIp(r.localIp), port: DEFAULT_PORT };
  const remote: SockAddr = { ip: r.sockIp(r.remoteIp), port: DEFAULT_PORT };
  switch (e.name) {
    case 'socket': {
      need(3);
      // `...` is the script's family (packetdrill's socket_domain: AF_INET6 unless --ip_version=ipv4).
      const af6 = r.consts.AF_INET6!;
      const dom =
        a[0]!.kind === 'ellipsis' ? (r.socketFamily === 'inet6' ? af6 : 2) : intArg(r, a[0]!, 'domain');
      if (dom !== 2 && dom !== af6) throw new Skip(`socket domain ${dom} not supported`, e.pos.line);
      const ty = intArg(r, a[1]!, 'type');
      const type = ty === 1 ? 'stream' : ty === 2 ? 'dgram' : ty === 3 ? 'raw' : ty;
      const family = dom === 2 ? 'inet' : 'inet6';
      return { op: 'socket', family, type, protocol: intArg(r, a[2]!, 'protocol') };
    }
    case 'bind': {
      need(1);
      const addr = addrArg(r, a[1], local);
      return { op: 'bind', fd: fdArg(r, a[0]!), addr };
    }
    case 'listen':
      need(2);
      return { op: 'listen', fd: fdArg(r, a[0]!), backlog: intArg(r, a[1]!, 'backlog') };
    case 'accept':
      need(1);
      return { op: 'accept', fd: fdArg(r, a[0]!) };
    case 'connect': {
      need(1);
      const addr = addrArg(r, a[1], remote);
      return { op: 'connect', fd: fdArg(r, a[0]!), addr };
    }
    case 'read':
    case 'recv':
    case 'recvfrom': {
      need(3);
      const flags = a[3] ? intArg(r, a[3], 'flags') : 0;
      if (flags & ~(r.consts.MSG_PEEK! | r.consts.MSG_DONTWAIT!))
        throw new Skip(`${e.name}() flags 0x${flags.toString(16)} not supported`, e.pos.line);
      return {
        op: 'recv',
        fd: fdArg(r, a[0]!),
        length: intArg(r, a[2]!, 'length'),
        peek: (flags & r.consts.MSG_PEEK!) !== 0,
        from: e.name === 'recvfrom',
        ...dontWait(r, flags),
      };
    }
    case 'write':
    case 'send':
    case 'sendto': {
      need(3);
      const len = intArg(r, a[2]!, 'length');
      const flags = a[3] ? intArg(r, a[3], 'flags') : 0;
      const fastOpen = r.consts.MSG_FASTOPEN !== undefined && e.name === 'sendto' ? r.consts.MSG_FASTOPEN : 0;
      const more = r.consts.MSG_MORE ?? 0;
      const eor = r.consts.MSG_EOR ?? 0;
      if (flags & ~(fastOpen | more | eor | quietFlags(r)))
        throw new Skip(`${e.name}() flags 0x${flags.toString(16)} not supported`, e.pos.line);
      const sendFlags = {
        ...(flags & more ? { more: true } : {}),
        ...(flags & eor ? { eor: true } : {}),
        ...dontWait(r, flags),
      };
      if (flags & fastOpen) {
        // sendto(MSG_FASTOPEN) connects (RFC 7413): the flow's remote port is the address's.
        const to = addrArg(r, a[4], { ip: r.sockIp(r.remoteIp), port: DEFAULT_PORT });
        if (!r.tcpLive) r.tcpConnecting = true;
        r.tcpFlow.remotePort = to.port;
        return { op: 'send', fd: fdArg(r, a[0]!), data: payload(a[1], len), to, fastOpen: true };
      }
      const to =
        e.name === 'sendto'
          ? addrArg(r, a[4], { ip: r.sockIp(r.remoteIp), port: r.udpFlow.remotePort })
          : undefined;
      return { op: 'send', fd: fdArg(r, a[0]!), data: payload(a[1], len), to, ...sendFlags };
    }
    case 'sendmsg':
    case 'recvmsg': {
      // sendmsg/recvmsg(fd, {msg_name(...)=..., msg_iov(N)=[{..., LEN}, ...], msg_control=..., msg_flags=F}, flags)
      need(2);
      const msg = a[1]!;
      if (msg.kind !== 'struct') throw new Failure(msg.pos, `${e.name}() takes a struct msghdr`, 'other');
      const field = (name: string) => msg.items.find((f) => f.kind === 'assign' && f.name === name);
      let len = 0;
      const iov = field('msg_iov');
      if (iov?.kind === 'assign' && iov.value.kind === 'array') {
        for (const v of iov.value.items) {
          const n = v.kind === 'struct' ? v.items[v.items.length - 1] : undefined;
          if (n) len += intArg(r, n, 'iov_len');
        }
      }
      const ctl = field('msg_control');
      const cmsgs = ctl?.kind === 'assign' && ctl.value.kind === 'array' ? ctl.value.items : [];
      const flags = a[2] ? intArg(r, a[2], 'flags') : 0;
      if (e.name === 'recvmsg') {
        if (flags & ~(r.consts.MSG_PEEK! | r.consts.MSG_DONTWAIT!))
          throw new Skip(`recvmsg() flags 0x${flags.toString(16)} not supported`, e.pos.line);
        // packetdrill sizes the control buffer for the messages the script expects.
        let control = 0;
        for (const c of cmsgs) control += 16 + ((cmsgSize(r, c) + 7) & ~7);
        return {
          op: 'recv',
          fd: fdArg(r, a[0]!),
          length: len,
          peek: (flags & r.consts.MSG_PEEK!) !== 0,
          from: false,
          control,
          ...dontWait(r, flags),
        };
      }
      const more = r.consts.MSG_MORE ?? 0;
      const eor = r.consts.MSG_EOR ?? 0;
      if (flags & ~(more | eor | quietFlags(r)))
        throw new Skip(`sendmsg() flags 0x${flags.toString(16)} not supported`, e.pos.line);
      // Control messages with integer data, as ints (Linux takes IP_TOS as an int or a byte).
      const control = cmsgs.map((c) => {
        const m = cmsgFields(r, c);
        const data = new Uint8Array(4);
        new DataView(data.buffer).setInt32(0, intArg(r, m.data, 'cmsg_data'), true);
        return { level: m.level, type: m.type, data };
      });
      return {
        op: 'send',
        fd: fdArg(r, a[0]!),
        data: new Uint8Array(len),
        to: undefined,
        ...(control.length > 0 ? { control } : {}),
        ...dontWait(r, flags),
        ...(flags & more ? { more: true } : {}),
        ...(flags & eor ? { eor: true } : {}),
      };
    }
    case 'close':
      need(1);
      return { op: 'close', fd: fdArg(r, a[0]!) };
    case 'shutdown': {
      need(2);
      const how = intArg(r, a[1]!, 'how');
      return {
        op: 'shutdown',
        fd: fdArg(r, a[0]!),
        how: how === 0 ? 'read' : how === 1 ? 'write' : 'both',
      };
    }
    case 'setsockopt':
    case 'getsockopt': {
      need(3);
      const level = symbolName(r, a[1]!);
      const name = symbolName(r, a[2]!);
      const fd = fdArg(r, a[0]!);
      if (e.name === 'getsockopt') return { op: 'getsockopt', fd, level, name };
      return { op: 'setsockopt', fd, level, name, value: sockoptValue(r, a[3]) };
    }
    case 'fcntl': {
      need(2);
      const cmd = symbolName(r, a[1]!);
      const fd = fdArg(r, a[0]!);
      if (cmd === 'F_GETFL') return { op: 'getNonBlocking', fd };
      if (cmd === 'F_SETFL') {
        need(3);
        const flags = intArg(r, a[2]!, 'flags');
        return { op: 'setNonBlocking', fd, nonBlocking: (flags & r.consts.O_NONBLOCK!) !== 0 };
      }
      throw new Skip(`fcntl ${cmd} not supported`, e.pos.line);
    }
    case 'ioctl':
      need(2);
      return { op: 'ioctl', fd: fdArg(r, a[0]!), request: symbolName(r, a[1]!) };
    case 'poll': {
      // poll([{fd=4, events=POLLIN, revents=POLLIN}, ...], nfds, timeout_ms)
      need(3);
      const list = a[0]!;
      if (list.kind !== 'array')
        throw new Failure(list.pos, 'poll() takes an array of struct pollfd', 'other');
      const fds = list.items.map((item) => {
        if (item.kind !== 'struct')
          throw new Failure(item.pos, 'poll(): expected {fd=..., events=...}', 'other');
        const fd = item.items.find((f) => f.kind === 'assign' && f.name === 'fd');
        const ev = item.items.find((f) => f.kind === 'assign' && f.name === 'events');
        if (fd?.kind !== 'assign') throw new Failure(item.pos, 'poll(): a pollfd without fd', 'other');
        return { fd: fdArg(r, fd.value), events: ev?.kind === 'assign' ? intArg(r, ev.value, 'events') : 0 };
      });
      return { op: 'poll', fds, timeoutMs: intArg(r, a[2]!, 'timeout') };
    }
    case 'epoll_create':
    case 'epoll_create1':
      return { op: 'epollCreate' };
    case 'epoll_ctl': {
      // epoll_ctl(epfd, EPOLL_CTL_ADD, fd, {events=EPOLLIN|EPOLLET, fd=4})
      need(3);
      const ev = a[3];
      let events = 0;
      if (ev?.kind === 'struct') {
        const f = ev.items.find((x) => x.kind === 'assign' && x.name === 'events');
        if (f?.kind === 'assign') events = intArg(r, f.value, 'events') >>> 0;
      }
      return {
        op: 'epollCtl',
        epfd: fdArg(r, a[0]!),
        ctl: intArg(r, a[1]!, 'op'),
        fd: fdArg(r, a[2]!),
        events,
      };
    }
    case 'epoll_wait':
      // epoll_wait(epfd, {events=EPOLLIN, fd=4}, maxevents, timeout)
      need(4);
      return {
        op: 'epollWait',
        epfd: fdArg(r, a[0]!),
        max: intArg(r, a[2]!, 'maxevents'),
        timeoutMs: intArg(r, a[3]!, 'timeout'),
      };
  }
  throw new Skip(`system call ${e.name}() not supported by the runner`, e.pos.line);
}

function symbolName(r: RunState, x: Expr): string {
  if (x.kind === 'word') return x.name;
  if (x.kind === 'int') {
    // Numeric levels: map the common ones back to names.
    if (x.value === r.consts.SOL_SOCKET) return 'SOL_SOCKET';
    if (x.value === 6) return 'IPPROTO_TCP';
    if (x.value === 0) return 'IPPROTO_IP';
    if (x.value === 41) return 'IPPROTO_IPV6';
    return String(x.value);
  }
  throw new Failure(x.pos, 'expected a symbolic constant', 'other');
}

export async function syscall(r: RunState, e: SyscallEvent, expectedStart: number): Promise<void> {
  const call = translate(r, e);
  const start = r.now();
  // The flow's ports are known from the call itself (a blocking connect sends its SYN before returning).
  if (call.op === 'socket') {
    // packetdrill: socket() makes a new socket under test, with no 4-tuple yet.
    r.tcpLive = false;
    r.tcpConnecting = false;
  }
  if (call.op === 'connect') {
    if (!r.tcpLive) r.tcpConnecting = true;
    r.tcpFlow.remotePort = call.addr.port;
    r.udpFlow.remotePort = call.addr.port;
  }
  if (call.op === 'bind') {
    r.tcpFlow.localPort = call.addr.port;
    r.udpFlow.localPort = call.addr.port;
  }
  let result: SyscallOutcome | Promise<SyscallOutcome>;
  result = r.target.syscall(call);
  const check = (o: SyscallOutcome): void => checkSyscall(r, e, call, o);
  if (e.end) {
    const endUs = e.end.kind === 'absolute' || e.end.kind === 'relative' ? e.end.usecs : 0;
    // The end time shares the start's base: absolute, or the same anchor as a '+' start.
    const anchor = e.time.kind === 'relative' ? expectedStart - e.time.usecs : 0;
    const expectedEnd = anchor + endUs;
    const endTol = Math.max(r.toleranceUs, (r.tolerancePercent / 100) * Math.max(0, expectedEnd - start));
    const pending: Pending = {
      event: e,
      expectedEnd,
      tol: endTol,
      check,
      outcome: undefined,
      settledAt: undefined,
    };
    if (result instanceof Promise) {
      result.then(
        (o) => {
          pending.outcome = o;
          pending.settledAt = r.now();
        },
        (err: unknown) => {
          pending.outcome = { kind: 'unsupported', reason: `target threw: ${String(err)}` };
          pending.settledAt = r.now();
        },
      );
    } else {
      pending.outcome = result;
      pending.settledAt = start;
    }
    r.pending.push(pending);
    await settle(r);
    return;
  }
  if (result instanceof Promise) {
    let done: SyscallOutcome | undefined;
    result.then(
      (o) => {
        done = o;
      },
      (err: unknown) => {
        done = { kind: 'unsupported', reason: `target threw: ${String(err)}` };
      },
    );
    for (let k = 0; k < 32 && done === undefined; k++) await Promise.resolve();
    if (done === undefined) {
      r.fail(
        e.pos,
        `${e.name}() blocked, but the script expects it to return at once (use '...' for blocking calls)`,
        'syscall',
      );
      return;
    }
    result = done;
  }
  check(result);
}

function checkSyscall(r: RunState, e: SyscallEvent, call: Syscall, o: SyscallOutcome): void {
  if (o.kind === 'unsupported') {
    const name = call.op === 'setsockopt' || call.op === 'getsockopt' ? call.name : undefined;
    throw new Skip(
      name && /not supported/.test(o.reason) === false ? `${optionSkipReason(name)}: ${o.reason}` : o.reason,
      e.pos.line,
    );
  }
  const got =
    o.kind === 'error'
      ? `-1 with errno ${o.errno}`
      : String(typeof o.value === 'object' ? JSON.stringify(o.value) : o.value);
  const res = e.result;
  const fail = (msg: string, expected: string): void => r.fail(e.pos, msg, 'syscall', expected, got);
  // fd-returning calls: the script's number names the new fd.
  if (call.op === 'socket' || call.op === 'accept' || call.op === 'epollCreate') {
    const want = intArg(r, res, 'result');
    if (want >= 0) {
      if (o.kind === 'error') {
        fail(`${e.name}: expected non-negative result but got -1 with errno ${o.errno}`, String(want));
        return;
      }
      r.fds.set(want, Number(o.value));
      if (call.op !== 'epollCreate') r.socketUnderTest = want;
      return;
    }
    expectError(r, e, want, o, fail);
    return;
  }
  if (call.op === 'close') {
    const sfd = [...r.fds.entries()].find(([, l]) => l === call.fd)?.[0];
    if (o.kind === 'ok' && sfd !== undefined) r.fds.delete(sfd);
  }
  const want = intArg(r, res, 'result');
  if (want < 0) {
    expectError(r, e, want, o, fail);
    return;
  }
  if (o.kind === 'error') {
    fail(`${e.name}: expected result ${want} but got -1 with errno ${o.errno}`, String(want));
    return;
  }
  if (call.op === 'getNonBlocking') {
    const flags = r.consts.O_RDWR! | (o.value === true ? r.consts.O_NONBLOCK! : 0);
    if (flags !== want)
      fail(`fcntl(F_GETFL): expected 0x${want.toString(16)} but got 0x${flags.toString(16)}`, String(want));
    return;
  }
  if (call.op === 'getsockopt' || call.op === 'ioctl') {
    if (want !== 0) fail(`${e.name}: expected result ${want} but got 0`, String(want));
    const out = call.op === 'getsockopt' ? e.args[3] : e.args[2];
    if (out && out.kind !== 'ellipsis') compareOutValue(r, e, out, o.value);
    return;
  }
  const value = typeof o.value === 'number' ? o.value : 0;
  if (value !== want) fail(`${e.name}: expected result ${want} but got ${value}`, String(want));
  if (call.op === 'poll') checkRevents(r, e, o.revents ?? []);
  if (call.op === 'recv' && call.control !== undefined) checkMsg(r, e, o);
  if (call.op === 'epollWait') checkEpollEvents(r, e, o.ready ?? []);
}

/** epoll_wait's out-values: the script's `{events=..., fd=...}` (one, or an array) against the items reported. */
function checkEpollEvents(
  r: RunState,
  e: SyscallEvent,
  got: readonly { fd: number; events: number }[],
): void {
  const arg = e.args[1];
  const items = arg?.kind === 'struct' ? [arg] : arg?.kind === 'array' ? arg.items : [];
  items.forEach((item, k) => {
    if (item.kind !== 'struct') return;
    const ev = item.items.find((x) => x.kind === 'assign' && x.name === 'events');
    const fd = item.items.find((x) => x.kind === 'assign' && x.name === 'fd');
    const have = got[k];
    if (!have) return;
    if (ev?.kind === 'assign') {
      const want = intArg(r, ev.value, 'events') >>> 0;
      if (want !== have.events >>> 0)
        r.fail(
          e.pos,
          `epoll_wait: event ${k} events 0x${have.events.toString(16)}, expected 0x${want.toString(16)}`,
          'syscall',
          String(want),
          String(have.events),
        );
    }
    if (fd?.kind === 'assign') {
      const want = fdArg(r, fd.value);
      if (want !== have.fd)
        r.fail(e.pos, `epoll_wait: event ${k} for another fd`, 'syscall', String(want), String(have.fd));
    }
  });
}

/** poll(2)'s out-values: each pollfd's `revents`, where the script gives one. */
function checkRevents(r: RunState, e: SyscallEvent, got: readonly number[]): void {
  const list = e.args[0];
  if (list?.kind !== 'array') return;
  list.items.forEach((item, k) => {
    if (item.kind !== 'struct') return;
    const f = item.items.find((x) => x.kind === 'assign' && x.name === 'revents');
    if (f?.kind !== 'assign') return;
    const want = intArg(r, f.value, 'revents');
    const have = got[k] ?? 0;
    if (want !== have)
      r.fail(
        e.pos,
        `poll: revents of pollfd ${k} 0x${have.toString(16)}, expected 0x${want.toString(16)}`,
        'syscall',
        String(want),
        String(have),
      );
  });
}

function expectError(
  _r: RunState,
  e: SyscallEvent,
  want: number,
  o: SyscallOutcome,
  fail: (msg: string, expected: string) => void,
): void {
  const expected = `${want}${e.errno ? ` ${e.errno}` : ''}`;
  if (o.kind !== 'error') {
    fail(
      `${e.name}: expected result ${want}${e.errno ? ` (${e.errno})` : ''} but got ${o.kind === 'ok' ? String(o.value) : '?'}`,
      expected,
    );
    return;
  }
  if (want !== -1) {
    fail(`${e.name}: expected result ${want} but got -1 with errno ${o.errno}`, expected);
    return;
  }
  if (e.errno && canonicalErrno(e.errno) !== canonicalErrno(o.errno)) {
    fail(`${e.name}: expected errno ${e.errno} but got ${o.errno}`, expected);
  }
}

function compareOutValue(r: RunState, e: SyscallEvent, out: Expr, value: unknown): void {
  const gotText = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (out.kind === 'struct') {
    const want = sockoptValue(r, out);
    const v = value as { onoff?: boolean; seconds?: number };
    if (want.kind === 'linger' && (v?.onoff !== want.onoff || v?.seconds !== want.seconds)) {
      r.fail(
        e.pos,
        `${e.name}: option value ${gotText}, expected ${JSON.stringify(want)}`,
        'syscall',
        JSON.stringify(want),
        gotText,
      );
    }
    return;
  }
  const item = out.kind === 'array' && out.items.length === 1 ? out.items[0]! : out;
  // Errno-valued options (SO_ERROR): compare by name.
  if (item.kind === 'word' && isErrnoName(item.name) && word(r, item.name) === undefined) {
    const ok =
      typeof value === 'string'
        ? canonicalErrno(value) === canonicalErrno(item.name)
        : value === ERRNO[canonicalErrno(item.name)];
    if (!ok)
      r.fail(e.pos, `${e.name}: value ${gotText}, expected ${item.name}`, 'syscall', item.name, gotText);
    return;
  }
  const want = intArg(r, item, 'option value');
  const have =
    typeof value === 'string'
      ? value === '' || value === '0'
        ? 0
        : (ERRNO[canonicalErrno(value)] ?? Number.NaN)
      : typeof value === 'boolean'
        ? Number(value)
        : Number(value);
  if (have !== want)
    r.fail(e.pos, `${e.name}: value ${gotText}, expected ${want}`, 'syscall', String(want), gotText);
}
