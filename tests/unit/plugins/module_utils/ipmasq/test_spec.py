# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spec: every knob once. Upstream's keys and defaults, the checks per kind, the checks across knobs, the ways out
(file mapping, program arguments), and the doc fragment against the module argument spec."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible_collections.ipmasq.agent.plugins.doc_fragments.agent import ModuleDocFragment
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import engine, glue, spec
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.configfile import to_mapping
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import Settings, apply_mapping

NONMASQ = '-A IP-MASQ-AGENT -m comment --comment "ip-masq-agent: local traffic is not subject to MASQUERADE" -d %s -j RETURN'
MASQ = ('-A IP-MASQ-AGENT -m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE '
        '(must be last in chain)" -j MASQUERADE --random-fully')
RESERVED = ['100.64.0.0/10', '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '198.18.0.0/15', '198.51.100.0/24',
            '203.0.113.0/24', '240.0.0.0/4']


def settings(data=None, **runtime):
    s = Settings()
    for name, value in runtime.items():
        s.set(name, value)
    return apply_mapping(s, data)


def parse(text, **runtime):
    return settings(to_mapping(text), **runtime)


# --- upstream's defaults ---------------------------------------------------------------------------------------------

def test_defaults_match_upstream():
    s = Settings()
    assert s.cidrs() == ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']
    assert s.non_masquerade_cidrs is None and s.cidr_limit == 64
    assert s.masq_link_local is False and s.masq_link_local_ipv6 is False
    assert s.resync_interval == '60s' and s.resync_seconds == 60.0
    assert (s.chain, s.ip_version, s.families, s.random_fully, s.backend) == ('IP-MASQ-AGENT', 'ipv4', ['ipv4'], True, 'iptables')
    assert (s.wait, s.lock_file, s.to_ports, s.port_ranges, s.jump_position) == (10, '/run/ip-masq-agent.lock', '', [], 'append')
    assert s.given == {} and s.warnings == [] and s.file_mapping() == {} and s.argv() == []


def test_upstream_rows_are_upstream_v2_12s_config_keys_and_flags():
    """The rows marked upstream: what upstream's image and GKE's agent read (the cluster modules write only these)."""
    assert [f.key for f in spec.FILE_FIELDS if f.upstream] == [
        'nonMasqueradeCIDRs', 'cidrLimit', 'masqLinkLocal', 'masqLinkLocalIPv6', 'resyncInterval']
    assert [f.flag for f in spec.RUNTIME_FIELDS if f.upstream] == [
        '--masq-chain', '--nomasq-all-reserved-ranges', '--random-fully', '--to-ports']


def test_reserved_ranges_default_list():
    assert Settings().cidrs() == list(spec.RFC1918_CIDRS)
    assert settings(nomasq_all_reserved_ranges=True).cidrs() == list(spec.RFC1918_CIDRS) + RESERVED


def test_reserved_ranges_flag_without_cidrs_renders_the_reserved_ranges():
    """Defect (e): the flag --nomasq-all-reserved-ranges (option nomasq_all_reserved_ranges) had no effect once a config
    had been written by ip_masq_config, because that module wrote upstream's default list into the file. With no CIDRs
    given, the reserved ranges are rendered, in upstream's order (its TestSyncMasqRules "default config not masquerading
    reserved ranges")."""
    s = settings(nomasq_all_reserved_ranges=True).validate()
    assert engine.render(s) == ['\n'.join(
        ['*nat', ':IP-MASQ-AGENT - [0:0]', NONMASQ % '169.254.0.0/16', NONMASQ % '10.0.0.0/8',
         NONMASQ % '172.16.0.0/12', NONMASQ % '192.168.0.0/16'] + [NONMASQ % c for c in RESERVED] + [MASQ, 'COMMIT', ''])]


def test_given_list_replaces_defaults_even_with_reserved_flag():
    assert parse('nonMasqueradeCIDRs: [10.0.0.0/8]', nomasq_all_reserved_ranges=True).cidrs() == ['10.0.0.0/8']
    assert parse('nonMasqueradeCIDRs: []', nomasq_all_reserved_ranges=True).cidrs() == []


# --- reading a mapping as upstream's decoder does ---------------------------------------------------------------------

