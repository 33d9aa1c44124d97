# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host: the Host over an injected runner, the lock, the record of the last sync, and the host facts (backend: auto,
the node's own subnets)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import host as H
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import HostError
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import Settings


def test_host_runs_through_the_runner_with_found_paths(scripted, find_without):
    looked = []

    def find(name):
        looked.append(name)
        return find_without(missing=('nft',))(name)
    runner = scripted([(['/usr/sbin/iptables-save', '-t', 'nat'], 0, 'out', 'err'),
                       (['/usr/sbin/iptables-save', '-c'], 3, '', '')])
    h = H.Host(runner, find, wait=4)
    assert h.run(['iptables-save', '-t', 'nat']) == (0, 'out', 'err')
    assert h.run(('iptables-save', '-c'), 'data') == (3, '', '')
    assert runner.calls[1] == (['/usr/sbin/iptables-save', '-c'], 'data')
    assert h.has('iptables-save') and not h.has('nft') and not h.has('nft')
    assert looked == ['iptables-save', 'nft', 'nft']  # found paths are kept, missing ones asked again
    assert h.wait == 4
    with pytest.raises(HostError):
        h.run(['nft', '-f', '-'])


def test_lock_times_out_without_waiting_when_held(tmp_path):
    path = str(tmp_path / 'run' / 'ip-masq-agent.lock')
    with H.HostLock(path, timeout=5) as held:
        assert held.fd is not None and os.path.isdir(str(tmp_path / 'run'))
        with pytest.raises(HostError) as e:
            with H.HostLock(path, timeout=0):
                pass
        assert e.value.msg == 'another ip-masq-agent run held %s for more than 0s; nothing was changed' % path
    with H.HostLock(path, timeout=0) as again:
        assert again.fd is not None
    assert again.fd is None
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize('path', [None, '', '-'])
def test_no_lock(path):
    with H.HostLock(path) as lock:
        assert lock.path is None and lock.fd is None


def test_lock_refuses_a_symlink(tmp_path):
    target = tmp_path / 'target'
    target.write_text('keep')
    os.symlink(str(target), str(tmp_path / 'lock'))
    with pytest.raises(HostError) as e:
        with H.HostLock(str(tmp_path / 'lock'), timeout=0):
            pass
    assert e.value.msg.startswith('cannot open the lock file %s: ' % (tmp_path / 'lock'))
    assert target.read_text() == 'keep'


# --- the record of the last sync ------------------------------------------------------------------------------------

@pytest.mark.parametrize('lock, record', [('/run/ip-masq-agent.lock', '/run/ip-masq-agent.state'), ('/x/lock', '/x/lock.state'),
                                          (None, None), ('', None), ('-', None)])
def test_record_path(lock, record):
    assert H.record_path(lock) == record


def test_record_round_trip_and_clear(tmp_path):
    path = str(tmp_path / 'ip-masq-agent.state')
    assert H.read_record(path) is None and H.read_record(None) is None
    record = {'backend': 'iptables', 'chain': 'IP-MASQ-AGENT', 'families': ['ipv4']}
    H.write_record(path, record)
    assert H.read_record(path) == record
    assert open(path).read() == '{"backend": "iptables", "chain": "IP-MASQ-AGENT", "families": ["ipv4"]}\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    mtime = os.stat(path).st_mtime_ns
    os.utime(path, ns=(0, 0))
    H.write_record(path, record)  # unchanged: not rewritten
    assert os.stat(path).st_mtime_ns == 0 != mtime
    H.clear_record(path)
    assert not os.path.exists(path)
    H.clear_record(path)
    H.clear_record(None)
    H.write_record(None, record)


@pytest.mark.parametrize('text', [
    'not json', '[]', '{"backend": "iptables", "chain": 7, "families": []}', '{"backend": "ebpf", "chain": "X", "families": []}',
    '{"backend": "nftables", "chain": "X", "families": "ipv4"}', '{"backend": "nftables", "families": []}',
])
def test_bad_records_are_ignored(tmp_path, text):
    path = tmp_path / 'state'
    path.write_text(text)
    assert H.read_record(str(path)) is None


