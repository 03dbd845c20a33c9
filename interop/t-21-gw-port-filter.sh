#!/usr/bin/env bash
# The guide's port filter: with identity NAT for the http and https service objects and
# `after-auto` PAT of everything else, TCP 80 and 443 from the inside host reach srv
# through the tunnel with their own source address, and TCP 8080 leaves in the clear,
# translated to the outside address 198.51.100.1.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin gw-port-filter
rampart_require
need_tool tshark socat

cfg="$LAB_STATE/gw.cfg"
gw_config "$cfg"
grep -q '^nat (inside,outside) source static flow_traffic flow_traffic service http http' "$cfg" ||
  cfg_append "$cfg" 'object service http' ' service tcp destination eq www' \
    'object service https' ' service tcp destination eq https' \
    'nat (inside,outside) source static flow_traffic flow_traffic service http http' \
    'nat (inside,outside) source static flow_traffic flow_traffic service https https' \
    'nat (inside,outside) after-auto source dynamic any interface'
clear_path_on
tcp_listeners_start 80 443 8080
sw start edge1 edge2 >/dev/null || fail "strongSwan edges did not start"
rampart_start gw "$cfg" --initiate
wait_for 20 "Child SA on edge1" swan_has_child edge1 || fail "no Child SA on edge1"
capture_start gw wan0 "$LAB_STATE/wan.pcapng" 60
esp0=$(swan_esp_total edge1 in packets)
seen80=$(tcp_probe 80); seen443=$(tcp_probe 443); seen8080=$(tcp_probe 8080)
sleep 1
capture_stop
esp1=$(swan_esp_total edge1 in packets)
log "srv saw: port 80 from '$seen80', 443 from '$seen443', 8080 from '$seen8080'; edge1 ESP in +$((esp1 - esp0))"
expect "TCP 80 arrives untranslated (through the tunnel)" [ "$seen80" = "$HOST_ADDR" ]
expect "TCP 443 arrives untranslated (through the tunnel)" [ "$seen443" = "$HOST_ADDR" ]
expect "TCP 80 and 443 moved edge1's ESP counters" [ $((esp1 - esp0)) -ge 6 ]
expect "TCP 8080 arrives PATed to the outside address" [ "$seen8080" = 198.51.100.1 ]
expect "TCP 8080 is seen in the clear on the outside link" \
  [ "$(capture_count "$LAB_STATE/wan.pcapng" 'tcp.port == 8080 && ip.src == 198.51.100.1')" -gt 0 ]
expect "TCP 80 is never seen in the clear" [ "$(capture_count "$LAB_STATE/wan.pcapng" 'tcp.port == 80')" = 0 ]
expect "rampart still runs" rampart_alive gw
finish
