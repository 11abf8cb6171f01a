#!/bin/bash
# Installs everything a fresh Debian 12 host needs (as root), then the npm
# dependencies and the native + TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(lxc lxc-dev libdqlite-dev uidmap busybox-static lxcfs lxd-client tar xz-utils gzip zstd bzip2 rsync
          squashfs-tools btrfs-progs lvm2 debootstrap dnsmasq-base nftables iproute2 util-linux curl g++ make python3
          qemu-system-x86 qemu-utils ovmf dosfstools mtools gdisk systemd-boot-efi sshfs socat openssl)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh must run as root (apt packages, containers)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# liblxc insists that root owns subordinate id ranges once newuidmap is
# installed; reserve Incus's default range as its packages do.
for f in /etc/subuid /etc/subgid; do
  grep -qE '^(root|0):' "$f" 2>/dev/null || echo 'root:1000000:1000000000' >> "$f"
done

# Headers come from /usr/include/node; nothing may be downloaded at build time.
export npm_config_nodedir=/usr
export npm_config_build_from_source=true
npm ci --no-audit --no-fund
npm run build
