#!/usr/bin/env bash
# The README's first command: set up, then run the relay with the web page and a live demo.
set -euo pipefail
cd "$(dirname "$0")/.."
MXCAST_SYSTEM_PACKAGES=${MXCAST_SYSTEM_PACKAGES:-"ffmpeg opus-tools"} bash scripts/setup.sh
exec bash scripts/pnpm.sh exec mxcast relay --demo "$@"
