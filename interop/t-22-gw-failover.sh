#!/usr/bin/env bash
# Failover: with traffic flowing through edge1, edge1 goes silent (all its WAN packets
# dropped) and srv's return route moves to edge2. rampart must notice (DPD, then the
# retransmission limit) and bring the tunnel up with edge2, the crypto map's second
# peer, without a restart. The time from silence to the first reply through edge2 is
# printed. FAILOVER_LIMIT (seconds, default 90) bounds it.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin gw-failover
rampart_require
LIMIT="${FAILOVER_LIMIT:-90}"

cfg="$LAB_STATE/gw.cfg"
gw_config "$cfg"
cfg_keepalive "$cfg" 10 2
gw_up "$cfg" --initiate
expect "traffic starts on edge1" [ "$(swan_child_count edge1)" -ge 1 ]
silence edge1
"$LAB_SH" return-via edge2
t0=$(now_ms)
ok=0
while [ $(( ($(now_ms) - t0) / 1000 )) -lt "$LIMIT" ]; do
  if ping_srv "$HOST_ADDR" 1; then ok=1; break; fi
done
t=$(( ($(now_ms) - t0) / 1000 ))
if [ $ok = 1 ]; then log "failover to edge2: first reply after $t s"; fi
expect "traffic moves to edge2 within $LIMIT s (took $t s)" [ $ok = 1 ]
expect "edge2 has the Child SA" [ "$(swan_child_count edge2)" -ge 1 ]
expect "edge2's ESP counters move" [ "$(swan_esp_total edge2 in packets)" -gt 0 ]
expect "rampart logged the switch to 198.51.100.3" rampart_log_has gw '198\.51\.100\.3'
echo "failover_seconds=$t" >"$LAB_STATE/failover.txt"
expect "rampart still runs (no restart)" rampart_alive gw
finish
