#!/usr/bin/env python3
"""The kernel's end of sockstack's kernel-peer tests and benchmarks (run inside the
test's network namespace with `ip netns exec NS python3 kernel-peer.py ...`).

  recv   --listen IP --port P            accept one connection, read to EOF, print "RESULT <bytes> <sha256> <seconds>"
  send   --connect IP --port P --bytes N  connect, send N pseudo-random bytes, shut down, print "RESULT <bytes> <sha256> <seconds>"
         [--seconds S]                    ... or stop sending after S seconds (time-limited goodput runs)
  serve-send --listen IP --port P --bytes N  accept one connection, send N bytes, close, print RESULT
  backlog --listen IP --port P --backlog B  listen; accept one connection per stdin line (prints "accepted N"); exit at EOF
  serve-close --listen IP --port P        accept one connection, send "bye\n", close first; print "closed"
--nohash (benchmarks): the receiver does not hash (prints sha256 "-"), the sender resends one
pseudo-random block instead of generating every byte, so the peer is not the bottleneck.
Every mode prints "ready" (flushed) once it listens or before it connects, and gives up
after --timeout seconds (default 60). Optional --cc NAME sets TCP_CONGESTION.
"""
import hashlib, os, random, socket, sys, time

args = sys.argv[2:]
def opt(name, default=None):
    k = '--' + name
    return args[args.index(k) + 1] if k in args else default

mode = sys.argv[1] if len(sys.argv) > 1 else ''
T = float(opt('timeout', 60))
CHUNK = 1 << 20
TCP_CONGESTION = getattr(socket, 'TCP_CONGESTION', 13)


def family(addr):
    # An IPv6 address (fd00::1, fe80::1%eth0) selects AF_INET6.
    return socket.AF_INET6 if addr and ':' in addr else socket.AF_INET


def cc(s):
    name = opt('cc')
    if name:
        s.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, name.encode())


def listener():
    l = socket.socket(family(opt('listen')), socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    cc(l)
    l.bind((opt('listen'), int(opt('port'))))
    l.listen(int(opt('backlog', 8)))
    l.settimeout(T)
    print('ready', flush=True)
    return l


NOHASH = '--nohash' in args


def receive(c):
    h = hashlib.sha256(); n = 0
    buf = bytearray(CHUNK)
    t0 = None
    view = memoryview(buf)
    while True:
        k = c.recv_into(buf)
        if t0 is None:
            t0 = time.monotonic()
        if not k:
            break
        if not NOHASH:
            h.update(view[:k])
        n += k
    dt = time.monotonic() - (t0 or time.monotonic())
    print(f'RESULT {n} {"-" if NOHASH else h.hexdigest()} {dt:.6f}', flush=True)


def send(c, total):
    rng = random.Random(int(opt('seed', 1)))
    h = hashlib.sha256(); n = 0
    t0 = time.monotonic()
    limit = float(opt('seconds', 0))
    block = rng.randbytes(CHUNK) if limit or NOHASH else None  # one block, resent (no generator cost)
    while n < total:
        if limit and time.monotonic() - t0 >= limit:
            break
        b = block[:min(CHUNK, total - n)] if block else rng.randbytes(min(CHUNK, total - n))
        c.sendall(b)
        if not NOHASH:
            h.update(b)
        n += len(b)
    c.shutdown(socket.SHUT_WR)
    # Wait for the peer's FIN so the timing covers delivery, not just buffering.
    while c.recv(65536):
        pass
    dt = time.monotonic() - t0
    print(f'RESULT {n} {"-" if NOHASH else h.hexdigest()} {dt:.6f}', flush=True)


if mode == 'recv':
    l = listener()
    c, _ = l.accept(); c.settimeout(T)
    receive(c); c.close()
elif mode == 'send':
    s = socket.socket(family(opt('connect')), socket.SOCK_STREAM)
    cc(s)
    s.settimeout(T)
    print('ready', flush=True)
    s.connect((opt('connect'), int(opt('port'))))
    send(s, int(opt('bytes')))
    s.close()
elif mode == 'serve-send':
    l = listener()
    c, _ = l.accept(); c.settimeout(T)
    send(c, int(opt('bytes')))
    c.close()
elif mode == 'backlog':
    l = listener()
    held = []
    for line in sys.stdin:
        c, _ = l.accept(); held.append(c)
        print(f'accepted {len(held)}', flush=True)
elif mode == 'serve-close':
    l = listener()
    c, a = l.accept()
    c.sendall(b'bye\n')
    c.close()
    print(f'closed {a[1]}', flush=True)
    sys.stdin.read()
else:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
