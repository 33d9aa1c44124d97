"""The stand-in API server (tests/stand_ins/fake_apiserver.py) held to what a real kube-apiserver does.

No kube-apiserver can run here, so the collection's Kubernetes tests use a stand-in. These tests hold it to the
behaviours OBSERVED ON THE REAL SERVER (a genuine kube-apiserver v1.36.2 with etcd), through real clients: the real
`kubectl` (.venv/bin/kubectl) and the official Python client (`kubernetes`), plus raw HTTPS where a client would hide
the answer. Each test's docstring says whether what it checks was observed on the real server or is the stand-in's
own simplification. Fast (no podman, no cluster): one stand-in per test, over TLS.
"""
import base64
import http.client
import json
import os
import ssl
import subprocess
import sys
import threading

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from tests.stand_ins.fake_apiserver import FakeApiServer

BIN = os.path.dirname(sys.executable)
NS = 'kube-system'
LABEL_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
             "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
             "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: ip-masq-agent
  namespace: kube-system
  labels: {app: masq}
data:
  config: "nonMasqueradeCIDRs: [10.0.0.0/8]"
"""
DS = """apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ip-masq-agent
  namespace: kube-system
spec:
  selector:
    matchLabels: {k8s-app: ip-masq-agent}
  template:
    metadata:
      labels: {k8s-app: ip-masq-agent}
    spec:
      hostNetwork: true
      containers:
      - name: ip-masq-agent
        image: registry.k8s.io/networking/ip-masq-agent:v2.9.3
        args: ["--masq-chain=IP-MASQ"]
        volumeMounts:
        - {name: config, mountPath: /etc/config}
      volumes:
      - name: config
        configMap:
          name: ip-masq-agent
          optional: true
          items: [{key: config, path: ip-masq-agent}]
