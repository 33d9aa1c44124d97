# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.ipmasq.agent.plugins.modules import ip_masq_chain

SAVE = ['/usr/sbin/iptables-save', '-t', 'nat']
SAVE6 = ['/usr/sbin/ip6tables-save', '-t', 'nat']
RESTORE = ['/usr/sbin/iptables-restore', '--noflush', '-w', '10']
RESTORE6 = ['/usr/sbin/ip6tables-restore', '--noflush', '-w', '10']
VERSION = (['/usr/sbin/iptables', '--version'], 0, 'iptables v1.8.9 (nf_tables)\n', '')
ROUTES = [(['/usr/sbin/ip', '-j', '-4', 'route', 'show', 'default'], 0, '[]', ''),
          (['/usr/sbin/ip', '-j', '-6', 'route', 'show', 'default'], 0, '[]', '')]
JUMP = ('-A POSTROUTING -m comment --comment "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination '
        'traffic to our custom IP-MASQ-AGENT chain" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT')
IN_SYNC = '\n'.join([
    '*nat', ':POSTROUTING ACCEPT [0:0]', ':IP-MASQ-AGENT - [0:0]', JUMP,
    '-A IP-MASQ-AGENT -d 169.254.0.0/16 -m comment --comment "ip-masq-agent: local traffic is not subject to '
    'MASQUERADE" -j RETURN',
    '-A IP-MASQ-AGENT -d 10.0.0.0/8 -m comment --comment "ip-masq-agent: local traffic is not subject to '
    'MASQUERADE" -j RETURN',
    '-A IP-MASQ-AGENT -m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last '
    'in chain)" -j MASQUERADE --random-fully', 'COMMIT', ''])


def args(tmp_path, **kw):
    a = dict(non_masquerade_cidrs=['10.0.0.0/8'], lock_file=str(tmp_path / 'lock'))
    a.update(kw)
    return a


def test_first_run_reads_once_writes_once(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path),
                                ROUTES + [VERSION, (SAVE, 0, '', ''), (RESTORE, 0, '', '')])
    assert result['changed'] is True
    assert result['rules']['ipv4'] == [l for l in IN_SYNC.splitlines() if 'IP-MASQ-AGENT' in l][:1] + \
        [JUMP] + [l for l in IN_SYNC.splitlines() if l.startswith('-A IP-MASQ-AGENT')]
    payload = script.seen[-1]['data']
    assert payload.startswith('*nat\n:IP-MASQ-AGENT - [0:0]\n') and payload.endswith(JUMP + '\nCOMMIT\n')
    assert result['diff'][0]['before'] == '' and JUMP in result['diff'][0]['after']


def test_in_sync_writes_nothing(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path), ROUTES + [VERSION, (SAVE, 0, IN_SYNC, '')])
    assert result['changed'] is False and 'diff' not in result and result['actions'] == {'ipv4': []}


def test_check_mode_predicts_and_never_writes(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path, non_masquerade_cidrs=['10.0.0.0/8', '172.16.0.0/12']),
                            ROUTES + [VERSION, (SAVE, 0, IN_SYNC, '')], check_mode=True)
    assert result['changed'] is True
    assert result['actions']['ipv4'] == ['rewrite chain IP-MASQ-AGENT (3 rules -> 4 rules)']
    assert '-d 172.16.0.0/12' in result['diff'][0]['after'] and '172.16' not in result['diff'][0]['before']
    assert result['diff'][0]['after_header'].endswith('(predicted)')


def test_both_families(run_module, tmp_path):
    result, script = run_module(
        ip_masq_chain.main, args(tmp_path, non_masquerade_cidrs=['10.0.0.0/8', 'fd00::/8'], ip_version='both'),
        ROUTES + [VERSION, (SAVE, 0, '', ''), (RESTORE, 0, '', ''), (SAVE6, 0, '', ''), (RESTORE6, 0, '', '')])
    assert set(result['rules']) == {'ipv4', 'ipv6'}
    assert '-d fd00::/8' in script.seen[-1]['data'] and 'fd00' not in script.seen[-3]['data']


def test_absent_removes_chain_and_jump_only(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, dict(state='absent', lock_file=str(tmp_path / 'l')),
                                [(SAVE, 0, IN_SYNC, ''), (RESTORE, 0, '', '')])
    assert result['changed'] is True and result['rules'] == {'ipv4': []}
    assert script.seen[-1]['data'] == '*nat\n-D' + JUMP[2:] + '\n-F IP-MASQ-AGENT\n-X IP-MASQ-AGENT\nCOMMIT\n'