def test_keys_case_insensitive_and_labels_kept():
    s = parse('NonMasqueradeCidrs: [10.0.0.0/8]\nMASQLINKLOCAL: yes\nmasqlinklocalipv6: on\nResyncInterval: 5m\n')
    assert s.cidrs() == ['10.0.0.0/8'] and s.masq_link_local is True and s.masq_link_local_ipv6 is True
    assert s.resync_seconds == 300.0
    assert s.given == {'non_masquerade_cidrs': 'NonMasqueradeCidrs', 'masq_link_local': 'MASQLINKLOCAL',
                       'masq_link_local_ipv6': 'masqlinklocalipv6', 'resync_interval': 'ResyncInterval'}
    with pytest.raises(ConfigError) as e:
        parse('CIDRLIMIT: -1')
    assert str(e.value) == 'CIDRLIMIT: must not be negative, got -1'


@pytest.mark.parametrize('data', [
    {'nonmasqueradecidrs': ['10.0.0.0/8'], 'nonMasqueradeCIDRs': ['192.168.0.0/16']},
    {'nonMasqueradeCIDRs': ['192.168.0.0/16'], 'NonMasqueradeCIDRs': ['10.0.0.0/8']},
])
def test_two_keys_for_one_knob_are_an_error_naming_both(data):
    """Upstream (Go encoding/json) silently takes the last of two keys that fold to one field; a network config that
    silently drops one of two CIDR lists causes outages, so this is an error naming both keys (README, stricter). A
    mapping (the modules' ``config``) has no lines; files say them (test_configfile)."""
    with pytest.raises(ConfigError) as e:
        apply_mapping(Settings(), data)
    first, second = list(data)
    assert "the keys '%s' and '%s' both set nonMasqueradeCIDRs; keep one" % (first, second) in str(e.value)


def test_null_list_means_empty_and_null_scalar_keeps_default():
    s = parse('nonMasqueradeCIDRs: null\ncidrLimit: null\nresyncInterval: ~\nmasqLinkLocal: null\n')
    assert s.cidrs() == [] and s.cidr_limit == 64 and s.resync_interval == '60s' and s.masq_link_local is False
    assert s.file_mapping() == {'nonMasqueradeCIDRs': []}


@pytest.mark.parametrize('data', [None, {}])
def test_empty_mapping_means_defaults(data):
    s = apply_mapping(Settings(), data)
    assert s.cidrs() == list(spec.RFC1918_CIDRS) and s.given == {}


def test_unknown_key_warns_with_closest_known_key():
    s = parse('nonMasqueradeCIDR: [10.0.0.0/8]\n')
    assert s.cidrs() == list(spec.RFC1918_CIDRS)
    assert s.warnings == ["nonMasqueradeCIDR: unknown key 'nonMasqueradeCIDR'; did you mean 'nonMasqueradeCIDRs'? (ignored)"]


KEYS = ', '.join(f.key for f in spec.FILE_FIELDS)  # upstream's keys first, then ours, in table order


def test_unknown_key_without_close_match_lists_the_keys():
    s = parse('zzz: 1')
    assert s.warnings == ["zzz: unknown key 'zzz'; known keys: %s (ignored)" % KEYS]
    assert KEYS.startswith('nonMasqueradeCIDRs, cidrLimit, masqLinkLocal, masqLinkLocalIPv6, resyncInterval, ')


def test_unknown_key_warnings_are_bounded():
    s = apply_mapping(Settings(), dict(('unknown%d' % i, i) for i in range(50)))
    assert len(s.warnings) == 21 and s.warnings[-1] == '30 more unknown keys (ignored)'


def test_unknown_key_is_error_when_strict():
    with pytest.raises(ConfigError) as e:
        apply_mapping(Settings(), {'masqLinkLocl': True}, strict=True)
    assert e.value.key == 'masqLinkLocl' and e.value.value is True
    assert str(e.value) == "masqLinkLocl: unknown key 'masqLinkLocl'; did you mean 'masqLinkLocal'?"