"""


@pytest.fixture
def api(tmp_path):
    server = FakeApiServer(['node-a', 'node-b'], workdir=str(tmp_path), tokens={
        'admin-token': 'rw', 'viewer-token': 'ro',
        'cm-only': {'configmaps': ['get', 'list', 'create', 'patch', 'update', 'delete']}}).start()
    server.kc = server.kubeconfig(str(tmp_path / 'kubeconfig'))
    server.tmp = tmp_path
    yield server
    server.stop()


def kubectl(api, *args, stdin=None, kubeconfig=None):
    env = dict(os.environ, HOME=str(api.tmp), LC_ALL='C.UTF-8')
    return subprocess.run([os.path.join(BIN, 'kubectl'), '--kubeconfig', kubeconfig or api.kc,
                           '--cache-dir', str(api.tmp / 'kube-cache')] + list(args),
                          input=stdin if stdin is not None else '', capture_output=True, text=True, env=env,
                          check=False)


def ok(p):
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def err(p):
    assert p.returncode != 0, p.stdout
    return p.stderr.strip()


def raw(api, method, path, body=None, token='admin-token', ctype='application/json', headers=None):
    """One HTTPS request; returns (status, parsed JSON body)."""
    ctx = ssl.create_default_context(cadata=api.ca_pem.decode())
    conn = http.client.HTTPSConnection('127.0.0.1', api.port, context=ctx, timeout=30)
    hdrs = dict(headers or {})
    if token:
        hdrs['Authorization'] = 'Bearer ' + token
    if body is not None:
        hdrs['Content-Type'] = ctype
        body = body if isinstance(body, (bytes, str)) else json.dumps(body)
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data)


def python_client(api, token='admin-token'):
    kc = api.kubeconfig(str(api.tmp / ('kc-py-%s' % token)), token=token)
    c = k8s_config.new_client_from_config(config_file=kc)
    return k8s.CoreV1Api(c), k8s.AppsV1Api(c)


def body_of(exc):
    return json.loads(exc.body)


def stored_cm(api, name='ip-masq-agent'):
    return api.configmaps.get((NS, name))


def managers(obj):
    return [(e['manager'], e['operation']) for e in obj['metadata'].get('managedFields') or []]


# --- authentication ---------------------------------------------------------------------------------------------
def test_no_credentials_is_anonymous_403_and_a_bad_token_is_401(api):
    """Observed on the real server: a request without credentials is the anonymous user (403 naming
    User "system:anonymous", also on discovery except /version); an unknown bearer token is 401."""
    code, body = raw(api, 'GET', '/api/v1/nodes', token=None)
    assert code == 403 and body['kind'] == 'Status' and body['reason'] == 'Forbidden'
    assert body['message'] == ('nodes is forbidden: User "system:anonymous" cannot list resource "nodes" in API group '
                               '"" at the cluster scope')
    code, body = raw(api, 'GET', '/api/v1/namespaces/kube-system/configmaps/x', token=None)
    assert code == 403 and 'User "system:anonymous" cannot get resource "configmaps"' in body['message']
    code, body = raw(api, 'GET', '/api', token=None)
    assert code == 403 and body['message'] == 'forbidden: User "system:anonymous" cannot get path "/api"'
    assert raw(api, 'GET', '/version', token=None)[0] == 200
    code, body = raw(api, 'GET', '/api/v1/nodes', token='no-such-token')
    assert code == 401 and body['reason'] == 'Unauthorized'
    # the official client without a token: the same 403
    core = python_client(api, token=None)[0]
    with pytest.raises(ApiException) as e:
        core.read_node('node-a')
    assert e.value.status == 403 and 'User "system:anonymous" cannot get resource "nodes"' in body_of(e.value)[
        'message']
    bad = api.kubeconfig(str(api.tmp / 'kc-bad'), token='no-such-token')
    assert 'error: You must be logged in to the server' in err(kubectl(api, 'get', 'nodes', kubeconfig=bad))


def test_empty_name_is_the_collection(api):
    """Observed on the real server: GET /api/v1/nodes/ (empty name) answers the NodeList, like GET /api/v1/nodes;
    list items come without kind and apiVersion."""
    listing = json.loads(ok(kubectl(api, 'get', '--raw', '/api/v1/nodes/')))
    assert listing['kind'] == 'NodeList' and [n['metadata']['name'] for n in listing['items']] == ['node-a', 'node-b']
    assert listing == json.loads(ok(kubectl(api, 'get', '--raw', '/api/v1/nodes')))
    assert 'kind' not in listing['items'][0]
    assert [n.metadata.name for n in python_client(api)[0].list_node().items] == ['node-a', 'node-b']


# --- dry run ----------------------------------------------------------------------------------------------------
def test_server_dry_run_checks_everything_and_stores_nothing(api):
    """Observed on the real server: dryRun=All on POST, PUT, PATCH, DELETE runs every check and answers what the write
    would, but stores nothing (no resourceVersion moves); another dryRun value is 400; permissions are the write's."""
    rev = api.revision
    assert ok(kubectl(api, 'create', '--dry-run=server', '-f', '-', stdin=CM)) == \
        'configmap/ip-masq-agent created (server dry run)'
    assert stored_cm(api) is None and api.revision == rev
    assert ok(kubectl(api, 'apply', '--server-side', '--dry-run=server', '-f', '-', stdin=DS)) == \
        'daemonset.apps/ip-masq-agent serverside-applied (server dry run)'
    assert api.daemonsets == {} and api.revision == rev
    ok(kubectl(api, 'create', '-f', '-', stdin=CM))
    before, rev = json.dumps(stored_cm(api), sort_keys=True), api.revision
    assert ok(kubectl(api, 'label', '--dry-run=server', 'cm', '-n', NS, 'ip-masq-agent', 'a=b')) == \
        'configmap/ip-masq-agent labeled (server dry run)'
    assert ok(kubectl(api, 'apply', '--dry-run=server', '-f', '-', stdin=CM.replace('10.0.0.0/8', '10.1.0.0/16'))) \
        == 'configmap/ip-masq-agent configured (server dry run)'
    assert ok(kubectl(api, 'delete', '--dry-run=server', 'cm', '-n', NS, 'ip-masq-agent')).startswith(
        'configmap "ip-masq-agent" deleted')
    # the answer is what the write would return
    core = python_client(api)[0]
    cm = core.read_namespaced_config_map('ip-masq-agent', NS)
    cm.data['extra'] = 'x'
    answer = core.replace_namespaced_config_map('ip-masq-agent', NS, cm, dry_run='All')
    assert answer.data['extra'] == 'x' and answer.metadata.resource_version == cm.metadata.resource_version
    assert json.dumps(stored_cm(api), sort_keys=True) == before and api.revision == rev
    # validation and conflicts still answer in a dry run
    p = kubectl(api, 'patch', '--dry-run=server', 'cm', '-n', NS, 'ip-masq-agent', '--type', 'merge', '-p',
                '{"metadata":{"labels":{"a":"bad value!"}}}')
    assert 'Invalid value: "bad value!"' in err(p)
    cm.metadata.resource_version = '1'
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_config_map('ip-masq-agent', NS, cm, dry_run='All')
    assert e.value.status == 409
    # a reader may not write in a dry run either
    viewer = api.kubeconfig(str(api.tmp / 'kc-viewer'), token='viewer-token')
    assert 'cannot patch resource "configmaps"' in err(kubectl(api, 'label', '--dry-run=server', 'cm', '-n', NS,
                                                               'ip-masq-agent', 'a=b', kubeconfig=viewer))
    assert api.requests[-1][0] == 'PATCH' and api.requests[-1][4]['dryRun'] == ['All']  # the parsed query
    code, body = raw(api, 'PATCH', '/api/v1/namespaces/kube-system/configmaps/ip-masq-agent?dryRun=Yes',
                     {'metadata': {'labels': {'a': 'b'}}}, ctype='application/merge-patch+json')
    assert code == 400 and body['reason'] == 'BadRequest' and 'dryRun' in body['message']
    assert json.dumps(stored_cm(api), sort_keys=True) == before and api.revision == rev


