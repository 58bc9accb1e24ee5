#!/usr/bin/env bash
# Captures real Linux kernel frames for the wire codec tests.
#
# As root: creates two network namespaces (ssfx-a, ssfx-b) joined by a veth pair
# (10.250.0.1/24 <-> 10.250.0.2/24, fixed MACs), captures with tcpdump inside
# ssfx-a while generating ARP, ping (also a 3000-byte ping, fragmented at MTU
# 1500), a UDP datagram, a TCP connection with data and FIN, and an ICMP port
# unreachable (UDP to a closed port); then deletes the namespaces and converts the
# pcap into test/fixtures/wire/kernel-frames.json (hex + description per frame).
#
# Transmit checksum offload is switched off on both veth ends (ETHTOOL_STXCSUM via
# ioctl, no ethtool binary needed) so captured TCP/UDP checksums are complete.
#
# Usage: sudo scripts/capture-fixtures.sh [output.json]
set -euo pipefail

NS_A=ssfx-a
NS_B=ssfx-b
IF_A=ssfx-va
IF_B=ssfx-vb
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/test/fixtures/wire/kernel-frames.json}
WORK=$(mktemp -d /tmp/ssfx.XXXXXX)
PCAP=$WORK/capture.pcap
TCPDUMP_PID=

cleanup() {
  if [[ -n $TCPDUMP_PID ]]; then kill "$TCPDUMP_PID" 2>/dev/null || true; fi
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [[ $(id -u) -ne 0 ]]; then
  echo "capture-fixtures: must run as root" >&2
  exit 1
fi

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add "$IF_A" netns "$NS_A" address 02:00:5e:fa:00:01 type veth peer name "$IF_B" netns "$NS_B" address 02:00:5e:fa:00:02
A() { ip netns exec "$NS_A" "$@"; }
B() { ip netns exec "$NS_B" "$@"; }
A ip addr add 10.250.0.1/24 dev "$IF_A"
B ip addr add 10.250.0.2/24 dev "$IF_B"
A ip link set lo up
B ip link set lo up
A ip link set "$IF_A" up
B ip link set "$IF_B" up
# No IPv6 chatter (router solicitations, MLD) in the capture.
A sysctl -qw net.ipv6.conf.all.disable_ipv6=1
B sysctl -qw net.ipv6.conf.all.disable_ipv6=1

NO_TX_CSUM='
import array, fcntl, socket, struct, sys
ev = array.array("I", [0x17, 0])  # ETHTOOL_STXCSUM, data 0
ifr = struct.pack("16sP", sys.argv[1].encode(), ev.buffer_info()[0]).ljust(40, b"\0")
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fcntl.ioctl(sock.fileno(), 0x8946, ifr)  # SIOCETHTOOL
'
A python3 -c "$NO_TX_CSUM" "$IF_A"
B python3 -c "$NO_TX_CSUM" "$IF_B"

# Not through A(): that would fork a subshell and $! would not be tcpdump's pid
# (`ip netns exec` execs the command, keeping the pid).
ip netns exec "$NS_A" tcpdump -i "$IF_A" -Z root -U -w "$PCAP" -s 0 2>"$WORK/tcpdump.log" &
TCPDUMP_PID=$!
# Wait until tcpdump is listening.
for _ in $(seq 50); do grep -q listening "$WORK/tcpdump.log" 2>/dev/null && break; sleep 0.1; done

# ARP request/reply, then echo request/reply.
A ping -c 1 -W 2 10.250.0.2 >/dev/null
# A 3000-byte echo: fragmented into three IPv4 fragments each way.
A ping -c 1 -W 2 -s 3000 10.250.0.2 >/dev/null

# A UDP datagram to a listening socket.
B python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.250.0.2", 5353)); s.settimeout(5)
print(s.recvfrom(2048)[0].decode(), end="")
' >"$WORK/udp.out" &
UDP_PID=$!
sleep 0.3
A python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.250.0.1", 40001))
s.sendto(b"hello over udp", ("10.250.0.2", 5353))
'
wait "$UDP_PID"

# A UDP datagram to a closed port: ICMP port unreachable comes back.
A python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.250.0.1", 40002))
s.sendto(b"anyone there?", ("10.250.0.2", 9))
'
sleep 0.3

# A TCP connection: SYN (MSS, SACK-permitted, timestamps, window scale), data both
# ways, FIN from each side.
B python3 -c '
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.250.0.2", 5000)); l.listen(1); l.settimeout(5)
c, _ = l.accept()
data = b""
while True:
    d = c.recv(4096)
    if not d: break
    data += d
c.sendall(b"echo: " + data)
c.close()
' &
TCP_PID=$!
sleep 0.3
A python3 -c '
import socket
s = socket.create_connection(("10.250.0.2", 5000), source_address=("10.250.0.1", 40003))
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
s.shutdown(socket.SHUT_WR)
while s.recv(4096): pass
s.close()
'
wait "$TCP_PID"
# Let tcpdump drain its capture ring before it is stopped.
sleep 1

kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
TCPDUMP_PID=

python3 - "$PCAP" "$OUT" <<'PY'
import json, struct, sys

pcap, out = sys.argv[1], sys.argv[2]
data = open(pcap, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
linktype = struct.unpack(endian + "I", data[20:24])[0]
assert linktype == 1, f"expected LINKTYPE_ETHERNET, got {linktype}"

def ip4(b):
    return ".".join(str(x) for x in b)

def describe(f):
    et = struct.unpack("!H", f[12:14])[0]
    if et == 0x0806:
        op = struct.unpack("!H", f[20:22])[0]
        return f"ARP {'request' if op == 1 else 'reply' if op == 2 else op} {ip4(f[28:32])} -> {ip4(f[38:42])}"
    if et != 0x0800:
        return f"ethertype 0x{et:04x}"
    ip = f[14:]
    ihl = (ip[0] & 15) * 4
    proto = ip[9]
    fo = struct.unpack("!H", ip[6:8])[0]
    off, mf = (fo & 0x1FFF) * 8, bool(fo & 0x2000)
    frag = f" fragment offset {off}{' MF' if mf else ''}" if off or mf else ""
    src, dst = ip4(ip[12:16]), ip4(ip[16:20])
    t = ip[ihl:]
    if off:
        return f"IPv4 {src} -> {dst} proto {proto}{frag}"
    if proto == 1:
        names = {0: "echo reply", 8: "echo request", 3: "destination unreachable", 11: "time exceeded"}
        return f"ICMP {names.get(t[0], t[0])} code {t[1]} {src} -> {dst}{frag}"
    if proto == 17:
        sp, dp, ln = struct.unpack("!HHH", t[:6])
        return f"UDP {src}:{sp} -> {dst}:{dp} length {ln}"
    if proto == 6:
        sp, dp = struct.unpack("!HH", t[:4])
        flags = t[13]
        names = "FSRPAUEC"
        fl = "".join(n for i, n in enumerate(names) if flags & (1 << i))
        plen = len(ip) - ihl - (t[12] >> 4) * 4
        tl = struct.unpack("!H", ip[2:4])[0]
        plen = tl - ihl - (t[12] >> 4) * 4
        return f"TCP {src}:{sp} -> {dst}:{dp} [{fl}] {plen} data bytes"
    return f"IPv4 {src} -> {dst} proto {proto}"

frames = []
i = 24
while i + 16 <= len(data):
    _, _, incl, _ = struct.unpack(endian + "IIII", data[i : i + 16])
    f = data[i + 16 : i + 16 + incl]
    i += 16 + incl
    frames.append({"description": describe(f), "hex": f.hex()})

# Every scenario must be present; a short capture is an error, not a fixture.
descs = [fr["description"] for fr in frames]
for want in ["ARP request", "ARP reply", "ICMP echo request", "fragment offset 2960", "UDP ",
             "destination unreachable code 3", "[S]", "[SA]", "[FA]"]:
    if not any(want in d for d in descs):
        sys.exit(f"capture-fixtures: no frame matching {want!r} in the capture ({len(frames)} frames)")

doc = {
    "source": "scripts/capture-fixtures.sh: Linux kernel over a veth pair between network namespaces ssfx-a (10.250.0.1) and ssfx-b (10.250.0.2), captured by tcpdump in ssfx-a",
    "linktype": "ethernet",
    "frames": frames,
}
with open(out, "w") as fh:
    json.dump(doc, fh, indent=2)
    fh.write("\n")
print(f"capture-fixtures: {len(frames)} frames -> {out}")
for fr in frames:
    print("  " + fr["description"])
PY
