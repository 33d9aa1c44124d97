#!/usr/bin/env bash
# Builds the molecule/demo test image from Debian packages (no registry): mmdebstrap minbase of a Debian suite with
# python3, the agent's libraries, iptables, nftables and systemd, imported into podman.
#   bash scripts/build-image.sh [SUITE...]     SUITE: bookworm (the default), trixie
# Each image is tagged with a hash of its recipe (skipped when that image exists) and with its suite's name
# (localhost/ipmasq-test:bookworm, :trixie); :latest stays bookworm. Prints one image name per suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/containers.conf}
REPO=localhost/ipmasq-test
MIRROR=${IPMASQ_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3,python3-yaml,python3-netaddr,python3-apt,iptables,iproute2,nftables,systemd,systemd-sysv,dbus,procps,conntrack,kmod
# The suites this project tests on (roles/ip_masq_agent/meta/main.yml lists the same). mmdebstrap verifies each
# suite's Release file with the host's keyring: bookworm's debian-archive-keyring holds trixie's keys from
# 2023.3+deb12u2 on (Debian 12.11); an older host keyring is refused here, before anything is downloaded.
SUITES=(bookworm trixie)
KEYRINGS=/usr/share/keyrings

build() {
  local suite=$1 recipe tag image
  # bookworm's recipe text is unchanged from the single-suite script, so its cached image keeps its hash
  recipe="$suite $MIRROR minbase merged-usr $PACKAGES recipe-v1"
  tag=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
  image=$REPO:$tag
  if ! podman image exists "$image"; then
    if [ ! -e "$KEYRINGS/debian-archive-$suite-stable.gpg" ]; then
      echo "build-image: no $KEYRINGS/debian-archive-$suite-stable.gpg on this host: upgrade debian-archive-keyring" \
        "(bookworm: 2023.3+deb12u2 or later) to build $suite" >&2
      exit 1
    fi
    echo "build-image: building $image (mmdebstrap $suite)" >&2
    # The hooks are run by mmdebstrap, which passes the root directory as $1: single quotes on purpose.
    # shellcheck disable=SC2016
    mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --customize-hook='echo "ipmasq-test" > "$1/etc/hostname"' \
      --customize-hook='rm -f "$1/etc/machine-id"; touch "$1/etc/machine-id"' \
      "$suite" - "$MIRROR" |
      podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$image" >/dev/null
  fi
  podman tag "$image" "$REPO:$suite"
  if [ "$suite" = bookworm ]; then
    podman tag "$image" "$REPO:latest"
  fi
  echo "$image"
}

[ $# -gt 0 ] || set -- bookworm
for suite in "$@"; do
  case " ${SUITES[*]} " in
    *" $suite "*) ;;
    *) echo "build-image: unknown suite '$suite' (known: ${SUITES[*]})" >&2; exit 2 ;;
  esac
done
# One build at a time (molecule scenarios started together all ask for the image)
exec 9>/tmp/ipmasq-build-image.lock
flock 9
for suite in "$@"; do
  build "$suite"
done