# --- validation -------------------------------------------------------------------------------------------------
def test_invalid_labels_are_422_with_the_real_causes(api):
    """Observed on the real server: invalid label values and keys on any object are 422 Invalid, a Status with
    details.causes on metadata.labels and the real wording (kubectl prints it); nothing changes."""
    ok(kubectl(api, 'create', '-f', '-', stdin=CM))
    rv = stored_cm(api)['metadata']['resourceVersion']
    p = kubectl(api, 'patch', 'cm', '-n', NS, 'ip-masq-agent', '--type', 'merge', '-p',
                '{"metadata":{"labels":{"a":"bad value!"}}}')
    assert err(p) == ('The ConfigMap "ip-masq-agent" is invalid: metadata.labels: Invalid value: "bad value!": '
                      + LABEL_MSG)
    core = python_client(api)[0]
    with pytest.raises(ApiException) as e:
        core.patch_node('node-a', {'metadata': {'labels': {'example.com/ok': 'x' * 64, 'a/b/c': 'v'}}})
    body = body_of(e.value)
    assert e.value.status == 422 and body['reason'] == 'Invalid' and body['details']['kind'] == 'Node'
    causes = body['details']['causes']
    assert [c['field'] for c in causes] == ['metadata.labels', 'metadata.labels']
    assert causes[0]['reason'] == 'FieldValueInvalid' and causes[0]['message'].startswith('Invalid value: "a/b/c": '
                                                                                          'a qualified name must')
    assert causes[1]['message'] == 'Invalid value: "%s": must be no more than 63 bytes' % ('x' * 64)
    with pytest.raises(ApiException) as e:
        core.patch_node('node-a', {'metadata': {'labels': {('p' * 254) + '/n': 'v'}}})
    assert 'prefix part must be no more than 253 bytes' in body_of(e.value)['message']
    assert stored_cm(api)['metadata']['resourceVersion'] == rv and 'a' not in api.labels('node-a')


def test_configmap_create_replace_delete_and_validation(api):
    """Observed on the real server: ConfigMap POST 201 / 409 AlreadyExists, PUT without resourceVersion is an
    unconditional update and with a stale one 409, invalid data keys and more than 1 MiB 422, a missing namespace
    404, a namespace other than the URL's 400, DELETE answers a Status Success and then 404."""
    core = python_client(api)[0]
    body = {'metadata': {'name': 'cm1'}, 'data': {'a': '1'}}
    created = core.create_namespaced_config_map(NS, body)
    assert created.metadata.namespace == NS and created.metadata.uid and created.metadata.generation is None
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map(NS, body)
    assert e.value.status == 409 and body_of(e.value)['reason'] == 'AlreadyExists'
    assert body_of(e.value)['message'] == 'configmaps "cm1" already exists'
    replaced = core.replace_namespaced_config_map('cm1', NS, {'metadata': {'name': 'cm1'}, 'data': {'b': '2'}})
    assert replaced.data == {'b': '2'} and replaced.metadata.uid == created.metadata.uid
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    stale = {'metadata': {'name': 'cm1', 'resourceVersion': created.metadata.resource_version}, 'data': {}}
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_config_map('cm1', NS, stale)
    assert e.value.status == 409 and body_of(e.value)['message'] == (
        'Operation cannot be fulfilled on configmaps "cm1": the object has been modified; please apply your changes '
        'to the latest version and try again')
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map(NS, {'metadata': {'name': 'cm2'}, 'data': {'bad key': 'v'}})
    assert e.value.status == 422 and body_of(e.value)['details']['causes'][0]['field'] == 'data[bad key]'
    assert "a valid config key must consist of alphanumeric characters, '-', '_' or '.'" in body_of(e.value)[
        'message']
    big = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'big', 'namespace': NS},
           'data': {'k': 'x' * 1048000, 'l': 'y' * 577}}
    p = kubectl(api, 'create', '-f', '-', stdin=json.dumps(big))
    assert err(p) == 'The ConfigMap "big" is invalid: []: Too long: must have at most 1048576 bytes'
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map('nowhere', body)
    assert e.value.status == 404 and body_of(e.value)['message'] == 'namespaces "nowhere" not found'
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map(NS, {'metadata': {'name': 'cm3', 'namespace': 'default'}})
    assert e.value.status == 400
    gone = core.delete_namespaced_config_map('cm1', NS)
    assert gone.status == 'Success' and gone.details.name == 'cm1' and gone.details.uid == created.metadata.uid
    with pytest.raises(ApiException) as e:
        core.delete_namespaced_config_map('cm1', NS)
    assert e.value.status == 404 and body_of(e.value)['message'] == 'configmaps "cm1" not found'
    assert [n.metadata.name for n in core.list_namespace().items] == ['default', 'kube-public', 'kube-system']


