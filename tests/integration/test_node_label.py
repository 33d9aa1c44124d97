"""The node_label role and k8s_node_label module through real ansible-playbook runs, against a STAND-IN API server.

No Kubernetes API server (kube-apiserver, k3s, kind) can be installed on the machines this project is tested on, so
these tests do not talk to a real cluster. tests/stand_ins/fake_apiserver.py (not shipped in the collection) follows
the real API for the calls made here: discovery, GET and PATCH of nodes over TLS with bearer tokens, merge,
strategic-merge and JSON patches, resourceVersion preconditions answered with 409 Conflict, and 401/403/404 answered
with real Status objects. The first test holds the stand-in to what the real `kubectl` expects of an API server; the
others run the role (the module with the real Kubernetes Python client) and read each node back with the real
`kubectl`, independently of the module.
"""
import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.stand_ins.fake_apiserver import FakeApiServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
KEY = 'beta.kubernetes.io/masq-agent-ds-ready'


@pytest.fixture
def api(tmp_path):
    server = FakeApiServer(['node-a', 'node-b', 'node-c'], workdir=str(tmp_path)).start()
    server.kc = server.kubeconfig(str(tmp_path / 'kubeconfig'))
    server.tmp = tmp_path
    yield server
    server.stop()


def kubectl(api, *args, kubeconfig=None):
    env = dict(os.environ, HOME=str(api.tmp), LC_ALL='C.UTF-8')
    return subprocess.run([os.path.join(BIN, 'kubectl'), '--kubeconfig', kubeconfig or api.kc,
                           '--cache-dir', str(api.tmp / 'kube-cache')] + list(args),
                          capture_output=True, text=True, env=env, check=False)


def kubectl_labels(api, node):
    p = kubectl(api, 'get', '--raw', '/api/v1/nodes/' + node)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)['metadata']['labels']


def patches(api, node='node-a'):
    return [json.loads(q[3]) for q in api.requests if q[0] == 'PATCH' and q[1] == '/api/v1/nodes/' + node]


