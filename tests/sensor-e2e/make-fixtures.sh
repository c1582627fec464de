#!/usr/bin/env bash
# Regenerates the parser fixtures in tests/AutoMirror.Sensor.Tests/Fixtures with real tools:
#  - vxlan-kernel.pcap: the Linux kernel's own VXLAN device (flags 0x08, hashed source port, VNI 4242)
#    carrying an HTTP exchange (curl) and UDP datagrams of several sizes between two namespaces, captured by tcpdump on the underlay;
#  - geneve-gwlb.pcap: the same VXLAN datagrams wrapped by scapy the way a Gateway Load Balancer
#    delivers them (GENEVE 6081, protocol IPv4, GWLB-style options) around the mirror's IP/UDP/VXLAN.
# Needs root, iproute2, tcpdump and Debian's python3 with scapy. Traffic stays in the namespaces.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../AutoMirror.Sensor.Tests/Fixtures"
id="amfx$$"
a="${id}a"; b="${id}b"
tmp=$(mktemp -d)
cleanup() {
    [ -n "${tcpdump_pid:-}" ] && kill "$tcpdump_pid" 2>/dev/null || true
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add "$a"; ip netns add "$b"
ip link add "${id}x" netns "$a" type veth peer name "${id}y" netns "$b"
ip -n "$a" addr add 10.200.0.1/24 dev "${id}x"; ip -n "$b" addr add 10.200.0.2/24 dev "${id}y"
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set "${id}x" up; ip -n "$b" link set "${id}y" up
ip -n "$a" link add vx0 type vxlan id 4242 local 10.200.0.1 remote 10.200.0.2 dstport 4789 nolearning
ip -n "$b" link add vx0 type vxlan id 4242 local 10.200.0.2 remote 10.200.0.1 dstport 4789 nolearning
ip -n "$a" addr add 192.168.42.1/24 dev vx0; ip -n "$b" addr add 192.168.42.2/24 dev vx0
ip -n "$a" link set vx0 up; ip -n "$b" link set vx0 up

ip netns exec "$a" tcpdump -i "${id}x" -U -s 0 -w "$tmp/vxlan.pcap" udp port 4789 2>/dev/null &
tcpdump_pid=$!
sleep 1
ip netns exec "$b" /usr/bin/python3 -m http.server 8080 --bind 192.168.42.2 >/dev/null 2>&1 &
server_pid=$!
sleep 1
ip netns exec "$a" curl -s -o /dev/null 192.168.42.2:8080/
ip netns exec "$a" /usr/bin/python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for size in (1, 100, 1000, 1400):
    s.sendto(b'q' * size, ('192.168.42.2', 5353))
"
sleep 1
kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true
tcpdump_pid=

mkdir -p "$out"
cp "$tmp/vxlan.pcap" "$out/vxlan-kernel.pcap"
/usr/bin/python3 - "$out/vxlan-kernel.pcap" "$out/geneve-gwlb.pcap" <<'PY'
import sys
from scapy.all import rdpcap, wrpcap, Ether, IP, UDP
from scapy.contrib.geneve import GENEVE
src, dst = sys.argv[1], sys.argv[2]
out = []
for i, p in enumerate(rdpcap(src)):
    inner_ip = bytes(p[IP])  # the mirror's own IPv4/UDP/VXLAN datagram, unchanged
    # GWLB GENEVE options (class 0x0108): 3 x 8-byte TLVs -> optionlen 6 words.
    opts = (bytes.fromhex('01080101') + (0x1234560000000000 + i).to_bytes(8, 'big')[:4]) \
         + (bytes.fromhex('01080201') + (0xabcdef01).to_bytes(4, 'big')) \
         + (bytes.fromhex('01080301') + (0x00c0ffee).to_bytes(4, 'big'))
    g = GENEVE(proto=0x0800, vni=0x4c4b40, optionlen=len(opts) // 4) / (opts + inner_ip)
    out.append(Ether(src='02:00:00:00:0a:01', dst='02:00:00:00:0a:02') /
               IP(src='10.0.128.10', dst='10.0.1.20') /
               UDP(sport=40000 + i, dport=6081) / bytes(g))
wrpcap(dst, out)
PY
echo "fixtures: $(ls "$out")"
