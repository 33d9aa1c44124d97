"""ip_masq_chain vs ansible.builtin.iptables in a loop (one task item per CIDR), in a private network namespace.

Both build the same chain: one RETURN rule per non-masquerade CIDR, the MASQUERADE rule and the POSTROUTING jump.
Measured in one run, on this machine: wall time of `ansible-playbook` (local connection), converge (empty nat
table) and no-op re-run, at 50 and 200 CIDRs; then ip_masq_chain alone at 5,000 and 20,000 CIDRs, with the time
of the module's own work (read, plan, write; a direct call of the module_utils) next to it. Usage:
    .venv/bin/python bench/bench_modules.py [--sizes 50,200] [--large 5000,20000]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, '.cache', 'collections'))
COMMENT = 'ip-masq-agent: local traffic is not subject to MASQUERADE'


def cidrs(n):
    return ['10.%d.%d.0/24' % (i // 256, i % 256) for i in range(n)]


def yaml_list(items, indent):
    return ''.join('%s- %s\n' % (' ' * indent, i) for i in items)


def loop_playbook(n):
    return '''- hosts: localhost
  gather_facts: false
  tasks:
    - name: The chain (ansible.builtin.iptables creates a chain only in a task without rule arguments)
      ansible.builtin.iptables:
        table: nat
        chain: IP-MASQ-AGENT
        chain_management: true
    - name: One RETURN rule per non-masquerade CIDR
      ansible.builtin.iptables:
        table: nat
        chain: IP-MASQ-AGENT
        destination: "{{ item }}"
        jump: RETURN
        comment: "%s"
      loop:
%s    - name: Masquerade the rest
      ansible.builtin.iptables:
        table: nat
        chain: IP-MASQ-AGENT
        jump: MASQUERADE
        comment: "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)"
    - name: Jump from POSTROUTING (ansible.builtin.iptables has no addrtype match, so no "! --dst-type LOCAL")
      ansible.builtin.iptables:
        table: nat
        chain: POSTROUTING
        jump: IP-MASQ-AGENT
''' % (COMMENT, yaml_list(cidrs(n), 8))


def config_playbook(path):
    """Large lists live in the agent's config file (written once by ip_masq_config or a template)."""
    return '''- hosts: localhost
  gather_facts: false
  tasks:
    - name: The chain from the agent config file
      ipmasq.agent.ip_masq_chain:
        config_path: %s
        lock_file: /tmp/ipmasq-bench.lock
''' % path


def module_playbook(n):
    return '''- hosts: localhost
  gather_facts: false
  tasks:
    - name: The chain in one task
      ipmasq.agent.ip_masq_chain:
        cidr_limit: %d
        lock_file: /tmp/ipmasq-bench.lock
        non_masquerade_cidrs:
%s''' % (max(n, 64), yaml_list(cidrs(n), 10))


class Netns(object):
    def __init__(self):
        self.name = 'ipmb-' + uuid.uuid4().hex[:8]
        subprocess.run(['ip', 'netns', 'add', self.name], check=True)

    def run(self, argv, **kw):
        check = kw.pop('check', False)
        return subprocess.run(['ip', 'netns', 'exec', self.name] + argv, capture_output=True, text=True, check=check,
                              **kw)

    def flush(self):
        self.run(['iptables', '-t', 'nat', '-F'])
        self.run(['iptables', '-t', 'nat', '-X'])

    def close(self):
        subprocess.run(['ip', 'netns', 'del', self.name], check=False)


def time_playbook(ns, text, tmp):
    path = os.path.join(tmp, 'play.yml')
    with open(path, 'w') as f:
        f.write(text)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.cache', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', LC_ALL='C.UTF-8')
    start = time.monotonic()
    proc = ns.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c',
                   'local', path], env=env, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit('playbook failed:\n%s\n%s' % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed


def module_utils_sync(ns_name, n):
    """The module's own work (one read, plan, one write), without Ansible's fixed cost: a direct call."""
    code = '''
import sys, time
sys.path.insert(0, %r)
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import cli, configfile, engine, host
s = configfile.load(data={'nonMasqueradeCIDRs': [%s], 'cidrLimit': %d}).validate()
t = time.monotonic(); r = engine.run(host.Host(cli.subprocess_runner, cli.which), lambda: s)
print(time.monotonic() - t, r.changed)
''' % (os.path.join(ROOT, '.cache', 'collections'), ', '.join(repr(c) for c in cidrs(n)), n)
    with tempfile.NamedTemporaryFile('w', suffix='.py', delete=False) as f:
        f.write(code)
    try:
        out = subprocess.run(['ip', 'netns', 'exec', ns_name, sys.executable, f.name], capture_output=True,
                             text=True, check=True).stdout.split()
    finally:
        os.unlink(f.name)
    return float(out[0]), out[1] == 'True'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', default='50,200')
    ap.add_argument('--large', default='5000,20000')
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(',') if x]
    large = [int(x) for x in args.large.split(',') if x]
    tmp = tempfile.mkdtemp()
    ns = Netns()
    rows = []
    try:
        for n in sizes:
            ns.flush()
            loop_conv = time_playbook(ns, loop_playbook(n), tmp)
            loop_noop = time_playbook(ns, loop_playbook(n), tmp)
            ns.flush()
            mod_conv = time_playbook(ns, module_playbook(n), tmp)
            mod_noop = time_playbook(ns, module_playbook(n), tmp)
            rows.append((n, loop_conv, loop_noop, mod_conv, mod_noop))
        big = []
        for n in large:
            cfg = os.path.join(tmp, 'ip-masq-agent-%d' % n)
            with open(cfg, 'w') as f:
                f.write('cidrLimit: %d\nnonMasqueradeCIDRs:\n%s' % (n, yaml_list(cidrs(n), 2)))
            ns.flush()
            conv = time_playbook(ns, config_playbook(cfg), tmp)
            noop = time_playbook(ns, config_playbook(cfg), tmp)
            ns.flush()
            own_conv, changed = module_utils_sync(ns.name, n)
            own_noop, changed2 = module_utils_sync(ns.name, n)
            assert changed and not changed2
            big.append((n, conv, noop, own_conv, own_noop))
    finally:
        ns.close()
    print('ansible-playbook wall time, seconds (local connection, network namespace, 2-core machine)')
    print('%8s %16s %16s %16s %16s %10s %10s' % ('CIDRs', 'iptables loop', 'loop no-op', 'ip_masq_chain',
                                                 'chain no-op', 'converge', 'no-op'))
    for n, lc, ln, mc, mn in rows:
        print('%8d %16.2f %16.2f %16.2f %16.2f %9.1fx %9.1fx' % (n, lc, ln, mc, mn, lc / mc, ln / mn))
    if big:
        print()
        print('ip_masq_chain alone (config_path): playbook wall time, and the module\'s own read/plan/write (direct call)')
        print('%8s %16s %16s %16s %16s' % ('CIDRs', 'converge', 'no-op', 'own converge', 'own no-op'))
        for n, conv, noop, oc, on in big:
            print('%8d %16.2f %16.2f %16.3f %16.3f' % (n, conv, noop, oc, on))
    last = [r for r in rows if r[0] == 200] or rows[-1:]
    if not last:
        return
    n, lc, ln, mc, mn = last[0]
    print('at %d CIDRs ip_masq_chain is %.1fx faster than the ansible.builtin.iptables loop on converge and %.1fx on '
          'no-op' % (n, lc / mc, ln / mn))


if __name__ == '__main__':
    main()