# (config text, key named by the error, the whole message)
REJECTIONS = [
    ('nonMasqueradeCIDRs: [10.0.0.0]', 'nonMasqueradeCIDRs',
     'nonMasqueradeCIDRs: invalid CIDR \'10.0.0.0\': a prefix length is required (e.g. "10.0.0.0/32")'),
    ('nonMasqueradeCIDRs: [10.0.0.1/8]', 'nonMasqueradeCIDRs',
     'nonMasqueradeCIDRs: CIDR \'10.0.0.1/8\' has host bits set; did you mean "10.0.0.0/8"?'),
    ('nonMasqueradeCIDRs: [10.0.0.0/33]', 'nonMasqueradeCIDRs',
     "nonMasqueradeCIDRs: invalid CIDR '10.0.0.0/33': prefix length 33 is longer than 32 for IPv4"),
    ('nonMasqueradeCIDRs: [10.0.0/8]', 'nonMasqueradeCIDRs',
     "nonMasqueradeCIDRs: '10.0.0/8': '10.0.0' is not a dotted-quad IPv4 address (no leading zeros)"),
    ('nonMasqueradeCIDRs: [010.0.0.0/8]', 'nonMasqueradeCIDRs',
     "nonMasqueradeCIDRs: '010.0.0.0/8': '010.0.0.0' is not a dotted-quad IPv4 address (no leading zeros)"),
    ('nonMasqueradeCIDRs: [10.256.0.0/16]', 'nonMasqueradeCIDRs',
     "nonMasqueradeCIDRs: '10.256.0.0/16': '10.256.0.0' is not a dotted-quad IPv4 address (no leading zeros)"),
    ('nonMasqueradeCIDRs: ["10.0.0.0/8 -j ACCEPT"]', 'nonMasqueradeCIDRs',
     "nonMasqueradeCIDRs: invalid CIDR '10.0.0.0/8 -j ACCEPT': bad prefix length '8 -j ACCEPT' (digits, no leading zeros)"),
    ('nonMasqueradeCIDRs: [fd00::/8]', 'nonMasqueradeCIDRs',
     "nonMasqueradeCIDRs: IPv6 'fd00::/8' given but IPv6 is not enabled; enable it with --enable-ipv6 (ip_version: ipv6 or "
     'both in the modules)'),
    ('nonMasqueradeCIDRs: ["fd00::1/8"]', 'nonMasqueradeCIDRs',
     'nonMasqueradeCIDRs: CIDR \'fd00::1/8\' has host bits set; did you mean "fd00::/8"?'),
    ('nonMasqueradeCIDRs: ["::ffff:10.0.0.0/104"]', 'nonMasqueradeCIDRs',
     "nonMasqueradeCIDRs: '::ffff:10.0.0.0/104': IPv4-mapped or embedded IPv6 forms are ambiguous; write the IPv4 CIDR "
     'instead'),
    ('nonMasqueradeCIDRs: 10.0.0.0/8', 'nonMasqueradeCIDRs',
     "nonMasqueradeCIDRs: expected a list of CIDR strings, got str '10.0.0.0/8'"),
    ('nonMasqueradeCIDRs: [8]', 'nonMasqueradeCIDRs',
     'nonMasqueradeCIDRs: expected a CIDR string such as "10.0.0.0/8", got int 8'),
    ('masqLinkLocal: "true"', 'masqLinkLocal', "masqLinkLocal: expected true or false, got str 'true'"),
    ('masqLinkLocalIPv6: 1', 'masqLinkLocalIPv6', 'masqLinkLocalIPv6: expected true or false, got int 1'),
    ('cidrLimit: "64"', 'cidrLimit', "cidrLimit: expected a whole number, got str '64'"),
    ('cidrLimit: 6.5', 'cidrLimit', 'cidrLimit: expected a whole number, got float 6.5'),
    ('cidrLimit: -1', 'cidrLimit', 'cidrLimit: must not be negative, got -1'),
    ('cidrLimit: true', 'cidrLimit', 'cidrLimit: expected a whole number, got bool True'),
    ('resyncInterval: 60', 'resyncInterval',
     'resyncInterval: expected a Go duration string such as "60s" or "1m30s", got int 60; write "60s"'),
    ('resyncInterval: 60x', 'resyncInterval',
     'resyncInterval: time: unknown unit \'x\' in duration \'60x\' (use Go syntax such as "60s", "1m30s", "500ms")'),
    ('resyncInterval: "5"', 'resyncInterval',
     'resyncInterval: time: missing unit in duration \'5\' (use Go syntax such as "60s", "1m30s", "500ms")'),
    ('resyncInterval: 0s', 'resyncInterval', "resyncInterval: must be greater than zero, got '0s'"),
    ('resyncInterval: -5s', 'resyncInterval', "resyncInterval: must be greater than zero, got '-5s'"),
    ('resyncInterval: ""', 'resyncInterval',
     'resyncInterval: time: invalid duration \'\' (use Go syntax such as "60s", "1m30s", "500ms")'),
    ('1: 2', '1', '1: config keys must be strings, got int 1'),  # YAML: a file starting with "{" is JSON
    ('masqueradeCIDRs: [203.0.113.1/24]', 'masqueradeCIDRs',
     'masqueradeCIDRs: CIDR \'203.0.113.1/24\' has host bits set; did you mean "203.0.113.0/24"?'),
    ('masqueradeCIDRs: x', 'masqueradeCIDRs', "masqueradeCIDRs: expected a list of CIDR strings, got str 'x'"),
    ('snatToSource: 198.51.100.300', 'snatToSource',
     "snatToSource: '198.51.100.300': '198.51.100.300' is not a dotted-quad IPv4 address (no leading zeros)"),
    ('snatToSource: "fd00::1"', 'snatToSource', "snatToSource: expected an IPv4 address, got 'fd00::1'"),
    ('snatToSource: 7', 'snatToSource', 'snatToSource: expected an IP address string, got int 7'),
    ('snatToSourceIPv6: "fd00::1"', 'snatToSourceIPv6',
     "snatToSourceIPv6: IPv6 'fd00::1' given but IPv6 is not enabled; enable it with --enable-ipv6 (ip_version: ipv6 or "
     'both in the modules)'),
    ('snatToSourceIPv6: 198.51.100.7', 'snatToSourceIPv6', "snatToSourceIPv6: expected an IPv6 address, got '198.51.100.7'"),
    ('aggregate: "yes"', 'aggregate', "aggregate: expected true or false, got str 'yes'"),
    ('jumpPosition: top', 'jumpPosition', "jumpPosition: expected one of append, first, got 'top'"),
    ('requiredCIDRs: [10.0.0.1/8]', 'requiredCIDRs',
     'requiredCIDRs: CIDR \'10.0.0.1/8\' has host bits set; did you mean "10.0.0.0/8"?'),
]


