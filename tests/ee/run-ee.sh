#!/usr/bin/env bash
# The execution environment, proved (make ee, tier test-ee): builds it (scripts/build-ee.sh), starts two fleet nodes
# (ee/node/Containerfile: the test image with sshd and sudo) named ipmasq-ee-1..2 on the podman network ipmasq-ee,
# runs playbooks/site.yml inside the EE with ansible-navigator over SSH, checks the IP-MASQ-AGENT chain on every node,
# and runs the play again expecting changed=0 everywhere. Removes the nodes, the network and its files at the end.
# Exit 0 only when every step passed; the first failure is named.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/containers.conf}
export PATH=$ROOT/.venv/bin:$PATH
# Nothing from the checkout's collection path: the play must use the collection installed in the EE.
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_SCAN_SYS_PATH
NODES=(ipmasq-ee-1 ipmasq-ee-2)
NET=ipmasq-ee
fail() { echo "run-ee: FAILED: $*" >&2; exit 1; }
step() { echo "run-ee: $*" >&2; }
t0=$(date +%s)
since() { echo "$(($(date +%s) - $1))s"; }

WORK=$(mktemp -d /tmp/ipmasq-ee.XXXXXX)
cleanup() {
  podman rm -f --time 5 "${NODES[@]}" >/dev/null 2>&1 || true
  podman network rm "$NET" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# Leftovers of an interrupted run (these names are this script's own)
cleanup
mkdir -p "$WORK"

# --- the EE and the node image -------------------------------------------------------------------------------------
t=$(date +%s)
EE_IMAGE=$(bash scripts/build-ee.sh)
step "EE $EE_IMAGE ready in $(since "$t")"
t=$(date +%s)
NODE_BASE=$(bash scripts/build-image.sh bookworm)
podman build --quiet --pull=never --build-arg NODE_BASE="$NODE_BASE" \
  -t localhost/ipmasq-ee-node:latest ee/node >/dev/null
step "node image ready in $(since "$t")"
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
  grep -E "^(localhost/ipmasq-ee-base:latest|$EE_IMAGE|localhost/ipmasq-ee-node:latest) " | sed 's/^/run-ee: image /' >&2

# --- the fleet -----------------------------------------------------------------------------------------------------
mkdir -m 0700 "$WORK/ssh"
ssh-keygen -q -t ed25519 -N '' -C ipmasq-ee -f "$WORK/ssh/id_ed25519"
# The EE runs as uid 1000 (ansible-builder's default user): the key must be its own.
chown -R 1000:0 "$WORK/ssh"
# The nodes' network lies inside the play's node range (site.yml: nonMasqueradeCIDRs 10.0.0.0/20), where a controller
# sits. From any other network the first run breaks its own SSH connection: these nodes have no conntrack until the
# role writes the first nat rule, so the connection's next packet is taken as a new one, masqueraded with
# --random-fully, and lost (docs/execution-environment.md).
podman network create --subnet 10.0.14.0/24 "$NET" >/dev/null
for n in "${NODES[@]}"; do
  podman run -d --name "$n" --hostname "$n" --network "$NET" --systemd=always \
    --cap-add NET_ADMIN,NET_RAW,SYS_ADMIN localhost/ipmasq-ee-node:latest >/dev/null
  podman cp "$WORK/ssh/id_ed25519.pub" "$n:/home/ansible/.ssh/authorized_keys"
  podman exec "$n" chown ansible:ansible /home/ansible/.ssh/authorized_keys
done
# Wait for sshd on every node (a condition, bounded so a node that never boots fails the run)
for n in "${NODES[@]}"; do
  for _ in $(seq 1 120); do
    state=$(podman exec "$n" systemctl is-active ssh.service 2>/dev/null || true)
    [ "$state" = active ] && break
    sleep 1
  done
  [ "$state" = active ] || fail "sshd on $n is '$state' after 120 tries"
done
step "nodes ${NODES[*]} up, sshd active"

# --- the play inside the EE ----------------------------------------------------------------------------------------
# ansible-navigator refuses podman without a /dev/mqueue directory on the host (missing in some container-based CI
# machines, like this one): an empty directory satisfies it.
[ -d /dev/mqueue ] || mkdir /dev/mqueue
navigator() {
  # bounded: a play that hangs fails the run instead of holding CI
  timeout 1200 ansible-navigator run playbooks/site.yml -i ee/inventory.yml --mode stdout \
    --execution-environment true --container-engine podman \
    --execution-environment-image "$EE_IMAGE" --pull-policy never \
    --container-options="--network=$NET" --execution-environment-volume-mounts "$WORK/ssh:/ssh:ro" \
    --playbook-artifact-enable false --log-file "$WORK/navigator.log"
}
recap_changed() {
  # the PLAY RECAP's changed= of one host
  sed -n "s/^$2 *: .*changed=\([0-9]*\).*/\1/p" "$1"
}
for run in 1 2; do
  t=$(date +%s)
  rc=0
  # ansible-runner's event markers (ESC[K<base64>ESC[<n>DESC[K) are taken out of what is kept
  navigator 2>&1 | sed 's/\x1b\[K[A-Za-z0-9+\/=]*\x1b\[[0-9]*D\x1b\[K//g' | tee "$WORK/run$run.out" >&2 || rc=$?
  step "play run $run: exit $rc in $(since "$t")"
  [ "$rc" -eq 0 ] || fail "ansible-navigator run $run exited $rc"
  grep -q '^PLAY RECAP' "$WORK/run$run.out" || fail "run $run printed no PLAY RECAP"
  for n in "${NODES[@]}"; do
    changed=$(recap_changed "$WORK/run$run.out" "$n")
    [ -n "$changed" ] || fail "run $run: no recap line for $n"
    if [ "$run" = 1 ]; then
      [ "$changed" -gt 0 ] || fail "run 1 changed nothing on $n (the nodes are new: the role did not run)"
      nat=$(podman exec "$n" iptables-save -t nat)
      grep -q '^:IP-MASQ-AGENT ' <<<"$nat" || fail "no IP-MASQ-AGENT chain in $n's nat table: $nat"
      grep -q -- '-A POSTROUTING .*-j IP-MASQ-AGENT' <<<"$nat" || fail "no POSTROUTING jump to IP-MASQ-AGENT on $n: $nat"
      grep -q -- '-A IP-MASQ-AGENT -d 10.4.0.0/14 .*-j RETURN' <<<"$nat" || fail "$n's chain lacks 10.4.0.0/14: $nat"
      step "$n: IP-MASQ-AGENT chain in nat, jumped to from POSTROUTING"
    else
      if [ "$changed" -ne 0 ]; then
        grep -E '^(TASK|changed:)' "$WORK/run2.out" | grep -B1 '^changed:' >&2 || true
        fail "second run changed=$changed on $n (not idempotent; the changed tasks are above)"
      fi
    fi
  done
done
# The collection the play used is the EE's own copy
podman run --rm --pull=never "$EE_IMAGE" ansible-galaxy collection list ipmasq.agent 2>&1 | grep -q '^ipmasq.agent ' ||
  fail "ipmasq.agent is not installed in $EE_IMAGE"
step "passed: play in $EE_IMAGE over SSH on ${#NODES[@]} nodes, second run changed=0 ($(since "$t0") in all)"
