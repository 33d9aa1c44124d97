"""The cluster role (k8s_ip_masq_config, k8s_ip_masq_daemonset) through real ansible-playbook runs, against the API
server STAND-IN (tests/stand_ins/fake_apiserver.py: server-side apply, dryRun=All, managedFields, defaulting, RBAC
as the real server answers them), each object read back with the real `kubectl`, independently of the modules."""
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
CM_PATH = '/api/v1/namespaces/kube-system/configmaps/ip-masq-agent'
DS_PATH = '/apis/apps/v1/namespaces/kube-system/daemonsets/ip-masq-agent'
CONFIG = {'nonMasqueradeCIDRs': ['10.128.0.0/20', '10.4.0.0/14'], 'requiredCIDRs': ['10.4.0.0/14'],
          'resyncInterval': '60s'}
TEXT = 'nonMasqueradeCIDRs:\n  - 10.128.0.0/20\n  - 10.4.0.0/14\nresyncInterval: "60s"\n'


@pytest.fixture
def api(tmp_path):
    server = FakeApiServer(['node-a', 'node-b'], workdir=str(tmp_path)).start()
    server.kc = server.kubeconfig(str(tmp_path / 'kubeconfig'))
    server.tmp = tmp_path
    yield server
    server.stop()


def kubectl(api, *args, kubeconfig=None, stdin=None):
    env = dict(os.environ, HOME=str(api.tmp), LC_ALL='C.UTF-8')
    return subprocess.run([os.path.join(BIN, 'kubectl'), '--kubeconfig', kubeconfig or api.kc,
                           '--cache-dir', str(api.tmp / 'kube-cache')] + list(args),
                          capture_output=True, text=True, env=env, check=False, input=stdin)


def get(api, path):
    """The object as kubectl reads it, or None (NotFound)."""
    p = kubectl(api, 'get', '--raw', path)
    if p.returncode and 'NotFound' in p.stderr:
        return None
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def writes(api, path=None, dry=False):
    """The write requests (to ``path``), real ones or (``dry``) dry runs."""
    return [r for r in api.requests if r[0] in ('POST', 'PUT', 'PATCH', 'DELETE') and (path is None or r[1] == path)
            and bool((r[4] or {}).get('dryRun')) == dry]


