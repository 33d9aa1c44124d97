"""The node_label role and k8s_node_label module through real ansible-playbook runs, against a STAND-IN API server.

No Kubernetes API server (kube-apiserver, k3s, kind) can be installed on the machines this project is tested on, so
these tests do not talk to a real cluster. tests/stand_ins/fake_apiserver.py (not shipped in the collection) follows
the real API for the calls made here; each behaviour a test relies on was observed on a genuine kube-apiserver
v1.36.2 with etcd (each test's docstring says which). The first test holds the stand-in to what the real `kubectl`
expects of an API server; the others run the role (the module with the real Kubernetes Python client) and read each
node back with the real `kubectl`, independently of the module.
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


def run_role(api, hosts=('node-a', 'node-b'), check=False, host_vars=None, task='Set or remove the node label',
             **role_vars):
    """Run the role over `hosts` (local connections); returns (per-host result of `task`, rc)."""
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
    for k in ('KUBECONFIG', 'K8S_AUTH_KUBECONFIG', 'K8S_AUTH_CONTEXT', 'K8S_AUTH_HOST', 'K8S_AUTH_API_KEY'):
        env.pop(k, None)
    argv = [os.path.join(BIN, 'ansible-playbook'), '-i', str(inv), str(pb), '--diff']
    proc = subprocess.run(argv + (['--check'] if check else []), capture_output=True, text=True, env=env, check=False)
    assert '{' in proc.stdout, proc.stderr
    out = json.loads(proc.stdout[proc.stdout.index('{'):])
    tasks = [t for t in out['plays'][0]['tasks'] if t['task']['name'].endswith(task)]
    assert tasks, [t['task']['name'] for t in out['plays'][0]['tasks']]
    return tasks[-1]['hosts'], proc.returncode


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
    """Real server: dryRun=All validates and authorises a patch and stores nothing (the resourceVersion stays); the
    answer is the object as the write would leave it. A write that changes nothing is not asked for at all."""
    rv = api.nodes['node-a']['metadata']['resourceVersion']
    r, rc = run_role(api, check=True)
    assert rc == 0 and all(h['changed'] for h in r.values())
    assert r['node-a']['labels'][KEY] == 'true' and r['node-a']['diff']['after'][KEY] == 'true'  # the server's answer
    assert KEY not in kubectl_labels(api, 'node-a') and api.nodes['node-a']['metadata']['resourceVersion'] == rv
    assert [q[4] for q in api.requests if q[0] == 'PATCH'] == [{'fieldManager': ['ipmasq-agent'], 'dryRun': ['All']}] * 2

    r, rc = run_role(api)
    assert rc == 0 and all(h['changed'] for h in r.values())
    assert kubectl_labels(api, 'node-a')[KEY] == 'true' and kubectl_labels(api, 'node-b')[KEY] == 'true'
    assert r['node-a']['diff']['after'][KEY] == 'true' and KEY not in r['node-a']['diff']['before']
    # one merge patch of just the label per node: no resourceVersion precondition
    sent = [q for q in api.requests if q[0] == 'PATCH' and 'dryRun' not in q[4]]
    assert len(sent) == 2 and all(q[2] == 'application/merge-patch+json' for q in sent)
    assert patches(api)[-1] == {'metadata': {'labels': {KEY: 'true'}}}

    rv = api.nodes['node-a']['metadata']['resourceVersion']
    r, rc = run_role(api)
    assert rc == 0 and not any(h['changed'] for h in r.values())
    assert len([q for q in api.requests if q[0] == 'PATCH']) == 4  # nothing written the third time
    assert api.nodes['node-a']['metadata']['resourceVersion'] == rv


def test_absent_removes_the_label(api):
    """Real server: in a JSON merge patch a null removes the label."""
    for n in ('node-a', 'node-b'):
        assert kubectl(api, 'label', 'node', n, KEY + '=true').returncode == 0
    r, rc = run_role(api, node_label_state='absent', hosts=('node-a', 'node-c'))
    assert rc == 0 and r['node-a']['changed'] and not r['node-c']['changed']  # node-c never had it
    assert r['node-a']['diff']['before'][KEY] == 'true' and KEY not in r['node-a']['labels']
    assert KEY not in kubectl_labels(api, 'node-a') and 'kubernetes.io/hostname' in kubectl_labels(api, 'node-a')
    assert patches(api)[-1]['metadata']['labels'] == {KEY: None}
    assert kubectl_labels(api, 'node-b')[KEY] == 'true'  # only the play's hosts


def test_custom_key_boolean_value_context_and_default_node_name(api):
    """Kubeconfig contexts as the real client reads them; label values are strings on the real server."""
    # current context 'broken' has a token the server does not know; the role picks context 'admin'
    kc = api.kubeconfig(str(api.tmp / 'kc-two'), contexts={'admin': 'admin-token', 'broken': 'no-such-token'},
                        current='broken')
    # inventory name NODE-B, no facts: the node name is the inventory name lowercased
    r, rc = run_role(api, hosts=('NODE-B',), host_vars={'NODE-B': {'node_label_kubeconfig': kc}},
                     node_label_context='admin', node_label_key='node.kubernetes.io/masq-agent-ds-ready',
                     node_label_value=True)
    assert rc == 0 and r['NODE-B']['changed'] and r['NODE-B']['name'] == 'node-b'
    labels = kubectl_labels(api, 'node-b')
    assert labels['node.kubernetes.io/masq-agent-ds-ready'] == 'true' and KEY not in labels  # YAML true as "true"


def test_a_steady_writer_of_the_node_does_not_fail_the_label(api):
    """Defect 1. Real server: the kubelet writes its Node's status every few seconds (each write a new
    resourceVersion); a patch carrying the resourceVersion read is 409 when anyone wrote in between, while a merge
    patch without one is applied (as `kubectl label`). Here someone writes right after each of our reads, and a
    writer keeps writing the status, with no retries allowed."""
    api.conflicts['node-a'] = 50
    writer = api.writer('node-a', 0.01)
    r, rc = run_role(api, hosts=('node-a',), node_label_retries=0)
    writer.stop()
    assert writer.writes > 0 and api.conflicts['node-a'] < 50  # the node did move under us
    assert rc == 0 and r['node-a']['changed'], r
    assert [q[0] for q in api.requests if q[1] == '/api/v1/nodes/node-a'] == ['GET', 'PATCH']
    assert kubectl_labels(api, 'node-a')[KEY] == 'true'
    assert 'resourceVersion' not in json.dumps(patches(api))


def test_check_mode_asks_the_server_and_fails_for_a_reader(api):
    """Defect 2. Real server: a dry-run write needs the same permission as the write (a user with get but not patch
    gets 403 Forbidden), and nothing is stored."""
    viewer = api.kubeconfig(str(api.tmp / 'kc-viewer'), token='viewer-token')
    r, rc = run_role(api, hosts=('node-a',), check=True, node_label_kubeconfig=viewer)
    assert rc != 0 and r['node-a']['failed'] and r['node-a']['status'] == 403
    assert r['node-a']['msg'].startswith("the API server refused to patch node 'node-a' (dry run: check mode) (403 "
                                         "Forbidden): nodes \"node-a\" is forbidden: User \"viewer\" cannot patch")
    assert KEY not in kubectl_labels(api, 'node-a')


def test_empty_node_name_makes_no_request(api):
    """Defect 3. Real server: GET /api/v1/nodes/ (empty name) answers the node LIST, not a node."""
    r, rc = run_role(api, hosts=('node-a',), node_label_node_name=' ', task='Check the node name')
    assert rc != 0 and r['node-a']['failed']
    assert r['node-a']['msg'] == "node_label_node_name: the node name is empty; set it to the host's Kubernetes node name"
    assert [q for q in api.requests if q[1].startswith('/api/v1/nodes')] == []


def test_absent_for_a_node_that_no_longer_exists_is_no_change(api):
    """Defect 4. Real server: a deleted (decommissioned) node is 404 NotFound."""
    r, rc = run_role(api, hosts=('node-a', 'gone-node'), node_label_state='absent')
    assert rc == 0 and not r['gone-node']['changed'] and not r['gone-node'].get('failed')
    assert "node 'gone-node' does not exist (404 NotFound from the API server): nothing to remove" in \
        json.dumps(r['gone-node'].get('warnings'))


@pytest.mark.parametrize('value, shown', [(None, 'null'), (['a', 'b'], '["a", "b"]')])
def test_null_or_list_value_is_refused_by_the_role(api, value, shown):
    """Defect 5. Real server: label values are strings; an empty one is valid and a `=true` selector does not match
    it, so a null must not become ""."""
    r, rc = run_role(api, hosts=('node-a',), node_label_value=value, task='Check the label value')
    assert rc != 0 and r['node-a']['failed']
    assert r['node-a']['msg'].startswith('node_label_value: a label value is a string') and shown in r['node-a']['msg']
    assert [q for q in api.requests if q[1].startswith('/api/v1/nodes')] == []
    assert kubectl_labels(api, 'node-a') == {'kubernetes.io/hostname': 'node-a'}


def test_etcd_down_is_a_readable_504(api):
    """Defect 6. Real server: with etcd down the API server answers 504 after its own timeout, with a Status-like
    body that has no `kind`."""
    api.etcd_down = True
    r, rc = run_role(api, hosts=('node-a',))
    assert rc != 0 and r['node-a']['status'] == 504 and '{' not in r['node-a']['msg']
    assert r['node-a']['msg'] == ("the API server failed to read node 'node-a' (504 Timeout): Timeout: request did "
                                  "not complete within requested timeout - context deadline exceeded")


def test_request_timeout_bounds_the_wait(api):
    """Defect 6. Real server: with etcd down a request is held for a minute before the 504; request_timeout ends the
    wait first (the stand-in holds the answer until it stops)."""
    api.delay = 600
    r, rc = run_role(api, hosts=('node-a',), node_label_request_timeout=1)
    assert rc != 0 and r['node-a']['failed'] and r['node-a'].get('status') is None
    assert r['node-a']['msg'] == ("no answer from the API server at %s within 1 s (request_timeout) (trying to read "
                                  "node 'node-a')" % api.url)


def test_field_manager_is_ipmasq_agent(api):
    """Defect 7. Real server: metadata.managedFields names the fieldManager of each write, else the User-Agent's
    product (the Python client's `OpenAPI-Generator`)."""
    r, rc = run_role(api, hosts=('node-a',))
    assert rc == 0 and r['node-a']['changed']
    p = kubectl(api, 'get', 'node', 'node-a', '-o', 'json', '--show-managed-fields')
    assert p.returncode == 0, p.stderr
    owners = [(m['manager'], list(m['fieldsV1']['f:metadata']['f:labels']))
              for m in json.loads(p.stdout)['metadata']['managedFields'] if 'f:metadata' in m['fieldsV1']]
    assert ('ipmasq-agent', ['.', 'f:' + KEY]) in owners and not [o for o in owners if o[0] == 'OpenAPI-Generator']


def test_connection_options_without_a_kubeconfig(api):
    """Real server: bearer tokens over TLS with the cluster's CA; no kubeconfig read."""
    ca = api.tmp / 'ca.crt'
    ca.write_bytes(api.ca_pem)
    r, rc = run_role(api, hosts=('node-a',), node_label_kubeconfig=str(api.tmp / 'no-such-kubeconfig'),
                     node_label_host=api.url, node_label_api_key='admin-token', node_label_ca_cert=str(ca))
    assert rc == 0 and r['node-a']['changed'] and kubectl_labels(api, 'node-a')[KEY] == 'true'


def test_wording_of_failures(api):
    """Defect 8. Real server: 404 NotFound for a missing node, 403 with the RBAC message, 401 for an unknown token; a
    certificate the client does not trust; a kubeconfig file that does not exist."""
    viewer = api.kubeconfig(str(api.tmp / 'kc-viewer'), token='viewer-token')  # get, no patch
    nobody = api.kubeconfig(str(api.tmp / 'kc-nobody'), token='nobody-token')  # nothing
    bad = api.kubeconfig(str(api.tmp / 'kc-bad'), token='no-such-token')  # unknown token
    no_ca = str(api.tmp / 'kc-no-ca')
    with open(api.kc) as f:
        cfg = json.load(f)
    del cfg['clusters'][0]['cluster']['certificate-authority-data']
    with open(no_ca, 'w') as f:
        json.dump(cfg, f)
    r, rc = run_role(api, hosts=('node-x', 'node-a', 'node-b', 'node-c', 'node-d', 'node-e'), host_vars={
        'node-a': {'node_label_kubeconfig': viewer}, 'node-b': {'node_label_kubeconfig': nobody},
        'node-c': {'node_label_kubeconfig': bad}, 'node-d': {'node_label_kubeconfig': no_ca},
        'node-e': {'node_label_kubeconfig': str(api.tmp / 'missing.conf')}})
    assert rc != 0 and all(h['failed'] for h in r.values())
    assert r['node-x']['msg'] == "node 'node-x' does not exist (404 NotFound from the API server): check the node name"
    assert r['node-a']['status'] == 403 and r['node-a']['msg'] == (
        "the API server refused to patch node 'node-a' (403 Forbidden): nodes \"node-a\" is forbidden: User \"viewer\" "
        "cannot patch resource \"nodes\" in API group \"\" at the cluster scope; labelling needs \"get\" and \"patch\" "
        "on nodes")
    assert r['node-b']['status'] == 403 and "refused to read node 'node-b' (403 Forbidden)" in r['node-b']['msg']
    assert r['node-c']['status'] == 401 and r['node-c']['msg'] == (
        "the API server did not accept the credentials (401 Unauthorized) to read node 'node-c': Unauthorized")
    assert r['node-d']['msg'].startswith("the API server's certificate is not trusted (ca_cert / validate_certs): ")
    assert 'cannot reach' not in r['node-d']['msg']
    assert r['node-e']['msg'] == 'kubeconfig: the kubeconfig file %s does not exist' % (api.tmp / 'missing.conf')
    for n in ('node-a', 'node-b', 'node-c'):
        assert KEY not in kubectl_labels(api, n)
    assert [q for q in api.requests if q[0] == 'PATCH' and q[1] != '/api/v1/nodes/node-a'] == []
