#!/usr/bin/env bash
# The lab itself, with strongSwan on both ends (no rampart): the reference branch (gw)
# brings a tunnel up to edge1 with a different pre-shared key in each direction, ping
# and TCP reach srv, the ESP counters move, the outside link carries only IKE and
# ESP-in-UDP, and tshark decodes the capture without a malformed packet. A failure here
# is a lab problem, not a rampart one. The second part runs the same tunnel through the
# impairment relay (loss, duplication, reordering, delay) and checks that it still works.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin lab-reference
need_tool tshark iperf3

export PSK_EDGE=lab-edge-key-not-a-secret-98765
sw start edge1 gw >/dev/null || fail "strongSwan did not start"
capture_start gw wan0 "$LAB_STATE/wan.pcapng" 40 'udp or icmp or tcp'
ms=$(sw initiate primary) || fail "strongSwan gw could not bring up the tunnel to edge1"
log "tunnel up in $ms ms"
expect "edge1 has one Child SA" [ "$(swan_child_count edge1)" = 1 ]
expect "ping host -> srv through the tunnel" ping_srv
iperf_server_start
expect "iperf3 TCP 3 s host -> srv" iperf_run 3 1 "$LAB_STATE/iperf.json"
log "iperf3: $(iperf_mbps "$LAB_STATE/iperf.json") Mbit/s"
expect "edge1 ESP inbound bytes moved" [ "$(swan_esp_total edge1 in bytes)" -gt 100000 ]
capture_stop
expect "outside link carries only IKE and ESP-in-UDP" capture_only_ike_esp "$LAB_STATE/wan.pcapng"
expect "tshark decodes the capture without malformed packets" capture_not_malformed "$LAB_STATE/wan.pcapng"
sw stop gw edge1 >/dev/null

log "through the impairment relay"
relay_start 60 --loss 0.02 --dup 0.01 --reorder 0.05 --delay-ms 2 --jitter-ms 3 --seed 7
EDGE1_ADDR=$RELAY_ADDR sw start edge1 gw >/dev/null || fail "strongSwan did not start"
sw initiate primary >/dev/null || fail "no tunnel through the relay"
expect "edge1 sees the branch at the relay's address" grep -q "@ $RELAY_ADDR\[" <(swan_sas edge1)
expect "ping host -> srv through the impaired tunnel" ping_srv "$HOST_ADDR" 20
expect "iperf3 TCP 3 s through the impaired tunnel" iperf_run 3 1 "$LAB_STATE/iperf-relay.json"
log "iperf3 through the relay: $(iperf_mbps "$LAB_STATE/iperf-relay.json") Mbit/s"
stop_pid "$RELAY_PID"
log "relay counters: $(tail -n 1 "$LAB_STATE/relay.log")"
expect "the relay dropped, duplicated and reordered datagrams" \
  python3 -c 'import json,sys; c=json.loads(open(sys.argv[1]).read().splitlines()[-1]); sys.exit(not (c["dropped"] and c["duplicated"] and c["reordered"]))' "$LAB_STATE/relay.log"
finish
