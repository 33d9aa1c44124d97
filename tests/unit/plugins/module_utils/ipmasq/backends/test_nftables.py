# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nftables backend: the table ``inet ip-masq-agent`` (render), the listing ``nft -j`` prints (parse), the whole-table
comparison (plan), and the host side.

The listings are built from items in the exact shapes nft 1.0.6 printed for the tables this backend writes (captured
with ``nft -j list table inet ip-masq-agent`` after ``nft -f`` of the rendered payloads)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import intent
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.backends import nftables as N
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError, HostError
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.host import Host
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import Settings

LOCAL = 'ip-masq-agent: local destinations are not subject to MASQUERADE'
NM = 'ip-masq-agent: local traffic is not subject to MASQUERADE'
MC = 'ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)'
SNAT_LISTED = 'ip-masq-agent: outbound traffic to listed CIDRs is subject to SNAT'
LIST = ['/usr/sbin/nft', '-j', 'list', 'table', 'inet', 'ip-masq-agent']
APPLY = ['/usr/sbin/nft', '-f', '-']


# --- nft -j shapes (nft 1.0.6) ---------------------------------------------------------------------------------------

def nft_set(name, typ, prefixes, handle=2):
    s = {'family': 'inet', 'name': name, 'table': 'ip-masq-agent', 'type': typ, 'handle': handle, 'flags': ['interval']}
    if prefixes:
        s['elem'] = [{'prefix': {'addr': a, 'len': n}} for a, n in prefixes]
    return {'set': s}


def nft_chain(prio=100):
    return {'chain': {'family': 'inet', 'table': 'ip-masq-agent', 'name': 'postrouting', 'handle': 1, 'type': 'nat',
                      'hook': 'postrouting', 'prio': prio, 'policy': 'accept'}}


def nft_rule(comment, *expr):
    return {'rule': {'family': 'inet', 'table': 'ip-masq-agent', 'chain': 'postrouting', 'handle': 4, 'comment': comment,
                     'expr': list(expr)}}


def match(left, right):
    return {'match': {'op': '==', 'left': left, 'right': right}}


def daddr(proto, right):
    return match({'payload': {'protocol': proto, 'field': 'daddr'}}, right)


def nfproto(family):
    return match({'meta': {'key': 'nfproto'}}, family)


FIB_LOCAL = match({'fib': {'result': 'type', 'flags': ['daddr']}}, 'local')
RETURN = {'return': None}
MASQ_FULLY_RANDOM = {'masquerade': {'flags': 'fully-random'}}


def listing(*items):
    return json.dumps({'nftables': [{'metainfo': {'version': '1.0.6', 'release_name': 'Lester Gooch #5', 'json_schema_version': 1}},
                                    {'table': {'family': 'inet', 'name': 'ip-masq-agent', 'handle': 2}}] + list(items)})


def default_items(nonmasq_rule=None, masq4=None):
    """What nft listed for nonMasqueradeCIDRs [10.0.0.0/8, 10.1.0.0/16, fd00::/8], both families: nft merged 10.1.0.0/16
    into 10.0.0.0/8 and sorted the elements."""
    return [nft_set('nomasq4', 'ipv4_addr', [('10.0.0.0', 8), ('169.254.0.0', 16)]),
            nft_set('nomasq6', 'ipv6_addr', [('fd00::', 8), ('fe80::', 10)], 3),
            nft_chain(),
            nft_rule(LOCAL, FIB_LOCAL, RETURN),
            nonmasq_rule or nft_rule(NM, daddr('ip', '@nomasq4'), RETURN),
            nft_rule(NM, daddr('ip6', '@nomasq6'), RETURN),
            masq4 or nft_rule(MC, nfproto('ipv4'), MASQ_FULLY_RANDOM),
            nft_rule(MC, nfproto('ipv6'), MASQ_FULLY_RANDOM)]


DEFAULT = listing(*default_items())


