# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ip_masq_config: the real main() with patched arguments; it runs no commands."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import sys

import pytest

from ansible_collections.ipmasq.agent.plugins.modules import ip_masq_config

YAML = 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n'


def test_creates_file_and_parent_with_0644(run_module, tmp_path):
    path = tmp_path / 'etc' / 'config' / 'ip-masq-agent'
    result, script = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']))
    assert result['changed'] is True and path.read_text() == YAML and script.seen == []
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644 and stat.S_IMODE(os.stat(str(path.parent)).st_mode) == 0o755
    assert result['config'] == {'nonMasqueradeCIDRs': ['10.0.0.0/8']} and result['path'] == str(path)
    assert result['resync_interval_seconds'] == 60.0
    assert result['diff'] == {'before': '', 'after': YAML, 'before_header': '/dev/null', 'after_header': str(path)}


def test_only_the_keys_given_are_written(run_module, tmp_path):
    """Defect (e), the module's half: ip_masq_config wrote upstream's whole default config (the RFC 1918 list included),
    so the host program's --nomasq-all-reserved-ranges never applied. Without non_masquerade_cidrs, no nonMasqueradeCIDRs
    key is written."""
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), resync_interval='30s'))
    assert path.read_text() == 'resyncInterval: "30s"\n'
    assert result['config'] == {'resyncInterval': '30s'} and result['resync_interval_seconds'] == 30.0


def test_nothing_given_writes_an_empty_mapping(run_module, tmp_path):
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path)))
    assert result['changed'] is True and path.read_text() == '{}\n' and result['config'] == {}


def test_second_run_no_change(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']))
    assert result['changed'] is False and 'diff' not in result


def test_check_mode_does_not_write(run_module, tmp_path):
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']), check_mode=True)
    assert result['changed'] is True and not path.exists() and result['diff']['after'] == YAML


def test_diff_of_a_change(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8', '172.16.0.0/12'],
                                                      masq_link_local=True))
    after = 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 172.16.0.0/12\nmasqLinkLocal: true\n'
    assert result['diff'] == {'before': YAML, 'after': after, 'before_header': str(path), 'after_header': str(path)}
    assert path.read_text() == after


@pytest.mark.parametrize('bad, option, msg', [
    (dict(non_masquerade_cidrs=['10.0.0.1/8']), 'non_masquerade_cidrs',
     'non_masquerade_cidrs: CIDR \'10.0.0.1/8\' has host bits set; did you mean "10.0.0.0/8"?'),
    (dict(resync_interval='10 minutes'), 'resync_interval',
     'resync_interval: time: unknown unit \' minutes\' in duration \'10 minutes\' (use Go syntax such as "60s", "1m30s", "500ms")'),
    (dict(resync_interval='0s'), 'resync_interval', "resync_interval: must be greater than zero, got '0s'"),
    (dict(cidr_limit=-1), 'cidr_limit', 'cidr_limit: must not be negative, got -1'),
    (dict(non_masquerade_cidrs=['fd00::/8']), 'non_masquerade_cidrs',
     "non_masquerade_cidrs: IPv6 'fd00::/8' given but IPv6 is not enabled; enable it with --enable-ipv6 (ip_version: ipv6 or both in "
     'the modules)'),
    (dict(snat_to_source='fd00::1'), 'snat_to_source', "snat_to_source: expected an IPv4 address, got 'fd00::1'"),
    (dict(jump_position='top'), None, 'value of jump_position must be one of: append, first, got: top'),  # Ansible's own check
    (dict(config={'masqLinkLocl': True}), 'masqLinkLocl', "masqLinkLocl: unknown key 'masqLinkLocl'; did you mean 'masqLinkLocal'?"),
    (dict(config={'cidrLimit': '64'}), 'cidrLimit', "cidrLimit: expected a whole number, got str '64'"),
    # upstream's default list counts against the limit; it is named by its key, as it was not given
    (dict(cidr_limit=2), 'nonMasqueradeCIDRs',
     'nonMasqueradeCIDRs: the agent accepts up to 2 CIDRs (excluding link-local), but got 3; raise cidr_limit if this is intended'),
])
def test_invalid_value_leaves_file_untouched(run_module, tmp_path, bad, option, msg):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(bad, path=str(path)))
    assert result['failed'] is True and result['msg'] == msg and result.get('option') == option
    assert path.read_text() == YAML