def test_kubectl_create_get_apply_label_delete_configmap(api):
    """Observed on the real server: what kubectl prints for create, get, client-side apply (configured, then
    unchanged without a write), label and delete of a ConfigMap."""
    assert ok(kubectl(api, 'create', '-f', '-', stdin=CM)) == 'configmap/ip-masq-agent created'
    assert ok(kubectl(api, 'get', 'cm', '-n', NS, '-o', 'name')) == 'configmap/ip-masq-agent'
    assert ok(kubectl(api, 'apply', '-f', '-', stdin=CM)) == 'configmap/ip-masq-agent configured'
    rv = stored_cm(api)['metadata']['resourceVersion']
    assert ok(kubectl(api, 'apply', '-f', '-', stdin=CM)) == 'configmap/ip-masq-agent unchanged'
    assert stored_cm(api)['metadata']['resourceVersion'] == rv
    assert ok(kubectl(api, 'apply', '-f', '-', stdin=CM.replace('10.0.0.0/8', '10.1.0.0/16'))) == \
        'configmap/ip-masq-agent configured'
    assert stored_cm(api)['data']['config'] == 'nonMasqueradeCIDRs: [10.1.0.0/16]'
    assert ok(kubectl(api, 'label', 'cm', '-n', NS, 'ip-masq-agent', 'tier=node')) == \
        'configmap/ip-masq-agent labeled'
    got = json.loads(ok(kubectl(api, 'get', 'cm', '-n', NS, 'ip-masq-agent', '-o', 'json')))
    assert got['metadata']['labels'] == {'app': 'masq', 'tier': 'node'}
    assert ok(kubectl(api, 'delete', 'cm', '-n', NS, 'ip-masq-agent')).startswith('configmap "ip-masq-agent" deleted')
    assert err(kubectl(api, 'get', 'cm', '-n', NS, 'ip-masq-agent')) == \
        'Error from server (NotFound): configmaps "ip-masq-agent" not found'


def test_kubectl_imperative_create_sends_protobuf(api):
    """Observed with the real kubectl: `kubectl create configmap|namespace` send protobuf bodies, which the real server
    decodes; the stand-in decodes these two kinds (and answers 415 for other protobuf bodies, its own limit)."""
    assert ok(kubectl(api, 'create', 'namespace', 'masq')) == 'namespace/masq created'
    assert ok(kubectl(api, 'create', 'configmap', 'imp', '-n', 'masq', '--from-literal=a=b')) == 'configmap/imp created'
    assert api.requests[-1][2] == 'application/vnd.kubernetes.protobuf'
    got = json.loads(ok(kubectl(api, 'get', 'cm', 'imp', '-n', 'masq', '-o', 'json')))
    assert got['data'] == {'a': 'b'} and set(got['metadata']) == {'name', 'namespace', 'uid', 'resourceVersion',
                                                                  'creationTimestamp'}
    assert api.namespaces['masq']['metadata']['labels'] == {'kubernetes.io/metadata.name': 'masq'}
    code, body = raw(api, 'POST', '/apis/apps/v1/namespaces/masq/daemonsets', b'k8s\x00\x0a\x00',
                     ctype='application/vnd.kubernetes.protobuf')
    assert code == 415 and body['reason'] == 'UnsupportedMediaType' and api.daemonsets == {}


