"""Never take what is not ours (real iptables-nft and iptables-legacy in network namespaces): a chain name that points
at kube-proxy's, Docker's or a user's chain is refused with nothing written; a jump to our chain that we did not write
is kept and warned about; removal and rename never delete a chain holding rules we did not write; a config path that
is not a regular file is refused at once."""
import os
import subprocess
import sys

import pytest

from tests.integration.test_host_program import FOREIGN, calls, restore_log
from tests.integration.test_modules_playbooks import play
from tests.lib.netns import AGENT

CHAINS = [('KUBE-POSTROUTING', '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN'),
          ('DOCKER', '-A DOCKER -i docker0 -j RETURN'),
          ('USER-CHAIN', '-A USER-CHAIN -d 203.0.113.0/24 -j SNAT --to-source 198.51.100.7')]


def config(tmp_path, text='nonMasqueradeCIDRs: [10.0.0.0/8]\n'):
    path = tmp_path / 'config'
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize('chain,rule', CHAINS, ids=[c for c, _r in CHAINS])
def test_sync_refuses_another_programs_chain(ns, tmp_path, chain, rule):
    ns.restore(FOREIGN, counters=True)
    before = ns.save()
    log = restore_log(ns)
    r = ns.agent('sync', '--config', config(tmp_path), '--masq-chain', chain)
    assert r.returncode == 2, r.stdout + r.stderr
    assert '--masq-chain: ipv4: chain %s holds a rule the agent did not write (%s); refusing to rewrite it' % (
        chain, rule) in r.stderr, r.stderr
    assert ns.save() == before and calls(log) == []  # counters included; no iptables-restore ran
    st = ns.agent('status', '--config', config(tmp_path), '--masq-chain', chain)
    assert st.returncode == 2 and ns.save() == before


@pytest.mark.parametrize('chain,rule', CHAINS, ids=[c for c, _r in CHAINS])
def test_module_refuses_another_programs_chain(ns, chain, rule):
    ns.restore(FOREIGN, counters=True)
    before = ns.save()
    r = play(ns, [{'ipmasq.agent.ip_masq_chain': {'chain': chain, 'non_masquerade_cidrs': ['10.0.0.0/8']}}])[0]
    assert r.get('failed') and r['option'] == 'chain' and r['value'] == chain
    assert 'chain %s holds a rule the agent did not write (%s)' % (chain, rule) in r['msg'], r['msg']
    assert ns.save() == before
    r = play(ns, [{'ipmasq.agent.ip_masq_chain': {'chain': chain, 'state': 'absent'}}])[0]
    assert r.get('failed') and 'refusing to delete it' in r['msg'] and ns.save() == before


def test_an_empty_chain_and_upstreams_chain_are_taken(ns, tmp_path):
    ns.restore('*nat\n:EMPTY-CHAIN - [0:0]\nCOMMIT\n')
    r = ns.agent('sync', '--config', config(tmp_path), '--masq-chain', 'EMPTY-CHAIN', '--lock-file', '-')
    assert r.returncode == 0 and 'rewrite chain EMPTY-CHAIN (0 rules -> 3 rules)' in r.stdout, r.stdout + r.stderr


def test_a_jump_we_did_not_write_is_kept_and_warned_about(ns, tmp_path):
    cfg = config(tmp_path)
    assert ns.agent('sync', '--config', cfg).returncode == 0
    ns.run(['iptables', '-t', 'nat', '-I', 'POSTROUTING', '1', '-s', '10.1.0.0/16', '-j', 'IP-MASQ-AGENT'])
    before = ns.save()
    for command in ('sync', 'status'):
        r = ns.agent(command, '--config', cfg)
        assert r.returncode == 0, r.stdout + r.stderr
        assert ('warning: ipv4: a POSTROUTING jump to IP-MASQ-AGENT that the agent did not write is left in place: '
                '-A POSTROUTING -s 10.1.0.0/16 -j IP-MASQ-AGENT') in r.stderr, r.stderr
        assert ns.save() == before


def test_removal_and_rename_never_delete_a_chain_with_rules_we_did_not_write(ns, tmp_path):
    cfg = config(tmp_path)
    assert ns.agent('sync', '--config', cfg).returncode == 0
    ns.run(['iptables', '-t', 'nat', '-A', 'IP-MASQ-AGENT', '-d', '192.0.2.1', '-j', 'ACCEPT'])
    before = ns.save()
    r = ns.agent('sync', '--config', cfg, '--masq-chain', 'NEW-CHAIN')  # a rename: the record says IP-MASQ-AGENT
    assert r.returncode == 2 and 'chain IP-MASQ-AGENT holds a rule the agent did not write' in r.stderr, r.stderr
    assert 'refusing to delete it' in r.stderr and ns.save() == before
    collections = os.path.join(os.path.dirname(AGENT), '..', '.cache', 'collections')
    code = ('import sys; sys.path.insert(0, %r)\n'
            'from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import cli, engine, host, spec, errors\n'
            'try:\n    engine.remove(host.Host(cli.subprocess_runner, cli.which), spec.Settings, lock_file=%r)\n'
            'except errors.ConfigError as e:\n    print(e)\n') % (collections, ns.lock)
    out = ns.run([sys.executable, '-c', code]).stdout
    assert 'chain IP-MASQ-AGENT holds a rule the agent did not write (-A IP-MASQ-AGENT -d 192.0.2.1/32 -j ACCEPT)' in out
    assert ns.save() == before
    # the same chain, synced under its own name (the record says it is ours): the stray rule is drift, repaired
    assert ns.agent('sync', '--config', cfg).returncode == 0
    assert '192.0.2.1' not in ns.save()


@pytest.mark.parametrize('kind', ['fifo', 'socket', 'device'])
def test_config_that_is_not_a_regular_file_is_refused_at_once(ns_nft, tmp_path, kind):
    path = str(tmp_path / kind)
    if kind == 'fifo':
        os.mkfifo(path)
    elif kind == 'socket':
        import socket
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
    else:
        path = '/dev/zero'
    before = ns_nft.save()
    try:
        r = ns_nft.run([sys.executable, AGENT, 'sync', '--config', path, '--lock-file', ns_nft.lock], check=False,
                       timeout=30)
    except subprocess.TimeoutExpired:  # what the defect looked like: still blocked when killed
        raise AssertionError('sync blocked on a %s config' % kind)
    assert r.returncode == 2 and 'is not a regular file; give the config file itself' in r.stderr, r.stderr
    assert ns_nft.save() == before
