#!/usr/bin/env bash
# Sets up a fresh machine that has only Node.js (20, 22 or 24) and npm: pnpm through npx (no
# global install), the workspace's dependencies, the compiled `mxcast` command (apps/cli/dist,
# run by ./mxcast without pnpm), and (when run as root with apt-get) the Debian packages the
# tests and the demo use. Elsewhere it names the missing ones and goes on.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.8
want_system=${MXCAST_SYSTEM_PACKAGES:-"ffmpeg opus-tools chromium nginx nats-server"}

missing=()
for pkg in $want_system; do
  case $pkg in
    ffmpeg) command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg) ;;
    opus-tools) command -v opusinfo >/dev/null 2>&1 || missing+=(opus-tools) ;;
    chromium) [ -x /usr/bin/chromium ] || missing+=(chromium) ;;
    nginx) [ -x /usr/sbin/nginx ] || missing+=(nginx) ;;
    # tests/cluster: a three-server JetStream cluster on loopback (docs/operations.md "Cluster")
    nats-server) [ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null 2>&1 || missing+=(nats-server) ;;
    *) command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg") ;;
  esac
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install these system packages (Debian names): ${missing[*]}" >&2
  fi
fi

# Synapse for tests/matrix (docs/matrix.md): Debian's package in a Debian-unstable chroot, built
# once (about 75 s, 740 MB) and cached outside the clone; seconds when cached. `npm start` needs
# none of it (MXCAST_SETUP_SYNAPSE=0), so the demo does not wait for it.
if [ "${MXCAST_SETUP_SYNAPSE:-1}" = 0 ]; then
  :
elif [ "$(id -u)" = 0 ]; then
  bash scripts/matrix-chroot.sh >/dev/null ||
    echo "setup: the Synapse chroot could not be built: tests/matrix will fail (docs/matrix.md)" >&2
elif ! bash scripts/matrix-chroot.sh --check; then
  echo "setup: tests/matrix need the Synapse chroot, built as root: sudo scripts/matrix-chroot.sh" >&2
fi

echo "setup: installing workspace dependencies with pnpm $PNPM_VERSION"
npx --yes "pnpm@$PNPM_VERSION" install --frozen-lockfile --reporter=append-only

# The bundle takes well under a second (esbuild); ./mxcast and the npm tarball run it.
echo "setup: building the mxcast command (apps/cli/dist)"
node apps/cli/scripts/bundle-cli.mjs
