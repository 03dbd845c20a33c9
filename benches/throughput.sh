#!/usr/bin/env bash
# Throughput benchmark: every tunnel between the lab's inside host and srv, in one run.
# Each mode gets iperf3 TCP (1 and 4 streams), a small-packet UDP rate and the CPU time
# of its tunnel processes per gigabit:
#   plain            routing with no tunnel (the ceiling)
#   xfrm-*           kernel ESP (skipped on kernels without CONFIG_INET_ESP)
#   libipsec-*       strongSwan's userspace ESP on both ends
#   boringtun(-1t)   WireGuard in userspace (boringtun-cli), default threads and one thread
#   rampart-gcm/null rampart on gw and on edge1, ESP AES-GCM-256 / NULL + HMAC-SHA-256,
#                    ESP in UDP 4500 forced on both ends (libipsec always encapsulates)
#   rampart-*-esp    the same with plain ESP (IP protocol 50), as negotiated without NAT
#   floor            benches/tunfloor: rampart's TUN and UDP paths with no cryptography,
#                    the ceiling of rampart's data plane on this machine
# The measuring is lab/baseline.sh; this script installs boringtun and wg when missing,
# builds rampart, writes rampart's two configurations, and turns the results into
# BENCHMARKS-draft.md at the repository root.
#
# Usage: benches/throughput.sh [-t SECONDS] [-r REPS] [-m "MODES"] [-o FILE]
#   defaults: -t 10 -r 3, all modes, -o BENCHMARKS-draft.md. Needs root.
set -uo pipefail
. "$(dirname "$0")/../interop/lib.sh"
TEST_NAME=throughput
T=10; R=3; OUTFILE="$REPO_DIR/BENCHMARKS-draft.md"
MODES="plain xfrm-static xfrm-gcm xfrm-null libipsec-gcm libipsec-null boringtun boringtun-1t rampart-gcm rampart-null rampart-gcm-esp rampart-null-esp floor"
while getopts "t:r:m:o:" o; do
  case "$o" in t) T=$OPTARG;; r) R=$OPTARG;; m) MODES=$OPTARG;; o) OUTFILE=$OPTARG;;
    *) sed -n '2,18p' "$0"; exit 2;; esac
done
lab_require
need_tool iperf3 python3

# boringtun-cli and wg (see lab/README.md: without --no-install-recommends Debian pulls in
# a kernel image through wireguard-dkms)
if ! command -v boringtun-cli >/dev/null && [ ! -x /opt/boringtun/bin/boringtun-cli ]; then
  echo "installing boringtun-cli into /opt/boringtun"
  cargo install boringtun-cli --locked --root /opt/boringtun || echo "boringtun-cli install failed: its modes will be skipped"
fi
if ! command -v wg >/dev/null; then
  echo "installing wireguard-tools (wg)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wireguard-tools >/dev/null ||
    echo "wireguard-tools install failed: the boringtun modes will be skipped"
fi

export LAB_PREFIX="rbench$$"
export LAB_STATE="/tmp/rampart-bench.$$"
mkdir -p "$LAB_STATE/cfg"
rampart_require
export RAMPART_BIN RAMPART_CFG_DIR="$LAB_STATE/cfg"
RAMPART_BIN="$(rampart_bin)"
# The copy-only floor builds in a workspace of its own, into the same target directory.
export TUNFLOOR_BIN="${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/rampart-tunfloor"
if ! cargo build --release --quiet --manifest-path "$REPO_DIR/benches/tunfloor/Cargo.toml" \
    --target-dir "${CARGO_TARGET_DIR:-$REPO_DIR/target}"; then
  echo "building benches/tunfloor failed: the floor mode will be skipped"
  TUNFLOOR_BIN=""
fi
for esp in gcm null; do
  gw_config "$RAMPART_CFG_DIR/gw-$esp.cfg"
  single_peer "$RAMPART_CFG_DIR/gw-$esp.cfg"
  cfg_esp "$RAMPART_CFG_DIR/gw-$esp.cfg" "$esp"
  edge_config "$RAMPART_CFG_DIR/edge-$esp.cfg"
  cfg_esp "$RAMPART_CFG_DIR/edge-$esp.cfg" "$esp"
done

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$LAB_DIR/baseline.sh" -t "$T" -r "$R" -n 5 -p -m "$MODES" -o "$LAB_STATE/results" | tee "$LAB_STATE/baseline.txt"
summary="$LAB_STATE/results/summary.tsv"

# median Mbit/s of MODE with STREAMS streams, or empty
median() { awk -F'\t' -v m="$1" -v s="$2" '$1 == "tcp" && $2 == m && $3 == s { print $5 }' "$summary"; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }' || echo "-"; }
best_boringtun() {
  awk -F'\t' -v s="$1" '$1 == "tcp" && $2 ~ /^boringtun/ && $3 == s && $5 > b { b = $5 } END { if (b) print b }' "$summary"
}

{
  echo "# Throughput (draft)"
  echo
  echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) vCPU, kernel $(uname -r)."
  echo "Run: $started, \`benches/throughput.sh -t $T -r $R\` (lab/baseline.sh underneath: iperf3 TCP $T s,"
  echo "$R runs per row, host -> srv through gw and edge1; client, server, both tunnel ends and the"
  echo "forwarding share the machine's cores). Single runs vary by about 20%; compare rows of one run."
  echo "Load average before the run: $load_before (other work on the machine lowers every row)."
  echo
  echo "| mode | streams | min | median | max (Mbit/s) | CPU s per Gbit (both ends) |"
  echo "|---|---|---|---|---|---|"
  awk -F'\t' '$1 == "tcp" { printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7 }' "$summary"
  echo
  echo "Small packets (iperf3 UDP, 64-byte payloads, unlimited rate, $T s), packets per second received:"
  echo
  echo "| mode | packets/s |"
  echo "|---|---|"
  awk -F'\t' '$1 == "pps" { printf "| %s | %s |\n", $2, $3 }' "$summary"
  echo
  echo "Ratios of medians (targets: 10x strongSwan's userspace ESP, 2x boringtun, 0.5x plain routing,"
  echo "1.0x kernel XFRM where the kernel has ESP):"
  echo
  echo "| streams | rampart-gcm / libipsec-gcm | rampart-gcm / best boringtun | rampart-gcm / plain | rampart-gcm / floor | floor / plain | rampart-null / libipsec-null | rampart-gcm-esp / libipsec-gcm | rampart-gcm / xfrm-gcm |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for s in 1 4; do
    echo "| $s | $(ratio "$(median rampart-gcm $s)" "$(median libipsec-gcm $s)") | $(ratio "$(median rampart-gcm $s)" "$(best_boringtun $s)") | $(ratio "$(median rampart-gcm $s)" "$(median plain $s)") | $(ratio "$(median rampart-gcm $s)" "$(median floor $s)") | $(ratio "$(median floor $s)" "$(median plain $s)") | $(ratio "$(median rampart-null $s)" "$(median libipsec-null $s)") | $(ratio "$(median rampart-gcm-esp $s)" "$(median libipsec-gcm $s)") | $(ratio "$(median rampart-gcm $s)" "$(median xfrm-gcm $s)") |"
  done
  echo
  echo "Skipped in this run:"
  echo
  grep '^skipped: ' "$LAB_STATE/baseline.txt" | sed 's/^skipped: /- /' || echo "- nothing"
} >"$OUTFILE"
echo "results written to $OUTFILE (raw output in $LAB_STATE/results)"