@pytest.mark.parametrize('text, key, message', REJECTIONS)
def test_rejections_name_key_and_value(text, key, message):
    with pytest.raises(ConfigError) as e:
        parse(text).validate()
    assert e.value.key == key and str(e.value) == message


@pytest.mark.parametrize('text, shown', [('- 10.0.0.0/8', "list ['10.0.0.0/8']"), ('just words', "str 'just words'"), ('7', 'int 7')])
def test_top_level_must_be_a_mapping(text, shown):
    with pytest.raises(ConfigError) as e:
        parse(text)
    assert e.value.key == 'config'
    assert str(e.value) == 'config: expected a mapping of keys (%s) at the top level, got %s' % (KEYS, shown)


def test_ipv6_allowed_when_enabled_and_split_by_family():
    s = parse('nonMasqueradeCIDRs: [10.0.0.0/8, "fd00::/8", "2001:DB8::/32"]', ip_version='both').validate()
    assert s.cidrs('ipv4') == ['10.0.0.0/8'] and s.cidrs('ipv6') == ['fd00::/8', '2001:DB8::/32']
    assert s.families == ['ipv4', 'ipv6']
    assert parse('{}', ip_version='ipv6').validate().families == ['ipv6']


# --- checks across knobs ---------------------------------------------------------------------------------------------

def test_cidr_limit_counts_all_but_link_local():
    cidrs = ['10.%d.0.0/16' % i for i in range(65)]
    with pytest.raises(ConfigError) as e:
        settings({'nonMasqueradeCIDRs': cidrs}).validate()
    assert e.value.key == 'nonMasqueradeCIDRs'
    assert str(e.value) == ('nonMasqueradeCIDRs: the agent accepts up to 64 CIDRs (excluding link-local), but got 65; '
                            'raise cidrLimit if this is intended')
    assert len(settings({'nonMasqueradeCIDRs': cidrs, 'cidrLimit': 65}).validate().cidrs()) == 65
    with pytest.raises(ConfigError):  # upstream counts its default list too
        settings({'cidrLimit': 2}).validate()


