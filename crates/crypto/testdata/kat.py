#!/usr/bin/env python3
"""Computes the known-answer values used by rampart-crypto's unit tests.

Everything here uses only CPython's hmac, hashlib and pow(), independently of
aws-lc-rs, so a test that matches these values checks rampart's use of AWS-LC
against a second implementation. Run: python3 crates/crypto/testdata/kat.py
"""
import hashlib
import hmac

HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256,
          "sha384": hashlib.sha384, "sha512": hashlib.sha512}


def prf(alg, key, *data):
    return hmac.new(key, b"".join(data), HASHES[alg]).digest()


def prf_plus(alg, key, seed, length):
    """RFC 7296 section 2.13."""
    out, t, n = b"", b"", 1
    while len(out) < length:
        t = prf(alg, key, t, seed, bytes([n]))
        out += t
        n += 1
    return out[:length]


def split(material, lens):
    parts, off = [], 0
    for n in lens:
        parts.append(material[off:off + n])
        off += n
    return parts


def show(name, value):
    print(f"{name} = {value.hex()}")


# Fixed inputs shared with the Rust tests.
NI = bytes(range(0x10, 0x30))
NR = bytes(range(0x40, 0x60))
SHARED = bytes((i * 7 + 3) & 0xFF for i in range(128))
SPI_I = bytes.fromhex("0102030405060708")
SPI_R = bytes.fromhex("1112131415161718")

print("# prf+ HMAC-SHA256, key 0x0b * 32, seed 'rampart prf+', 100 octets")
show("prf_plus_sha256", prf_plus("sha256", b"\x0b" * 32, b"rampart prf+", 100))

print("# IKE SA, AES-CBC-256 / HMAC-SHA1-96 / PRF-SHA1")
skeyseed_a = prf("sha1", NI + NR, SHARED)
show("skeyseed_sha1", skeyseed_a)
keys_a = split(prf_plus("sha1", skeyseed_a, NI + NR + SPI_I + SPI_R, 164),
               [20, 20, 20, 32, 32, 20, 20])
for name, k in zip(["sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er", "sk_pi", "sk_pr"], keys_a):
    show("cbc_" + name, k)

print("# IKE SA, AES-GCM-256 / PRF-SHA384")
skeyseed_b = prf("sha384", NI + NR, SHARED)
show("skeyseed_sha384", skeyseed_b)
keys_b = split(prf_plus("sha384", skeyseed_b, NI + NR + SPI_I + SPI_R, 48 + 36 * 2 + 48 * 2),
               [48, 0, 0, 36, 36, 48, 48])
for name, k in zip(["sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er", "sk_pi", "sk_pr"], keys_b):
    show("gcm_" + name, k)

print("# IKE SA rekey with the old PRF-SHA1 SA, new nonces and new shared secret")
NI2 = bytes(range(0x80, 0xA0))
NR2 = bytes(range(0xA0, 0xC0))
SHARED2 = bytes((i * 13 + 1) & 0xFF for i in range(128))
show("rekey_skeyseed", prf("sha1", keys_a[0], SHARED2, NI2, NR2))

print("# Child SA from the PRF-SHA1 SA: AES-GCM-256 without PFS")
child_gcm = split(prf_plus("sha1", keys_a[0], NI2 + NR2, 72), [36, 0, 36, 0])
show("child_gcm_encr_i", child_gcm[0])
show("child_gcm_encr_r", child_gcm[2])

print("# Child SA from the PRF-SHA1 SA: NULL / HMAC-SHA2-256-128 with PFS")
child_null = split(prf_plus("sha1", keys_a[0], SHARED2 + NI2 + NR2, 64), [0, 32, 0, 32])
show("child_null_integ_i", child_null[1])
show("child_null_integ_r", child_null[3])

print("# PSK AUTH (RFC 7296 2.15), PRF-SHA1, initiator side")
PSK = b"branch-to-edge secret"
MESSAGE = bytes((i * 5) & 0xFF for i in range(200))
ID_BODY = bytes([2, 0, 0, 0]) + b"branch.example.com"
auth = prf("sha1", prf("sha1", PSK, b"Key Pad for IKEv2"), MESSAGE, NR,
           prf("sha1", keys_a[5], ID_BODY))
show("auth_sha1", auth)

print("# ESP NULL / HMAC-SHA2-256-128: ICV over SPI|seq|payload")
ESP_INTEG_KEY = bytes(range(0x20, 0x40))
ESP_HEAD = bytes.fromhex("0000100100000001")
ESP_PAYLOAD = b"rampart null esp payload" + bytes([1, 2, 2, 4])  # 28 octets
show("null_sha256_icv", prf("sha256", ESP_INTEG_KEY, ESP_HEAD, ESP_PAYLOAD)[:16])

