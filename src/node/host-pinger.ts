/**
 * ICMP echo out of the host through Linux's unprivileged ping sockets
 * (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), and IPPROTO_ICMPV6), which a process may
 * open when its group is in net.ipv4.ping_group_range (the one sysctl covers both
 * families). Node has no API for them, and a native addon would need a compiler and
 * downloaded headers at install; so a small Python helper, started once on the first
 * echo, holds the two sockets and relays echoes over its stdin/stdout. Python's socket
 * module opens ping sockets and reads the reply's TTL (IP_RECVTTL / IPV6_RECVHOPLIMIT)
 * with no privilege and nothing to install beyond python3. Spawning the system's `ping`
 * per echo was the other way: it costs a process per packet, adds that start-up to every
 * RTT the guest sees, and falls back to a raw socket through its file capability where
 * the sysctl says no, so it would not tell whether the host allows ping sockets.
 *
 * The helper keeps the guest's data; the kernel sets the echo identifier (the ping
 * socket's "port") and the helper numbers its own sequence, so echoes of several guests
 * never collide. It bounds its outstanding echoes and times each out.
 *
 * Protocol (lines): in `ID FAMILY HOST TIMEOUT_MS HEXDATA`; out first
 * `ready V4STATUS V6STATUS` (`ok` or the errno name the socket failed with, EACCES when
 * the group is outside the range), then `ID TTL` for a reply, `ID -` for none, `ID ECODE`
 * when that family cannot ping.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { HostPinger } from '../gateway/dialer.ts';

const HELPER = String.raw`
import errno, os, select, socket, struct, sys, time
IP_RECVTTL = getattr(socket, 'IP_RECVTTL', 12)
IP_TTL = getattr(socket, 'IP_TTL', 2)
IPV6_RECVHOPLIMIT = getattr(socket, 'IPV6_RECVHOPLIMIT', 51)
IPV6_HOPLIMIT = getattr(socket, 'IPV6_HOPLIMIT', 52)
MAX_PENDING = 4096
def opensock(fam):
    try:
        if fam == 4:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
            s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        else:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
        s.setblocking(False)
        return s, 'ok'
    except OSError as e:
        return None, errno.errorcode.get(e.errno, 'EIO')
socks = {}
status = {}
for fam in (4, 6):
    socks[fam], status[fam] = opensock(fam)
def say(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()
say('ready %s %s' % (status[4], status[6]))
pending = {4: {}, 6: {}}
nextseq = {4: 0, 6: 0}
def handle(line):
    parts = line.split(' ')
    if len(parts) != 5:
        return
    rid, fam, host, tmo, data = parts[0], int(parts[1]), parts[2], int(parts[3]), bytes.fromhex(parts[4])
    s = socks.get(fam)
    if s is None:
        say('%s E%s' % (rid, status.get(fam, 'EINVAL')))
        return
    p = pending[fam]
    if len(p) >= MAX_PENDING:
        say(rid + ' -')
        return
    seq = nextseq[fam]
    for _ in range(65536):
        if seq not in p:
            break
        seq = (seq + 1) & 0xffff
    nextseq[fam] = (seq + 1) & 0xffff
    try:
        packed = socket.inet_pton(socket.AF_INET if fam == 4 else socket.AF_INET6, host)
        msg = struct.pack('!BBHHH', 8 if fam == 4 else 128, 0, 0, 0, seq) + data
        s.sendto(msg, (host, 0))
    except (OSError, ValueError):
        say(rid + ' -')
        return
    p[seq] = (rid, time.monotonic() + tmo / 1000.0, packed, data)
def drain(fam, s):
    for _ in range(256):
        try:
            msg, anc, _flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(4))
        except BlockingIOError:
            return
        except OSError:
            continue
        if len(msg) < 8 or msg[0] != (0 if fam == 4 else 129):
            continue
        seq = struct.unpack('!H', msg[6:8])[0]
        e = pending[fam].get(seq)
        if e is None:
            continue
        rid, _dl, packed, data = e
        try:
            src = socket.inet_pton(socket.AF_INET if fam == 4 else socket.AF_INET6, addr[0].split('%')[0])
        except (OSError, ValueError):
            continue
        if src != packed or msg[8:] != data:
            continue
        ttl = -1
        for level, typ, val in anc:
            if (fam == 4 and level == socket.IPPROTO_IP and typ == IP_TTL) or (
                fam == 6 and level == socket.IPPROTO_IPV6 and typ == IPV6_HOPLIMIT):
                ttl = struct.unpack('=i', val[:4])[0]
        del pending[fam][seq]
        say('%s %d' % (rid, ttl))
buf = b''
while True:
    now = time.monotonic()
    nearest = None
    for fam in (4, 6):
        for seq, e in list(pending[fam].items()):
            if e[1] <= now:
                del pending[fam][seq]
                say(e[0] + ' -')
            elif nearest is None or e[1] < nearest:
                nearest = e[1]
    r, _w, _x = select.select([0] + [s for s in socks.values() if s is not None], [], [],
                              None if nearest is None else max(0.0, nearest - now))
    if 0 in r:
        d = os.read(0, 65536)
        if not d:
            break
        buf += d
        if len(buf) > (1 << 22):
            break
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            try:
                handle(line.decode('ascii', 'replace'))
            except ValueError:
                pass
    for fam, s in socks.items():
        if s is not None and s in r:
            drain(fam, s)
`;

type Pending = {
  resolve: (r: { ttl: number } | undefined) => void;
  reject: (e: Error & { code?: string }) => void;
};

function cannot(code: string, why: string): Error & { code: string } {
  return Object.assign(new Error(`${code}: ${why}`), { code });
}

export interface PingSocketPingerOptions {
  /** The Python interpreter (default 'python3'). */
  python?: string;
}