def test_error_names_the_option_as_given():
    s = Settings()
    s.set('non_masquerade_cidrs', ['10.%d.0.0/16' % i for i in range(3)], 'non_masquerade_cidrs')
    s.set('cidr_limit', 2, 'cidr_limit')
    with pytest.raises(ConfigError) as e:
        s.validate()
    assert str(e.value) == ('non_masquerade_cidrs: the agent accepts up to 2 CIDRs (excluding link-local), but got 3; '
                            'raise cidr_limit if this is intended')


def test_duplicate_cidr_warns():
    s = parse('nonMasqueradeCIDRs: [10.0.0.0/8, 10.0.0.0/8]').validate()
    assert s.warnings == ["nonMasqueradeCIDRs: '10.0.0.0/8' is listed more than once"]


@pytest.mark.parametrize('data, runtime, message', [
    ({'snatToSource': '198.51.100.7'}, {'to_ports': '1000-2000'},
     'to_ports: cannot be combined with snatToSource (SNAT takes no port list here)'),
    ({'masqueradeCIDRs': ['203.0.113.0/24']}, {'to_ports': '1000-2000'}, 'to_ports: cannot be combined with masqueradeCIDRs'),
])
def test_to_ports_combinations_rejected(data, runtime, message):
    with pytest.raises(ConfigError) as e:
        settings(data, **runtime).validate()
    assert e.value.key == 'to_ports' and str(e.value) == message


def test_required_cidrs_guard_rail_composer_style():
    # GKE / Cloud Composer: the node and Pod ranges must keep their source (intranode visibility).
    ok = settings({'nonMasqueradeCIDRs': ['10.0.0.0/20', '10.4.0.0/14'],
                   'requiredCIDRs': ['10.0.0.0/20', '10.4.0.0/14']}).validate()
    assert ok.required_cidrs == ['10.0.0.0/20', '10.4.0.0/14']
    with pytest.raises(ConfigError) as e:
        settings({'nonMasqueradeCIDRs': ['10.0.0.0/20'], 'requiredCIDRs': ['10.0.0.0/20', '10.4.0.0/14']}).validate()
    assert e.value.key == 'requiredCIDRs' and e.value.value == '10.4.0.0/14'
    assert str(e.value) == ("requiredCIDRs: required non-masquerade CIDR '10.4.0.0/14' is not covered: traffic to 10.4.0.0/14 "
                            'would be masqueraded; add it to nonMasqueradeCIDRs')
    # partly covered: the message names the uncovered part
    with pytest.raises(ConfigError) as e:
        settings({'nonMasqueradeCIDRs': ['10.4.0.0/15'], 'requiredCIDRs': ['10.4.0.0/14']}).validate()
    assert 'traffic to 10.6.0.0/15 would be masqueraded' in str(e.value)


def test_required_cidrs_link_local_and_explicit_masquerade_list():
    # link-local keeps its source unless masqLinkLocal; an explicit masquerade list leaves everything else alone
    settings({'nonMasqueradeCIDRs': [], 'requiredCIDRs': ['169.254.0.0/16']}).validate()
    with pytest.raises(ConfigError):
        settings({'nonMasqueradeCIDRs': [], 'masqLinkLocal': True, 'requiredCIDRs': ['169.254.0.0/16']}).validate()
    s = settings({'nonMasqueradeCIDRs': [], 'masqueradeCIDRs': ['203.0.113.0/24'], 'requiredCIDRs': ['10.4.0.0/14']})
    assert s.validate().required_cidrs == ['10.4.0.0/14']
    with pytest.raises(ConfigError):
        settings({'nonMasqueradeCIDRs': [], 'masqueradeCIDRs': ['10.0.0.0/8'], 'requiredCIDRs': ['10.4.0.0/14']}).validate()


