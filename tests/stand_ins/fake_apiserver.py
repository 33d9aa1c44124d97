"""A stand-in for the Kubernetes API server, FOR TESTS ONLY (not shipped: galaxy.yml build_ignore has tests/stand_ins).

No kube-apiserver, k3s or kind can run on the machines this project is tested on, so the node_label tests talk to
this instead. It is not a Kubernetes API server: it follows the real API only for the calls the collection and the
tests' kubectl make, and answers them the way the real server does:

- Discovery for kubectl: GET /version, /api (APIVersions), /apis (APIGroupList, no groups), /api/v1 (APIResourceList
  with `nodes`). Aggregated discovery is not offered; kubectl falls back to these, as with an older server.
- GET /api/v1/nodes (NodeList) and GET /api/v1/nodes/NAME (Node) or 404 NotFound.
- PATCH /api/v1/nodes/NAME with application/merge-patch+json (RFC 7386), application/strategic-merge-patch+json
  (the official Python client sends dict bodies as this; for maps such as labels it merges like a merge patch, a null
  value deletes the key; lists are replaced, which is what strategic merge does for lists without a patch strategy)
  or application/json-patch+json (RFC 6902: add, remove, replace, test, copy, move); anything else -> 415.
  Optimistic concurrency as in the real server: when the patched object carries a metadata.resourceVersion that is
  not the current one (a patch that sets it to the version the client read) -> 409 Conflict with the real message.
  Every write that changes the node gives it a new resourceVersion (one counter for the whole server, like etcd's
  revision); a patch that changes nothing is not a write and keeps the resourceVersion, as on the real server.
  The Node schema and label syntax are NOT validated here (the module validates labels itself).
- Errors are real `Status` objects (kind Status, apiVersion v1, status Failure, message, reason, details, code).
- Bearer tokens (TLS only, as kubectl sends tokens only over TLS): no or unknown token -> 401 Unauthorized; a token
  with role 'ro' -> 403 Forbidden on PATCH; role 'none' -> 403 on everything, as RBAC would answer.

Test hooks: `conflicts[name] = n` makes the next n GETs of that node be followed at once by a write from "someone
else" (its resourceVersion moves on), so a patch carrying the version just read gets 409, as with a real concurrent
writer. `requests` records (method, path, content type, body) of every request.
"""
import base64
import copy
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONFLICT_MSG = ('Operation cannot be fulfilled on nodes "%s": the object has been modified; please apply your '
                'changes to the latest version and try again')
PATCH_TYPES = ('application/json-patch+json', 'application/merge-patch+json',
               'application/strategic-merge-patch+json')
USERS = {'rw': 'admin', 'ro': 'viewer', 'none': 'nobody'}


class _PatchError(Exception):
    def __init__(self, code, reason, message):
        super(_PatchError, self).__init__(message)
        self.answer = status(code, reason, message)


def status(code, reason, message, name=None):
    body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': message,
            'reason': reason, 'code': code}
    if name:
        body['details'] = {'name': name, 'kind': 'nodes'}
    elif code == 404:
        body['details'] = {}
    return code, body


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch (and strategic merge for maps and plain lists)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k.startswith('$'):
            raise _PatchError(400, 'BadRequest', 'strategic merge directive %s is not supported by the stand-in' % k)
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _pointer(path):
    if path == '':
        return []
    if not path.startswith('/'):
        raise _PatchError(422, 'Invalid', 'invalid JSON pointer %r' % path)
    return [p.replace('~1', '/').replace('~0', '~') for p in path[1:].split('/')]


def _walk(doc, parts):
    for p in parts:
        if isinstance(doc, list):
            doc = doc[int(p)]
        else:
            doc = doc[p]
    return doc


def json_patch(doc, ops):
    """RFC 6902 JSON patch."""
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise _PatchError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch')
    for op in ops:
        kind, parts = op.get('op'), _pointer(op.get('path', ''))
        try:
            parent, last = _walk(doc, parts[:-1]), parts[-1] if parts else None
            if kind == 'test':
                if _walk(doc, parts) != op.get('value'):
                    raise _PatchError(422, 'Invalid', 'the server rejected our request due to an error in our '
                                                      'request: testing value %s failed' % op.get('path'))
                continue
            if kind in ('copy', 'move'):
                value = copy.deepcopy(_walk(doc, _pointer(op['from'])))
                if kind == 'move':
                    src = _pointer(op['from'])
                    holder = _walk(doc, src[:-1])
                    del holder[int(src[-1]) if isinstance(holder, list) else src[-1]]
                kind = 'add'
            else:
                value = op.get('value')
            if kind == 'remove':
                del parent[int(last) if isinstance(parent, list) else last]
            elif kind in ('add', 'replace'):
                if kind == 'replace':
                    _walk(doc, parts)  # must exist
                if isinstance(parent, list):
                    if last == '-':
                        parent.append(value)
                    elif kind == 'add':
                        parent.insert(int(last), value)
                    else:
                        parent[int(last)] = value
                else:
                    parent[last] = value
            else:
                raise _PatchError(422, 'Invalid', 'unexpected operation %r' % kind)
        except (KeyError, IndexError, ValueError, TypeError):
            raise _PatchError(422, 'Invalid', 'the server rejected our request due to an error in our request: '
                                              '%s operation does not apply: doc is missing path: "%s"'
                              % (kind, op.get('path')))
    return doc


