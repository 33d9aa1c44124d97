# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""engine: the only sync. Upstream's rule rendering as a table (as upstream's ip-masq-agent_test.go), and run / remove
against a scripted host: which commands run, in which order, with which payloads, and what is recorded."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import configfile, engine
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError, HostError
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.host import Host, HostLock
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import Settings

NM = '-m comment --comment "ip-masq-agent: local traffic is not subject to MASQUERADE"'
MC = '-m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)"'
MASQ = '-A IP-MASQ-AGENT %s -j MASQUERADE' % MC
JUMP_SPEC = ('-m comment --comment "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom '
             'IP-MASQ-AGENT chain" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT')
JUMP = '-A POSTROUTING ' + JUMP_SPEC


def nonmasq(cidr, chain='IP-MASQ-AGENT'):
    return '-A %s %s -d %s -j RETURN' % (chain, NM, cidr)


def payload(*lines, **kw):
    return '\n'.join(['*nat', ':%s - [0:0]' % kw.get('chain', 'IP-MASQ-AGENT')] + list(lines) + ['COMMIT', ''])


# --- rendering: upstream's TestSyncMasqRules / TestSyncMasqRulesIPv6 and the user guide's examples -------------------
# (description, config file text, runtime settings) -> the restore payloads, one per family (IPv4 first)

