# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""intent: what the agent means per family, before any backend (upstream's rule order and comment texts)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import intent
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.intent import Rule
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import Settings

NM = intent.NON_MASQ_COMMENT
M = intent.MASQ_COMMENT


def settings(**values):
    s = Settings()
    for name, value in values.items():
        s.set(name, value)
    return s.validate()


def ret(cidr):
    return Rule('return', NM, dst=cidr)


def test_comment_texts_are_upstreams():
    assert NM == 'ip-masq-agent: local traffic is not subject to MASQUERADE'
    assert M == 'ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)'


def test_default_intent():
    i = intent.build(Settings(), 'ipv4')
    assert (i.family, i.jump_first) == ('ipv4', False)
    assert i.returns == ['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']
    assert i.translate == [Rule('masquerade', M, random_fully=True)]
    assert i.rules == [ret(c) for c in i.returns] + i.translate


@pytest.mark.parametrize('family, values, returns, translate', [
    ('ipv4', dict(masq_link_local=True, non_masquerade_cidrs=[]), [], [Rule('masquerade', M, random_fully=True)]),
    ('ipv6', dict(ip_version='both', non_masquerade_cidrs=['10.0.0.0/8', 'fd00::/8']), ['fe80::/10', 'fd00::/8'],
     [Rule('masquerade', M, random_fully=True)]),
    ('ipv6', dict(ip_version='ipv6', masq_link_local_ipv6=True), [], [Rule('masquerade', M, random_fully=True)]),
    ('ipv4', dict(masq_link_local_ipv6=True, non_masquerade_cidrs=['192.168.0.0/16', '10.0.0.0/8', '10.0.0.0/8']),
     ['169.254.0.0/16', '192.168.0.0/16', '10.0.0.0/8', '10.0.0.0/8'], [Rule('masquerade', M, random_fully=True)]),
    ('ipv4', dict(non_masquerade_cidrs=['10.0.0.0/9', '10.128.0.0/9'], aggregate=True), ['169.254.0.0/16', '10.0.0.0/8'],
     [Rule('masquerade', M, random_fully=True)]),
    ('ipv4', dict(non_masquerade_cidrs=[], snat_to_source='198.51.100.7', random_fully=False), ['169.254.0.0/16'],
     [Rule('snat', intent.SNAT_COMMENT, to_source='198.51.100.7')]),
    ('ipv4', dict(non_masquerade_cidrs=[], masquerade_cidrs=['203.0.113.0/24', '2001:db8::/32'], ip_version='both'),
     ['169.254.0.0/16'], [Rule('masquerade', intent.MASQ_LISTED_COMMENT, dst='203.0.113.0/24', random_fully=True)]),
    ('ipv6', dict(non_masquerade_cidrs=[], masquerade_cidrs=['203.0.113.0/24', '2001:db8::/32'], ip_version='both',
                  snat_to_source_ipv6='2001:db8::7'),
     ['fe80::/10'], [Rule('snat', intent.SNAT_LISTED_COMMENT, dst='2001:db8::/32', to_source='2001:db8::7', random_fully=True)]),
    # an explicit list with nothing of this family: nothing is translated
    ('ipv4', dict(non_masquerade_cidrs=[], masquerade_cidrs=['2001:db8::/32'], ip_version='both'), ['169.254.0.0/16'], []),
])
def test_intent_table(family, values, returns, translate):
    i = intent.build(settings(**values), family)
    assert i.returns == returns and i.translate == translate


def test_to_ports_rules_per_protocol_with_probabilities_then_catch_all():
    i = intent.build(settings(to_ports='1000-1999,3000,5000-5001', random_fully=False), 'ipv4')
    rules = []
    for proto in ('tcp', 'udp', 'sctp'):
        rules += [Rule('masquerade', M, proto=proto, ports=(1000, 1999), probability=intent.go_float(1000 / 1003.0)),
                  Rule('masquerade', M, proto=proto, ports=(3000, 3000), probability='0.3333333333333333'),
                  Rule('masquerade', M, proto=proto, ports=(5000, 5001))]
    assert i.translate == rules + [Rule('masquerade', M)]
    assert intent.go_float(1000 / 1003.0) == '0.9970089730807578'


def test_single_port_range_has_no_probability():
    i = intent.build(settings(to_ports='32768-65535'), 'ipv4')
    assert i.translate == [Rule('masquerade', M, proto=p, ports=(32768, 65535), random_fully=True) for p in ('tcp', 'udp', 'sctp')] + [
        Rule('masquerade', M, random_fully=True)]


def test_random_fully_argument_overrides_the_setting():
    s = settings()
    assert intent.build(s, 'ipv4', random_fully=False).translate == [Rule('masquerade', M)]
    s = settings(random_fully=False)
    assert intent.build(s, 'ipv4', random_fully=True).translate == [Rule('masquerade', M, random_fully=True)]


def test_jump_position():
    assert intent.build(settings(jump_position='first'), 'ipv4').jump_first is True
    assert intent.build(settings(jump_position='append'), 'ipv4').jump_first is False


@pytest.mark.parametrize('value, text', [
    (0.5, '0.5'), (1 / 3.0, '0.3333333333333333'), (1e-05, '0.00001'), (2 / 3.0, '0.6666666666666666'),
    (1.0, '1'), (0.1, '0.1'), (1 / 32768.0, '0.000030517578125'), (1e-20, '0.00000000000000000001'), (123.0, '123')])
def test_go_float(value, text):
    assert intent.go_float(value) == text


def test_rule_equality():
    a = Rule('return', NM, dst='10.0.0.0/8')
    assert a == Rule('return', NM, dst='10.0.0.0/8') and a != Rule('return', NM, dst='10.0.0.0/9')
    assert a != Rule('masquerade', NM, dst='10.0.0.0/8') and a != Rule('return', NM, dst='10.0.0.0/8', random_fully=True)
    assert (a.verdict, a.comment, a.dst, a.proto, a.ports, a.probability, a.to_source, a.random_fully) == (
        'return', NM, '10.0.0.0/8', None, None, None, None, False)
