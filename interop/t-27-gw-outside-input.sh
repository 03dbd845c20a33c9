#!/usr/bin/env bash
# Forged and malformed packets on the outside, sent from edge1's namespace with a raw
# socket (interop/relay/forge.py). They are ESP in UDP 4500 and plain ESP with unknown
# SPIs, truncated ESP, a non-ESP marker before a short IKE header, a flood of
# IKE_SA_INIT requests, replays of edge1's real ESP packets, ESP with gw's SPI and a
# forged ICV, and ICMP fragmentation-needed errors that quote packets gw never sent.
# gw counts the drops in `show crypto ipsec stats`, keeps forwarding, and changes its
# path MTU only for the valid error.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin outside
rampart_require
need_tool python3
FORGE="$INTEROP_DIR/relay/forge.py"
GW=198.51.100.1
EDGE1=198.51.100.2

# drops REASON: the drop counter of REASON in show crypto ipsec stats.
drops() {
  rampart_ctl gw "show crypto ipsec stats" | python3 -c '
import json, sys
print(json.load(sys.stdin).get("drops", {}).get(sys.argv[1], 0))' "$1"
}

# child_field FIELD: FIELD of the child whose peer is edge1.
child_field() {
  rampart_ctl gw "show crypto ipsec sa" | python3 -c '
import json, sys
for c in json.load(sys.stdin).get("children", []):
    if c.get("remote", "").startswith(sys.argv[2] + ":"):
        print(c.get(sys.argv[1])); break' "$1" "$EDGE1"
}

# path_mtu_is N: the child to edge1 has learned path MTU N.
path_mtu_is() { [ "$(child_field path_mtu)" = "$1" ]; }

# forged_icmp ARGS...: one fragmentation-needed error from 198.51.100.99 about gw -> edge1
# (a later --peer replaces edge1).
forged_icmp() { nx edge1 python3 "$FORGE" icmp --router 198.51.100.99 --gw "$GW" --peer "$EDGE1" "$@" >/dev/null; }

# rejected WHAT ARGS...: a forged error quoting WHAT leaves the path MTU unset.
rejected() {
  local what="$1"; shift
  forged_icmp "$@" || fail "forge.py could not send ICMP"
  sleep 0.3
  expect "fragmentation needed quoting $what is ignored" path_mtu_is None
}

cfg="$LAB_STATE/gw.cfg"
gw_config "$cfg"
gw_up "$cfg"
rampart_ctl gw "show crypto ipsec stats" >/dev/null || skip "rampart has no control socket, so drops cannot be read"

# 1. Junk on UDP 4500 and IP protocol 50 for 3 s while the host pings srv.
missing0=$(drops missing-sa)
truncated0=$(drops truncated)
ping_bg 6
junk=$(nx edge1 timeout 20 python3 "$FORGE" junk --src "$EDGE1" --dst "$GW" --seconds 3)
log "junk sent: $junk"
stop_pid "$PING_PID" 10
missing1=$(drops missing-sa)
truncated1=$(drops truncated)
log "drops: missing-sa +$((missing1 - missing0)), truncated +$((truncated1 - truncated0))"
expect "unknown SPIs are counted as missing-sa" [ "$((missing1 - missing0))" -gt 1000 ]
expect "truncated ESP is counted as truncated" [ "$((truncated1 - truncated0))" -gt 10 ]
expect "rampart survives the junk" rampart_alive gw
expect "the tunnel forwards after the junk" ping_srv "$HOST_ADDR" 3

# 2. IKE_SA_INIT requests with random SPIs flood UDP 500 and 4500 for 5 s. The control plane's
# queue is bounded, so rampart's memory stays flat and control commands get replies.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$(rampart_pid gw)/status"; }
rss0=$(rss)
start_bg edge1 "$LAB_STATE/ike-flood.txt" timeout 20 python3 "$FORGE" ike --src "$EDGE1" --dst "$GW" --seconds 5
flood=$BG_PID
sleep 3
t0=$(now_ms)
rampart_ctl gw "show crypto ipsec stats" >"$LAB_STATE/stats-ike-flood.json"
t1=$(now_ms)
rss1=$(rss)
stop_pid "$flood" 10
log "IKE flood: RSS ${rss0} -> ${rss1} kB, show answered in $((t1 - t0)) ms"
expect "show answers within 2 s during an IKE flood" [ "$((t1 - t0))" -lt 2000 ]
expect "rampart's RSS grows by less than 64 MB during an IKE flood" [ "$((rss1 - rss0))" -lt 65536 ]
expect "the tunnel forwards after the IKE flood" ping_srv "$HOST_ADDR" 3

