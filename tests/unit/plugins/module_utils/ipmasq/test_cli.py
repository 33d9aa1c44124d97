# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host program's main(): exit codes, what it prints on each stream, and which commands it runs (a scripted
runner)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import cli
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.metrics import read_metrics
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import RUNTIME_FIELDS, Settings

SAVE = ['/usr/sbin/iptables-save', '-t', 'nat']
SAVE6 = ['/usr/sbin/ip6tables-save', '-t', 'nat']
RESTORE = ['/usr/sbin/iptables-restore', '--noflush', '-w', '10']
RESTORE6 = ['/usr/sbin/ip6tables-restore', '--noflush', '-w', '10']
VERSION = ['/usr/sbin/iptables', '--version']
V189 = (VERSION, 0, 'iptables v1.8.9 (nf_tables)\n', '')
ROUTES = [(['/usr/sbin/ip', '-j', '-4', 'route', 'show', 'default'], 0, '[]', ''),
          (['/usr/sbin/ip', '-j', '-6', 'route', 'show', 'default'], 0, '[]', '')]
NFT_LIST = ['/usr/sbin/nft', '-j', 'list', 'table', 'inet', 'ip-masq-agent']
NFT_APPLY = ['/usr/sbin/nft', '-f', '-']
NO_TABLE = (NFT_LIST, 1, '', 'Error: No such file or directory\n')
NM = '-m comment --comment "ip-masq-agent: local traffic is not subject to MASQUERADE"'
MC = '-m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)"'
JUMP = ('-A POSTROUTING -m comment --comment "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our '
        'custom IP-MASQ-AGENT chain" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT')
SAVED = ['-A IP-MASQ-AGENT -d 169.254.0.0/16 %s -j RETURN' % NM, '-A IP-MASQ-AGENT -d 10.0.0.0/8 %s -j RETURN' % NM,
         '-A IP-MASQ-AGENT %s -j MASQUERADE --random-fully' % MC]
IN_SYNC = '\n'.join(['*nat', ':POSTROUTING ACCEPT [0:0]', ':IP-MASQ-AGENT - [0:0]', JUMP] + SAVED + ['COMMIT', ''])
PAYLOAD = '\n'.join(['*nat', ':IP-MASQ-AGENT - [0:0]', '-A IP-MASQ-AGENT %s -d 169.254.0.0/16 -j RETURN' % NM,
                     '-A IP-MASQ-AGENT %s -d 10.0.0.0/8 -j RETURN' % NM, '-A IP-MASQ-AGENT %s -j MASQUERADE --random-fully' % MC,
                     JUMP, 'COMMIT', ''])
# what nft 1.0.6 lists for the table of nonMasqueradeCIDRs [10.0.0.0/8], IPv4
NFT_IN_SYNC = json.dumps({'nftables': [
    {'metainfo': {'version': '1.0.6', 'release_name': 'Lester Gooch #5', 'json_schema_version': 1}},
    {'table': {'family': 'inet', 'name': 'ip-masq-agent', 'handle': 2}},
    {'set': {'family': 'inet', 'name': 'nomasq4', 'table': 'ip-masq-agent', 'type': 'ipv4_addr', 'handle': 2, 'flags': ['interval'],
             'elem': [{'prefix': {'addr': '10.0.0.0', 'len': 8}}, {'prefix': {'addr': '169.254.0.0', 'len': 16}}]}},
    {'chain': {'family': 'inet', 'table': 'ip-masq-agent', 'name': 'postrouting', 'handle': 1, 'type': 'nat', 'hook': 'postrouting',
               'prio': 100, 'policy': 'accept'}},
    {'rule': {'family': 'inet', 'table': 'ip-masq-agent', 'chain': 'postrouting', 'handle': 3,
              'comment': 'ip-masq-agent: local destinations are not subject to MASQUERADE',
              'expr': [{'match': {'op': '==', 'left': {'fib': {'result': 'type', 'flags': ['daddr']}}, 'right': 'local'}}, {'return': None}]}},
    {'rule': {'family': 'inet', 'table': 'ip-masq-agent', 'chain': 'postrouting', 'handle': 4,
              'comment': 'ip-masq-agent: local traffic is not subject to MASQUERADE',
              'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'daddr'}}, 'right': '@nomasq4'}},
                       {'return': None}]}},
    {'rule': {'family': 'inet', 'table': 'ip-masq-agent', 'chain': 'postrouting', 'handle': 5,
              'comment': 'ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)',
              'expr': [{'match': {'op': '==', 'left': {'meta': {'key': 'nfproto'}}, 'right': 'ipv4'}},
                       {'masquerade': {'flags': 'fully-random'}}]}},
]})
WARN_OLD = 'ip-masq-agent: warning: iptables is older than 1.6.2: MASQUERADE without --random-fully, as upstream\n'