def test_required_ipv6_cidr_checked_only_when_ipv6_is_managed():
    data = {'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'requiredCIDRs': ['fd00::/8']}
    settings(data).validate()
    with pytest.raises(ConfigError) as e:
        settings(data, ip_version='both').validate()
    assert 'traffic to fd00::/8 would be masqueraded' in str(e.value)


def test_aggregate_merges_and_counts():
    s = settings({'nonMasqueradeCIDRs': ['10.0.0.0/9', '10.128.0.0/9', '10.1.0.0/16', '192.168.0.0/24', '192.168.1.0/24'],
                  'aggregate': True}).validate()
    assert s.effective_cidrs('ipv4') == ['10.0.0.0/8', '192.168.0.0/23']
    assert s.aggregation_saved() == 3
    # without aggregate: file order, duplicates and all
    s = settings({'nonMasqueradeCIDRs': ['192.168.0.0/16', '10.0.0.0/8', '10.0.0.0/8']})
    assert s.effective_cidrs('ipv4') == ['192.168.0.0/16', '10.0.0.0/8', '10.0.0.0/8'] and s.aggregation_saved() == 0


def test_masqueraded_set():
    s = settings({'nonMasqueradeCIDRs': ['10.0.0.0/8']})
    masq = s.masqueraded_set('ipv4')
    assert '10.1.2.3' not in masq and '169.254.1.1' not in masq and '8.8.8.8' in masq
    s = settings({'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'masqueradeCIDRs': ['10.0.0.0/7', '203.0.113.0/24']})
    assert [str(c) for c in s.masqueraded_set('ipv4').iter_cidrs()] == ['11.0.0.0/8', '203.0.113.0/24']


# --- single knobs ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name', ['', 'A' * 29, '-X', 'has space', 'RETURN', 'POSTROUTING', 'masquerade', 'a"b', 'x;y', 7])
def test_bad_chain_names(name):
    with pytest.raises(ConfigError) as e:
        Settings().set('chain', name, '--masq-chain')
    assert e.value.key == '--masq-chain'


@pytest.mark.parametrize('name', ['A' * 28, 'KUBE-MASQ.1:x+', 'ip_masq', '9LIVES'])
def test_good_chain_names(name):
    s = Settings()
    s.set('chain', name)
    assert s.chain == name


@pytest.mark.parametrize('text, ranges', [
    ('', []), (None, []), ('1', [(1, 1)]), ('65535', [(65535, 65535)]), ('32768-65535,1024', [(32768, 65535), (1024, 1024)]),
    ('1-65535,2', [(1, 65535), (2, 2)]),
])
def test_parse_ports(text, ranges):
    assert spec.parse_ports(text) == ranges


@pytest.mark.parametrize('text, reason', [
    ('0-10', "invalid port range '0-10': ports run from 1 to 65535, first <= last"),
    ('10-5', "invalid port range '10-5': ports run from 1 to 65535, first <= last"),
    ('65536', "invalid port range '65536': ports run from 1 to 65535, first <= last"),
    ('1,,2', "invalid port range '': use PORT or FIRST-LAST, comma-separated"),
    ('1-2-3', "invalid port range '1-2-3': use PORT or FIRST-LAST, comma-separated"),
    (' 1', "invalid port range ' 1': use PORT or FIRST-LAST, comma-separated"),
    ('1 -j ACCEPT', "invalid port range '1 -j ACCEPT': use PORT or FIRST-LAST, comma-separated"),
    ('a-b', "invalid port range 'a-b': use PORT or FIRST-LAST, comma-separated"),
    (7, 'expected a string such as "32768-65535,1024-2047"'),
])
def test_bad_to_ports(text, reason):
    with pytest.raises(ConfigError) as e:
        Settings().set('to_ports', text, '--to-ports')
    assert e.value.key == '--to-ports' and e.value.reason == reason


@pytest.mark.parametrize('value, seconds', [('5', 5.0), (5, 5.0), (2.5, 2.5), ('0', 0.0)])
def test_wait_seconds(value, seconds):
    s = Settings()
    s.set('wait', value)
    assert s.wait == seconds


@pytest.mark.parametrize('value', [-1, 'x', True, float('inf'), float('nan'), None])
def test_bad_wait(value):
    with pytest.raises(ConfigError) as e:
        Settings().set('wait', value)
    assert e.value.key == 'wait' and e.value.reason.startswith('expected a number of seconds, 0 or more, got ')


@pytest.mark.parametrize('name, value', [('lock_file', 'a\nb'), ('lock_file', 7), ('ip_version', 'ipv5'),
                                         ('backend', 'ebpf'), ('random_fully', 'yes')])
def test_bad_runtime_values(name, value):
    with pytest.raises(ConfigError) as e:
        Settings().set(name, value)
    assert e.value.key == name


# --- the ways out ----------------------------------------------------------------------------------------------------

def test_file_mapping_holds_only_the_given_keys_in_table_order():
    s = Settings()
    s.set('jump_position', 'first')
    s.set('resync_interval', '30s')
    s.set('non_masquerade_cidrs', ['10.0.0.0/8'])
    s.set('chain', 'OTHER')  # a runtime knob never goes in the file
    assert list(s.file_mapping().items()) == [('nonMasqueradeCIDRs', ['10.0.0.0/8']), ('resyncInterval', '30s'),
                                              ('jumpPosition', 'first')]


def test_argv_has_only_the_runtime_knobs_that_differ_from_defaults():
    s = Settings()
    for name, value in [('chain', 'X'), ('nomasq_all_reserved_ranges', True), ('ip_version', 'both'), ('random_fully', False),
                        ('to_ports', '1-2'), ('backend', 'auto'), ('wait', 2.5), ('lock_file', '-'),
                        ('non_masquerade_cidrs', ['10.0.0.0/8'])]:
        s.set(name, value)
    assert s.argv() == ['--masq-chain=X', '--nomasq-all-reserved-ranges', '--ip-version=both', '--no-random-fully',
                        '--to-ports=1-2', '--backend=auto', '--wait=2.5', '--lock-file=-']
    s = Settings()
    s.set('wait', '10')
    s.set('random_fully', True)
    assert s.argv() == []


# --- the doc fragment against the argument spec ----------------------------------------------------------------------

def _fragment(name):
    return yaml.safe_load(getattr(ModuleDocFragment, name))['options']


def test_doc_fragment_matches_argument_spec():
    argspec = glue.argument_spec()
    for fragment in ('CONFIG', 'RUNTIME'):
        for name, doc in _fragment(fragment).items():
            option = argspec[name]
            assert doc['type'] == option['type'], name
            assert doc.get('elements') == option.get('elements'), name
            assert doc.get('choices') == option.get('choices'), name
            assert doc.get('default') == option.get('default'), name


def test_every_field_documented_in_exactly_one_fragment():
    config, runtime = set(_fragment('CONFIG')), set(_fragment('RUNTIME'))
    assert config & runtime == set()
    assert config | runtime == set(f.name for f in spec.FIELDS)
    assert config == set(f.name for f in spec.FILE_FIELDS) and runtime == set(f.name for f in spec.RUNTIME_FIELDS)
    # and the file knobs' docs name their config-file key
    for f in spec.FILE_FIELDS:
        description = _fragment('CONFIG')[f.name]['description']
        assert 'C(%s)' % f.key in (description if isinstance(description, str) else ' '.join(description)), f.name


def test_role_argument_spec_has_one_entry_per_file_knob():
    """Adding a config key touches the spec, the doc fragment and the role's argument spec: the role's
    ``ip_masq_agent_config`` options are exactly the file rows of FIELDS, with matching types and choices."""
    import os
    root = os.path.dirname(os.path.abspath(spec.__file__))
    for _up in range(3):
        root = os.path.dirname(root)
    with open(os.path.join(root, 'roles', 'ip_masq_agent', 'meta', 'argument_specs.yml')) as f:
        options = yaml.safe_load(f)['argument_specs']['main']['options']['ip_masq_agent_config']['options']
    want = dict((f.key, o) for f, o in ((f, glue.argument_spec()[f.name]) for f in spec.FILE_FIELDS))
    assert list(options) == [f.key for f in spec.FILE_FIELDS]
    for key, option in options.items():
        got = dict((k, v) for k, v in option.items() if k in ('type', 'elements', 'choices'))
        assert got == dict((k, v) for k, v in want[key].items() if k != 'default'), key
