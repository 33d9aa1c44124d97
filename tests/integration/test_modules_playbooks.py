"""The modules through real ansible-playbook runs (local connection) inside network namespaces, real iptables.

First run changed, second run `changed: false`, check mode changes nothing and predicts right, `state: absent`
leaves every other chain byte-identical, bad input fails cleanly with the host untouched.
"""
import json
import os
import sys

import pytest
import yaml

from tests.lib.netns import ROOT, foreign_lines, our_lines
from tests.integration.test_host_program import FOREIGN


def play(ns, tasks, check=False):
    """Run one play of `tasks` in the namespace; returns the per-task results for localhost."""
    path = os.path.join(ns.tmpdir, 'play-%d.yml' % len(os.listdir(ns.tmpdir)))
    for task in tasks:  # each namespace its own lock, so its own record of the last sync
        if 'ipmasq.agent.ip_masq_chain' in task:
            task['ipmasq.agent.ip_masq_chain'].setdefault('lock_file', ns.lock)
    with open(path, 'w') as f:
        yaml.safe_dump([{'name': 'test', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}], f)
    env = dict(ns.env, LC_ALL='C.UTF-8', LANG='C.UTF-8', ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.cache', 'collections'),
               ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCAL_TEMP=os.path.join(ns.tmpdir, 'ansible-tmp'), ANSIBLE_REMOTE_TEMP=os.path.join(ns.tmpdir, 'ansible-tmp'))
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
            '--diff', path] + (['--check'] if check else [])
    proc = ns.run(argv, check=False, env=env)
    try:
        out = json.loads(proc.stdout[proc.stdout.index('{'):])
    except ValueError:
        raise AssertionError('no JSON from ansible-playbook rc=%d\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
    return [t['hosts']['localhost'] for t in out['plays'][0]['tasks']]


def chain(**kw):
    return {'ipmasq.agent.ip_masq_chain': kw}


def test_converge_idempotent_check_mode(ns):
    ns.restore(FOREIGN, counters=True)
    foreign = foreign_lines(ns.save())
    r = play(ns, [chain(non_masquerade_cidrs=['10.0.0.0/8'])])[0]
    assert r['changed'] is True and not r.get('failed')
    live = ns.save()
    assert our_lines(live) == r['rules']['ipv4']
    assert foreign_lines(live) == foreign
    r2 = play(ns, [chain(non_masquerade_cidrs=['10.0.0.0/8'])])[0]
    assert r2['changed'] is False and ns.save() == live

    # check mode: predicts the change, writes nothing; then the real run gives exactly the prediction
    pred = play(ns, [chain(non_masquerade_cidrs=['10.0.0.0/8', '100.64.0.0/10'])], check=True)[0]
    assert pred['changed'] is True and ns.save() == live
    assert '-d 100.64.0.0/10' in pred['diff'][0]['after'] and '100.64' not in pred['diff'][0]['before']
    real = play(ns, [chain(non_masquerade_cidrs=['10.0.0.0/8', '100.64.0.0/10'])])[0]
    assert real['rules'] == pred['rules'] == {'ipv4': our_lines(ns.save())}
    assert foreign_lines(ns.save()) == foreign


def test_absent_leaves_every_other_chain_byte_identical(ns):
    ns.restore(FOREIGN, counters=True)
    before = ns.save()
    play(ns, [chain(non_masquerade_cidrs=['10.0.0.0/8'])])
    r = play(ns, [chain(state='absent')], check=True)[0]
    assert r['changed'] is True and 'IP-MASQ-AGENT' in ns.save()
    r = play(ns, [chain(state='absent')])[0]
    assert r['changed'] is True and r['rules'] == {'ipv4': []}
    assert ns.save() == before  # counters included
    assert play(ns, [chain(state='absent')])[0]['changed'] is False


def test_adopts_upstream_old_jump(ns):
    old = ('-A POSTROUTING -m comment --comment "\\"ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL '
           'destination traffic to our custom IP-MASQ-AGENT chain\\"" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT')
    masq = ('-A IP-MASQ-AGENT -m comment --comment "\\"ip-masq-agent: outbound traffic is subject to MASQUERADE (must be '
            'last in chain)\\"" -j MASQUERADE')
    ns.restore('*nat\n:IP-MASQ-AGENT - [0:0]\n%s\n%s\nCOMMIT\n' % (old, masq))
    r = play(ns, [chain(non_masquerade_cidrs=['10.0.0.0/8'])])[0]
    assert r['changed'] and any('replace POSTROUTING jump' in a for a in r['actions']['ipv4'])
    jumps = [l for l in ns.save(counters=False).splitlines() if l.startswith('-A POSTROUTING')]
    assert jumps == [r['rules']['ipv4'][1]]


def test_config_file_flow_and_ipv6(ns):
    cfg = os.path.join(ns.tmpdir, 'etc', 'ip-masq-agent')
    tasks = [{'ipmasq.agent.ip_masq_config': {'path': cfg, 'ip_version': 'both',
                                              'non_masquerade_cidrs': ['10.0.0.0/8', 'fd00::/8']}},
             chain(config_path=cfg, ip_version='both')]
    r = play(ns, tasks)
    assert r[0]['changed'] and r[1]['changed'] and set(r[1]['rules']) == {'ipv4', 'ipv6'}
    assert our_lines(ns.save('ipv6')) == r[1]['rules']['ipv6'] and '-d fd00::/8' in r[1]['rules']['ipv6'][3]
    r = play(ns, tasks)
    assert not r[0]['changed'] and not r[1]['changed']


BAD_ARGS = [
    ('CIDR with host bits', dict(non_masquerade_cidrs=['10.0.0.1/8']), 'non_masquerade_cidrs', '10.0.0.1/8'),
    ('injection attempt', dict(non_masquerade_cidrs=['10.0.0.0/8 -j ACCEPT']), 'non_masquerade_cidrs',
     '10.0.0.0/8 -j ACCEPT'),
    ('IPv6 without ip_version', dict(non_masquerade_cidrs=['fd00::/8']), 'non_masquerade_cidrs', 'fd00::/8'),
    ('bad chain name', dict(chain='IP MASQ'), 'chain', 'IP MASQ'),
    ('bad to_ports', dict(to_ports='70000'), 'to_ports', '70000'),
    ('too many CIDRs', dict(non_masquerade_cidrs=['10.%d.0.0/16' % i for i in range(65)]), 'non_masquerade_cidrs',
     '65'),
    ('uncovered required CIDR', dict(non_masquerade_cidrs=['10.0.0.0/8'], required_cidrs=['100.64.0.0/10']),
     'required_cidrs', '100.64.0.0/10'),
    ('wrong type', dict(non_masquerade_cidrs=['10.0.0.0/8'], wait='soon'), 'wait', 'float'),
]


@pytest.mark.parametrize('name, args, option, value', BAD_ARGS, ids=[b[0] for b in BAD_ARGS])
def test_bad_input_fails_cleanly(ns_nft, name, args, option, value):
    ns_nft.restore(FOREIGN, counters=True)
    play(ns_nft, [chain(non_masquerade_cidrs=['10.0.0.0/8'])])
    before = ns_nft.save()
    r = play(ns_nft, [chain(**args)])[0]
    assert r.get('failed') is True
    assert option in r['msg'] and value in r['msg'], r['msg']
    assert ns_nft.save() == before


def test_config_module_bad_input_leaves_file(ns_nft):
    cfg = os.path.join(ns_nft.tmpdir, 'ip-masq-agent')
    play(ns_nft, [{'ipmasq.agent.ip_masq_config': {'path': cfg, 'non_masquerade_cidrs': ['10.0.0.0/8']}}])
    before = open(cfg, 'rb').read()
    for args, option in ((dict(resync_interval='1 minute'), 'resync_interval'),
                         (dict(non_masquerade_cidrs=['300.0.0.0/8']), 'non_masquerade_cidrs'),
                         (dict(format='toml'), 'format')):
        r = play(ns_nft, [{'ipmasq.agent.ip_masq_config': dict(args, path=cfg)}])[0]
        assert r.get('failed') and option in r['msg']
        assert open(cfg, 'rb').read() == before


def test_nftables_backend_through_module(ns_nft):
    r = play(ns_nft, [chain(non_masquerade_cidrs=['10.0.0.0/8'], backend='nftables')])[0]
    assert r['changed'] and r['backend'] == 'nftables'
    assert 'ip daddr @nomasq4 return' in ns_nft.run(['nft', 'list', 'table', 'inet', 'ip-masq-agent']).stdout
    assert play(ns_nft, [chain(non_masquerade_cidrs=['10.0.0.0/8'], backend='nftables')])[0]['changed'] is False
    r = play(ns_nft, [chain(state='absent', backend='nftables')])[0]
    assert r['changed'] and 'ip-masq-agent' not in ns_nft.run(['nft', 'list', 'tables']).stdout
