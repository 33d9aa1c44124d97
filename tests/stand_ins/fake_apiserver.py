"""A stand-in for the Kubernetes API server, for tests only (not shipped: galaxy.yml build_ignore).

No kube-apiserver, k3s or kind can run on the machines this project is tested on, so the node_label tests talk to
this instead. It follows the real API for the calls the collection makes, as the real server answers them:
- GET /api/v1/nodes/NAME: 200 with the Node, or 404 with a Status object (kind Status, reason NotFound).
- PATCH /api/v1/nodes/NAME with application/merge-patch+json or application/strategic-merge-patch+json (the
  official Python client sends a dict body as strategic merge): labels merge, a null value deletes the label; if the
  patch carries metadata.resourceVersion and it is not the current one: 409 Conflict with the real message; every
  write gives the node a new resourceVersion (one counter for the whole server, as etcd's revision).
  application/json-patch+json is rejected with 415 here (not used by the collection).
- Bearer tokens: no or unknown token -> 401; a read-only token -> 403 Forbidden on PATCH, as RBAC would.
- GET /version and /api for clients that ask.
`conflicts[name] = n` makes the next n reads of a node be followed by a write from "someone else" (its
resourceVersion moves on), so a patch carrying the version just read gets 409, as with a real concurrent writer.
"""
import base64
import json
import os
import ssl
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONFLICT_MSG = ('Operation cannot be fulfilled on nodes "%s": the object has been modified; please apply your '
                'changes to the latest version and try again')


def status(code, reason, message, name=None):
    body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': message,
            'reason': reason, 'code': code}
    if name:
        body['details'] = {'name': name, 'kind': 'nodes'}
    return code, body


class FakeApiServer(object):
    def __init__(self, nodes=(), tokens=None, tls=True):
        self.lock = threading.Lock()
        self.revision = 1000
        self.nodes = {}
        for name in nodes:
            self.add_node(name)
        # token -> 'rw' | 'ro'
        self.tokens = tokens or {'admin-token': 'rw', 'viewer-token': 'ro'}
        self.conflicts = {}
        self.requests = []
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self.port = self.httpd.server_address[1]
        self.ca_pem = None
        if tls:
            # kubectl sends bearer tokens only over TLS: a throwaway self-signed certificate for 127.0.0.1
            d = tempfile.mkdtemp()
            key, cert = os.path.join(d, 'key.pem'), os.path.join(d, 'cert.pem')
            subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
                            '-days', '1', '-subj', '/CN=stand-in-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1'],
                           check=True, capture_output=True)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            with open(cert, 'rb') as f:
                self.ca_pem = f.read()
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return '%s://127.0.0.1:%d' % ('https' if self.ca_pem else 'http', self.port)

    def add_node(self, name, labels=None):
        self.revision += 1
        self.nodes[name] = {
            'kind': 'Node', 'apiVersion': 'v1',
            'metadata': {'name': name, 'uid': 'uid-%s' % name, 'resourceVersion': str(self.revision),
                         'labels': dict({'kubernetes.io/hostname': name}, **(labels or {}))},
            'spec': {}, 'status': {}}

    def labels(self, name):
        return dict(self.nodes[name]['metadata']['labels'])

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def kubeconfig(self, path, token='admin-token'):
        cfg = {'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'test',
               'clusters': [{'name': 'test', 'cluster': dict(
                   {'server': self.url},
                   **({'certificate-authority-data': base64.b64encode(self.ca_pem).decode()} if self.ca_pem else {}))}],
               'users': [{'name': 'test', 'user': {'token': token}}],
               'contexts': [{'name': 'test', 'context': {'cluster': 'test', 'user': 'test'}}]}
        with open(path, 'w') as f:
            json.dump(cfg, f)
        return path

    # --- request handling --------------------------------------------------------------------------------------
    def handle(self, method, path, headers, body):
        auth = headers.get('Authorization', '')
        role = self.tokens.get(auth[len('Bearer '):]) if auth.startswith('Bearer ') else None
        if role is None:
            return status(401, 'Unauthorized', 'Unauthorized')
        if path == '/version':
            return 200, {'major': '1', 'minor': '31', 'gitVersion': 'v1.31.0-stand-in'}
        if path == '/api':
            return 200, {'kind': 'APIVersions', 'versions': ['v1']}
        prefix = '/api/v1/nodes/'
        if not path.startswith(prefix) or '/' in path[len(prefix):]:
            return status(404, 'NotFound', 'the server could not find the requested resource')
        name = path[len(prefix):]
        with self.lock:
            node = self.nodes.get(name)
            if method == 'GET':
                if node is None:
                    return status(404, 'NotFound', 'nodes "%s" not found' % name, name)
                answer = json.loads(json.dumps(node))
                if self.conflicts.get(name):
                    self.conflicts[name] -= 1
                    self.revision += 1
                    node['metadata']['resourceVersion'] = str(self.revision)  # someone else wrote it
                return 200, answer
            if method == 'PATCH':
                if role != 'rw':
                    return status(403, 'Forbidden', 'nodes "%s" is forbidden: User "viewer" cannot patch resource '
                                                    '"nodes" in API group "" at the cluster scope' % name, name)
                ctype = headers.get('Content-Type', '').split(';')[0]
                if ctype not in ('application/merge-patch+json', 'application/strategic-merge-patch+json'):
                    return status(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format')
                if node is None:
                    return status(404, 'NotFound', 'nodes "%s" not found' % name, name)
                try:
                    patch = json.loads(body or b'{}')
                except ValueError:
                    return status(400, 'BadRequest', 'error decoding patch')
                meta = patch.get('metadata') or {}
                rv = meta.get('resourceVersion')
                if rv is not None and rv != node['metadata']['resourceVersion']:
                    return status(409, 'Conflict', CONFLICT_MSG % name, name)
                labels = node['metadata'].setdefault('labels', {})
                for k, v in (meta.get('labels') or {}).items():
                    if v is None:
                        labels.pop(k, None)
                    else:
                        labels[k] = v
                self.revision += 1
                node['metadata']['resourceVersion'] = str(self.revision)
                return 200, json.loads(json.dumps(node))
        return status(405, 'MethodNotAllowed', 'method %s not allowed' % method)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _do(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                path = self.path.split('?', 1)[0]
                server.requests.append((self.command, path, self.headers.get('Content-Type')))
                code, obj = server.handle(self.command, path, self.headers, body)
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _do

            def log_message(self, *args):
                pass

        return Handler
