#!/usr/bin/env bash
# `rampart show crypto ...` against the running gateway with the guide's configuration:
# the ASA text layout and the JSON of `show crypto ipsec sa`, `show crypto ipsec
# stats`, `show crypto ikev2 sa [detail]` and `show crypto isakmp sa`. Pings through the
# primary tunnel must move the packet counters in both forms, and the ASA parsers of
# ntc-templates must read the text with the same SPIs, peer and counters as the JSON.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_begin show
rampart_require
need_tool socat

cfg="$LAB_STATE/gw.cfg"
gw_config "$cfg"
gw_up "$cfg"
sock="$LAB_STATE/rampart-gw.sock"
[ -S "$sock" ] || skip "rampart run has no --control option, so the show commands have no socket"
bin="$(rampart_bin)"
EDGE1=198.51.100.2

# show NAME ARGS...: run `rampart show crypto ARGS` on the lab's socket into NAME.
show() {
  local name="$1"; shift
  "$bin" show crypto "$@" --socket "$sock" >"$LAB_STATE/$name" 2>"$LAB_STATE/$name.err"
}

# text_counter FILE LABEL: the number after "#LABEL: " in an ipsec sa text.
text_counter() { grep -o "#$2: [0-9]*" "$1" | head -n 1 | awk '{ print $NF }'; }

# json_field FILE FIELD: FIELD of the first child in an ipsec sa JSON document.
json_field() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["children"][0][sys.argv[2]])' "$1" "$2"
}

show sa-1.txt ipsec sa || fail "show crypto ipsec sa failed: $(cat "$LAB_STATE/sa-1.txt.err")"
show sa-1.json ipsec sa --format json || fail "show crypto ipsec sa --format json failed"
show stats-1.txt ipsec stats || fail "show crypto ipsec stats failed"
expect "ping host -> srv (20 packets)" ping_srv "$HOST_ADDR" 20
show sa-2.txt ipsec sa || fail "show crypto ipsec sa failed after the pings"
show sa-2.json ipsec sa --format json || fail "show crypto ipsec sa --format json failed after the pings"
show stats-2.txt ipsec stats || fail "show crypto ipsec stats failed after the pings"

enc1=$(text_counter "$LAB_STATE/sa-1.txt" "pkts encaps"); enc2=$(text_counter "$LAB_STATE/sa-2.txt" "pkts encaps")
dec1=$(text_counter "$LAB_STATE/sa-1.txt" "pkts decaps"); dec2=$(text_counter "$LAB_STATE/sa-2.txt" "pkts decaps")
log "text #pkts encaps $enc1 -> $enc2, #pkts decaps $dec1 -> $dec2"
expect "text: #pkts encaps grew by the 20 pings" [ "$((enc2 - enc1))" -ge 20 ]
expect "text: #pkts decaps grew by the 20 replies" [ "$((dec2 - dec1))" -ge 20 ]
jenc1=$(json_field "$LAB_STATE/sa-1.json" pkts_encaps); jenc2=$(json_field "$LAB_STATE/sa-2.json" pkts_encaps)
jdec2=$(json_field "$LAB_STATE/sa-2.json" pkts_decaps)
expect "JSON: pkts_encaps grew by the 20 pings" [ "$((jenc2 - jenc1))" -ge 20 ]
expect "JSON and text agree on pkts_decaps" [ "$jdec2" = "$dec2" ]
expect "text: current_peer is edge1" grep -q "current_peer: $EDGE1\$" "$LAB_STATE/sa-2.txt"
expect "text: crypto map tag and seq num" grep -qE '^    Crypto map tag: [^,]+, seq num: [0-9]+, local addr: 198\.51\.100\.1$' "$LAB_STATE/sa-2.txt"
expect "text: access-list line" grep -qE '^      access-list [^ ]+ extended permit ' "$LAB_STATE/sa-2.txt"
expect "text: NAT-T endpoints" grep -q "remote crypto endpt.: $EDGE1/4500" "$LAB_STATE/sa-2.txt"
expect "text: remaining key lifetime" grep -qE 'sa timing: remaining key lifetime \((kB/sec\): \([0-9]+/[1-9][0-9]*\)|sec\): [1-9])' "$LAB_STATE/sa-2.txt"
expect "text: anti-replay bitmap has the latest packets" grep -qE '^          0x[0-9A-F]{8} 0x[0-9A-F]*[1-9A-F][0-9A-F]*$' "$LAB_STATE/sa-2.txt"
out_spi=$(json_field "$LAB_STATE/sa-2.json" outbound_spi)
expect "text: outbound SPI $out_spi as the JSON has it" grep -q "current outbound spi: ${out_spi#0x}\$" "$LAB_STATE/sa-2.txt"