def test_config_mapping_with_options_overriding_its_keys(run_module, tmp_path):
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), config={'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'cidrLimit': 10,
                                                                              'masqlinklocal': True},
                                                      cidr_limit=20))
    assert path.read_text() == 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\ncidrLimit: 20\nmasqLinkLocal: true\n'


def test_json_and_backup(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), format='json', backup=True, ip_version='both',
                                                      non_masquerade_cidrs=['fd00::/8']))
    assert result['changed'] and path.read_text() == '{\n  "nonMasqueradeCIDRs": [\n    "fd00::/8"\n  ]\n}\n'
    with open(result['backup_file']) as f:
        assert f.read() == YAML


def test_mode_kept_and_settable(run_module, tmp_path):
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), mode='0600'))
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600 and result['changed']
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), mode='0600'))
    assert result['changed'] is False
    # an existing file keeps its mode when rewritten
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), cidr_limit=10))
    assert result['changed'] is True and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600


def test_extensions_written_only_when_set(run_module, tmp_path):
    path = tmp_path / 'c'
    run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/20', '10.4.0.0/14'],
                                         required_cidrs=['10.4.0.0/14'], jump_position='first'))
    assert path.read_text() == ('nonMasqueradeCIDRs:\n  - 10.0.0.0/20\n  - 10.4.0.0/14\nrequiredCIDRs:\n  - 10.4.0.0/14\n'
                                'jumpPosition: "first"\n')


def test_every_key_in_table_order(run_module, tmp_path):
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(
        path=str(path), ip_version='both', jump_position='append', required_cidrs=[], aggregate=False,
        snat_to_source_ipv6='2001:DB8::7', snat_to_source='198.51.100.7', masquerade_cidrs=['203.0.113.0/24'], resync_interval='1m30s',
        masq_link_local_ipv6=True, masq_link_local=False, cidr_limit=64, non_masquerade_cidrs=['10.0.0.0/8', 'fd00::/8']))
    assert path.read_text() == ('nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - fd00::/8\ncidrLimit: 64\nmasqLinkLocal: false\n'
                                'masqLinkLocalIPv6: true\nresyncInterval: "1m30s"\nmasqueradeCIDRs:\n  - 203.0.113.0/24\n'
                                'snatToSource: "198.51.100.7"\nsnatToSourceIPv6: "2001:db8::7"\naggregate: false\nrequiredCIDRs: []\n'
                                'jumpPosition: "append"\n')
    assert result['resync_interval_seconds'] == 90.0


def test_duplicate_cidr_warns(run_module, tmp_path):
    result, _s = run_module(ip_masq_config.main, dict(path=str(tmp_path / 'c'), non_masquerade_cidrs=['10.0.0.0/8', '10.0.0.0/8']))
    assert result['changed'] is True
    assert "non_masquerade_cidrs: '10.0.0.0/8' is listed more than once" in json.dumps(result['warnings'])


def test_absent(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state='absent'), check_mode=True)
    assert result['changed'] and path.exists()
    assert result['diff'] == {'before': YAML, 'after': '', 'before_header': str(path), 'after_header': str(path)}
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state='absent', backup=True))
    assert result['changed'] and not path.exists() and 'config' not in result
    with open(result['backup_file']) as f:
        assert f.read() == YAML
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state='absent'))
    assert result['changed'] is False


def test_absent_ignores_invalid_options(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state='absent', non_masquerade_cidrs=['10.0.0.1/8']))
    assert result['changed'] and not path.exists()


def test_directory_path_fails(run_module, tmp_path):
    result, _s = run_module(ip_masq_config.main, dict(path=str(tmp_path)))
    assert result['failed'] and result['msg'] == 'config: path %r is a directory; give the config file itself' % str(tmp_path)


def test_missing_library_is_named(run_module, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'yaml', None)
    result, _s = run_module(ip_masq_config.main, dict(path=str(tmp_path / 'c')))
    assert result['failed'] and 'PyYAML' in result['msg'] and 'python3-yaml' in result['msg']
    assert not (tmp_path / 'c').exists()