print("# AES-128-CBC (RFC 3602 case 2) / HMAC-SHA1-96: ICV over SPI|seq|IV|ciphertext")
CBC_IV = bytes.fromhex("562e17996d093d28ddb3ba695a2e6f58")
CBC_CT = bytes.fromhex("d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1")
SHA1_KEY = bytes(range(0x60, 0x74))
show("cbc_sha1_icv", prf("sha1", SHA1_KEY, ESP_HEAD, CBC_IV, CBC_CT)[:12])

print("# MODP groups: public value and shared secret for fixed exponents, as SHA-256")


def pi_fixed(bits):
    """floor(pi * 2^bits) by Machin's formula in integer arithmetic."""
    guard = 64
    one = 1 << (bits + guard)

    def arctan_inv(x):
        total, term, n, sign = 0, one // x, 1, 1
        while term:
            total += sign * (term // n)
            term //= x * x
            n += 2
            sign = -sign
        return total

    return (16 * arctan_inv(5) - 4 * arctan_inv(239)) >> guard


def oakley_prime(n, k):
    """p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k), RFC 2409 / RFC 3526."""
    return 2 ** n - 2 ** (n - 64) - 1 + 2 ** 64 * (pi_fixed(n - 130) + k)


GROUP24_P = int(
    "87a8e61db4b6663cffbbd19c651959998ceef608660dd0f25d2ceed4435e3b00e00df8f1d61957d4"
    "faf7df4561b2aa3016c3d91134096faa3bf4296d830e9a7c209e0c6497517abd5a8a9d306bcf67ed"
    "91f9e6725b4758c022e0b1ef4275bf7b6c5bfc11d45f9088b941f54eb1e59bb8bc39a0bf12307f5c"
    "4fdb70c581b23f76b63acae1caa6b7902d52526735488a0ef13c6d9a51bfa4ab3ad8347796524d8e"
    "f6a167b5a41825d967e144e5140564251ccacb83e6b486f6b3ca3f7971506026c0b857f689962856"
    "ded4010abd0be621c3a3960a54e710c375f26375d7014103a4b54330c198af126116d2276e11715f"
    "693877fad7ef09cadb094ae91e1a1597", 16)
GROUP24_G = int(
    "3fb32c9b73134d0b2e77506660edbd484ca7b18f21ef205407f4793a1a0ba12510dbc15077be463f"
    "ff4fed4aac0bb555be3a6c1b0c6b47b1bc3773bf7e8c6f62901228f8c28cbb18a55ae31341000a65"
    "0196f931c77a57f2ddf463e5e9ec144b777de62aaab8a8628ac376d282d6ed3864e67982428ebc83"
    "1d14348f6f2f9193b5045af2767164e1dfc967c1fb3f2e55a4bd1bffe83b9c80d052b985d182ea0a"
    "db2a3b7313d3fe14c8484b1e052588b9b7d2bbd2df016199ecd06e1557cd0915b3353bbb64e0ec37"
    "7fd028370df92b52c7891428cdc67eb6184b523d1db246c32f63078490f00ef8d647d148d4795451"
    "5e2327cfef98c582664b4c0f6cc41659", 16)
GROUP24_Q = int("8cf83642a709a097b447997640129da299b1a47d1eb3750ba308b0fe64f5fbd3", 16)
assert (GROUP24_P - 1) % GROUP24_Q == 0
assert pow(GROUP24_G, GROUP24_Q, GROUP24_P) == 1

GROUPS = {
    2: (oakley_prime(1024, 129093), 2),
    5: (oakley_prime(1536, 741804), 2),
    14: (oakley_prime(2048, 124476), 2),
    15: (oakley_prime(3072, 1690314), 2),
    24: (GROUP24_P, GROUP24_G),
}
# The RFC 2409 group 2 prime, as a check on the formula.
assert GROUPS[2][0] == int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22"
    "514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6"
    "F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381"
    "FFFFFFFFFFFFFFFF", 16)

X_A = int.from_bytes(bytes(range(1, 33)), "big")
X_B = int.from_bytes(bytes(range(0x41, 0x61)), "big")
for group, (p, g) in GROUPS.items():
    plen = (p.bit_length() + 7) // 8
    y_a = pow(g, X_A, p)
    y_b = pow(g, X_B, p)
    shared = pow(y_b, X_A, p)
    assert shared == pow(y_a, X_B, p)
    show(f"modp{group}_public_a_sha256", hashlib.sha256(y_a.to_bytes(plen, "big")).digest())
    show(f"modp{group}_shared_sha256", hashlib.sha256(shared.to_bytes(plen, "big")).digest())
