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

# A different key per direction is checked with strongSwan initiating (below) only.
# As a responder that received no IDr, strongSwan 5.9 signs and verifies with the one
# key of the initiator's identity, so it cannot take different keys from rampart.

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
# strongSwan verifies rampart's AUTH with either key, so this proves rampart's
# verification with its remote key and the handshake with two keys configured.
cfg="$LAB_STATE/edge-asym.cfg"; edge_config "$cfg"; cfg_psk "$cfg" "$edge_key" "$LAB_PSK"
PSK_EDGE="$edge_key" responder_case resp-asym-keys "$cfg" "$guide_ike" "$gcm"

# rampart verifies the branch with a key the branch does not use: it must reject it.
cfg="$LAB_STATE/edge-wrongkey.cfg"; edge_config "$cfg"; cfg_psk "$cfg" "$edge_key" "$edge_key"
rampart_start edge1 "$cfg"
PSK_EDGE="$edge_key" sw start gw >/dev/null
expect "wrong remote key: strongSwan's branch cannot bring the tunnel up" \
  sh -c "! \"$SW_SH\" initiate primary >/dev/null 2>&1"
expect "wrong remote key: the branch got AUTHENTICATION_FAILED from rampart" \
  grep -q 'received AUTHENTICATION_FAILED notify error' "$(swan_log gw)"
expect "wrong remote key: rampart logged the authentication failure" rampart_log_has edge1 'auth'
sw stop gw >/dev/null
rampart_stop edge1
finish