def play(api, plays, check=False):
    """Run the plays; returns ({task name: {host: result}} of the last play run, rc, stderr)."""
    pb = api.tmp / 'play.yml'
    pb.write_text(yaml.safe_dump(plays))
    inv = api.tmp / 'hosts.yml'
    inv.write_text(yaml.safe_dump({'all': {
        'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable},
        'hosts': {'localhost': {}, 'node-a': {}, 'node-b': {}}}}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.cache', 'collections'),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false', ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_NOCOLOR='1', LC_ALL='C.UTF-8', HOME=str(api.tmp))
    argv = [os.path.join(BIN, 'ansible-playbook'), '-i', str(inv), str(pb), '--diff']
    proc = subprocess.run(argv + (['--check'] if check else []), capture_output=True, text=True, env=env, check=False)
    assert '{' in proc.stdout, proc.stderr
    out = json.loads(proc.stdout[proc.stdout.index('{'):])
    tasks = {}
    for p in out['plays']:
        for t in p['tasks']:
            tasks[t['task']['name']] = t['hosts']
    return tasks, proc.returncode, proc.stderr


def cluster(api, check=False, kubeconfig=None, **role_vars):
    role_vars.setdefault('cluster_kubeconfig', kubeconfig or api.kc)
    tasks, rc, err = play(api, [{'name': 'cluster', 'hosts': 'localhost', 'gather_facts': False,
                                 'roles': [{'role': 'ipmasq.agent.cluster', 'vars': role_vars}]}], check=check)
    return dict((name.split(' : ')[-1], hosts.get('localhost')) for name, hosts in tasks.items()), rc, err


CM_TASK = "Write or remove the agent's ConfigMap"
DS_TASK = "Deploy upstream's DaemonSet"


def test_configmap_check_mode_create_diff_and_idempotence(api):
    r, rc, err = cluster(api, check=True, cluster_config=CONFIG)
    assert rc == 0, err
    t = r[CM_TASK]
    assert t['changed'] and t['operation'] == 'create' and t['diff']['after'] == TEXT and t['diff']['before'] == ''
    assert get(api, CM_PATH) is None and writes(api) == []  # nothing stored, nothing written
    dry = writes(api, CM_PATH, dry=True)
    assert [(q[0], q[2], q[4]['dryRun'], q[4]['fieldManager']) for q in dry] == [
        ('PATCH', 'application/apply-patch+yaml', ['All'], ['ipmasq-agent'])]

    r, rc, err = cluster(api, cluster_config=CONFIG)
    assert rc == 0 and r[CM_TASK]['changed'], err
    cm = get(api, CM_PATH)
    assert cm['data'] == {'config': TEXT}  # requiredCIDRs checked, not written
    assert [m['manager'] for m in cm['metadata']['managedFields']] == ['ipmasq-agent']
    assert r[DS_TASK].get('skipped')  # ConfigMap only by default (GKE, Composer)

    rv, n = cm['metadata']['resourceVersion'], len(writes(api))
    r, rc, err = cluster(api, cluster_config=CONFIG)
    assert rc == 0 and not r[CM_TASK]['changed'] and 'diff' not in r[CM_TASK], err
    assert len(writes(api)) == n and get(api, CM_PATH)['metadata']['resourceVersion'] == rv  # no write at all


@pytest.mark.parametrize('config, key, words', [
    ({'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'requiredCIDRs': ['172.16.0.0/12']}, 'requiredCIDRs',
     'required non-masquerade CIDR \'172.16.0.0/12\' is not covered'),
    ({'nonMasqueradeCIDRs': ['10.0.0.1/8']}, 'nonMasqueradeCIDRs', "CIDR '10.0.0.1/8' has host bits set"),
    ({'nonMasqueradeCIDRs': ['10.%d.0.0/16' % i for i in range(65)]}, 'nonMasqueradeCIDRs', 'up to 64 CIDRs'),
    ({'resyncInterval': '60'}, 'resyncInterval', 'missing unit'),
])
def test_bad_config_refused_before_any_request(api, config, key, words):
    r, rc, _err = cluster(api, cluster_config=config, cluster_daemonset=True)
    t = r[CM_TASK]
    assert rc != 0 and t['failed'] and t['option'] == key and t['msg'].startswith(key + ': ') and words in t['msg'], t
    assert api.requests == []  # not one request reached the API server
    assert DS_TASK not in r or r[DS_TASK] is None


def test_refusal_shows_in_check_mode_and_nothing_is_stored(api):
    viewer = api.kubeconfig(str(api.tmp / 'kc-viewer'), token='viewer-token')  # get, list, watch
    r, rc, _err = cluster(api, check=True, kubeconfig=viewer, cluster_config=CONFIG)
    t = r[CM_TASK]
    assert rc != 0 and t['failed'] and t['status'] == 403, t
    assert 'cannot patch resource "configmaps" in API group "" in the namespace "kube-system"' in t['msg']
    assert get(api, CM_PATH) is None and writes(api) == []


def test_other_keys_stay_and_absent_removes_only_our_key(api):
    theirs = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'ip-masq-agent', 'namespace': 'kube-system'},
              'data': {'config': 'old', 'notes': 'theirs'}}
    p = kubectl(api, 'create', '-f', '-', stdin=json.dumps(theirs))
    assert p.returncode == 0, p.stderr
    assert kubectl(api, 'label', 'configmap', 'ip-masq-agent', '-n', 'kube-system', 'team=net').returncode == 0
    r, rc, err = cluster(api, cluster_config=CONFIG)
    t = r[CM_TASK]
    assert rc == 0 and t['changed'] and t['diff']['before'] == 'old' and t['diff']['after'] == TEXT, err
    cm = get(api, CM_PATH)
    assert cm['data'] == {'config': TEXT, 'notes': 'theirs'} and cm['metadata']['labels'] == {'team': 'net'}

    r, rc, err = cluster(api, check=True, cluster_state='absent')
    assert rc == 0 and r[CM_TASK]['changed'] and r[CM_TASK]['operation'] == 'patch', err
    assert get(api, CM_PATH)['data']['config'] == TEXT  # check mode: nothing removed
    r, rc, err = cluster(api, cluster_state='absent')
    assert rc == 0 and r[CM_TASK]['changed'] and r[CM_TASK]['diff']['before'] == TEXT, err
    cm = get(api, CM_PATH)
    assert cm['data'] == {'notes': 'theirs'} and cm['metadata']['labels'] == {'team': 'net'}
    r, rc, err = cluster(api, cluster_state='absent')
    assert rc == 0 and not r[CM_TASK]['changed'], err