# --- DaemonSets ---------------------------------------------------------------------------------------------------
def test_daemonset_defaults_generation_and_validation(api):
    """Observed on the real server: a DaemonSet comes back with the server's defaults, generation 1 and +1 only when
    the spec changes; selector/template mismatch, missing containers or image are 422, the selector is immutable."""
    assert ok(kubectl(api, 'apply', '-f', '-', stdin=DS)) == 'daemonset.apps/ip-masq-agent created'
    apps = python_client(api)[1]
    ds = apps.read_namespaced_daemon_set('ip-masq-agent', NS)
    assert ds.metadata.generation == 1 and ds.status.number_ready == 0
    assert ds.spec.update_strategy.type == 'RollingUpdate' and ds.spec.revision_history_limit == 10
    assert ds.spec.update_strategy.rolling_update.max_unavailable == 1
    pod = ds.spec.template.spec
    assert (pod.restart_policy, pod.dns_policy, pod.scheduler_name, pod.termination_grace_period_seconds) == \
        ('Always', 'ClusterFirst', 'default-scheduler', 30)
    c = pod.containers[0]
    assert (c.image_pull_policy, c.termination_message_path, c.termination_message_policy) == \
        ('IfNotPresent', '/dev/termination-log', 'File')
    assert pod.volumes[0].config_map.default_mode == 420
    ok(kubectl(api, 'label', 'ds', '-n', NS, 'ip-masq-agent', 'a=b'))
    assert apps.read_namespaced_daemon_set('ip-masq-agent', NS).metadata.generation == 1  # metadata only
    assert ok(kubectl(api, 'apply', '-f', '-', stdin=DS.replace('v2.9.3', 'latest').replace(':latest', ''))) == \
        'daemonset.apps/ip-masq-agent configured'
    ds = apps.read_namespaced_daemon_set('ip-masq-agent', NS)
    assert ds.metadata.generation == 2 and ds.spec.template.spec.containers[0].image_pull_policy == 'IfNotPresent'
    # the image changed but imagePullPolicy was defaulted before, so it stays (a client comparing must cope)
    assert ds.spec.template.spec.containers[0].image == 'registry.k8s.io/networking/ip-masq-agent'
    p = kubectl(api, 'apply', '-f', '-', stdin=DS.replace('{k8s-app: ip-masq-agent}', '{k8s-app: other}'))
    assert err(p) == ('The DaemonSet "ip-masq-agent" is invalid: spec.selector: Invalid value: '
                      'v1.LabelSelector{MatchLabels:map[string]string{"k8s-app":"other"}, '
                      'MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable')
    two = DS.replace('name: ip-masq-agent\n  namespace', 'name: two\n  namespace')
    p = kubectl(api, 'create', '-f', '-', stdin=two.replace('labels: {k8s-app: ip-masq-agent}', 'labels: {x: z}'))
    assert err(p) == ('The DaemonSet "two" is invalid: spec.template.metadata.labels: Invalid value: '
                      'map[string]string{"x":"z"}: `selector` does not match template `labels`')
    p = kubectl(api, 'create', '-f', '-', stdin=two.replace('        image: registry.k8s.io/networking/'
                                                            'ip-masq-agent:v2.9.3\n', ''))
    assert err(p) == 'The DaemonSet "two" is invalid: spec.template.spec.containers[0].image: Required value'
    apps = python_client(api)[1]
    with pytest.raises(ApiException) as e:
        apps.create_namespaced_daemon_set(NS, {'metadata': {'name': 'three'}, 'spec': {
            'selector': {'matchLabels': {'a': 'b'}}, 'template': {'metadata': {'labels': {'a': 'b'}},
                                                                  'spec': {'containers': []}}}})
    assert e.value.status == 422 and body_of(e.value)['details']['causes'] == [
        {'reason': 'FieldValueRequired', 'message': 'Required value', 'field': 'spec.template.spec.containers'}]
    assert body_of(e.value)['details']['group'] == 'apps' and sorted(api.daemonsets) == [(NS, 'ip-masq-agent')]
    assert ok(kubectl(api, 'delete', 'ds', '-n', NS, 'ip-masq-agent')).startswith(
        'daemonset.apps "ip-masq-agent" deleted')
    assert api.daemonsets == {}


def test_rename_through_a_patch_is_400(api):
    """Observed on the real server: a patch (any type) that changes metadata.name or namespace is 400 BadRequest
    "the name of the object (NEW) does not match the name on the URL (OLD)"."""
    ok(kubectl(api, 'apply', '-f', '-', stdin=DS))
    for kind, body in (('merge', '{"metadata":{"name":"x"}}'), ('strategic', '{"metadata":{"name":"x"}}'),
                       ('json', '[{"op":"replace","path":"/metadata/name","value":"x"}]')):
        p = kubectl(api, 'patch', 'ds', '-n', NS, 'ip-masq-agent', '--type', kind, '-p', body)
        assert err(p) == ('Error from server (BadRequest): the name of the object (x) does not match the name on the '
                          'URL (ip-masq-agent)'), kind
    core = python_client(api)[0]
    with pytest.raises(ApiException) as e:
        core.patch_node('node-a', {'metadata': {'name': 'node-z'}})
    assert e.value.status == 400 and body_of(e.value)['message'] == (
        'the name of the object (node-z) does not match the name on the URL (node-a)')
    assert sorted(api.nodes) == ['node-a', 'node-b'] and list(api.daemonsets) == [(NS, 'ip-masq-agent')]


