#!/usr/bin/env bash
# IKE handshake benchmark: complete IKE_SA_INIT + IKE_AUTH handshakes (PSK, one Child SA)
# per second against one responder, for DH groups 14 (MODP-2048) and 19 (ECP-256).
# rampart's responder (`rampart run` with interop/configs/edge-lab.cfg adapted) and
# strongSwan's charon face the same load generator, benches/ikeload, which runs
# rampart-ike engines as concurrent initiators. The generator (198.51.100.1) and the responder
# (198.51.100.2) sit in two namespaces joined by a veth pair, because charon binds the
# wildcard address on UDP 500 and 4500 so both cannot share one. The responder is pinned to
# CPU 1 and the generator to CPU 0, so the rate is one responder core's. Also reported:
# the responder's CPU time per handshake, and its memory per IKE SA: MEM_PEERS (default
# 200) handshakes from as many source addresses to a fresh responder, growth of the
# resident set and of the live heap divided by the IKE SAs it holds.
#
# Usage: benches/handshakes.sh [-s SECONDS] [-c CONCURRENCY] [-o FILE]
#   defaults: -s 10 -c 8; appends a section to FILE (default BENCHMARKS-draft.md). Root.
set -uo pipefail
. "$(dirname "$0")/../interop/lib.sh"
SECS=10; CONC=8; OUTFILE="$REPO_DIR/BENCHMARKS-draft.md"
while getopts "s:c:o:" o; do
  case "$o" in s) SECS=$OPTARG;; c) CONC=$OPTARG;; o) OUTFILE=$OPTARG;; *) sed -n '2,14p' "$0"; exit 2;; esac
done
TEST_NAME=handshakes
lab_require
command -v taskset >/dev/null || skip "taskset (util-linux) is missing"
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs (responder and generator on separate cores)"

export LAB_PREFIX="rhs$$"
export LAB_STATE="/tmp/rampart-handshakes.$$"
mkdir -p "$LAB_STATE"
NS="$LAB_PREFIX-edge1"   # the name run-strongswan.sh expects for a responder
GEN_NS="$LAB_PREFIX-gen"
LAB_EXTRA_NS="$NS $GEN_NS"; LAB_UP=1
trap lab_cleanup EXIT
trap 'exit 130' INT TERM HUP
ip netns add "$NS" || fail "cannot create namespace $NS"
ip netns add "$GEN_NS" || fail "cannot create namespace $GEN_NS"
ip -n "$NS" link set lo up
ip -n "$GEN_NS" link set lo up
ip -n "$GEN_NS" link add wan0 type veth peer name wan0 netns "$NS"
ip -n "$GEN_NS" addr add 198.51.100.1/24 dev wan0
ip -n "$NS" addr add 198.51.100.2/24 dev wan0
# The responder's protected network: charon's userspace ESP installs a route per Child
# SA with a source address from it.
ip -n "$NS" addr add 203.0.113.1/24 dev lo
ip -n "$GEN_NS" link set wan0 up
# Sources of the memory phase: one address per IKE SA (see memory_phase).
MEM_PEERS="${MEM_PEERS:-200}"
# glibc tunables of both responders in the memory phase. By default the per-thread cache
# (tcache) is off: it keeps up to 7 freed chunks per size class and thread, which
# mallinfo counts as in use, so with it the heap figure also counts freed memory.
# MEM_TUNABLES= keeps glibc's defaults.
MEM_TUNABLES="${MEM_TUNABLES-glibc.malloc.tcache_count=0}"
[ "$MEM_PEERS" -le 240 ] || fail "MEM_PEERS must be at most 240 (198.51.100.10-249)"
for ((i = 0; i < MEM_PEERS; i++)); do ip -n "$GEN_NS" addr add "198.51.100.$((10 + i))/24" dev wan0; done
ip -n "$NS" link set wan0 up

