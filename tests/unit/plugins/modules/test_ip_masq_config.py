# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

from ansible_collections.ipmasq.agent.plugins.modules import ip_masq_config

YAML = ('nonMasqueradeCIDRs:\n  - 10.0.0.0/8\ncidrLimit: 64\nmasqLinkLocal: false\nmasqLinkLocalIPv6: false\n'
        'resyncInterval: "60s"\n')


def test_creates_file_and_parent_with_0644(run_module, tmp_path):
    path = tmp_path / 'etc' / 'config' / 'ip-masq-agent'
    result, script = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']))
    assert result['changed'] and path.read_text() == YAML and script.seen == []
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644
    assert result['config']['nonMasqueradeCIDRs'] == ['10.0.0.0/8'] and result['path'] == str(path)
    assert result['diff']['before'] == '' and result['diff']['after'] == YAML


def test_second_run_no_change(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']))
    assert result['changed'] is False and 'diff' not in result


def test_check_mode_does_not_write(run_module, tmp_path):
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']),
                            check_mode=True)
    assert result['changed'] and not path.exists() and result['diff']['after'] == YAML


def test_invalid_value_leaves_file_untouched(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    before = path.read_bytes()
    for bad, option in ((dict(non_masquerade_cidrs=['10.0.0.1/8']), 'non_masquerade_cidrs'),
                        (dict(resync_interval='10 minutes'), 'resync_interval'),
                        (dict(resync_interval='0s'), 'resync_interval'),
                        (dict(cidr_limit=-1), 'cidr_limit'),
                        (dict(non_masquerade_cidrs=['fd00::/8']), 'non_masquerade_cidrs'),
                        (dict(snat_to_source='fd00::1'), 'snat_to_source')):
        result, _s = run_module(ip_masq_config.main, dict(bad, path=str(path)))
        assert result['failed'] and result['option'] == option and result['msg'].startswith(option + ': ')
        assert path.read_bytes() == before


def test_json_and_backup(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), format='json', backup=True,
                                                      ip_version='both', non_masquerade_cidrs=['fd00::/8']))
    assert result['changed'] and json.loads(path.read_text())['nonMasqueradeCIDRs'] == ['fd00::/8']
    assert open(result['backup_file']).read() == YAML


def test_mode_kept_and_settable(run_module, tmp_path):
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), mode='0600'))
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600 and result['changed']
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), mode='0600'))
    assert result['changed'] is False


def test_extensions_written_only_when_set(run_module, tmp_path):
    path = tmp_path / 'c'
    run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/20', '10.4.0.0/14'],
                                         required_cidrs=['10.4.0.0/14'], jump_position='first'))
    text = path.read_text()
    assert 'requiredCIDRs:\n  - 10.4.0.0/14' in text and 'jumpPosition: "first"' in text
    assert 'aggregate' not in text and 'snatToSource' not in text


def test_absent(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state='absent'), check_mode=True)
    assert result['changed'] and path.exists()
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state='absent'))
    assert result['changed'] and not path.exists()
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state='absent'))
    assert result['changed'] is False


def test_directory_path_fails(run_module, tmp_path):
    result, _s = run_module(ip_masq_config.main, dict(path=str(tmp_path)))
    assert result['failed'] and 'is a directory' in result['msg']