def test_absent_deletes_the_configmap_that_only_held_our_key(api):
    assert cluster(api, cluster_config=CONFIG)[1] == 0
    r, rc, err = cluster(api, cluster_state='absent')
    assert rc == 0 and r[CM_TASK]['operation'] == 'delete' and get(api, CM_PATH) is None, err
    deletes = writes(api, CM_PATH)
    assert deletes[-1][0] == 'DELETE'


def test_self_managed_daemonset_selects_the_node_label_roles_nodes(api):
    plays = [{'name': 'label', 'hosts': 'node-a:node-b', 'gather_facts': False,
              'roles': [{'role': 'ipmasq.agent.node_label', 'vars': {'node_label_kubeconfig': api.kc}}]},
             {'name': 'cluster', 'hosts': 'localhost', 'gather_facts': False,
              'roles': [{'role': 'ipmasq.agent.cluster', 'vars': {
                  'cluster_kubeconfig': api.kc, 'cluster_daemonset': True, 'cluster_config': CONFIG,
                  'cluster_ip_version': 'both', 'cluster_random_fully': False}}]}]
    tasks, rc, err = play(api, plays, check=True)
    t = [h for name, h in tasks.items() if name.endswith(DS_TASK)][0]['localhost']
    assert rc == 0 and t['changed'] and t['operation'] == 'create', err
    assert 'imagePullPolicy: IfNotPresent' in t['diff']['after']  # the server's dry-run answer, defaults included
    assert get(api, DS_PATH) is None and writes(api) == [] and writes(api, DS_PATH, dry=True)
    tasks, rc, err = play(api, plays)
    assert rc == 0, err
    ds = get(api, DS_PATH)
    node = get(api, '/api/v1/nodes/node-a')
    selector = ds['spec']['template']['spec']['nodeSelector']
    assert selector == {KEY: 'true'} and all(node['metadata']['labels'].get(k) == v for k, v in selector.items())
    c = ds['spec']['template']['spec']['containers'][0]
    assert c['image'] == 'registry.k8s.io/networking/ip-masq-agent:v2.12.0'
    assert c['args'] == ['--enable-ipv6=true', '--random-fully=false']
    assert c['imagePullPolicy'] == 'IfNotPresent'  # the server's default, not ours
    assert ds['spec']['template']['spec']['volumes'][0]['configMap']['items'] == [{'key': 'config',
                                                                                   'path': 'ip-masq-agent'}]
    n = len(writes(api))
    tasks, rc, err = play(api, plays)
    assert rc == 0 and not any(h.get('changed') for t in tasks.values() for h in t.values()), err
    assert len(writes(api)) == n  # idempotent despite the server's defaults

    # an extension of the host program is refused for upstream's image, before any request
    n = len(api.requests)
    r, rc, _err = cluster(api, cluster_daemonset=True, cluster_config=CONFIG, cluster_ip_version='ipv6')
    t = r[DS_TASK]
    assert rc != 0 and t['failed'] and t['option'] == 'ip_version' and 'no IPv6-only mode' in t['msg'], t
    assert not r[CM_TASK]['changed'] and [q for q in api.requests[n:] if q[1] == DS_PATH] == []

    r, rc, err = cluster(api, cluster_daemonset=True, cluster_state='absent')
    assert rc == 0 and r["Remove upstream's DaemonSet"]['changed'] and r[CM_TASK]['changed'], err
    assert get(api, DS_PATH) is None and get(api, CM_PATH) is None


def test_a_dead_etcd_is_a_readable_failure(api):
    api.etcd_down = True  # every resource request: 504 with the real body (no kind), after etcd_timeout
    r, rc, _err = cluster(api, cluster_config=CONFIG)
    t = r[CM_TASK]
    assert rc != 0 and t['failed'] and t['status'] == 504, t
    assert t['msg'].startswith('the API server failed to read ConfigMap kube-system/ip-masq-agent (504 Timeout): '
                               'Timeout: request did not complete'), t['msg']
    assert '{' not in t['msg'] and writes(api) == []
