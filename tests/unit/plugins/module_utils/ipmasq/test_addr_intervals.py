# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""addr's integer intervals (the node-subnet check of every sync, without netaddr), the stdlib IPv4 parser that
replaced a regular expression, and host.masqueraded / subnet_warnings checked against netaddr's set arithmetic."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import random
import subprocess
import sys

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import addr
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import host as H
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import Settings

V4_ALL = (1 << 32) - 1


def v4(text):
    return addr.parse_cidr(text)


def ivs(*cidrs):
    return addr.intervals(v4(c) for c in cidrs)


# --- spans and intervals ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('cidr, first, last', [
    ('0.0.0.0/0', 0, V4_ALL),
    ('10.0.0.0/8', 10 << 24, (11 << 24) - 1),
    ('192.0.2.7/32', (192 << 24) | (2 << 8) | 7, (192 << 24) | (2 << 8) | 7),
    ('255.255.255.254/31', V4_ALL - 1, V4_ALL),
    ('::/0', 0, (1 << 128) - 1),
    ('fe80::/10', 0xfe80 << 112, (0xfec0 << 112) - 1),
    ('::1/128', 1, 1),
])
def test_span(cidr, first, last):
    assert addr.span(addr.parse_cidr(cidr)) == (first, last)


def test_all_addresses():
    assert addr.all_addresses(4) == [(0, V4_ALL)]
    assert addr.all_addresses(6) == [(0, (1 << 128) - 1)]


@pytest.mark.parametrize('cidrs, expected', [
    ([], []),
    (['10.0.0.0/8'], [('10.0.0.0', '10.255.255.255')]),
    # unsorted input, a duplicate and a CIDR inside another: one interval
    (['10.1.0.0/16', '10.0.0.0/8', '10.0.0.0/8'], [('10.0.0.0', '10.255.255.255')]),
    # adjacent CIDRs merge (so coverage is "one interval holds the range")
    (['10.0.0.0/9', '10.128.0.0/9'], [('10.0.0.0', '10.255.255.255')]),
    (['192.168.1.0/24', '192.168.0.0/24', '192.168.3.0/24'],
     [('192.168.0.0', '192.168.1.255'), ('192.168.3.0', '192.168.3.255')]),
    # disjoint, kept apart and sorted
    (['192.168.0.0/16', '10.0.0.0/8', '172.16.0.0/12'],
     [('10.0.0.0', '10.255.255.255'), ('172.16.0.0', '172.31.255.255'), ('192.168.0.0', '192.168.255.255')]),
    (['0.0.0.0/1', '128.0.0.0/1'], [('0.0.0.0', '255.255.255.255')]),
    (['255.255.255.255/32', '0.0.0.0/32'], [('0.0.0.0', '0.0.0.0'), ('255.255.255.255', '255.255.255.255')]),
])
def test_intervals(cidrs, expected):
    got = ivs(*cidrs)
    assert [(addr.format_address(4, lo), addr.format_address(4, hi)) for lo, hi in got] == expected


@pytest.mark.parametrize('a, b, expected', [
    ([], [(0, 9)], []),
    ([(0, 9)], [], []),
    ([(0, 9)], [(0, 9)], [(0, 9)]),
    ([(0, 9)], [(10, 19)], []),
    ([(0, 9)], [(9, 19)], [(9, 9)]),
    ([(5, 15)], [(0, 9), (12, 20)], [(5, 9), (12, 15)]),
    ([(0, 100)], [(10, 20), (30, 40), (99, 200)], [(10, 20), (30, 40), (99, 100)]),
    ([(0, 3), (10, 13), (20, 23)], [(2, 21)], [(2, 3), (10, 13), (20, 21)]),
])
def test_intersect(a, b, expected):
    assert addr.intersect(a, b) == expected
    first, second = b, a
    assert addr.intersect(first, second) == expected  # commutative