# --- field managers and server-side apply -------------------------------------------------------------------------
def test_field_managers_are_recorded(api):
    """Observed on the real server: managedFields name the fieldManager query parameter, else the User-Agent up to its
    first '/': the Python client is "OpenAPI-Generator"; kubectl's create, label, client-side apply and server-side
    apply managers; an over-long fieldManager is 422."""
    core = python_client(api)[0]
    core.create_namespaced_config_map(NS, {'metadata': {'name': 'py'}, 'data': {'k': 'v'}})
    entry = stored_cm(api, 'py')['metadata']['managedFields'][0]
    assert (entry['manager'], entry['operation'], entry['apiVersion'], entry['fieldsType']) == \
        ('OpenAPI-Generator', 'Update', 'v1', 'FieldsV1')
    assert entry['fieldsV1'] == {'f:data': {'.': {}, 'f:k': {}}} and entry['time'].endswith('Z')
    ok(kubectl(api, 'create', '-f', '-', stdin=CM))
    assert managers(stored_cm(api)) == [('kubectl-create', 'Update')]
    ok(kubectl(api, 'label', 'cm', '-n', NS, 'ip-masq-agent', 'tier=node'))
    assert managers(stored_cm(api)) == [('kubectl-create', 'Update'), ('kubectl-label', 'Update')]
    assert stored_cm(api)['metadata']['managedFields'][1]['fieldsV1'] == {
        'f:metadata': {'f:labels': {'.': {}, 'f:tier': {}}}}
    ok(kubectl(api, 'apply', '-f', '-', stdin=DS))
    assert managers(api.daemonsets[(NS, 'ip-masq-agent')]) == [('kubectl-client-side-apply', 'Update')]
    ssa = DS.replace('name: ip-masq-agent\n  namespace', 'name: ssa\n  namespace')
    ok(kubectl(api, 'apply', '--server-side', '-f', '-', stdin=ssa))
    assert managers(api.daemonsets[(NS, 'ssa')]) == [('kubectl', 'Apply')]
    core.patch_namespaced_config_map('py', NS, {'data': {'k': 'w'}}, field_manager='my-tool')
    assert managers(stored_cm(api, 'py')) == [('my-tool', 'Update')]  # k moved to my-tool, nothing left for the other
    with pytest.raises(ApiException) as e:
        core.patch_namespaced_config_map('py', NS, {'data': {'k': 'x'}}, field_manager='m' * 129)
    assert e.value.status == 422 and body_of(e.value)['message'] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: must have at most 128 bytes')
    code, body = raw(api, 'POST', '/api/v1/namespaces/kube-system/configmaps?fieldManager=bell%07',
                     {'metadata': {'name': 'bell'}})
    assert code == 422 and body['message'] == ('CreateOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: '
                                               '"bell\\a": invalid character U+0007 (at position 4)')
    assert stored_cm(api, 'bell') is None


