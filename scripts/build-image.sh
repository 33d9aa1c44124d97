#!/usr/bin/env bash
# Builds the molecule/demo test image from Debian packages (no registry): mmdebstrap bookworm minbase with python3,
# the agent's libraries, iptables, nftables and systemd, imported into podman. Tagged with a hash of this recipe;
# skipped when that image exists. Prints the image name.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/containers.conf}
SUITE=bookworm
MIRROR=${IPMASQ_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3,python3-yaml,python3-netaddr,python3-apt,iptables,iproute2,nftables,systemd,systemd-sysv,dbus,procps,conntrack,kmod
RECIPE="$SUITE $MIRROR minbase merged-usr $PACKAGES recipe-v1"
TAG=$(printf '%s' "$RECIPE" | sha256sum | cut -c1-12)
IMAGE=localhost/ipmasq-test:$TAG
# One build at a time (molecule scenarios started together all ask for the image)
exec 9>/tmp/ipmasq-build-image.lock
flock 9
if podman image exists "$IMAGE"; then
  podman tag "$IMAGE" localhost/ipmasq-test:latest
  echo "$IMAGE"
  exit 0
fi
echo "build-image: building $IMAGE (mmdebstrap $SUITE)" >&2
# The hooks are run by mmdebstrap, which passes the root directory as $1: single quotes on purpose.
# shellcheck disable=SC2016
mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --customize-hook='echo "ipmasq-test" > "$1/etc/hostname"' \
  --customize-hook='rm -f "$1/etc/machine-id"; touch "$1/etc/machine-id"' \
  "$SUITE" - "$MIRROR" |
  podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$IMAGE" >/dev/null
podman tag "$IMAGE" localhost/ipmasq-test:latest
echo "$IMAGE"
