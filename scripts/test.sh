#!/usr/bin/env bash
# The README's test command: set up, then typecheck, build, run every test, lint; ends with one
# line totalling the tests of every package ("tests: N passed, N failed").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 TURBO_NO_UPDATE_NOTIFIER=1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
bash scripts/pnpm.sh run check 2>&1 | tee "$log" || status=$?
bash scripts/pnpm.sh run lint || status=$?

# vitest prints "Tests  N passed | M failed (T)" per package; sum them over the turbo log.
count() {
  sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E ':test: +Tests ' | grep -oE "[0-9]+ $1" |
    awk '{s += $1} END {print s + 0}'
}
echo "tests: $(count passed) passed, $(count failed) failed"
# CI keeps only the log's tail: name the failed tests there (vitest's "FAIL  file > test" lines).
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E ':test: +FAIL ' | sed -E 's/^([^:]+):test: +FAIL +/failed: \1 /' |
  sort -u | head -20 || true
exit "$status"
