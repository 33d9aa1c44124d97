# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_client: the real AnsibleModule argument handling and the real Kubernetes Python client, against small local
HTTP(S) servers that answer what a test scripts (real sockets, real TLS, real client exceptions)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ipmasq.agent.plugins.module_utils import k8s_client as C

kubernetes = pytest.importorskip('kubernetes', reason='the Kubernetes Python client (tests/unit/requirements.txt)')

ETCD_504 = {'metadata': {}, 'status': 'Failure', 'message': 'Timeout: request did not complete within requested '
            'timeout - context deadline exceeded', 'reason': 'Timeout', 'details': {}, 'code': 504}
FORBIDDEN = ('nodes "n1" is forbidden: User "viewer" cannot patch resource "nodes" in API group "" at the cluster '
             'scope')


def status(code, reason, message, **details):
    return {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': message,
            'reason': reason, 'details': details, 'code': code}


class Server(object):
    """Answers every request with ``answer`` = (code, body: dict or text); ``hold`` keeps answers back until the
    test ends (for timeouts). Records (method, path, query, headers)."""

    def __init__(self, tls_dir=None):
        self.answer = (200, {'kind': 'Node', 'apiVersion': 'v1', 'metadata': {'name': 'n1'}})
        self.requests = []
        self.hold = False
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def _do(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                path, _sep, query = self.path.partition('?')
                server.requests.append((self.command, path, query, self.headers, body))
                if server.hold:
                    server.release.wait()
                code, obj = server.answer
                data = (obj if isinstance(obj, str) else json.dumps(obj)).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'text/html' if isinstance(obj, str) else 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass

            do_GET = do_PATCH = _do

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.ca = None
        if tls_dir:
            key, self.ca = os.path.join(tls_dir, 'server.key'), os.path.join(tls_dir, 'server.crt')
            subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', self.ca,
                            '-days', '1', '-subj', '/CN=test-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1'],
                           check=True, capture_output=True)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.ca, key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = '%s://127.0.0.1:%d' % ('https' if tls_dir else 'http', self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def tls_server(tmp_path):
    s = Server(tls_dir=str(tmp_path))
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No K8S_AUTH_* or KUBECONFIG from the machine running the tests; no in-cluster service account; HOME empty."""
    for k in list(os.environ):
        if k.startswith('K8S_AUTH_') or k in ('KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'):
            monkeypatch.delenv(k)
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.setattr(kubernetes.config.incluster_config, 'SERVICE_TOKEN_FILENAME', str(tmp_path / 'no-token'))


def kubeconfig(path, url, token='admin-token', contexts=('test',), current='test', ca=None):
    cluster = {'server': url}
    if ca:
        cluster['certificate-authority'] = ca
    cfg = {'apiVersion': 'v1', 'kind': 'Config', 'current-context': current,
           'clusters': [{'name': 'c', 'cluster': cluster}],
           'users': [{'name': 'u', 'user': {'token': token}}],
           'contexts': [{'name': c, 'context': {'cluster': 'c', 'user': 'u'}} for c in contexts]}
    with open(str(path), 'w') as f:
        json.dump(cfg, f)
    return str(path)


class Failed(Exception):
    pass


def connect(args, check_mode=False):
    """C.connect on a real AnsibleModule with AUTH_ARG_SPEC; a fail_json raises Failed(msg)."""
    with patch_module_args(dict(args, _ansible_check_mode=check_mode)):
        module = AnsibleModule(argument_spec=C.AUTH_ARG_SPEC, supports_check_mode=True)

    def fail_json(msg, **kwargs):
        raise Failed(msg)
    module.fail_json = fail_json
    return C.connect(module), module


def failure(args):
    with pytest.raises(Failed) as e:
        connect(args)
    return str(e.value)


def read(cluster, name='n1'):
    return cluster.call("read node '%s'" % name, C.send, cluster.api_client, '/api/v1/nodes/' + name, 'GET', [],
                        {'Accept': 'application/json'})


# --- options and configuration ---------------------------------------------------------------------------------

def test_env_fallbacks_are_kubernetes_cores(monkeypatch, tmp_path, server):
    path = kubeconfig(tmp_path / 'kc', server.url, contexts=('a', 'b'), current='a')
    monkeypatch.setenv('K8S_AUTH_KUBECONFIG', path)
    monkeypatch.setenv('K8S_AUTH_CONTEXT', 'b')
    monkeypatch.setenv('K8S_AUTH_API_KEY', 'env-token')
    monkeypatch.setenv('K8S_AUTH_VERIFY_SSL', 'false')
    cluster, module = connect({})
    assert module.params['kubeconfig'] == path and module.params['context'] == 'b'
    assert module.params['validate_certs'] is False and module.params['request_timeout'] == 30.0
    read(cluster)
    assert server.requests[-1][3]['Authorization'] == 'Bearer env-token'


def test_kubeconfig_and_context_are_used_with_the_timeout_on_every_call(tmp_path, server):
    cluster, _m = connect({'kubeconfig': kubeconfig(tmp_path / 'kc', server.url, token='t1'), 'request_timeout': 7})
    assert cluster.host == server.url and cluster.timeout == (7.0, 7.0) and cluster.request_timeout == 7.0
    seen = []
    assert cluster.call('x', lambda **kw: seen.append(kw) or 'ok') == 'ok'
    assert seen == [{'_request_timeout': (7.0, 7.0)}]
    assert C.FIELD_MANAGER == 'ipmasq-agent'
    assert read(cluster)['metadata']['name'] == 'n1'
    assert server.requests[-1][1] == '/api/v1/nodes/n1' and server.requests[-1][3]['Authorization'] == 'Bearer t1'


def test_host_with_api_key_needs_no_kubeconfig(monkeypatch, tmp_path, server):
    monkeypatch.setenv('KUBECONFIG', str(tmp_path / 'missing'))
    cluster, _m = connect({'host': server.url + '/', 'api_key': 'tok'})
    read(cluster)
    assert cluster.host == server.url and server.requests[-1][3]['Authorization'] == 'Bearer tok'


def test_options_override_the_kubeconfig(tmp_path, server):
    other = kubeconfig(tmp_path / 'kc', 'http://127.0.0.1:1', token='from-file')
    cluster, _m = connect({'kubeconfig': other, 'host': server.url, 'api_key': 'from-option'})
    read(cluster)
    assert server.requests[-1][3]['Authorization'] == 'Bearer from-option'


def test_default_kubeconfig_from_home(tmp_path, server):
    (tmp_path / 'home' / '.kube').mkdir(parents=True)
    kubeconfig(tmp_path / 'home' / '.kube' / 'config', server.url, token='home')
    read(connect({})[0])
    assert server.requests[-1][3]['Authorization'] == 'Bearer home'


def test_in_cluster_service_account_when_nothing_is_given(monkeypatch, tmp_path, tls_server):
    token = tmp_path / 'token'
    token.write_text('sa-token')
    monkeypatch.setattr(kubernetes.config.incluster_config, 'SERVICE_TOKEN_FILENAME', str(token))
    monkeypatch.setattr(kubernetes.config.incluster_config, 'SERVICE_CERT_FILENAME', tls_server.ca)
    monkeypatch.setenv('KUBERNETES_SERVICE_HOST', '127.0.0.1')
    monkeypatch.setenv('KUBERNETES_SERVICE_PORT', tls_server.url.rsplit(':', 1)[1])
    cluster, _m = connect({})
    read(cluster)
    assert cluster.host == tls_server.url and tls_server.requests[-1][3]['Authorization'].lower() == 'bearer sa-token'


def test_missing_kubeconfig_names_the_file(tmp_path):
    msg = failure({'kubeconfig': str(tmp_path / 'nope.conf')})
    assert msg == 'kubeconfig: the kubeconfig file %s does not exist' % (tmp_path / 'nope.conf')
    assert 'No configuration found' not in msg


def test_empty_invalid_and_foreign_kubeconfigs(tmp_path):
    empty, bad, foreign = tmp_path / 'empty', tmp_path / 'bad', tmp_path / 'foreign'
    empty.write_text('\n')
    bad.write_text('clusters: [\n')
    foreign.write_text('just: a mapping\n')
    assert failure({'kubeconfig': str(empty)}) == 'kubeconfig: the kubeconfig file %s is empty' % empty
    assert failure({'kubeconfig': str(bad)}).startswith('kubeconfig: the kubeconfig file %s is not valid YAML' % bad)
    assert failure({'kubeconfig': str(foreign)}) == 'kubeconfig: %s is not a kubeconfig (no clusters or contexts in it)' \
        % foreign


def test_a_kubeconfig_the_client_cannot_use_is_named(tmp_path):
    path = tmp_path / 'kc'
    path.write_text(json.dumps({'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'nowhere',
                                'clusters': [{'name': 'c', 'cluster': {'server': 'https://127.0.0.1:1'}}],
                                'contexts': [{'name': 'x', 'context': {'cluster': 'c', 'user': 'u'}}], 'users': []}))
    msg = failure({'kubeconfig': str(path)})
    assert msg.startswith('kubeconfig: cannot use %s: ' % path) and 'nowhere' in msg


def test_unknown_context_lists_the_known_ones(tmp_path, server):
    path = kubeconfig(tmp_path / 'kc', server.url, contexts=('prod', 'dev'), current='dev')
    assert failure({'kubeconfig': path, 'context': 'stage'}) == \
        "context: no context named 'stage' in %s (contexts: dev, prod)" % path


def test_nothing_to_connect_with_says_so(tmp_path):
    msg = failure({})
    assert msg.startswith('no Kubernetes configuration: the default kubeconfig file %s does not exist'
                          % (tmp_path / 'home' / '.kube' / 'config'))


@pytest.mark.parametrize('args, msg', [
    ({'request_timeout': 0}, 'request_timeout: must be more than 0 seconds, got 0.0'),
    ({'ca_cert': '/nonexistent/ca.crt'}, 'ca_cert: the file /nonexistent/ca.crt does not exist'),
    ({'client_key': '/nonexistent/k'}, 'client_key: the file /nonexistent/k does not exist'),
])
def test_bad_options(args, msg):
    assert failure(dict(args, host='https://127.0.0.1:1', api_key='t')) == msg


def test_missing_library(monkeypatch):
    monkeypatch.setattr(C, 'HAS_KUBERNETES', False)
    msg = failure({})
    assert 'Failed to import the required Python library (kubernetes)' in msg


def test_dry_run_only_in_check_mode(server):
    assert C.dry_run(connect({'host': server.url, 'api_key': 't'}, check_mode=True)[1]) == 'All'
    assert C.dry_run(connect({'host': server.url, 'api_key': 't'})[1]) is None


# --- explain: every kind of failure, as the real client raises it ----------------------------------------------

@pytest.mark.parametrize('answer, status, words', [
    ((401, status(401, 'Unauthorized', 'Unauthorized')), 401,
     "the API server did not accept the credentials (401 Unauthorized) to read node 'n1': Unauthorized"),
    ((403, status(403, 'Forbidden', FORBIDDEN, name='n1', kind='nodes')), 403,
     "the API server refused to read node 'n1' (403 Forbidden): " + FORBIDDEN),
    ((404, status(404, 'NotFound', 'nodes "n1" not found', name='n1', kind='nodes')), 404,
     "cannot read node 'n1': not found (404 NotFound): nodes \"n1\" not found"),
    ((409, status(409, 'Conflict', 'the object has been modified')), 409,
     "cannot read node 'n1': conflict (409 Conflict): the object has been modified"),
    ((422, status(422, 'Invalid', 'Node "n1" is invalid: [...]', causes=[
        {'reason': 'FieldValueInvalid', 'message': 'Invalid value: "a b": name part must consist of ...',
         'field': 'metadata.labels'}])), 422,
     "the API server rejected the request to read node 'n1' as invalid (422 Invalid): metadata.labels: Invalid "
     "value: \"a b\": name part must consist of ..."),
    ((504, ETCD_504), 504, "the API server failed to read node 'n1' (504 Timeout): Timeout: request did not "
                           "complete within requested timeout - context deadline exceeded"),
    ((503, {'error': 'upstream'}), 503, "the API server failed to read node 'n1' (503 Service Unavailable)"),
    ((502, '<html>\n<body>Bad   gateway</body></html>'), 502,
     "the API server failed to read node 'n1' (502 Bad Gateway): <html> <body>Bad gateway</body></html>"),
])
def test_http_errors_are_readable(server, answer, status, words):
    server.answer = answer
    cluster, _m = connect({'host': server.url, 'api_key': 't'})
    with pytest.raises(C.K8sError) as e:
        read(cluster)
    assert e.value.status == status and e.value.msg == words
    assert '{' not in e.value.msg


def test_connection_refused(server):
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    url = 'http://127.0.0.1:%d' % s.getsockname()[1]
    s.close()
    cluster, _m = connect({'host': url, 'api_key': 't'})
    with pytest.raises(C.K8sError) as e:
        read(cluster)
    assert e.value.status is None
    assert e.value.msg.startswith('cannot reach the API server at %s: [Errno 111] Connection refused' % url)
    assert "read node 'n1'" in e.value.msg and 'Max retries' not in e.value.msg and '<' not in e.value.msg


def test_name_resolution_failure():
    import urllib3
    conn = urllib3.connection.HTTPSConnection('apiserver.invalid', 6443)
    err = urllib3.exceptions.NameResolutionError('apiserver.invalid', conn, socket.gaierror(-2, 'Name or service not known'))
    msg = C.explain(err, "read node 'n1'", host='https://apiserver.invalid:6443').msg
    assert msg.startswith("cannot reach the API server at https://apiserver.invalid:6443: Failed to resolve "
                          "'apiserver.invalid'")


def test_untrusted_certificate_is_not_unreachable(tls_server):
    cluster, _m = connect({'host': tls_server.url, 'api_key': 't'})
    with pytest.raises(C.K8sError) as e:
        read(cluster)
    assert e.value.msg.startswith("the API server's certificate is not trusted (ca_cert / validate_certs): ")
    assert 'certificate verify failed' in e.value.msg and 'cannot reach' not in e.value.msg
    assert tls_server.requests == []


def test_trusted_with_ca_cert_or_without_validation(tls_server):
    read(connect({'host': tls_server.url, 'api_key': 't', 'ca_cert': tls_server.ca})[0])
    read(connect({'host': tls_server.url, 'api_key': 't', 'validate_certs': False})[0])
    assert len(tls_server.requests) == 2


def test_no_answer_within_the_request_timeout(server):
    server.hold = True
    cluster, _m = connect({'host': server.url, 'api_key': 't', 'request_timeout': 0.5})
    with pytest.raises(C.K8sError) as e:
        read(cluster)
    assert e.value.status is None
    assert e.value.msg == "no answer from the API server at %s within 0.5 s (request_timeout) (trying to read " \
                          "node 'n1')" % server.url
    assert len(server.requests) == 1  # one attempt: no hidden retries multiplying the wait


def test_explain_keeps_a_k8s_error():
    err = C.K8sError('x', 409)
    assert C.explain(err, 'y') is err