@pytest.fixture
def lock(tmp_path):
    return str(tmp_path / 'ip-masq-agent.lock')


@pytest.fixture
def run(scripted, find, lock):
    def _run(args, script, find=find):
        out, err = io.StringIO(), io.StringIO()
        runner = scripted(script)
        rc = cli.main(args + ['--lock-file', lock], runner=runner, find=find, out=out, err=err)
        assert runner.script == [], 'expected calls not made: %r' % runner.script
        return rc, out.getvalue(), err.getvalue(), runner
    return _run


@pytest.fixture
def config(tmp_path):
    p = tmp_path / 'config'
    p.write_text('nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    return str(p)


# --- render and check run nothing ------------------------------------------------------------------------------------

def test_render_runs_nothing(config, run):
    rc, out, err, _r = run(['render', '--config', config], [])
    assert (rc, out, err) == (0, PAYLOAD.replace(JUMP + '\n', ''), '')


def test_render_ipv6_prints_two_blocks(config, run):
    rc, out, _e, _r = run(['render', '--config', config, '--enable-ipv6'], [])
    assert rc == 0 and out == PAYLOAD.replace(JUMP + '\n', '') + '\n'.join([
        '*nat', ':IP-MASQ-AGENT - [0:0]', '-A IP-MASQ-AGENT %s -d fe80::/10 -j RETURN' % NM,
        '-A IP-MASQ-AGENT %s -j MASQUERADE --random-fully' % MC, 'COMMIT', ''])


def test_render_nftables(config, run):
    rc, out, _e, _r = run(['render', '--config', config, '--backend', 'nftables', '--no-random-fully'], [])
    assert rc == 0 and out.startswith('table inet ip-masq-agent\ndelete table inet ip-masq-agent\n')
    assert '\t\tmeta nfproto ipv4 masquerade comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)"\n' in out


def test_check(config, run):
    rc, out, err, _r = run(['check', '--config', config], [])
    assert (rc, out, err) == (0, 'config %s is valid: 1 non-masquerade CIDRs, resync every 60s\n' % config, '')


def test_check_missing_file_means_upstreams_defaults(tmp_path, run):
    rc, out, _e, _r = run(['check', '--config', str(tmp_path / 'none'), '--nomasq-all-reserved-ranges'], [])
    assert (rc, out) == (0, 'config %s is valid: 11 non-masquerade CIDRs, resync every 60s\n' % (tmp_path / 'none'))


# --- sync --------------------------------------------------------------------------------------------------------------

def test_sync_apply_and_output(config, run, lock):
    rc, out, err, r = run(['sync', '--config', config], [V189] + ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert (rc, out, err) == (0, 'ipv4: changed: create chain IP-MASQ-AGENT; append POSTROUTING jump to IP-MASQ-AGENT\n', '')
    assert r.calls[-1] == (RESTORE, PAYLOAD)
    with open(os.path.splitext(lock)[0] + '.state') as f:
        assert json.load(f) == {'backend': 'iptables', 'chain': 'IP-MASQ-AGENT', 'families': ['ipv4']}


def test_sync_in_sync_writes_nothing(config, run):
    rc, out, err, _r = run(['sync', '--config', config], [V189] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE])
    assert (rc, out, err) == (0, 'ipv4: in sync, nothing written\n', '')


def test_old_iptables_drops_random_fully_like_upstream(config, run):
    rc, out, err, r = run(['sync', '--config', config], [(VERSION, 0, 'iptables v1.4.21\n', '')] + ROUTES + [
        (SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert (rc, err) == (0, WARN_OLD) and r.calls[-1][1] == PAYLOAD.replace(' --random-fully', '')


def test_explicit_random_fully_on_old_iptables_is_dropped_with_a_warning(config, run):
    """Defect (a): ``ip-masq-agent sync --random-fully`` skipped the ``iptables --version`` probe and wrote
    ``--random-fully`` to an iptables (v1.6.1) that does not have it, so iptables-restore failed. The probe now gates
    random-fully whenever it is on, however it was turned on: no ``--random-fully`` and a warning."""
    rc, out, err, r = run(['sync', '--config', config, '--random-fully'], [(VERSION, 0, 'iptables v1.6.1\n', '')] + ROUTES + [
        (SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert (rc, out, err) == (0, 'ipv4: changed: create chain IP-MASQ-AGENT; append POSTROUTING jump to IP-MASQ-AGENT\n', WARN_OLD)
    assert r.calls[-1] == (RESTORE, PAYLOAD.replace(' --random-fully', ''))


def test_no_random_fully(config, run):
    rc, _o, err, r = run(['sync', '--config', config, '--no-random-fully'], ROUTES + [
        (SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert (rc, err) == (0, '') and r.calls[-1][1] == PAYLOAD.replace(' --random-fully', '')


def test_the_last_random_fully_flag_wins(config, run):
    # not a usage error any more: the argument file is read after the command line and may turn it off
    rc, _o, _e, r = run(['sync', '--config', config, '--random-fully', '--no-random-fully'], ROUTES + [
        (SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert rc == 0 and '--random-fully' not in r.calls[-1][1]


def test_ip_version_ipv6_manages_ip6tables_only(config, run):
    """Defect (d), the host program's half: ``--ip-version ipv6`` manages ip6tables only (the module test compares the
    two doors)."""
    rc, out, _e, r = run(['sync', '--config', config, '--ip-version', 'ipv6'], [
        (['/usr/sbin/ip6tables', '--version'], 0, 'ip6tables v1.8.9 (nf_tables)\n', '')] + ROUTES + [
        (SAVE6, 0, '', ''), NO_TABLE, (RESTORE6, 0, '', '')])
    assert rc == 0 and out == 'ipv6: changed: create chain IP-MASQ-AGENT; append POSTROUTING jump to IP-MASQ-AGENT\n'
    assert '-d fe80::/10' in r.calls[-1][1] and '10.0.0.0/8' not in r.calls[-1][1]


def test_failed_restore_exits_1(config, run):
    rc, out, err, _r = run(['sync', '--config', config], [V189] + ROUTES + [
        (SAVE, 0, '', ''), NO_TABLE, (RESTORE, 2, '', 'iptables-restore: line 3 failed\n')])
    assert (rc, out) == (1, '')
    assert err == 'ip-masq-agent: ipv4: iptables-restore --noflush failed (rc=2); nothing was changed: iptables-restore: line 3 failed\n'


def test_missing_iptables_exits_1(config, run, find_without):
    rc, out, err, _r = run(['sync', '--config', config], [], find=find_without(('iptables',)))
    assert (rc, out, err) == (1, '', 'ip-masq-agent: iptables not found\n')


def test_aggregate_reports_rules_saved(tmp_path, run):
    p = tmp_path / 'c'
    p.write_text('nonMasqueradeCIDRs: [10.0.0.0/9, 10.128.0.0/9, 10.0.0.0/8]\naggregate: true\n')
    rc, out, err, _r = run(['sync', '--config', str(p)], [V189] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE])
    assert (rc, out, err) == (0, 'ipv4: in sync, nothing written\n', 'ip-masq-agent: aggregate: 2 rules saved by merging CIDRs\n')


# --- status --------------------------------------------------------------------------------------------------------------

def test_status_drift_exits_1_and_never_writes(config, run, lock):
    rc, out, _e, _r = run(['status', '--config', config], [V189, (SAVE, 0, '', ''), NO_TABLE])
    assert rc == 1 and out == ''.join(['ipv4: drift in IP-MASQ-AGENT:\n', '  + :IP-MASQ-AGENT - [0:0]\n', '  + %s\n' % JUMP] +
                                      ['  + %s\n' % line for line in SAVED])
    assert not os.path.exists(os.path.splitext(lock)[0] + '.state')


def test_status_in_sync_exits_0(config, run):
    rc, out, _e, _r = run(['status', '--config', config], [V189, (SAVE, 0, IN_SYNC, ''), NO_TABLE])
    assert (rc, out) == (0, 'ipv4: in sync (IP-MASQ-AGENT)\n')


def test_status_duplicate_jump_is_drift(config, run):
    rc, out, _e, _r = run(['status', '--config', config], [V189, (SAVE, 0, IN_SYNC.replace(JUMP, JUMP + '\n' + JUMP), ''), NO_TABLE])
    assert (rc, out) == (1, 'ipv4: drift in IP-MASQ-AGENT:\n  ~ replace POSTROUTING jumps (2) with one jump to IP-MASQ-AGENT at position 1\n')


def test_status_nftables_with_leftover_iptables_chain_exits_1(config, run):
    """Defect (f): with backend nftables, ``status`` looked at the nftables table only and exited 0 while the agent's
    iptables chain from before the switch was still in force. A leftover is drift."""
    rc, out, err, _r = run(['status', '--config', config, '--backend', 'nftables'], [(NFT_LIST, 0, NFT_IN_SYNC, ''), (SAVE, 0, IN_SYNC, '')])
    assert (rc, err) == (1, '')
    assert out == ''.join(['nftables: in sync (inet ip-masq-agent)\n', 'ipv4: drift in leftover IP-MASQ-AGENT:\n',
                           '  - :IP-MASQ-AGENT - [0:0]\n', '  - %s\n' % JUMP] + ['  - %s\n' % line for line in SAVED])


def test_status_nftables_in_sync_without_leftover_exits_0(config, run):
    rc, out, _e, _r = run(['status', '--config', config, '--backend', 'nftables'], [(NFT_LIST, 0, NFT_IN_SYNC, ''), (SAVE, 0, '', '')])
    assert (rc, out) == (0, 'nftables: in sync (inet ip-masq-agent)\n')


def test_sync_nftables_removes_the_leftover_in_the_same_run(config, run):
    rc, out, _e, r = run(['sync', '--config', config, '--backend', 'nftables'], ROUTES + [
        (NFT_LIST, 0, NFT_IN_SYNC, ''), (SAVE, 0, IN_SYNC, ''), (RESTORE, 0, '', '')])
    assert rc == 0 and out == ('nftables: in sync, nothing written\n'
                               'ipv4: changed: delete POSTROUTING jump to IP-MASQ-AGENT; delete chain IP-MASQ-AGENT\n')
    assert r.calls[-1][1] == '*nat\n-D%s\n-F IP-MASQ-AGENT\n-X IP-MASQ-AGENT\nCOMMIT\n' % JUMP[2:]


# --- bad configs and usage -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('command', ['render', 'check', 'sync', 'status'])
def test_bad_config_exit_2_runs_nothing(tmp_path, run, command):
    p = tmp_path / 'bad'
    p.write_text('nonMasqueradeCIDRs: [10.0.0.1/8]\n')
    rc, out, err, r = run([command, '--config', str(p)], [])
    assert (rc, out, r.calls) == (2, '', [])
    assert err == 'ip-masq-agent: invalid config %s: nonMasqueradeCIDRs: CIDR \'10.0.0.1/8\' has host bits set; did you mean "10.0.0.0/8"?\n' % p


def test_unknown_key_warning_and_strict(tmp_path, run):
    p = tmp_path / 'c'
    p.write_text('nonMasqueradeCIDR: [10.0.0.0/8]\n')
    rc, _o, err, _r = run(['check', '--config', str(p)], [])
    assert (rc, err) == (0, "ip-masq-agent: warning: nonMasqueradeCIDR: unknown key 'nonMasqueradeCIDR'; did you mean "
                            "'nonMasqueradeCIDRs'? (ignored)\n")
    rc, _o, err, _r = run(['check', '--config', str(p), '--strict'], [])
    assert (rc, err) == (2, "ip-masq-agent: invalid config %s: nonMasqueradeCIDR: unknown key 'nonMasqueradeCIDR'; did you mean "
                            "'nonMasqueradeCIDRs'?\n" % p)


@pytest.mark.parametrize('args, words', [
    ([], 'the following arguments are required: {render,check,sync,status}'),
    (['sync', '--ip-version', 'ipv5'], "argument --ip-version: invalid choice: 'ipv5'"),
    (['sync', '--backend', 'ebpf'], "argument --backend: invalid choice: 'ebpf'"),
    (['sync', '--no-such-flag'], 'unrecognized arguments: --no-such-flag'),
])
def test_usage_errors_exit_2(capsys, args, words):
    with pytest.raises(SystemExit) as e:
        cli.main(args, runner=None, find=None)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('usage: ip-masq-agent') and 'ip-masq-agent: error: %s' % words in err


@pytest.mark.parametrize('flag, message', [
    ('--masq-chain=RETURN', "--masq-chain: invalid chain name 'RETURN': it is a built-in chain or target"),
    ('--to-ports=0-1', "--to-ports: invalid port range '0-1': ports run from 1 to 65535, first <= last"),
    ('--wait=-1', "--wait: expected a number of seconds, 0 or more, got '-1'"),
])
def test_bad_flag_values_exit_2(config, run, flag, message):
    rc, out, err, _r = run(['check', '--config', config, flag], [])
    assert (rc, out, err) == (2, '', 'ip-masq-agent: invalid config %s: %s\n' % (config, message))


# --- the argument file ---------------------------------------------------------------------------------------------------

def test_args_file_is_read_and_wins(config, run, tmp_path):
    args = tmp_path / 'args'
    args.write_text('# ip-masq-agent arguments\n\n--ip-version=both\n  --masq-chain=OTHER  \n--wait=3\n')
    rc, out, _e, r = run(['sync', '--config', config, '--masq-chain', 'FIRST', '--args-file', str(args)], [V189] + ROUTES + [
        (SAVE, 0, '', ''), (SAVE6, 0, '', ''), NO_TABLE, (RESTORE[:-1] + ['3'], 0, '', ''), (RESTORE6[:-1] + ['3'], 0, '', '')])
    assert rc == 0 and out == ('ipv4: changed: create chain OTHER; append POSTROUTING jump to OTHER\n'
                               'ipv6: changed: create chain OTHER; append POSTROUTING jump to OTHER\n')
    assert r.calls[-1][1].startswith('*nat\n:OTHER - [0:0]\n')


def test_args_file_names_the_lock_file(config, run, tmp_path):
    args = tmp_path / 'args'
    other = tmp_path / 'other' / 'x.lock'
    args.write_text('--lock-file=%s\n' % other)
    rc, _o, _e, _r = run(['sync', '--config', config, '--args-file', str(args)], [V189] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE])
    assert rc == 0 and os.path.exists(str(tmp_path / 'other' / 'x.state'))


def test_missing_args_file_exits_2(config, run, tmp_path):
    rc, out, err, r = run(['sync', '--config', config, '--args-file', str(tmp_path / 'none')], [])
    assert (rc, out, r.calls) == (2, '', [])
    assert err == "ip-masq-agent: invalid config %s: --args-file: cannot read %r: No such file or directory\n" % (config, str(tmp_path / 'none'))


def test_settings_argv_round_trips_through_the_parser():
    s = Settings()
    for name, value in [('chain', 'X'), ('nomasq_all_reserved_ranges', True), ('ip_version', 'both'), ('random_fully', False),
                        ('to_ports', '1-2'), ('backend', 'auto'), ('wait', 2.5), ('lock_file', '/run/x.lock')]:
        s.set(name, value)
    args = cli.build_parser().parse_args(['sync'] + s.argv())
    again = Settings()
    for f in RUNTIME_FIELDS:
        if getattr(args, f.name) is not None:
            again.set(f.name, getattr(args, f.name))
    assert [getattr(again, f.name) for f in RUNTIME_FIELDS] == [getattr(s, f.name) for f in RUNTIME_FIELDS]


# --- metrics ---------------------------------------------------------------------------------------------------------------

def test_metrics_written_after_sync_only(config, run, tmp_path):
    prom = str(tmp_path / 'ip_masq_agent.prom')
    rc, _o, _e, _r = run(['sync', '--config', config, '--metrics-file', prom], [V189] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE])
    m = read_metrics(prom)
    assert rc == 0 and m['ip_masq_agent_syncs_total{result="success"}'] == '1' and m['ip_masq_agent_last_sync_success'] == '1'
    assert m['ip_masq_agent_rules{backend="iptables",family="ipv4"}'] == '3'
    rc, _o, _e, _r = run(['status', '--config', config, '--metrics-file', prom], [V189, (SAVE, 0, IN_SYNC, ''), NO_TABLE])
    assert read_metrics(prom)['ip_masq_agent_syncs_total{result="success"}'] == '1'


def test_metrics_count_config_errors_and_failures(tmp_path, config, run):
    prom = str(tmp_path / 'm.prom')
    bad = tmp_path / 'bad'
    bad.write_text('cidrLimit: -1\n')
    assert run(['sync', '--config', str(bad), '--metrics-file', prom], [])[0] == 2
    assert run(['sync', '--config', config, '--metrics-file', prom], [V189] + ROUTES + [(SAVE, 1, '', 'denied')])[0] == 1
    m = read_metrics(prom)
    assert m['ip_masq_agent_syncs_total{result="config_error"}'] == '1' and m['ip_masq_agent_syncs_total{result="failure"}'] == '1'
    assert m['ip_masq_agent_last_sync_success'] == '0'


def test_unwritable_metrics_file_is_a_warning(config, run, tmp_path):
    prom = str(tmp_path / 'no-such-dir' / 'm.prom')
    rc, out, err, _r = run(['sync', '--config', config, '--metrics-file', prom], [V189] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE])
    assert (rc, out) == (0, 'ipv4: in sync, nothing written\n')
    assert err.startswith('ip-masq-agent: warning: cannot write metrics file %s: ' % prom)
