#!/usr/bin/env bash
# Builds the Debian 12 (bookworm) root filesystem the real-systemd tests boot with systemd-nspawn,
# and stores it as a tarball: build-image.sh OUTPUT.tar [MIRROR]
# The image is a minimal host plus what a service host has: systemd as PID 1, Python with venv,
# and Debian's Java trust store (ca-certificates-java with a headless JRE) so its update hook runs.
# It has sudo (the documented commands use it) but no procps or pip: the service must work without them.
set -euo pipefail

out=${1:?usage: build-image.sh OUTPUT.tar [MIRROR]}
mirror=${2:-}
if [ -z "$mirror" ]; then
  # The mirror this machine's apt already uses (deb822 or one-line sources).
  mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

work=$(mktemp -d "$(dirname "$out")/image.XXXXXX")
rootfs=$work/rootfs
cleanup() {
  umount -R "$rootfs/proc" 2>/dev/null || true
  umount -R "$rootfs/sys" 2>/dev/null || true
  umount -R "$rootfs/dev" 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,python3,python3-venv,ca-certificates,openssl,sudo \
  bookworm "$rootfs" "$mirror"

# ca-certificates-java's postinst starts a JVM: it needs /proc (and /dev, /sys) inside the chroot.
mount -t proc proc "$rootfs/proc"
mount --rbind /sys "$rootfs/sys" && mount --make-rslave "$rootfs/sys"
mount --rbind /dev "$rootfs/dev" && mount --make-rslave "$rootfs/dev"
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends ca-certificates-java openjdk-17-jre-headless
chroot "$rootfs" apt-get clean
umount -R "$rootfs/dev" "$rootfs/sys" "$rootfs/proc"

# A machine id and a hostname, as an installed system has; no root password needed (nsenter).
: >"$rootfs/etc/machine-id"
echo rotator-test >"$rootfs/etc/hostname"

tar -C "$rootfs" -cf "$out.part" .
mv "$out.part" "$out"
echo "image: $out ($(du -h "$out" | cut -f1))"
