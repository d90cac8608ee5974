#!/usr/bin/env bash
# Builds (once) a Debian-unstable chroot holding Debian's matrix-synapse package: Synapse is
# only packaged for unstable, and this machine runs stable. The chroot lives outside the clone
# (MXCAST_SYNAPSE_CHROOT, default /var/cache/mxcast/synapse-sid) so later runs start in
# seconds. A marker file written last says the build is complete; without it the chroot is
# rebuilt from scratch. Needs root (debootstrap, chroot). See docs/matrix.md.
#
# Usage: scripts/matrix-chroot.sh            build if absent or incomplete, print the path
#        scripts/matrix-chroot.sh --check    exit 0 when the cached chroot is complete
set -euo pipefail

root=${MXCAST_SYNAPSE_CHROOT:-/var/cache/mxcast/synapse-sid}
marker="$root/.mxcast-synapse-ready"
# The Debian mirror apt already uses on this machine (the only one reachable in CI).
mirror=${MXCAST_DEBIAN_MIRROR:-$(grep -hsoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' \
  /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
  head -1 | awk '{print $2}' || true)}
mirror=${mirror:-http://deb.debian.org/debian}

if [ "${1:-}" = --check ]; then
  [ -f "$marker" ] && exit 0 || exit 1
fi
if [ -f "$marker" ]; then
  echo "$root"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "matrix-chroot: building $root needs root (debootstrap, chroot)" >&2
  exit 1
fi
# One build at a time (two test runs starting together): the second waits, then finds the marker.
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9
if [ -f "$marker" ]; then
  echo "$root"
  exit 0
fi

start=$(date +%s)
echo "matrix-chroot: building Debian sid chroot with matrix-synapse in $root (mirror $mirror)" >&2
rm -rf "$root"
mkdir -p "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# debootstrap from Debian's own package, unpacked without installing it on the host.
debootstrap_bin=$(command -v debootstrap || true)
if [ -z "$debootstrap_bin" ]; then
  (cd "$work" && apt-get download -qq debootstrap >/dev/null)
  dpkg -x "$work"/debootstrap_*.deb "$work/ds"
  export DEBOOTSTRAP_DIR="$work/ds/usr/share/debootstrap"
  debootstrap_bin="$work/ds/usr/sbin/debootstrap"
fi
"$debootstrap_bin" --variant=minbase sid "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -30 "$work/debootstrap.log" >&2
  exit 1
}

# The unstable Release file on a snapshot mirror may be past its Valid-Until date.
echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99mxcast"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# Services must not start inside the chroot while packages install.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
# matrix-synapse's postinst asks for the server name through debconf; preseed it.
echo 'matrix-synapse matrix-synapse/server-name string localhost' >"$root/tmp/preseed"
echo 'matrix-synapse matrix-synapse/report-stats boolean false' >>"$root/tmp/preseed"
# /proc for the maintainer scripts, in a private mount namespace: it vanishes with the command,
# so an interrupted build never leaves a mount under the cache directory.
unshare --mount --propagation private sh -c 'mount -t proc proc "$1/proc" && exec chroot "$1" \
  /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c "
    apt-get update -qq && apt-get install -y -qq debconf-utils >/dev/null 2>&1
    debconf-set-selections /tmp/preseed
    apt-get install -y -qq --no-install-recommends matrix-synapse >/dev/null && apt-get clean"' \
  sh "$root" >"$work/apt.log" 2>&1 || {
  tail -30 "$work/apt.log" >&2
  exit 1
}
chroot "$root" /usr/bin/python3 -c 'import synapse; print(synapse.__version__)' >"$root/.mxcast-synapse-version"
date -u +%FT%TZ >"$marker"
echo "matrix-chroot: ready in $(($(date +%s) - start)) s: synapse $(cat "$root/.mxcast-synapse-version")" >&2
echo "$root"
