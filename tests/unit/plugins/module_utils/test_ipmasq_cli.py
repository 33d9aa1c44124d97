# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host program's main(): exit codes, output streams, and which commands it runs (a scripted runner)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_cli as CLI

SAVE = ['/usr/sbin/iptables-save', '-t', 'nat']
RESTORE = ['/usr/sbin/iptables-restore', '--noflush', '-w', '10']
VERSION = ['/usr/sbin/iptables', '--version']
ROUTE4 = ['/usr/sbin/ip', '-j', '-4', 'route', 'show', 'default']
ROUTE6 = ['/usr/sbin/ip', '-j', '-6', 'route', 'show', 'default']


@pytest.fixture
def run(scripted, find, tmp_path):
    def _run(args, script):
        out, err = io.StringIO(), io.StringIO()
        runner = scripted(script)
        rc = CLI.main(args + ['--lock-file', str(tmp_path / 'lock')], runner=runner, find=find, out=out, err=err)
        assert runner.script == [], 'expected calls not made: %r' % runner.script
        return rc, out.getvalue(), err.getvalue(), runner
    return _run


@pytest.fixture
def config(tmp_path):
    p = tmp_path / 'config'
    p.write_text('nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    return str(p)


def test_render_runs_nothing(config, run):
    rc, out, err, _r = run(['render', '--config', config], [])
    assert rc == 0 and out.startswith('*nat\n:IP-MASQ-AGENT - [0:0]\n') and out.endswith('COMMIT\n') and err == ''


def test_render_ipv6_prints_two_blocks(config, run):
    rc, out, _e, _r = run(['render', '--config', config, '--enable-ipv6'], [])
    assert rc == 0 and out.count('*nat\n') == 2 and out.index('169.254.0.0/16') < out.index('fe80::/10')


def test_check(config, run):
    rc, out, _e, _r = run(['check', '--config', config], [])
    assert rc == 0 and 'is valid' in out


def test_sync_apply_and_output(config, run):
    rc, out, err, r = run(['sync', '--config', config],
                          [(VERSION, 0, 'iptables v1.8.9 (nf_tables)\n', ''), (ROUTE4, 0, '[]', ''),
                           (ROUTE6, 0, '[]', ''), (SAVE, 0, '', ''), (RESTORE, 0, '', '')])
    assert rc == 0 and out.startswith('ipv4: changed: create chain IP-MASQ-AGENT') and err == ''
    assert '--random-fully' in r.calls[-1][1]


def test_old_iptables_drops_random_fully_like_upstream(config, run):
    rc, _o, err, r = run(['sync', '--config', config],
                         [(VERSION, 0, 'iptables v1.4.21\n', ''), (ROUTE4, 0, '', ''), (ROUTE6, 0, '', ''),
                          (SAVE, 0, '', ''), (RESTORE, 0, '', '')])
    assert rc == 0 and '--random-fully' not in r.calls[-1][1] and 'older than 1.6.2' in err


def test_explicit_no_random_fully_skips_version_probe(config, run):
    rc, _o, _e, r = run(['sync', '--config', config, '--no-random-fully'],
                        [(ROUTE4, 0, '', ''), (ROUTE6, 0, '', ''), (SAVE, 0, '', ''), (RESTORE, 0, '', '')])
    assert rc == 0 and '--random-fully' not in r.calls[-1][1]


def test_failed_restore_exits_1(config, run):
    rc, out, err, _r = run(['sync', '--config', config, '--random-fully'],
                           [(ROUTE4, 0, '', ''), (ROUTE6, 0, '', ''), (SAVE, 0, '', ''),
                            (RESTORE, 2, '', "iptables-restore: line 3 failed\n")])
    assert rc == 1 and 'line 3 failed' in err and 'nothing was changed' in err


def test_status_drift_exits_1_and_never_writes(config, run):
    rc, out, _e, _r = run(['status', '--config', config, '--random-fully'], [(SAVE, 0, '', '')])
    assert rc == 1 and 'drift' in out and '+ -A IP-MASQ-AGENT -d 10.0.0.0/8' in out


def test_bad_config_exit_2_runs_nothing(tmp_path, run):
    p = tmp_path / 'bad'
    p.write_text('nonMasqueradeCIDRs: [10.0.0.1/8]\n')
    for cmd in ('render', 'check', 'sync', 'status'):
        rc, out, err, r = run([cmd, '--config', str(p)], [])
        assert rc == 2 and out == '' and 'nonMasqueradeCIDRs' in err and '10.0.0.1/8' in err and r.calls == []


def test_unknown_key_warning_and_strict(tmp_path, run):
    p = tmp_path / 'c'
    p.write_text('nonMasqueradeCIDR: [10.0.0.0/8]\n')
    rc, _o, err, _r = run(['check', '--config', str(p)], [])
    assert rc == 0 and "did you mean 'nonMasqueradeCIDRs'" in err
    rc, _o, err, _r = run(['check', '--config', str(p), '--strict'], [])
    assert rc == 2 and "did you mean 'nonMasqueradeCIDRs'" in err


def test_usage_errors_exit_2(config, capsys):
    with pytest.raises(SystemExit) as e:
        CLI.main(['sync', '--config', config, '--random-fully', '--no-random-fully'])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        CLI.main([])
    assert e.value.code == 2
