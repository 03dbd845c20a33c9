#!/usr/bin/env bash
# NAT of traffic that a crypto ACL deny entry keeps out of the tunnel. With the guide's
# `after-auto` PAT and `deny ip any host 203.0.113.10` before the permit, TCP from the
# inside host to srv leaves in the clear PATed to the outside address, as on an ASA and
# as `rampart packet-tracer` reports.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin deny-nat
rampart_require
need_tool socat

cfg="$LAB_STATE/gw.cfg"
gw_config "$cfg"
acl=$(awk '/^crypto map [^ ]+ [0-9]+ match address / { print $NF; exit }' "$cfg")
[ -n "$acl" ] || fail "no crypto map match address line in $cfg"
awk -v acl="$acl" -v srv="$SRV_ADDR" '
  !done && $0 ~ "^access-list " acl " extended permit " {
    print "access-list " acl " extended deny ip any host " srv
    done = 1
  }
  { print }' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
grep -q '^nat (inside,outside) after-auto source dynamic any interface' "$cfg" ||
  cfg_append "$cfg" 'nat (inside,outside) after-auto source dynamic any interface'

traced=$("$(rampart_bin)" packet-tracer --config "$cfg" input inside tcp "$HOST_ADDR" 40000 "$SRV_ADDR" 8080 2>&1)
echo "$traced" >"$LAB_STATE/packet-tracer.txt"
expect "packet-tracer PATs the denied flow to 198.51.100.1" grep -q "translate $HOST_ADDR/40000 to 198.51.100.1/" "$LAB_STATE/packet-tracer.txt"

clear_path_on
tcp_listeners_start 8080
sw start edge1 edge2 >/dev/null || fail "strongSwan edges did not start"
rampart_start gw "$cfg" --initiate
wait_for 20 "Child SA on edge1" swan_has_child edge1 || fail "no Child SA on edge1"
seen=$(tcp_probe 8080)
log "srv saw TCP 8080 from '$seen'"
expect "the denied flow arrives PATed to the outside address" [ "$seen" = 198.51.100.1 ]
forwarded=$(rampart_ctl gw "show crypto ipsec stats" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("clear_forwarded", 0))')
expect "rampart forwarded the denied flow in the clear" [ "${forwarded:-0}" -gt 0 ]
expect "rampart still runs" rampart_alive gw
finish
