#!/usr/bin/env bash
# A 60-second TCP transfer while IKE and Child SAs rekey: strongSwan rekeys its Child
# SA every 5 s and its IKE SA every 15 s, and rampart its own every 20 s and 40 s when
# the configuration front end accepts such short lifetimes. The TCP connection must
# survive (iperf3 completes) and no sample may show a duplicate or missing Child SA.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin gw-rekey-transfer
rampart_require
need_tool iperf3
DURATION="${REKEY_SECONDS:-60}"

cfg="$LAB_STATE/gw.cfg"
gw_config "$cfg"
cp "$cfg" "$cfg.short"
cfg_set "$cfg.short" 'crypto ikev2 policy 1' 'lifetime' 'lifetime seconds 40'
cfg_child_lifetime "$cfg.short" 20
if rampart_config_ok "$cfg.short"; then mv "$cfg.short" "$cfg"; else log "rampart check rejects short lifetimes; only strongSwan starts rekeys"; fi
export EDGE_CHILD_REKEY=5s EDGE_IKE_REKEY=15s
iperf_server_start
gw_up "$cfg" --initiate
ike0=$(swan_ike_uid edge1); child0=$(swan_child_uid edge1)
# Bandwidth capped at 50 Mbit/s so that the rekey exchanges are not starved of CPU.
iperf_run "$DURATION" 1 "$LAB_STATE/iperf.json" -b 50M &
iperf_job=$!
expect "no duplicate or missing SA during the transfer" watch_sas edge1 "$DURATION"
wait "$iperf_job"
rc=$?
expect "the TCP transfer survived the rekeys (iperf3 completed)" [ "$rc" = 0 ]
log "transfer: $(iperf_mbps "$LAB_STATE/iperf.json") Mbit/s"
ike1=$(swan_ike_uid edge1); child1=$(swan_child_uid edge1)
log "IKE SA #$ike0 -> #$ike1, Child SA #$child0 -> #$child1"
expect "at least 3 IKE SA rekeys" [ $((ike1 - ike0)) -ge 3 ]
expect "at least 8 Child SA rekeys" [ $((child1 - child0)) -ge 8 ]
expect "no failed rekey in edge1's log" swan_log_clean edge1
expect "rampart still runs" rampart_alive gw
finish
