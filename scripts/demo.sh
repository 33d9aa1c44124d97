#!/usr/bin/env bash
# make demo: three podman hosts running systemd, playbooks/site.yml against them, their rules, then clean-up.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CONTAINERS_CONF=$ROOT/containers.conf ANSIBLE_COLLECTIONS_PATH=$ROOT/.cache/collections LC_ALL=C.UTF-8
IMAGE=$(bash scripts/build-image.sh)
NET=ipmasq-demo
HOSTS=(ipmasq-demo-1 ipmasq-demo-2 ipmasq-demo-3)
cleanup() {
  podman rm -f -t 0 "${HOSTS[@]}" >/dev/null 2>&1 || true
  podman network rm -f "$NET" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
# --internal: the demo hosts reach nothing but each other
podman network create --internal "$NET" >/dev/null
for h in "${HOSTS[@]}"; do
  podman run -d --name "$h" --hostname "$h" --network "$NET" --systemd=always \
    --cap-add NET_ADMIN --cap-add NET_RAW --cap-add SYS_ADMIN "$IMAGE" /sbin/init >/dev/null
done
for h in "${HOSTS[@]}"; do
  for _ in $(seq 1 30); do
    state=$(podman exec "$h" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 1
  done
done
INV=$(mktemp --suffix=.yml)
{
  echo "k8s_nodes:"
  echo "  hosts:"
  for h in "${HOSTS[@]}"; do echo "    $h: {ansible_connection: containers.podman.podman, ansible_python_interpreter: /usr/bin/python3, ansible_become: false}"; done
} >"$INV"
echo "=== ansible-playbook -i <3 podman hosts> playbooks/site.yml"
"$ROOT/.venv/bin/ansible-playbook" -i "$INV" playbooks/site.yml
echo "=== second run: nothing to change"
"$ROOT/.venv/bin/ansible-playbook" -i "$INV" playbooks/site.yml | tail -n 5
rm -f "$INV"
for h in "${HOSTS[@]}"; do
  echo "=== $h: iptables -t nat -L IP-MASQ-AGENT -v -n"
  podman exec "$h" iptables -t nat -L IP-MASQ-AGENT -v -n
  echo "=== $h: systemctl list-timers ip-masq-agent.timer"
  podman exec "$h" systemctl list-timers ip-masq-agent.timer --no-pager
done
