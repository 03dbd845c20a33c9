#!/usr/bin/env bash
# ESP NULL + HMAC-SHA-256 across a real NAT: a namespace between gw and the WAN
# masquerades gw's outside address 198.18.0.2 to 198.51.100.1 with random source ports
# (nftables), so rampart must detect NAT from the NAT_DETECTION payloads, move to UDP
# 4500 and follow the translated port. Ping and a TCP transfer go through; edge1 sees
# the branch at 198.51.100.1 on a port other than 4500; the outside link carries only
# IKE and ESP-in-UDP.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin gw-null-nat
rampart_require
need_tool tshark iperf3 nft

nat_insert
cfg="$LAB_STATE/gw.cfg"
gw_config "$cfg"
cfg_esp "$cfg" null
sed -i 's/ip address 198\.51\.100\.1 255\.255\.255\.0/ip address 198.18.0.2 255.255.255.0/' "$cfg"
sed -i 's/^route outside 0\.0\.0\.0 0\.0\.0\.0 .*/route outside 0.0.0.0 0.0.0.0 198.18.0.1 1/' "$cfg"
export EDGE_ESP=null-sha256
iperf_server_start
start_bg nat "$LAB_STATE/nat-out.pcapng.log" tshark -q -i out0 -a duration:90 -w "$LAB_STATE/nat-out.pcapng"
CAPTURE_PID=$BG_PID
wait_for 10 "tshark in nat" grep -q "Capturing on" "$LAB_STATE/nat-out.pcapng.log"
gw_up "$cfg" --initiate
expect "Child SA uses ESP NULL + HMAC-SHA-256" [ "$(swan_esp_line edge1)" = ESP:NULL/HMAC_SHA2_256_128 ]
expect "ping host -> srv across the NAT" ping_srv "$HOST_ADDR" 5
expect "iperf3 TCP 5 s across the NAT" iperf_run 5 1 "$LAB_STATE/iperf.json"
log "iperf3 NULL+SHA256 across NAT: $(iperf_mbps "$LAB_STATE/iperf.json") Mbit/s"
remote=$(swan_sas edge1 | awk '$1 == "remote" { print $NF; exit }')
log "edge1 sees the branch at $remote"
expect "edge1 sees the branch behind the NAT (198.51.100.1, translated port)" \
  sh -c "echo '$remote' | grep -q '^198\.51\.100\.1\[' && ! echo '$remote' | grep -q '\[4500\]'"
expect "edge1's ESP counters move" [ "$(swan_esp_total edge1 in bytes)" -gt 100000 ]
if sas=$(rampart_ctl gw "show crypto ikev2 sa"); then
  echo "$sas" >"$LAB_STATE/ikev2-sa.json"
  expect "rampart detected that it is behind a NAT" python3 -c '
import json, sys
sas = json.load(open(sys.argv[1]))
sys.exit(0 if any(sa.get("nat_detected_local") for sa in sas) else 1)' "$LAB_STATE/ikev2-sa.json"
else
  log "rampart has no control socket: its NAT detection flag is not checked"
fi
capture_stop
expect "the NAT's outside link carries only IKE and ESP-in-UDP" capture_only_ike_esp "$LAB_STATE/nat-out.pcapng"
expect "rampart still runs" rampart_alive gw
finish
