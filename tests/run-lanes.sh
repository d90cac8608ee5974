#!/usr/bin/env bash
# `npm test` for the end-to-end suites. By default one vitest process runs every file of both
# projects of vitest.config.ts (the Matrix suites, and the rest) one at a time.
# MXCAST_TEST_LANES=2 starts one process per project at once (each still one file at a time):
# the whole `npm test` ~23 min instead of ~29 on 2 cores, but the two lanes share the cores, and in four clean-clone
# runs that way six timing-sensitive end-to-end tests failed once each (README "Timings").
# Arguments (a file filter, --reporter …) go to every lane. Fails if any lane fails.
cd "$(dirname "$0")"
PATH="$PWD/node_modules/.bin:$PWD/../node_modules/.bin:$PATH"
if [ "${MXCAST_TEST_LANES:-1}" != 2 ]; then
  exec vitest run "$@"
fi
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