RF = ' --random-fully'
RENDER_TABLE = [
    ('empty config (upstream)', 'nonMasqueradeCIDRs: []', {},
     [payload(nonmasq('169.254.0.0/16'), MASQ + RF)]),
    ('no config file: RFC 1918 and link-local keep their source (user guide)', '', {},
     [payload(nonmasq('169.254.0.0/16'), nonmasq('10.0.0.0/8'), nonmasq('172.16.0.0/12'), nonmasq('192.168.0.0/16'), MASQ + RF)]),
    ('default config not masquerading reserved ranges (upstream)', '', {'nomasq_all_reserved_ranges': True},
     [payload(*[nonmasq(c) for c in ('169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10',
                                     '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '198.18.0.0/15', '198.51.100.0/24',
                                     '203.0.113.0/24', '240.0.0.0/4')] + [MASQ + RF])]),
    ('10.0.0.0/8 only, resync 60s (user guide)', 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\nresyncInterval: 60s\n', {},
     [payload(nonmasq('169.254.0.0/16'), nonmasq('10.0.0.0/8'), MASQ + RF)]),
    ('masqLinkLocal: true drops the link-local rule (user guide)',
     'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\nresyncInterval: 60s\nmasqLinkLocal: true\n', {},
     [payload(nonmasq('10.0.0.0/8'), MASQ + RF)]),
    ('file order kept, CIDRs written as given, duplicates kept', 'nonMasqueradeCIDRs: [192.168.0.0/16, 10.0.0.0/8, 10.0.0.0/8]',
     {'random_fully': False},
     [payload(nonmasq('169.254.0.0/16'), nonmasq('192.168.0.0/16'), nonmasq('10.0.0.0/8'), nonmasq('10.0.0.0/8'), MASQ)]),
    ('--random-fully=false (upstream)', '', {'random_fully': False},
     [payload(nonmasq('169.254.0.0/16'), nonmasq('10.0.0.0/8'), nonmasq('172.16.0.0/12'), nonmasq('192.168.0.0/16'), MASQ)]),
    ('ipv4 and ipv6 non masquerade cidr (upstream, IPv4 only)', 'nonMasqueradeCIDRs: [10.244.0.0/16, "fc00::/7"]',
     {'ip_version': 'both'},
     [payload(nonmasq('169.254.0.0/16'), nonmasq('10.244.0.0/16'), MASQ + RF),
      payload(nonmasq('fe80::/10'), nonmasq('fc00::/7'), MASQ + RF)]),
    ('IPv6 empty config (upstream)', 'nonMasqueradeCIDRs: []', {'ip_version': 'ipv6'},
     [payload(nonmasq('fe80::/10'), MASQ + RF)]),
    ('IPv6 masqLinkLocalIPv6: true (upstream)', 'nonMasqueradeCIDRs: []\nmasqLinkLocalIPv6: true', {'ip_version': 'ipv6'},
     [payload(MASQ + RF)]),
    ('IPv6 only manages ip6tables: IPv4 CIDRs are not rendered', 'nonMasqueradeCIDRs: [10.0.0.0/8, "fd00::/8"]', {'ip_version': 'ipv6'},
     [payload(nonmasq('fe80::/10'), nonmasq('fd00::/8'), MASQ + RF)]),
    ('custom chain name (--masq-chain)', 'nonMasqueradeCIDRs: []\nmasqLinkLocal: true', {'chain': 'MY-MASQ'},
     [payload(MASQ.replace('IP-MASQ-AGENT', 'MY-MASQ') + RF, chain='MY-MASQ')]),
    ('--to-ports: per protocol, then the catch-all', 'nonMasqueradeCIDRs: []\nmasqLinkLocal: true', {'to_ports': '32768-65535'},
     [payload(*['%s --random-fully -p %s --to-ports 32768-65535' % (MASQ, p) for p in ('tcp', 'udp', 'sctp')] + [MASQ + RF])]),
    ('--to-ports with several ranges: probabilities', 'nonMasqueradeCIDRs: []\nmasqLinkLocal: true',
     {'to_ports': '1000-1999,3000,5000-5001', 'random_fully': False},
     [payload(*[line for p in ('tcp', 'udp', 'sctp') for line in (
         '%s -p %s -m statistic --mode random --probability 0.9970089730807578 --to-ports 1000-1999' % (MASQ, p),
         '%s -p %s -m statistic --mode random --probability 0.3333333333333333 --to-ports 3000' % (MASQ, p),
         '%s -p %s --to-ports 5000-5001' % (MASQ, p))] + [MASQ])]),
    ('snatToSource instead of MASQUERADE', 'nonMasqueradeCIDRs: []\nmasqLinkLocal: true\nsnatToSource: 198.51.100.7', {},
     [payload('-A IP-MASQ-AGENT -m comment --comment "ip-masq-agent: outbound traffic is subject to SNAT (must be last in chain)" '
              '-j SNAT --to-source 198.51.100.7 --random-fully')]),
    ('masqueradeCIDRs: only the listed CIDRs, no catch-all', 'nonMasqueradeCIDRs: [10.0.0.0/8]\n'
     'masqueradeCIDRs: [203.0.113.0/24, 198.51.100.0/24]', {'random_fully': False},
     [payload(nonmasq('169.254.0.0/16'), nonmasq('10.0.0.0/8'), *[
         '-A IP-MASQ-AGENT -m comment --comment "ip-masq-agent: outbound traffic to listed CIDRs is subject to MASQUERADE" -d %s '
         '-j MASQUERADE' % c for c in ('203.0.113.0/24', '198.51.100.0/24')])]),
    ('aggregate merges before rendering', 'nonMasqueradeCIDRs: [10.0.0.0/9, 10.128.0.0/9, 10.1.0.0/16]\naggregate: true', {},
     [payload(nonmasq('169.254.0.0/16'), nonmasq('10.0.0.0/8'), MASQ + RF)]),
    ('backend auto renders iptables', 'nonMasqueradeCIDRs: []', {'backend': 'auto'}, [payload(nonmasq('169.254.0.0/16'), MASQ + RF)]),
]


@pytest.mark.parametrize('desc, text, runtime, payloads', RENDER_TABLE, ids=[row[0] for row in RENDER_TABLE])
def test_render(desc, text, runtime, payloads):
    s = Settings()
    for name, value in runtime.items():
        s.set(name, value)
    s = configfile.load(data=configfile.to_mapping(text), settings=s).validate()
    assert engine.render(s) == payloads


