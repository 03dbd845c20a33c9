#!/usr/bin/env bash
# Runs every interop test in this folder (files named t-*.sh), or the ones named as
# arguments. Each test builds its own network namespaces and removes them; a test that
# cannot run prints SKIP with a reason. Each test is stopped after
# INTEROP_TEST_TIMEOUT seconds (default 600), which counts as a failure.
set -uo pipefail
cd "$(dirname "$0")"
limit="${INTEROP_TEST_TIMEOUT:-600}"
passed=0 failed=0 skipped=0
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(t-*.sh)
for t in "${tests[@]}"; do
  t="${t##*/}"
  [ -e "$t" ] || { echo "no such test: $t"; failed=$((failed + 1)); continue; }
  echo "=== interop: $t"
  start=$(date +%s)
  timeout -k 20 "$limit" bash "$t"
  rc=$?
  echo "=== $t: exit $rc after $(( $(date +%s) - start )) s"
  case $rc in
    0) passed=$((passed + 1)) ;;
    77) skipped=$((skipped + 1)); echo "SKIPPED: $t" ;;
    124) failed=$((failed + 1)); echo "FAILED: $t (timed out after $limit s)" ;;
    *) failed=$((failed + 1)); echo "FAILED: $t" ;;
  esac
done
echo "interop: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