RAMPART_OK=1
( rampart_require ) || { RAMPART_OK=0; log "rampart cannot run: only strongSwan is measured"; }
LOADGEN_DIR="$REPO_DIR/benches/ikeload"
LOADGEN_TARGET="${CARGO_TARGET_DIR:-$REPO_DIR/target}/ikeload"
log "building the load generator (benches/ikeload)"
(cd "$LOADGEN_DIR" && CARGO_TARGET_DIR="$LOADGEN_TARGET" timeout 1800 cargo build --release) >"$LAB_STATE/ikeload-build.log" 2>&1 ||
  { tail -n 30 "$LAB_STATE/ikeload-build.log"; fail "building benches/ikeload failed"; }
LOADGEN="$LOADGEN_TARGET/release/rampart-ikeload"
HZ=$(getconf CLK_TCK)

ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# Anonymous part of the resident set (heap, stacks), without the code pages that the
# first handshakes fault in once.
anon_kib() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status"; }

# kept_sas LABEL: the number of IKE SAs in the responder now (swanctl --stats or
# rampart's control socket), or empty when unknown.
kept_sas() {
  if [ "$1" = strongswan ]; then
    sw swanctl edge1 --stats 2>/dev/null | sed -n 's/^IKE_SAs: \([0-9]*\) total.*/\1/p'
  else
    rampart_ctl edge1 "show crypto ikev2 sa" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null
  fi
}

# measure LABEL PID GROUP: run the generator against the responder PID; prints a row
# "label group established failed per_second cpu_ms_per_hs bytes_per_kept_sa p50 p99 kept"
measure() {
  local label="$1" pid="$2" group="$3" t0 r0 t1 r1 out kept
  taskset -a -p -c 1 "$pid" >/dev/null
  sleep 1
  t0=$(ticks "$pid"); r0=$(rss_kib "$pid")
  out="$LAB_STATE/$label-g$group.json"
  ip netns exec "$GEN_NS" taskset -c 0 "$LOADGEN" --local 198.51.100.1 --target 198.51.100.2 --group "$group" \
    --seconds "$SECS" --concurrency "$CONC" >"$out" 2>"$out.err"
  sleep 1
  t1=$(ticks "$pid"); r1=$(rss_kib "$pid")
  kept=$(kept_sas "$label")
  python3 - "$out" "$label" "$group" $((t1 - t0)) "$HZ" $((r1 - r0)) "${kept:-0}" <<'PY' | tee -a "$LAB_STATE/rows.txt"
import json, sys
out, label, group, dticks, hz, drss, kept = sys.argv[1:]
try:
    d = json.loads(open(out).read().strip().splitlines()[-1])
except Exception as e:
    print(f"{label} {group} - - - - - - - -")
    sys.exit(0)
n = d["established"]
kept = int(kept)
cpu_ms = int(dticks) * 1000 / int(hz) / n if n else 0
# Memory per IKE SA only means something when the responder kept the SAs.
mem = f"{int(drss) * 1024 / kept:.0f}" if kept >= n / 2 and kept > 0 else "-"
print(f"{label} {group} {n} {d['failed']} {d['per_second']:.0f} {cpu_ms:.3f} {mem} {d['latency_ms_p50']:.2f} {d['latency_ms_p99']:.2f} {kept}")
PY
}

# heap_used LABEL: the responder's live heap in octets, from glibc's mallinfo: rampart's
# `show memory` (heap_used), strongSwan's `swanctl --stats` ("mallinfo: ... mmap M, used
# U", M + U). Empty when unknown.
heap_used() {
  if [ "$1" = strongswan ]; then
    sw swanctl edge1 --stats 2>/dev/null |
      sed -n 's/^mallinfo: .*mmap \([0-9]*\), used \([0-9]*\).*/\1 \2/p' | awk '{ print $1 + $2 }'
  else
    rampart_ctl edge1 "show memory" 2>/dev/null |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["heap_used"])' 2>/dev/null
  fi
}