class FakeApiServer(object):
    def __init__(self, nodes=(), tokens=None, tls=True, workdir=None):
        self.lock = threading.Lock()
        self.revision = 1000
        self.nodes = {}
        for name in nodes:
            self.add_node(name)
        # token -> 'rw' (get, list, patch) | 'ro' (get, list) | 'none'
        self.tokens = tokens or {'admin-token': 'rw', 'viewer-token': 'ro', 'nobody-token': 'none'}
        self.conflicts = {}
        self.requests = []
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.ca_pem = None
        self._tmp = None
        if tls:
            # kubectl sends bearer tokens only over TLS: a throwaway self-signed certificate for 127.0.0.1
            if workdir is None:
                workdir = self._tmp = tempfile.mkdtemp(prefix='stand-in-apiserver-')
            key, cert = os.path.join(workdir, 'apiserver.key'), os.path.join(workdir, 'apiserver.crt')
            subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
                            '-days', '1', '-subj', '/CN=stand-in-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1'],
                           check=True, capture_output=True)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            with open(cert, 'rb') as f:
                self.ca_pem = f.read()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)

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
        return dict(self.nodes[name]['metadata'].get('labels') or {})

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def kubeconfig(self, path, token='admin-token', contexts=None, current=None):
        """Write a kubeconfig for this server. contexts: {context name: token}; default one context 'test'."""
        contexts = contexts or {'test': token}
        cluster = {'server': self.url}
        if self.ca_pem:
            cluster['certificate-authority-data'] = base64.b64encode(self.ca_pem).decode()
        cfg = {'apiVersion': 'v1', 'kind': 'Config', 'preferences': {},
               'current-context': current or sorted(contexts)[0],
               'clusters': [{'name': 'stand-in', 'cluster': cluster}],
               'users': [{'name': 'user-' + c, 'user': {'token': t}} for c, t in sorted(contexts.items())],
               'contexts': [{'name': c, 'context': {'cluster': 'stand-in', 'user': 'user-' + c}}
                            for c in sorted(contexts)]}
        with open(path, 'w') as f:
            json.dump(cfg, f)
        return path

    # --- request handling --------------------------------------------------------------------------------------
    def handle(self, method, path, headers, body):
        auth = headers.get('Authorization', '')
        role = self.tokens.get(auth[len('Bearer '):]) if auth.startswith('Bearer ') else None
        if role is None:
            return status(401, 'Unauthorized', 'Unauthorized')
        discovery = {
            '/version': {'major': '1', 'minor': '31', 'gitVersion': 'v1.31.0-stand-in', 'platform': 'linux/amd64'},
            '/api': {'kind': 'APIVersions', 'versions': ['v1'],
                     'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': '127.0.0.1'}]},
            '/apis': {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': []},
            '/api/v1': {'kind': 'APIResourceList', 'groupVersion': 'v1', 'resources': [
                {'name': 'nodes', 'singularName': 'node', 'namespaced': False, 'kind': 'Node', 'shortNames': ['no'],
                 'verbs': ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']}]},
        }
        if method == 'GET' and path in discovery:
            return 200, discovery[path]
        user = USERS[role]
        with self.lock:
            if path == '/api/v1/nodes' and method == 'GET':
                if role == 'none':
                    return status(403, 'Forbidden', 'nodes is forbidden: User "%s" cannot list resource "nodes" in '
                                                    'API group "" at the cluster scope' % user)
                return 200, {'kind': 'NodeList', 'apiVersion': 'v1',
                             'metadata': {'resourceVersion': str(self.revision)},
                             'items': [copy.deepcopy(self.nodes[n]) for n in sorted(self.nodes)]}
            prefix = '/api/v1/nodes/'
            if not path.startswith(prefix) or '/' in path[len(prefix):] or not path[len(prefix):]:
                return status(404, 'NotFound', 'the server could not find the requested resource')
            name = path[len(prefix):]
            verb = {'GET': 'get', 'PATCH': 'patch'}.get(method)
            if verb is None:
                return status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                                                       'resource')
            if role == 'none' or (role == 'ro' and verb != 'get'):
                return status(403, 'Forbidden', 'nodes "%s" is forbidden: User "%s" cannot %s resource "nodes" in '
                                                'API group "" at the cluster scope' % (name, user, verb), name)
            node = self.nodes.get(name)
            if node is None:
                return status(404, 'NotFound', 'nodes "%s" not found' % name, name)
            if method == 'GET':
                answer = copy.deepcopy(node)
                if self.conflicts.get(name):
                    self.conflicts[name] -= 1
                    self._write(node, {})  # someone else wrote it right after our read
                return 200, answer
            ctype = (headers.get('Content-Type') or '').split(';')[0].strip()
            if ctype not in PATCH_TYPES:
                return status(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - '
                                                           'accepted media types include: ' + ', '.join(PATCH_TYPES))
            try:
                patch = json.loads(body or b'null')
            except ValueError as e:
                return status(400, 'BadRequest', 'error decoding patch: %s' % e)
            try:
                if ctype == 'application/json-patch+json':
                    patched = json_patch(node, patch)
                else:
                    if not isinstance(patch, dict):
                        return status(400, 'BadRequest', 'error decoding patch: not a JSON object')
                    patched = merge_patch(node, patch)
            except _PatchError as e:
                return e.answer
            rv = (patched.get('metadata') or {}).get('resourceVersion')
            if rv and rv != node['metadata']['resourceVersion']:
                return status(409, 'Conflict', CONFLICT_MSG % name, name)
            patched['metadata']['resourceVersion'] = node['metadata']['resourceVersion']
            if patched != node:
                self._write(node, patched)
            return 200, copy.deepcopy(node)

    def _write(self, node, new):
        if new:
            node.clear()
            node.update(new)
        self.revision += 1
        node['metadata']['resourceVersion'] = str(self.revision)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def _do(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                path = self.path.split('?', 1)[0]
                ctype = self.headers.get('Content-Type')
                server.requests.append((self.command, path, ctype, body))
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
