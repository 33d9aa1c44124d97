# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ip_masq_host: the real main() with patched arguments and an ordered mock of run_command; files in tmp_path."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import install
from ansible_collections.ipmasq.agent.plugins.modules import ip_masq_host

# the rules as test_ip_masq_chain scripts them
SAVE = ['/usr/sbin/iptables-save', '-t', 'nat']
RESTORE = ['/usr/sbin/iptables-restore', '--noflush', '-w', '10']
VERSION = (['/usr/sbin/iptables', '--version'], 0, 'iptables v1.8.9 (nf_tables)\n', '')
ROUTES = [(['/usr/sbin/ip', '-j', '-4', 'route', 'show', 'default'], 0, '[]', ''),
          (['/usr/sbin/ip', '-j', '-6', 'route', 'show', 'default'], 0, '[]', '')]
NO_TABLE = (['/usr/sbin/nft', '-j', 'list', 'table', 'inet', 'ip-masq-agent'], 1, '', 'Error: No such file or directory\n')
NM = '-m comment --comment "ip-masq-agent: local traffic is not subject to MASQUERADE"'
MC = '-m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)"'
JUMP = ('-A POSTROUTING -m comment --comment "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic '
        'to our custom IP-MASQ-AGENT chain" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT')
SAVED = ['-A IP-MASQ-AGENT -d 169.254.0.0/16 %s -j RETURN' % NM, '-A IP-MASQ-AGENT -d 10.0.0.0/8 %s -j RETURN' % NM,
         '-A IP-MASQ-AGENT %s -j MASQUERADE --random-fully' % MC]
IN_SYNC = '\n'.join(['*nat', ':POSTROUTING ACCEPT [0:0]', ':IP-MASQ-AGENT - [0:0]', JUMP] + SAVED + ['COMMIT', ''])
AFTER = [':IP-MASQ-AGENT - [0:0]', JUMP] + SAVED

SYSTEMCTL = '/usr/sbin/systemctl'
UNITS = {'ip-masq-agent.service': '[Service]\nExecStart=/x\n', 'ip-masq-agent.timer': '[Timer]\nOnBootSec=1s\n'}
ENABLE = ['ip-masq-agent.timer']


def args(tmp_path, **kw):
    a = dict(config={'nonMasqueradeCIDRs': ['10.0.0.0/8']}, lock_file=str(tmp_path / 'lock'),
             args_file=str(tmp_path / 'default'), program='#!/bin/sh\necho agent\n',
             program_path=str(tmp_path / 'sbin' / 'ip-masq-agent'), lib_dir=str(tmp_path / 'lib'), units=UNITS,
             unit_dir=str(tmp_path / 'units'), enable=ENABLE, restart=['ip-masq-agent.timer'])
    a.update(kw)
    return a


def sc(*argv, **kw):
    return ([SYSTEMCTL] + list(argv), kw.get('rc', 0), kw.get('out', ''), '')


