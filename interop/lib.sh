# interop/lib.sh: shared helpers for the namespace interop tests (interop/t-*.sh) and
# the benchmarks. Source it, then call lab_begin NAME.
#
# Each test gets its own namespaces (LAB_PREFIX) and state directory (LAB_STATE). Tests
# therefore run side by side with other labs on the same machine. Every process started through these
# helpers is recorded by PID; an EXIT trap stops them all, stops the strongSwan
# instances and deletes the namespaces, also after a failure or Ctrl-C.
#
# Exit codes follow interop/run-all.sh: 0 pass, 77 skip (reason printed), other = fail.

INTEROP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$INTEROP_DIR/.." && pwd)"
LAB_DIR="$REPO_DIR/lab"
LAB_SH="$LAB_DIR/netns-lab.sh"
SW_SH="$LAB_DIR/run-strongswan.sh"
SRV_ADDR=203.0.113.10
HOST_ADDR=198.18.1.10
# Second address of the inside host, used as the guide's deny_traffic object.
DENY_ADDR=198.18.1.20
LAB_PSK=lab-psk-not-a-secret-0123456789

TEST_NAME=""
TEST_FAILS=0
LAB_PIDS=()
LAB_UP=0
LAB_SILENCED=()

log() { echo "[$(date +%H:%M:%S)] $TEST_NAME: $*"; }

skip() { echo "SKIP: $TEST_NAME: $*"; exit 77; }

fail() { echo "FAIL: $TEST_NAME: $*"; TEST_FAILS=$((TEST_FAILS + 1)); exit 1; }

# expect DESCRIPTION CMD...: run CMD; record a failure (and go on) when it fails.
expect() {
  local desc="$1"; shift
  if "$@"; then echo "ok - $desc"
  else echo "not ok - $desc"; TEST_FAILS=$((TEST_FAILS + 1)); fi
}

# finish: exit 0 when every expectation held, else 1.
finish() {
  if [ "$TEST_FAILS" = 0 ]; then echo "PASS: $TEST_NAME"; exit 0; fi
  echo "FAIL: $TEST_NAME: $TEST_FAILS check(s) failed (logs in $LAB_STATE)"
  exit 1
}

# lab_require: skip unless this machine can run namespace tests with strongSwan.
lab_require() {
  [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, TUN devices)"
  [ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
  ip netns list >/dev/null 2>&1 || skip "'ip netns' is not available"
  command -v swanctl >/dev/null || skip "strongSwan is missing (run scripts/install-deps.sh)"
  [ -x /usr/lib/ipsec/charon ] || skip "strongSwan charon is missing (run scripts/install-deps.sh)"
  command -v unshare >/dev/null || skip "unshare (util-linux) is missing"
}

# need_tool NAME...: skip when one of the tools is missing.
need_tool() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null || skip "$t is not installed (run scripts/install-deps.sh)"; done
}

# lab_begin NAME: checks, unique prefix and state directory, cleanup trap, lab up.
lab_begin() {
  TEST_NAME="$1"
  lab_require
  # Short prefix: namespace names stay readable in `ip netns list`.
  export LAB_PREFIX="r${TEST_NAME:0:8}$$"
  export LAB_STATE="${INTEROP_STATE_ROOT:-/tmp/rampart-interop}/$TEST_NAME.$$"
  rm -rf "$LAB_STATE"
  mkdir -p "$LAB_STATE"
  trap lab_cleanup EXIT
  trap 'echo "$TEST_NAME: interrupted" >&2; exit 130' INT TERM HUP
  "$LAB_SH" up || fail "netns-lab.sh up failed"
  LAB_UP=1
  log "lab $LAB_PREFIX up, state in $LAB_STATE"
}

# ns NODE: the namespace name of a lab node.
ns() { echo "$LAB_PREFIX-$1"; }

# nx NODE CMD...: run CMD in the node's namespace.
nx() { local n="$1"; shift; ip netns exec "$(ns "$n")" "$@"; }

# start_bg NODE LOG CMD...: start CMD in the node's namespace in the background, record
# its PID (ip netns exec execs CMD, so $! is CMD's own PID) and leave it in BG_PID.
start_bg() {
  local n="$1" logf="$2"; shift 2
  ip netns exec "$(ns "$n")" "$@" >"$logf" 2>&1 </dev/null &
  BG_PID=$!
  LAB_PIDS+=("$BG_PID")
}

# alive PID: true while PID runs and is not a zombie.
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; [ "${s:0:1}" != Z ]; }

