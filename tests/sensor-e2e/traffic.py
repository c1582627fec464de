#!/usr/bin/python3
"""Real application traffic for the end-to-end test: a minimal DNS responder and a DNS client.

dns-server ADDR: answers A queries with 10.77.1.53 (one answer, TTL 60) until killed.
dns-client ADDR NAME...: one query per name, waits for each answer (fails if none within 2 s).
"""
import socket
import struct
import sys


def encode_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def serve(addr: str) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    for i, name in enumerate(names):
        qid = 0x1000 + i
        s.sendto(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + struct.pack("!HH", 1, 1), (addr, 53))
        reply, _ = s.recvfrom(512)
        assert struct.unpack("!H", reply[:2])[0] == qid, "answer for another query"


if __name__ == "__main__":
    if sys.argv[1] == "dns-server":
        serve(sys.argv[2])
    else:
        query(sys.argv[2], sys.argv[3:])
