"""Writes the outer-frame agreement capture: VXLAN/GENEVE datagrams as they reach the AF_XDP path,
valid and broken in the ways the kernel's IP/UDP layers check (scapy computes the checksums; some are
corrupted afterwards). Prints one case name per frame, in order, for the test's messages.

usage: /usr/bin/python3 outer_frames.py OUT.pcap   (Debian's python3 with scapy)
"""
import random
import sys

from scapy.all import ARP, IP, TCP, UDP, Ether, IPOption_NOP, IPv6, Raw, RawPcapWriter

rng = random.Random(20261122)
SRC, DST = "10.1.2.3", "10.9.8.7"
cases = []


def vxlan(vni, inner_len):
    inner = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="192.168.1.1", dst="192.168.1.2") / UDP(sport=5353, dport=53) / Raw(bytes(rng.randrange(256) for _ in range(inner_len)))
    return b"\x08\x00\x00\x00" + vni.to_bytes(3, "big") + b"\x00" + bytes(inner)


def eth(dst="02:00:00:00:00:0b"):
    return Ether(src="02:00:00:00:00:0a", dst=dst)


def raw(n):
    return bytes(rng.randrange(256) for _ in range(n))


def outer(payload, ip=None, udp=None):
    return eth() / (ip or IP(src=SRC, dst=DST, flags="DF")) / (udp or UDP(sport=rng.randrange(49152, 65536), dport=4789)) / Raw(payload)


def add(name, frame):
    cases.append((name, bytes(frame)))


def with_byte(frame, at, xor):
    b = bytearray(bytes(frame))
    b[at] ^= xor
    return bytes(b)


# Valid: scapy's UDP checksum, none (0), odd and even lengths, another source, GENEVE's port, no DF.
for n in (0, 1, 2, 3, 7, 45, 64, 301, 1401, 8900):
    add("valid, UDP checksum, payload %d" % n, outer(raw(n)))
for n in (1, 5, 46, 1400):
    add("valid, no UDP checksum, payload %d" % n, outer(raw(n), udp=UDP(sport=50000, dport=4789, chksum=0)))
add("valid VXLAN datagram", outer(vxlan(0x123456, 60)))
add("valid, source 172.31.255.254", outer(vxlan(7, 100), ip=IP(src="172.31.255.254", dst=DST)))
add("valid, to the GENEVE port", outer(raw(77), udp=UDP(sport=6081, dport=6081)))
add("valid, no flags", outer(raw(33), ip=IP(src=SRC, dst=DST, flags=0)))

# Ethernet padding and trailing bytes after the UDP length (the kernel trims both).
for n, pad in ((4, 10), (0, 18), (9, 3)):
    add("padded by %d, payload %d" % (pad, n), bytes(outer(raw(n))) + b"\xee" * pad)
whole = bytes(IP(src=SRC, dst=DST) / UDP(sport=40000, dport=4789) / Raw(raw(21)))
add("UDP length shorter than the IP payload", eth() / IP(src=SRC, dst=DST, proto=17) / Raw(whole[20:] + b"\xaa\xbb\xcc\xdd\xee"))

# Checksums corrupted after scapy computed them.
for n in (3, 64, 1001):
    good = outer(raw(n))
    add("bad IP checksum, payload %d" % n, with_byte(good, 14 + 10, 0x01))
    add("bad UDP checksum, payload %d" % n, with_byte(good, 14 + 20 + 6, 0x40))
    add("payload byte flipped, payload %d" % n, with_byte(good, len(bytes(good)) - 1, 0x80))
udp_for_other = bytes(IP(src=SRC, dst="10.9.8.6") / UDP(sport=40000, dport=4789) / Raw(raw(30)))[20:]
add("UDP checksummed for another destination", eth() / IP(src=SRC, dst=DST, proto=17) / Raw(udp_for_other))

# Lengths.
add("UDP length beyond the IP payload", outer(raw(20), udp=UDP(sport=40000, dport=4789, len=100, chksum=0)))
add("UDP length 7", outer(raw(20), udp=UDP(sport=40000, dport=4789, len=7, chksum=0)))
add("IP length beyond the frame", outer(raw(20), ip=IP(src=SRC, dst=DST, len=200)))
add("IP length 24", outer(raw(20), ip=IP(src=SRC, dst=DST, len=24)))
good = bytes(outer(raw(20)))
for n in (41, 34, 20):
    add("frame cut to %d bytes" % n, good[:n])

# Not for this path: fragments, options, other protocols.
add("first fragment (MF)", outer(raw(40), ip=IP(src=SRC, dst=DST, flags="MF")))
add("later fragment (offset 10)", outer(raw(40), ip=IP(src=SRC, dst=DST, frag=10)))
add("last fragment (offset 185, DF)", outer(raw(40), ip=IP(src=SRC, dst=DST, flags="DF", frag=185)))
add("IP options (IHL 6)", outer(raw(40), ip=IP(src=SRC, dst=DST, options=[IPOption_NOP()] * 4)))
add("TCP to 4789", eth() / IP(src=SRC, dst=DST) / TCP(sport=40000, dport=4789) / Raw(raw(20)))
add("IPv6 UDP to 4789", eth() / IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=40000, dport=4789) / Raw(raw(20)))
add("ARP", eth("ff:ff:ff:ff:ff:ff") / ARP(hwsrc="02:00:00:00:00:0a", hwdst="00:00:00:00:00:00", psrc=SRC, pdst=DST))

# The bytes exactly as built (re-dissecting them in scapy could rebuild fields).
with RawPcapWriter(sys.argv[1], linktype=1) as writer:
    for _, frame in cases:
        writer.write(frame)
for name, _ in cases:
    print(name)
