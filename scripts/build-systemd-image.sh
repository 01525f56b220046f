#!/usr/bin/env bash
# Builds homelab-test/systemd:1, a Debian root filesystem with systemd and dbus, for the systemd tests: a real
# systemd boots in it and its system bus is reached from the host. Nothing is pulled (debootstrap fetches Debian
# packages). Does nothing when the image exists. ~2 minutes, ~240 MB.
set -euo pipefail
image=homelab-test/systemd:1
docker image inspect "$image" >/dev/null 2>&1 && exit 0
command -v debootstrap >/dev/null || { echo "needs debootstrap: apt-get install -y debootstrap" >&2; exit 1; }
root=${HOMELAB_SYSTEMD_ROOTFS:-/var/tmp/homelab-systemd-rootfs}
if [ ! -x "$root/lib/systemd/systemd" ]; then
  rm -rf "$root"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$root" >/dev/null
fi
tar -C "$root" -c . | docker import -c 'CMD ["/lib/systemd/systemd"]' - "$image" >/dev/null
echo "built $image"