def test_absent_when_gone_is_no_change(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, dict(state='absent', lock_file=str(tmp_path / 'l')),
                            [(SAVE, 0, '*nat\nCOMMIT\n', '')])
    assert result['changed'] is False


def test_bad_cidr_fails_before_any_command(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path, non_masquerade_cidrs=['10.0.0.0/8 -j ACCEPT']))
    assert result['failed'] is True and script.seen == []
    assert result['msg'].startswith('non_masquerade_cidrs: ') and '10.0.0.0/8 -j ACCEPT' in result['msg']
    assert result['option'] == 'non_masquerade_cidrs'


def test_ipv6_cidr_without_ipv6_fails(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path, non_masquerade_cidrs=['fd00::/8']))
    assert result['failed'] and 'IPv6 is not enabled' in result['msg'] and 'fd00::/8' in result['msg']


def test_bad_chain_name_fails(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path, chain='bad chain'))
    assert result['failed'] and result['msg'].startswith('chain: ')


def test_restore_failure_reports_command(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path),
                            ROUTES + [VERSION, (SAVE, 0, '', ''), (RESTORE, 1, '', 'iptables-restore: line 2 failed')])
    assert result['failed'] is True and result['rc'] == 1 and result['cmd'] == RESTORE
    assert result['stderr'] == 'iptables-restore: line 2 failed' and 'nothing was changed' in result['msg']


def test_config_path_and_cidr_limit_override(run_module, tmp_path):
    cfg = tmp_path / 'config'
    cfg.write_text('nonMasqueradeCIDRs:\n' + ''.join('  - 10.%d.0.0/16\n' % i for i in range(70)))
    result, _s = run_module(ip_masq_chain.main, dict(config_path=str(cfg), lock_file=str(tmp_path / 'l')))
    assert result['failed'] and 'up to 64 CIDRs' in result['msg'] and str(cfg) in result['msg']
    result, script = run_module(ip_masq_chain.main, dict(config_path=str(cfg), cidr_limit=100,
                                                         lock_file=str(tmp_path / 'l')),
                                ROUTES + [VERSION, (SAVE, 0, '', ''), (RESTORE, 0, '', '')])
    assert result['changed'] and script.seen[-1]['data'].count('-j RETURN') == 71


def test_config_path_conflicts_with_inline_cidrs(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, dict(config_path='/x', non_masquerade_cidrs=['10.0.0.0/8']))
    assert result['failed'] and 'mutually exclusive' in result['msg']


def test_old_iptables_drops_random_fully(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path),
                                ROUTES + [(['/usr/sbin/iptables', '--version'], 0, 'iptables v1.4.21', ''),
                                          (SAVE, 0, '', ''), (RESTORE, 0, '', '')])
    assert '--random-fully' not in script.seen[-1]['data']
    # core 2.19 returns warnings as structured WarningSummary objects
    assert 'older than 1.6.2' in json.dumps(result['warnings'])


def test_required_cidrs_guard(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path, required_cidrs=['10.0.0.0/8', '100.64.0.0/10']))
    assert result['failed'] and result['option'] == 'required_cidrs' and '100.64.0.0/10' in result['msg']
    assert script.seen == []


def test_nftables_backend(run_module, tmp_path):
    nft_list = ['/usr/sbin/nft', '-j', 'list', 'table', 'inet', 'ip-masq-agent']
    result, script = run_module(ip_masq_chain.main, args(tmp_path, backend='nftables'),
                                ROUTES + [(nft_list, 1, '', 'Error: No such file or directory'),
                                          (['/usr/sbin/nft', '-f', '-'], 0, '', ''), (SAVE, 0, '', '')])
    assert result['changed'] and result['backend'] == 'nftables'
    assert script.seen[3]['data'].startswith('table inet ip-masq-agent\ndelete table inet ip-masq-agent\n')


def test_missing_library_is_named(run_module, tmp_path, monkeypatch):
    from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_ansible
    monkeypatch.setattr(ipmasq_ansible, 'HAS_NETADDR', False)
    monkeypatch.setattr(ipmasq_ansible, 'NETADDR_IMPORT_ERROR', ImportError('No module named netaddr'))
    result, script = run_module(ip_masq_chain.main, args(tmp_path))
    assert result['failed'] and 'netaddr' in result['msg'] and script.seen == []
