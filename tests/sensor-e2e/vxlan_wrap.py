#!/usr/bin/python3
"""Wraps every frame of a capture in VXLAN the way AWS Traffic Mirroring does, for replay to the sensor.

Outer IPv4 source = the mirror source interface's address; outer UDP source port = a hash of the
inner 5-tuple (3-tuple for protocols without ports), so one flow keeps one outer port; destination
port 4789; VXLAN flags 0x08 and the session's VNI; the inner frame untouched. Optionally appends
datagrams the sensor must drop: VXLAN from a source outside the allowed networks, and garbage.
Run with Debian's python3 (scapy).
"""
import argparse
import random
import zlib

from scapy.all import IP, IPv6, TCP, UDP, Ether, Raw, rdpcap, wrpcap
from scapy.contrib.geneve import GENEVE
from scapy.layers.vxlan import VXLAN


def outer_port(frame: bytes) -> int:
    pkt = Ether(frame)
    ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
    if ip is None:
        key = frame[:14]
    else:
        proto = ip.proto if ip.haslayer(IP) else ip.nh
        l4 = ip.getlayer(TCP) or ip.getlayer(UDP)
        key = (ip.src, ip.dst, proto) + ((l4.sport, l4.dport) if l4 is not None else ())
        key = repr(key).encode()
    return 49152 + zlib.crc32(key) % 16384


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("original")
    parser.add_argument("wrapped")
    parser.add_argument("--vni", type=int, required=True)
    parser.add_argument("--src", required=True, help="the mirror source interface's address")
    parser.add_argument("--dst", required=True, help="the sensor's address")
    parser.add_argument("--src-mac", required=True)
    parser.add_argument("--dst-mac", required=True)
    parser.add_argument("--foreign-src", help="an address outside the sensor's source networks")
    parser.add_argument("--foreign", type=int, default=0)
    parser.add_argument("--garbage", type=int, default=0)
    parser.add_argument("--geneve-from", help="wrap each VXLAN datagram in GENEVE (UDP 6081) from this "
                        "address, as a Gateway Load Balancer endpoint delivers it to its target")
    args = parser.parse_args()

    def outer(src: str, sport: int) -> Ether:
        return Ether(src=args.src_mac, dst=args.dst_mac) / IP(src=args.src, dst=args.dst) / UDP(sport=sport, dport=4789)

    out = []
    originals = [bytes(p) for p in rdpcap(args.original)]
    for i, frame in enumerate(originals):
        mirrored = outer(args.src, outer_port(frame)) / VXLAN(flags=0x08, vni=args.vni) / Raw(frame)
        if args.geneve_from:
            # GWLB options (class 0x0108): flow cookie, endpoint id, attachment id; 12 bytes each.
            opts = b"".join(bytes.fromhex("0108%02x02" % t) + (0x10000000 + i * 16 + t).to_bytes(8, "big")
                            for t in (1, 2, 3))
            inner_ip = bytes(mirrored[IP])
            mirrored = (Ether(src=args.src_mac, dst=args.dst_mac) / IP(src=args.geneve_from, dst=args.dst)
                        / UDP(sport=outer_port(frame), dport=6081)
                        / GENEVE(proto=0x0800, vni=0x123456, optionlen=len(opts) // 4) / Raw(opts + inner_ip))
        out.append(mirrored)
    rng = random.Random(4789)
    for i in range(args.foreign):
        frame = originals[i % len(originals)]
        pkt = Ether(src=args.src_mac, dst=args.dst_mac) / IP(src=args.foreign_src, dst=args.dst) / UDP(sport=50000 + i, dport=4789)
        out.append(pkt / VXLAN(flags=0x08, vni=args.vni) / Raw(frame))
    for i in range(args.garbage):
        out.append(outer(args.src, 60000 + i) / Raw(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 7)))))
    wrpcap(args.wrapped, out)
    print(len(originals), args.foreign, args.garbage)


if __name__ == "__main__":
    main()
