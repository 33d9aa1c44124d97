"""One engine, two doors: for every row of the spec, each family and each backend, the module ``ip_masq_chain`` and the
host program given the same inputs leave byte-identical kernel state (real iptables-nft, iptables-legacy, nftables in
network namespaces), or both refuse the input and leave nothing.

The module runs as Ansible runs it on a host (its ``main()``, arguments from a JSON file, ``run_command``); the host
program runs as the timer runs it. Inputs come from the spec itself: a file knob goes to the module as its option and to
the program through the config file; a runtime knob as the option and as the flag.
"""
import json
import os
import re
import sys

import pytest
import yaml

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import FIELDS, FILE
from tests.lib.netns import ROOT, Netns

COLLECTIONS = os.path.join(ROOT, '.cache', 'collections')
FAMILY_OPTS = {'ipv4': 'ipv4', 'ipv6': 'ipv6', 'both': 'both'}


def sample(name, families):
    """A value other than the default for each row (some are refused in some families: then both doors refuse it)."""
    v6 = 'ipv6' in families
    return {
        'non_masquerade_cidrs': ['10.0.0.0/8', '192.168.0.0/16'] + (['fd00::/8'] if v6 else []),
        'cidr_limit': 2,  # upstream's default list has 3: refused by both
        'masq_link_local': True,
        'masq_link_local_ipv6': True,
        'resync_interval': '30s',
        'masquerade_cidrs': ['203.0.113.0/24'] + (['2001:db8::/32'] if v6 else []),
        'snat_to_source': '198.51.100.7',
        'snat_to_source_ipv6': '2001:db8::7',  # refused where IPv6 is off
        'aggregate': True,
        'required_cidrs': ['10.1.0.0/16', '100.64.0.0/10'],  # the second is masqueraded by default: refused
        'jump_position': 'first',
        'force_masquerade_cidrs': ['10.20.0.0/24'] + (['fd00:1::/64'] if v6 else []),
        'masquerade_source_cidrs': ['192.168.10.0/24', '10.244.0.0/16'] + (['fd00:10::/64'] if v6 else []),
        'skip_dnat': True,
        'chain': 'MASQ-PARITY',
        'nomasq_all_reserved_ranges': True,
        'random_fully': False,
        'to_ports': '1024-2047',
        'wait': 5,
        'lock_file': None,  # set per namespace below
    }[name]


ROWS = [f for f in FIELDS if f.name not in ('ip_version', 'backend')]
BACKENDS = [('iptables', 'nft'), ('iptables', 'legacy'), ('nftables', 'nft')]


def spelt(text):
    """The text with every spelling of a knob (option, file key, flag) made one."""
    names = dict((word, f.name) for f in FIELDS for word in (f.key, f.flag, f.name) if word)
    pattern = r'(?<![\w-])(%s)(?![\w-])' % '|'.join(re.escape(w) for w in sorted(names, key=len, reverse=True))
    return re.sub(pattern, lambda m: '<%s>' % names[m.group(1)], text)


def snapshot(ns):
    out = []
    for tool in ('iptables-save', 'ip6tables-save'):
        text = ns.run([tool, '-t', 'nat']).stdout
        out.append('\n'.join(l for l in text.splitlines() if not l.startswith('#')))
    nft = ns.run(['nft', 'list', 'table', 'inet', 'ip-masq-agent'], check=False)
    out.append(nft.stdout if nft.returncode == 0 else '<no table>')
    return '\n'.join(out)


def run_module(ns, params):
    args = os.path.join(ns.tmpdir, 'args-%s.json' % ns.name)
    with open(args, 'w') as f:
        json.dump({'ANSIBLE_MODULE_ARGS': params}, f)
    env = dict(ns.env, PYTHONPATH=COLLECTIONS)
    proc = ns.run([sys.executable, '-m', 'ansible_collections.ipmasq.agent.plugins.modules.ip_masq_chain', args],
                  check=False, env=env)
    return json.loads(proc.stdout[proc.stdout.index('{'):])


def run_program(ns, field, value, families, backend):
    cfg = os.path.join(ns.tmpdir, 'config-%s' % ns.name)
    argv = ['sync', '--config', cfg, '--ip-version', families, '--backend', backend, '--lock-file', ns.lock]
    data = {}
    if field.scope == FILE:
        data[field.key] = value
    elif field.kind == 'bool':
        argv.append(field.flag if value else '--no-' + field.flag[2:])
    elif field.name != 'lock_file':
        argv.append('%s=%s' % (field.flag, value))
    with open(cfg, 'w') as f:
        yaml.safe_dump(data, f)
    return ns.agent(*argv)


@pytest.mark.parametrize('backend,flavour', BACKENDS, ids=['iptables-nft', 'iptables-legacy', 'nftables'])
@pytest.mark.parametrize('families', ['ipv4', 'ipv6', 'both'])
@pytest.mark.parametrize('field', ROWS, ids=[f.name for f in ROWS])
def test_module_and_program_leave_identical_state(tmp_path, field, families, backend, flavour):
    a = Netns(flavour, str(tmp_path / 'module'))
    b = Netns(flavour, str(tmp_path / 'program'))
    try:
        value = sample(field.name, families) if field.name != 'lock_file' else a.lock
        params = {field.name: value, 'ip_version': FAMILY_OPTS[families], 'backend': backend, 'lock_file': a.lock}
        result = run_module(a, params)
        proc = run_program(b, field, value, families, backend)
        if result.get('failed'):
            assert proc.returncode == 2, (result['msg'], proc.stdout, proc.stderr)
            # the same reason, naming the knob as each door spells it (option, or file key / flag)
            assert spelt(result['msg']) in spelt(proc.stderr), (result['msg'], proc.stderr)
            empty = Netns(flavour, str(tmp_path / 'empty'))
            try:
                assert snapshot(a) == snapshot(b) == snapshot(empty)
            finally:
                empty.delete()
            return
        assert proc.returncode == 0, (result, proc.stderr)
        assert result['changed'] is True
        assert snapshot(a) == snapshot(b)
        # and each door reads the other's state as in sync
        assert run_module(b, params)['changed'] is False
        again = run_program(a, field, value, families, backend)
        assert again.returncode == 0 and 'changed' not in again.stdout, again.stdout
    finally:
        a.delete()
        b.delete()
