#!/bin/bash
# The main job on a fresh Debian 12 host, as root: set up, start incusd on the
# embedded defaults (SQLite, a dir pool), build and import a busybox image,
# launch a container and look at it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export INCUS_DIR="${INCUS_DIR:-/var/lib/incus}"
incus() { node bin/incus "$@"; }

if ! incus admin waitready --timeout 1 >/dev/null 2>&1; then
  mkdir -p "$INCUS_DIR"
  nohup node bin/incusd --logfile "$INCUS_DIR/incusd.log" >/dev/null 2>&1 &
  echo "incusd started (pid $!), logs in $INCUS_DIR/incusd.log"
fi
incus admin waitready --timeout 30
# A dir pool and a root disk, without a managed bridge: the main job needs no
# network, and this leaves the host's interfaces and firewall untouched
# (`incus admin init --auto` would also create incusbr0 with NAT).
incus storage show default >/dev/null 2>&1 || incus storage create default dir
incus profile device show default 2>/dev/null | grep -q '^root:' || \
  incus profile device add default root disk path=/ pool=default

if ! incus image info busybox >/dev/null 2>&1; then
  node bin/incus-image-builder busybox --output /tmp/busybox-incus.tar.xz
  incus image import /tmp/busybox-incus.tar.xz --alias busybox
fi

name="quickstart-$$"
incus launch busybox "$name"
incus list
incus info "$name"
incus exec "$name" -- uname -a
incus exec "$name" -- cat /etc/hostname
echo "Container $name is running. Remove it with: node bin/incus delete -f $name"
