# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one way to talk to a Kubernetes API server (used by every k8s module).

- ``AUTH_ARG_SPEC``: the connection options, named as in kubernetes.core (same environment fallbacks), plus
  ``request_timeout``. Documented by the doc fragment ``ipmasq.agent.k8s_auth``.
- ``connect(module)`` -> ``Cluster``: loads the configuration (host with credentials, else the kubeconfig/context
  given, else the pod's service account when running in a pod, else the default kubeconfig), applies the options
  over it, and fails the module with a readable message when it cannot.
- ``Cluster.call(what, fn, ...)`` runs one API call with the request timeout and turns any failure into ``K8sError``
  (``explain``): HTTP errors with the API server's own message, unreachable server, untrusted certificate, timeout.
- ``FIELD_MANAGER`` goes with every write; ``dry_run(module)`` is ``'All'`` in check mode, so a write in check mode
  is validated and authorised by the API server and stored nowhere.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import os
import re
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

try:
    import urllib3
    import yaml
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import incluster_config

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

FIELD_MANAGER = 'ipmasq-agent'
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_KUBECONFIG = '~/.kube/config'

AUTH_ARG_SPEC = dict(
    kubeconfig=dict(type='path', fallback=(env_fallback, ['K8S_AUTH_KUBECONFIG'])),
    context=dict(type='str', fallback=(env_fallback, ['K8S_AUTH_CONTEXT'])),
    host=dict(type='str', fallback=(env_fallback, ['K8S_AUTH_HOST'])),
    api_key=dict(type='str', no_log=True, fallback=(env_fallback, ['K8S_AUTH_API_KEY'])),
    ca_cert=dict(type='path', aliases=['ssl_ca_cert'], fallback=(env_fallback, ['K8S_AUTH_SSL_CA_CERT'])),
    client_cert=dict(type='path', aliases=['cert_file'], fallback=(env_fallback, ['K8S_AUTH_CERT_FILE'])),
    client_key=dict(type='path', aliases=['key_file'], no_log=False, fallback=(env_fallback, ['K8S_AUTH_KEY_FILE'])),
    validate_certs=dict(type='bool', aliases=['verify_ssl'], fallback=(env_fallback, ['K8S_AUTH_VERIFY_SSL'])),
    proxy=dict(type='str', fallback=(env_fallback, ['K8S_AUTH_PROXY'])),
    request_timeout=dict(type='float', default=DEFAULT_REQUEST_TIMEOUT),
)

_REASONS = {400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
            409: 'Conflict', 410: 'Gone', 415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests',
            500: 'InternalError', 502: 'BadGateway', 503: 'ServiceUnavailable', 504: 'Timeout'}


class K8sError(Exception):
    """A failed API call, readable: ``msg`` for the user, ``status`` the HTTP code (None when there was no answer)."""

    def __init__(self, msg, status=None):
        super(K8sError, self).__init__(msg)
        self.msg = msg
        self.status = status


def dry_run(module):
    """The ``dry_run`` argument for every write: 'All' in check mode (validated, authorised, not stored)."""
    return 'All' if module.check_mode else None


def _text(data):
    if isinstance(data, bytes):
        data = data.decode('utf-8', 'replace')
    return data or ''


def _status_body(body):
    """A Status-like JSON answer (message/reason/code; a real 504 from a dead etcd has no `kind`) as a dict, else None."""
    try:
        obj = json.loads(_text(body))
    except ValueError:
        return None
    if isinstance(obj, dict) and any(k in obj for k in ('message', 'reason', 'code')):
        return obj
    return None


def _one_line(text, limit=300):
    text = ' '.join(_text(text if isinstance(text, (bytes, str)) else str(text)).split())
    return text if len(text) <= limit else text[:limit] + '...'


def _server_message(exc):
    """(reason, message) of an HTTP error answer: from the Status body when there is one, never raw JSON."""
    body = getattr(exc, 'body', None)
    obj = _status_body(body)
    reason = getattr(exc, 'reason', None) or ''
    if obj is not None:
        causes = [c for c in ((obj.get('details') or {}).get('causes') or []) if isinstance(c, dict)]
        message = obj.get('message') or ''
        if causes and not message:
            message = '; '.join('%s: %s' % (c.get('field') or c.get('reason') or '?', c.get('message') or '')
                                for c in causes)
        return obj.get('reason') or reason, _one_line(message or obj.get('reason') or '')
    if body and _text(body).lstrip().startswith(('{', '[')):
        return reason, ''  # JSON that is no Status: say nothing rather than print it raw
    return reason, _one_line(body)


def _strip_repr(text):
    """urllib3 prefixes its messages with the connection object (repr or "HTTPSConnection(host=..., port=...)"): drop it."""
    return re.sub(r'^(<[^>]*>|\w*Connection(Pool)?\([^)]*\)):\s*', '', _text(text).strip())


def _transport(exc):
    """The urllib3/socket error behind exc (kubernetes and urllib3 wrap them), or exc."""
    seen = 0
    while seen < 5:
        seen += 1
        inner = getattr(exc, 'reason', None)
        if isinstance(inner, BaseException):
            exc = inner
            continue
        break
    return exc


def _names(exc):
    return set(c.__name__ for c in type(exc).__mro__)


def explain(exc, what, host=None, timeout=None):
    """A readable ``K8sError`` for any failure of the API call ``what`` (a verb phrase: "patch node 'n1'").

    ``host`` (the API server URL) and ``timeout`` (request_timeout, seconds) make transport errors more precise.
    """
    if isinstance(exc, K8sError):
        return exc
    at = ' at %s' % host if host else ''
    status = getattr(exc, 'status', None)
    if isinstance(status, int) and status >= 100:
        reason, message = _server_message(exc)
        reason = reason or _REASONS.get(status, '')
        code = ('%d %s' % (status, reason)).strip()
        detail = (': %s' % message) if message else ''
        if status == 401:
            msg = 'the API server did not accept the credentials (%s) to %s%s' % (code, what, detail)
        elif status == 403:
            msg = 'the API server refused to %s (%s)%s' % (what, code, detail)
        elif status == 404:
            msg = 'cannot %s: not found (%s)%s' % (what, code, detail)
        elif status == 409:
            msg = 'cannot %s: conflict (%s)%s' % (what, code, detail)
        elif status == 422:
            obj = _status_body(getattr(exc, 'body', None)) or {}
            causes = [c for c in ((obj.get('details') or {}).get('causes') or []) if isinstance(c, dict)]
            if causes:
                detail = ': ' + '; '.join('%s: %s' % (c.get('field') or c.get('reason') or '?', c.get('message') or '')
                                          for c in causes)
            msg = 'the API server rejected the request to %s as invalid (%s)%s' % (what, code, detail)
        elif status >= 500:
            msg = 'the API server failed to %s (%s)%s' % (what, code, detail)
        else:
            msg = 'cannot %s: %s%s' % (what, code, detail)
        return K8sError(msg, status)

    # No HTTP answer. The kubernetes client turns urllib3's SSLError into ApiException(status=0, reason='SSLError\n...')
    reason_text = _text(getattr(exc, 'reason', '') if status == 0 else '')
    inner = _transport(exc)
    names = _names(inner)
    text = _strip_repr(reason_text if status == 0 else str(inner))
    if status == 0 and reason_text.startswith('SSLError') or 'SSLError' in names or 'SSLCertVerificationError' in names:
        text = _strip_repr(re.sub(r'^SSLError\s*', '', text))
        if 'CERTIFICATE_VERIFY_FAILED' in text or 'certificate verify failed' in text.lower() or \
                'SSLCertVerificationError' in names:
            return K8sError("the API server's certificate is not trusted (ca_cert / validate_certs): %s (trying to %s%s)"
                            % (_one_line(text), what, at))
        return K8sError('TLS with the API server%s failed: %s (trying to %s)' % (at, _one_line(text), what))
    if 'NewConnectionError' in names or 'ConnectionRefusedError' in names or 'gaierror' in names or \
            'NameResolutionError' in names:
        text = re.sub(r'^.*Failed to establish a new connection:\s*', '', text)
        return K8sError('cannot reach the API server%s: %s (trying to %s)' % (at, _one_line(text), what))
    if names & set(['ReadTimeoutError', 'ConnectTimeoutError', 'TimeoutError', 'timeout']):
        within = ('within %g s' % timeout) if timeout else 'in time'
        return K8sError('no answer from the API server%s %s (request_timeout) (trying to %s)' % (at, within, what))
    if names & set(['ProtocolError', 'ConnectionError', 'RemoteDisconnected', 'ConnectionResetError']):
        return K8sError('the API server%s closed the connection: %s (trying to %s)' % (at, _one_line(text), what))
    if 'ProxyError' in names:
        return K8sError('cannot reach the API server%s through the proxy: %s (trying to %s)' % (at, _one_line(text), what))
    return K8sError('cannot %s: %s' % (what, _one_line(text or type(inner).__name__)))


def send(api_client, resource_path, method, query, headers, body=None, _request_timeout=None):
    """One request by path (any resource, any patch content type) through ``api_client``; the JSON answer as plain
    data, an ``ApiException`` (``status``, ``reason``, ``body``) for an HTTP error. The client changed its
    ``ApiClient.call_api`` in release 37 (``param_serialize`` then ``call_api(method, url, ...)``, which no longer
    raises on HTTP errors nor decodes the answer); both generations are served here, so that the modules do not
    depend on which one is installed."""
    if not hasattr(api_client, 'param_serialize'):  # kubernetes < 37
        return api_client.call_api(resource_path, method, {}, query, headers, body=body, response_type='object',
                                   auth_settings=['BearerToken'], _return_http_data_only=True, _preload_content=True,
                                   _request_timeout=_request_timeout)
    method, url, headers, body, post = api_client.param_serialize(method, resource_path, query_params=query,
                                                                  header_params=headers, body=body,
                                                                  auth_settings=['BearerToken'])
    answer = api_client.call_api(method, url, header_params=headers, body=body, post_params=post,
                                 _request_timeout=_request_timeout)
    data = answer.read()
    text = data.decode('utf-8', 'replace') if isinstance(data, bytes) else (data or '')
    if not 200 <= answer.status <= 299:
        error = ApiException(status=answer.status, reason=answer.reason)
        error.body = text
        raise error
    return json.loads(text) if text.strip() else None


class Cluster(object):
    """A connected API client: ``api_client`` (requests go through ``send``), ``host``,
    ``request_timeout`` (seconds) and ``timeout``, the value to pass as ``_request_timeout`` (connect and read
    timeouts; the client ignores a plain float)."""

    def __init__(self, api_client, request_timeout=DEFAULT_REQUEST_TIMEOUT):
        self.api_client = api_client
        self.host = api_client.configuration.host
        self.request_timeout = float(request_timeout)
        self.timeout = (self.request_timeout, self.request_timeout)

    def call(self, what, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` with the request timeout; any failure raises ``K8sError`` (see ``explain``)."""
        kwargs.setdefault('_request_timeout', self.timeout)
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # the client's ApiException, urllib3's errors, OSError
            raise explain(e, what, host=self.host, timeout=self.request_timeout)


def _kubeconfig_files(value):
    return [os.path.expanduser(p) for p in value.split(os.pathsep) if p]


def _check_kubeconfig(module, files, option, context):
    """Fail the module with a clear message unless every file is a readable, non-empty kubeconfig with ``context``."""
    contexts = []
    for path in files:
        if not os.path.exists(path):
            module.fail_json(msg='%s: the kubeconfig file %s does not exist' % (option, path))
        try:
            with open(path, 'rb') as f:
                data = f.read()
        except (IOError, OSError) as e:
            module.fail_json(msg='%s: cannot read the kubeconfig file %s: %s' % (option, path, e))
        if not data.strip():
            module.fail_json(msg='%s: the kubeconfig file %s is empty' % (option, path))
        try:
            doc = yaml.safe_load(data)
        except yaml.YAMLError as e:
            module.fail_json(msg='%s: the kubeconfig file %s is not valid YAML: %s' % (option, path, _one_line(e)))
        if not isinstance(doc, dict) or not (doc.get('clusters') or doc.get('contexts')):
            module.fail_json(msg='%s: %s is not a kubeconfig (no clusters or contexts in it)' % (option, path))
        contexts.extend(c.get('name') for c in doc.get('contexts') or [] if isinstance(c, dict))
    if context and context not in contexts:
        module.fail_json(msg="context: no context named '%s' in %s (contexts: %s)"
                         % (context, os.pathsep.join(files), ', '.join(sorted(str(c) for c in contexts)) or 'none'))


def _in_cluster():
    return bool(os.environ.get(incluster_config.SERVICE_HOST_ENV_NAME)) and \
        os.path.exists(incluster_config.SERVICE_TOKEN_FILENAME)


def connect(module):
    """A ``Cluster`` from the module's AUTH_ARG_SPEC options; fails the module with a readable message if it cannot.

    Precedence (as kubernetes.core): ``host`` with ``api_key`` or ``client_cert``+``client_key`` needs no file;
    else ``kubeconfig``/``context`` when given; else the pod's service account when running in a pod; else the
    default kubeconfig (``KUBECONFIG``, else ``~/.kube/config``). The other options override what was loaded.
    """
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=KUBERNETES_IMPORT_ERROR)
    p = module.params
    timeout = p.get('request_timeout')
    if timeout is None:
        timeout = DEFAULT_REQUEST_TIMEOUT
    if not (math.isfinite(timeout) and timeout > 0):
        module.fail_json(msg='request_timeout: must be more than 0 seconds, got %s' % timeout)
    for option in ('ca_cert', 'client_cert', 'client_key'):
        if p.get(option) and not os.path.isfile(p[option]):
            module.fail_json(msg='%s: the file %s does not exist' % (option, p[option]))
    host = (p.get('host') or '').rstrip('/')
    cfg = k8s_client.Configuration()
    if host and (p.get('api_key') or (p.get('client_cert') and p.get('client_key'))):
        load = None  # enough to authenticate: no file needed
    elif p.get('kubeconfig') or p.get('context') or not _in_cluster():
        option = 'kubeconfig' if p.get('kubeconfig') else None
        files = _kubeconfig_files(p.get('kubeconfig') or os.environ.get('KUBECONFIG') or DEFAULT_KUBECONFIG)
        if option is None and not any(os.path.exists(f) for f in files):
            if p.get('context'):
                module.fail_json(msg="context: the default kubeconfig file %s does not exist (context '%s')"
                                     % (os.pathsep.join(files), p['context']))
            module.fail_json(msg='no Kubernetes configuration: the default kubeconfig file %s does not exist, this '
                                 'is not a pod with a service account, and no host with api_key was given'
                                 % os.pathsep.join(files))
        _check_kubeconfig(module, [f for f in files if option or os.path.exists(f)], option or 'kubeconfig',
                          p.get('context'))
        source = 'kubeconfig: cannot use %s' % os.pathsep.join(files)
        load = (k8s_config.load_kube_config, dict(config_file=os.pathsep.join(files), context=p.get('context'),
                                                  client_configuration=cfg, persist_config=False))
    else:
        source = "cannot use the pod's service account (in-cluster configuration)"
        load = (k8s_config.load_incluster_config, dict(client_configuration=cfg))
    if load is not None:
        try:
            load[0](**load[1])
        except Exception as e:  # ConfigException, and what a broken file makes the loader raise (base64, YAML types)
            module.fail_json(msg='%s: %s' % (source, _one_line(e)))
    if host:
        cfg.host = host
    if p.get('api_key'):
        cfg.api_key = {'authorization': 'Bearer %s' % p['api_key']}
        cfg.api_key_prefix = {}
        cfg.refresh_api_key_hook = None  # the kubeconfig's or service account's token would come back on every call
    if p.get('ca_cert'):
        cfg.ssl_ca_cert = p['ca_cert']
    if p.get('client_cert'):
        cfg.cert_file = p['client_cert']
    if p.get('client_key'):
        cfg.key_file = p['client_key']
    if p.get('validate_certs') is not None:
        cfg.verify_ssl = p['validate_certs']
    if p.get('proxy'):
        cfg.proxy = p['proxy']
    # One attempt per call, bounded by request_timeout: urllib3's default 3 retries would multiply the wait and
    # hide the first error behind "Max retries exceeded".
    cfg.retries = False
    if cfg.verify_ssl is False:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return Cluster(k8s_client.ApiClient(configuration=cfg), timeout)
