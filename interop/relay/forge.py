#!/usr/bin/env python3
"""Forged outside packets for interop/t-27-gw-outside-input.sh.

Runs inside a lab namespace only and sends with a raw IP socket (IP_HDRINCL), so the
source address is the one given. Every mode is bounded in packets and in time.

  forge.py junk --src A --dst B --seconds S        unknown SPIs, truncated ESP, short IKE
  forge.py replay --dev IF --src A --dst B --count N   sniff N ESP-in-UDP packets, resend them
  forge.py icmp --router R --gw G --peer P --mtu M [--spi X] [--sport 4500] [--dport 4500]
                [--quoted-len L] [--proto udp|esp] [--short]   one fragmentation-needed error
"""

import argparse
import random
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(proto, src, dst, payload, total_len=None, ident=0):
    length = 20 + len(payload) if total_len is None else total_len
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, ident, 0, 64, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def udp(sport, dport, payload):
    # Checksum 0 means no checksum, which IPv4 allows (RFC 768).
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def raw_sender():
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    return s


def send(sock, packet):
    dst = socket.inet_ntoa(packet[16:20])
    try:
        sock.sendto(packet, (dst, 0))
        return 1
    except OSError:
        # The socket buffer fills under a flood, and then the packet is not sent.
        return 0


def junk(args):
    """Sends unknown SPIs in UDP 4500 and plain ESP, truncated ESP and short IKE messages."""
    rng = random.Random(args.seed)
    sock = raw_sender()
    sent = {"udp_unknown_spi": 0, "udp_truncated": 0, "udp_short_ike": 0,
            "esp_unknown_spi": 0, "esp_truncated": 0}
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        for _ in range(64):
            spi = rng.randrange(0x1000, 0xFFFFFFFF)
            body = struct.pack("!II", spi, rng.randrange(1, 1 << 31)) + bytes(rng.getrandbits(8) for _ in range(48))
            sent["udp_unknown_spi"] += send(sock, ipv4(17, args.src, args.dst, udp(4500, 4500, body)))
            sent["esp_unknown_spi"] += send(sock, ipv4(50, args.src, args.dst, body))
        # Shorter than an ESP header (SPI and sequence number): RFC 3948 section 2.2.
        sent["udp_truncated"] += send(sock, ipv4(17, args.src, args.dst, udp(4500, 4500, b"\x01\x02\x03\x04\x05")))
        # A non-ESP marker followed by less than an IKE header.
        sent["udp_short_ike"] += send(sock, ipv4(17, args.src, args.dst, udp(4500, 4500, b"\0\0\0\0abc")))
        sent["esp_truncated"] += send(sock, ipv4(50, args.src, args.dst, b"\x00\x00\x10"))
    print(" ".join("%s=%d" % kv for kv in sent.items()))


def forged_esp(args):
    """Sends ESP in UDP 4500 with a real inbound SPI, sequence numbers far ahead of the
    window and a random ICV, and some packets too short for the ICV."""
    rng = random.Random(args.seed)
    sock = raw_sender()
    sent = 0
    for index in range(args.count):
        sequence = args.sequence + index * 1000
        body = rng.randbytes(64) if index % 4 else rng.randbytes(6)
        payload = struct.pack("!II", args.spi, sequence & 0xFFFFFFFF) + body
        sent += send(sock, ipv4(17, args.src, args.dst, udp(4500, 4500, payload)))
    print("forged_esp sent=%d" % sent)


