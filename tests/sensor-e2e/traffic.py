#!/usr/bin/python3
"""Real application traffic for the end-to-end test: a minimal DNS responder and a DNS client.

dns-server ADDR: answers A queries with 10.77.1.53 (one answer, TTL 60) until killed.
dns-client ADDR NAME...: one query per name, waits for each answer (fails if none within 2 s).
ping ADDR SIZE: one ICMP (or ICMPv6) echo with SIZE data bytes, waits for the reply; over the link MTU
  the kernel fragments the request and the reply (the fragments the dissector tests need).
vlan IFACE PEER_MAC VID: 802.1Q-tagged frames (VLAN VID) to PEER_MAC through a packet socket: ICMP echo,
  UDP in two IPv4 fragments, a TCP SYN over IPv6 (the peer has no VLAN interface: nothing answers).
ADDR is IPv4 or IPv6.
"""
import socket
import struct
import sys


def encode_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(addr: str) -> None:
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        query, peer = s.recvfrom(512)
        if len(query) < 12:
            continue
        qid = query[:2]
        end = 12
        while end < len(query) and query[end] != 0:
            end += query[end] + 1
        question = query[12:end + 5]
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("10.77.1.53")
        s.sendto(qid + b"\x81\x80" + struct.pack("!HHHH", 1, 1, 0, 0) + question + answer, peer)


def query(addr: str, names: list) -> None:
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(2)
    for i, name in enumerate(names):
        qid = 0x1000 + i
        s.sendto(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + struct.pack("!HH", 1, 1), (addr, 53))
        reply, _ = s.recvfrom(512)
        assert struct.unpack("!H", reply[:2])[0] == qid, "answer for another query"


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ping(addr: str, size: int) -> None:
    v6 = family(addr) == socket.AF_INET6
    s = socket.socket(family(addr), socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    s.settimeout(2)
    request, reply = (128, 129) if v6 else (8, 0)
    ident, payload = 0x4d41, bytes(i % 251 for i in range(size))
    header = struct.pack("!BBHHH", request, 0, 0, ident, 1)
    # The kernel fills the ICMPv6 checksum (it covers a pseudo-header); ICMP's is ours.
    if not v6:
        header = struct.pack("!BBHHH", request, 0, checksum(header + payload), ident, 1)
    s.sendto(header + payload, (addr, 0))
    while True:
        data, _ = s.recvfrom(65535)
        icmp = data if v6 else data[(data[0] & 0x0F) * 4:]  # a raw IPv4 socket hands over the IP header too
        if icmp[0] == reply and struct.unpack("!H", icmp[4:6])[0] == ident:
            assert icmp[8:] == payload, "echo reply with other data"
            return


def vlan(iface: str, peer: str, vid: int) -> None:
    from scapy.all import ICMP, IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw, fragment, sendp

    def tagged(prio: int) -> Ether:
        return Ether(dst=peer) / Dot1Q(vlan=vid, prio=prio)
    frames = [tagged(0) / IP(src="10.77.100.1", dst="10.77.100.2") / ICMP(id=7, seq=1) / Raw(b"vlan" * 14)]
    datagram = IP(src="10.77.100.1", dst="10.77.100.2", id=0x7777) / UDP(sport=40100, dport=9999) / Raw(bytes(range(256)) * 8)
    frames += [tagged(3) / f for f in fragment(datagram, fragsize=1400)]
    frames.append(tagged(5) / IPv6(src="fd77:100::1", dst="fd77:100::2") / TCP(sport=40200, dport=80, flags="S", seq=1000))
    sendp(frames, iface=iface, verbose=False)


if __name__ == "__main__":
    if sys.argv[1] == "dns-server":
        serve(sys.argv[2])
    elif sys.argv[1] == "ping":
        ping(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "vlan":
        vlan(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        query(sys.argv[2], sys.argv[3:])