def test_server_side_apply(api):
    """Observed on the real server: apply needs a fieldManager (422), creates (201), conflicts with another manager's
    differing field are 409 naming field and manager unless forced, and a manager's new configuration replaces what
    it applied before (fields it leaves out are removed unless another manager owns them)."""
    path = '/api/v1/namespaces/kube-system/configmaps/ip-masq-agent'
    applied = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'ip-masq-agent', 'labels': {'a': '1'}},
               'data': {'one': '1', 'two': '2'}}
    code, body = raw(api, 'PATCH', path, applied, ctype='application/apply-patch+yaml')
    assert code == 422 and body['message'] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                                               'is required for apply patch')
    assert body['details'] == {'group': 'meta.k8s.io', 'kind': 'PatchOptions', 'causes': [
        {'reason': 'FieldValueRequired', 'message': 'Required value: is required for apply patch',
         'field': 'fieldManager'}]}
    code, body = raw(api, 'PATCH', path + '?fieldManager=deployer', applied, ctype='application/apply-patch+yaml')
    assert code == 201 and body['data'] == {'one': '1', 'two': '2'} and managers(body) == [('deployer', 'Apply')]
    # YAML works too, and re-applying the same is not a write
    rv = body['metadata']['resourceVersion']
    yaml_body = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ip-masq-agent, labels: {a: "1"}}\n' \
                'data: {one: "1", two: "2"}\n'
    code, body = raw(api, 'PATCH', path + '?fieldManager=deployer', yaml_body, ctype='application/apply-patch+yaml')
    assert code == 200 and body['metadata']['resourceVersion'] == rv
    # another manager takes "two" with an update; applying a different value for it conflicts
    core = python_client(api)[0]
    core.patch_namespaced_config_map('ip-masq-agent', NS, {'data': {'two': 'mine'}}, field_manager='editor')
    applied['data']['two'] = '22'
    code, body = raw(api, 'PATCH', path + '?fieldManager=deployer', applied, ctype='application/apply-patch+yaml')
    assert code == 409 and body['reason'] == 'Conflict'
    assert body['message'] == 'Apply failed with 1 conflict: conflict with "editor" using v1: .data.two'
    assert body['details']['causes'] == [{'reason': 'FieldManagerConflict', 'message': 'conflict with "editor" using v1',
                                          'field': '.data.two'}]
    p = kubectl(api, 'apply', '-n', NS, '--server-side', '--field-manager=deployer', '-f', '-',
                stdin=json.dumps(applied))
    assert 'Apply failed with 1 conflict: conflict with "editor" using v1: .data.two' in err(p)
    code, body = raw(api, 'PATCH', path + '?fieldManager=deployer&force=true', applied,
                     ctype='application/apply-patch+yaml')
    assert code == 200 and body['data']['two'] == '22' and stored_cm(api)['data']['two'] == '22'
    # the editor took "one" too (same value: shared); the deployer now leaves out "one", "two" and label a
    core.patch_namespaced_config_map('ip-masq-agent', NS, {'data': {'one': '1-edited'}}, field_manager='editor')
    applied = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'ip-masq-agent'}, 'data': {'three': '3'}}
    code, body = raw(api, 'PATCH', path + '?fieldManager=deployer', applied, ctype='application/apply-patch+yaml')
    assert code == 200 and body['data'] == {'one': '1-edited', 'three': '3'}  # "one" stays: the editor owns it
    assert 'a' not in (body['metadata'].get('labels') or {})
    # kubectl --server-side (manager "kubectl") and its force flag
    p = kubectl(api, 'apply', '--server-side', '-f', '-', stdin=CM)
    assert ok(p) == 'configmap/ip-masq-agent serverside-applied'


# --- RBAC -------------------------------------------------------------------------------------------------------
def test_per_resource_tokens_and_the_real_forbidden_messages(api):
    """Observed on the real server: RBAC refusals name the user, verb, resource, API group and namespace or cluster
    scope; a token may be given verbs per resource (the stand-in's way of granting roles)."""
    cm_only = api.kubeconfig(str(api.tmp / 'kc-cm'), token='cm-only')
    assert ok(kubectl(api, 'create', '-f', '-', stdin=CM, kubeconfig=cm_only)) == 'configmap/ip-masq-agent created'
    assert ok(kubectl(api, 'label', 'cm', '-n', NS, 'ip-masq-agent', 'x=y', kubeconfig=cm_only)).endswith('labeled')
    ok(kubectl(api, 'apply', '-f', '-', stdin=DS))
    p = kubectl(api, 'label', 'ds', '-n', NS, 'ip-masq-agent', 'x=y', kubeconfig=cm_only)
    assert err(p) == ('Error from server (Forbidden): daemonsets.apps "ip-masq-agent" is forbidden: User "cm-only" '
                      'cannot get resource "daemonsets" in API group "apps" in the namespace "kube-system"')
    p = kubectl(api, 'get', 'nodes', kubeconfig=cm_only)
    assert err(p) == ('Error from server (Forbidden): nodes is forbidden: User "cm-only" cannot list resource "nodes" '
                      'in API group "" at the cluster scope')
    core = python_client(api, token='viewer-token')[0]
    with pytest.raises(ApiException) as e:
        core.patch_namespaced_config_map('ip-masq-agent', NS, {'data': {'a': 'b'}}, dry_run='All')
    assert e.value.status == 403 and body_of(e.value)['message'] == (
        'configmaps "ip-masq-agent" is forbidden: User "viewer" cannot patch resource "configmaps" in API group "" in '
        'the namespace "kube-system"')
    assert body_of(e.value)['details'] == {'name': 'ip-masq-agent', 'kind': 'configmaps'}
    apps = python_client(api, token='cm-only')[1]
    with pytest.raises(ApiException) as e:
        apps.delete_namespaced_daemon_set('ip-masq-agent', NS)
    assert e.value.status == 403 and body_of(e.value)['details'] == {'name': 'ip-masq-agent', 'group': 'apps',
                                                                     'kind': 'daemonsets'}
    assert list(api.daemonsets) == [(NS, 'ip-masq-agent')]


