#!/usr/bin/env bash
# IKEv2 interop with strongSwan, both directions, for each proposal set: the guide's
# IKE proposal (AES-256, SHA-1, PRF SHA-1, groups 5 then 2) with ESP AES-GCM-256 and
# with ESP NULL + HMAC-SHA-256, then AES-GCM-256 with PRF SHA-384 over ECP-384 and over
# Curve25519. rampart initiates from gw (`rampart run --initiate`) towards a strongSwan
# edge1, then answers in edge1's place while the strongSwan branch initiates. The first
# exchange is captured on the WAN link and tshark must decode it without a malformed packet.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin ike-proposals
rampart_require
need_tool tshark

guide_ike=AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1536
# name | edge IKE proposal | ASA encryption | integrity | groups | prf | ESP | want IKE | want ESP
cases=(
  "guide-gcm|aes256-sha1-prfsha1-modp1536-modp1024|aes-256|sha|5 2|sha|gcm|$guide_ike|ESP:AES_GCM_16-256"
  "guide-null|aes256-sha1-prfsha1-modp1536-modp1024|aes-256|sha|5 2|sha|null|$guide_ike|ESP:NULL/HMAC_SHA2_256_128"
  "gcm-ecp384|aes256gcm16-prfsha384-ecp384|aes-gcm-256|null|20|sha384|gcm|AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_384|ESP:AES_GCM_16-256"
  "gcm-x25519|aes256gcm16-prfsha384-x25519|aes-gcm-256|null|31|sha384|gcm|AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519|ESP:AES_GCM_16-256"
)
esp_proposal() { [ "$1" = gcm ] && echo aes256gcm16 || echo null-sha256; }

first=1
for c in "${cases[@]}"; do
  IFS='|' read -r name edge_ike enc integ groups prf esp want_ike want_esp <<<"$c"

  gw_cfg="$LAB_STATE/gw-$name.cfg"
  gw_config "$gw_cfg"
  cfg_ike "$gw_cfg" "$enc" "$integ" "$groups" "$prf"
  cfg_esp "$gw_cfg" "$esp"
  [ $first = 1 ] && capture_start gw wan0 "$LAB_STATE/first-exchange.pcapng" 30 'udp port 500 or udp port 4500'
  EDGE_IKE="$edge_ike" EDGE_ESP="$(esp_proposal "$esp")" \
    initiator_case "init-$name" "$gw_cfg" "$want_ike" "$want_esp"
  if [ $first = 1 ]; then
    capture_stop
    expect "tshark decodes the first exchange without malformed packets" \
      capture_not_malformed "$LAB_STATE/first-exchange.pcapng"
    expect "the capture holds IKE_SA_INIT and IKE_AUTH" \
      [ "$(capture_count "$LAB_STATE/first-exchange.pcapng" 'isakmp.exchangetype == 34 || isakmp.exchangetype == 35')" -ge 4 ]
    first=0
  fi

  edge_cfg="$LAB_STATE/edge-$name.cfg"
  edge_config "$edge_cfg"
  cfg_ike "$edge_cfg" "$enc" "$integ" "$groups" "$prf"
  cfg_esp "$edge_cfg" "$esp"
  GW_IKE="$edge_ike" ESP="$(esp_proposal "$esp")" \
    responder_case "resp-$name" "$edge_cfg" "$want_ike" "$want_esp"
done
finish
