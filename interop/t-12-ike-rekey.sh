#!/usr/bin/env bash
# IKE and Child SA rekeys every few seconds for 60 seconds against strongSwan, both
# directions. strongSwan rekeys its Child SA every 5 s and its IKE SA every 15 s. rampart
# rekeys its own every 20 s and 40 s when its configuration front end accepts lifetimes
# that short (the ASA's minimum is 120 s), so both sides start rekeys and some collide.
# No rekey may fail, no sample may show a duplicate or missing SA, and one IKE SA with
# one Child SA must remain at the end. A last phase leaves the rekeys to rampart alone,
# with the shortest lifetimes the ASA accepts (120 s), for REKEY_OWN_SECONDS (default 150).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin ike-rekey
rampart_require
DURATION="${REKEY_SECONDS:-60}"

short_lifetimes() {
  local cfg="$1" try="$1.short"
  cp "$cfg" "$try"
  cfg_set "$try" 'crypto ikev2 policy 1' 'lifetime' 'lifetime seconds 40'
  cfg_child_lifetime "$try" 20
  if rampart_config_ok "$try"; then mv "$try" "$cfg"
  else log "rampart check rejects short lifetimes ($(head -n 3 "$try.check" | tr '\n' ' ')); only strongSwan starts rekeys"; fi
}

check_rekeys() {
  local label="$1" n="$2" ike0="$3" child0="$4" ike1 child1
  sleep 3
  ike1=$(swan_ike_uid "$n"); child1=$(swan_child_uid "$n")
  log "$label: IKE SA #$ike0 -> #$ike1, Child SA #$child0 -> #$child1"
  expect "$label: at least 3 IKE SA rekeys" [ $((ike1 - ike0)) -ge 3 ]
  expect "$label: at least 8 Child SA rekeys" [ $((child1 - child0)) -ge 8 ]
  expect "$label: one IKE SA and one Child SA remain" [ "$(swan_ike_count "$n")-$(swan_child_count "$n")" = 1-1 ]
  expect "$label: no failed rekey in $n's log" swan_log_clean "$n"
}

export EDGE_CHILD_REKEY=5s EDGE_IKE_REKEY=15s GW_CHILD_REKEY=5s GW_IKE_REKEY=15s

# rampart initiates from gw.
cfg="$LAB_STATE/gw.cfg"; gw_config "$cfg"; short_lifetimes "$cfg"
sw start edge1 >/dev/null || fail "strongSwan edge1 did not start"
rampart_start gw "$cfg" --initiate
wait_for 20 "Child SA on edge1" swan_has_child edge1 || fail "no Child SA on edge1"
ike0=$(swan_ike_uid edge1); child0=$(swan_child_uid edge1)
expect "initiator: no duplicate or missing SA for $DURATION s" watch_sas edge1 "$DURATION"
expect "initiator: rampart still runs" rampart_alive gw
check_rekeys initiator edge1 "$ike0" "$child0"
rampart_stop gw
sw stop edge1 >/dev/null

# strongSwan initiates, rampart answers in edge1's place.
cfg="$LAB_STATE/edge.cfg"; edge_config "$cfg"; short_lifetimes "$cfg"
rampart_start edge1 "$cfg"
sw start gw >/dev/null || fail "strongSwan gw did not start"
sw initiate primary >/dev/null || fail "strongSwan gw could not bring up the tunnel to rampart"
ike0=$(swan_ike_uid gw); child0=$(swan_child_uid gw)
expect "responder: no duplicate or missing SA for $DURATION s" watch_sas gw "$DURATION"
expect "responder: rampart still runs" rampart_alive edge1
check_rekeys responder gw "$ike0" "$child0"
rampart_stop edge1
sw stop gw >/dev/null

# rampart starts every rekey: its lifetimes are 120 s, strongSwan's timers are long.
export EDGE_CHILD_REKEY=28800s EDGE_IKE_REKEY=86400s
OWN="${REKEY_OWN_SECONDS:-150}"
cfg="$LAB_STATE/gw-own.cfg"; gw_config "$cfg"
cfg_set "$cfg" 'crypto ikev2 policy 1' 'lifetime' 'lifetime seconds 120'
cfg_child_lifetime "$cfg" 120
sw start edge1 >/dev/null || fail "strongSwan edge1 did not start"
rampart_start gw "$cfg" --initiate
wait_for 20 "Child SA on edge1" swan_has_child edge1 || fail "no Child SA on edge1"
ike0=$(swan_ike_uid edge1); child0=$(swan_child_uid edge1)
expect "rampart's own rekeys: no duplicate or missing SA for $OWN s" watch_sas edge1 "$OWN"
sleep 3
ike1=$(swan_ike_uid edge1); child1=$(swan_child_uid edge1)
log "rampart's own rekeys: IKE SA #$ike0 -> #$ike1, Child SA #$child0 -> #$child1"
expect "rampart rekeyed the IKE SA" [ $((ike1 - ike0)) -ge 1 ]
expect "rampart rekeyed the Child SA" [ $((child1 - child0)) -ge 1 ]
expect "rampart's own rekeys: one IKE SA and one Child SA remain" \
  [ "$(swan_ike_count edge1)-$(swan_child_count edge1)" = 1-1 ]
expect "rampart's own rekeys: no failure in edge1's log" swan_log_clean edge1
expect "rampart's own rekeys: rampart still runs" rampart_alive gw
finish
