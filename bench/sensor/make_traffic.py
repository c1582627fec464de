#!/usr/bin/python3
"""Writes the bench's VXLAN traffic: COUNT datagrams to the sink, as AWS Traffic Mirroring would send
them, each carrying an Ethernet/IPv4/UDP frame of FRAME_LEN bytes. Inner addresses vary over 64 host
pairs and the outer source port is a hash of the inner 5-tuple, so both the kernel's and the sensor's
receive paths see many flows. Run with Debian's python3 (scapy).

usage: make_traffic.py OUT.pcap FRAME_LEN COUNT SRC_MAC DST_MAC OUTER_SRC OUTER_DST VNI
"""
import sys
import zlib

from scapy.all import IP, UDP, Ether, Raw, wrpcap
from scapy.layers.vxlan import VXLAN

out, frame_len, count, src_mac, dst_mac, outer_src, outer_dst, vni = sys.argv[1:9]
frame_len, count, vni = int(frame_len), int(count), int(vni)
packets = []
for i in range(count):
    a, b = f"172.20.{i % 8}.{1 + i % 64}", f"172.21.{i % 16}.{1 + (i * 7) % 64}"
    sport, dport = 1024 + i, 53 + (i % 3)
    inner = Ether(src="02:00:00:00:01:01", dst="02:00:00:00:02:02") / IP(src=a, dst=b) / UDP(sport=sport, dport=dport)
    pad = frame_len - len(inner)
    inner = inner / Raw(b"\x5a" * max(pad, 0))
    assert len(inner) == frame_len, len(inner)
    port = 49152 + zlib.crc32(repr((a, b, 17, sport, dport)).encode()) % 16384
    packets.append(Ether(src=src_mac, dst=dst_mac) / IP(src=outer_src, dst=outer_dst) / UDP(sport=port, dport=4789, chksum=0)
                   / VXLAN(flags=0x08, vni=vni) / inner)
wrpcap(out, packets)
