#!/usr/bin/env bash
# Builds the small Debian 12 (bookworm) root filesystem the fleet tests copy once per managed host
# (reached with Ansible's chroot connection), stored as a tarball: build-image.sh OUTPUT.tar [MIRROR]
# A minimal host plus what rotator and Ansible need on it: Python with venv (the role installs
# rotator the way docs/service.md does), the CA bundle, openssl. No systemd, no JRE.
set -euo pipefail

out=${1:?usage: build-image.sh OUTPUT.tar [MIRROR]}
mirror=${2:-}
if [ -z "$mirror" ]; then
  # The mirror this machine's apt already uses (deb822 or one-line sources).
  mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -v security | grep debian | head -n1 || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /debian/ && $2 !~ /security/ {print $2; exit}' \
    /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/fleet-image.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
rootfs=$work/rootfs

# Bounded: a mirror that stalls must not hold CI for its 90 minutes.
timeout 900 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,openssl \
  bookworm "$rootfs" "$mirror"
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
echo fleet-host >"$rootfs/etc/hostname"

tar -C "$rootfs" -cf "$out.part" .
mv "$out.part" "$out"
echo "image: $out ($(du -h "$out" | cut -f1))"
