# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_node_label: the real main() (patch_module_args, via the run_module fixture) with the Kubernetes client mocked.

The mocks sit at the module's boundary with the `kubernetes` package (config.new_client_from_config and
client.CoreV1Api), so these tests do not need the package installed. Their errors carry what the client's
ApiException carries (status, reason, body = the API server's JSON Status). The real client against an API server
stand-in is tested in tests/integration/test_node_label.py.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
from types import SimpleNamespace
from unittest import mock

import pytest

from ansible_collections.ipmasq.agent.plugins.modules import k8s_node_label as M

KEY = 'beta.kubernetes.io/masq-agent-ds-ready'


class ApiException(Exception):
    """Shaped like kubernetes.client.exceptions.ApiException."""

    def __init__(self, status, reason, message=None, name='n1'):
        super(ApiException, self).__init__('(%s) Reason: %s' % (status, reason))
        self.status, self.reason = status, reason
        self.body = json.dumps({'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                                'message': message or reason, 'reason': reason, 'code': status,
                                'details': {'name': name, 'kind': 'nodes'}})


class Cluster(object):
    """One node; scripted errors for reads and patches, in order (None = answer normally)."""

    def __init__(self, labels, read_errors=(), patch_errors=()):
        self.node = {'kind': 'Node', 'apiVersion': 'v1',
                     'metadata': {'name': 'n1', 'resourceVersion': '41', 'labels': dict(labels)}}
        self.read_errors, self.patch_errors = list(read_errors), list(patch_errors)
        self.reads, self.patches, self.loads = [], [], []

    # kubernetes.config.new_client_from_config
    def new_client_from_config(self, config_file=None, context=None):
        self.loads.append((config_file, context))
        return SimpleNamespace(sanitize_for_serialization=copy.deepcopy, cluster=self)

    # kubernetes.client.CoreV1Api(api_client)
    def read_node(self, name):
        self.reads.append(name)
        if self.read_errors:
            err = self.read_errors.pop(0)
            if isinstance(err, Exception):
                raise err
        return copy.deepcopy(self.node)

    def patch_node(self, name, body):
        self.patches.append(copy.deepcopy(body))
        if self.patch_errors:
            err = self.patch_errors.pop(0)
            if isinstance(err, Exception):
                raise err
        labels = self.node['metadata']['labels']
        for k, v in body['metadata']['labels'].items():
            if v is None:
                labels.pop(k, None)
            else:
                labels[k] = v
        self.node['metadata']['resourceVersion'] = str(int(self.node['metadata']['resourceVersion']) + 1)
        return copy.deepcopy(self.node)


@pytest.fixture
def label(run_module):
    def _label(cluster, check_mode=False, **args):
        fake_config = SimpleNamespace(new_client_from_config=cluster.new_client_from_config)
        fake_client = SimpleNamespace(CoreV1Api=lambda api_client: api_client.cluster)
        with mock.patch.object(M, 'HAS_KUBERNETES', True), \
                mock.patch.object(M, 'k8s_config', fake_config, create=True), \
                mock.patch.object(M, 'k8s_client', fake_client, create=True):
            result, script = run_module(M.main, dict(dict(name='n1'), **args), check_mode=check_mode)
        assert script.seen == []  # no commands: everything goes through the API client
        return result
    return _label


def test_adds_the_label_with_the_resource_version_read(label):
    c = Cluster({'kubernetes.io/hostname': 'n1'})
    r = label(c, kubeconfig='/etc/k/admin.conf', context='prod')
    assert r['changed'] is True and r['name'] == 'n1'
    assert r['labels'] == {'kubernetes.io/hostname': 'n1', KEY: 'true'} == c.node['metadata']['labels']
    assert c.patches == [{'metadata': {'labels': {KEY: 'true'}, 'resourceVersion': '41'}}]
    assert c.loads == [('/etc/k/admin.conf', 'prod')]
    assert r['diff']['before'] == {'kubernetes.io/hostname': 'n1'} and r['diff']['after'][KEY] == 'true'
    assert r['diff']['before_header'] == 'node/n1 labels'


def test_default_kubeconfig_and_context_are_the_clients(label):
    c = Cluster({KEY: 'true'})
    label(c)
    assert c.loads == [(None, None)]


def test_already_labelled_is_no_change_and_no_patch(label):
    c = Cluster({KEY: 'true'})
    r = label(c)
    assert r['changed'] is False and 'diff' not in r and c.patches == [] and c.reads == ['n1']


def test_other_value_is_replaced(label):
    c = Cluster({KEY: 'false'})
    r = label(c)
    assert r['changed'] and c.patches[0]['metadata']['labels'] == {KEY: 'true'}
    assert r['diff']['before'][KEY] == 'false'


def test_custom_key_and_empty_value(label):
    c = Cluster({})
    r = label(c, key='example.com/egress', value='')
    assert r['changed'] and c.node['metadata']['labels'] == {'example.com/egress': ''}


def test_check_mode_predicts_and_writes_nothing(label):
    c = Cluster({'a': 'b'})
    r = label(c, check_mode=True)
    assert r['changed'] is True and r['labels'] == {'a': 'b', KEY: 'true'} and c.patches == []
    assert c.node['metadata']['labels'] == {'a': 'b'} and r['diff']['after'] == {'a': 'b', KEY: 'true'}


def test_absent_removes_with_a_null(label):
    c = Cluster({'a': 'b', KEY: 'true'})
    r = label(c, state='absent')
    assert r['changed'] and r['labels'] == {'a': 'b'} == c.node['metadata']['labels']
    assert c.patches == [{'metadata': {'labels': {KEY: None}, 'resourceVersion': '41'}}]


def test_absent_when_not_there_is_no_change(label):
    c = Cluster({'a': 'b'})
    r = label(c, state='absent', check_mode=True)
    assert r['changed'] is False and c.patches == []


def test_conflict_reads_again_and_retries(label):
    c = Cluster({}, patch_errors=[ApiException(409, 'Conflict')])
    c.node['metadata']['resourceVersion'] = '41'
    r = label(c)
    assert r['changed'] and c.reads == ['n1', 'n1'] and len(c.patches) == 2
    assert c.node['metadata']['labels'] == {KEY: 'true'}


def test_conflicts_beyond_retries_fail(label):
    c = Cluster({}, patch_errors=[ApiException(409, 'Conflict')] * 2)
    r = label(c, retries=1)
    assert r['failed'] and r['status'] == 409 and '2 conflicts (409) in a row' in r['msg']
    assert KEY not in c.node['metadata']['labels']


def test_missing_node_fails_clearly(label):
    c = Cluster({}, read_errors=[ApiException(404, 'Not Found', 'nodes "n1" not found')])
    r = label(c)
    assert r['failed'] and r['status'] == 404 and "node 'n1' does not exist (404 NotFound" in r['msg']
    assert 'node_label_node_name' in r['msg'] and c.patches == []


def test_forbidden_patch_fails_with_the_servers_message(label):
    msg = 'nodes "n1" is forbidden: User "viewer" cannot patch resource "nodes" in API group "" at the cluster scope'
    c = Cluster({}, patch_errors=[ApiException(403, 'Forbidden', msg)])
    r = label(c)
    assert r['failed'] and r['status'] == 403 and '403 Forbidden' in r['msg'] and msg in r['msg']
    assert 'refused to patch' in r['msg']


def test_unauthorized_read(label):
    r = label(Cluster({}, read_errors=[ApiException(401, 'Unauthorized')]))
    assert r['failed'] and r['status'] == 401 and 'did not accept the credentials' in r['msg']


def test_server_error_keeps_status_and_message(label):
    r = label(Cluster({}, read_errors=[ApiException(500, 'Internal Server Error', 'etcdserver: request timed out')]))
    assert r['failed'] and r['status'] == 500 and 'etcdserver: request timed out' in r['msg']


def test_unreachable_server(label):
    r = label(Cluster({}, read_errors=[ConnectionRefusedError(111, 'Connection refused')]))
    assert r['failed'] and 'cannot reach the API server' in r['msg'] and 'Connection refused' in r['msg']


def test_unloadable_kubeconfig(label):
    c = Cluster({})

    def broken(config_file=None, context=None):
        raise ValueError('Invalid kube-config file. No configuration found.')
    c.new_client_from_config = broken
    r = label(c, kubeconfig='/nonexistent/kubeconfig')
    assert r['failed'] and r['msg'].startswith('kubeconfig: cannot load /nonexistent/kubeconfig: Invalid kube-config')
    assert c.reads == []


@pytest.mark.parametrize('args, words', [
    (dict(key='not a key'), 'key:'),
    (dict(value='x' * 64), 'value:'),
    (dict(retries=-1), 'retries: must be 0 or more'),
])
def test_bad_arguments_fail_before_any_api_call(label, args, words):
    c = Cluster({})
    r = label(c, **args)
    assert r['failed'] and words in r['msg'] and c.reads == [] and c.patches == []


def test_missing_kubernetes_library(run_module):
    with mock.patch.object(M, 'HAS_KUBERNETES', False), \
            mock.patch.object(M, 'KUBERNETES_IMPORT_ERROR', 'Traceback: No module named kubernetes'):
        r, _s = run_module(M.main, dict(name='n1'))
    assert r['failed'] and 'Failed to import the required Python library (kubernetes)' in r['msg']
