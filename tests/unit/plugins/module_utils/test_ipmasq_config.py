# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config model: upstream's keys and defaults, compatibility with files people run, and clear rejections."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_config as C


def parse(text, **opts):
    return C.parse_config_text(text, C.Options(**opts))


def test_defaults_match_upstream():
    cfg = parse('')
    assert cfg.non_masquerade_cidrs == ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']
    assert cfg.cidr_limit == 64
    assert cfg.masq_link_local is False and cfg.masq_link_local_ipv6 is False
    assert cfg.resync_interval == '60s' and cfg.resync_seconds == 60


def test_reserved_ranges_default():
    cfg = parse('{}', nomasq_all_reserved_ranges=True)
    assert cfg.non_masquerade_cidrs == [
        '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '192.0.0.0/24', '192.0.2.0/24',
        '192.88.99.0/24', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4']


def test_given_list_replaces_defaults_even_with_reserved_flag():
    cfg = parse('nonMasqueradeCIDRs: [10.0.0.0/8]', nomasq_all_reserved_ranges=True)
    assert cfg.non_masquerade_cidrs == ['10.0.0.0/8']


@pytest.mark.parametrize('text', ['', '   \n', '# only a comment\n', '---\n', 'null'])
def test_empty_file_means_defaults(text):
    assert parse(text) == C.MasqConfig()


def test_missing_file_means_defaults(tmp_path):
    assert C.load_config_file(str(tmp_path / 'nope')) == C.MasqConfig()


def test_keys_case_insensitive_and_yaml11_booleans():
    cfg = parse('NonMasqueradeCidrs: [10.0.0.0/8]\nMASQLINKLOCAL: yes\nmasqlinklocalipv6: on\nResyncInterval: 5m\n')
    assert cfg.non_masquerade_cidrs == ['10.0.0.0/8']
    assert cfg.masq_link_local is True and cfg.masq_link_local_ipv6 is True
    assert cfg.resync_seconds == 300


def test_json_with_tabs_and_escaped_duration():
    text = '{\n\t"nonMasqueradeCIDRs": ["10.0.0.0/8"],\n\t"resyncInterval": "\\u0035m"\n}'
    cfg = parse(text)
    assert cfg.resync_interval == '5m' and cfg.resync_seconds == 300


def test_exact_case_key_wins_over_folded_key():
    cfg = parse('{"nonmasqueradecidrs": ["10.0.0.0/8"], "nonMasqueradeCIDRs": ["192.168.0.0/16"]}')
    assert cfg.non_masquerade_cidrs == ['192.168.0.0/16']


def test_null_list_means_empty_and_null_scalar_keeps_default():
    cfg = parse('nonMasqueradeCIDRs: null\ncidrLimit: null\nresyncInterval: ~\n')
    assert cfg.non_masquerade_cidrs == [] and cfg.cidr_limit == 64 and cfg.resync_interval == '60s'


def test_unknown_key_warns_with_closest_known_key():
    cfg = parse('nonMasqueradeCIDR: [10.0.0.0/8]\n')
    assert cfg.non_masquerade_cidrs == list(C.RFC1918_CIDRS)
    assert len(cfg.warnings) == 1
    assert "'nonMasqueradeCIDR'" in cfg.warnings[0] and "did you mean 'nonMasqueradeCIDRs'" in cfg.warnings[0]


def test_unknown_key_is_error_when_strict():
    with pytest.raises(C.ConfigError) as e:
        parse('masqLinkLocl: true\n', strict=True)
    assert e.value.key == 'masqLinkLocl' and "did you mean 'masqLinkLocal'" in str(e.value)


@pytest.mark.parametrize('text, key, fragment', [
    ('nonMasqueradeCIDRs: [10.0.0.0]', 'nonMasqueradeCIDRs', 'prefix length is required'),
    ('nonMasqueradeCIDRs: [10.0.0.1/8]', 'nonMasqueradeCIDRs', 'did you mean "10.0.0.0/8"'),
    ('nonMasqueradeCIDRs: [10.0.0.0/33]', 'nonMasqueradeCIDRs', 'prefix length 33'),
    ('nonMasqueradeCIDRs: [10.0.0/8]', 'nonMasqueradeCIDRs', 'dotted-quad'),
    ('nonMasqueradeCIDRs: [010.0.0.0/8]', 'nonMasqueradeCIDRs', 'dotted-quad'),
    ('nonMasqueradeCIDRs: ["10.0.0.0/8 -j ACCEPT"]', 'nonMasqueradeCIDRs', 'bad prefix length'),
    ('nonMasqueradeCIDRs: [fd00::/8]', 'nonMasqueradeCIDRs', 'IPv6 is not enabled'),
    ('nonMasqueradeCIDRs: ["fd00::1/8"]', 'nonMasqueradeCIDRs', 'host bits'),
    ('nonMasqueradeCIDRs: ["::ffff:10.0.0.0/104"]', 'nonMasqueradeCIDRs', 'IPv4-mapped'),
    ('nonMasqueradeCIDRs: 10.0.0.0/8', 'nonMasqueradeCIDRs', 'expected a list'),
    ('nonMasqueradeCIDRs: [8]', 'nonMasqueradeCIDRs', 'expected a CIDR string'),
    ('masqLinkLocal: "true"', 'masqLinkLocal', 'expected true or false'),
    ('masqLinkLocalIPv6: 1', 'masqLinkLocalIPv6', 'expected true or false'),
    ('cidrLimit: "64"', 'cidrLimit', 'whole number'),
    ('cidrLimit: 6.5', 'cidrLimit', 'whole number'),
    ('cidrLimit: -1', 'cidrLimit', 'negative'),
    ('cidrLimit: true', 'cidrLimit', 'whole number'),
    ('resyncInterval: 60', 'resyncInterval', 'Go duration string'),
    ('resyncInterval: 60x', 'resyncInterval', 'unknown unit'),
    ('resyncInterval: "5"', 'resyncInterval', 'missing unit'),
    ('resyncInterval: 0s', 'resyncInterval', 'greater than zero'),
    ('resyncInterval: -5s', 'resyncInterval', 'greater than zero'),
    ('resyncInterval: ""', 'resyncInterval', 'invalid duration'),
    ('- 10.0.0.0/8', '', 'expected a mapping'),
    ('just words', '', 'expected a mapping'),
    ('nonMasqueradeCIDRs: [10.0.0.0/8', 'config', 'not valid YAML or JSON'),
])
def test_rejections_name_key_and_value(text, key, fragment):
    with pytest.raises(C.ConfigError) as e:
        parse(text)
    assert e.value.key == key
    assert fragment in str(e.value)
    if key == 'nonMasqueradeCIDRs' and '[' in text and 'expected' not in fragment:
        assert repr(e.value.value) in str(e.value) or str(e.value.value) in str(e.value)


def test_cidr_limit_counts_all_but_link_local():
    cidrs = ['10.%d.0.0/16' % i for i in range(65)]
    with pytest.raises(C.ConfigError) as e:
        C.config_from_mapping({'nonMasqueradeCIDRs': cidrs})
    assert 'up to 64 CIDRs' in str(e.value) and 'got 65' in str(e.value)
    cfg = C.config_from_mapping({'nonMasqueradeCIDRs': cidrs, 'cidrLimit': 65})
    assert len(cfg.non_masquerade_cidrs) == 65


def test_ipv6_allowed_when_enabled():
    cfg = parse('nonMasqueradeCIDRs: [10.0.0.0/8, "fd00::/8", "2001:DB8::/32"]', enable_ipv6=True)
    assert cfg.cidrs('ipv4') == ['10.0.0.0/8'] and cfg.cidrs('ipv6') == ['fd00::/8', '2001:DB8::/32']


def test_bytes_input_garbage_and_nul():
    with pytest.raises(C.ConfigError) as e:
        C.parse_config_text(b'\xff\xfe\x00garbage')
    assert e.value.key == 'config'
    with pytest.raises(C.ConfigError):
        C.parse_config_text(b'\xc3\x28\xa0\xa1')


def test_directory_and_unreadable_paths(tmp_path):
    with pytest.raises(C.ConfigError) as e:
        C.load_config_file(str(tmp_path))
    assert 'is a directory' in str(e.value)


def test_duplicate_cidr_warns():
    cfg = parse('nonMasqueradeCIDRs: [10.0.0.0/8, 10.0.0.0/8]')
    assert any('more than once' in w for w in cfg.warnings)


@pytest.mark.parametrize('text, ns', [
    ('0', 0), ('60s', 60 * 10 ** 9), ('1m30s', 90 * 10 ** 9), ('500ms', 5 * 10 ** 8), ('1.5h', 5400 * 10 ** 9),
    ('1h2m3.5s', 3723500000000), ('.5s', 5 * 10 ** 8), ('1.s', 10 ** 9), ('2us', 2000), (u'2\u00b5s', 2000),
    ('-1s', -10 ** 9), ('+3ns', 3), ('1h1h', 7200 * 10 ** 9),
])
def test_go_durations(text, ns):
    assert C.parse_go_duration(text) == ns


@pytest.mark.parametrize('text', ['', '1', 's', '.s', '1..5s', '1d', '5 m', '1e3s', '9223372037s'])
def test_go_duration_rejections(text):
    with pytest.raises(ValueError):
        C.parse_go_duration(text)


@pytest.mark.parametrize('ns, text', [(0, '0s'), (90 * 10 ** 9, '1m30s'), (3600 * 10 ** 9, '1h0m0s'),
                                      (1500 * 10 ** 6, '1.5s'), (5 * 10 ** 8, '500ms')])
def test_format_go_duration(ns, text):
    assert C.format_go_duration(ns) == text


@pytest.mark.parametrize('name', ['', 'A' * 29, '-X', 'has space', 'RETURN', 'POSTROUTING', 'a"b', 'x;y'])
def test_bad_chain_names(name):
    with pytest.raises(C.ConfigError) as e:
        C.Options(masq_chain=name)
    assert e.value.key == 'masq-chain'


@pytest.mark.parametrize('text', ['0-10', '10-5', '65536', '1,,2', '1-2-3', ' 1', '1 -j ACCEPT', 'a-b'])
def test_bad_to_ports(text):
    with pytest.raises(C.ConfigError) as e:
        C.Options(to_ports=text)
    assert e.value.key == 'to-ports'


def test_to_ports_parse():
    assert C.parse_to_ports('32768-65535,1024') == [(32768, 65535), (1024, 1024)]


def test_dump_round_trips_both_formats():
    cfg = C.config_from_mapping({'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'masqLinkLocal': True,
                                 'resyncInterval': '1m30s'})
    for fmt in ('yaml', 'json'):
        again = C.parse_config_text(C.dump_config(cfg, fmt))
        assert again == cfg


def test_dump_empty_list():
    cfg = C.config_from_mapping({'nonMasqueradeCIDRs': []})
    assert C.parse_config_text(C.dump_config(cfg)).non_masquerade_cidrs == []