pk1=$(awk '/^Inbound/ { i = 1 } i && /Packets:/ { print $2; exit }' "$LAB_STATE/stats-1.txt")
pk2=$(awk '/^Inbound/ { i = 1 } i && /Packets:/ { print $2; exit }' "$LAB_STATE/stats-2.txt")
log "text show crypto ipsec stats: inbound packets $pk1 -> $pk2"
expect "stats text: inbound packets grew by the 20 replies" [ "$((pk2 - pk1))" -ge 20 ]
expect "stats text: one active tunnel" grep -q '^Active tunnels: 1$' "$LAB_STATE/stats-2.txt"

show peer.txt ipsec sa peer "$EDGE1" || fail "show crypto ipsec sa peer $EDGE1 failed"
expect "peer filter keeps edge1's SA" grep -q "current_peer: $EDGE1" "$LAB_STATE/peer.txt"
show peer-none.txt ipsec sa peer 198.51.100.77 || fail "show crypto ipsec sa peer 198.51.100.77 failed"
expect "peer filter without SAs prints the ASA's message" grep -qx 'There are no ipsec sas' "$LAB_STATE/peer-none.txt"

show ikev2.txt ikev2 sa || fail "show crypto ikev2 sa failed"
expect "ikev2 sa: session UP-ACTIVE" grep -qE '^Session-id:[0-9]+, Status:UP-ACTIVE, IKE count:1, CHILD count:[1-9]' "$LAB_STATE/ikev2.txt"
expect "ikev2 sa: READY initiator row to edge1" grep -qE "198\.51\.100\.1/4500 +$EDGE1/4500 +READY +INITIATOR" "$LAB_STATE/ikev2.txt"
expect "ikev2 sa: ESP SPIs" grep -qE '^          ESP spi in/out: 0x[0-9a-f]+/0x[0-9a-f]+$' "$LAB_STATE/ikev2.txt"
show ikev2-detail.txt ikev2 sa detail || fail "show crypto ikev2 sa detail failed"
expect "ikev2 sa detail: remote id" grep -q "Remote id: " "$LAB_STATE/ikev2-detail.txt"
show isakmp.txt isakmp sa || fail "show crypto isakmp sa failed"
expect "isakmp sa: no IKEv1, then IKEv2" sh -c "head -n 1 '$LAB_STATE/isakmp.txt' | grep -qx 'There are no IKEv1 SAs' && grep -q '^IKEv2 SAs:' '$LAB_STATE/isakmp.txt'"

"$bin" show crypto ipsec stats --socket "$LAB_STATE/missing.sock" >/dev/null 2>"$LAB_STATE/missing.err"
expect "missing socket: exit 2 and the path in the message" sh -c "grep -q 'no gateway is listening on control socket $LAB_STATE/missing.sock' '$LAB_STATE/missing.err'"

# The community ASA parsers must read the live text as the JSON describes it.
python="${RAMPART_PYENV:-/opt/rampart/pyenv}/bin/python3"
[ -x "$python" ] || python=python3
"$python" "$REPO_DIR/scripts/ntc_check.py" live "$LAB_STATE/sa-2.txt" "$LAB_STATE/sa-2.json" >"$LAB_STATE/ntc.txt"
rc=$?
if [ "$rc" = 77 ]; then
  echo "SKIP (part): $TEST_NAME: $(cat "$LAB_STATE/ntc.txt")"
else
  cat "$LAB_STATE/ntc.txt"
  expect "ntc-templates parses show crypto ipsec sa as the JSON has it" [ "$rc" = 0 ]
fi
finish
