#!/usr/bin/env bash
# Builds homelab-test/busybox:1, the tiny image the Docker tests run, from the host's static busybox
# (Debian: busybox-static). Nothing is pulled. Does nothing when the image exists.
set -euo pipefail
image=homelab-test/busybox:1
docker image inspect "$image" >/dev/null 2>&1 && exit 0
busybox=$(command -v busybox || echo /bin/busybox)
# ldd fails on a static binary, which is what the image needs.
if ldd "$busybox" >/dev/null 2>&1; then echo "$busybox is not static: apt-get install -y busybox-static" >&2; exit 1; fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin"
cp "$busybox" "$dir/bin/busybox"
for a in sh sleep echo yes cat head tail tr kill true false ls dd nc httpd; do ln -s busybox "$dir/bin/$a"; done
tar -C "$dir" -c . | docker import -c 'CMD ["/bin/sh"]' - "$image" >/dev/null
echo "built $image"
