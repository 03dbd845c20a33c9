#!/usr/bin/env python3
"""Generate a large ASA running-config for the parser benchmark.

Usage: config-gen.py LINES > FILE

The output mixes what a large branch or data-centre ASA carries. It has interfaces,
network and service objects, nested object groups and long interface ACLs with remarks.
It also has manual and object NAT, site-to-site crypto map entries with tunnel groups,
the Zscaler entry at sequence 65000, and commands that rampart keeps without modelling
(logging, ssh, policy-map). Inside networks use 10.0.0.0/8 and peers use the RFC 5737
ranges. The output is deterministic for a given LINES.
"""

import sys


def main():
    target = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    out = []
    w = out.append

    w(": Saved")
    w("ASA Version 9.16(4)")
    w("hostname dc-edge")
    w("domain-name example.com")
    w("names")
    for i, (name, addr, level) in enumerate(
        [("outside", "198.51.100.2 255.255.255.0", 0), ("inside", "10.0.0.1 255.255.0.0", 100), ("dmz", "10.1.0.1 255.255.0.0", 50)]
    ):
        w(f"interface GigabitEthernet0/{i}")
        w(f" description {name} link")
        w(f" nameif {name}")
        w(f" security-level {level}")
        w(f" ip address {addr}")
        w("!")
    w("route outside 0.0.0.0 0.0.0.0 198.51.100.1")
    w("crypto ikev2 policy 1")
    w(" encryption aes-256")
    w(" integrity sha")
    w(" group 5 2")
    w(" prf sha")
    w(" lifetime seconds 86400")
    w("crypto ikev2 policy 20")
    w(" encryption aes-256")
    w(" integrity sha256")
    w(" group 14")
    w("crypto ikev2 enable outside")
    w("crypto ipsec ikev2 ipsec-proposal Zscaler-Proposal")
    w(" protocol esp encryption aes-gcm-256")
    w(" protocol esp integrity null")
    w("crypto ipsec ikev2 ipsec-proposal SITE")
    w(" protocol esp encryption aes-256")
    w(" protocol esp integrity sha-256")
    w("group-policy L2L internal")
    w("group-policy L2L attributes")
    w(" vpn-tunnel-protocol ikev2")

    # Budget: objects 30%, groups 15%, ACLs 35%, NAT 5%, VPN sites 5%, rest unmodelled.
    n_obj = target * 30 // 100 // 3
    for i in range(n_obj):
        w(f"object network host-{i}")
        w(f" host 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
        w(f" description server {i}")
    n_svc = 200
    for i in range(n_svc):
        w(f"object service svc-{i}")
        w(f" service tcp destination eq {1024 + i}")
    n_grp_lines = target * 15 // 100
    groups = 0
    members = 0
    while members < n_grp_lines:
        w(f"object-group network grp.{groups}")
        members += 1
        for k in range(8):
            w(f" network-object object host-{(groups * 8 + k) % n_obj}")
            members += 1
        if groups > 0:
            w(f" group-object grp.{groups - 1 if groups % 10 else 0}")
            members += 1
        groups += 1
    w("object-group service WEB tcp")
    w(" port-object eq www")
    w(" port-object eq https")
    w("object-group protocol TCPUDP")
    w(" protocol-object tcp")
    w(" protocol-object udp")

    n_acl = target * 35 // 100
    for i in range(n_acl):
        acl = f"acl-{i // 500}"
        m = i % 5
        if m == 0:
            w(f"access-list {acl} remark rule block {i}")
        elif m == 1:
            w(f"access-list {acl} extended permit tcp object-group grp.{i % groups} any object-group WEB log")
        elif m == 2:
            w(f"access-list {acl} extended permit object svc-{i % n_svc} any object host-{i % n_obj}")
        elif m == 3:
            w(f"access-list {acl} extended deny ip 10.{i % 250}.0.0 255.255.0.0 host 203.0.113.{i % 250} log 6 interval 300")
        else:
            w(f"access-list {acl} extended permit object-group TCPUDP any host 198.51.100.53 eq domain")
    for i in range(0, n_acl // 500 + 1, 3):
        w(f"access-group acl-{i} in interface inside")

    n_nat = target * 5 // 100 // 3
    w("object network flow_traffic")
    w(" subnet 10.0.0.0 255.255.0.0")
    for i in range(n_nat):
        w(f"object network nat-{i}")
        w(f" host 10.1.{(i >> 8) & 255}.{i & 255}")
        w(f" nat (dmz,outside) static 203.0.113.{i % 250} service tcp https https")
    w("nat (inside,outside) source static flow_traffic flow_traffic")
    w("nat (inside,outside) after-auto source dynamic any interface")

    n_sites = target * 5 // 100 // 12
    w("access-list Zscaler_MAP extended permit ip object flow_traffic any")
    for i in range(n_sites):
        peer = f"198.51.100.{(i % 200) + 10}" if i < 200 else f"203.0.113.{(i % 200) + 30}"
        if i >= 400:
            break
        w(f"access-list site-{i} extended permit ip 10.2.{i % 256}.0 255.255.255.0 10.{100 + i // 256}.{i % 256}.0 255.255.255.0")
        w(f"crypto map outside_map {i + 1} match address site-{i}")
        w(f"crypto map outside_map {i + 1} set peer {peer}")
        w(f"crypto map outside_map {i + 1} set ikev2 ipsec-proposal SITE")
        w(f"tunnel-group {peer} type ipsec-l2l")
        w(f"tunnel-group {peer} general-attributes")
        w(" default-group-policy L2L")
        w(f"tunnel-group {peer} ipsec-attributes")
        w(" isakmp keepalive threshold 10 retry 2")
        w(f" ikev2 remote-authentication pre-shared-key site-key-{i}-0123456789")
        w(f" ikev2 local-authentication pre-shared-key site-key-{i}-0123456789")
        w("!")
    w("crypto map outside_map 65000 match address Zscaler_MAP")
    w("crypto map outside_map 65000 set peer 203.0.113.10 203.0.113.20")
    w("crypto map outside_map 65000 set ikev2 ipsec-proposal Zscaler-Proposal")
    w("crypto map outside_map interface outside")
    for peer in ("203.0.113.10", "203.0.113.20"):
        w(f"tunnel-group {peer} type ipsec-l2l")
        w(f"tunnel-group {peer} ipsec-attributes")
        w(" peer-id-validate nocheck")
        w(" ikev2 remote-authentication pre-shared-key zscaler-key-0123456789")
        w(" ikev2 local-authentication pre-shared-key zscaler-key-0123456789")

    # Fill the rest with commands rampart keeps but does not model.
    i = 0
    while len(out) < target - 1:
        m = i % 4
        if m == 0:
            w(f"logging host inside 10.0.{(i >> 8) & 255}.{i & 255}")
        elif m == 1:
            w(f"ssh 10.{(i >> 8) & 255}.{i & 255}.0 255.255.255.0 inside")
        elif m == 2:
            w(f"policy-map pm-{i}")
            w(" class inspection_default")
            w("  inspect dns preset_dns_map")
        else:
            w(f"snmp-server host inside 10.9.{(i >> 8) & 255}.{i & 255} community public version 2c")
        i += 1
    w(": end")
    sys.stdout.write("\n".join(out[:target]) + "\n")


if __name__ == "__main__":
    main()
