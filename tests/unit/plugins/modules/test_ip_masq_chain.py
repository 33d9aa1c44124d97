# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ip_masq_chain: the real main() with patched arguments and an ordered mock of run_command."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os
import stat
import sys

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import cli
from ansible_collections.ipmasq.agent.plugins.modules import ip_masq_chain

SAVE = ['/usr/sbin/iptables-save', '-t', 'nat']
SAVE6 = ['/usr/sbin/ip6tables-save', '-t', 'nat']
RESTORE = ['/usr/sbin/iptables-restore', '--noflush', '-w', '10']
RESTORE6 = ['/usr/sbin/ip6tables-restore', '--noflush', '-w', '10']
VERSION = (['/usr/sbin/iptables', '--version'], 0, 'iptables v1.8.9 (nf_tables)\n', '')
ROUTES = [(['/usr/sbin/ip', '-j', '-4', 'route', 'show', 'default'], 0, '[]', ''),
          (['/usr/sbin/ip', '-j', '-6', 'route', 'show', 'default'], 0, '[]', '')]
NFT_LIST = ['/usr/sbin/nft', '-j', 'list', 'table', 'inet', 'ip-masq-agent']
NFT_APPLY = ['/usr/sbin/nft', '-f', '-']
NO_TABLE = (NFT_LIST, 1, '', 'Error: No such file or directory\n')
NM = '-m comment --comment "ip-masq-agent: local traffic is not subject to MASQUERADE"'
MC = '-m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)"'
JUMP_SPEC = ('-m comment --comment "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom '
             'IP-MASQ-AGENT chain" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT')
JUMP = '-A POSTROUTING ' + JUMP_SPEC
SAVED = ['-A IP-MASQ-AGENT -d 169.254.0.0/16 %s -j RETURN' % NM, '-A IP-MASQ-AGENT -d 10.0.0.0/8 %s -j RETURN' % NM,
         '-A IP-MASQ-AGENT %s -j MASQUERADE --random-fully' % MC]
WRITTEN = ['-A IP-MASQ-AGENT %s -d 169.254.0.0/16 -j RETURN' % NM, '-A IP-MASQ-AGENT %s -d 10.0.0.0/8 -j RETURN' % NM,
           '-A IP-MASQ-AGENT %s -j MASQUERADE --random-fully' % MC]
IN_SYNC = '\n'.join(['*nat', ':POSTROUTING ACCEPT [0:0]', ':IP-MASQ-AGENT - [0:0]', JUMP] + SAVED + ['COMMIT', ''])
AFTER = [':IP-MASQ-AGENT - [0:0]', JUMP] + SAVED
FIRST_PAYLOAD = '\n'.join(['*nat', ':IP-MASQ-AGENT - [0:0]'] + WRITTEN + [JUMP, 'COMMIT', ''])
REMOVAL = '*nat\n-D%s\n-F IP-MASQ-AGENT\n-X IP-MASQ-AGENT\nCOMMIT\n' % JUMP[2:]


def args(tmp_path, **kw):
    a = dict(non_masquerade_cidrs=['10.0.0.0/8'], lock_file=str(tmp_path / 'lock'))
    a.update(kw)
    return a


def test_first_run_reads_once_writes_once(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path), [VERSION] + ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert result['changed'] is True and result['backend'] == 'iptables'
    assert result['rules'] == {'ipv4': AFTER}
    assert result['actions'] == {'ipv4': ['create chain IP-MASQ-AGENT', 'append POSTROUTING jump to IP-MASQ-AGENT']}
    assert script.seen[-1]['data'] == FIRST_PAYLOAD
    assert result['diff'] == [{'before': '', 'after': ''.join(line + '\n' for line in AFTER),
                               'before_header': 'ipv4 IP-MASQ-AGENT (live)', 'after_header': 'ipv4 IP-MASQ-AGENT (applied)'}]
    with open(str(tmp_path / 'lock.state')) as f:
        assert json.load(f) == {'backend': 'iptables', 'chain': 'IP-MASQ-AGENT', 'families': ['ipv4']}


