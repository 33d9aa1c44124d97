# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_node_label: the real main() (patch_module_args, via the run_module fixture) with the real Kubernetes Python
client against the API server stand-in tests/stand_ins/fake_apiserver.py. The whole role through ansible-playbook,
read back with the real kubectl, is tested in tests/integration/test_node_label.py."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os

import pytest

from ansible_collections.ipmasq.agent.plugins.modules import k8s_node_label as M
from ansible_collections.ipmasq.agent.plugins.module_utils import k8s_client

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

KEY = 'beta.kubernetes.io/masq-agent-ds-ready'


@pytest.fixture
def api(tmp_path, monkeypatch):
    for k in ('KUBECONFIG', 'K8S_AUTH_KUBECONFIG', 'K8S_AUTH_CONTEXT', 'K8S_AUTH_HOST', 'K8S_AUTH_API_KEY'):
        monkeypatch.delenv(k, raising=False)
    server = FakeApiServer(['n1'], workdir=str(tmp_path)).start()
    server.tmp = tmp_path
    server.kc = server.kubeconfig(str(tmp_path / 'kc'))
    yield server
    server.stop()


@pytest.fixture
def label(run_module, api):
    def _label(check_mode=False, **args):
        args = dict(dict(name='n1', kubeconfig=api.kc), **args)
        result, script = run_module(M.main, args, check_mode=check_mode)
        assert script.seen == []  # no commands: everything goes through the API client
        return result
    return _label


def patches(api):
    return [r for r in api.requests if r[0] == 'PATCH']


def test_adds_the_label_and_diff(label, api):
    r = label()
    assert r['changed'] is True and r['name'] == 'n1'
    assert r['labels'] == {'kubernetes.io/hostname': 'n1', KEY: 'true'} == api.labels('n1')
    assert r['diff'] == dict(before={'kubernetes.io/hostname': 'n1'}, after=r['labels'],
                             before_header='node/n1 labels', after_header='node/n1 labels')
    assert patches(api)[0][4] == {'fieldManager': ['ipmasq-agent']}
    r = label()
    assert r['changed'] is False and 'diff' not in r and len(patches(api)) == 1


def test_check_mode_labels_are_the_servers_dry_run_answer(label, api):
    r = label(check_mode=True, key='example.com/egress', value=True)
    assert r['changed'] and r['labels'] == {'kubernetes.io/hostname': 'n1', 'example.com/egress': 'true'}
    assert patches(api)[0][4] == {'fieldManager': ['ipmasq-agent'], 'dryRun': ['All']}
    assert api.labels('n1') == {'kubernetes.io/hostname': 'n1'}


def test_check_mode_fails_like_the_real_run_for_a_reader(label, api):
    viewer = api.kubeconfig(str(api.tmp / 'kc-viewer'), token='viewer-token')
    r = label(check_mode=True, kubeconfig=viewer)
    assert r['failed'] and r['status'] == 403 and 'cannot patch resource "nodes"' in r['msg']


@pytest.mark.parametrize('name', ['', ' '])
def test_empty_name_refused_before_connecting(label, api, name):
    r = label(name=name, kubeconfig=str(api.tmp / 'does-not-matter'))
    assert r['failed'] and r['msg'] == 'name: the node name is empty; give the Kubernetes node name'
    assert api.requests == []


@pytest.mark.parametrize('value, words', [
    (None, 'value: a label value is required with state=present, got null'),
    (['a', 'b'], 'value: a label value is a string, got list'),
])
def test_null_and_non_scalar_values_refused(label, api, value, words):
    r = label(value=value)
    assert r['failed'] and r['msg'].startswith(words) and api.requests == []


def test_null_value_is_fine_for_absent(label, api):
    api.nodes['n1']['metadata']['labels'][KEY] = 'true'
    r = label(value=None, state='absent')
    assert r['changed'] and KEY not in api.labels('n1')


@pytest.mark.parametrize('value, written', [(False, 'false'), (3, '3'), ('', '')])
def test_scalar_values_written_as_label_text(label, api, value, written):
    label(value=value)
    assert api.labels('n1')[KEY] == written


def test_absent_on_a_missing_node_warns(label, api):
    r = label(name='gone', state='absent')
    assert r['changed'] is False and r['labels'] is None and 'failed' not in r
    # (warnings of modules run earlier in this process may be listed too: the module API keeps them globally)
    assert [w['event']['msg'] for w in r['warnings']][-1:] == [
        "node 'gone' does not exist (404 NotFound from the API server): nothing to remove"]


def test_missing_node_message_names_no_role_variable(label):
    r = label(name='nx')
    assert r['failed'] and r['status'] == 404 and 'node_label' not in r['msg']
    assert r['msg'] == "node 'nx' does not exist (404 NotFound from the API server): check the node name"


def test_missing_kubeconfig_is_named(label, api):
    r = label(kubeconfig=str(api.tmp / 'missing.conf'))
    assert r['failed'] and r['msg'] == 'kubeconfig: the kubeconfig file %s does not exist' % (api.tmp / 'missing.conf')
    assert api.requests == []


def test_connection_options_without_kubeconfig(run_module, api):
    ca = api.tmp / 'ca.crt'
    ca.write_bytes(api.ca_pem)
    r, _s = run_module(M.main, dict(name='n1', host=api.url, api_key='admin-token', ca_cert=str(ca),
                                    request_timeout=5))
    assert r['changed'] and api.labels('n1')[KEY] == 'true'


def test_untrusted_certificate_wording(run_module, api):
    r, _s = run_module(M.main, dict(name='n1', host=api.url, api_key='admin-token'))
    assert r['failed'] and r['msg'].startswith("the API server's certificate is not trusted (ca_cert / validate_certs)")


def test_request_timeout(label, api):
    api.delay = 600  # held until the stand-in stops
    r = label(request_timeout=0.5)
    assert r['failed'] and r['msg'] == ("no answer from the API server at %s within 0.5 s (request_timeout) (trying "
                                        "to read node 'n1')" % api.url)


def test_etcd_down(label, api):
    api.etcd_down = True
    r = label()
    assert r['failed'] and r['status'] == 504 and '{' not in r['msg']
    assert r['msg'].startswith("the API server failed to read node 'n1' (504 Timeout): Timeout: request did not")


def test_bad_retries_and_label_key(label, api):
    assert label(retries=-1)['msg'] == 'retries: must be 0 or more, got -1'
    assert label(key='not a key')['msg'].startswith("key: 'not a key' is not a valid Kubernetes label key")
    assert api.requests == []


def test_missing_kubernetes_library(label, api, monkeypatch):
    monkeypatch.setattr(k8s_client, 'HAS_KUBERNETES', False)
    monkeypatch.setattr(k8s_client, 'KUBERNETES_IMPORT_ERROR', 'Traceback: No module named kubernetes')
    r = label()
    assert r['failed'] and 'Failed to import the required Python library (kubernetes)' in r['msg']
    assert api.requests == []