def test_record_behind_a_symlink_or_not_a_file_is_ignored(tmp_path):
    real = tmp_path / 'real'
    real.write_text(json.dumps({'backend': 'nftables', 'chain': 'X', 'families': ['ipv4']}))
    os.symlink(str(real), str(tmp_path / 'state'))
    assert H.read_record(str(real)) == {'backend': 'nftables', 'chain': 'X', 'families': ['ipv4']}
    assert H.read_record(str(tmp_path / 'state')) is None
    assert H.read_record(str(tmp_path)) is None


def test_write_atomic_replaces_a_symlink_instead_of_following_it(tmp_path):
    target = tmp_path / 'target'
    target.write_text('keep')
    link = tmp_path / 'file'
    os.symlink(str(target), str(link))
    H.write_atomic(str(link), 'new\n', 0o640)
    assert target.read_text() == 'keep' and not os.path.islink(str(link)) and link.read_text() == 'new\n'
    assert stat.S_IMODE(os.stat(str(link)).st_mode) == 0o640
    assert sorted(os.listdir(str(tmp_path))) == ['file', 'target']


# --- backend: auto --------------------------------------------------------------------------------------------------

NFT_LIST = ['/usr/sbin/nft', 'list', 'table', 'inet', 'ip-masq-agent']
SAVE = ['/usr/sbin/iptables-save', '-t', 'nat']
EMPTY_NAT = '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n'


@pytest.mark.parametrize('desc, missing, script, backend', [
    ('no nft', ('nft',), [], 'iptables'),
    ('our nft table exists', (), [(NFT_LIST, 0, 'table inet ip-masq-agent {}', '')], 'nftables'),
    ('no iptables', ('iptables-save',), [(NFT_LIST, 1, '', 'Error: No such file or directory')], 'nftables'),
    ('our chain exists', (), [(NFT_LIST, 1, '', ''), (SAVE, 0, '*nat\n:IP-MASQ-AGENT - [0:0]\nCOMMIT\n', '')], 'iptables'),
    ('nat table in use', (), [(NFT_LIST, 1, '', ''), (SAVE, 0, '*nat\n-A POSTROUTING -j KUBE-POSTROUTING\nCOMMIT\n', '')], 'iptables'),
    ('nat table empty', (), [(NFT_LIST, 1, '', ''), (SAVE, 0, EMPTY_NAT, '')], 'nftables'),
    ('iptables-save fails', (), [(NFT_LIST, 1, '', ''), (SAVE, 1, '', 'error')], 'nftables'),
])
def test_choose_backend(scripted, find_without, desc, missing, script, backend):
    runner = scripted(script)
    assert H.choose_backend(H.Host(runner, find_without(missing)), 'IP-MASQ-AGENT', None) == backend, desc
    assert runner.script == []


def test_choose_backend_keeps_the_recorded_backend(scripted, find):
    assert H.choose_backend(H.Host(scripted([]), find), 'X', {'backend': 'nftables', 'chain': 'X', 'families': []}) == 'nftables'
    assert H.choose_backend(H.Host(scripted([]), find), 'X', {'backend': 'iptables', 'chain': 'X', 'families': []}) == 'iptables'


# --- the node's own subnets ------------------------------------------------------------------------------------------

ROUTE4 = ['/sbin/ip', '-j', '-4', 'route', 'show', 'default']
ROUTE6 = ['/sbin/ip', '-j', '-6', 'route', 'show', 'default']


def addrs(dev, *infos):
    return json.dumps([{'ifname': dev, 'addr_info': [dict(zip(('family', 'local', 'prefixlen', 'scope'), i)) for i in infos]}])