def test_in_sync_writes_nothing(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path), [VERSION] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE])
    assert result['changed'] is False and 'diff' not in result and result['actions'] == {'ipv4': []}
    assert result['rules'] == {'ipv4': AFTER}


def test_check_mode_predicts_and_never_writes(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path, non_masquerade_cidrs=['10.0.0.0/8', '172.16.0.0/12']),
                            [VERSION, (SAVE, 0, IN_SYNC, ''), NO_TABLE], check_mode=True)
    assert result['changed'] is True
    assert result['actions'] == {'ipv4': ['rewrite chain IP-MASQ-AGENT (3 rules -> 4 rules)']}
    new = '-A IP-MASQ-AGENT -d 172.16.0.0/12 %s -j RETURN' % NM
    assert result['diff'] == [{'before': ''.join(line + '\n' for line in AFTER),
                               'after': ''.join(line + '\n' for line in AFTER[:4] + [new, AFTER[4]]),
                               'before_header': 'ipv4 IP-MASQ-AGENT (live)', 'after_header': 'ipv4 IP-MASQ-AGENT (predicted)'}]
    assert not os.path.exists(str(tmp_path / 'lock.state'))


def test_no_diff_without_diff_mode(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path), [VERSION, (SAVE, 0, '', ''), NO_TABLE], check_mode=True, diff=False)
    assert result['changed'] is True and 'diff' not in result


def test_both_families(run_module, tmp_path):
    result, script = run_module(
        ip_masq_chain.main, args(tmp_path, non_masquerade_cidrs=['10.0.0.0/8', 'fd00::/8'], ip_version='both'),
        [VERSION] + ROUTES + [(SAVE, 0, '', ''), (SAVE6, 0, '', ''), NO_TABLE, (RESTORE, 0, '', ''), (RESTORE6, 0, '', '')])
    assert set(result['rules']) == {'ipv4', 'ipv6'}
    assert script.seen[-2]['data'] == FIRST_PAYLOAD
    assert script.seen[-1]['data'] == '\n'.join(['*nat', ':IP-MASQ-AGENT - [0:0]', '-A IP-MASQ-AGENT %s -d fe80::/10 -j RETURN' % NM,
                                                 '-A IP-MASQ-AGENT %s -d fd00::/8 -j RETURN' % NM, WRITTEN[-1], JUMP, 'COMMIT', ''])


def test_ip_version_ipv6_manages_the_same_families_as_the_host_program(run_module, tmp_path, scripted, find):
    """Defect (d): the module's ``ip_version: ipv6`` managed ip6tables only, while the host program had only
    ``--enable-ipv6``, which manages both families, so the program the role runs managed IPv4 too. Now the module and
    ``--ip-version ipv6`` run exactly the same ip6tables commands with the same payloads, and nothing of IPv4."""
    script = [(['/usr/sbin/ip6tables', '--version'], 0, 'ip6tables v1.8.9 (nf_tables)\n', '')] + ROUTES + [
        (SAVE6, 0, '', ''), NO_TABLE, (RESTORE6, 0, '', '')]
    result, seen = run_module(ip_masq_chain.main, dict(ip_version='ipv6', lock_file=str(tmp_path / 'module.lock')), script)
    config = tmp_path / 'missing-config'
    runner = scripted(script)
    rc = cli.main(['sync', '--config', str(config), '--ip-version', 'ipv6', '--lock-file', str(tmp_path / 'cli.lock')],
                  runner=runner, find=find, out=io.StringIO(), err=io.StringIO())
    assert rc == 0 and result['changed'] is True and set(result['rules']) == {'ipv6'}
    assert [(c['argv'], c['data']) for c in seen.seen] == runner.calls
    assert all('iptables' not in argv[0] or 'ip6tables' in argv[0] for argv, _data in runner.calls)