def intents(cidrs=('10.0.0.0/8', '10.1.0.0/16', 'fd00::/8'), ip_version='both', random_fully=None, **values):
    s = Settings()
    s.set('ip_version', ip_version)
    s.set('non_masquerade_cidrs', list(cidrs))
    for name, value in values.items():
        s.set(name, value)
    s.validate()
    return [intent.build(s, f, random_fully) for f in s.families]


def plan(text, **kw):
    wanted = intents(**kw)
    return N.NftablesUnit(None, [i.family for i in wanted]).plan(None if text is None else N.parse_listing(text), wanted, 'IP-MASQ-AGENT')


# --- render ----------------------------------------------------------------------------------------------------------

RENDER_DEFAULT = '''table inet ip-masq-agent
delete table inet ip-masq-agent
table inet ip-masq-agent {
\tset nomasq4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\tauto-merge
\t\telements = { 169.254.0.0/16, 10.0.0.0/8, 10.1.0.0/16 }
\t}
\tset nomasq6 {
\t\ttype ipv6_addr
\t\tflags interval
\t\tauto-merge
\t\telements = { fe80::/10, fd00::/8 }
\t}
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tfib daddr type local return comment "ip-masq-agent: local destinations are not subject to MASQUERADE"
\t\tip daddr @nomasq4 return comment "ip-masq-agent: local traffic is not subject to MASQUERADE"
\t\tip6 daddr @nomasq6 return comment "ip-masq-agent: local traffic is not subject to MASQUERADE"
\t\tmeta nfproto ipv4 masquerade fully-random comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)"
\t\tmeta nfproto ipv6 masquerade fully-random comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)"
\t}
}
'''


def test_render_default_both_families():
    assert N.render(intents()) == RENDER_DEFAULT


def test_render_snat_to_listed_cidrs_and_empty_link_local():
    text = N.render(intents(cidrs=('10.0.0.0/8', 'fd00::/8'), masquerade_cidrs=['203.0.113.0/24', '2001:db8::/32'],
                            snat_to_source='198.51.100.7', snat_to_source_ipv6='2001:db8::7', masq_link_local_ipv6=True))
    assert text.splitlines()[3:9] == ['\tset masq4 {', '\t\ttype ipv4_addr', '\t\tflags interval', '\t\tauto-merge',
                                      '\t\telements = { 203.0.113.0/24 }', '\t}']
    assert '\t\telements = { fd00::/8 }' in text and 'fe80' not in text
    assert text.splitlines()[-5:-1] == [
        '\t\tip6 daddr @nomasq6 return comment "%s"' % NM,
        '\t\tip daddr @masq4 snat ip to 198.51.100.7 fully-random comment "%s"' % SNAT_LISTED,
        '\t\tip6 daddr @masq6 snat ip6 to 2001:db8::7 fully-random comment "%s"' % SNAT_LISTED,
        '\t}']


def test_render_explicit_list_of_one_family_translates_nothing_of_the_other():
    text = N.render(intents(cidrs=(), masquerade_cidrs=['2001:db8::/32']))
    assert 'set masq4' not in text and '@masq4' not in text and 'meta nfproto ipv4' not in text
    assert text.splitlines()[-4:-2] == ['\t\tip6 daddr @nomasq6 return comment "%s"' % NM,
                                        '\t\tip6 daddr @masq6 masquerade fully-random comment '
                                        '"ip-masq-agent: outbound traffic to listed CIDRs is subject to MASQUERADE"']


def test_render_ipv4_to_ports_without_random_fully():
    text = N.render(intents(cidrs=(), ip_version='ipv4', masq_link_local=True, to_ports='32768-65535', random_fully=False))
    assert text.endswith('\tset nomasq4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\tauto-merge\n\t}\n'
                         '\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n'
                         '\t\tfib daddr type local return comment "%s"\n' % LOCAL
                         + '\t\tip daddr @nomasq4 return comment "%s"\n' % NM
                         + ''.join('\t\tmeta nfproto ipv4 meta l4proto %s masquerade to :32768-65535 comment "%s"\n' % (p, MC)
                                   for p in ('tcp', 'udp', 'sctp'))
                         + '\t\tmeta nfproto ipv4 masquerade comment "%s"\n\t}\n}\n' % MC)
    assert 'nomasq6' not in text


