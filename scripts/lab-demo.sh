#!/usr/bin/env bash
# Runs the guide's tunnel in a namespace lab. It builds rampart, creates the lab
# namespaces and starts two strongSwan edges (primary and backup). It then starts
# `rampart run` with examples/lab/zscaler-lab.cfg in the gateway namespace and pings the
# server behind the edges from the inside host. At the end it prints the edge's view of
# the SAs and removes everything it started. Needs root, /dev/net/tun and strongSwan,
# which scripts/install-deps.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "$(id -u)" != 0 ]; then
  echo "lab-demo: must run as root (it creates network namespaces)" >&2
  exit 1
fi
scripts/install-deps.sh
cargo build --release -q -p rampart
rampart="${CARGO_TARGET_DIR:-$root/target}/release/rampart"

export LAB_PREFIX=rdemo LAB_STATE=/tmp/rampart-demo
rampart_pid=""
cleanup() {
  if [ -n "$rampart_pid" ] && kill -0 "$rampart_pid" 2>/dev/null; then
    kill -TERM "$rampart_pid"
    for _ in $(seq 1 50); do kill -0 "$rampart_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  lab/run-strongswan.sh stop >/dev/null 2>&1 || true
  lab/netns-lab.sh down >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

mkdir -p "$LAB_STATE"
lab/netns-lab.sh up
echo "starting strongSwan on edge1 (primary) and edge2 (backup)..."
if ! lab/run-strongswan.sh start edge1 edge2 >"$LAB_STATE/strongswan-start.log" 2>&1; then
  cat "$LAB_STATE/strongswan-start.log" >&2
  exit 1
fi
ip netns exec rdemo-gw "$rampart" run --config examples/lab/zscaler-lab.cfg --initiate \
  >"$LAB_STATE/rampart.log" 2>&1 &
rampart_pid=$!

echo "waiting for the tunnel to edge1 (primary)..."
up=0
for _ in $(seq 1 30); do
  if ip netns exec rdemo-host ping -c 1 -W 1 203.0.113.10 >/dev/null 2>&1; then up=1; break; fi
  kill -0 "$rampart_pid" 2>/dev/null || break
done
if [ "$up" != 1 ]; then
  echo "lab-demo: no ping through the tunnel; rampart log follows" >&2
  cat "$LAB_STATE/rampart.log" >&2
  exit 1
fi
ip netns exec rdemo-host ping -c 3 203.0.113.10
echo "--- edge1 (strongSwan) sees:"
lab/run-strongswan.sh swanctl edge1 --list-sas 2>/dev/null
echo "--- rampart log:"
cat "$LAB_STATE/rampart.log"