def test_duplicate_jumps_replaced_in_place(run_module, tmp_path):
    live = IN_SYNC.replace(JUMP, '-A POSTROUTING -o eth1 -j ACCEPT\n' + JUMP + '\n-A POSTROUTING -o eth2 -j ACCEPT\n' + JUMP)
    result, script = run_module(ip_masq_chain.main, args(tmp_path), [VERSION] + ROUTES + [(SAVE, 0, live, ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert script.seen[-1]['data'] == '*nat\n-D%s\n-D%s\n-I POSTROUTING 2 %s\nCOMMIT\n' % (JUMP[2:], JUMP[2:], JUMP_SPEC)
    assert result['actions'] == {'ipv4': ['replace POSTROUTING jumps (2) with one jump to IP-MASQ-AGENT at position 2']}


def test_absent_removes_chain_and_jump_only(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, dict(state='absent', lock_file=str(tmp_path / 'l')),
                                [(SAVE, 0, IN_SYNC, ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert result['changed'] is True and result['rules'] == {'ipv4': []}
    assert result['actions'] == {'ipv4': ['delete POSTROUTING jump to IP-MASQ-AGENT', 'delete chain IP-MASQ-AGENT']}
    assert script.seen[-1]['data'] == REMOVAL


def test_absent_removes_the_recorded_chain_families_and_table(run_module, tmp_path):
    (tmp_path / 'l.state').write_text(json.dumps({'backend': 'iptables', 'chain': 'OLD', 'families': ['ipv4', 'ipv6']}))
    old = IN_SYNC.replace('IP-MASQ-AGENT', 'OLD')
    table = json.dumps({'nftables': [{'table': {'family': 'inet', 'name': 'ip-masq-agent'}}]})
    result, script = run_module(ip_masq_chain.main, dict(state='absent', lock_file=str(tmp_path / 'l')),
                                [(SAVE, 0, old, ''), (SAVE6, 0, '', ''), (NFT_LIST, 0, table, ''), (RESTORE, 0, '', ''),
                                 (NFT_APPLY, 0, '', '')])
    assert script.seen[3]['data'] == REMOVAL.replace('IP-MASQ-AGENT', 'OLD')
    assert script.seen[4]['data'] == 'delete table inet ip-masq-agent\n'
    assert result['changed'] is True and not os.path.exists(str(tmp_path / 'l.state'))


def test_absent_when_gone_is_no_change(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, dict(state='absent', lock_file=str(tmp_path / 'l')), [(SAVE, 0, '*nat\nCOMMIT\n', ''), NO_TABLE])
    assert result['changed'] is False and result['actions'] == {} and 'diff' not in result


def test_bad_cidr_fails_before_any_command(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path, non_masquerade_cidrs=['10.0.0.0/8 -j ACCEPT']))
    assert result['failed'] is True and script.seen == []
    assert result['msg'] == ("non_masquerade_cidrs: invalid CIDR '10.0.0.0/8 -j ACCEPT': bad prefix length '8 -j ACCEPT' "
                             '(digits, no leading zeros)')
    assert result['option'] == 'non_masquerade_cidrs' and result['value'] == '10.0.0.0/8 -j ACCEPT'


def test_ipv6_cidr_without_ipv6_fails(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path, non_masquerade_cidrs=['fd00::/8']))
    assert result['failed'] and script.seen == []
    assert result['msg'] == ("non_masquerade_cidrs: IPv6 'fd00::/8' given but IPv6 is not enabled; enable it with --enable-ipv6 "
                             '(ip_version: ipv6 or both in the modules)')


def test_bad_chain_name_fails(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path, chain='bad chain'))
    assert result['failed'] and result['option'] == 'chain'
    assert result['msg'] == ("chain: invalid chain name 'bad chain': use 1 to 28 letters, digits, \"_\", \"-\", \".\", \":\" or \"+\", "
                             'not starting with a punctuation mark')


def test_restore_failure_reports_command(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path),
                            [VERSION] + ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE, 1, '', 'iptables-restore: line 2 failed')])
    assert result['failed'] is True and result['rc'] == 1 and result['cmd'] == ['iptables-restore', '--noflush', '-w', '10']
    assert result['stderr'] == 'iptables-restore: line 2 failed'
    assert result['msg'] == 'ipv4: iptables-restore --noflush failed (rc=1); nothing was changed: iptables-restore: line 2 failed'
    assert result['actions'] == {} and result['changed'] is False  # nothing was applied