def test_capabilities():
    unit = N.NftablesUnit(None, ['ipv4'])
    assert unit.supports_random_fully() is True and unit.max_port_ranges == 1


# --- parse and plan ------------------------------------------------------------------------------------------------------

def test_parse_listing():
    state = N.parse_listing(DEFAULT)
    assert state.sets == {'nomasq4': ('ipv4_addr', ['interval'], ['10.0.0.0/8', '169.254.0.0/16']),
                          'nomasq6': ('ipv6_addr', ['interval'], ['fd00::/8', 'fe80::/10'])}
    assert state.chains == {'postrouting': ('nat', 'postrouting', 100, 'accept')} and state.other == []
    assert [(chain, comment) for chain, comment, _expr in state.rules] == [('postrouting', c) for c in (LOCAL, NM, NM, MC, MC)]


def test_in_sync_listing_means_no_payload():
    p = plan(DEFAULT)
    assert not p.changed and p.actions == [] and p.before == p.after
    assert p.after == [
        'set nomasq4 (ipv4_addr): 10.0.0.0/8, 169.254.0.0/16', 'set nomasq6 (ipv6_addr): fd00::/8, fe80::/10',
        'chain postrouting: nat postrouting 100 accept',
        'rule postrouting: fib daddr type local return comment "%s"' % LOCAL,
        'rule postrouting: ip daddr @nomasq4 return comment "%s"' % NM,
        'rule postrouting: ip6 daddr @nomasq6 return comment "%s"' % NM,
        'rule postrouting: meta nfproto ipv4 masquerade fully-random comment "%s"' % MC,
        'rule postrouting: meta nfproto ipv6 masquerade fully-random comment "%s"' % MC]


def test_in_sync_with_ports_and_snat_listings():
    ports = listing(nft_set('nomasq4', 'ipv4_addr', [('10.0.0.0', 8), ('169.254.0.0', 16)]), nft_chain(),
                    nft_rule(LOCAL, FIB_LOCAL, RETURN), nft_rule(NM, daddr('ip', '@nomasq4'), RETURN),
                    *[nft_rule(MC, nfproto('ipv4'), match({'meta': {'key': 'l4proto'}}, p), {'masquerade': {'port': {'range': [32768, 65535]}}})
                      for p in ('tcp', 'udp', 'sctp')] + [nft_rule(MC, nfproto('ipv4'), {'masquerade': None})])
    assert not plan(ports, cidrs=('10.0.0.0/8',), ip_version='ipv4', to_ports='32768-65535', random_fully=False).changed
    snat = listing(nft_set('masq4', 'ipv4_addr', [('203.0.113.0', 24)]), nft_set('masq6', 'ipv6_addr', [('2001:db8::', 32)], 3),
                   nft_set('nomasq4', 'ipv4_addr', [('10.0.0.0', 8), ('169.254.0.0', 16)], 4),
                   nft_set('nomasq6', 'ipv6_addr', [('fd00::', 8)], 5), nft_chain(),
                   nft_rule(LOCAL, FIB_LOCAL, RETURN), nft_rule(NM, daddr('ip', '@nomasq4'), RETURN),
                   nft_rule(NM, daddr('ip6', '@nomasq6'), RETURN),
                   nft_rule(SNAT_LISTED, daddr('ip', '@masq4'), {'snat': {'family': 'ip', 'addr': '198.51.100.7', 'flags': 'fully-random'}}),
                   nft_rule(SNAT_LISTED, daddr('ip6', '@masq6'), {'snat': {'family': 'ip6', 'addr': '2001:db8::7', 'flags': 'fully-random'}}))
    assert not plan(snat, cidrs=('10.0.0.0/8', 'fd00::/8'), masquerade_cidrs=['203.0.113.0/24', '2001:db8::/32'],
                    snat_to_source='198.51.100.7', snat_to_source_ipv6='2001:db8::7', masq_link_local_ipv6=True).changed


