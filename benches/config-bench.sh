#!/usr/bin/env bash
# Times `rampart check` against ciscoconfparse2 on the same generated 100,000-line ASA
# running-config, in one hyperfine run, pinned to one CPU, and prints the ratio.
#
# Usage: benches/config-bench.sh [LINES]
# Needs: cargo, python3 with venv, hyperfine. Installs ciscoconfparse2 into
# /tmp/ccp-venv on first use. Writes /tmp/asa-bench-LINES.cfg and /tmp/asa-bench.json.
set -euo pipefail

lines=${1:-100000}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cfg=/tmp/asa-bench-$lines.cfg
venv=/tmp/ccp-venv

cargo build --release -p rampart --manifest-path "$root/Cargo.toml" >&2
python3 "$root/benches/config-gen.py" "$lines" > "$cfg"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q ciscoconfparse2
fi

# `rampart check` exits 1 on warnings; hyperfine must not treat that as a failure.
hyperfine --warmup 2 --runs 10 -N --ignore-failure \
    --export-json /tmp/asa-bench.json \
    -n rampart "taskset -c 0 $target/release/rampart check $cfg --profile zscaler" \
    -n ciscoconfparse2 "taskset -c 0 $venv/bin/python $root/benches/config-ccp.py $cfg"

python3 - <<'PY'
import json
r = {x["command"]: x for x in json.load(open("/tmp/asa-bench.json"))["results"]}
a, b = r["rampart"], r["ciscoconfparse2"]
print(f"rampart check:   mean {a['mean']:.3f} s  (min {a['min']:.3f} s)")
print(f"ciscoconfparse2: mean {b['mean']:.3f} s  (min {b['min']:.3f} s)")
print(f"ratio (ciscoconfparse2 / rampart, mean): {b['mean'] / a['mean']:.1f}x")
PY