@pytest.mark.parametrize('a, b, expected', [
    ([], [(0, 9)], []),
    ([(0, 9)], [], [(0, 9)]),
    ([(0, 9)], [(0, 9)], []),
    ([(0, 9)], [(0, 20)], []),
    ([(5, 9)], [(0, 4), (10, 20)], [(5, 9)]),
    ([(0, 9)], [(3, 5)], [(0, 2), (6, 9)]),
    ([(0, 9)], [(0, 0), (9, 9)], [(1, 8)]),
    ([(0, 9)], [(2, 3), (5, 6)], [(0, 1), (4, 4), (7, 9)]),
    # one b interval reaching over several of a
    ([(0, 3), (10, 13), (20, 23)], [(2, 21)], [(0, 1), (22, 23)]),
    ([(0, 3), (10, 13)], [(0, 100)], []),
    ([(0, V4_ALL)], [(0, V4_ALL - 1)], [(V4_ALL, V4_ALL)]),
])
def test_subtract(a, b, expected):
    assert addr.subtract(a, b) == expected


def test_intervals_agree_with_netaddr():
    """Random lists of CIDRs: the intervals hold exactly netaddr's IPSet, and intersect / subtract agree with its
    & and -."""
    import netaddr
    rng = random.Random(10)

    def some():
        out = []
        for _i in range(rng.randint(0, 12)):
            bits = rng.randint(20, 32)
            out.append(addr.Net(4, rng.randrange(0, 1 << 14) << 12 & ~((1 << (32 - bits)) - 1), bits))
        return out

    def as_set(intervals):
        return netaddr.IPSet(netaddr.IPRange(lo, hi) for lo, hi in intervals)
    for _i in range(300):
        a, b = some(), some()
        ia, ib = addr.intervals(a), addr.intervals(b)
        sa, sb = netaddr.IPSet(str(n) for n in a), netaddr.IPSet(str(n) for n in b)
        assert as_set(ia) == sa
        assert all(hi + 1 < lo for (_l, hi), (lo, _h) in zip(ia, ia[1:]))  # sorted, disjoint, not adjacent
        assert as_set(addr.intersect(ia, ib)) == sa & sb
        assert as_set(addr.subtract(ia, ib)) == sa - sb


# --- the stdlib IPv4 parser ------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text, value', [
    ('0.0.0.0', 0), ('255.255.255.255', V4_ALL), ('10.0.0.1', (10 << 24) + 1), ('1.22.199.250', 0x0116c7fa),
    ('01.2.3.4', None), ('1.2.3.00', None), ('256.1.1.1', None), ('1.2.3', None), ('1.2.3.4.5', None),
    ('1.2.3.', None), ('.1.2.3', None), ('1..2.3', None), ('1.2.3.4 ', None), ('1.2.3.4\n', None), ('+1.2.3.4', None),
    ('1.2.3.1000', None), ('1.2.3.\u0663', None), ('1.2.3.\u00b2', None), ('1_0.2.3.4', None), ('', None),
])
def test_v4_value(text, value):
    assert addr._v4_value(text) == value


@pytest.mark.parametrize('text, result', [
    ('10.0.0.0/8', '10.0.0.0/8'),
    ('10.1.2.3/8', '10.0.0.0/8'),
    ('10.1.2.3', '10.1.2.3/32'),
    ('2001:db8::1/64', '2001:db8::/64'),
    ('10.0.0.0/', '10.0.0.0/'),
    ('10.0.0.0/x', '10.0.0.0/x'),
    ('10.0.0.0/\u00b2', '10.0.0.0/\u00b2'),  # a digit int() refuses: the text, not a crash
    ('10.0.0.0/\u0663', '10.0.0.0/\u0663'),  # a digit int() reads: still not a prefix
    ('eth0', 'eth0'),
])
def test_canonical_odd_prefixes(text, result):
    assert addr.canonical(text) == result


@pytest.mark.parametrize('version, value, text', [
    (4, 0, '0.0.0.0'), (4, V4_ALL, '255.255.255.255'), (4, 0xc0000201, '192.0.2.1'),
    (6, 0, '::'), (6, 1, '::1'), (6, 0x20010db8 << 96, '2001:db8::'),
])
def test_format_address(version, value, text):
    assert addr.format_address(version, value) == text