def test_flags_as_a_list_and_elements_as_strings_ranges_and_elem_wrappers_are_the_same():
    items = default_items(masq4=nft_rule(MC, nfproto('ipv4'), {'masquerade': {'flags': ['fully-random']}}))
    items[0] = {'set': dict(items[0]['set'], flags='interval',
                            elem=['169.254.0.0/16', {'range': ['10.0.0.0', '10.127.255.255']},
                                  {'elem': {'val': {'prefix': {'addr': '10.128.0.0', 'len': 9}}, 'comment': 'x'}}])}
    assert not plan(listing(*items)).changed


def test_non_masquerade_rule_matching_everything_is_drift():
    """Defect (c): the old comparison looked only at each rule's comment and verdict, so a non-masquerade rule whose
    match was replaced by ``ip daddr 0.0.0.0/0`` (comment and ``return`` kept) passed as in sync while it exempted all
    IPv4 traffic from masquerading. The whole expression is compared now."""
    drifted = nft_rule(NM, daddr('ip', {'prefix': {'addr': '0.0.0.0', 'len': 0}}), RETURN)
    p = plan(listing(*default_items(nonmasq_rule=drifted)))
    assert p.changed and p.payload == RENDER_DEFAULT
    assert p.actions == ['replace table inet ip-masq-agent (rules differ)']
    assert p.drift() == ['- rule postrouting: [{"match": {"left": {"payload": {"field": "daddr", "protocol": "ip"}}, "op": "==", "right": '
                         '{"prefix": {"addr": "0.0.0.0", "len": 0}}}}, {"return": null}] comment "%s"' % NM,
                         '+ rule postrouting: ip daddr @nomasq4 return comment "%s"' % NM]


def test_masquerade_rule_without_fully_random_is_drift():
    """Defect (c): a masquerade rule that lost ``fully-random`` (comment and verdict kept) is drift."""
    p = plan(listing(*default_items(masq4=nft_rule(MC, nfproto('ipv4'), {'masquerade': None}))))
    assert p.changed and p.payload == RENDER_DEFAULT and p.actions == ['replace table inet ip-masq-agent (rules differ)']
    assert p.drift() == ['- rule postrouting: [{"match": {"left": {"meta": {"key": "nfproto"}}, "op": "==", "right": "ipv4"}}, '
                         '{"masquerade": null}] comment "%s"' % MC,
                         '+ rule postrouting: meta nfproto ipv4 masquerade fully-random comment "%s"' % MC]
    # and the other way round: fully-random where it is not wanted
    assert plan(DEFAULT, random_fully=False).changed


@pytest.mark.parametrize('items, differ', [
    # the set flushed
    ([nft_set('nomasq4', 'ipv4_addr', [])] + default_items()[1:], 'sets'),
    # an element added by hand
    ([nft_set('nomasq4', 'ipv4_addr', [('10.0.0.0', 8), ('169.254.0.0', 16), ('8.8.8.8', 32)])] + default_items()[1:], 'sets'),
    # the set without the interval flag
    ([{'set': dict(default_items()[0]['set'], flags=[])}] + default_items()[1:], 'sets'),
    # a rule deleted
    (default_items()[:-1], 'rules'),
    # a rule added at the top
    (default_items()[:3] + [nft_rule(None, {'accept': None})] + default_items()[3:], 'rules'),
    # the rules reordered
    (default_items()[:3] + [default_items()[4], default_items()[3]] + default_items()[5:], 'rules'),
    # the chain's priority
    (default_items()[:2] + [nft_chain(prio=0)] + default_items()[3:], 'chains'),
    # anything else in the table
    (default_items() + [{'map': {'family': 'inet', 'name': 'm', 'table': 'ip-masq-agent'}}], 'other'),
])
def test_drift_in_any_part_of_the_table(items, differ):
    p = plan(listing(*items))
    assert p.actions == ['replace table inet ip-masq-agent (%s differ)' % differ] and p.payload == RENDER_DEFAULT


