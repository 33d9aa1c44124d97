"""The node_label role and k8s_node_label module through real ansible-playbook runs, against a stand-in API server.

No Kubernetes API server (kube-apiserver, k3s, kind) can be installed on the machines this project is tested on.
tests/stand_ins/fake_apiserver.py follows the real API for the calls the module makes (GET/PATCH of nodes over TLS,
bearer tokens, strategic-merge patches, resourceVersion preconditions -> 409, Status objects for 401/403/404). The
real Kubernetes Python client talks to it through the module, and the real kubectl reads the node back to check
each result independently of the module.
"""
import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.stand_ins.fake_apiserver import FakeApiServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY = 'beta.kubernetes.io/masq-agent-ds-ready'
KUBECTL = os.path.join(os.path.dirname(sys.executable), 'kubectl')


@pytest.fixture
def api(tmp_path):
    server = FakeApiServer(['node-a', 'node-b']).start()
    server.kc = server.kubeconfig(str(tmp_path / 'kubeconfig'))
    server.kc_viewer = server.kubeconfig(str(tmp_path / 'kubeconfig-viewer'), token='viewer-token')
    yield server
    server.stop()


def kubectl_labels(api, node):
    out = subprocess.run([KUBECTL, '--kubeconfig', api.kc, 'get', '--raw', '/api/v1/nodes/' + node],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)['metadata']['labels']


def run_role(tmp_path, api, hosts=('node-a', 'node-b'), check=False, kubeconfig=None, **role_vars):
    play = [{'name': 'label', 'hosts': 'all', 'gather_facts': False,
             'roles': [{'role': 'ipmasq.agent.node_label',
                        'vars': dict({'node_label_kubeconfig': kubeconfig or api.kc}, **role_vars)}]}]
    pb = tmp_path / 'play.yml'
    pb.write_text(yaml.safe_dump(play))
    inv = tmp_path / 'hosts.yml'
    inv.write_text(yaml.safe_dump({'all': {'hosts': dict((h, {'ansible_connection': 'local'}) for h in hosts)}}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.cache', 'collections'),
               ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING='false', LC_ALL='C.UTF-8')
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inv), str(pb), '--diff']
    proc = subprocess.run(argv + (['--check'] if check else []), capture_output=True, text=True, env=env)
    out = json.loads(proc.stdout[proc.stdout.index('{'):])
    return out['plays'][0]['tasks'][-1]['hosts'], proc.returncode  # [0] is the role's argument validation


def test_label_idempotent_check_mode_and_absent(tmp_path, api):
    r, rc = run_role(tmp_path, api, check=True)
    assert rc == 0 and all(h['changed'] for h in r.values())
    assert KEY not in kubectl_labels(api, 'node-a')  # check mode wrote nothing
    assert r['node-a']['labels'][KEY] == 'true'  # and predicted the result

    r, rc = run_role(tmp_path, api)
    assert rc == 0 and all(h['changed'] for h in r.values())
    assert kubectl_labels(api, 'node-a')[KEY] == 'true' and kubectl_labels(api, 'node-b')[KEY] == 'true'
    assert r['node-a']['diff']['after'][KEY] == 'true' and KEY not in r['node-a']['diff']['before']

    r, rc = run_role(tmp_path, api)
    assert rc == 0 and not any(h['changed'] for h in r.values())
    patches = [q for q in api.requests if q[0] == 'PATCH']
    assert len(patches) == 2 and all(q[2] == 'application/strategic-merge-patch+json' for q in patches)

    r, rc = run_role(tmp_path, api, node_label_state='absent', hosts=('node-a',))
    assert rc == 0 and r['node-a']['changed'] and KEY not in kubectl_labels(api, 'node-a')
    assert kubectl_labels(api, 'node-b')[KEY] == 'true'


def test_custom_key_and_value(tmp_path, api):
    r, rc = run_role(tmp_path, api, hosts=('node-a',), node_label_key='example.com/egress', node_label_value='nat')
    assert rc == 0 and kubectl_labels(api, 'node-a')['example.com/egress'] == 'nat'


def test_conflict_is_retried(tmp_path, api):
    api.conflicts['node-a'] = 2  # someone else writes the node right after each of our next two reads
    r, rc = run_role(tmp_path, api, hosts=('node-a',))
    module_requests = [q[0] for q in api.requests if q[1] == '/api/v1/nodes/node-a']
    assert module_requests == ['GET', 'PATCH'] * 3  # two 409s, then success
    assert rc == 0 and r['node-a']['changed'] and kubectl_labels(api, 'node-a')[KEY] == 'true'


def test_missing_node_fails_clearly(tmp_path, api):
    r, rc = run_role(tmp_path, api, hosts=('node-x',))
    assert rc != 0 and r['node-x']['failed'] and "node 'node-x' does not exist (404" in r['node-x']['msg']


def test_forbidden_fails_clearly(tmp_path, api):
    r, rc = run_role(tmp_path, api, hosts=('node-a',), kubeconfig=api.kc_viewer)
    assert rc != 0 and '403 Forbidden' in r['node-a']['msg'] and KEY not in kubectl_labels(api, 'node-a')
