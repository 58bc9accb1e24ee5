#!/usr/bin/env python3
"""User-space netem stand-in (this kernel has no sch_netem).

Runs inside a namespace (bench/tap-tcp.ts creates it) and forwards Ethernet frames between two veth ends with
AF_PACKET raw sockets, applying, per direction, a fixed one-way delay and random
loss to IPv4 frames (ARP passes untouched), with a netem-like queue limit.

  ip netns exec pbM python3 impair-bridge.py --a ma1 --b mb1 \
      --ab-delay-ms 10 --ab-loss 0.01 [--ba-delay-ms 0 --ba-loss 0] [--limit 1000] \
      [--seconds 60] [--seed 1]

a->b is the direction of the bulk data (sender in pbA, receiver in pbB), so
"--ab-delay-ms 10 --ab-loss 0.01" corresponds to `tc qdisc add dev pa1 root netem
delay 10ms loss 1%` on the sender's device. Stats line printed on exit (SIGTERM/SIGINT/--seconds).
"""
import collections, os, random, select, signal, socket, sys, time

args = sys.argv[1:]
def opt(n, d):
    k = '--' + n
    return args[args.index(k) + 1] if k in args else d

A, B = opt('a', 'ma1'), opt('b', 'mb1')
cfg = {
    'ab': (float(opt('ab-delay-ms', 0)) / 1000, float(opt('ab-loss', 0))),
    'ba': (float(opt('ba-delay-ms', 0)) / 1000, float(opt('ba-loss', 0))),
}
LIMIT = int(opt('limit', 1000))          # netem's default queue limit (packets)
SECONDS = float(opt('seconds', 600))     # hard bound on lifetime
rng = random.Random(int(opt('seed', 1)))
SOL_PACKET, PACKET_IGNORE_OUTGOING = 263, 23
ETH_P_ALL = 0x0003


def open_if(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    except OSError:
        pass
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    s.bind((name, 0))
    s.setblocking(False)
    return s


sa, sb = open_if(A), open_if(B)
# direction key -> (rx socket, tx socket, delay, loss, queue)
dirs = {
    sa.fileno(): ('ab', sa, sb, *cfg['ab'], collections.deque()),
    sb.fileno(): ('ba', sb, sa, *cfg['ba'], collections.deque()),
}
st = {k: {'rx': 0, 'fwd': 0, 'loss': 0, 'qdrop': 0, 'txerr': 0} for k in ('ab', 'ba')}
stop = False
def _stop(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, _stop)
signal.signal(signal.SIGINT, _stop)

ep = select.epoll()
for fd in dirs:
    ep.register(fd, select.EPOLLIN)
end = time.monotonic() + SECONDS
now = time.monotonic
print(f'impair-bridge {A}<->{B} ab(delay={cfg["ab"][0]*1000}ms loss={cfg["ab"][1]}) '
      f'ba(delay={cfg["ba"][0]*1000}ms loss={cfg["ba"][1]}) limit={LIMIT}', flush=True)


def flush(t):
    nxt = None
    for key, rx, tx, delay, loss, q in dirs.values():
        while q and q[0][0] <= t:
            _, frame = q.popleft()
            try:
                tx.send(frame)
                st[key]['fwd'] += 1
            except OSError:
                st[key]['txerr'] += 1
        if q and (nxt is None or q[0][0] < nxt):
            nxt = q[0][0]
    return nxt


while not stop and now() < end:
    t = now()
    nxt = flush(t)
    timeout = -1 if nxt is None else max(0.0, nxt - t)
    timeout = min(timeout if timeout >= 0 else 1.0, 1.0)
    try:
        events = ep.poll(timeout)
    except InterruptedError:
        continue
    for fd, _ev in events:
        key, rx, tx, delay, loss, q = dirs[fd]
        s = st[key]
        for _ in range(256):  # bounded drain
            try:
                frame, addr = rx.recvfrom(65536)
            except BlockingIOError:
                break
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            s['rx'] += 1
            is_ip = frame[12:14] == b'\x08\x00'
            if is_ip and loss and rng.random() < loss:
                s['loss'] += 1
                continue
            if delay == 0 and not q:
                try:
                    tx.send(frame); s['fwd'] += 1
                except OSError:
                    s['txerr'] += 1
                continue
            if len(q) >= LIMIT:
                s['qdrop'] += 1
                continue
            q.append((now() + delay, frame))

print('impair-bridge stats ' + ' '.join(f'{k}:' + ','.join(f'{n}={v}' for n, v in d.items()) for k, d in st.items()),
      flush=True)
