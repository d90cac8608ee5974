#!/usr/bin/env bash
# The README's first command: set up, build the web app, then run the relay with the web page
# and a live demo broadcast on http://127.0.0.1:8008 (MXCAST_PORT to change it).
set -euo pipefail
cd "$(dirname "$0")/.."
MXCAST_SYSTEM_PACKAGES=${MXCAST_SYSTEM_PACKAGES:-"espeak-ng"} MXCAST_SETUP_SYNAPSE=0 bash scripts/setup.sh
echo "start: building the web app"
bash scripts/pnpm.sh --filter @mxcast/web run build >/dev/null
# ./mxcast, not `pnpm exec`: a global pnpm of another version refuses the pinned one.
exec ./mxcast relay --demo --port "${MXCAST_PORT:-8008}" "$@"