/** A HostPinger over the host's ping sockets, through the helper above (started on first use). */
export class PingSocketPinger implements HostPinger {
  readonly #python: string;
  #child: ChildProcess | undefined;
  /** Per family: undefined until the helper said, else 'ok' or the errno name. */
  #status: { 4: string | undefined; 6: string | undefined } = { 4: undefined, 6: undefined };
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  constructor(o: PingSocketPingerOptions = {}) {
    this.#python = o.python ?? 'python3';
  }

  available(family: 4 | 6): boolean | undefined {
    const s = this.#status[family];
    return s === undefined ? undefined : s === 'ok';
  }

  echo(
    family: 4 | 6,
    host: string,
    data: Uint8Array,
    timeoutMs: number,
  ): Promise<{ ttl: number } | undefined> {
    const st = this.#status[family];
    if (this.#closed) return Promise.reject(cannot('ENOSYS', 'the pinger is closed'));
    if (st !== undefined && st !== 'ok')
      return Promise.reject(cannot(st, `no IPv${family} ping socket on this host`));
    if (!/^[0-9a-fA-F:.]+$/.test(host)) return Promise.reject(cannot('EINVAL', `not an address: ${host}`));
    const child = this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#hold();
      child.stdin?.write(
        `${id} ${family} ${host} ${Math.max(1, Math.round(timeoutMs))} ${Buffer.from(data).toString('hex')}\n`,
      );
    });
  }

  close(): void {
    this.#closed = true;
    this.#child?.kill();
    this.#child = undefined;
    this.#failAll('ENOSYS', 'the pinger closed');
  }

  #failAll(code: string, why: string): void {
    for (const p of this.#pending.values()) p.reject(cannot(code, why));
    this.#pending.clear();
  }

  /** Refs the helper (its process and its stdout) while echoes are outstanding, unrefs it after. */
  #hold(): void {
    const c = this.#child;
    if (!c) return;
    const out = c.stdout as unknown as { ref?: () => void; unref?: () => void } | null;
    if (this.#pending.size > 0) {
      c.ref();
      out?.ref?.();
    } else {
      c.unref();
      out?.unref?.();
    }
  }

  #start(): ChildProcess {
    if (this.#child) return this.#child;
    const child = spawn(this.#python, ['-I', '-c', HELPER], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.#child = child;
    // The helper keeps the process alive only while echoes wait for it (#hold).
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    child.stdin?.on('error', () => {});
    const gone = (code: string, why: string): void => {
      if (this.#child !== child) return;
      this.#child = undefined;
      // A helper that never said it was ready (no python3): this host cannot ping.
      if (this.#status[4] === undefined) this.#status = { 4: code, 6: code };
      this.#failAll(code, why);
    };
    child.on('error', (e: Error & { code?: string }) =>
      gone(e.code === 'ENOENT' ? 'ENOENT' : 'ENOSYS', `${this.#python}: ${e.message}`),
    );
    child.on('exit', () => gone('ENOSYS', 'the ping helper exited'));
    let buf = '';
    child.stdout?.setEncoding('ascii');
    child.stdout?.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.#line(line);
      }
    });
    return child;
  }

  #line(line: string): void {
    const [a, b, c] = line.split(' ');
    if (a === 'ready') {
      this.#status = { 4: b, 6: c };
      return;
    }
    const p = this.#pending.get(Number(a));
    if (!p || b === undefined) return;
    this.#pending.delete(Number(a));
    this.#hold();
    if (b === '-') p.resolve(undefined);
    else if (b.startsWith('E')) p.reject(cannot(b.slice(1), 'no ping socket on this host for that family'));
    else p.resolve({ ttl: Number(b) });
  }
}
