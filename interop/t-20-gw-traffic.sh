#!/usr/bin/env bash
# The gateway with the guide's configuration. Ping and a TCP transfer from the inside
# host to srv go through the primary tunnel: edge1's ESP counters move and edge2's do not.
# The outside link carries only IKE and ESP-in-UDP. Traffic from the deny_traffic host
# (a source the crypto ACL denies) does not enter the tunnel.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin gw-traffic
rampart_require
need_tool tshark iperf3

cfg="$LAB_STATE/gw.cfg"
gw_config "$cfg"
cfg_deny_traffic "$cfg" "$DENY_ADDR"
iperf_server_start
capture_start gw wan0 "$LAB_STATE/wan.pcapng" 90
gw_up "$cfg"
expect "ping host -> srv" ping_srv "$HOST_ADDR" 5
expect "iperf3 TCP 5 s host -> srv" iperf_run 5 1 "$LAB_STATE/iperf.json"
log "iperf3 through rampart: $(iperf_mbps "$LAB_STATE/iperf.json") Mbit/s"
in1=$(swan_esp_total edge1 in bytes); out1=$(swan_esp_total edge1 out bytes)
log "edge1 ESP: in $in1 bytes, out $out1 bytes"
expect "edge1 decrypted the transfer (ESP in > 1 MB)" [ "$in1" -gt 1000000 ]
expect "edge1 sent ESP back (ESP out > 0)" [ "$out1" -gt 0 ]
expect "edge2 carries nothing" [ "$(swan_child_count edge2)" = 0 ]
if stats=$(rampart_ctl gw "show crypto ipsec stats"); then
  echo "$stats" >"$LAB_STATE/ipsec-stats.json"
  pk=$(echo "$stats" | json_packets_total)
  log "rampart's show crypto ipsec stats: $pk packets counted"
  expect "rampart's ESP packet counters moved" [ "${pk:-0}" -gt 1000 ]
else
  log "rampart has no control socket: its own counters are not checked"
fi
capture_stop
expect "outside link carries only IKE and ESP-in-UDP" capture_only_ike_esp "$LAB_STATE/wan.pcapng"
expect "tshark decodes the capture without malformed packets" capture_not_malformed "$LAB_STATE/wan.pcapng"

# deny_traffic: the crypto ACL's deny entry keeps this source out of the tunnel.
deny_host_add
pk0=$(swan_esp_total edge1 in packets)
capture_start gw wan0 "$LAB_STATE/deny.pcapng" 30
ping_srv "$DENY_ADDR" 5
sleep 1
capture_stop
pk1=$(swan_esp_total edge1 in packets)
log "edge1 ESP packets in during the deny_traffic pings: $((pk1 - pk0))"
expect "deny_traffic pings do not enter the tunnel" [ $((pk1 - pk0)) -le 1 ]
clear=$(capture_count "$LAB_STATE/deny.pcapng" "icmp && ip.src == $DENY_ADDR")
log "deny_traffic pings seen in the clear on the outside link: $clear"
expect "rampart still runs" rampart_alive gw
finish