def test_ipv4_parsing_imports_neither_socket_nor_netaddr():
    code = ('import sys; sys.path.insert(0, %r); from ipmasq import addr; addr.parse_cidr("10.0.0.0/8"); '
            'str(addr.parse_cidr("10.1.0.0/16")); addr.canonical("10.0.0.1"); '
            'print(sorted(m for m in ("socket", "netaddr") if m in sys.modules))' % _lib())
    out = subprocess.run([sys.executable, '-I', '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == '[]'


def _lib():
    return os.path.dirname(os.path.dirname(os.path.abspath(addr.__file__)))


@pytest.mark.parametrize('text', ['1.2.3.4/08', '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/1/1', '1.2.3.4/\u0663'])
def test_parse_cidr_prefix_rules_unchanged(text):
    with pytest.raises(ConfigError) as e:
        addr.parse_cidr(text)
    assert 'bad prefix length' in e.value.reason


# --- host.masqueraded and subnet_warnings against netaddr ------------------------------------------------------------

def settings(**given):
    s = Settings()
    for name, value in given.items():
        s.set(name, value)
    return s.validate()


def test_masqueraded_default_list_and_link_local():
    s = settings(non_masquerade_cidrs=['10.0.0.0/8'])
    assert H.masqueraded(s, 'ipv4') == addr.subtract(addr.all_addresses(4), ivs('10.0.0.0/8', '169.254.0.0/16'))
    s = settings(non_masquerade_cidrs=['10.0.0.0/8'], masq_link_local=True)
    assert H.masqueraded(s, 'ipv4') == addr.subtract(addr.all_addresses(4), ivs('10.0.0.0/8'))
    s = settings(non_masquerade_cidrs=['10.0.0.0/8'], masquerade_cidrs=['10.0.0.0/7', '203.0.113.0/24'])
    assert H.masqueraded(s, 'ipv4') == ivs('11.0.0.0/8', '203.0.113.0/24')


@pytest.mark.parametrize('given, subnet, warned', [
    # masqueradeCIDRs unset: warned unless the non-masquerade CIDRs (plus link-local) cover the whole subnet
    ({'non_masquerade_cidrs': ['10.0.0.0/8']}, '10.1.2.3/16', False),
    ({'non_masquerade_cidrs': ['10.0.0.0/8']}, '192.0.2.10/24', True),
    ({'non_masquerade_cidrs': ['10.0.0.0/25']}, '10.0.0.10/24', True),  # half covered is masqueraded
    ({'non_masquerade_cidrs': ['10.0.0.0/25', '10.0.0.128/25']}, '10.0.0.10/24', False),  # covered by two
    ({'non_masquerade_cidrs': ['10.0.0.0/25', '10.0.0.192/26']}, '10.0.0.10/24', True),  # a hole in the middle
    ({'non_masquerade_cidrs': []}, '169.254.3.4/16', False),  # link-local keeps its source
    ({'non_masquerade_cidrs': [], 'masq_link_local': True}, '169.254.3.4/16', True),
    ({'non_masquerade_cidrs': ['169.254.0.0/17']}, '169.254.0.0/15', True),  # link-local and more
    ({}, '172.20.0.5/16', False),  # upstream's default list (RFC 1918)
    ({}, '100.64.0.1/10', True),
    ({'nomasq_all_reserved_ranges': True}, '100.64.0.1/10', False),
    # masqueradeCIDRs set: warned only when the subnet overlaps them outside the non-masquerade set
    ({'non_masquerade_cidrs': [], 'masquerade_cidrs': ['203.0.113.0/24']}, '192.0.2.10/24', False),
    ({'non_masquerade_cidrs': [], 'masquerade_cidrs': ['192.0.2.128/25']}, '192.0.2.10/24', True),
    ({'non_masquerade_cidrs': ['192.0.2.128/25'], 'masquerade_cidrs': ['192.0.2.128/25']}, '192.0.2.10/24', False),
    ({'non_masquerade_cidrs': ['192.0.2.128/26'], 'masquerade_cidrs': ['192.0.0.0/16']}, '192.0.2.10/24', True),
    # IPv6, only when the family is managed
    ({'non_masquerade_cidrs': []}, '2001:db8::10/64', False),
    ({'non_masquerade_cidrs': [], 'ip_version': 'both'}, '2001:db8::10/64', True),
    ({'non_masquerade_cidrs': ['2001:db8::/32'], 'ip_version': 'both'}, '2001:db8::10/64', False),
    ({'non_masquerade_cidrs': [], 'ip_version': 'both'}, 'fe80::10/64', False),
    ({'non_masquerade_cidrs': [], 'ip_version': 'both', 'masq_link_local_ipv6': True}, 'fe80::10/64', True),
    ({'non_masquerade_cidrs': ['10.0.0.0/8'], 'ip_version': 'ipv6'}, '192.0.2.10/24', False),
    # not a subnet at all
    ({'non_masquerade_cidrs': []}, 'garbage', False),
    ({'non_masquerade_cidrs': []}, '300.1.1.1/24', False),
])
def test_subnet_warnings_table(given, subnet, warned):
    s = settings(**given)
    got = H.subnet_warnings(s, [subnet])
    assert bool(got) == warned, got
    net = addr.network_of(subnet)
    if net is not None and net.family in s.families:  # the old answer, netaddr's
        assert warned == bool(addr.set_cidrs(s.masqueraded_set(net.family) & addr.ip_set([net])))


def test_subnet_warnings_agree_with_netaddr_on_random_configs():
    rng = random.Random(14)

    def cidr(bits_lo=8):
        bits = rng.randint(bits_lo, 32)
        value = (rng.choice((10, 192, 169, 203)) << 24 | rng.randrange(1 << 24)) & ~((1 << (32 - bits)) - 1)
        return str(addr.Net(4, value & V4_ALL, bits))

    for _i in range(300):
        given = {'non_masquerade_cidrs': sorted(set(cidr() for _i in range(rng.randint(0, 8))))}
        if rng.random() < 0.4:
            given['masquerade_cidrs'] = [cidr(4) for _i in range(rng.randint(0, 3))]
        if rng.random() < 0.3:
            given['masq_link_local'] = True
        s = settings(**given)
        subnets = [cidr(16) for _i in range(3)]
        want = [str(n) for n in map(addr.network_of, subnets)
                if addr.set_cidrs(s.masqueraded_set('ipv4') & addr.ip_set([n]))]
        assert [w.split()[4] for w in H.subnet_warnings(s, subnets)] == want, (given, subnets)


def test_a_sync_without_aggregate_or_required_cidrs_never_imports_netaddr():
    code = '''
import sys
sys.path.insert(0, %r)
from ipmasq import host, spec
s = spec.Settings()
s.set('non_masquerade_cidrs', ['10.0.0.0/8'])
s.set('ip_version', 'both')
s.validate()
print(host.subnet_warnings(s, ['192.0.2.10/24', '10.0.0.5/16', '2001:db8::1/64']))
print('netaddr' in sys.modules, 'tempfile' in sys.modules)
''' % _lib()
    out = subprocess.run([sys.executable, '-I', '-c', code], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert '192.0.2.0/24' in lines[0] and '2001:db8::/64' in lines[0] and '10.0.0.0/16' not in lines[0]
    assert lines[1] == 'False False'


# --- the parse cache -------------------------------------------------------------------------------------------------

def test_parse_cache_returns_the_same_answers():
    addr._PARSED.clear()
    first = [addr.parse_cidr(c) for c in ('10.0.0.0/8', '2001:DB8::/32', 'fe80::/10')]
    assert [addr.parse_cidr(c) for c in ('10.0.0.0/8', '2001:DB8::/32', 'fe80::/10')] == first
    # canonical of a cached text: IPv4 as it is, IPv6 in its canonical (lower-case) form
    assert addr.canonical('10.0.0.0/8') == '10.0.0.0/8' and addr.canonical('2001:DB8::/32') == '2001:db8::/32'


def test_parse_cache_keeps_no_errors_and_each_error_names_its_key():
    for key in ('nonMasqueradeCIDRs', 'requiredCIDRs'):
        with pytest.raises(ConfigError) as e:
            addr.parse_cidr('10.0.0.1/8', key)
        assert e.value.key == key
    assert '10.0.0.1/8' not in addr._PARSED


def test_parse_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(addr, '_PARSED_MAX', 4)
    addr._PARSED.clear()
    for i in range(10):
        assert addr.parse_cidr('10.%d.0.0/16' % i) == addr.Net(4, (10 << 24) | (i << 16), 16)
    assert 0 < len(addr._PARSED) <= 4