# stop_pid PID [SECONDS] [SIGNAL]: SIGNAL (TERM), wait up to SECONDS (5), then KILL.
stop_pid() {
  local p="$1" t="${2:-5}" sig="${3:-TERM}" i
  [ -n "$p" ] || return 0
  alive "$p" || { wait "$p" 2>/dev/null; return 0; }
  kill -"$sig" "$p" 2>/dev/null
  for ((i = 0; i < t * 10; i++)); do alive "$p" || break; sleep 0.1; done
  if alive "$p"; then kill -KILL "$p" 2>/dev/null; fi
  wait "$p" 2>/dev/null
  return 0
}

lab_cleanup() {
  local rc=$? p n
  set +e
  trap - EXIT INT TERM HUP
  for ((p = ${#LAB_PIDS[@]} - 1; p >= 0; p--)); do stop_pid "${LAB_PIDS[$p]}" 10; done
  "$SW_SH" stop >/dev/null 2>&1
  for n in "${LAB_SILENCED[@]}"; do unsilence "$n"; done
  if [ "$LAB_UP" = 1 ]; then
    [ -n "${LAB_EXTRA_NS:-}" ] && for n in $LAB_EXTRA_NS; do ip netns del "$n" 2>/dev/null; done
    "$LAB_SH" down
  fi
  if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    echo "--- $TEST_NAME failed (exit $rc); last log lines from $LAB_STATE:"
    for f in "$LAB_STATE"/rampart-*.log "$LAB_STATE"/*/charon.log; do
      [ -f "$f" ] || continue
      echo "--- $f"; tail -n 25 "$f"
    done
  elif [ "${KEEP_STATE:-0}" != 1 ] && [ "$rc" = 0 ]; then
    rm -rf "$LAB_STATE"
  fi
  exit "$rc"
}

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
  local t="$1" desc="$2" end; shift 2
  end=$(( $(date +%s%N) + t * 1000000000 ))
  while [ "$(date +%s%N)" -lt "$end" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "timed out after ${t} s waiting for $desc" >&2
  return 1
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---- strongSwan --------------------------------------------------------------------

# sw ARGS...: lab/run-strongswan.sh with this test's prefix and state (environment
# variables such as ESP, EDGE_IKE, GW_ID, PSK_EDGE pass through).
sw() { "$SW_SH" "$@"; }

# swan_sas NODE: `swanctl --list-sas` of a strongSwan instance.
swan_sas() { sw swanctl "$1" --list-sas 2>/dev/null; }

# swan_ike_count NODE: established IKE SAs.
swan_ike_count() { swan_sas "$1" | grep -c ': #[0-9]*, ESTABLISHED, IKEv2'; }

# swan_child_count NODE: installed Child SAs.
swan_child_count() { swan_sas "$1" | grep -c ', INSTALLED, '; }

swan_has_child() { [ "$(swan_child_count "$1")" -ge 1 ]; }

# swan_esp_total NODE in|out bytes|packets: summed over the installed Child SAs. Lines
# look like "    in  c8f1a2b3,   1234 bytes,    12 packets,     1s ago".
swan_esp_total() {
  swan_sas "$1" | awk -v dir="$2" -v what="$3" '
    $1 == dir && $2 ~ /^[0-9a-f]+(\(|,)/ {
      for (i = 3; i < NF; i++) if ($(i + 1) ~ "^" what) { gsub(/[^0-9]/, "", $i); s += $i }
    }
    END { print s + 0 }'
}

# swan_log NODE: path of the instance's charon log.
swan_log() { echo "$LAB_STATE/$1/charon.log"; }

# ---- rampart -------------------------------------------------------------------------

rampart_bin() {
  if [ -n "${RAMPART_BIN:-}" ]; then echo "$RAMPART_BIN"; return; fi
  echo "${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/rampart"
}

# rampart_require: build the release binary if it is missing, and fail (not skip) when
# `rampart run` is not implemented, because these tests exist to prove it.
rampart_require() {
  local bin
  bin="$(rampart_bin)"
  if [ ! -x "$bin" ]; then
    log "building $bin (cargo build --release -p rampart)"
    (cd "$REPO_DIR" && timeout 1800 cargo build --release -p rampart) >"$LAB_STATE/build.log" 2>&1 ||
      { tail -n 30 "$LAB_STATE/build.log"; fail "cargo build --release -p rampart failed"; }
  fi
  "$bin" run --help >"$LAB_STATE/run-help.txt" 2>&1 || true
  grep -q -- '--config' "$LAB_STATE/run-help.txt" ||
    fail "'rampart run --help' shows no --config option: rampart run is not implemented"
}

# rampart_has_flag FLAG: whether `rampart run` accepts FLAG.
rampart_has_flag() { grep -q -- "$1" "$LAB_STATE/run-help.txt"; }

# rampart_start NODE CONFIG [ARGS...]: start `rampart run --config CONFIG ARGS` in the
# node's namespace; log in $LAB_STATE/rampart-NODE.log, PID in RAMPART_PID_NODE.
rampart_start() {
  local n="$1" cfg="$2" extra=(); shift 2
  if rampart_has_flag '--control'; then extra+=(--control "$LAB_STATE/rampart-$n.sock"); fi
  start_bg "$n" "$LAB_STATE/rampart-$n.log" env RUST_LOG="${RAMPART_LOG:-info,rampart=debug}" \
    "$(rampart_bin)" run --config "$cfg" "${extra[@]}" "$@"
  printf -v "RAMPART_PID_$n" '%s' "$BG_PID"
  echo "$BG_PID" >"$LAB_STATE/rampart-$n.pid"
  sleep 0.5
  alive "$BG_PID" || { tail -n 30 "$LAB_STATE/rampart-$n.log"; fail "rampart in $n exited at start"; }
  log "rampart started in $(ns "$n") (pid $BG_PID)"
}

rampart_pid() { local v="RAMPART_PID_$1"; echo "${!v:-}"; }

# rampart_stop NODE: SIGTERM (rampart sends DELETEs and removes its TUN), then wait.
rampart_stop() {
  local p
  p="$(rampart_pid "$1")"
  [ -n "$p" ] || return 0
  stop_pid "$p" 10
  printf -v "RAMPART_PID_$1" '%s' ""
}

rampart_alive() { local p; p="$(rampart_pid "$1")"; [ -n "$p" ] && alive "$p"; }

# rampart_log NODE: path of its log.
rampart_log() { echo "$LAB_STATE/rampart-$1.log"; }

# rampart_log_has NODE REGEX: the log matches an extended regular expression.
rampart_log_has() { grep -Eiq "$2" "$(rampart_log "$1")"; }

# rampart_cpu_ticks NODE: user + system clock ticks consumed so far (/proc/PID/stat).
rampart_cpu_ticks() {
  local p
  p="$(rampart_pid "$1")"
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0
}

# ---- configurations ----------------------------------------------------------------

# gw_config OUT: the branch configuration for the lab, from examples/lab/zscaler-lab.cfg
# (the configuration front end's lab example) or, until that exists, from
# interop/configs/gw-lab.cfg. Tests edit the copy with the cfg_* helpers.
gw_config() {
  local src="$REPO_DIR/examples/lab/zscaler-lab.cfg"
  [ -f "$src" ] && [ "${INTEROP_OWN_CONFIG:-0}" != 1 ] || src="$INTEROP_DIR/configs/gw-lab.cfg"
  cp "$src" "$1"
}

# edge_config OUT: rampart as the edge1 responder (static peer 198.51.100.1).
edge_config() { cp "$INTEROP_DIR/configs/edge-lab.cfg" "$1"; }

# cfg_block FILE HEADER_REGEX LINE...: replace the sub-commands of the first block whose
# header line matches HEADER_REGEX (anchored) with the given lines (indented by one space).
cfg_block() {
  local f="$1" hdr="$2" body; shift 2
  body="$(printf ' %s\n' "$@")"
  awk -v hdr="^($hdr)\$" -v body="$body" '
    skipping && /^ / { next }
    { skipping = 0 }
    !done && $0 ~ hdr { print; print body; skipping = 1; done = 1; next }
    { print }
    END { if (!done) exit 3 }' "$f" >"$f.new" || { rm -f "$f.new"; fail "no block '$hdr' in $f"; }
  mv "$f.new" "$f"
}

# cfg_set FILE HEADER_REGEX KEY LINE: in that block, replace the sub-command line that
# starts with KEY by LINE, or append LINE to the block.
cfg_set() {
  local f="$1" hdr="$2" key="$3" line="$4"
  awk -v hdr="^($hdr)\$" -v key="^ $key( |\$)" -v line=" $line" '
    function flush() { if (inblk && !set) print line; inblk = 0 }
    inblk && /^ / { if ($0 ~ key) { if (!set) print line; set = 1; next } print; next }
    inblk { flush() }
    !found && $0 ~ hdr { found = 1; inblk = 1; print; next }
    { print }
    END { flush(); if (!found) exit 3 }' "$f" >"$f.new" || { rm -f "$f.new"; fail "no block '$hdr' in $f"; }
  mv "$f.new" "$f"
}

# cfg_replace FILE REGEX LINE: replace every line matching REGEX (extended) by LINE.
cfg_replace() { local f="$1"; awk -v re="$2" -v line="$3" '$0 ~ re { print line; next } { print }' "$f" >"$f.new" && mv "$f.new" "$f"; }

# cfg_append FILE LINE...: add top-level lines at the end.
cfg_append() { local f="$1"; shift; printf '%s\n' "$@" >>"$f"; }

# cfg_esp FILE gcm|null: the ESP proposal of every ipsec-proposal block.
cfg_esp() {
  case "$2" in
    gcm) cfg_block "$1" 'crypto ipsec ikev2 ipsec-proposal .*' 'protocol esp encryption aes-gcm-256' \
           'protocol esp integrity null' ;;
    null) cfg_block "$1" 'crypto ipsec ikev2 ipsec-proposal .*' 'protocol esp encryption null' \
           'protocol esp integrity sha-256' ;;
    *) fail "cfg_esp: gcm or null, not $2" ;;
  esac
}

# cfg_ike FILE ENCRYPTION INTEGRITY GROUPS PRF: crypto ikev2 policy 1 (86400 s).
cfg_ike() {
  cfg_block "$1" 'crypto ikev2 policy 1' "encryption $2" "integrity $3" "group $4" "prf $5" \
    'lifetime seconds 86400'
}

# cfg_psk FILE LOCAL REMOTE: the keys of every tunnel group.
cfg_psk() {
  cfg_replace "$1" '^ ikev2 local-authentication pre-shared-key ' " ikev2 local-authentication pre-shared-key $2"
  cfg_replace "$1" '^ ikev2 remote-authentication pre-shared-key ' " ikev2 remote-authentication pre-shared-key $3"
}

# cfg_identity FILE address|hostname: `crypto isakmp identity`.
cfg_identity() {
  if grep -q '^crypto isakmp identity ' "$1"; then
    cfg_replace "$1" '^crypto isakmp identity ' "crypto isakmp identity $2"
  else
    cfg_append "$1" "crypto isakmp identity $2"
  fi
}

# cfg_keepalive FILE THRESHOLD RETRY: DPD of every tunnel group.
cfg_keepalive() {
  local f="$1" tg
  for tg in $(awk '/^tunnel-group [^ ]+ ipsec-attributes$/ { print $2 }' "$f"); do
    cfg_set "$f" "tunnel-group $tg ipsec-attributes" 'isakmp keepalive' "isakmp keepalive threshold $2 retry $3"
  done
}

# cfg_child_lifetime FILE SECONDS: `set security-association lifetime seconds` of every map entry.
cfg_child_lifetime() {
  local f="$1" entry
  sed -i '/^crypto map [^ ]* [0-9]* set security-association lifetime seconds/d' "$f"
  for entry in $(awk '/^crypto map [^ ]+ [0-9]+ match address/ { print $3 "," $4 }' "$f" | sort -u); do
    cfg_append "$f" "crypto map ${entry%,*} ${entry#*,} set security-association lifetime seconds $2"
  done
}

# ---- checks on the data path -------------------------------------------------------

# ping_srv [SOURCE] [COUNT]: ping srv from the inside host; true if any reply arrives.
ping_srv() {
  local src="${1:-$HOST_ADDR}" c="${2:-3}"
  nx host ping -n -q -c "$c" -i 0.2 -W 1 -I "$src" "$SRV_ADDR" >/dev/null 2>&1
}

# iperf_server_start: iperf3 server on srv (stops with the test).
iperf_server_start() {
  start_bg srv "$LAB_STATE/iperf3-server.log" iperf3 -s -B "$SRV_ADDR"
  IPERF_SERVER_PID=$BG_PID
  wait_for 5 "iperf3 server" nx srv sh -c "ss -ltn | grep -q ':5201 '"
}

# iperf_run SECONDS STREAMS OUTFILE [ARGS...]: iperf3 client on host, JSON output; true
# when the run completed. The receiver's rate is in bits/s at .end.sum_received.
iperf_run() {
  local t="$1" p="$2" out="$3"; shift 3
  nx host timeout $((t + 30)) iperf3 -c "$SRV_ADDR" -t "$t" -P "$p" -J "$@" >"$out" 2>&1
}

# iperf_mbps OUTFILE: receiver throughput in Mbit/s (integer).
iperf_mbps() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(d["end"]["sum_received"]["bits_per_second"]/1e6))' "$1" 2>/dev/null || echo 0
}

# ---- capture -----------------------------------------------------------------------

# capture_start NODE IFACE FILE SECONDS [FILTER]: tshark on a link, bounded by SECONDS;
# PID in CAPTURE_PID. Returns once tshark is capturing.
capture_start() {
  local n="$1" ifc="$2" f="$3" t="$4" filter="${5:-}"
  need_tool tshark
  start_bg "$n" "$f.log" tshark -q -i "$ifc" -a "duration:$t" -w "$f" ${filter:+-f "$filter"}
  CAPTURE_PID=$BG_PID
  wait_for 10 "tshark on $n/$ifc" grep -q "Capturing on" "$f.log" || fail "tshark did not start, see $f.log"
}

# capture_stop [PID]: stop a capture (SIGINT lets tshark finish the file).
capture_stop() { stop_pid "${1:-$CAPTURE_PID}" 10 INT; }

# capture_count FILE DISPLAY_FILTER: packets matching a tshark display filter. An invalid
# filter prints tshark's error and counts -1, so no comparison with a count passes.
capture_count() {
  local out
  if out=$(tshark -r "$1" -Y "$2" 2>"$1.err"); then
    [ -n "$out" ] && echo "$out" | wc -l || echo 0
  else
    grep -v 'Running as user' "$1.err" >&2
    echo -1
  fi
}

# capture_only_ike_esp FILE: true when every IPv4 packet on the link is IKE or ESP in
# UDP (ports 500/4500), and at least one ESP packet was seen. Link-local multicast
# (224.0.0.0/24, such as the IGMP reports the kernel's bridge sends when a port comes up)
# is link control, not traffic that could have bypassed the tunnel, so it is not counted.
capture_only_ike_esp() {
  local other esp
  other=$(capture_count "$1" 'ip && !(udp.port == 500 || udp.port == 4500) && !(ip.dst == 224.0.0.0/24)')
  esp=$(capture_count "$1" 'esp')
  log "capture $1: $esp ESP packets, $other packets other than IKE/ESP"
  [ "$other" = 0 ] && [ "$esp" -gt 0 ]
}

# capture_esp_in_order FILE: in the capture's order, every ESP SPI's sequence numbers
# strictly increase (RFC 4303 section 3.3.3), and at least 100 ESP packets were seen.
# tshark decodes the first ESP packet of a UDP GSO super-packet only, so a capture taken
# before segmentation checks the first packet of each send.
capture_esp_in_order() {
  local result
  result=$(tshark -r "$1" -Y esp -T fields -e esp.spi -e esp.sequence 2>"$1.err" | awk '
    NF == 2 {
      n++
      if (($1 in last) && $2 + 0 <= last[$1] + 0) {
        bad++
        if (bad <= 5) printf "SPI %s: sequence number %s after %s\n", $1, $2, last[$1] > "/dev/stderr"
      }
      last[$1] = $2
    }
    END { printf "%d %d %d\n", n, bad, length(last) }')
  read -r n bad spis <<<"$result"
  log "capture $1: $n ESP packets on $spis SPIs, $bad out of sequence order"
  [ "${n:-0}" -ge 100 ] && [ "${bad:-1}" = 0 ]
}

# capture_not_malformed FILE: tshark's full decode reports no malformed packet.
capture_not_malformed() {
  local n
  n=$(tshark -r "$1" -V 2>&1 | grep -ci malformed)
  [ "$n" = 0 ] || { tshark -r "$1" -V 2>&1 | grep -i -B 20 malformed | head -n 60; }
  [ "$n" = 0 ]
}

# ---- network faults ----------------------------------------------------------------

# silence NODE: drop every packet in and out of the node's WAN interface (nftables), so
# the node looks dead without losing its state.
silence() {
  nx "$1" nft -f - <<'EOF' || fail "nft failed in $1"
table inet rampart_silence {
  chain input { type filter hook input priority -300; policy accept; iifname "wan0" drop; }
  chain output { type filter hook output priority -300; policy accept; oifname "wan0" drop; }
}
EOF
  LAB_SILENCED+=("$1")
}

unsilence() { nx "$1" nft delete table inet rampart_silence 2>/dev/null || true; }

# nat_insert: put a NAT router between gw and the WAN bridge. gw's outside address
# becomes 198.18.0.2/24 (default route via 198.18.0.1). Namespace "nat" masquerades it
# to 198.51.100.1 with random source ports, so NAT-T faces a real address and port change.
nat_insert() {
  local natns
  natns="$(ns nat)"
  ip netns add "$natns" || fail "cannot create namespace $natns"
  LAB_EXTRA_NS="${LAB_EXTRA_NS:-} $natns"
  ip -n "$natns" link set lo up
  ip netns exec "$natns" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0
  ip -n "$(ns gw)" link del wan0   # also removes the bridge port "gw" in wan
  ip -n "$(ns gw)" link add wan0 type veth peer name in0 netns "$natns"
  ip -n "$natns" link add out0 type veth peer name nat netns "$(ns wan)"
  ip -n "$(ns wan)" link set nat master br0 up
  ip -n "$(ns gw)" addr add 198.18.0.2/24 dev wan0
  ip -n "$(ns gw)" link set wan0 up
  ip -n "$(ns gw)" route replace default via 198.18.0.1
  ip -n "$natns" addr add 198.18.0.1/24 dev in0
  ip -n "$natns" addr add 198.51.100.1/24 dev out0
  ip -n "$natns" link set in0 up
  ip -n "$natns" link set out0 up
  ip netns exec "$natns" nft -f - <<'EOF' || fail "nft masquerade failed"
table ip rampart_nat {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    oifname "out0" masquerade random; }
}
EOF
}

# ---- IKE scenarios -------------------------------------------------------------------

# swan_ike_line NODE: the algorithm line of the first IKE SA, e.g.
# "AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1536".
swan_ike_line() { swan_sas "$1" | awk '/ESTABLISHED, IKEv2/ { getline; getline; getline; print $1; exit }'; }

# swan_esp_line NODE: the ESP algorithms of the first Child SA, e.g. "ESP:AES_GCM_16-256".
swan_esp_line() { swan_sas "$1" | grep -o 'ESP:[A-Z0-9_/-]*' | head -n 1; }

# swan_ids NODE: "local-id remote-id" of the first IKE SA.
swan_ids() { swan_sas "$1" | awk '$1 == "local" { l = $2 } $1 == "remote" { print l, $2; exit }' | tr -d "'"; }

# swan_log_clean NODE: the charon log shows no failed negotiation and no retransmission
# give-up. Either would mean that rampart's response was wrong or missing.
swan_log_clean() {
  ! grep -E 'giving up after|failed to establish|received [A-Z_]+ notify error|no acceptable proposal|rekeying failed|unable to (install|add)' \
    "$(swan_log "$1")"
}

# initiator_case LABEL GW_CFG EXPECT_IKE EXPECT_ESP [EDGE_NODE]: a strongSwan responder
# on the edge takes EDGE_IKE, EDGE_ESP, GW_ID and PSK_EDGE from the caller's environment.
# rampart initiates from gw with --initiate. The Child SA must come up with the expected
# algorithms, and rampart's SIGTERM must delete it on the edge (DELETE sent).
initiator_case() {
  local label="$1" cfg="$2" want_ike="$3" want_esp="$4" edge="${5:-edge1}" got t0 t1
  log "case $label: rampart initiates to strongSwan $edge"
  sw start "$edge" >/dev/null || { expect "$label: strongSwan $edge starts" false; return; }
  t0=$(now_ms)
  rampart_start gw "$cfg" --initiate
  if wait_for 20 "a Child SA on $edge" swan_has_child "$edge"; then
    t1=$(now_ms)
    log "$label: Child SA up on $edge after $((t1 - t0)) ms"
    expect "$label: Child SA established" true
    got="$(swan_ike_line "$edge")"
    expect "$label: IKE SA uses $want_ike (got $got)" [ "$got" = "$want_ike" ]
    got="$(swan_esp_line "$edge")"
    expect "$label: Child SA uses $want_esp (got $got)" [ "$got" = "$want_esp" ]
    expect "$label: exactly one IKE SA and one Child SA on $edge" \
      [ "$(swan_ike_count "$edge")-$(swan_child_count "$edge")" = 1-1 ]
  else
    expect "$label: Child SA established" false
  fi
  rampart_stop gw
  expect "$label: rampart's SIGTERM deleted the IKE SA on $edge" \
    wait_for 5 "IKE SA deleted on $edge" sh -c "[ \$(\"$SW_SH\" swanctl $edge --list-sas 2>/dev/null | grep -c ESTABLISHED) = 0 ]"
  expect "$label: $edge's log shows no failure" swan_log_clean "$edge"
  cp "$(swan_log "$edge")" "$LAB_STATE/$label-$edge-charon.log" 2>/dev/null
  cp "$(rampart_log gw)" "$LAB_STATE/$label-rampart-gw.log" 2>/dev/null
  sw stop "$edge" >/dev/null
}

# responder_case LABEL EDGE_CFG EXPECT_IKE EXPECT_ESP: rampart responds in edge1's place
# while the strongSwan branch in gw initiates with GW_IKE, ESP, GW_LOCAL_ID and PSK_EDGE
# from the environment. The Child SA must come up with the expected algorithms.
responder_case() {
  local label="$1" cfg="$2" want_ike="$3" want_esp="$4" got ms
  log "case $label: strongSwan gw initiates to rampart in edge1"
  rampart_start edge1 "$cfg"
  sw start gw >/dev/null || { expect "$label: strongSwan gw starts" false; rampart_stop edge1; return; }
  if ms=$(sw initiate primary 2>"$LAB_STATE/$label-initiate.err"); then
    log "$label: swanctl --initiate took $ms ms"
    expect "$label: Child SA established" true
    got="$(swan_ike_line gw)"
    expect "$label: IKE SA uses $want_ike (got $got)" [ "$got" = "$want_ike" ]
    got="$(swan_esp_line gw)"
    expect "$label: Child SA uses $want_esp (got $got)" [ "$got" = "$want_esp" ]
    expect "$label: exactly one IKE SA and one Child SA on gw" \
      [ "$(swan_ike_count gw)-$(swan_child_count gw)" = 1-1 ]
    sw terminate primary
    expect "$label: rampart answered strongSwan's DELETE" \
      wait_for 5 "IKE SA deleted on gw" sh -c "[ \$(\"$SW_SH\" swanctl gw --list-sas 2>/dev/null | grep -c ESTABLISHED) = 0 ]"
  else
    tail -n 5 "$LAB_STATE/$label-initiate.err"
    expect "$label: Child SA established" false
  fi
  expect "$label: gw's log shows no failure" swan_log_clean gw
  cp "$(swan_log gw)" "$LAB_STATE/$label-gw-charon.log" 2>/dev/null
  cp "$(rampart_log edge1)" "$LAB_STATE/$label-rampart-edge1.log" 2>/dev/null
  sw stop gw >/dev/null
  rampart_stop edge1
}

# swan_ike_uid NODE / swan_child_uid NODE: unique id of the newest IKE / Child SA
# ("branch: #7, ESTABLISHED" / "net: #12, reqid 1, INSTALLED"); each rekey increments it.
swan_ike_uid() { swan_sas "$1" | sed -n 's/^[a-z0-9]*: #\([0-9]*\), ESTABLISHED.*/\1/p' | sort -n | tail -n 1; }
swan_child_uid() { swan_sas "$1" | sed -n 's/^ *[a-z0-9]*: #\([0-9]*\), reqid.*INSTALLED.*/\1/p' | sort -n | tail -n 1; }

# rampart_config_ok CFG: `rampart check` finds no error in CFG (warnings allowed).
rampart_config_ok() {
  local rc
  "$(rampart_bin)" check "$1" >"$1.check" 2>&1
  rc=$?
  [ "$rc" -lt 2 ]
}

# watch_sas NODE SECONDS: sample the node's SAs every second. Fails when a sample shows
# more than two IKE SAs or two Child SAs, which is a duplicate beyond the make-before-break
# pair of a rekey, or no Child SA at all (an outage). Samples go to $LAB_STATE/watch-NODE.txt.
watch_sas() {
  local n="$1" t="$2" i ike child bad=0
  for ((i = 0; i < t; i++)); do
    ike=$(swan_ike_count "$n"); child=$(swan_child_count "$n")
    # The two counts come from separate swanctl calls, and charon briefly lists no
    # Child SA while it moves one to a new IKE SA, so a zero is sampled again before it counts.
    if [ "$child" = 0 ]; then sleep 0.3; child=$(swan_child_count "$n"); fi
    echo "$(date +%T) ike=$ike child=$child" >>"$LAB_STATE/watch-$n.txt"
    if [ "$ike" -gt 2 ] || [ "$child" -gt 2 ] || [ "$child" = 0 ]; then
      bad=$((bad + 1)); log "$n at $(date +%T): $ike IKE SAs, $child Child SAs"
    fi
    sleep 1
  done
  [ "$bad" = 0 ]
}

# single_peer CFG: keep only edge1 in the crypto map's peer list (no failover to edge2).
single_peer() { sed -i 's/^\(crypto map [^ ]* [0-9]* set peer\) .*/\1 198.51.100.2/' "$1"; }

# swan_kill NODE: SIGKILL the node's charon, so its SAs are lost without a DELETE.
swan_kill() {
  local p
  p="$(cat "$LAB_STATE/$1/run/charon.pid" 2>/dev/null)"
  [ -n "$p" ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = charon ] || return 0
  kill -KILL "$p"
  wait_for 5 "charon in $1 to exit" sh -c "! kill -0 $p"
  rm -f "$LAB_STATE/$1/run/charon.pid"
}

# ping_bg SECONDS: ping srv from host twice a second in the background, as traffic that
# makes rampart acquire SAs. The PID is in PING_PID and the output in $LAB_STATE/ping-bg.txt.
ping_bg() {
  start_bg host "$LAB_STATE/ping-bg.txt" ping -n -i 0.5 -W 1 -w "$1" "$SRV_ADDR"
  PING_PID=$BG_PID
}

# ---- impairment relay --------------------------------------------------------------

RELAY_ADDR=198.51.100.9

# relay_start SECONDS ARGS...: the UDP relay (interop/relay/udp-relay.py) in the WAN
# namespace on 198.51.100.9, relaying UDP 500 and 4500 to edge1; ARGS are impairment
# options (--loss 0.02 --dup 0.01 --reorder 0.02 --delay-ms 5 --seed 7). PID in RELAY_PID.
relay_start() {
  local t="$1"; shift
  ip -n "$(ns wan)" addr replace "$RELAY_ADDR/24" dev br0
  start_bg wan "$LAB_STATE/relay.log" python3 "$INTEROP_DIR/relay/udp-relay.py" \
    --listen "$RELAY_ADDR" --target 198.51.100.2 --port 500 --port 4500 --duration "$t" "$@"
  RELAY_PID=$BG_PID
  wait_for 5 "relay sockets" nx wan sh -c "ss -lun | grep -q '$RELAY_ADDR:4500'" || fail "relay did not start, see $LAB_STATE/relay.log"
}

# relay_config CFG: point the branch configuration's primary peer at the relay.
relay_config() { sed -i "s/198\.51\.100\.2\b/$RELAY_ADDR/g" "$1"; }

# ---- gateway scenarios -------------------------------------------------------------

# gw_up CFG [ARGS...]: strongSwan on both edges, rampart on gw, and a first successful
# ping host -> srv (the first packets may be dropped while the SAs are negotiated).
gw_up() {
  local cfg="$1"; shift
  sw start edge1 edge2 >/dev/null || fail "strongSwan edges did not start"
  rampart_start gw "$cfg" "$@"
  wait_for 30 "a first ping host -> srv" ping_srv "$HOST_ADDR" 1 ||
    fail "no ping reply host -> srv through rampart within 30 s"
}

# deny_host_add: the deny_traffic address on the inside host.
deny_host_add() { ip -n "$(ns host)" addr replace "$DENY_ADDR/24" dev lan0; }

# clear_path_on: cleartext routes gw <-> edge1 <-> srv ("plain on"), plus srv's route to
# the outside network, so that translated (PAT) and bypass traffic can reach srv and back.
clear_path_on() {
  "$LAB_SH" plain on
  ip -n "$(ns srv)" route replace 198.51.100.0/24 via 203.0.113.1
}

# tcp_probe PORT [SOURCE]: connect from host to srv:PORT and print the peer address that
# srv's listener saw (see tcp_listeners_start).
tcp_probe() {
  nx host timeout 5 socat -T 3 - "TCP:$SRV_ADDR:$1,connect-timeout=3${2:+,bind=$2}" </dev/null 2>/dev/null | head -n 1
}

# tcp_listeners_start PORT...: on srv, listeners that reply to each connection with the
# client address they accepted, so the test learns whether a flow was translated.
tcp_listeners_start() {
  local p
  for p in "$@"; do
    start_bg srv "$LAB_STATE/listen-$p.log" socat "TCP-LISTEN:$p,bind=$SRV_ADDR,reuseaddr,fork" \
      SYSTEM:'echo $SOCAT_PEERADDR'
  done
  wait_for 5 "listeners on srv" nx srv sh -c "ss -ltn | grep -q ':$1 '"
}

# cfg_deny_traffic CFG ADDR: the guide's deny_traffic object as `host ADDR`, denied first
# in the crypto ACL (added, with the object, before the ACL's first permit when absent).
cfg_deny_traffic() {
  local f="$1" addr="$2" acl
  if grep -q '^object network deny_traffic$' "$f"; then
    cfg_block "$f" 'object network deny_traffic' "host $addr"
  fi
  acl=$(awk '/^crypto map [^ ]+ [0-9]+ match address / { print $NF; exit }' "$f")
  [ -n "$acl" ] || fail "no crypto map match address line in $f"
  grep -q "^access-list $acl extended deny ip object deny_traffic any" "$f" && return 0
  awk -v acl="$acl" -v addr="$addr" -v has_obj="$(grep -c '^object network deny_traffic$' "$f")" '
    !done && $0 ~ "^access-list " acl " extended permit " {
      if (has_obj == 0) { print "object network deny_traffic"; print " host " addr }
      print "access-list " acl " extended deny ip object deny_traffic any"
      done = 1
    }
    { print }' "$f" >"$f.new" && mv "$f.new" "$f"
}

# rampart_ctl NODE COMMAND: send one command to rampart's control socket and print the
# JSON reply, e.g. rampart_ctl gw "show crypto ipsec stats". Fails without a socket.
rampart_ctl() {
  local sock="$LAB_STATE/rampart-$1.sock"
  [ -S "$sock" ] || return 1
  echo "$2" | timeout 10 socat -t 5 - "UNIX-CONNECT:$sock"
}

# json_packets_total: sum of every number under a key containing "packets" or "pkts"
# in the JSON document on stdin.
json_packets_total() {
  python3 -c '
import json, sys
def walk(v, key=""):
    if isinstance(v, dict):
        return sum(walk(x, k.lower()) for k, x in v.items())
    if isinstance(v, list):
        return sum(walk(x, key) for x in v)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and ("packets" in key or "pkts" in key):
        return v
    return 0
print(int(walk(json.load(sys.stdin))))'
}