def test_missing_table_is_created():
    p = plan(None)
    assert p.actions == ['create table inet ip-masq-agent'] and p.payload == RENDER_DEFAULT and p.before == []
    assert (p.scope, p.target, p.removal) == ('nftables', 'inet ip-masq-agent', False)


@pytest.mark.parametrize('text, error', [
    ('', 'nftables: cannot read nft -j output: Expecting value: line 1 column 1 (char 0)'),
    ('[]', "nftables: cannot read nft -j output: 'list' object has no attribute 'get'"),
])
def test_unreadable_listing(text, error):
    with pytest.raises(HostError) as e:
        N.parse_listing(text)
    assert e.value.msg == error


def test_plan_removal():
    unit = N.NftablesUnit(None, ['ipv4'])
    p = unit.plan_removal(N.parse_listing(DEFAULT))
    assert p.payload == 'delete table inet ip-masq-agent\n' and p.actions == ['delete table inet ip-masq-agent'] and p.removal
    assert p.before[0] == 'set nomasq4 (ipv4_addr): 10.0.0.0/8, 169.254.0.0/16'
    p = unit.plan_removal(None)
    assert not p.changed and p.actions == [] and p.before == []


# --- the host side ---------------------------------------------------------------------------------------------------

def test_read_plan_apply(scripted, find):
    runner = scripted([(LIST, 1, '', 'Error: No such file or directory\nlist table inet ip-masq-agent\n'), (APPLY, 0, '', '')])
    unit = N.NftablesUnit(Host(runner, find), ['ipv4', 'ipv6'])
    p = unit.plan(unit.read(), intents(), 'IP-MASQ-AGENT')
    unit.apply(p)
    assert runner.calls == [(LIST, None), (APPLY, RENDER_DEFAULT)]


def test_read_listing(scripted, find):
    runner = scripted([(LIST, 0, DEFAULT, '')])
    assert N.NftablesUnit(Host(runner, find), ['ipv4']).read() == N.parse_listing(DEFAULT)


def test_failed_read_and_apply(scripted, find):
    runner = scripted([(LIST, 1, '', 'Error: Could not process rule: Operation not permitted\n'),
                       (APPLY, 1, '', 'Error: Could not process rule: No such file or directory\n')])
    unit = N.NftablesUnit(Host(runner, find), ['ipv4'])
    with pytest.raises(HostError) as e:
        unit.read()
    assert e.value.msg == ('nftables: nft -j list table inet ip-masq-agent failed (rc=1): Error: Could not process rule: '
                           'Operation not permitted')
    assert e.value.cmd == ['nft', '-j', 'list', 'table', 'inet', 'ip-masq-agent'] and e.value.rc == 1
    p = unit.plan(None, intents(ip_version='ipv4', cidrs=()), 'IP-MASQ-AGENT')
    with pytest.raises(HostError) as e:
        unit.apply(p)
    assert e.value.msg == ('nftables: nft -f failed (rc=1); the transaction was not applied: Error: Could not process rule: '
                           'No such file or directory')
    assert e.value.cmd == ['nft', '-f', '-']


def test_engine_refuses_several_port_ranges_for_nftables():
    from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import engine
    s = Settings()
    s.set('backend', 'nftables')
    s.set('to_ports', '1000-2000,3000')
    with pytest.raises(ConfigError) as e:
        engine.render(s.validate())
    assert e.value.key == 'to_ports'
    assert e.value.reason == ('the nftables backend takes 1 port range; several ranges with probabilities need the iptables backend')
