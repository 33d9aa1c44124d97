# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipmasq_k8s.ensure_label with the real Kubernetes Python client (through k8s_client.Cluster) against the API
server stand-in tests/stand_ins/fake_apiserver.py, whose behaviours used here were observed on a real kube-apiserver
(merge patches, dryRun=All, managedFields, the etcd-down 504, 403 messages)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_k8s as K
from ansible_collections.ipmasq.agent.plugins.module_utils import k8s_client as C

kubernetes = pytest.importorskip('kubernetes', reason='the Kubernetes Python client (tests/unit/requirements.txt)')


def _stand_in():
    """tests/stand_ins/fake_apiserver.py by its path (the collection's tests directory is no importable package under
    ansible-test units)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'stand_ins', 'fake_apiserver.py')
    spec = importlib.util.spec_from_file_location('ipmasq_fake_apiserver', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


FakeApiServer = _stand_in().FakeApiServer

KEY = K.DEFAULT_KEY


@pytest.fixture
def api(tmp_path):
    server = FakeApiServer(['n1'], workdir=str(tmp_path)).start()
    server.tmp = tmp_path
    yield server
    server.stop()


def cluster(api, token='admin-token', timeout=30):
    kc = api.kubeconfig(str(api.tmp / ('kc-%s' % token)), token=token)
    client = kubernetes.config.new_client_from_config(config_file=kc)
    client.configuration.retries = False
    return C.Cluster(client, timeout)


def node_requests(api, name='n1'):
    return [(r[0], r[4]) for r in api.requests if r[1] == '/api/v1/nodes/' + name]


def patches(api):
    return [r for r in api.requests if r[0] == 'PATCH']


def test_one_merge_patch_of_the_label_without_precondition_and_with_our_field_manager(api):
    rv = api.nodes['n1']['metadata']['resourceVersion']
    r = K.ensure_label(cluster(api), 'n1', KEY, 'true')
    assert r == dict(changed=True, before={'kubernetes.io/hostname': 'n1'},
                     after={'kubernetes.io/hostname': 'n1', KEY: 'true'}, warnings=[])
    (method, path, ctype, body, query), = patches(api)
    assert ctype == 'application/merge-patch+json' and query == {'fieldManager': ['ipmasq-agent']}
    assert body == b'{"metadata": {"labels": {"beta.kubernetes.io/masq-agent-ds-ready": "true"}}}'  # no resourceVersion
    assert api.labels('n1')[KEY] == 'true' and api.nodes['n1']['metadata']['resourceVersion'] != rv
    managers = [m['manager'] for m in api.nodes['n1']['metadata']['managedFields']]
    assert managers == ['kubelet', 'ipmasq-agent']  # not the client's default OpenAPI-Generator


def test_a_concurrent_writer_between_read_and_patch_does_not_fail_the_label(api):
    api.conflicts['n1'] = 100  # every read is followed at once by someone else's write of the node
    r = K.ensure_label(cluster(api), 'n1', KEY, 'true', retries=0)
    assert r['changed'] and api.labels('n1')[KEY] == 'true'
    assert [m for m, _q in node_requests(api)] == ['GET', 'PATCH']


def test_labelled_already_is_no_write(api):
    api.nodes['n1']['metadata']['labels'][KEY] = 'true'
    r = K.ensure_label(cluster(api), 'n1', KEY, 'true')
    assert r['changed'] is False and r['before'] == r['after'] and patches(api) == []


def test_absent_removes_with_a_null(api):
    api.nodes['n1']['metadata']['labels'][KEY] = 'true'
    r = K.ensure_label(cluster(api), 'n1', KEY, None, state='absent')
    assert r['changed'] and KEY not in r['after'] and KEY not in api.labels('n1')
    assert patches(api)[0][3] == b'{"metadata": {"labels": {"beta.kubernetes.io/masq-agent-ds-ready": null}}}'


def test_check_mode_asks_the_server_with_a_dry_run_and_stores_nothing(api):
    rv = api.nodes['n1']['metadata']['resourceVersion']
    r = K.ensure_label(cluster(api), 'n1', KEY, 'true', check_mode=True)
    assert r['changed'] and r['after'] == {'kubernetes.io/hostname': 'n1', KEY: 'true'}
    assert patches(api)[0][4] == {'fieldManager': ['ipmasq-agent'], 'dryRun': ['All']}
    assert KEY not in api.labels('n1') and api.nodes['n1']['metadata']['resourceVersion'] == rv


def test_check_mode_shows_a_refusal_to_patch(api):
    with pytest.raises(C.K8sError) as e:
        K.ensure_label(cluster(api, 'viewer-token'), 'n1', KEY, 'true', check_mode=True)
    assert e.value.status == 403 and e.value.msg == (
        "the API server refused to patch node 'n1' (dry run: check mode) (403 Forbidden): nodes \"n1\" is forbidden: "
        "User \"viewer\" cannot patch resource \"nodes\" in API group \"\" at the cluster scope; labelling needs "
        "\"get\" and \"patch\" on nodes")


@pytest.mark.parametrize('name', ['', '   ', None])
def test_empty_node_name_is_refused_before_any_request(api, name):
    with pytest.raises(C.K8sError) as e:
        K.ensure_label(cluster(api), name, KEY, 'true')
    assert e.value.msg == 'name: the node name is empty; give the Kubernetes node name' and api.requests == []


def test_a_name_that_cannot_be_a_node_is_refused(api):
    with pytest.raises(C.K8sError) as e:
        K.ensure_label(cluster(api), 'n1/status', KEY, 'true')
    assert e.value.msg.startswith("name: 'n1/status' is not a valid Kubernetes node name") and api.requests == []


def test_absent_on_a_node_that_is_gone_is_no_change_with_a_warning(api):
    r = K.ensure_label(cluster(api), 'decommissioned', KEY, None, state='absent')
    assert r == dict(changed=False, before=None, after=None, warnings=[
        "node 'decommissioned' does not exist (404 NotFound from the API server): nothing to remove"])


def test_present_on_a_missing_node_names_no_role_variable(api):
    with pytest.raises(C.K8sError) as e:
        K.ensure_label(cluster(api), 'nx', KEY, 'true')
    assert e.value.status == 404
    assert e.value.msg == "node 'nx' does not exist (404 NotFound from the API server): check the node name"


@pytest.mark.parametrize('value, state, want', [
    (True, 'present', 'true'), (False, 'present', 'false'), (7, 'present', '7'), ('', 'present', ''),
    (None, 'absent', None),
])
def test_label_values(value, state, want):
    assert K.label_value(value, state) == want


@pytest.mark.parametrize('value, words', [
    (None, 'value: a label value is required with state=present, got null'),
    (['a'], "value: a label value is a string, got list ['a']"),
    ({'a': 1}, "value: a label value is a string, got dict {'a': 1}"),
    (1.5, 'value: a label value is a string, got float 1.5'),
])
def test_label_values_refused(value, words):
    with pytest.raises(C.K8sError) as e:
        K.label_value(value)
    assert e.value.msg.startswith(words)


def test_etcd_down_is_a_readable_504(api):
    api.etcd_down = True
    with pytest.raises(C.K8sError) as e:
        K.ensure_label(cluster(api), 'n1', KEY, 'true')
    assert e.value.status == 504 and e.value.msg.startswith(
        "the API server failed to read node 'n1' (504 Timeout): Timeout: request did not complete")
    assert '{' not in e.value.msg


def test_no_answer_within_the_request_timeout(api):
    api.delay = 600  # held until the stand-in stops
    with pytest.raises(C.K8sError) as e:
        K.ensure_label(cluster(api, timeout=0.5), 'n1', KEY, 'true')
    assert e.value.status is None
    assert e.value.msg == "no answer from the API server at %s within 0.5 s (request_timeout) (trying to read node " \
                          "'n1')" % api.url


class Flaky(object):
    """A real Cluster whose first n patches are answered with ``status`` (as a real 409 or 429 would be)."""

    def __init__(self, real, n, status):
        self.real, self.n, self.status = real, n, status
        self.api_client = real.api_client

    def call(self, what, fn, *args, **kwargs):
        if what.startswith('patch') and self.n:
            self.n -= 1
            raise C.K8sError('cannot %s: conflict (%d)' % (what, self.status), self.status)
        return self.real.call(what, fn, *args, **kwargs)


@pytest.mark.parametrize('status', [409, 429])
def test_retries_back_off(api, status):
    pauses = []
    r = K.ensure_label(Flaky(cluster(api), 3, status), 'n1', KEY, 'true', retries=3, sleep=pauses.append)
    assert r['changed'] and api.labels('n1')[KEY] == 'true'
    assert pauses == [0.5, 1.0, 2.0]


@pytest.mark.parametrize('retries, words', [(0, 'still so after 1 attempt'), (2, 'still so after 3 attempts')])
def test_retries_exhausted(api, retries, words):
    pauses = []
    with pytest.raises(C.K8sError) as e:
        K.ensure_label(Flaky(cluster(api), 9, 409), 'n1', KEY, 'true', retries=retries, sleep=pauses.append)
    assert e.value.status == 409 and e.value.msg.endswith(words) and len(pauses) == retries


def test_other_errors_are_not_retried(api):
    api.etcd_down = True
    api.nodes['n1']['metadata']['labels'][KEY] = 'x'
    with pytest.raises(C.K8sError):
        K.ensure_label(cluster(api), 'n1', KEY, 'true', sleep=pytest.fail)
    assert len(node_requests(api)) == 1


@pytest.mark.parametrize('key, value, words', [
    ('not a key', 'true', 'key:'), (KEY, 'x' * 64, 'value:'), (KEY, None, 'value: a label value is required'),
])
def test_bad_labels_are_refused_before_any_request(api, key, value, words):
    with pytest.raises(C.K8sError) as e:
        K.ensure_label(cluster(api), 'n1', key, value)
    assert e.value.msg.startswith(words) and api.requests == []


def test_defaults_importable():
    assert (K.DEFAULT_KEY, K.DEFAULT_VALUE, K.ADDON_KEY) == (
        'beta.kubernetes.io/masq-agent-ds-ready', 'true', 'node.kubernetes.io/masq-agent-ds-ready')
