#!/usr/bin/env python3
"""Sends one hand-made TCP segment from the kernel's namespace with a raw socket (the IP
header is the kernel's; the TCP header and its checksum are ours), for the tests of RFC 5961
and drop_synfin in tcp-switches.test.ts:

  raw-inject.py SRC DST SPORT DPORT SEQ ACK FLAGS [TSVAL TSECR]   FLAGS: letters of S F R A P
With TSVAL and TSECR the segment carries the Timestamps option (RFC 7323).
Prints "sent" once the segment left.
"""
import socket, struct, sys

src, dst = sys.argv[1], sys.argv[2]
sport, dport, seq, ack = (int(x) for x in sys.argv[3:7])
bits = {'F': 1, 'S': 2, 'R': 4, 'P': 8, 'A': 16}
flags = sum(bits[c] for c in sys.argv[7])


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


opts = b''
if len(sys.argv) > 9:
    opts = struct.pack('!BBBBII', 1, 1, 8, 10, int(sys.argv[8]) & 0xffffffff, int(sys.argv[9]) & 0xffffffff)
doff = (20 + len(opts)) // 4
hdr = struct.pack('!HHIIBBHHH', sport, dport, seq & 0xffffffff, ack & 0xffffffff, doff << 4, flags, 65535, 0, 0) + opts
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 6, len(hdr))
hdr = hdr[:16] + struct.pack('!H', csum(pseudo + hdr)) + hdr[18:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.bind((src, 0))
s.sendto(hdr, (dst, 0))
print('sent', flush=True)
