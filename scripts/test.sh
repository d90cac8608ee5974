#!/usr/bin/env bash
# The README's test command: set up, then typecheck, lint and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 TURBO_NO_UPDATE_NOTIFIER=1
bash scripts/pnpm.sh run check
bash scripts/pnpm.sh run lint
