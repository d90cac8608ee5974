#!/usr/bin/env bash
# The development Matrix stack in the foreground: Debian's Synapse (in the cached Debian-unstable
# chroot that scripts/matrix-chroot.sh builds), an `mxcast relay`, and nginx in front with
# deploy/matrix/nginx-matrix.conf.template, on free loopback ports. Prints one JSON line on
# stdout (URLs, users, tokens), a summary on stderr; Ctrl-C stops it. Needs root (chroot,
# unshare) and nginx. See docs/matrix.md.
#
#   scripts/matrix-stack.sh [--users alice,bob] [--server-name mxcast.test] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nginx >/dev/null 2>&1 || PATH="$PATH:/usr/sbin"
exec node --import tsx tests/matrix/matrix-stack-cli.ts "$@"
