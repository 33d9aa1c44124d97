# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""addr: one CIDR parser for both families, as Go's net.ParseCIDR plus upstream's alignment check (stricter where Go
is lax), the canonical form iptables-save prints, and the set helpers."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import addr
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError, show


@pytest.mark.parametrize('text, version, value, prefix, canonical', [
    ('10.0.0.0/8', 4, 10 << 24, 8, '10.0.0.0/8'),
    ('0.0.0.0/0', 4, 0, 0, '0.0.0.0/0'),
    ('255.255.255.255/32', 4, (1 << 32) - 1, 32, '255.255.255.255/32'),
    ('2001:DB8::/32', 6, 0x20010db8 << 96, 32, '2001:db8::/32'),
    ('::/0', 6, 0, 0, '::/0'),
    ('::1/128', 6, 1, 128, '::1/128'),
    ('fe80::/10', 6, 0xfe80 << 112, 10, 'fe80::/10'),
    ('1:2:3:4:5:6:7:8/128', 6, 0x00010002000300040005000600070008, 128, '1:2:3:4:5:6:7:8/128'),
])
def test_parse_cidr(text, version, value, prefix, canonical):
    net = addr.parse_cidr(text)
    assert tuple(net) == (version, value, prefix) and (net.version, net.value, net.prefix) == (version, value, prefix)
    assert str(net) == canonical and net.family == ('ipv6' if version == 6 else 'ipv4')


@pytest.mark.parametrize('text, reason', [
    # upstream's own cases (validateConfigTests)
    ('abcdefg', 'invalid CIDR \'abcdefg\': a prefix length is required (e.g. "abcdefg/32")'),
    ('10.256.0.0/16', "'10.256.0.0/16': '10.256.0.0' is not a dotted-quad IPv4 address (no leading zeros)"),
    ('10.0.0.1/8', 'CIDR \'10.0.0.1/8\' has host bits set; did you mean "10.0.0.0/8"?'),
    # stricter than Go: leading zeros, whitespace, a trailing newline, zones, mapped forms
    ('10.0.0.0/08', "invalid CIDR '10.0.0.0/08': bad prefix length '08' (digits, no leading zeros)"),
    ('10.0.0.0/8\n', "invalid CIDR '10.0.0.0/8\\n': bad prefix length '8\\n' (digits, no leading zeros)"),
    (' 10.0.0.0/8', "' 10.0.0.0/8': ' 10.0.0.0' is not a dotted-quad IPv4 address (no leading zeros)"),
    ('10.0.0.0/ 8', "invalid CIDR '10.0.0.0/ 8': bad prefix length ' 8' (digits, no leading zeros)"),
    ('10.0.0.0/-1', "invalid CIDR '10.0.0.0/-1': bad prefix length '-1' (digits, no leading zeros)"),
    ('10.0.0.0/8/8', "invalid CIDR '10.0.0.0/8/8': bad prefix length '8/8' (digits, no leading zeros)"),
    ('fe80::%eth0/64', "'fe80::%eth0/64': 'fe80::%eth0' is not an IPv6 address"),
    ('1::2::3/64', "'1::2::3/64': '1::2::3' is not an IPv6 address"),
    ('gggg::/16', "'gggg::/16': 'gggg::' is not an IPv6 address"),
    ('::ffff:1.2.3.4/128', "'::ffff:1.2.3.4/128': IPv4-mapped or embedded IPv6 forms are ambiguous; write the IPv4 CIDR instead"),
    ('fd00::/129', "invalid CIDR 'fd00::/129': prefix length 129 is longer than 128 for IPv6"),
    ('fd00::1/8', 'CIDR \'fd00::1/8\' has host bits set; did you mean "fd00::/8"?'),
])
def test_parse_cidr_rejections(text, reason):
    with pytest.raises(ConfigError) as e:
        addr.parse_cidr(text, 'requiredCIDRs')
    assert (e.value.key, e.value.value, e.value.reason) == ('requiredCIDRs', text, reason)


def test_parse_cidr_needs_a_string():
    with pytest.raises(ConfigError) as e:
        addr.parse_cidr(None)
    assert str(e.value) == 'nonMasqueradeCIDRs: expected a CIDR string such as "10.0.0.0/8", got NoneType None'


@pytest.mark.parametrize('text, version, result', [('198.51.100.7', 4, '198.51.100.7'), ('2001:DB8::7', 6, '2001:db8::7')])
def test_parse_address(text, version, result):
    assert addr.parse_address(text, version, 'snatToSource') == result


@pytest.mark.parametrize('text, version, reason', [
    ('2001:db8::7', 4, "expected an IPv4 address, got '2001:db8::7'"),
    ('1.2.3.4', 6, "expected an IPv6 address, got '1.2.3.4'"),
    ('1.2.3.4/32', 4, "'1.2.3.4/32': '1.2.3.4/32' is not a dotted-quad IPv4 address (no leading zeros)"),
    (None, 4, 'expected an IP address string, got NoneType None'),
])
def test_parse_address_rejections(text, version, reason):
    with pytest.raises(ConfigError) as e:
        addr.parse_address(text, version, 'snatToSource')
    assert e.value.key == 'snatToSource' and e.value.reason == reason


@pytest.mark.parametrize('value, text', [
    ('10.0.0.0/8', '10.0.0.0/8'), ('10.1.2.3/8', '10.0.0.0/8'), ('10.1.2.3/32', '10.1.2.3/32'), ('10.1.2.3', '10.1.2.3/32'),
    ('0.0.0.0/0', '0.0.0.0/0'), ('FD00::/8', 'fd00::/8'), ('fe80:0::/10', 'fe80::/10'), ('2001:db8::1', '2001:db8::1/128'),
    ('not-an-ip', 'not-an-ip'), ('10.0.0.0/x', '10.0.0.0/x')])
def test_canonical_as_iptables_save_prints(value, text):
    assert addr.canonical(value) == text


def test_set_helpers():
    assert addr.merge(['10.0.0.0/9', '10.128.0.0/9', '192.168.1.0/24', '192.168.0.0/24', '10.1.0.0/16']) == [
        '10.0.0.0/8', '192.168.0.0/23']
    assert addr.range_cidrs('10.0.0.0', '10.0.1.255') == ['10.0.0.0/23']
    assert addr.range_cidrs('10.0.0.1', '10.0.0.6') == ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32']
    assert addr.set_cidrs(addr.everything('ipv4') - addr.ip_set(['0.0.0.0/1'])) == ['128.0.0.0/1']
    assert addr.set_cidrs(addr.everything('ipv6')) == ['::/0']
    assert addr.set_cidrs(addr.ip_set([addr.parse_cidr('10.0.0.0/8')])) == ['10.0.0.0/8']


def test_show_bounds_values():
    assert show('x' * 500) == repr('x' * 76)[:77] + '...' and len(show('x' * 500)) == 80
    assert show(list(range(9))) == '[0, 1, 2, 3, ...]' and show([1, 2]) == '[1, 2]'


def test_show_is_bounded_for_an_alias_bomb():
    """Issue 14 item 3: the error message repr()'d a whole YAML alias bomb (2.27 GB, 28 s) before truncating it."""
    bomb = ['lol'] * 9
    for _level in range(40):  # 9 ** 40 values if it were ever expanded
        bomb = [bomb] * 9
    assert show(bomb) == '[[[...], [...], [...], [...], ...], [[...], [...], [...], [...], ...], [[...]...'
