"""What the role costs per host on a fleet, against a ping play on the same hosts, in one run.

N podman hosts (systemd as PID 1, NET_ADMIN/NET_RAW/SYS_ADMIN, as molecule/fleet runs them) from
localhost/ipmasq-test:latest (`make image`), named ipmasq-bench-1..N and removed afterwards, even on failure. With the
containers.podman connection and --forks 10, in this order:
  converge  ansible-playbook playbooks/site.yml on fresh hosts
  no-op     the same, twice more (nothing to change: the run fails here if a re-run reports a change)
  (check)   each host: one jump to the agent's chain, timer and path unit active, the library equal to the
            collection's files (not timed; the run fails otherwise)
  ping      a play that only runs ansible.builtin.ping on the same hosts (no facts), twice
Each figure is the wall time of a whole ansible-playbook run (its start-up included, as a user pays it); the report
gives the ratios no-op/ping and converge/ping (the median no-op and the median ping) and the module executions per
host that bench/callback_plugins/module_count.py counted (results that ran a module on the target: not skipped, not
meta/set_fact/include_*/controller-only actions). Nothing here fails on a ratio: it reports.
Usage: bench/bench_fleet.py [--hosts 6] [--forks 10] [--image IMAGE] [--keep-logs DIR] [--collections-path DIR] [--tasks]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, '.venv', 'bin')
PING = '''- name: Ping
  hosts: k8s_nodes
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
'''


COLLECTIONS = os.path.join(ROOT, '.cache', 'collections')


def env():
    e = dict(os.environ, CONTAINERS_CONF=os.path.join(ROOT, 'containers.conf'), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
             ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false', PYTHONDONTWRITEBYTECODE='1',
             ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, 'bench', 'callback_plugins'),
             ANSIBLE_CALLBACKS_ENABLED='module_count', ANSIBLE_HOST_KEY_CHECKING='false',
             ANSIBLE_RETRY_FILES_ENABLED='false', ANSIBLE_NOCOLOR='1', LC_ALL='C.UTF-8', LANG='C.UTF-8')
    e['PATH'] = BIN + os.pathsep + e.get('PATH', '')
    return e


def podman(*argv, check=True):
    return subprocess.run(['podman'] + list(argv), env=env(), capture_output=True, text=True, check=check)


def start(names, image):
    for name in names:
        podman('run', '-d', '--name', name, '--hostname', name, '--systemd=always', '--cap-add',
               'NET_ADMIN,NET_RAW,SYS_ADMIN', image, '/sbin/init')
    # wait on the condition (systemd has finished booting), not on a delay
    for name in names:
        r = podman('exec', name, 'systemctl', 'is-system-running', '--wait', check=False)
        if r.stdout.strip() not in ('running', 'degraded'):
            raise SystemExit('%s: systemd did not come up: %r %r' % (name, r.stdout, r.stderr))


def remove(names):
    for name in names:
        podman('rm', '-f', '-t', '0', name, check=False)


def play(label, playbook, inventory, forks, logs):
    counts = os.path.join(logs, label + '.counts.json')
    argv = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory, '--forks', str(forks), playbook]
    t0 = time.monotonic()
    proc = subprocess.run(argv, env=dict(env(), IPMASQ_BENCH_COUNTS=counts), cwd=ROOT, capture_output=True,
                          text=True, check=False)
    seconds = time.monotonic() - t0
    with open(os.path.join(logs, label + '.log'), 'w') as f:
        f.write(proc.stdout + '\n--- stderr ---\n' + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit('%s failed (rc %d), log in %s:\n%s' % (label, proc.returncode, logs, proc.stdout[-4000:]))
    with open(counts) as f:
        data = json.load(f)
    changed = recap_changed(proc.stdout)
    return {'label': label, 'seconds': seconds, 'modules': data['hosts'], 'tasks': data['tasks'], 'changed': changed}


def recap_changed(stdout):
    """{host: changed=N} from the PLAY RECAP."""
    out = {}
    recap = stdout.split('PLAY RECAP', 1)[-1]
    for line in recap.splitlines():
        if ' : ' in line and 'changed=' in line:
            host = line.split(':', 1)[0].strip()
            out[host] = int(line.split('changed=', 1)[1].split()[0])
    return out


# After the converge, on each host: the agent's jump in place, the timer and the path unit active, and the sha256 of
# every installed library file (compared with the collection's own files).
PROBE = ('iptables-save -t nat | grep -c -- "-j IP-MASQ-AGENT$"; systemctl is-active ip-masq-agent.timer ip-masq-agent.path; '
         'cd /usr/local/lib/ip-masq-agent && find ipmasq -name "*.py" | sort | xargs sha256sum')


def check_converged(names):
    """Fail unless every host is in the state the converge should have left (a bench of a broken role is no bench)."""
    import hashlib
    lib = os.path.join(COLLECTIONS, 'ansible_collections', 'ipmasq', 'agent', 'plugins', 'module_utils')
    want = []
    for d, dirs, files in os.walk(os.path.join(lib, 'ipmasq')):
        dirs[:] = [x for x in dirs if x != '__pycache__']
        for name in files:
            if name.endswith('.py'):
                with open(os.path.join(d, name), 'rb') as f:
                    want.append('%s  %s' % (hashlib.sha256(f.read()).hexdigest(), os.path.relpath(os.path.join(d, name), lib)))
    for name in names:
        out = podman('exec', name, 'sh', '-c', PROBE, check=False).stdout.splitlines()
        if out[:3] != ['1', 'active', 'active'] or sorted(out[3:]) != sorted(want):
            raise SystemExit('%s is not converged: %s' % (name, '\n'.join(out[:3])))


def per_host(run):
    values = sorted(set(run['modules'].values()))
    return '/'.join(str(v) for v in values) if values else '0'


def main():
    global COLLECTIONS  # pylint: disable=global-statement
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--hosts', type=int, default=6)
    ap.add_argument('--forks', type=int, default=10)
    ap.add_argument('--image', default='localhost/ipmasq-test:latest')
    ap.add_argument('--keep-logs', help='write the playbook logs and counts here (default: a temporary directory)')
    ap.add_argument('--collections-path', default=COLLECTIONS,
                    help='where ansible_collections/ipmasq/agent is (e.g. a copy of an older commit, to measure it)')
    ap.add_argument('--tasks', action='store_true', help='also list the counted tasks of one host per run')
    args = ap.parse_args()
    COLLECTIONS = os.path.abspath(args.collections_path)
    if args.hosts < 1:
        ap.error('--hosts must be at least 1')
    names = ['ipmasq-bench-%d' % i for i in range(1, args.hosts + 1)]
    work = tempfile.mkdtemp(prefix='ipmasq-bench-fleet.')
    logs = args.keep_logs or work
    os.makedirs(logs, exist_ok=True)
    inventory = os.path.join(work, 'hosts.yml')
    with open(inventory, 'w') as f:
        f.write('k8s_nodes:\n  vars:\n    ansible_connection: containers.podman.podman\n'
                '    ansible_python_interpreter: /usr/bin/python3\n'
                '    ansible_become: false\n  hosts:\n')  # root in the container; no sudo there
        f.write(''.join('    %s:\n' % n for n in names))
    ping = os.path.join(work, 'ping.yml')
    with open(ping, 'w') as f:
        f.write(PING)
    site = os.path.join(COLLECTIONS, 'ansible_collections', 'ipmasq', 'agent', 'playbooks', 'site.yml')
    remove(names)  # leftovers of an interrupted run
    runs = []
    try:
        start(names, args.image)
        runs.append(play('converge', site, inventory, args.forks, logs))
        check_converged(names)
        for i in (1, 2):
            run = play('no-op %d' % i, site, inventory, args.forks, logs)
            if any(run['changed'].values()):
                raise SystemExit('%s reported changes %s: not a no-op (log in %s)' % (run['label'], run['changed'], logs))
            runs.append(run)
        for i in (1, 2):
            runs.append(play('ping %d' % i, ping, inventory, args.forks, logs))
    finally:
        remove(names)
        if not args.keep_logs and runs and len(runs) == 5:
            shutil.rmtree(work, ignore_errors=True)
    ping_s = statistics.median(r['seconds'] for r in runs if r['label'].startswith('ping'))
    noop_s = statistics.median(r['seconds'] for r in runs if r['label'].startswith('no-op'))
    print('%d hosts, forks %d, %s' % (args.hosts, args.forks, args.image))
    print('| run | wall time (s) | x ping | module executions per host |')
    print('|---|---|---|---|')
    for r in runs:
        print('| %s | %.1f | %.1f | %s |' % (r['label'], r['seconds'], r['seconds'] / ping_s, per_host(r)))
    print('')
    print('no-op/ping %.2f (median no-op %.1f s / median ping %.1f s); converge/ping %.2f'
          % (noop_s / ping_s, noop_s, ping_s, runs[0]['seconds'] / ping_s))
    if args.tasks:
        for r in runs:
            host = sorted(r['tasks'])[0]
            print('\n%s, %s:' % (r['label'], host))
            for name, action, n in r['tasks'][host]:
                print('  %d  %s  (%s)' % (n, name, action))
    return 0


if __name__ == '__main__':
    sys.exit(main())
