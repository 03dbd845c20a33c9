#!/usr/bin/env python3
"""Generates the ESP known-answer packets of tests/transform.rs with an independent
implementation: Python `cryptography` (OpenSSL) for AES-GCM, AES-CBC and HMAC, and the
packet layout of RFC 4303 section 2 written out by hand.

Run: python3 crates/esp/tests/data/esp_vectors.py
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def inner_packet() -> bytes:
    payload = b"rampart known-answer"
    udp = struct.pack("!HHHH", 5000, 53, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0x4000, 64, 17, 0,
                         bytes([10, 1, 0, 7]), bytes([10, 0, 0, 9]))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + udp


def trailer(payload_len: int, block: int) -> bytes:
    pad = (block - (payload_len + 2) % block) % block
    return bytes(range(1, pad + 1)) + bytes([pad, 4])


def key(n: int, seed: int) -> bytes:
    return bytes(((seed + i) * 31) & 0xFF for i in range(n))


SPI = 0xC0010001
SEQ = 1
inner = inner_packet()
header = struct.pack("!II", SPI, SEQ)

# AES-GCM-256 (RFC 4106): nonce = salt | IV, IV = 64-bit sequence number, AAD = SPI | seq.
gcm_key = key(36, SPI & 0xFF)
iv = struct.pack("!Q", SEQ)
plain = inner + trailer(len(inner), 4)
sealed = AESGCM(gcm_key[:32]).encrypt(gcm_key[32:] + iv, plain, header)
print("gcm256", (header + iv + sealed).hex())

# AES-CBC-256 with HMAC-SHA-256-128 (RFC 3602, RFC 4868): ICV over SPI | seq | IV | ciphertext.
cbc_key = key(32, SPI & 0xFF)
integ_key = key(32, 7)
iv = bytes(range(0xA0, 0xB0))
plain = inner + trailer(len(inner), 16)
enc = Cipher(algorithms.AES(cbc_key), modes.CBC(iv)).encryptor()
body = header + iv + enc.update(plain) + enc.finalize()
print("cbc256-sha256", (body + hmac.new(integ_key, body, hashlib.sha256).digest()[:16]).hex())

# NULL with HMAC-SHA1-96 (RFC 2410, RFC 2404).
integ_key = key(20, 7)
body = header + inner + trailer(len(inner), 4)
print("null-sha1", (body + hmac.new(integ_key, body, hashlib.sha1).digest()[:12]).hex())
print("inner", inner.hex())
