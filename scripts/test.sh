#!/usr/bin/env bash
# The README's test command: set up, then typecheck, lint and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/pnpm.sh run check
bash scripts/pnpm.sh run lint
