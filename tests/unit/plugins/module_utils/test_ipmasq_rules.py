# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering: the exact restore payload of upstream ip-masq-agent v2.12, byte for byte."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_config as C
from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_rules as R

NONMASQ = '-A IP-MASQ-AGENT -m comment --comment "ip-masq-agent: local traffic is not subject to MASQUERADE" -d %s -j RETURN'
MASQ = ('-A IP-MASQ-AGENT -m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE '
        '(must be last in chain)" -j MASQUERADE')


def payload(*lines, chain='IP-MASQ-AGENT'):
    return '\n'.join(['*nat', ':%s - [0:0]' % chain] + list(lines) + ['COMMIT']) + '\n'


def render(text='', family='ipv4', **opts):
    options = C.Options(**opts)
    return R.render_payload(C.parse_config_text(text, options), options, family)


def test_user_guide_default_config():
    # User guide: with no config file the agent treats RFC 1918 ranges and link-local as non-masquerade.
    assert render('') == payload(NONMASQ % '169.254.0.0/16', NONMASQ % '10.0.0.0/8', NONMASQ % '172.16.0.0/12',
                                 NONMASQ % '192.168.0.0/16', MASQ + ' --random-fully')


def test_user_guide_10_8_only():
    # User guide: "nonMasqueradeCIDRs: [10.0.0.0/8], resyncInterval: 60s".
    text = 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\nresyncInterval: 60s\n'
    assert render(text) == payload(NONMASQ % '169.254.0.0/16', NONMASQ % '10.0.0.0/8', MASQ + ' --random-fully')


def test_user_guide_masq_link_local():
    # User guide: "masqLinkLocal: true" drops the link-local RETURN rule.
    text = 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\nresyncInterval: 60s\nmasqLinkLocal: true\n'
    assert render(text) == payload(NONMASQ % '10.0.0.0/8', MASQ + ' --random-fully')


def test_file_order_kept_and_cidr_written_as_given():
    text = 'nonMasqueradeCIDRs: [192.168.0.0/16, 10.0.0.0/8, 10.0.0.0/8]'
    assert render(text, random_fully=False) == payload(
        NONMASQ % '169.254.0.0/16', NONMASQ % '192.168.0.0/16', NONMASQ % '10.0.0.0/8', NONMASQ % '10.0.0.0/8', MASQ)


def test_empty_list_masquerades_everything_but_link_local():
    assert render('nonMasqueradeCIDRs: []') == payload(NONMASQ % '169.254.0.0/16', MASQ + ' --random-fully')


def test_ipv6_payload_only_ipv6_cidrs():
    text = 'nonMasqueradeCIDRs: [10.0.0.0/8, "fd00::/8"]'
    assert render(text, family='ipv6', enable_ipv6=True) == payload(
        NONMASQ % 'fe80::/10', NONMASQ % 'fd00::/8', MASQ + ' --random-fully')
    assert render(text + '\nmasqLinkLocalIPv6: true', family='ipv6', enable_ipv6=True) == payload(
        NONMASQ % 'fd00::/8', MASQ + ' --random-fully')
    # and the IPv4 payload has no IPv6 CIDR
    assert 'fd00' not in render(text, family='ipv4', enable_ipv6=True)


def test_custom_chain_name():
    out = render('nonMasqueradeCIDRs: []\nmasqLinkLocal: true', masq_chain='MY-MASQ')
    assert out == payload(MASQ.replace('-A IP-MASQ-AGENT', '-A MY-MASQ') + ' --random-fully', chain='MY-MASQ')


def test_to_ports_rules_before_catch_all():
    out = render('nonMasqueradeCIDRs: []\nmasqLinkLocal: true', to_ports='32768-65535').splitlines()
    assert out[2:-1] == [
        MASQ + ' --random-fully -p tcp --to-ports 32768-65535',
        MASQ + ' --random-fully -p udp --to-ports 32768-65535',
        MASQ + ' --random-fully -p sctp --to-ports 32768-65535',
        MASQ + ' --random-fully',
    ]


def test_to_ports_probabilities():
    out = render('nonMasqueradeCIDRs: []\nmasqLinkLocal: true', to_ports='1000-1999,3000,5000-5001',
                 random_fully=False).splitlines()
    stat = ' -m statistic --mode random --probability '
    # sizes 1000, 1, 2: P = 1000/1003, then 1/3, then the rest
    assert out[2] == MASQ + ' -p tcp' + stat + R.go_float(1000 / 1003.0) + ' --to-ports 1000-1999'
    assert out[3] == MASQ + ' -p tcp' + stat + '0.3333333333333333 --to-ports 3000'
    assert out[4] == MASQ + ' -p tcp --to-ports 5000-5001'
    assert [l.split(' -p ')[1].split()[0] for l in out[2:11]] == ['tcp'] * 3 + ['udp'] * 3 + ['sctp'] * 3
    assert out[11] == MASQ
    assert len(out) == 13


@pytest.mark.parametrize('value, text', [
    (0.5, '0.5'), (1 / 3.0, '0.3333333333333333'), (1e-05, '0.00001'), (2 / 3.0, '0.6666666666666666'),
    (1.0, '1'), (0.1, '0.1'), (1 / 32768.0, '0.000030517578125')])
def test_go_float(value, text):
    assert R.go_float(value) == text


def test_jump_rule_text():
    assert R.rule_text('POSTROUTING', R.jump_rule('IP-MASQ-AGENT')) == (
        '-A POSTROUTING -m comment --comment "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination '
        'traffic to our custom IP-MASQ-AGENT chain" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT')
    assert 'custom OTHER chain' in R.rule_text('POSTROUTING', R.jump_rule('OTHER'))
