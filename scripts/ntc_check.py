#!/usr/bin/env python3
"""Check that the community TextFSM templates for the Cisco ASA (ntc-templates) parse
rampart's `show crypto ...` text, and that the parsed fields match rampart's JSON.

    ntc_check.py golden RAMPART_BIN   render the renderer's golden JSON files and check them
    ntc_check.py live TEXT JSON       check a live gateway's `show crypto ipsec sa` text

Exit status: 0 when every command with a template parses and matches, 1 on a mismatch,
77 (printed as SKIP) when ntc-templates or TextFSM is not installed.
"""

import json
import os
import subprocess
import sys

try:
    from ntc_templates.parse import parse_output
except ImportError as e:
    print(f"SKIP: ntc_check: ntc-templates is not installed ({e}); run scripts/install-deps.sh")
    sys.exit(77)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(REPO, "crates", "show", "tests", "golden")

# Every show command rampart prints, with the golden JSON it renders from.
COMMANDS = [
    ("show crypto ikev2 sa", ["ikev2", "sa"], "ikev2-sa.json"),
    ("show crypto ikev2 sa detail", ["ikev2", "sa", "detail"], "ikev2-sa.json"),
    ("show crypto isakmp sa", ["isakmp", "sa"], "ikev2-sa.json"),
    ("show crypto ipsec sa", ["ipsec", "sa"], "ipsec-sa.json"),
    ("show crypto ipsec stats", ["ipsec", "stats"], "ipsec-stats.json"),
]

failures = 0


def expect(description, actual, expected):
    global failures
    if str(actual) == str(expected):
        print(f"ok - {description}: {actual}")
    else:
        failures += 1
        print(f"not ok - {description}: parsed {actual!r}, expected {expected!r}")


def parse(command, text):
    """Return the parsed records, or None when ntc-templates has no template."""
    try:
        return parse_output(platform="cisco_asa", command=command, data=text)
    except Exception as e:  # ntc-templates raises a bare Exception for a missing template
        if "No template" in str(e) or "no template" in str(e).lower():
            return None
        raise


def check_ipsec_sa(records, document):
    """Compare every child of the JSON with the record parsed for it."""
    children = document["children"]
    expect("records parsed from show crypto ipsec sa", len(records), len(children))
    for child, record in zip(children, records):
        peer = child["remote"].rsplit(":", 1)[0]
        name = f"child to {peer}"
        expect(f"{name}: current_peer", record["current_peer"], peer)
        expect(f"{name}: crypto map tag", record["crypto_map_tag"], child["crypto_map"])
        expect(f"{name}: seq num", record["sequence_number"], child["sequence"])
        expect(f"{name}: local addr", record["local_address"], child["local"].rsplit(":", 1)[0])
        out_spi = child["outbound_spi"][2:].upper()
        expect(f"{name}: current outbound spi", record["current_outbound_spi"], out_spi)
        expect(f"{name}: outbound esp spi", record["outbound_spi_hex"], "0x" + out_spi)
        expect(f"{name}: outbound spi decimal", record["outbound_spi_integer"], int(out_spi, 16))
        inbound = [sa["spi"] for sa in child["inbound"]]
        expect(f"{name}: inbound esp spi is one of the child's", record["inbound_spi_hex"] in inbound, True)
        for field, key in [
            ("packets_encapsulated", "pkts_encaps"),
            ("packets_encrypted", "pkts_encrypt"),
            ("packets_digested", "pkts_digest"),
            ("packets_decapsulated", "pkts_decaps"),
            ("packets_decrypted", "pkts_decrypt"),
            ("packets_verified", "pkts_verify"),
            ("pmtus_sent", "pmtus_sent"),
            ("pmtus_received", "pmtus_rcvd"),
            ("send_errors", "send_errors"),
            ("receive_errors", "recv_errors"),
        ]:
            expect(f"{name}: {field}", record[field], child[key])
        expect(f"{name}: SA status (replay detection)", record["outbound_replay_detection"], "Y")
        expect(f"{name}: in use settings", "IKEv2" in record["outbound_settings_in_use"], True)
        expect(f"{name}: NAT-T", "NAT-T-Encaps" in record["outbound_settings_in_use"], child["udp_encap"])


CHECKS = {"show crypto ipsec sa": check_ipsec_sa}


def golden(rampart):
    for command, words, fixture in COMMANDS:
        path = os.path.join(GOLDEN, fixture)
        text = subprocess.run(
            [rampart, "show", "crypto", *words, "--input", path],
            check=True, capture_output=True, text=True,
        ).stdout
        records = parse(command, text)
        if records is None:
            print(f"# {command}: ntc-templates has no cisco_asa template")
            continue
        check = CHECKS.get(command)
        if check is None:
            global failures
            failures += 1
            print(f"not ok - {command}: ntc-templates now has a template; add a check for it")
            continue
        with open(path) as f:
            check(records, json.load(f))


def live(text_file, json_file):
    with open(text_file) as f:
        records = parse("show crypto ipsec sa", f.read())
    with open(json_file) as f:
        document = json.load(f)
    if records is None:
        print("not ok - ntc-templates has no show crypto ipsec sa template for cisco_asa")
        sys.exit(1)
    check_ipsec_sa(records, document)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "golden":
        golden(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "live":
        live(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