# memory_phase LABEL PID: one group-19 handshake from each of MEM_PEERS addresses, each
# with its own identity, so the responder holds MEM_PEERS IKE SAs. Each new initiator
# sends INITIAL_CONTACT, after which both responders replace earlier IKE SAs of the same
# identity. The responder gets 6 s before the
# second reading, in which rampart's control plane returns freed heap to the kernel
# (every 5 s). Prints "label kept rss anon heap", the last three in bytes per kept SA.
memory_phase() {
  local label="$1" pid="$2" r0 r1 a0 a1 h0 h1 i kept heap
  taskset -a -p -c 1 "$pid" >/dev/null
  sleep 1
  r0=$(rss_kib "$pid")
  a0=$(anon_kib "$pid")
  h0=$(heap_used "$label")
  for ((i = 0; i < MEM_PEERS; i++)); do
    ip netns exec "$GEN_NS" taskset -c 0 "$LOADGEN" --local "198.51.100.$((10 + i))" --target 198.51.100.2 \
      --group 19 --seconds 5 --max 1 --concurrency 1 --id-offset "$i" >>"$LAB_STATE/$label-mem.json" 2>>"$LAB_STATE/$label-mem.err"
  done
  sleep 6
  r1=$(rss_kib "$pid")
  a1=$(anon_kib "$pid")
  h1=$(heap_used "$label")
  kept=$(kept_sas "$label")
  kept=${kept:-0}
  heap="-"
  [ -n "$h0" ] && [ -n "$h1" ] && [ "$kept" -gt 0 ] && heap=$(( (h1 - h0) / kept ))
  echo "$label $kept $(( kept > 0 ? (r1 - r0) * 1024 / kept : 0 )) $(( kept > 0 ? (a1 - a0) * 1024 / kept : 0 )) $heap" |
    tee -a "$LAB_STATE/mem.txt"
}

# mem_peers_config CFG: a tunnel group and a crypto map entry for each memory-phase address.
mem_peers_config() {
  local i a
  for ((i = 0; i < MEM_PEERS; i++)); do
    a="198.51.100.$((10 + i))"
    cfg_append "$1" "tunnel-group $a type ipsec-l2l" "tunnel-group $a general-attributes" \
      " default-group-policy EDGE-GRP" "tunnel-group $a ipsec-attributes" " peer-id-validate nocheck" \
      " ikev2 remote-authentication pre-shared-key $LAB_PSK" " ikev2 local-authentication pre-shared-key $LAB_PSK" \
      " isakmp keepalive threshold 3600 retry 10" \
      "crypto map outside_map $((100 + i)) match address EDGE_MAP" \
      "crypto map outside_map $((100 + i)) set peer $a" \
      "crypto map outside_map $((100 + i)) set ikev2 ipsec-proposal Edge-Proposal"
  done
}

# --- strongSwan responder -------------------------------------------------------------
cat >"$LAB_STATE/charon-bench.conf" <<'CONF'
# Half-open limits high enough for one generator address, and no DoS cookies, because
# rampart sends no cookie challenge below its own threshold either.
block_threshold = 100000
cookie_threshold = 100000
init_limit_half_open = 0
install_routes = no
CONF
for group in 14 19; do
  ike="aes256-sha256-prfsha256-modp2048"; [ "$group" = 19 ] && ike="aes256-sha256-prfsha256-ecp256"
  CHARON_EXTRA="$LAB_STATE/charon-bench.conf" IKE_LOG=0 EDGE_IKE="$ike" EDGE_ESP=aes256gcm16 \
    GW_ID=%any EDGE_DPD=0s LOCAL_TS=198.19.0.0/16 sw start edge1 >/dev/null || fail "strongSwan did not start"
  pid=$(cat "$LAB_STATE/edge1/run/charon.pid")
  measure strongswan "$pid" "$group"
  [ "$group" = 19 ] && { sw stop edge1 >/dev/null; GLIBC_TUNABLES="$MEM_TUNABLES" CHARON_EXTRA="$LAB_STATE/charon-bench.conf" IKE_LOG=0 \
    EDGE_IKE="$ike" EDGE_ESP=aes256gcm16 GW_ID=%any EDGE_DPD=0s LOCAL_TS=198.19.0.0/16 sw start edge1 >/dev/null &&
    memory_phase strongswan "$(cat "$LAB_STATE/edge1/run/charon.pid")"; }
  sw stop edge1 >/dev/null
done