def test_partial_failure_reports_what_was_applied(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path, ip_version='both'),
                            [VERSION] + ROUTES + [(SAVE, 0, '', ''), (SAVE6, 0, '', ''), NO_TABLE, (RESTORE, 0, '', ''),
                                                  (RESTORE6, 4, '', 'locked')])
    """Issue 14 item 8: IPv4 applied and IPv6 refused reported changed: false, actions: {}; now the IPv4 change."""
    assert result['failed'] is True and result['changed'] is True
    assert result['actions'] == {'ipv4': ['create chain IP-MASQ-AGENT', 'append POSTROUTING jump to IP-MASQ-AGENT']}
    assert result['cmd'] == ['ip6tables-restore', '--noflush', '-w', '10']


def test_config_path_and_cidr_limit_override(run_module, tmp_path):
    cfg = tmp_path / 'config'
    cfg.write_text('nonMasqueradeCIDRs:\n' + ''.join('  - 10.%d.0.0/16\n' % i for i in range(70)))
    result, script = run_module(ip_masq_chain.main, dict(config_path=str(cfg), lock_file=str(tmp_path / 'l')))
    assert result['failed'] and script.seen == [] and result['option'] == 'nonMasqueradeCIDRs'
    assert result['msg'] == ('nonMasqueradeCIDRs: the agent accepts up to 64 CIDRs (excluding link-local), but got 70; '
                             'raise cidrLimit if this is intended')
    result, script = run_module(ip_masq_chain.main, dict(config_path=str(cfg), cidr_limit=100, lock_file=str(tmp_path / 'l')),
                                [VERSION] + ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert result['changed'] and script.seen[-1]['data'].count('-j RETURN') == 71


def test_options_beside_config_path_override_its_keys(run_module, tmp_path):
    cfg = tmp_path / 'config'
    cfg.write_text('nonMasqueradeCIDRs: [192.168.0.0/16]\nmasqLinkLocal: true\n')
    result, script = run_module(ip_masq_chain.main, dict(config_path=str(cfg), non_masquerade_cidrs=['10.0.0.0/8'],
                                                         lock_file=str(tmp_path / 'l')),
                                [VERSION] + ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert script.seen[-1]['data'] == FIRST_PAYLOAD.replace(WRITTEN[0] + '\n', '')


def test_missing_config_path_means_upstreams_defaults(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, dict(config_path=str(tmp_path / 'none'), lock_file=str(tmp_path / 'l')),
                                [VERSION] + ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert [line for line in script.seen[-1]['data'].splitlines() if '-j RETURN' in line] == [
        '-A IP-MASQ-AGENT %s -d %s -j RETURN' % (NM, c) for c in ('169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16')]


def test_config_mapping_and_its_warnings(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, dict(config={'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'nonMasqueradeCIDR': []},
                                                         lock_file=str(tmp_path / 'l')),
                                [VERSION] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE])
    assert result['changed'] is False
    assert "nonMasqueradeCIDR: unknown key 'nonMasqueradeCIDR'; did you mean 'nonMasqueradeCIDRs'? (ignored)" in json.dumps(result['warnings'])


def test_config_conflicts_with_config_path(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, dict(config_path='/x', config={'cidrLimit': 3}))
    assert result['failed'] and result['msg'] == 'parameters are mutually exclusive: config|config_path' and script.seen == []


def test_old_iptables_drops_random_fully(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path, random_fully=True),
                                [(VERSION[0], 0, 'iptables v1.4.21', '')] + ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert script.seen[-1]['data'] == FIRST_PAYLOAD.replace(' --random-fully', '')
    # core 2.19 returns warnings as structured WarningSummary objects
    assert 'iptables is older than 1.6.2: MASQUERADE without --random-fully, as upstream' in json.dumps(result['warnings'])


def test_required_cidrs_guard(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path, required_cidrs=['10.0.0.0/8', '100.64.0.0/10']))
    assert result['failed'] and result['option'] == 'required_cidrs' and script.seen == []
    assert result['msg'] == ("required_cidrs: required non-masquerade CIDR '100.64.0.0/10' is not covered: traffic to 100.64.0.0/10 "
                             'would be masqueraded; add it to non_masquerade_cidrs')


def test_aggregate_reports_rules_saved(run_module, tmp_path):
    result, _s = run_module(ip_masq_chain.main, args(tmp_path, non_masquerade_cidrs=['10.0.0.0/9', '10.128.0.0/9'], aggregate=True),
                            [VERSION] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE])
    assert result['changed'] is False and result['rules_saved'] == 1


def test_nftables_backend(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path, backend='nftables'),
                                ROUTES + [NO_TABLE, (SAVE, 0, '', ''), (NFT_APPLY, 0, '', '')])
    assert result['changed'] and result['backend'] == 'nftables'
    assert result['actions'] == {'nftables': ['create table inet ip-masq-agent']}
    assert script.seen[-1]['data'].startswith('table inet ip-masq-agent\ndelete table inet ip-masq-agent\n')
    assert '\t\telements = { 169.254.0.0/16, 10.0.0.0/8 }\n' in script.seen[-1]['data']