# 3. Replays of edge1's ESP packets: every one is dropped by the anti-replay window.
replay0=$(drops replay-duplicate)
rampart_ctl gw "show crypto ipsec stats" >"$LAB_STATE/stats-before-replay.json"
rampart_ctl gw "show crypto ipsec sa" >"$LAB_STATE/sa-before-replay.json"
ping_bg 8
replayed=$(nx edge1 timeout 20 python3 "$FORGE" replay --dev wan0 --src "$EDGE1" --dst "$GW" --count 6 --seconds 8)
log "replay: $replayed"
stop_pid "$PING_PID" 10
sleep 0.5
replay1=$(drops replay-duplicate)
rampart_ctl gw "show crypto ipsec stats" >"$LAB_STATE/stats-after-replay.json"
rampart_ctl gw "show crypto ipsec sa" >"$LAB_STATE/sa-after-replay.json"
count=$(echo "$replayed" | sed -n 's/.*replayed=\([0-9]*\).*/\1/p')
log "drops: replay-duplicate +$((replay1 - replay0)) of ${count:-0} replayed"
expect "the replays were sent" [ "${count:-0}" -ge 5 ]
expect "every replay is counted as replay-duplicate" [ "$((replay1 - replay0))" -ge "${count:-1}" ]

# 4. ESP with gw's real inbound SPI, sequence numbers far ahead and a forged ICV: the
# packets fail authentication and must not move the anti-replay window (RFC 4303
# section 3.4.3), or edge1's next genuine packets would be dropped as too old.
spi_in=$(rampart_ctl gw "show crypto ipsec sa" | python3 -c '
import json, sys
for c in json.load(sys.stdin).get("children", []):
    if c.get("remote", "").startswith(sys.argv[1] + ":") and c.get("inbound"):
        print(c["inbound"][0]["spi"]); break' "$EDGE1")
[ -n "$spi_in" ] || fail "no inbound SPI from edge1 in show crypto ipsec sa"
auth0=$(drops authentication-failed)
short0=$(drops truncated)
forged=$(nx edge1 timeout 20 python3 "$FORGE" forged-esp --src "$EDGE1" --dst "$GW" --spi "$spi_in" --count 200)
sleep 0.5
auth1=$(drops authentication-failed)
short1=$(drops truncated)
log "forged ESP to SPI $spi_in: $forged; drops: authentication-failed +$((auth1 - auth0)), truncated +$((short1 - short0))"
expect "every forged ICV is counted (150 of 200)" [ "$((auth1 - auth0))" -ge 150 ]
expect "every forged ESP packet too short for its ICV is counted (50 of 200)" [ "$((short1 - short0))" -ge 50 ]
expect "the tunnel forwards after forged sequence numbers" ping_srv "$HOST_ADDR" 3

# 5. Fragmentation-needed errors: only the one quoting a packet of ours lowers the MTU.
spi=$(child_field outbound_spi)
[ -n "$spi" ] && [ "$spi" != None ] || fail "no child to edge1 in show crypto ipsec sa"
expect "the child uses ESP in UDP (strongSwan kernel-libipsec)" [ "$(child_field udp_encap)" = True ]
rejected "an SPI gw never sent" --mtu 1300 --spi 0x0badf00d
rejected "a port edge1 does not use" --mtu 1300 --spi "$spi" --dport 4501
rejected "a source port other than 4500" --mtu 1300 --spi "$spi" --sport 500
rejected "plain ESP for a UDP child" --mtu 1300 --spi "$spi" --proto esp
rejected "an MTU below 576" --mtu 400 --spi "$spi"
rejected "an MTU above the interface" --mtu 9000 --spi "$spi" --quoted-len 9100
rejected "a quoted packet that fit" --mtu 1300 --spi "$spi" --quoted-len 1200
rejected "a quoted length of 0" --mtu 1300 --spi "$spi" --quoted-len 0
rejected "a quoted packet above the interface MTU" --mtu 1300 --spi "$spi" --quoted-len 9000
rejected "a packet to edge2" --peer 198.51.100.3 --mtu 1300 --spi "$spi"
rejected "8 bytes of UDP without the SPI" --mtu 1300 --spi "$spi" --short
expect "no forged error counted as PMTU received" [ "$(child_field pmtus_rcvd)" = 0 ]
forged_icmp --mtu 1300 --spi "$spi"
expect "the valid error lowers the path MTU to 1300" wait_for 5 "path MTU 1300" path_mtu_is 1300
expect "rampart still runs" rampart_alive gw
finish