# --- hooks --------------------------------------------------------------------------------------------------------
def test_etcd_down_answers_504_without_kind(api):
    """Observed on the real server: with etcd unreachable a resource request times out as 504 with a body that has no
    kind or apiVersion; discovery still answers; authentication and authorisation come first."""
    api.etcd_down = True
    code, body = raw(api, 'GET', '/api/v1/nodes/node-a')
    assert code == 504 and body == {
        'metadata': {}, 'status': 'Failure', 'message': 'Timeout: request did not complete within requested timeout '
                                                        '- context deadline exceeded',
        'reason': 'Timeout', 'details': {}, 'code': 504}
    assert raw(api, 'GET', '/api/v1')[0] == 200
    assert raw(api, 'GET', '/api/v1/nodes', token='no-such-token')[0] == 401
    core = python_client(api)[0]
    with pytest.raises(ApiException) as e:
        core.patch_node('node-a', {'metadata': {'labels': {'a': 'b'}}})
    assert e.value.status == 504 and 'kind' not in body_of(e.value)
    assert 'Error from server (Timeout)' in err(kubectl(api, 'get', 'nodes'))
    api.etcd_down = False
    assert 'a' not in api.labels('node-a') and raw(api, 'GET', '/api/v1/nodes/node-a')[0] == 200


def test_delay_holds_responses_until_stop(api):
    """The stand-in's own hook: `delay` holds every resource response, so a client's request timeout can be tested;
    stop() releases the held requests at once."""
    api.delay = 600
    core = python_client(api)[0]
    with pytest.raises(Exception) as e:  # the client takes an int or a (connect, read) tuple; a float is ignored
        core.read_node('node-a', _request_timeout=(5, 1))
    assert 'timed out' in str(e.value).lower()
    done = []
    t = threading.Thread(target=lambda: done.append(raw(api, 'GET', '/api/v1/nodes/node-b')), daemon=True)
    t.start()
    assert raw(api, 'GET', '/version')[0] == 200  # discovery is not held
    api.stop()
    t.join(20)
    assert not t.is_alive() and done and done[0][0] == 200


def test_a_steady_writer_moves_the_node_on(api):
    """The stand-in's own hook (like the kubelet's status updates, observed on real clusters): writer(name, interval)
    keeps writing the node's status; a patch carrying a resourceVersion read before the write is a 409."""
    core = python_client(api)[0]
    rv = core.read_node('node-a').metadata.resource_version
    w = api.writer('node-a', 0.01)
    while w.writes < 2:
        threading.Event().wait(0.01)
    w.stop()
    node = core.read_node('node-a')
    assert node.metadata.resource_version != rv and node.status.conditions[0].type == 'Ready'
    assert ('kubelet', 'Update') in managers(api.nodes['node-a'])
    with pytest.raises(ApiException) as e:
        core.patch_node('node-a', {'metadata': {'resourceVersion': rv, 'labels': {'a': 'b'}}})
    assert e.value.status == 409 and body_of(e.value)['message'].startswith(
        'Operation cannot be fulfilled on nodes "node-a": the object has been modified')
    assert core.patch_node('node-a', {'metadata': {'resourceVersion': node.metadata.resource_version,
                                                   'labels': {'a': 'b'}}}).metadata.labels['a'] == 'b'


def test_binary_data_and_strategic_merge_lists(api):
    """Observed on the real server: binaryData counts toward the size limit and is returned base64; a strategic merge
    patch merges the pod template's containers by name (kubectl's client-side apply relies on it)."""
    core, apps = python_client(api)
    blob = base64.b64encode(b'\x00\x01').decode()
    cm = core.create_namespaced_config_map(NS, {'metadata': {'name': 'bin'}, 'binaryData': {'b': blob}})
    assert cm.binary_data == {'b': blob}
    ok(kubectl(api, 'apply', '-f', '-', stdin=DS))
    apps.patch_namespaced_daemon_set('ip-masq-agent', NS, {'spec': {'template': {'spec': {'containers': [
        {'name': 'ip-masq-agent', 'image': 'example.com/other:1'}]}}}})
    c = apps.read_namespaced_daemon_set('ip-masq-agent', NS).spec.template.spec.containers
    assert len(c) == 1 and c[0].image == 'example.com/other:1' and c[0].args == ['--masq-chain=IP-MASQ']
