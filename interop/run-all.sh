#!/usr/bin/env bash
# Runs every interop test in this folder (files named t-*.sh). Each test builds its own
# network namespaces and removes them; a test that cannot run prints SKIP with a reason.
set -uo pipefail
cd "$(dirname "$0")"
passed=0 failed=0 skipped=0
for t in t-*.sh; do
  [ -e "$t" ] || continue
  echo "=== interop: $t"
  bash "$t"
  case $? in
    0) passed=$((passed + 1)) ;;
    77) skipped=$((skipped + 1)); echo "SKIPPED: $t" ;;
    *) failed=$((failed + 1)); echo "FAILED: $t" ;;
  esac
done
echo "interop: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