def ike(args):
    """Sends IKE_SA_INIT requests with random SPIs and a malformed SA payload to UDP 500
    and to UDP 4500 behind the non-ESP marker."""
    rng = random.Random(args.seed)
    sock = raw_sender()
    sent = 0
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        for _ in range(64):
            body = bytes(rng.getrandbits(8) for _ in range(8)) * (args.size // 8)
            # IKE header (RFC 7296 section 3.1): SPIs, next payload SA (33), version 2.0,
            # exchange IKE_SA_INIT (34), flags Initiator, message ID 0, length.
            header = struct.pack("!8s8sBBBBII", rng.randbytes(8), b"\0" * 8, 33, 0x20, 34, 0x08, 0,
                                 28 + len(body))
            message = header + body
            sent += send(sock, ipv4(17, args.src, args.dst, udp(args.sport, 500, message)))
            sent += send(sock, ipv4(17, args.src, args.dst, udp(args.sport, 4500, b"\0\0\0\0" + message)))
    print("ike sent=%d" % sent)


def replay(args):
    """Sniffs ESP-in-UDP packets from src to dst on dev and sends each once more."""
    # Only ETH_P_ALL sockets see outgoing packets. CPython converts the bind protocol to
    # network order itself.
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    sniff.bind((args.dev, ETH_P_ALL))
    sniff.settimeout(0.5)

    src, dst = socket.inet_aton(args.src), socket.inet_aton(args.dst)
    captured = []
    seen = 0
    end = time.monotonic() + args.seconds
    while len(captured) < args.count and time.monotonic() < end:
        try:
            packet, meta = sniff.recvfrom(65535)
        except socket.timeout:
            continue
        seen += 1
        if meta[1] != ETH_P_IP or len(packet) < 36 or packet[9] != 17 or packet[12:16] != src or packet[16:20] != dst:
            continue
        ihl = (packet[0] & 0x0F) * 4
        dport = struct.unpack("!H", packet[ihl + 2:ihl + 4])[0]
        marker = packet[ihl + 8:ihl + 12]
        if dport == 4500 and len(marker) == 4 and marker != b"\0\0\0\0":
            # An outgoing packet is captured before checksum offload fills in the UDP
            # checksum, so the copy carries 0 (no checksum) instead.
            captured.append(packet[:ihl + 6] + b"\0\0" + packet[ihl + 8:])
    sniff.close()

    sock = raw_sender()
    sent = sum(send(sock, p) for p in captured)
    print("seen=%d captured=%d replayed=%d" % (seen, len(captured), sent))
    return 0 if sent else 1


def icmp(args):
    """Sends one ICMP fragmentation-needed error (RFC 1191) from router to gw that quotes
    a packet from gw to peer."""
    if args.proto == "esp":
        inner = struct.pack("!II", args.spi, 7)
        proto = 50
    else:
        inner = udp(args.sport, args.dport, struct.pack("!II", args.spi, 7))
        proto = 17
    if args.short:
        inner = inner[:8]
    quoted = ipv4(proto, args.gw, args.peer, inner, total_len=args.quoted_len, ident=0x1234)
    body = struct.pack("!BBHHH", 3, 4, 0, 0, args.mtu) + quoted
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    sent = send(raw_sender(), ipv4(1, args.router, args.gw, body))
    print("icmp sent=%d mtu=%d" % (sent, args.mtu))
    return 0 if sent else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    j = sub.add_parser("junk")
    j.add_argument("--src", required=True)
    j.add_argument("--dst", required=True)
    j.add_argument("--seconds", type=float, default=3.0)
    j.add_argument("--seed", type=int, default=27)
    e = sub.add_parser("forged-esp")
    e.add_argument("--src", required=True)
    e.add_argument("--dst", required=True)
    e.add_argument("--spi", type=lambda v: int(v, 0), required=True)
    e.add_argument("--sequence", type=int, default=1 << 20)
    e.add_argument("--count", type=int, default=200)
    e.add_argument("--seed", type=int, default=27)
    k = sub.add_parser("ike")
    k.add_argument("--src", required=True)
    k.add_argument("--dst", required=True)
    k.add_argument("--sport", type=int, default=40000)
    k.add_argument("--size", type=int, default=1024)
    k.add_argument("--seconds", type=float, default=3.0)
    k.add_argument("--seed", type=int, default=27)
    r = sub.add_parser("replay")
    r.add_argument("--dev", required=True)
    r.add_argument("--src", required=True)
    r.add_argument("--dst", required=True)
    r.add_argument("--count", type=int, default=20)
    r.add_argument("--seconds", type=float, default=10.0)
    i = sub.add_parser("icmp")
    i.add_argument("--router", required=True)
    i.add_argument("--gw", required=True)
    i.add_argument("--peer", required=True)
    i.add_argument("--mtu", type=int, required=True)
    i.add_argument("--spi", type=lambda v: int(v, 0), default=0x1000)
    i.add_argument("--sport", type=int, default=4500)
    i.add_argument("--dport", type=int, default=4500)
    i.add_argument("--quoted-len", type=int, default=1480)
    i.add_argument("--proto", choices=["udp", "esp"], default="udp")
    i.add_argument("--short", action="store_true", help="quote only 8 bytes after the IP header")
    args = parser.parse_args()
    return {"junk": junk, "forged-esp": forged_esp, "ike": ike, "replay": replay, "icmp": icmp}[args.mode](args) or 0


if __name__ == "__main__":
    sys.exit(main())
