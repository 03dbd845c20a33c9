#!/usr/bin/env bash
# Pre-shared key authentication against strongSwan, both directions: the branch's
# identity as an IPv4 address (`crypto isakmp identity address`, the ASA default) and
# as an FQDN (`hostname`), and a different key in each direction (the ASA's
# local-authentication and remote-authentication keys). A wrong remote key must fail
# and bring no Child SA up.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin ike-identities
rampart_require

guide_ike=AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1536
gcm=ESP:AES_GCM_16-256
edge_key=lab-edge-key-not-a-secret-5432109876

# --- rampart initiates -----------------------------------------------------------------
cfg="$LAB_STATE/gw-ipv4.cfg"; gw_config "$cfg"; cfg_identity "$cfg" address
GW_ID=198.51.100.1 initiator_case init-ipv4-id "$cfg" "$guide_ike" "$gcm"
expect "edge1 authenticated '198.51.100.1'" \
  grep -q "authentication of '198.51.100.1' with pre-shared key successful" "$LAB_STATE/init-ipv4-id-edge1-charon.log"

cfg="$LAB_STATE/gw-fqdn.cfg"; gw_config "$cfg"; cfg_identity "$cfg" hostname
GW_ID=fqdn:branch.lab.example initiator_case init-fqdn-id "$cfg" "$guide_ike" "$gcm"
expect "edge1 authenticated 'branch.lab.example'" \
  grep -q "authentication of 'branch.lab.example' with pre-shared key successful" "$LAB_STATE/init-fqdn-id-edge1-charon.log"

# The edge signs with edge_key, rampart with the lab key.
cfg="$LAB_STATE/gw-asym.cfg"; gw_config "$cfg"; cfg_psk "$cfg" "$LAB_PSK" "$edge_key"
PSK_EDGE="$edge_key" initiator_case init-asym-keys "$cfg" "$guide_ike" "$gcm"

# rampart verifies with the wrong key: the IKE SA must not come up.
cfg="$LAB_STATE/gw-wrongkey.cfg"; gw_config "$cfg"; cfg_psk "$cfg" "$LAB_PSK" "$LAB_PSK"
PSK_EDGE="$edge_key" sw start edge1 >/dev/null
rampart_start gw "$cfg" --initiate
sleep 6
expect "wrong remote key: no Child SA on edge1" [ "$(swan_child_count edge1)" = 0 ]
expect "wrong remote key: rampart logged an authentication failure" \
  rampart_log_has gw 'auth'
rampart_stop gw
sw stop edge1 >/dev/null

# --- strongSwan initiates, rampart answers as edge1 ----------------------------------------
cfg="$LAB_STATE/edge-ipv4.cfg"; edge_config "$cfg"; cfg_identity "$cfg" address
GW_LOCAL_ID=198.51.100.1 EDGE1_ID=198.51.100.2 responder_case resp-ipv4-id "$cfg" "$guide_ike" "$gcm"
expect "gw authenticated rampart as '198.51.100.2'" \
  grep -q "authentication of '198.51.100.2' with pre-shared key successful" "$LAB_STATE/resp-ipv4-id-gw-charon.log"

cfg="$LAB_STATE/edge-fqdn.cfg"; edge_config "$cfg"
responder_case resp-fqdn-id "$cfg" "$guide_ike" "$gcm"
expect "gw authenticated rampart as 'edge1.lab.example'" \
  grep -q "authentication of 'edge1.lab.example' with pre-shared key successful" "$LAB_STATE/resp-fqdn-id-gw-charon.log"

# rampart (the edge) signs with edge_key and verifies the branch with the lab key.
cfg="$LAB_STATE/edge-asym.cfg"; edge_config "$cfg"; cfg_psk "$cfg" "$edge_key" "$LAB_PSK"
PSK_EDGE="$edge_key" responder_case resp-asym-keys "$cfg" "$guide_ike" "$gcm"
finish
