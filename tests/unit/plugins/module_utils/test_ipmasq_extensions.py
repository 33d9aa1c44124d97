# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Beyond upstream: aggregation, requiredCIDRs, jumpPosition, masqueradeCIDRs, SNAT, the nftables backend, metrics."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_config as C
from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_host as H
from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_iptables as I
from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_nft as N
from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_rules as R


def cfg(data, **opts):
    o = C.Options(**opts)
    return C.config_from_mapping(data, o), o


# --- config keys -------------------------------------------------------------------------------------------------

def test_extension_keys_absent_keep_upstream_dict():
    c, _o = cfg({'nonMasqueradeCIDRs': ['10.0.0.0/8']})
    assert sorted(c.to_dict()) == sorted(C.UPSTREAM_KEYS)


def test_extension_keys_round_trip():
    c, _o = cfg({'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'masqueradeCIDRs': ['203.0.113.0/24'],
                 'snatToSource': '198.51.100.7', 'aggregate': True, 'requiredCIDRs': ['10.4.0.0/14'],
                 'jumpPosition': 'first'})
    for fmt in ('yaml', 'json'):
        assert C.parse_config_text(C.dump_config(c, fmt)) == c


@pytest.mark.parametrize('data, key', [
    ({'masqueradeCIDRs': ['203.0.113.1/24']}, 'masqueradeCIDRs'),
    ({'masqueradeCIDRs': 'x'}, 'masqueradeCIDRs'),
    ({'snatToSource': '198.51.100.300'}, 'snatToSource'),
    ({'snatToSource': 'fd00::1'}, 'snatToSource'),
    ({'snatToSource': 7}, 'snatToSource'),
    ({'snatToSourceIPv6': 'fd00::1'}, 'snatToSourceIPv6'),  # IPv6 not enabled
    ({'aggregate': 'yes'}, 'aggregate'),
    ({'jumpPosition': 'top'}, 'jumpPosition'),
    ({'requiredCIDRs': ['10.0.0.1/8']}, 'requiredCIDRs'),
])
def test_extension_rejections(data, key):
    with pytest.raises(C.ConfigError) as e:
        cfg(data)
    assert e.value.key == key


def test_required_cidrs_guard_rail_composer_style():
    # GKE / Cloud Composer: the node and Pod ranges must keep their source (intranode visibility).
    ok, _o = cfg({'nonMasqueradeCIDRs': ['10.0.0.0/20', '10.4.0.0/14'], 'requiredCIDRs': ['10.0.0.0/20', '10.4.0.0/14']})
    assert ok.required_cidrs == ['10.0.0.0/20', '10.4.0.0/14']
    with pytest.raises(C.ConfigError) as e:
        cfg({'nonMasqueradeCIDRs': ['10.0.0.0/20'], 'requiredCIDRs': ['10.0.0.0/20', '10.4.0.0/14']})
    assert e.value.key == 'requiredCIDRs' and '10.4.0.0/14' in str(e.value)
    # partly covered names the uncovered part
    with pytest.raises(C.ConfigError) as e:
        cfg({'nonMasqueradeCIDRs': ['10.4.0.0/15'], 'requiredCIDRs': ['10.4.0.0/14']})
    assert '10.6.0.0/15' in str(e.value)


def test_required_cidrs_covered_by_explicit_masquerade_list():
    c, _o = cfg({'nonMasqueradeCIDRs': [], 'masqueradeCIDRs': ['203.0.113.0/24'], 'requiredCIDRs': ['10.4.0.0/14']})
    assert c.required_cidrs


def test_aggregate_merges_and_counts():
    c, o = cfg({'nonMasqueradeCIDRs': ['10.0.0.0/9', '10.128.0.0/9', '10.1.0.0/16', '192.168.0.0/24',
                                       '192.168.1.0/24'], 'aggregate': True})
    assert c.effective_cidrs('ipv4') == ['10.0.0.0/8', '192.168.0.0/23']
    assert c.aggregation_saved() == 3
    rules = R.chain_rules(c, o)
    assert [r[5] for r in rules[:3]] == ['169.254.0.0/16', '10.0.0.0/8', '192.168.0.0/23']


# --- iptables rendering of extensions -----------------------------------------------------------------------------

def test_snat_instead_of_masquerade():
    c, o = cfg({'nonMasqueradeCIDRs': [], 'masqLinkLocal': True, 'snatToSource': '198.51.100.7'})
    assert R.render_payload(c, o).splitlines()[2] == (
        '-A IP-MASQ-AGENT -m comment --comment "%s" -j SNAT --to-source 198.51.100.7 --random-fully' % R.SNAT_COMMENT)


