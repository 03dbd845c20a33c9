#!/usr/bin/env bash
# rampart on both ends (gw initiates, edge1 responds) with no NAT between them: plain
# ESP (IP protocol 50) as negotiated, then `--force-udp-encap` on the gateway only,
# which must make both ends send ESP in UDP 4500 (faked NAT detection data, as
# strongSwan's encap=yes). Each phase carries ping and a short TCP transfer over four
# streams, with four data-plane workers per direction on each end (both ends have
# 1024-packet replay windows). The outside link capture shows which encapsulation was
# used, and that the four outbound workers keep each SPI's ESP sequence numbers in
# order on the wire.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin gw-force-encap
rampart_require
need_tool tshark iperf3
rampart_has_flag '--force-udp-encap' || fail "rampart run has no --force-udp-encap option"

gw_cfg="$LAB_STATE/gw.cfg"
gw_config "$gw_cfg"
single_peer "$gw_cfg"
edge_cfg="$LAB_STATE/edge.cfg"
edge_config "$edge_cfg"
iperf_server_start

# phase NAME GW_ARGS...: both ends up, traffic through, capture the outside link.
phase() {
  local name="$1"; shift
  capture_start gw wan0 "$LAB_STATE/$name.pcapng" 60
  rampart_start edge1 "$edge_cfg" --workers 4 --outbound-workers 4
  rampart_start gw "$gw_cfg" --initiate --workers 4 --outbound-workers 4 "$@"
  wait_for 30 "a first ping host -> srv ($name)" ping_srv "$HOST_ADDR" 1 ||
    fail "no ping reply host -> srv through rampart within 30 s ($name)"
  expect "ping host -> srv ($name)" ping_srv "$HOST_ADDR" 5
  expect "iperf3 TCP 4 streams 4 s ($name)" iperf_run 4 4 "$LAB_STATE/iperf-$name.json"
  log "iperf3 $name: $(iperf_mbps "$LAB_STATE/iperf-$name.json") Mbit/s"
  rampart_stop gw
  rampart_stop edge1
  capture_stop
}

phase plain
expect "without the option the outside link carries plain ESP" \
  [ "$(capture_count "$LAB_STATE/plain.pcapng" 'ip.proto == 50')" -gt 100 ]
expect "without the option no ESP travels in UDP" \
  [ "$(capture_count "$LAB_STATE/plain.pcapng" 'udp.port == 4500 && esp')" = 0 ]

expect "without the option each SPI's sequence numbers increase on the wire" \
  capture_esp_in_order "$LAB_STATE/plain.pcapng"

phase forced --force-udp-encap
expect "with the option ESP travels in UDP 4500" \
  [ "$(capture_count "$LAB_STATE/forced.pcapng" 'udp.port == 4500 && esp')" -gt 100 ]
expect "with the option no plain ESP leaves either end" \
  [ "$(capture_count "$LAB_STATE/forced.pcapng" 'ip.proto == 50')" = 0 ]
expect "the forced capture holds only IKE and ESP in UDP" capture_only_ike_esp "$LAB_STATE/forced.pcapng"
expect "tshark decodes the forced capture without malformed packets" capture_not_malformed "$LAB_STATE/forced.pcapng"
expect "with the option each SPI's sequence numbers increase on the wire" \
  capture_esp_in_order "$LAB_STATE/forced.pcapng"
finish