def test_render_nftables_is_one_transaction():
    s = Settings()
    s.set('backend', 'nftables')
    s.set('ip_version', 'both')
    out = engine.render(s.validate())
    assert len(out) == 1 and out[0].startswith('table inet ip-masq-agent\ndelete table inet ip-masq-agent\n')


# --- run against a scripted host ------------------------------------------------------------------------------------

VERSION = (['/usr/sbin/iptables', '--version'], 0, 'iptables v1.8.9 (nf_tables)\n', '')
ROUTES = [(['/usr/sbin/ip', '-j', '-4', 'route', 'show', 'default'], 0, '[]', ''),
          (['/usr/sbin/ip', '-j', '-6', 'route', 'show', 'default'], 0, '[]', '')]
SAVE = ['/usr/sbin/iptables-save', '-t', 'nat']
SAVE6 = ['/usr/sbin/ip6tables-save', '-t', 'nat']
RESTORE = ['/usr/sbin/iptables-restore', '--noflush', '-w', '10']
RESTORE6 = ['/usr/sbin/ip6tables-restore', '--noflush', '-w', '10']
NFT_LIST = ['/usr/sbin/nft', '-j', 'list', 'table', 'inet', 'ip-masq-agent']
NFT_APPLY = ['/usr/sbin/nft', '-f', '-']
NO_TABLE = (NFT_LIST, 1, '', 'Error: No such file or directory\nlist table inet ip-masq-agent\n')
RULES = [nonmasq('169.254.0.0/16'), nonmasq('10.0.0.0/8'), MASQ + RF]
SAVED = ['-A IP-MASQ-AGENT -d 169.254.0.0/16 %s -j RETURN' % NM, '-A IP-MASQ-AGENT -d 10.0.0.0/8 %s -j RETURN' % NM, MASQ + RF]
IN_SYNC = '\n'.join(['*nat', ':POSTROUTING ACCEPT [0:0]', ':IP-MASQ-AGENT - [0:0]', JUMP] + SAVED + ['COMMIT', ''])
FIRST_PAYLOAD = payload(*(RULES + ['-A ' + JUMP[3:]]))
NFT_TABLE = json.dumps({'nftables': [{'metainfo': {'version': '1.0.6'}}, {'table': {'family': 'inet', 'name': 'ip-masq-agent'}}]})


def loader(**values):
    def load():
        s = Settings()
        s.set('non_masquerade_cidrs', ['10.0.0.0/8'])
        for name, value in values.items():
            s.set(name, value)
        return s.validate()
    return load


@pytest.fixture
def lock(tmp_path):
    return str(tmp_path / 'ip-masq-agent.lock')


def record(lock):
    with open(os.path.splitext(lock)[0] + '.state') as f:
        return json.load(f)


def write_record(lock, **data):
    with open(os.path.splitext(lock)[0] + '.state', 'w') as f:
        json.dump(data, f)


def run(scripted, find, script, load=None, mode=engine.SYNC, lock=None, wait=10):
    runner = scripted(script)
    result = engine.run(Host(runner, find, wait=wait), load or loader(), mode, lock_file=lock)
    assert runner.script == [], 'commands not run: %r' % runner.script
    return result, runner


def test_first_sync_reads_once_writes_once_and_records(scripted, find, lock):
    result, runner = run(scripted, find, [VERSION] + ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')], lock=lock)
    assert runner.calls[-1] == (RESTORE, FIRST_PAYLOAD)
    assert result.changed and result.backend == 'iptables' and result.warnings == [] and result.rules == {'ipv4': 3}
    assert [(p.scope, p.removal, p.changed) for p in result.plans] == [('ipv4', False, True), ('nftables', True, False)]
    assert result.applied == result.plans[:1]
    assert record(lock) == {'backend': 'iptables', 'chain': 'IP-MASQ-AGENT', 'families': ['ipv4']}


def test_in_sync_only_reads(scripted, find, lock):
    result, _r = run(scripted, find, [VERSION] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE], lock=lock)
    assert not result.changed and result.applied == []