def test_explicit_masquerade_list_has_no_catch_all():
    c, o = cfg({'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'masqueradeCIDRs': ['203.0.113.0/24', '198.51.100.0/24']},
               random_fully=False)
    lines = R.render_payload(c, o).splitlines()
    assert lines[-3:-1] == [
        '-A IP-MASQ-AGENT -m comment --comment "%s" -d 203.0.113.0/24 -j MASQUERADE' % R.MASQ_LISTED_COMMENT,
        '-A IP-MASQ-AGENT -m comment --comment "%s" -d 198.51.100.0/24 -j MASQUERADE' % R.MASQ_LISTED_COMMENT]
    assert not any(l.endswith('-j MASQUERADE') and '-d' not in l for l in lines)


def test_to_ports_with_snat_is_rejected():
    with pytest.raises(C.ConfigError) as e:
        cfg({'snatToSource': '198.51.100.7'}, to_ports='1000-2000')
    assert e.value.key == 'to-ports'


IN_SYNC_PR = '''*nat
:POSTROUTING ACCEPT [0:0]
:IP-MASQ-AGENT - [0:0]
:KUBE-POSTROUTING - [0:0]
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
%(jump)s
COMMIT
''' % {'jump': R.rule_text('POSTROUTING', R.jump_rule('IP-MASQ-AGENT'))}


def test_jump_position_first_moves_jump():
    c, o = cfg({'nonMasqueradeCIDRs': [], 'jumpPosition': 'first'})
    p = I.plan_present(I.parse_save(IN_SYNC_PR), c, o, 'ipv4')
    jump = R.rule_text('POSTROUTING', R.jump_rule('IP-MASQ-AGENT'))
    assert p.payload.endswith('-D' + jump[2:] + '\n-I POSTROUTING 1 ' + jump[len('-A POSTROUTING '):] + '\nCOMMIT\n')
    # already first: no jump change
    first = IN_SYNC_PR.split('\n')
    first[4], first[5] = first[5], first[4]
    p2 = I.plan_present(I.parse_save('\n'.join(first)), c, o, 'ipv4')
    assert 'POSTROUTING' not in (p2.payload or '')


def test_jump_position_append_never_moves():
    c, o = cfg({'nonMasqueradeCIDRs': []})
    first = IN_SYNC_PR.split('\n')
    first[4], first[5] = first[5], first[4]
    p = I.plan_present(I.parse_save('\n'.join(first)), c, o, 'ipv4')
    assert 'POSTROUTING' not in (p.payload or '')


# --- nftables -----------------------------------------------------------------------------------------------------

def test_nft_render_default():
    c, o = cfg({})
    text, digest = N.render(c, o)
    assert text.startswith('table inet ip-masq-agent\ndelete table inet ip-masq-agent\ntable inet ip-masq-agent {\n')
    assert 'elements = { 169.254.0.0/16, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 }' in text
    assert 'ip daddr @nomasq4 return' in text and 'meta nfproto ipv4 masquerade fully-random' in text
    assert 'nomasq6' not in text and 'config sha256:%s' % digest in text
    c2, o2 = cfg({}, random_fully=False)
    assert N.render(c2, o2)[1] != digest and 'fully-random' not in N.render(c2, o2)[0]


def test_nft_render_ipv6_snat_and_lists():
    c, o = cfg({'nonMasqueradeCIDRs': ['fd00::/8'], 'masqLinkLocalIPv6': True, 'snatToSourceIPv6': 'fd00::1',
                'masqueradeCIDRs': ['2001:db8::/32']}, enable_ipv6=True)
    text = N.render(c, o)[0]
    assert 'elements = { fd00::/8 }' in text and 'fe80' not in text
    assert 'ip6 daddr @masq6 snat ip6 to fd00::1 fully-random' in text
    assert 'ip daddr @masq4 masquerade fully-random' in text  # empty IPv4 list: nothing is masqueraded


def test_nft_several_port_ranges_rejected():
    c, o = cfg({}, to_ports='1000-2000,3000')
    with pytest.raises(C.ConfigError) as e:
        N.desired(c, o)
    assert e.value.key == 'to-ports'


def listing(cfg_, opts, elems=None, rules=None, digest=None):
    """A JSON listing as `nft -j list table inet ip-masq-agent` prints it (shapes seen on nft 1.0.6)."""
    want = N.desired(cfg_, opts)
    items = [{'metainfo': {'version': '1.0.6'}}, {'table': {'family': 'inet', 'name': 'ip-masq-agent', 'handle': 3}}]
    d = digest or N.render(cfg_, opts)[1]
    for name in sorted(want['sets']):
        typ, cidrs = want['sets'][name]
        e = elems if (elems is not None and name == 'nomasq4') else cidrs
        s = {'family': 'inet', 'name': name, 'table': 'ip-masq-agent', 'type': typ, 'handle': 2, 'flags': ['interval'],
             'elem': [{'prefix': {'addr': x.split('/')[0], 'len': int(x.split('/')[1])}} for x in e]}
        if name == min(want['sets']):
            s['comment'] = 'ip-masq-agent config sha256:%s' % d
        items.append({'set': s})
    items.append({'chain': {'family': 'inet', 'table': 'ip-masq-agent', 'name': 'postrouting', 'handle': 1,
                            'type': 'nat', 'hook': 'postrouting', 'prio': 100, 'policy': 'accept'}})
    for comment, verdict, _t in (rules if rules is not None else want['rules']):
        items.append({'rule': {'family': 'inet', 'table': 'ip-masq-agent', 'chain': 'postrouting', 'handle': 9,
                               'comment': comment, 'expr': [{'match': {}}, {verdict: None}]}})
    return json.dumps({'nftables': items})


def test_nft_plan_in_sync_and_drift():
    c, o = cfg({'nonMasqueradeCIDRs': ['10.0.0.0/8', '10.1.0.0/16']})
    # nft merges 10.1.0.0/16 into 10.0.0.0/8 and sorts: still in sync
    live = N.parse_listing(listing(c, o, elems=['10.0.0.0/8', '169.254.0.0/16']))
    assert not N.plan_present(live, c, o).changed
    flushed = N.parse_listing(listing(c, o, elems=[]))
    p = N.plan_present(flushed, c, o)
    assert p.changed and 'sets' in p.actions[0] and p.payload.startswith('table inet ip-masq-agent\n')
    want = N.desired(c, o)['rules']
    assert N.plan_present(N.parse_listing(listing(c, o, rules=want[:-1])), c, o).changed
    assert N.plan_present(N.parse_listing(listing(c, o, digest='0' * 16)), c, o).changed
    assert N.plan_present(None, c, o).actions == ['create table inet ip-masq-agent']


def test_nft_sync_reads_once_writes_once(scripted):
    c, o = cfg({})
    r = scripted([(['/usr/sbin/nft', '-j', 'list', 'table', 'inet', 'ip-masq-agent'], 1, '',
                   'Error: No such file or directory'),
                  (['/usr/sbin/nft', '-f', '-'], 0, '', '')])
    p = N.sync(N.NftBackend(r, lambda n: '/usr/sbin/' + n), c, o)
    assert p.changed and r.calls[1][1] == p.payload and not r.script


def test_nft_remove(scripted):
    c, o = cfg({})
    r = scripted([(['/usr/sbin/nft', '-j', 'list', 'table', 'inet', 'ip-masq-agent'], 0, listing(c, o), ''),
                  (['/usr/sbin/nft', '-f', '-'], 0, '', '')])
    p = N.remove(N.NftBackend(r, lambda n: '/usr/sbin/' + n))
    assert p.payload == 'delete table inet ip-masq-agent\n'


# --- host facts and metrics ----------------------------------------------------------------------------------------

def test_subnet_warning():
    c, _o = cfg({'nonMasqueradeCIDRs': ['10.0.0.0/8']})
    assert H.subnet_warnings(c, ['10.128.0.0/20']) == []
    w = H.subnet_warnings(c, ['192.0.2.0/24'])
    assert len(w) == 1 and '192.0.2.0/24' in w[0]


def test_primary_subnets_from_ip_json(scripted):
    routes = json.dumps([{'dst': 'default', 'gateway': '192.0.2.1', 'dev': 'eth0'}])
    addrs = json.dumps([{'ifname': 'eth0', 'addr_info': [{'family': 'inet', 'local': '192.0.2.10', 'prefixlen': 24,
                                                          'scope': 'global'}]}])
    r = scripted([(['/sbin/ip', '-j', '-4', 'route', 'show', 'default'], 0, routes, ''),
                  (['/sbin/ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0'], 0, addrs, ''),
                  (['/sbin/ip', '-j', '-6', 'route', 'show', 'default'], 0, '[]', '')])
    assert H.primary_subnets(r, lambda n: '/sbin/' + n) == ['192.0.2.0/24']


def test_metrics_counters_persist_and_drift_is_counted(tmp_path):
    path = str(tmp_path / 'ip_masq_agent.prom')
    H.write_metrics(path, 'success', 'iptables', {'ipv4': 5}, 'aaaa', changed=True, now=100)
    H.write_metrics(path, 'success', 'iptables', {'ipv4': 5}, 'aaaa', changed=True, now=160)  # drift repaired
    H.write_metrics(path, 'success', 'iptables', {'ipv4': 6}, 'bbbb', changed=True, now=220)  # config change
    H.write_metrics(path, 'config_error', '', now=280)
    m = H.read_metrics(path)
    assert m['ip_masq_agent_syncs_total{result="success"}'] == '3'
    assert m['ip_masq_agent_syncs_total{result="config_error"}'] == '1'
    assert m['ip_masq_agent_drift_repairs_total'] == '1'
    assert m['ip_masq_agent_config_errors_total'] == '1'
    assert m['ip_masq_agent_last_sync_success'] == '0'
    assert m['ip_masq_agent_rules{backend="iptables",family="ipv4"}'] == '6'
    assert m['ip_masq_agent_config_info{sha256="bbbb"}'] == '1'
    assert m['ip_masq_agent_last_sync_timestamp_seconds'] == '280.000'
