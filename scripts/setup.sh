#!/usr/bin/env bash
# Installs everything the tests and the demo need on a fresh Debian 12 machine (run as root).
# Idempotent: each step is skipped when its stamp matches the recipe that made it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=$ROOT/.cache
mkdir -p "$CACHE"

# debian-archive-keyring: installing it upgrades an older one to the version with trixie's keys (2023.3+deb12u2,
# Debian 12.11), which build-image.sh needs to check the trixie image's packages.
APT_PACKAGES="debian-archive-keyring iptables iproute2 nftables podman runc mmdebstrap shellcheck conntrack socat git make python3-venv rsync python3-yaml python3-netaddr openssh-client"
stamp_ok() { [ -f "$CACHE/$1.stamp" ] && [ "$(cat "$CACHE/$1.stamp")" = "$2" ]; }

if ! stamp_ok apt "$APT_PACKAGES" || ! command -v iptables-legacy >/dev/null; then
  echo "setup: apt packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # a word list on purpose
  apt-get install -y -qq $APT_PACKAGES >/dev/null
  echo "$APT_PACKAGES" >"$CACHE/apt.stamp"
fi

REQ_HASH=$(sha256sum requirements-dev.txt | cut -c1-16)
if ! stamp_ok venv "$REQ_HASH" || [ ! -x .venv/bin/python ]; then
  echo "setup: python venv (.venv)"
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements-dev.txt
  echo "$REQ_HASH" >"$CACHE/venv.stamp"
fi

# Collections the tests need (no Galaxy here): taken from the 'ansible' wheel on PyPI.
COLL=$CACHE/collections/ansible_collections
ANSIBLE_WHEEL_VERSION=12.3.0
if ! stamp_ok collections "$ANSIBLE_WHEEL_VERSION" || [ ! -d "$COLL/containers/podman" ]; then
  echo "setup: collections containers.podman, kubernetes.core (from ansible==$ANSIBLE_WHEEL_VERSION wheel)"
  tmp=$(mktemp -d)
  .venv/bin/pip download -q --no-deps -d "$tmp" "ansible==$ANSIBLE_WHEEL_VERSION"
  rm -rf "$COLL/containers" "$COLL/kubernetes" "$COLL/community"
  mkdir -p "$COLL"
  (cd "$tmp" && python3 -m zipfile -e ansible-*.whl x >/dev/null)
  for c in containers/podman kubernetes/core ansible/posix; do
    mkdir -p "$COLL/$(dirname $c)"
    cp -a "$tmp/x/ansible_collections/$c" "$COLL/$c"
  done
  rm -rf "$tmp"
  echo "$ANSIBLE_WHEEL_VERSION" >"$CACHE/collections.stamp"
fi
# This checkout as ipmasq.agent, for ansible-playbook and molecule (a symlink is fine for them).
mkdir -p "$COLL/ipmasq"
ln -sfn "$ROOT" "$COLL/ipmasq/agent"
echo "setup: done"
