#!/usr/bin/env bash
# `npm test` for the end-to-end suites: two vitest processes at once, one per project of
# vitest.config.ts (the Matrix suites, and the rest), each running its files one at a time.
# Arguments (a file filter, --reporter …) go to both. Fails if either lane fails.
cd "$(dirname "$0")"
PATH="$PWD/node_modules/.bin:$PWD/../node_modules/.bin:$PATH"
vitest run --project matrix --passWithNoTests "$@" &
matrix=$!
vitest run --project local --passWithNoTests "$@" &
local_=$!
# Stopped (Ctrl-C, a CI timeout): stop both lanes, not just this script.
trap 'kill "$matrix" "$local_" 2>/dev/null; exit 130' INT TERM
status=0
wait "$matrix" || status=$?
wait "$local_" || status=$?
exit "$status"