@pytest.mark.parametrize('mode', [engine.CHECK, engine.STATUS])
def test_check_and_status_never_write(scripted, find, lock, mode):
    result, _r = run(scripted, find, [VERSION, (SAVE, 0, '', ''), NO_TABLE], mode=mode, lock=lock)
    assert result.changed and result.applied == [] and result.plans[0].payload == FIRST_PAYLOAD
    assert not os.path.exists(os.path.splitext(lock)[0] + '.state')


def test_settings_are_loaded_under_the_lock(scripted, find, lock):
    seen = []

    def load():
        with pytest.raises(HostError):
            with HostLock(lock, timeout=0):
                pass
        seen.append('loaded under the lock')
        return loader()()
    run(scripted, find, [VERSION, (SAVE, 0, IN_SYNC, ''), NO_TABLE], load=load, mode=engine.CHECK, lock=lock)
    assert seen == ['loaded under the lock']


def test_bad_config_touches_nothing(scripted, find, lock):
    def load():
        raise ConfigError('nonMasqueradeCIDRs', '10.0.0.1/8', 'bad')
    with pytest.raises(ConfigError):
        run(scripted, find, [], load=load, lock=lock)


def test_lock_held_by_another_run(scripted, find, lock):
    with HostLock(lock, timeout=0):
        with pytest.raises(HostError) as e:
            run(scripted, find, [], lock=lock, wait=0)
    assert e.value.msg == 'another ip-masq-agent run held %s for more than 0s; nothing was changed' % lock


def test_old_iptables_drops_random_fully_with_a_warning(scripted, find, lock):
    result, runner = run(scripted, find, [(VERSION[0], 0, 'iptables v1.6.1\n', '')] + ROUTES + [(SAVE, 0, '', ''), NO_TABLE,
                                                                                                (RESTORE, 0, '', '')], lock=lock)
    assert runner.calls[-1][1] == FIRST_PAYLOAD.replace(' --random-fully', '')
    assert result.warnings == ['iptables is older than 1.6.2: MASQUERADE without --random-fully, as upstream']


