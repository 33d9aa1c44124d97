# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""configfile: read the agent's file (regular files only, bounded), parse it as upstream's loader does (YAML 1.1 or
JSON), and write it (upstream's keys, table order)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import configfile
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import RFC1918_CIDRS, Settings


@pytest.mark.parametrize('text', ['', '   \n', '# only a comment\n', '---\n', 'null', '{}', b'', b'\n'])
def test_empty_file_means_defaults(text):
    assert configfile.to_mapping(text) == {}
    assert configfile.load(data=configfile.to_mapping(text)).cidrs() == list(RFC1918_CIDRS)


# upstream's syncConfigTests, YAML and JSON: (file text, the mapping read)
@pytest.mark.parametrize('text, mapping', [
    ('\nnonMasqueradeCIDRs:\n  - 172.16.0.0/12\n  - 10.0.0.0/8\ncidrLimit: 64\nmasqLinkLocal: true\nresyncInterval: 5s\n',
     {'nonMasqueradeCIDRs': ['172.16.0.0/12', '10.0.0.0/8'], 'cidrLimit': 64, 'masqLinkLocal': True, 'resyncInterval': '5s'}),
    ('\nnonMasqueradeCIDRs:\n  - 192.168.0.0/16\n', {'nonMasqueradeCIDRs': ['192.168.0.0/16']}),
    ('\nmasqLinkLocal: true\n', {'masqLinkLocal': True}),
    ('\nresyncInterval: 5m\n', {'resyncInterval': '5m'}),
    ('\n{\n  "nonMasqueradeCIDRs": ["172.16.0.0/12", "10.0.0.0/8"],\n  "masqLinkLocal": true,\n  "resyncInterval": "5s"\n}\n',
     {'nonMasqueradeCIDRs': ['172.16.0.0/12', '10.0.0.0/8'], 'masqLinkLocal': True, 'resyncInterval': '5s'}),
    ('\n{\n\t"nonMasqueradeCIDRs": ["192.168.0.0/16"]\n}\n', {'nonMasqueradeCIDRs': ['192.168.0.0/16']}),
    ('{\n\t"nonMasqueradeCIDRs": ["10.0.0.0/8"],\n\t"resyncInterval": "\\u0035m"\n}', {'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'resyncInterval': '5m'}),
    # YAML 1.1, as upstream's yaml.v2: yes/no/on/off are booleans, 0x and leading-zero octal integers
    ('masqLinkLocal: yes\nmasqLinkLocalIPv6: off\naggregate: on\n', {'masqLinkLocal': True, 'masqLinkLocalIPv6': False, 'aggregate': True}),
    ('masqLinkLocal: NO\n', {'masqLinkLocal': False}),
    ('cidrLimit: 0x40\n', {'cidrLimit': 64}),
    ('cidrLimit: 010\n', {'cidrLimit': 8}),
    (b'nonMasqueradeCIDRs: [10.0.0.0/8]\n', {'nonMasqueradeCIDRs': ['10.0.0.0/8']}),
])
def test_to_mapping(text, mapping):
    assert configfile.to_mapping(text) == mapping


def test_upstream_ipv6_json_example_loads_with_ipv6_enabled():
    s = Settings()
    s.set('ip_version', 'both')
    text = '{"nonMasqueradeCIDRs": ["172.16.0.0/12", "10.0.0.0/8", "fc00::/7"], "masqLinkLocal": true, "resyncInterval": "5s"}'
    s = configfile.load(data=configfile.to_mapping(text), settings=s).validate()
    assert s.cidrs('ipv6') == ['fc00::/7'] and s.masq_link_local is True and s.resync_seconds == 5.0


@pytest.mark.parametrize('text, value, message', [
    ('[1', '[1', 'config: not valid YAML: while parsing a flow sequence   in "<unicode string>", line 1, column 1 '
                 'did not find expected \',\' or \']\'   in "<unicode string>", line 2, column 1'),
    # upstream's "invalid yaml file" case
    ('*', '*', 'config: not valid YAML: while scanning an alias   in "<unicode string>", line 1, column 1 did not find '
               'expected alphabetic or numeric character   in "<unicode string>", line 1, column 2'),
    (b'\xff\xfe\x00garbage', b'\xff\xfe\x00garbage', 'config: file contains NUL bytes; it is not a YAML or JSON text'),
    (b'\xc3\x28\xa0\xa1', b'\xc3\x28\xa0\xa1',
     "config: file is not UTF-8 text ('utf-8' codec can't decode byte 0xc3 in position 0: invalid continuation byte)"),
    ('{"a":' * 5000 + '1' + '}' * 5000, '{"a":' * 8, 'config: not valid JSON: nested too deeply'),
    # issue 10: a file whose first non-blank character is "{" is JSON, as upstream reads it: no YAML leniency
    ('{"nonMasqueradeCIDRs": ["10.0.0.0/8",]}', '{"nonMasqueradeCIDRs": ["10.0.0.0/8",]}',
     'config: not valid JSON (a file that starts with "{" is JSON, as upstream reads it): Expecting value: line 1 column 38 '
     '(char 37)'),
    ('---\nnonMasqueradeCIDRs: []\n---\ncidrLimit: 3\n', '---\nnonMasqueradeCIDRs: []\n---\ncidrLimit',
     'config: more than one YAML document (---): upstream applies the first and ignores the others; write one document'),
])
def test_unreadable_texts(text, value, message):
    """Every unreadable text is one ConfigError naming the config and a bounded excerpt."""
    with pytest.raises(ConfigError) as e:
        configfile.to_mapping(text)
    assert (e.value.key, e.value.value, str(e.value)) == ('config', value, message)


def test_read_bytes(tmp_path):
    path = tmp_path / 'config'
    assert configfile.read_bytes(str(path)) is None
    with pytest.raises(ConfigError) as e:
        configfile.read_bytes(str(path), missing_ok=False)
    assert e.value.key == 'config' and str(e.value) == "config: cannot read %r: No such file or directory" % str(path)
    path.write_bytes(b'cidrLimit: 3\n')
    assert configfile.read_bytes(str(path)) == b'cidrLimit: 3\n'


def test_directory_and_fifo_are_refused(tmp_path):
    with pytest.raises(ConfigError) as e:
        configfile.read_bytes(str(tmp_path))
    assert str(e.value) == 'config: path %r is a directory; give the config file itself' % str(tmp_path)
    fifo = str(tmp_path / 'fifo')
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as e:  # never blocks waiting for a writer
        configfile.read_bytes(fifo)
    assert str(e.value) == 'config: path %r is not a regular file; give the config file itself' % fifo


def test_large_files_are_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(configfile, 'MAX_CONFIG_BYTES', 10)
    path = tmp_path / 'config'
    path.write_bytes(b'x' * 11)
    with pytest.raises(ConfigError) as e:
        configfile.read_bytes(str(path))
    assert str(e.value) == 'config: file is larger than 10 bytes'
    with pytest.raises(ConfigError) as e:
        configfile.to_mapping(b'x' * 11)
    assert str(e.value) == 'config: file is larger than 10 bytes'
    path.write_bytes(b'x' * 10)
    assert configfile.read_bytes(str(path)) == b'x' * 10


def test_load_from_path(tmp_path):
    assert configfile.load(str(tmp_path / 'missing')).cidrs() == list(RFC1918_CIDRS)
    path = tmp_path / 'config'
    path.write_text('nonMasqueradeCIDRs: [10.0.0.0/8]\nmasqLinkLocal: true\n')
    s = configfile.load(str(path))
    assert s.cidrs() == ['10.0.0.0/8'] and s.masq_link_local is True
    assert s.given == {'non_masquerade_cidrs': 'nonMasqueradeCIDRs', 'masq_link_local': 'masqLinkLocal'}


def test_load_keeps_the_settings_given_and_mapping_wins_over_path(tmp_path):
    path = tmp_path / 'config'
    path.write_text('cidrLimit: 3\n')
    s = Settings()
    s.set('ip_version', 'both')
    assert configfile.load(str(path), settings=s) is s and s.cidr_limit == 3 and s.families == ['ipv4', 'ipv6']
    assert configfile.load(str(path), data={'cidrLimit': 5}).cidr_limit == 5


def test_load_strict():
    with pytest.raises(ConfigError) as e:
        configfile.load(data={'nonMasqueradeCIDR': []}, strict=True)
    assert e.value.key == 'nonMasqueradeCIDR'
    assert configfile.load(data={'nonMasqueradeCIDR': []}).warnings == [
        "nonMasqueradeCIDR: unknown key 'nonMasqueradeCIDR'; did you mean 'nonMasqueradeCIDRs'? (ignored)"]


def test_dump_yaml_exact():
    mapping = {'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'cidrLimit': 64, 'masqLinkLocal': False, 'resyncInterval': '60s',
               'requiredCIDRs': [], 'jumpPosition': 'first', 'snatToSource': '198.51.100.7'}
    assert configfile.dump(mapping) == ('nonMasqueradeCIDRs:\n  - 10.0.0.0/8\ncidrLimit: 64\nmasqLinkLocal: false\n'
                                        'resyncInterval: "60s"\nsnatToSource: "198.51.100.7"\nrequiredCIDRs: []\n'
                                        'jumpPosition: "first"\n')


def test_dump_json_exact_and_empty():
    assert configfile.dump({'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'cidrLimit': 64}, 'json') == (
        '{\n  "nonMasqueradeCIDRs": [\n    "10.0.0.0/8"\n  ],\n  "cidrLimit": 64\n}\n')
    assert configfile.dump({}) == '{}\n' and configfile.dump({}, 'json') == '{}\n'


@pytest.mark.parametrize('fmt', ['yaml', 'json'])
def test_dump_round_trips(fmt):
    s = Settings()
    s.set('ip_version', 'both')
    configfile.load(data={'nonMasqueradeCIDRs': ['10.0.0.0/8', 'fd00::/8'], 'cidrLimit': 10, 'masqLinkLocal': True,
                          'masqLinkLocalIPv6': True, 'resyncInterval': '1m30s', 'masqueradeCIDRs': ['203.0.113.0/24'],
                          'snatToSource': '198.51.100.7', 'snatToSourceIPv6': '2001:db8::7', 'aggregate': True,
                          'requiredCIDRs': [], 'jumpPosition': 'first'}, settings=s)
    text = configfile.dump(s.file_mapping(), fmt)
    again = configfile.load(data=configfile.to_mapping(text))
    assert again.file_mapping() == s.file_mapping()
    if fmt == 'json':
        assert json.loads(text) == s.file_mapping()


def test_dump_empty_list_round_trips():
    text = configfile.dump({'nonMasqueradeCIDRs': []})
    assert text == 'nonMasqueradeCIDRs: []\n'
    assert configfile.load(data=configfile.to_mapping(text)).cidrs() == []


@pytest.mark.parametrize('text, key, message', [
    ('nonMasqueradeCIDRs: [10.0.0.0/8]\ncidrLimit: 3\nnonMasqueradeCIDRs: [192.168.0.0/16]\n', 'nonMasqueradeCIDRs',
     "the key 'nonMasqueradeCIDRs' is given twice (lines 1 and 3); keep one"),
    ('nonMasqueradeCIDRs: [10.0.0.0/8]\nNonMasqueradeCIDRs: []\n', 'NonMasqueradeCIDRs',
     "the keys 'nonMasqueradeCIDRs' (line 1) and 'NonMasqueradeCIDRs' (line 2) both set nonMasqueradeCIDRs; keep one"),
    ('{\n  "nonMasqueradeCIDRs": ["10.0.0.0/8"],\n  "cidrLimit": 3,\n  "nonMasqueradeCIDRs": []\n}', 'nonMasqueradeCIDRs',
     "the key 'nonMasqueradeCIDRs' is given twice (lines 2 and 4); keep one"),
    ('{"nonMasqueradeCIDRs": ["10.0.0.0/8"],\n "NonMasqueradeCIDRs": []}', 'NonMasqueradeCIDRs',
     "the keys 'nonMasqueradeCIDRs' (line 1) and 'NonMasqueradeCIDRs' (line 2) both set nonMasqueradeCIDRs; keep one"),
])
def test_duplicate_keys_name_both_and_their_lines(text, key, message):
    """Issue 10: with a key twice (YAML), or two spellings of it (JSON), upstream silently takes the last; the old code
    silently took one of them too. A network config that drops one of two CIDR lists causes outages: an error."""
    with pytest.raises(ConfigError) as e:
        configfile.to_mapping(text)
    assert (e.value.key, e.value.reason) == (key, message)


def test_deep_yaml_nesting_is_a_config_error():
    """5,000 nested lists: libyaml builds them and the depth limit refuses them; PyYAML's pure loader, or a libyaml
    with its own nesting limit (ansible-test's venv), refuses them while parsing. Either way one bounded ConfigError."""
    with pytest.raises(ConfigError) as e:
        configfile.to_mapping('[' * 5000 + ']' * 5000)
    assert e.value.key == 'config' and len(str(e.value)) < 600
