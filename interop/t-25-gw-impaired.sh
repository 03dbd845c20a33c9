#!/usr/bin/env bash
# End-to-end impairments through the UDP relay (interop/relay/udp-relay.py) between
# rampart and edge1: 3% loss, 2% duplication, 5% reordering and 2-5 ms delay on IKE
# and ESP in both directions, seeded. The tunnel must come up, ping must get replies,
# a TCP transfer must complete, and rampart must not crash on duplicates or replays.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin gw-impaired
rampart_require
need_tool iperf3

cfg="$LAB_STATE/gw.cfg"
gw_config "$cfg"
single_peer "$cfg"
relay_config "$cfg"
relay_start 120 --loss 0.03 --dup 0.02 --reorder 0.05 --delay-ms 2 --jitter-ms 3 --seed "${RELAY_SEED:-11}"
iperf_server_start
sw start edge1 >/dev/null || fail "strongSwan edge1 did not start"
rampart_start gw "$cfg" --initiate
expect "Child SA up through the impaired relay" wait_for 40 "Child SA on edge1" swan_has_child edge1
expect "ping host -> srv through the impaired relay" wait_for 20 "ping" ping_srv "$HOST_ADDR" 10
expect "iperf3 TCP 5 s through the impaired relay" iperf_run 5 1 "$LAB_STATE/iperf.json"
log "iperf3 through the relay: $(iperf_mbps "$LAB_STATE/iperf.json") Mbit/s"
stop_pid "$RELAY_PID"
log "relay counters: $(tail -n 1 "$LAB_STATE/relay.log")"
expect "rampart still runs" rampart_alive gw
finish