def test_no_version_probe_with_random_fully_off(scripted, find, lock):
    # the probe only decides --random-fully: with the flag off, no iptables --version runs
    result, runner = run(scripted, find, ROUTES + [
        (SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')], load=loader(random_fully=False), lock=lock)
    assert result.warnings == [] and '--random-fully' not in runner.calls[-1][1]


def test_subnet_warning_on_sync(scripted, find, lock):
    routes = [(ROUTES[0][0], 0, '[{"dst": "default", "dev": "eth0"}]', ''),
              (['/usr/sbin/ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0'], 0,
               '[{"addr_info": [{"local": "192.0.2.0", "prefixlen": 24, "scope": "global"}]}]', ''), ROUTES[1]]
    result, _r = run(scripted, find, [VERSION] + routes + [(SAVE, 0, IN_SYNC, ''), NO_TABLE], load=loader(), lock=lock)
    assert result.warnings == ["the node's own subnet 192.0.2.0/24 is masqueraded by this config (not covered by nonMasqueradeCIDRs); "
                               'add it if Pods talk to node addresses directly']


def test_both_families_one_transaction_each(scripted, find, lock):
    result, runner = run(scripted, find, [VERSION] + ROUTES + [
        (SAVE, 0, '', ''), (SAVE6, 0, '', ''), NO_TABLE, (RESTORE, 0, '', ''), (RESTORE6, 0, '', '')],
        load=loader(ip_version='both', non_masquerade_cidrs=['10.0.0.0/8', 'fd00::/8']), lock=lock)
    assert runner.calls[-2][1] == FIRST_PAYLOAD
    assert runner.calls[-1][1] == payload(nonmasq('fe80::/10'), nonmasq('fd00::/8'), MASQ + RF, '-A ' + JUMP[3:])
    assert result.rules == {'ipv4': 3, 'ipv6': 3}
    assert record(lock)['families'] == ['ipv4', 'ipv6']


def test_failed_apply_reports_what_was_applied(scripted, find, lock):
    with pytest.raises(HostError) as e:
        run(scripted, find, [VERSION] + ROUTES + [(SAVE, 0, '', ''), (SAVE6, 0, '', ''), NO_TABLE, (RESTORE, 0, '', ''),
                                                  (RESTORE6, 2, '', 'ip6tables-restore: line 3 failed\n')],
            load=loader(ip_version='both'), lock=lock)
    assert e.value.msg == 'ipv6: ip6tables-restore --noflush failed (rc=2); nothing was changed: ip6tables-restore: line 3 failed'
    assert [p.scope for p in e.value.result.applied] == ['ipv4']
    assert not os.path.exists(os.path.splitext(lock)[0] + '.state')


def test_rename_through_the_record_is_one_transaction(scripted, find, lock):
    write_record(lock, backend='iptables', chain='IP-MASQ-AGENT', families=['ipv4'])
    result, runner = run(scripted, find, [VERSION] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE, (RESTORE, 0, '', '')],
                         load=loader(chain='NEW-MASQ'), lock=lock)
    assert runner.calls[-1][1] == payload(*[r.replace('IP-MASQ-AGENT', 'NEW-MASQ') for r in RULES] + [
        '-D' + JUMP[2:], '-I POSTROUTING 1 ' + JUMP_SPEC.replace('IP-MASQ-AGENT', 'NEW-MASQ'), '-F IP-MASQ-AGENT', '-X IP-MASQ-AGENT'],
        chain='NEW-MASQ')
    assert result.plans[0].actions == ['create chain NEW-MASQ', 'replace POSTROUTING jumps (1) with one jump to NEW-MASQ at position 1',
                                       'delete chain IP-MASQ-AGENT']
    assert record(lock) == {'backend': 'iptables', 'chain': 'NEW-MASQ', 'families': ['ipv4']}


def test_dropped_family_is_removed(scripted, find, lock):
    write_record(lock, backend='iptables', chain='IP-MASQ-AGENT', families=['ipv4', 'ipv6'])
    in_sync6 = IN_SYNC.replace('10.0.0.0/8', 'fd00::/8').replace('169.254.0.0/16', 'fe80::/10')
    result, runner = run(scripted, find, [VERSION] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE, (SAVE6, 0, in_sync6, ''),
                                                               (RESTORE6, 0, '', '')], lock=lock)
    assert runner.calls[-1][1] == '*nat\n-D%s\n-F IP-MASQ-AGENT\n-X IP-MASQ-AGENT\nCOMMIT\n' % JUMP[2:]
    assert [(p.scope, p.target, p.removal, p.changed) for p in result.plans] == [
        ('ipv4', 'IP-MASQ-AGENT', False, False), ('nftables', 'inet ip-masq-agent', True, False), ('ipv6', 'IP-MASQ-AGENT', True, True)]
    assert record(lock)['families'] == ['ipv4']


def test_nftables_backend_removes_the_iptables_chain(scripted, find, lock):
    result, runner = run(scripted, find, ROUTES + [NO_TABLE, (SAVE, 0, IN_SYNC, ''), (NFT_APPLY, 0, '', ''), (RESTORE, 0, '', '')],
                         load=loader(backend='nftables'), lock=lock)
    assert runner.calls[-2][1].startswith('table inet ip-masq-agent\ndelete table inet ip-masq-agent\n')
    assert runner.calls[-1][1] == '*nat\n-D%s\n-F IP-MASQ-AGENT\n-X IP-MASQ-AGENT\nCOMMIT\n' % JUMP[2:]
    assert result.backend == 'nftables' and record(lock) == {'backend': 'nftables', 'chain': 'IP-MASQ-AGENT', 'families': ['ipv4']}


def test_nftables_backend_on_a_host_without_iptables(scripted, find_without, lock):
    runner = scripted(ROUTES + [NO_TABLE, (NFT_APPLY, 0, '', '')])
    result = engine.run(Host(runner, find_without(('iptables-save',))), loader(backend='nftables'), lock_file=lock)
    assert [p.scope for p in result.plans] == ['nftables'] and runner.script == []


def test_iptables_backend_removes_the_nftables_table(scripted, find, lock):
    result, runner = run(scripted, find, [VERSION] + ROUTES + [(SAVE, 0, IN_SYNC, ''), (NFT_LIST, 0, NFT_TABLE, ''),
                                                               (NFT_APPLY, 0, '', '')], lock=lock)
    assert runner.calls[-1][1] == 'delete table inet ip-masq-agent\n'
    assert [p.scope for p in result.applied] == ['nftables']


def test_iptables_backend_on_a_host_without_nft(scripted, find_without, lock):
    runner = scripted([VERSION] + ROUTES + [(SAVE, 0, IN_SYNC, '')])
    result = engine.run(Host(runner, find_without(('nft',))), loader(), lock_file=lock)
    assert [p.scope for p in result.plans] == ['ipv4'] and not result.changed


def test_auto_keeps_the_recorded_backend(scripted, find, lock):
    write_record(lock, backend='nftables', chain='IP-MASQ-AGENT', families=['ipv4'])
    result, _r = run(scripted, find, [NO_TABLE, (SAVE, 0, '', '')], load=loader(backend='auto'), mode=engine.CHECK, lock=lock)
    assert result.backend == 'nftables'


def test_auto_without_record_probes_the_host(scripted, find, lock):
    probe = (['/usr/sbin/nft', 'list', 'table', 'inet', 'ip-masq-agent'], 1, '', 'Error: No such file or directory')
    result, _r = run(scripted, find, [probe, (SAVE, 0, IN_SYNC, ''), VERSION, (SAVE, 0, IN_SYNC, ''), NO_TABLE],
                     load=loader(backend='auto'), mode=engine.CHECK, lock=lock)
    assert result.backend == 'iptables' and not result.changed


def test_several_port_ranges_on_nftables_fail_before_any_command(scripted, find, lock):
    with pytest.raises(ConfigError) as e:
        run(scripted, find, [], load=loader(backend='nftables', to_ports='1000-2000,3000'), lock=lock)
    assert e.value.key == 'to_ports'


def test_digest():
    s1, s2 = loader()(), loader(non_masquerade_cidrs=['10.0.0.0/9'])()
    r1, r2 = engine.Result(s1), engine.Result(s2)
    r1.backend = r2.backend = 'iptables'
    assert len(r1.digest()) == 16 and int(r1.digest(), 16) >= 0
    again = engine.Result(loader()())
    again.backend = 'iptables'
    assert r1.digest() == again.digest() and r1.digest() != r2.digest()
    again.backend = 'nftables'
    assert r1.digest() != again.digest()


# --- remove -------------------------------------------------------------------------------------------------------------

def test_remove_chain_jump_and_table_and_clear_the_record(scripted, find, lock):
    write_record(lock, backend='iptables', chain='OLD', families=['ipv4'])
    runner = scripted([(SAVE, 0, IN_SYNC, ''), (NFT_LIST, 0, NFT_TABLE, ''), (RESTORE, 0, '', ''), (NFT_APPLY, 0, '', '')])
    result = engine.remove(Host(runner, find), loader(), lock_file=lock)
    assert runner.calls[2][1] == '*nat\n-D%s\n-F IP-MASQ-AGENT\n-X IP-MASQ-AGENT\nCOMMIT\n' % JUMP[2:]
    assert runner.calls[3][1] == 'delete table inet ip-masq-agent\n'
    assert result.plans[0].target == 'IP-MASQ-AGENT, OLD' and runner.script == []
    assert not os.path.exists(os.path.splitext(lock)[0] + '.state')


def test_remove_every_recorded_family_and_check_mode(scripted, find, lock):
    write_record(lock, backend='iptables', chain='IP-MASQ-AGENT', families=['ipv6'])
    runner = scripted([(SAVE, 0, '', ''), (SAVE6, 0, '', ''), NO_TABLE])
    result = engine.remove(Host(runner, find), loader(), check_mode=True, lock_file=lock)
    assert not result.changed and runner.script == []
    assert record(lock)['families'] == ['ipv6']  # check mode keeps the record


def test_remove_on_a_host_without_iptables(scripted, find_without, lock):
    """The nftables backend runs on hosts without the iptables package; removing the agent there must delete its table
    and succeed, not fail with 'iptables-save not found'."""
    runner = scripted([(NFT_LIST, 0, NFT_TABLE, ''), (NFT_APPLY, 0, '', '')])
    result = engine.remove(Host(runner, find_without(('iptables-save',))), loader(backend='nftables'), lock_file=lock)
    assert [p.scope for p in result.applied] == ['nftables'] and runner.script == []


def test_force_sources_and_dnat_render_upstream_style_rules():
    """Issue 10's two asks as config keys: forceMasqueradeCIDRs rules before the RETURNs, masqueradeSourceCIDRs on every
    translating rule (each source walks the whole sequence), skipDNAT first."""
    s = Settings()
    for name, value in (('non_masquerade_cidrs', ['10.0.0.0/8']), ('force_masquerade_cidrs', ['10.100.10.0/24']),
                        ('masquerade_source_cidrs', ['10.4.0.0/14', '10.8.0.0/14']), ('skip_dnat', True)):
        s.set(name, value)
    payload = engine.render(s.validate())[0]
    c = '-A IP-MASQ-AGENT -m comment --comment '
    assert payload.splitlines()[2:-1] == [
        c + '"ip-masq-agent: DNAT connections (NodePort, LoadBalancer) keep their client address" -m conntrack '
            '--ctstate DNAT -j RETURN',
        c + '"ip-masq-agent: outbound traffic to listed CIDRs is subject to MASQUERADE, non-masquerade CIDRs or not" '
            '-s 10.4.0.0/14 -d 10.100.10.0/24 -j MASQUERADE --random-fully',
        c + '"ip-masq-agent: outbound traffic to listed CIDRs is subject to MASQUERADE, non-masquerade CIDRs or not" '
            '-s 10.8.0.0/14 -d 10.100.10.0/24 -j MASQUERADE --random-fully',
        c + '"ip-masq-agent: local traffic is not subject to MASQUERADE" -d 169.254.0.0/16 -j RETURN',
        c + '"ip-masq-agent: local traffic is not subject to MASQUERADE" -d 10.0.0.0/8 -j RETURN',
        c + '"ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)" -s 10.4.0.0/14 '
            '-j MASQUERADE --random-fully',
        c + '"ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)" -s 10.8.0.0/14 '
            '-j MASQUERADE --random-fully']
    s.set('backend', 'nftables')
    table = engine.render(s)[0]
    for line in ('ct status dnat return', 'ip saddr @src4 ip daddr @force4 masquerade fully-random',
                 'ip saddr @src4 meta nfproto ipv4 masquerade fully-random', 'elements = { 10.4.0.0/14, 10.8.0.0/14 }'):
        assert line in table
    assert table.index('@force4') < table.index('@nomasq4 return') < table.index('saddr @src4 meta nfproto')


def test_a_forced_cidr_satisfies_no_required_cidr():
    s = Settings()
    for name, value in (('non_masquerade_cidrs', ['10.0.0.0/8']), ('force_masquerade_cidrs', ['10.100.10.0/24']),
                        ('required_cidrs', ['10.100.0.0/16'])):
        s.set(name, value)
    with pytest.raises(ConfigError) as e:
        s.validate()
    assert 'traffic to 10.100.10.0/24 would be masqueraded' in str(e.value)
