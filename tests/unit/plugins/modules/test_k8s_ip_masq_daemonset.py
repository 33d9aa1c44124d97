# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_ip_masq_daemonset: the real main() over the in-memory API of test_k8s_objects (which defaults a DaemonSet as
the API server does), and the manifest against upstream's and the node_label role's."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_k8s
from ansible_collections.ipmasq.agent.plugins.modules import k8s_ip_masq_daemonset as M
from ansible_collections.ipmasq.agent.tests.unit.plugins.module_utils.test_k8s_objects import DS, FakeApi
from ansible_collections.ipmasq.agent.tests.unit.plugins.modules.test_k8s_ip_masq_config import run_main

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


@pytest.fixture
def run(capsys):
    def _run(args, api, check_mode=False, diff=True):
        return run_main(capsys, M, args, api, check_mode, diff)
    return _run


def pod(api):
    return api.objects[DS.path]['spec']['template']['spec']


def test_upstream_manifest_by_default(run):
    api = FakeApi()
    r = run({}, api)
    assert r['changed'] and r['operation'] == 'create' and r['args'] == []
    assert r['image'] == 'registry.k8s.io/networking/ip-masq-agent:v2.12.0'
    spec = pod(api)
    c = spec['containers'][0]
    assert spec['hostNetwork'] is True and 'args' not in c and c['image'] == r['image']
    assert c['securityContext'] == {'privileged': False, 'capabilities': {'add': ['NET_ADMIN', 'NET_RAW']}}
    assert c['volumeMounts'] == [{'name': 'config', 'mountPath': '/etc/config'}]
    assert spec['volumes'] == [{'name': 'config', 'configMap': {'name': 'ip-masq-agent', 'optional': True, 'items': [
        {'key': 'config', 'path': 'ip-masq-agent'}]}}]
    assert {'effect': 'NoSchedule', 'operator': 'Exists'} in spec['tolerations']
    assert api.objects[DS.path]['spec']['selector'] == {'matchLabels': {'k8s-app': 'ip-masq-agent'}}
    assert r['diff']['before'] == '' and 'hostNetwork: true' in r['diff']['after']


def test_node_selector_is_the_node_label_roles_label():
    """The DaemonSet selects, by default, exactly the label the node_label role and k8s_node_label set."""
    with open(os.path.join(ROOT, 'roles', 'node_label', 'defaults', 'main.yml')) as f:
        role = yaml.safe_load(f)
    want = {role['node_label_key']: role['node_label_value']}
    assert M.node_selector(None) == want == {ipmasq_k8s.DEFAULT_KEY: ipmasq_k8s.DEFAULT_VALUE}
    desired = M.render(dict((k, v.get('default')) for k, v in M.argument_spec().items()))[0]
    assert desired['spec']['template']['spec']['nodeSelector'] == want


def test_second_run_writes_nothing_despite_server_defaults(run):
    api = FakeApi()
    run({'ip_version': 'both', 'random_fully': False}, api)
    assert pod(api)['restartPolicy'] == 'Always'  # the fake server's defaulting
    n = len(api.writes())
    r = run({'ip_version': 'both', 'random_fully': False}, api)
    assert not r['changed'] and r['operation'] == 'none' and len(api.writes()) == n


def test_args_are_upstreams_flags_in_go_syntax(run):
    api = FakeApi()
    r = run({'chain': 'IP-MASQ', 'nomasq_all_reserved_ranges': True, 'ip_version': 'both', 'random_fully': False,
             'to_ports': '32768-65535'}, api)
    assert r['args'] == ['--masq-chain=IP-MASQ', '--nomasq-all-reserved-ranges=true', '--enable-ipv6=true',
                         '--random-fully=false', '--to-ports=32768-65535']
    assert pod(api)['containers'][0]['args'] == r['args']


@pytest.mark.parametrize('args, option, words', [
    ({'backend': 'nftables'}, 'backend', "flag of ipmasq.agent's host program (--backend)"),
    ({'wait': 3}, 'wait', 'does not take'),
    ({'lock_file': '/tmp/x'}, 'lock_file', 'does not take'),
    ({'ip_version': 'ipv6'}, 'ip_version', 'no IPv6-only mode'),
    ({'chain': 'POSTROUTING'}, 'chain', 'built-in'),
    ({'to_ports': '0-5'}, 'to_ports', 'ports run from 1 to 65535'),
    ({'node_selector': {'bad key!': 'true'}}, 'node_selector', 'not a valid Kubernetes label key'),
    ({'node_selector': {'a': True}}, 'node_selector', 'label values are strings'),
    ({'image_tag': ''}, 'image_tag', 'expected an image name'),
])
def test_refused_before_any_request(run, args, option, words):
    api = FakeApi()
    r = run(args, api)
    assert r['failed'] and r['option'] == option and words in r['msg'], r['msg']
    assert api.requests == [] and r['_connects'] == 0


def test_image_digest_and_selector_change_check_mode(run):
    api = FakeApi()
    run({}, api)
    r = run({'image_tag': 'sha256:' + 'a' * 64, 'node_selector': {'node.kubernetes.io/masq-agent-ds-ready': 'true'}},
            api, check_mode=True)
    assert r['changed'] and r['image'] == 'registry.k8s.io/networking/ip-masq-agent@sha256:' + 'a' * 64
    assert api.writes()[-1][2].get('dryRun') is None and len(api.writes(dry=True)) == 2
    assert pod(api)['containers'][0]['image'].endswith(':v2.12.0')  # nothing stored
    assert r['diff']['after_header'] == 'daemonset kube-system/ip-masq-agent (predicted)'


def test_absent_deletes_ours_only(run):
    api = FakeApi()
    assert not run({'state': 'absent'}, api)['changed']
    run({}, api)
    r = run({'state': 'absent'}, api, check_mode=True)
    assert r['changed'] and r['operation'] == 'delete' and DS.path in api.objects
    r = run({'state': 'absent'}, api)
    assert r['changed'] and DS.path not in api.objects and r['diff']['after'] == ''
    api.put(DS.path, {'apiVersion': 'apps/v1', 'kind': 'DaemonSet', 'metadata': {'name': DS.name}, 'spec': {}})
    r = run({'state': 'absent'}, api)
    assert r['failed'] and 'left alone' in r['msg'] and DS.path in api.objects