def first_run_calls():
    return ([sc('is-system-running', out='running\n'), sc('daemon-reload'), VERSION] + ROUTES +
            [(SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', ''),
             sc('is-enabled', 'ip-masq-agent.timer', rc=1, out='disabled\n'), sc('enable', 'ip-masq-agent.timer'),
             sc('restart', 'ip-masq-agent.timer')])


def in_sync_calls():
    return ([sc('is-system-running', out='degraded\n'), VERSION] + ROUTES + [(SAVE, 0, IN_SYNC, ''), NO_TABLE,
            sc('is-enabled', 'ip-masq-agent.timer', out='enabled\n'), sc('is-active', 'ip-masq-agent.timer', out='active\n')])


def test_first_run_installs_everything_then_a_rerun_changes_nothing(run_module, tmp_path):
    a = args(tmp_path)
    result, _s = run_module(ip_masq_host.main, a, first_run_calls())
    assert result['changed'] is True and result['missing'] == [] and result['booted'] is True
    assert result['systemd'] == ['daemon-reload', 'enable ip-masq-agent.timer', 'restart ip-masq-agent.timer']
    assert result['rules'] == {'ipv4': AFTER} and result['args_file_changed'] is True
    for rel, data in install.package_files().items():
        with open(os.path.join(a['lib_dir'], rel), 'rb') as f:
            assert f.read() == data, rel
    with open(a['program_path']) as f:
        assert f.read() == a['program']
    assert oct(os.stat(a['program_path']).st_mode & 0o777) == oct(0o755)
    with open(str(tmp_path / 'units' / 'ip-masq-agent.timer')) as f:
        assert f.read() == UNITS['ip-masq-agent.timer']
    with open(a['args_file']) as f:
        text = f.read()
    assert text == install.args_text(['--lock-file=' + a['lock_file']])  # the defaults are not written
    headers = [d['after_header'] for d in result['diff']]
    assert headers[0] == '%s (collection)' % a['lib_dir'] and a['program_path'] in headers and a['args_file'] in headers
    assert 'ipv4 IP-MASQ-AGENT (applied)' in headers

    again, script = run_module(ip_masq_host.main, a, in_sync_calls())
    assert again['changed'] is False and again['files'] == {} and again['systemd'] == [] and 'diff' not in again
    assert not any(c['argv'][1:2] in (['start'], ['enable'], ['daemon-reload']) for c in script.seen)


def test_check_mode_reports_every_part_and_writes_nothing(run_module, tmp_path):
    a = args(tmp_path)
    calls = [sc('is-system-running', out='running\n'), VERSION, (SAVE, 0, '', ''), NO_TABLE,
             sc('is-enabled', 'ip-masq-agent.timer', rc=1, out='disabled\n')]
    result, script = run_module(ip_masq_host.main, a, calls, check_mode=True)
    assert result['changed'] is True
    assert result['systemd'] == ['daemon-reload', 'enable ip-masq-agent.timer', 'restart ip-masq-agent.timer']
    assert a['program_path'] in result['files'] and a['args_file'] in result['files']
    assert result['actions'] == {'ipv4': ['create chain IP-MASQ-AGENT', 'append POSTROUTING jump to IP-MASQ-AGENT']}
    assert os.listdir(str(tmp_path)) == [] or sorted(os.listdir(str(tmp_path))) == ['lock']
    assert [c['argv'][1] for c in script.seen if c['argv'][0] == SYSTEMCTL] == ['is-system-running', 'is-enabled']


def test_one_changed_library_file_is_one_line_of_the_diff_and_the_only_write(run_module, tmp_path):
    a = args(tmp_path)
    run_module(ip_masq_host.main, a, first_run_calls())
    engine_py = os.path.join(a['lib_dir'], 'ipmasq', 'engine.py')
    with open(engine_py, 'a') as f:
        f.write('# local edit\n')
    program_inode = os.stat(a['program_path']).st_ino
    result, _s = run_module(ip_masq_host.main, a, in_sync_calls())
    assert result['changed'] is True and result['files'] == {engine_py: ['content']} and result['systemd'] == []
    assert len(result['diff']) == 1 and result['diff'][0]['after'].startswith(engine_py + ' ')
    assert result['diff'][0]['after'].count('\n') == 1
    assert os.stat(a['program_path']).st_ino == program_inode
    assert install.FileState(engine_py, install.package_files()['ipmasq/engine.py'], 0o644).changes == []


def test_a_changed_unit_reloads_and_restarts_the_timer_only_when_systemd_runs(run_module, tmp_path):
    a = args(tmp_path)
    run_module(ip_masq_host.main, a, first_run_calls())
    units = dict(UNITS, **{'ip-masq-agent.timer': '[Timer]\nOnBootSec=2s\n'})
    calls = ([sc('is-system-running', out='offline\n'), VERSION] + ROUTES +
             [(SAVE, 0, IN_SYNC, ''), NO_TABLE, sc('is-enabled', 'ip-masq-agent.timer', out='enabled\n')])
    result, _s = run_module(ip_masq_host.main, dict(a, units=units), calls)
    assert result['changed'] is True and result['booted'] is False and result['systemd'] == []
    assert list(result['files']) == [str(tmp_path / 'units' / 'ip-masq-agent.timer')]


def test_missing_reported_and_nothing_done(run_module, tmp_path):
    a = args(tmp_path, on_missing='report')
    result, script = run_module(ip_masq_host.main, a, [], missing=('iptables-restore',))
    assert result['changed'] is False and result['missing'] == ['iptables-restore']
    assert not set(result) & {'files', 'systemd', 'rules', 'failed'}
    assert script.seen == [] and os.listdir(str(tmp_path)) == []


def test_missing_fails_by_default_naming_it(run_module, tmp_path):
    result, _s = run_module(ip_masq_host.main, args(tmp_path), [], missing=('systemctl',))
    assert result['failed'] is True and 'systemctl' in result['msg'] and result['missing'] == ['systemctl']
    assert os.listdir(str(tmp_path)) == []


def test_a_bad_config_names_key_and_value_and_changes_nothing(run_module, tmp_path):
    result, _s = run_module(ip_masq_host.main, args(tmp_path, config={'nonMasqueradeCIDRs': ['10.0.0.0/33']}), [])
    assert result['failed'] is True and result['option'] == 'nonMasqueradeCIDRs' and '10.0.0.0/33' in result['msg']
    assert os.listdir(str(tmp_path)) == []


def test_without_services_only_the_rules(run_module, tmp_path):
    result, script = run_module(ip_masq_host.main, dict(config={}, lock_file=str(tmp_path / 'lock')),
                                [VERSION] + ROUTES + [(SAVE, 0, '', ''), NO_TABLE, (RESTORE, 0, '', '')])
    assert result['changed'] is True and result['files'] == {} and result['systemd'] == []
    assert all(c['argv'][0] != SYSTEMCTL for c in script.seen)