def test_primary_subnets_from_ip_json(scripted):
    routes4 = json.dumps([{'dst': 'default', 'gateway': '192.0.2.1', 'dev': 'eth0'},
                          {'dst': 'default', 'gateway': '198.51.100.1', 'dev': 'eth1', 'metric': 200}])
    routes6 = json.dumps([{'dst': 'default', 'gateway': 'fe80::1', 'dev': 'eth0'}])
    runner = scripted([
        (ROUTE4, 0, routes4, ''),
        (['/sbin/ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0'], 0,
         addrs('eth0', ('inet', '192.0.2.10', 24, 'global'), ('inet', '127.0.0.2', 8, 'host')), ''),
        (['/sbin/ip', '-j', '-4', 'addr', 'show', 'dev', 'eth1'], 0, addrs('eth1', ('inet', '198.51.100.9', 25, 'global')), ''),
        (ROUTE6, 0, routes6, ''),
        (['/sbin/ip', '-j', '-6', 'addr', 'show', 'dev', 'eth0'], 0,
         addrs('eth0', ('inet6', '2001:db8::10', 64, 'global'), ('inet6', 'fe80::10', 64, 'link')), ''),
    ])
    assert H.primary_subnets(H.Host(runner, lambda n: '/sbin/' + n)) == ['192.0.2.10/24', '198.51.100.9/25', '2001:db8::10/64']


@pytest.mark.parametrize('script', [
    [(ROUTE4, 0, '', ''), (ROUTE6, 0, '[]', '')],
    [(ROUTE4, 1, '', 'RTNETLINK answers: Operation not permitted'), (ROUTE6, 0, 'not json', '')],
    [(ROUTE4, 0, '[{"dst": "default"}]', ''), (ROUTE6, 0, '{"x": 1}', '')],
    [(ROUTE4, 0, '[{"dev": "eth0"}]', ''), (['/sbin/ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0'], 0, '[{"addr_info": [{}]}]', ''),
     (ROUTE6, 0, '[{"dev": "eth0"}]', ''), (['/sbin/ip', '-j', '-6', 'addr', 'show', 'dev', 'eth0'], 1, '', 'error')],
])
def test_primary_subnets_tolerates_odd_answers(scripted, script):
    runner = scripted(script)
    assert H.primary_subnets(H.Host(runner, lambda n: '/sbin/' + n)) == [] and runner.script == []


def test_primary_subnets_without_ip(scripted, find_without):
    assert H.primary_subnets(H.Host(scripted([]), find_without(('ip',)))) == []


def test_subnet_warnings():
    s = Settings()
    s.set('non_masquerade_cidrs', ['10.0.0.0/8'])
    assert H.subnet_warnings(s, ['10.128.0.5/20', '2001:db8::10/64', 'garbage', '300.1.1.1/24']) == []
    assert H.subnet_warnings(s, ['192.0.2.0/24']) == [
        "the node's own subnet 192.0.2.0/24 is masqueraded by this config (not covered by nonMasqueradeCIDRs); add it if Pods talk "
        'to node addresses directly']
    assert len(H.subnet_warnings(s, ['192.0.2.10/24'])) == 1
    s.set('ip_version', 'both')
    assert len(H.subnet_warnings(s, ['2001:db8::10/64'])) == 1
    s.set('masquerade_cidrs', ['203.0.113.0/24'])
    assert H.subnet_warnings(s, ['192.0.2.10/24']) == []


def test_subnet_warning_names_a_cidr_the_config_accepts():
    """primary_subnets returns the interface's address with its prefix length ('192.0.2.10/24'); the warning tells the
    user to add "it" to nonMasqueradeCIDRs, so it must name the network (as the old code did), not a value the config
    refuses ('has host bits set')."""
    s = Settings()
    s.set('non_masquerade_cidrs', ['10.0.0.0/8'])
    assert H.subnet_warnings(s, ['192.0.2.10/24']) == [
        "the node's own subnet 192.0.2.0/24 is masqueraded by this config (not covered by nonMasqueradeCIDRs); add it if Pods talk "
        'to node addresses directly']
