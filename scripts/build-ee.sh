#!/usr/bin/env bash
# Builds the execution environment (EE) for AWX / Ansible Automation Platform / ansible-navigator, with no registry:
#   1. the base image: mmdebstrap bookworm (python3, pip, git, ssh comes later from bindep) imported into podman as
#      localhost/ipmasq-ee-base:<recipe hash>; skipped when that image exists;
#   2. a wheelhouse (.cache/ee/wheels) with the pins of requirements-dev.txt (ansible-core, ansible-runner, bindep,
#      PyYAML, netaddr, kubernetes) and the rest of requirements.txt, downloaded by the host's pip;
#   3. the collection tarball (ansible-galaxy collection build of this checkout);
#   4. ansible-builder build of ee/execution-environment.yml with podman: the base image is local (--pull=never), the
#      wheelhouse is a build-time volume (no layer keeps it) and pip inside the build uses only it (no index);
#      system packages (bindep.txt) come from Debian's mirror through ee/ee-apt.
# The EE is tagged localhost/ipmasq-ee:<collection version>-<hash of every input> and :latest; skipped when that tag
# exists. Prints the image name on stdout (everything else goes to stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/containers.conf}
export PATH=$ROOT/.venv/bin:$PATH
WORK=$ROOT/.cache/ee
mkdir -p "$WORK"
log() { echo "build-ee: $*" >&2; }

# --- 1. base image -------------------------------------------------------------------------------------------------
SUITE=bookworm
MIRROR=${IPMASQ_DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES=python3,python3-pip,python3-venv,git,ca-certificates,dumb-init
BASE_RECIPE="$SUITE $MIRROR minbase merged-usr $BASE_PACKAGES $(sha256sum ee/ee-apt | cut -c1-64) ee-base-v2"
BASE_IMAGE=localhost/ipmasq-ee-base:$(printf '%s' "$BASE_RECIPE" | sha256sum | cut -c1-12)
exec 9>/tmp/ipmasq-build-ee.lock
flock 9
if ! podman image exists "$BASE_IMAGE"; then
  log "building $BASE_IMAGE (mmdebstrap $SUITE)"
  start=$(date +%s)
  # The hooks are run by mmdebstrap, which passes the root directory as $1: single quotes on purpose.
  # shellcheck disable=SC2016
  # No manuals, no translations (the copyright files stay): about 60 MB less in every EE built on it.
  mmdebstrap --quiet --variant=minbase --include="$BASE_PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --customize-hook='upload ee/ee-apt /usr/local/sbin/ee-apt' \
    --customize-hook='chmod 0755 "$1/usr/local/sbin/ee-apt"' \
    --customize-hook='rm -f "$1/etc/machine-id"' \
    "$SUITE" - "$MIRROR" |
    podman import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  log "base image built in $(($(date +%s) - start))s"
fi
podman tag "$BASE_IMAGE" localhost/ipmasq-ee-base:latest

# --- 2. wheelhouse -------------------------------------------------------------------------------------------------
# The versions are requirements-dev.txt's pins (one source of truth); requirements.txt says what the collection needs.
pins=$(grep -E '^(ansible-core|ansible-runner|bindep|PyYAML|netaddr|kubernetes)==' requirements-dev.txt)
for p in ansible-core ansible-runner bindep; do
  grep -q "^$p==" <<<"$pins" || { log "requirements-dev.txt pins no $p (needed in the EE)"; exit 1; }
done
WHEELS=$WORK/wheels
WHEEL_RECIPE="$pins $(sha256sum requirements.txt | cut -c1-64) packaging wheels-v1"
if [ ! -f "$WHEELS/.recipe" ] || [ "$(cat "$WHEELS/.recipe")" != "$WHEEL_RECIPE" ]; then
  log "downloading the wheelhouse"
  rm -rf "$WHEELS"
  mkdir -p "$WHEELS"
  printf '%s\n' "$pins" >"$WORK/constraints.txt"
  # shellcheck disable=SC2046 # the pins are words on purpose
  pip download -q --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 \
    -d "$WHEELS" -c "$WORK/constraints.txt" -r requirements.txt packaging \
    $(grep -E '^(ansible-core|ansible-runner|bindep)==' <<<"$pins")
  printf '%s' "$WHEEL_RECIPE" >"$WHEELS/.recipe"
fi

# --- 3. the collection ---------------------------------------------------------------------------------------------
rm -rf "$WORK/collections"
mkdir -p "$WORK/collections"
ansible-galaxy collection build --force --output-path "$WORK/collections" . >&2
tarball=$(ls "$WORK"/collections/ipmasq-agent-*.tar.gz)
version=${tarball##*/ipmasq-agent-}
version=${version%.tar.gz}
mv "$tarball" "$WORK/collections/ipmasq-agent.tar.gz"
# FILES.json holds the checksum of every file: the collection's content, not the tarball's timestamps.
files_sum=$(tar -xzOf "$WORK/collections/ipmasq-agent.tar.gz" FILES.json | sha256sum | cut -c1-64)

# --- 4. ansible-builder --------------------------------------------------------------------------------------------
EE_RECIPE="$BASE_IMAGE $WHEEL_RECIPE $files_sum $(sha256sum <ee/execution-environment.yml | cut -c1-64) $(ansible-builder --version)"
EE_IMAGE=localhost/ipmasq-ee:$version-$(printf '%s' "$EE_RECIPE" | sha256sum | cut -c1-12)
if ! podman image exists "$EE_IMAGE"; then
  log "building $EE_IMAGE (ansible-builder)"
  start=$(date +%s)
  rm -rf "$WORK/context"
  ansible-builder build -v 3 --container-runtime podman --file ee/execution-environment.yml --context "$WORK/context" \
    --tag "$EE_IMAGE" --build-arg EE_BASE_IMAGE="$BASE_IMAGE" \
    --extra-build-cli-args "--pull=never --volume $WHEELS:/tmp/ee-wheels:ro" >&2
  log "EE built in $(($(date +%s) - start))s"
fi
podman tag "$EE_IMAGE" localhost/ipmasq-ee:latest
# Earlier builds of this script (each collection change makes one) are dropped: only this one and :latest stay.
podman image ls --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/ipmasq-ee:' |
  grep -vxF -e "$EE_IMAGE" -e localhost/ipmasq-ee:latest | xargs -r podman rmi >/dev/null 2>&1 || true
echo "$EE_IMAGE"