# --- rampart responder -----------------------------------------------------------------
cfg="$LAB_STATE/rampart-responder.cfg"
edge_config "$cfg"
sed -i 's/^\( *\)subnet 198\.18\.1\.0 255\.255\.255\.0/\1subnet 198.19.0.0 255.255.0.0/' "$cfg"
for group in 14 19; do
  [ "$RAMPART_OK" = 1 ] || break
  cfg_ike "$cfg" aes-256 sha256 "$group" sha256
  cfg_keepalive "$cfg" 3600 10
  start_bg edge1 "$LAB_STATE/rampart-g$group.log" env RUST_LOG=warn "$(rampart_bin)" run --config "$cfg" \
    $(rampart_has_flag --control && echo --control "$LAB_STATE/rampart-edge1.sock")
  pid=$BG_PID
  sleep 1
  alive "$pid" || { tail -n 20 "$LAB_STATE/rampart-g$group.log"; fail "rampart responder exited at start"; }
  measure rampart "$pid" "$group"
  stop_pid "$pid" 10
done
if [ "$RAMPART_OK" = 1 ]; then
  mem_peers_config "$cfg"
  start_bg edge1 "$LAB_STATE/rampart-mem.log" env GLIBC_TUNABLES="$MEM_TUNABLES" RUST_LOG=warn "$(rampart_bin)" run --config "$cfg" \
    $(rampart_has_flag --control && echo --control "$LAB_STATE/rampart-edge1.sock")
  pid=$BG_PID
  sleep 1
  if alive "$pid"; then memory_phase rampart "$pid"; else tail -n 20 "$LAB_STATE/rampart-mem.log"; fi
  stop_pid "$pid" 10
fi

# --- report ------------------------------------------------------------------------------
rate() { awk -v l="$1" -v g="$2" '$1 == l && $2 == g { print $5 }' "$LAB_STATE/rows.txt"; }
{
  echo
  echo "# IKE handshakes (draft)"
  echo
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) vCPU, kernel $(uname -r)."
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`benches/handshakes.sh -s $SECS -c $CONC\`: benches/ikeload"
  echo "starts IKE_SA_INIT + IKE_AUTH handshakes (PSK, AES-CBC-256, HMAC-SHA2-256, one ESP AES-GCM-256"
  echo "Child SA) with $CONC in flight for $SECS s. Responder pinned to CPU 1, generator to CPU 0;"
  echo "the generator does the same DH work as the responder, so a rate near the generator's own"
  echo "limit understates the faster responder (CPU ms per handshake is the steadier figure)."
  echo "Memory is the responder's resident set growth divided by the IKE SAs it still holds"
  echo "after the run (\"-\" when it holds fewer than half of those established)."
  echo
  echo "| responder | DH group | handshakes | failed | per second | responder CPU ms per handshake | IKE SAs kept | bytes per kept IKE SA | latency p50 / p99 ms |"
  echo "|---|---|---|---|---|---|---|---|---|"
  awk '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n", $1, $2, $3, $4, $5, $6, $10, $7, $8, $9 }' "$LAB_STATE/rows.txt"
  echo
  echo "Memory per IKE SA (with one Child SA): $MEM_PEERS handshakes (group 19) from $MEM_PEERS source"
  echo "addresses to a freshly started responder; growth of the resident set, of its anonymous"
  echo "part (without code pages faulted in by the first handshakes) and of the live heap (glibc"
  echo "mallinfo: rampart's \`show memory\`, strongSwan's \`swanctl --stats\`) divided by the IKE SAs"
  echo "held, read 6 s after the last handshake. GLIBC_TUNABLES of both responders:"
  echo "\`${MEM_TUNABLES:-glibc defaults}\`."
  echo
  echo "| responder | IKE SAs held | resident set bytes per IKE SA | anonymous resident bytes per IKE SA | live heap bytes per IKE SA |"
  echo "|---|---|---|---|---|"
  awk '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$LAB_STATE/mem.txt" 2>/dev/null
  echo
  for g in 14 19; do
    echo "Group $g: rampart / strongSwan handshake rate = $(awk -v a="$(rate rampart $g)" -v b="$(rate strongswan $g)" 'BEGIN { if (a != "" && b > 0) printf "%.2fx", a / b; else print "-" }')."
  done
} >>"$OUTFILE"
log "results appended to $OUTFILE"
cat "$LAB_STATE/rows.txt"
