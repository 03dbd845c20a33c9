#!/usr/bin/env bash
# INFORMATIONAL exchanges with strongSwan: a Child SA DELETE and an IKE SA DELETE from
# the edge are answered, rampart's own DELETE on SIGTERM reaches the edge, dead peer
# detection notices an edge that went silent (liveness checks seen on the WAN link),
# and rampart recovers after the edge restarts and has forgotten its SAs.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin ike-dpd-delete
rampart_require
need_tool tshark

cfg="$LAB_STATE/gw.cfg"
gw_config "$cfg"
single_peer "$cfg"
cfg_keepalive "$cfg" 10 2

# --- DELETE from the edge ---------------------------------------------------------------
sw start edge1 >/dev/null || fail "strongSwan edge1 did not start"
rampart_start gw "$cfg" --initiate
wait_for 20 "Child SA on edge1" swan_has_child edge1 || fail "no Child SA on edge1"
sw swanctl edge1 --terminate --child net --timeout 10 >"$LAB_STATE/term-child.txt" 2>&1
expect "edge1's Child SA DELETE completed" grep -q 'terminate completed successfully' "$LAB_STATE/term-child.txt"
expect "the IKE SA survives the Child SA DELETE" [ "$(swan_ike_count edge1)" = 1 ]
sw swanctl edge1 --terminate --ike branch --timeout 10 >"$LAB_STATE/term-ike.txt" 2>&1
expect "edge1's IKE SA DELETE completed" grep -q 'terminate completed successfully' "$LAB_STATE/term-ike.txt"
expect "no IKE SA left on edge1" [ "$(swan_ike_count edge1)" = 0 ]
expect "edge1 got answers to its DELETEs (no retransmission give-up)" swan_log_clean edge1
rampart_stop gw

# --- DELETE from rampart (SIGTERM) --------------------------------------------------------
rampart_start gw "$cfg" --initiate
wait_for 20 "Child SA on edge1" swan_has_child edge1 || fail "no Child SA on edge1 after restart"
rampart_stop gw
expect "rampart's SIGTERM deleted the IKE SA on edge1" \
  wait_for 5 "IKE SA deleted on edge1" sh -c "[ \$(\"$SW_SH\" swanctl edge1 --list-sas 2>/dev/null | grep -c ESTABLISHED) = 0 ]"

# --- DPD: edge1 goes silent -----------------------------------------------------------------
rampart_start gw "$cfg" --initiate
wait_for 20 "Child SA on edge1" swan_has_child edge1 || fail "no Child SA on edge1 for the DPD case"
capture_start gw wan0 "$LAB_STATE/dpd.pcapng" 60 'udp port 500 or udp port 4500'
silence edge1
t0=$(now_ms)
# Liveness checks are INFORMATIONAL requests (exchange type 37) from the branch. DPD
# starts after 10 s without inbound traffic; give it the retries on top.
dpd_seen() {
  [ "$(capture_count "$LAB_STATE/dpd.pcapng" 'isakmp.exchangetype == 37 && ip.src == 198.51.100.1')" -ge 2 ]
}
expect "rampart sends liveness checks to the silent edge" wait_for 40 "DPD requests" dpd_seen
expect "rampart declares the silent edge dead" \
  wait_for 60 "an IKE SA down line in rampart's log" rampart_log_has gw 'dead|dpd.*(fail|timeout|expired)|ike ?sa.*(down|deleted)|ikesadown'
log "silent edge noticed after $(( ($(now_ms) - t0) / 1000 )) s"
capture_stop
unsilence edge1

# --- recovery after the edge restarts without its SAs ----------------------------------
wait_for 40 "a Child SA on edge1 again" swan_has_child edge1 ||
  log "no new Child SA after the silence ended (rampart re-initiates on traffic only)"
swan_kill edge1
sw start edge1 >/dev/null || fail "strongSwan edge1 did not restart"
t0=$(now_ms)
ping_bg 120
expect "rampart re-establishes a Child SA with the restarted edge" \
  wait_for 100 "a Child SA on the restarted edge1" swan_has_child edge1
log "recovered $(( ($(now_ms) - t0) / 1000 )) s after the restart"
expect "rampart still runs" rampart_alive gw
finish