def test_nftables_backend_removes_the_iptables_chain(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path, backend='nftables'),
                                ROUTES + [NO_TABLE, (SAVE, 0, IN_SYNC, ''), (NFT_APPLY, 0, '', ''), (RESTORE, 0, '', '')])
    assert script.seen[-1]['data'] == REMOVAL
    assert result['actions'] == {'nftables': ['create table inet ip-masq-agent'],
                                 'ipv4': ['delete POSTROUTING jump to IP-MASQ-AGENT', 'delete chain IP-MASQ-AGENT']}
    assert [d['before_header'] for d in result['diff']] == ['nftables inet ip-masq-agent (live)', 'ipv4 IP-MASQ-AGENT (live)']


def test_iptables_binaries_missing(run_module, tmp_path):
    result, script = run_module(ip_masq_chain.main, args(tmp_path), missing=('iptables',))
    assert result['failed'] and result['msg'] == 'iptables not found in PATH, /usr/sbin or /sbin' and script.seen == []


def test_args_file_written_under_the_lock_before_applying(run_module, tmp_path):
    path = tmp_path / 'default'
    a = args(tmp_path, args_file=str(path), random_fully=False, wait=3)
    result, script = run_module(ip_masq_chain.main, a, ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE[:-1] + ['3'], 0, '', '')])
    assert result['changed'] is True
    assert path.read_text() == ('# ip-masq-agent arguments, written by ipmasq.agent.ip_masq_chain\n--no-random-fully\n--wait=3\n'
                                '--lock-file=%s\n' % (tmp_path / 'lock'))
    # the same settings and rules in sync: nothing changes, the file is left alone
    os.utime(str(path), (0, 0))
    in_sync = IN_SYNC.replace(' --random-fully', '')
    result, _s = run_module(ip_masq_chain.main, a, ROUTES + [(SAVE, 0, in_sync, ''), NO_TABLE])
    assert result['changed'] is False and os.stat(str(path)).st_mtime == 0


def test_args_file_change_alone_is_a_change_and_check_mode_keeps_the_file(run_module, tmp_path):
    path = tmp_path / 'default'
    path.write_text('# old\n')
    a = args(tmp_path, args_file=str(path))
    result, _s = run_module(ip_masq_chain.main, a, [VERSION, (SAVE, 0, IN_SYNC, ''), NO_TABLE], check_mode=True)
    assert result['changed'] is True and path.read_text() == '# old\n'
    result, _s = run_module(ip_masq_chain.main, a, [VERSION] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE])
    assert result['changed'] is True and path.read_text() == ('# ip-masq-agent arguments, written by ipmasq.agent.ip_masq_chain\n'
                                                              '--lock-file=%s\n' % (tmp_path / 'lock'))
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644


def test_missing_library_is_named(run_module, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'netaddr', None)
    result, script = run_module(ip_masq_chain.main, args(tmp_path))
    assert result['failed'] and script.seen == []
    assert 'netaddr' in result['msg'] and 'python3-netaddr' in result['msg']