def run_role(api, hosts=('node-a', 'node-b'), check=False, host_vars=None, **role_vars):
    """Run the role over `hosts` (local connections); returns (per-host result of the label task, rc)."""
    play = [{'name': 'label', 'hosts': 'all', 'gather_facts': False,
             'roles': [{'role': 'ipmasq.agent.node_label', 'vars': role_vars}]}]
    pb = api.tmp / 'play.yml'
    pb.write_text(yaml.safe_dump(play))
    inv = api.tmp / 'hosts.yml'
    hv = host_vars or {}
    inv.write_text(yaml.safe_dump({'all': {
        'vars': {'node_label_kubeconfig': api.kc, 'ansible_connection': 'local',
                 'ansible_python_interpreter': sys.executable},
        'hosts': dict((h, hv.get(h, {})) for h in hosts)}}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.cache', 'collections'),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false', ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_NOCOLOR='1', LC_ALL='C.UTF-8', HOME=str(api.tmp))
    argv = [os.path.join(BIN, 'ansible-playbook'), '-i', str(inv), str(pb), '--diff']
    proc = subprocess.run(argv + (['--check'] if check else []), capture_output=True, text=True, env=env, check=False)
    assert '{' in proc.stdout, proc.stderr
    out = json.loads(proc.stdout[proc.stdout.index('{'):])
    tasks = out['plays'][0]['tasks']
    assert tasks[-1]['task']['name'].endswith('Set or remove the node label'), tasks[-1]['task']
    return tasks[-1]['hosts'], proc.returncode  # tasks[0] is the role's argument validation


def test_stand_in_answers_like_the_api_server_for_kubectl(api):
    """The real kubectl gets from the stand-in what it gets from a kube-apiserver for the calls used."""
    p = kubectl(api, 'label', 'node', 'node-a', 'example.com/k=v')
    assert p.returncode == 0 and p.stdout.strip() == 'node/node-a labeled', p.stderr
    rv = json.loads(kubectl(api, 'get', 'node', 'node-a', '-o', 'json').stdout)['metadata']['resourceVersion']
    # kubectl label sends a merge patch; with --resource-version it carries it, and a stale one is a 409
    p = kubectl(api, 'label', 'node', 'node-a', 'example.com/k=w', '--overwrite', '--resource-version=1')
    assert p.returncode != 0 and p.stderr.strip() == (
        'Error from server (Conflict): Operation cannot be fulfilled on nodes "node-a": the object has been '
        'modified; please apply your changes to the latest version and try again')
    p = kubectl(api, 'label', 'node', 'node-a', 'example.com/k=w', '--overwrite', '--resource-version=' + rv)
    assert p.returncode == 0 and kubectl_labels(api, 'node-a')['example.com/k'] == 'w', p.stderr
    # strategic merge (kubectl patch's default), merge and JSON patches; an unchanged object is not a write
    for kind, body in (('strategic', '{"metadata":{"labels":{"s":"1"}}}'),
                       ('merge', '{"metadata":{"labels":{"m":"1"}}}'),
                       ('json', '[{"op":"add","path":"/metadata/labels/j","value":"1"}]')):
        p = kubectl(api, 'patch', 'node', 'node-a', '--type', kind, '-p', body)
        assert p.returncode == 0 and p.stdout.strip() == 'node/node-a patched', (kind, p.stderr)
    types = [q[2] for q in api.requests if q[0] == 'PATCH'][-3:]
    assert types == ['application/strategic-merge-patch+json', 'application/merge-patch+json',
                     'application/json-patch+json']
    before = api.nodes['node-a']['metadata']['resourceVersion']
    p = kubectl(api, 'patch', 'node', 'node-a', '-p', '{"metadata":{"labels":{"s":"1"}}}')
    assert p.stdout.strip() == 'node/node-a patched (no change)'
    assert api.nodes['node-a']['metadata']['resourceVersion'] == before
    p = kubectl(api, 'label', 'node', 'node-a', 'example.com/k-')
    assert p.stdout.strip() == 'node/node-a unlabeled' and 'example.com/k' not in kubectl_labels(api, 'node-a')
    # errors, as kubectl prints the API server's Status objects
    p = kubectl(api, 'get', 'node', 'node-x')
    assert p.returncode == 1 and p.stderr.strip() == 'Error from server (NotFound): nodes "node-x" not found'
    viewer = api.kubeconfig(str(api.tmp / 'kc-viewer'), token='viewer-token')
    p = kubectl(api, 'label', 'node', 'node-a', 'a=b', kubeconfig=viewer)
    assert p.returncode == 1 and p.stderr.strip() == (
        'Error from server (Forbidden): nodes "node-a" is forbidden: User "viewer" cannot patch resource "nodes" in '
        'API group "" at the cluster scope')
    bad = api.kubeconfig(str(api.tmp / 'kc-bad'), token='no-such-token')
    p = kubectl(api, 'get', '--raw', '/api/v1/nodes/node-a', kubeconfig=bad)
    assert p.returncode == 1 and 'error: You must be logged in to the server (Unauthorized)' in p.stderr
    assert kubectl(api, 'get', 'nodes', '-o', 'name').stdout.split() == ['node/node-a', 'node/node-b', 'node/node-c']


def test_label_check_mode_and_idempotence(api):
    r, rc = run_role(api, check=True)
    assert rc == 0 and all(h['changed'] for h in r.values())
    assert r['node-a']['labels'][KEY] == 'true' and r['node-a']['diff']['after'][KEY] == 'true'  # predicted
    assert KEY not in kubectl_labels(api, 'node-a') and [q for q in api.requests if q[0] == 'PATCH'] == []

    r, rc = run_role(api)
    assert rc == 0 and all(h['changed'] for h in r.values())
    assert kubectl_labels(api, 'node-a')[KEY] == 'true' and kubectl_labels(api, 'node-b')[KEY] == 'true'
    assert r['node-a']['diff']['after'][KEY] == 'true' and KEY not in r['node-a']['diff']['before']
    # one strategic-merge patch per node, carrying the resourceVersion read (optimistic concurrency)
    sent = [q for q in api.requests if q[0] == 'PATCH']
    assert len(sent) == 2 and all(q[2] == 'application/strategic-merge-patch+json' for q in sent)
    assert patches(api)[0] == {'metadata': {'labels': {KEY: 'true'}, 'resourceVersion': '1001'}}

    rv = api.nodes['node-a']['metadata']['resourceVersion']
    r, rc = run_role(api)
    assert rc == 0 and not any(h['changed'] for h in r.values())
    assert len([q for q in api.requests if q[0] == 'PATCH']) == 2  # nothing written the second time
    assert api.nodes['node-a']['metadata']['resourceVersion'] == rv


def test_absent_removes_the_label(api):
    for n in ('node-a', 'node-b'):
        assert kubectl(api, 'label', 'node', n, KEY + '=true').returncode == 0
    r, rc = run_role(api, node_label_state='absent', hosts=('node-a', 'node-c'))
    assert rc == 0 and r['node-a']['changed'] and not r['node-c']['changed']  # node-c never had it
    assert r['node-a']['diff']['before'][KEY] == 'true' and KEY not in r['node-a']['labels']
    assert KEY not in kubectl_labels(api, 'node-a') and 'kubernetes.io/hostname' in kubectl_labels(api, 'node-a')
    assert patches(api)[-1]['metadata']['labels'] == {KEY: None}  # a null removes the label
    assert kubectl_labels(api, 'node-b')[KEY] == 'true'  # only the play's hosts


def test_custom_key_boolean_value_context_and_default_node_name(api):
    # current context 'broken' has a token the server does not know; the role picks context 'admin'
    kc = api.kubeconfig(str(api.tmp / 'kc-two'), contexts={'admin': 'admin-token', 'broken': 'no-such-token'},
                        current='broken')
    # inventory name NODE-B, no facts: the node name is the inventory name lowercased
    r, rc = run_role(api, hosts=('NODE-B',), host_vars={'NODE-B': {'node_label_kubeconfig': kc}},
                     node_label_context='admin', node_label_key='example.com/egress', node_label_value=True)
    assert rc == 0 and r['NODE-B']['changed'] and r['NODE-B']['name'] == 'node-b'
    labels = kubectl_labels(api, 'node-b')
    assert labels['example.com/egress'] == 'true' and KEY not in labels  # YAML true written as "true"


def test_conflict_is_read_again_and_retried(api):
    api.conflicts['node-a'] = 2  # someone else writes the node right after each of our next two reads
    r, rc = run_role(api, hosts=('node-a',))
    module_requests = [q[0] for q in api.requests if q[1] == '/api/v1/nodes/node-a']
    assert module_requests == ['GET', 'PATCH'] * 3  # two 409s, then success
    sent = [p['metadata']['resourceVersion'] for p in patches(api)]
    assert len(set(sent)) == 3  # each retry carries the version it read again
    assert rc == 0 and r['node-a']['changed'] and kubectl_labels(api, 'node-a')[KEY] == 'true'


def test_missing_node_and_refusals_fail_clearly(api):
    viewer = api.kubeconfig(str(api.tmp / 'kc-viewer'), token='viewer-token')  # get, no patch
    nobody = api.kubeconfig(str(api.tmp / 'kc-nobody'), token='nobody-token')  # nothing
    bad = api.kubeconfig(str(api.tmp / 'kc-bad'), token='no-such-token')  # unknown token
    r, rc = run_role(api, hosts=('node-x', 'node-a', 'node-b', 'node-c'), host_vars={
        'node-a': {'node_label_kubeconfig': viewer}, 'node-b': {'node_label_kubeconfig': nobody},
        'node-c': {'node_label_kubeconfig': bad}})
    assert rc != 0 and all(h['failed'] for h in r.values())
    assert r['node-x']['msg'] == ("node 'node-x' does not exist (404 NotFound from the API server); check the node "
                                  "name (node_label_node_name)")
    assert r['node-a']['status'] == 403 and r['node-a']['msg'] == (
        "the API server refused to patch node 'node-a' (403 Forbidden): the kubeconfig's user needs \"get\" and "
        "\"patch\" on nodes (API server: nodes \"node-a\" is forbidden: User \"viewer\" cannot patch resource "
        "\"nodes\" in API group \"\" at the cluster scope)")
    assert r['node-b']['status'] == 403 and "refused to read node 'node-b' (403 Forbidden)" in r['node-b']['msg']
    assert r['node-c']['status'] == 401 and '401 Unauthorized' in r['node-c']['msg']
    for n in ('node-a', 'node-b', 'node-c'):
        assert KEY not in kubectl_labels(api, n)
    assert [q for q in api.requests if q[0] == 'PATCH' and q[1] != '/api/v1/nodes/node-a'] == []
