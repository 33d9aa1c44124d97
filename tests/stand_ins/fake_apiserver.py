"""A stand-in for the Kubernetes API server, FOR TESTS ONLY (shipped beside tests/unit, whose Kubernetes tests import it).

No kube-apiserver, k3s or kind can run on the machines this project is tested on, so the tests talk to this instead.
It is not a Kubernetes API server: it serves nodes, namespaces, configmaps and apps/v1 daemonsets for the calls the
collection and the tests' `kubectl` and official Python client make, and answers them the way the real server does.
Unless marked SIMPLIFICATION, each behaviour below was OBSERVED ON THE REAL SERVER (a genuine kube-apiserver v1.36.2
with etcd) or follows its source; tests/integration/test_stand_in.py holds the stand-in to it with real clients.

Observed on the real server:
- Authentication: no credentials at all is the anonymous user: 403 Forbidden naming User "system:anonymous" (also on
  discovery, except /version). An unknown bearer token is 401 Unauthorized.
- `GET /api/v1/nodes/` (trailing slash, empty name) is the collection (NodeList), like `GET /api/v1/nodes`.
- `dryRun=All` on every write (POST, PUT, PATCH, DELETE): authorisation, admission (namespace exists), validation,
  defaulting and conflict checks run and the answer is what the write would return, but NOTHING is stored (no
  resourceVersion moves). Any other dryRun value is 400.
- Labels on any object are validated with the real rules (key: optional DNS-1123 subdomain prefix of at most 253
  characters and '/', then a name of at most 63; value at most 63) -> 422 Invalid, a Status with details.causes and
  the real wording.
- Hooks `etcd_down` (every resource request waits `etcd_timeout` seconds, then 504 with the real body, which has no
  kind/apiVersion) and `delay` (every resource response is held that long). Both wait on an Event that stop() sets.
- Field managers: every write records metadata.managedFields {manager, operation Update|Apply, apiVersion, time,
  fieldsType FieldsV1, fieldsV1}. The manager is the fieldManager query parameter, else the User-Agent up to its first
  '/' (the official Python client: `OpenAPI-Generator`). An invalid fieldManager (over 128 characters, non-printable)
  is 422.
- Server-side apply (PATCH application/apply-patch+yaml): fieldManager required (422 PatchOptions), creates when
  absent (201), conflicts with other managers' differing fields are 409 (details.causes name field and manager) unless
  force=true, a manager's applied configuration replaces what it applied before (fields it no longer applies are
  removed unless another manager owns them).
- A patch or PUT that changes metadata.name or namespace is 400 "the name of the object (NEW) does not match the name
  on the URL (OLD)".
- Merge, strategic-merge and JSON patches; a resourceVersion precondition (patch or PUT carrying a stale
  metadata.resourceVersion) is 409 with the real message; a write that changes nothing is not a write (the
  resourceVersion stays); one revision counter for the whole server, like etcd's; errors are Status objects.
- Namespaces default, kube-system, kube-public exist; a namespaced create in a missing namespace is 404
  `namespaces "x" not found` (NamespaceLifecycle admission).
- ConfigMaps: data keys `[-._a-zA-Z0-9]+` of at most 253 characters, not '.'/'..'/'..*'; data and binaryData together
  at most 1048576 bytes ("[]: Too long: must have at most 1048576 bytes"); PUT without resourceVersion is an
  unconditional update; POST of an existing name 409 AlreadyExists; DELETE answers a Status Success.
- DaemonSets apps/v1: spec.selector required, must match spec.template.metadata.labels and is immutable; containers
  required, each with name and image; generation 1 on create and +1 when the spec changes; status is the status
  subresource's (kept on writes to the object). Server defaults applied (like apps/v1 and core/v1 defaulting):
  updateStrategy {type RollingUpdate, rollingUpdate {maxUnavailable 1, maxSurge 0}}, revisionHistoryLimit 10,
  template.spec {restartPolicy Always, dnsPolicy ClusterFirst, schedulerName default-scheduler,
  terminationGracePeriodSeconds 30, securityContext {}}, each (init) container {terminationMessagePath
  /dev/termination-log, terminationMessagePolicy File, imagePullPolicy Always for :latest or no tag else IfNotPresent,
  resources {}, ports' protocol TCP (hostPort = containerPort with hostNetwork), env fieldRef apiVersion v1, probes'
  timeoutSeconds 1, periodSeconds 10, successThreshold 1, failureThreshold 3}, volumes' configMap/secret defaultMode
  420 and hostPath type "". Status on create: the four counters at 0.
- RBAC: forbidden messages in the real form (`configmaps "x" is forbidden: User "u" cannot patch resource "configmaps"
  in API group "" in the namespace "kube-system"`, `in API group "apps"`, `at the cluster scope`); dry runs need the
  same permissions as the write; a server-side apply that creates also needs "create".
- Discovery for kubectl: /version, /api, /api/v1, /apis (group apps, v1), /apis/apps/v1. Aggregated discovery and
  /openapi/v2, /openapi/v3 answer 404; kubectl then falls back (to the legacy discovery, to client-side patches).

SIMPLIFICATIONS (the stand-in's own, not the real server's):
- Field ownership is tracked per label key, per annotation key, per ConfigMap data/binaryData key and per `immutable`;
  every other top-level field (spec of a DaemonSet, Node or Namespace) is ONE atomic field ("f:spec": {}). A map's
  "." entry is listed whenever the manager owns a key in it. managedFields sent by clients are ignored.
- Unknown fields are kept, not pruned; fieldValidation is accepted and not enforced. No watch, no Table output (kubectl
  prints from the list), no subresources, no generateName, label selectors (=, ==, !=, exists, !exists) and field
  selectors metadata.name/metadata.namespace only; limit/continue are ignored (one page). Deleting removes the object
  at once (propagationPolicy is not looked at; a namespace goes with its objects). Request bodies are JSON or YAML;
  protobuf only for a v1 ConfigMap or Namespace (kubectl's imperative `create configmap|namespace` send it); any other
  protobuf or CBOR body is 415 (e.g. `kubectl create deployment|secret ...`; `kubectl create -f` and `apply` send
  JSON).
- Strategic merge patch knows the merge keys of the pod template lists (containers, volumes, env, volumeMounts,
  ports, ...) and the directives $patch, $retainKeys, $setElementOrder, $deleteFromPrimitiveList.
- 400 for a bad dryRun value carries the validation's wording.

Tokens: `tokens={token: role}`; role 'rw' (every verb on every resource, user "admin"), 'ro' (get, list, watch; user
"viewer"), 'none' (nothing; user "nobody"), or a dict {resource: [verbs]} ('*' for any resource; the user is the
token itself), e.g. {'cm-only': {'configmaps': ['get', 'list', 'create', 'patch', 'update', 'delete']}}.

Test hooks: `conflicts[name] = n` makes the next n GETs of that node be followed at once by a write from "someone
else"; `writer(name, interval)` starts a steady concurrent writer of the node's status (like the kubelet) until
stop() or the returned handle's stop(); `etcd_down`, `etcd_timeout`, `delay` as above. `requests` records
(method, path, content type, body, parsed query {name: [values]}) of every request.
"""
import base64
import copy
import datetime
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import unicodedata
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml

CONFLICT_MSG = ('Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your '
                'changes to the latest version and try again')
PATCH_TYPES = ('application/json-patch+json', 'application/merge-patch+json',
               'application/strategic-merge-patch+json', 'application/apply-patch+yaml')
USERS = {'rw': 'admin', 'ro': 'viewer', 'none': 'nobody'}
ANONYMOUS = 'system:anonymous'
MAX_CONFIGMAP = 1048576
ETCD_TIMEOUT_BODY = {'metadata': {}, 'status': 'Failure',
                     'message': 'Timeout: request did not complete within requested timeout - context deadline '
                                'exceeded', 'reason': 'Timeout', 'details': {}, 'code': 504}


class Res(object):
    def __init__(self, plural, group, kind, namespaced, short):
        self.plural, self.group, self.kind, self.namespaced, self.short = plural, group, kind, namespaced, short
        self.api_version = (group + '/v1') if group else 'v1'

    @property
    def qualified(self):  # schema.GroupResource.String()
        return self.plural + ('.' + self.group if self.group else '')

    @property
    def group_kind(self):  # schema.GroupKind.String()
        return self.kind + ('.' + self.group if self.group else '')

    def details(self, name, **extra):
        d = {'name': name}
        if self.group:
            d['group'] = self.group
        d['kind'] = self.plural
        d.update(extra)
        return d


RESOURCES = {
    'nodes': Res('nodes', '', 'Node', False, ['no']),
    'namespaces': Res('namespaces', '', 'Namespace', False, ['ns']),
    'configmaps': Res('configmaps', '', 'ConfigMap', True, ['cm']),
    'daemonsets': Res('daemonsets', 'apps', 'DaemonSet', True, ['ds']),
}
ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super(ApiError, self).__init__(message)
        self.answer = status(code, reason, message, details)


# kept for old callers: _PatchError(code, reason, message)
_PatchError = ApiError


def status(code, reason, message, details=None, name=None):
    body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': message,
            'reason': reason, 'code': code}
    if name:
        details = {'name': name, 'kind': 'nodes'}
    if details is not None:
        body['details'] = details
    elif code == 404:
        body['details'] = {}
    return code, body


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


# --- field errors (k8s.io/apimachinery/pkg/util/validation/field), with the real wording ----------------------
GO_ESCAPES = {'\a': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v',
              '"': '\\"', '\\': '\\\\'}


def go_quote(s):
    """Go's strconv.Quote (%q)."""
    out = []
    for ch in s:
        if ch in GO_ESCAPES:
            out.append(GO_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append('\\x%02x' % ord(ch))
        elif not ch.isprintable():
            out.append('\\u%04x' % ord(ch) if ord(ch) < 0x10000 else '\\U%08x' % ord(ch))
        else:
            out.append(ch)
    return '"' + ''.join(out) + '"'


def go_value(value):
    """The value as Go's field.Error prints it (%q for strings, %#v for maps)."""
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return 'null'
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        if not value:
            return 'map[string]string(nil)'
        return 'map[string]string{%s}' % ', '.join('%s:%s' % (go_quote(k), go_quote(v))
                                                   for k, v in sorted(value.items()))
    return json.dumps(value, sort_keys=True)


class FieldError(object):
    TYPES = {'Invalid': ('FieldValueInvalid', 'Invalid value'), 'Required': ('FieldValueRequired', 'Required value'),
             'TooLong': ('FieldValueTooLong', 'Too long'),
             'NotSupported': ('FieldValueNotSupported', 'Unsupported value'),
             'Forbidden': ('FieldValueForbidden', 'Forbidden')}

    def __init__(self, kind, field, value=None, detail=''):
        self.kind, self.field, self.value, self.detail = kind, field, value, detail

    def body(self):
        label = self.TYPES[self.kind][1]
        s = label if self.kind in ('Required', 'Forbidden', 'TooLong') else '%s: %s' % (label, self.value_text())
        return s + (': ' + self.detail if self.detail else '')

    def value_text(self):
        return self.value if isinstance(self.value, _Raw) else go_value(self.value)

    def __str__(self):
        return '%s: %s' % (self.field, self.body())


class _Raw(str):
    """A value already printed the Go way."""


def invalid_error(kind_label, name, errs, group='', kind=None):
    causes = [{'reason': FieldError.TYPES[e.kind][0], 'message': e.body(), 'field': e.field} for e in errs]
    agg = str(errs[0]) if len(errs) == 1 else '[%s]' % ', '.join(str(e) for e in errs)
    details = {'name': name}
    if group:
        details['group'] = group
    details['kind'] = kind or kind_label.split('.')[0]
    details['causes'] = causes
    if not name:
        del details['name']
    return ApiError(422, 'Invalid', '%s %s is invalid: %s' % (kind_label, json.dumps(name), agg), details)


def regex_error(msg, fmt, *examples):
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    msg += ' (e.g. '
    for i, e in enumerate(examples):
        if i:
            msg += ' or '
        msg += "'" + e + "', "
    return msg + "regex used for validation is '" + fmt + "')"


def max_len_error(n):
    return 'must be no more than %d bytes' % n


QUALIFIED_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'
QUALIFIED_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " \
                "alphanumeric character"
LABEL_VALUE_FMT = '(' + QUALIFIED_FMT + ')?'
LABEL_VALUE_MSG = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and " \
                  "must start and end with an alphanumeric character"
DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?'
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + '(\\.' + DNS1123_LABEL_FMT + ')*'
DNS1123_SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or " \
                        "'.', and must start and end with an alphanumeric character"
DNS1123_LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must " \
                    "start and end with an alphanumeric character"
CONFIG_KEY_FMT = '[-._a-zA-Z0-9]+'
CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"


def _full(fmt, s):
    return re.fullmatch(fmt, s) is not None


def is_dns1123_subdomain(s):
    errs = []
    if len(s) > 253:
        errs.append(max_len_error(253))
    if not _full(DNS1123_SUBDOMAIN_FMT, s):
        errs.append(regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, 'example.com'))
    return errs


def is_dns1123_label(s):
    errs = []
    if len(s) > 63:
        errs.append(max_len_error(63))
    if not _full(DNS1123_LABEL_FMT, s):
        errs.append(regex_error(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, 'my-name', '123-abc'))
    return errs


def is_qualified_name(value):
    """validation.IsQualifiedName: the rules for label keys (and annotation keys)."""
    errs = []
    parts = value.split('/')
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append('prefix part must be non-empty')
        else:
            errs.extend('prefix part ' + m for m in is_dns1123_subdomain(prefix))
    else:
        return ['a qualified name ' + regex_error(QUALIFIED_MSG, QUALIFIED_FMT, 'MyName', 'my.name', '123-abc') +
                " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append('name part must be non-empty')
    elif len(name) > 63:
        errs.append('name part ' + max_len_error(63))
    if name and not _full(QUALIFIED_FMT, name):
        errs.append('name part ' + regex_error(QUALIFIED_MSG, QUALIFIED_FMT, 'MyName', 'my.name', '123-abc'))
    return errs


def is_label_value(value):
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _full(LABEL_VALUE_FMT, value):
        errs.append(regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'))
    return errs


def is_config_map_key(key):
    errs = []
    if len(key) > 253:
        errs.append(max_len_error(253))
    if not _full(CONFIG_KEY_FMT, key):
        errs.append(regex_error(CONFIG_KEY_MSG, CONFIG_KEY_FMT, 'key.name', 'KEY_NAME', 'key-name'))
    if key == '.':
        errs.append("must not be '.'")
    elif key == '..':
        errs.append("must not be '..'")
    elif key.startswith('..'):
        errs.append("must not start with '..'")
    return errs


def validate_labels(labels, field='metadata.labels'):
    errs = []
    if labels is None:
        return errs
    if not isinstance(labels, dict):
        return [FieldError('Invalid', field, _Raw(json.dumps(labels)), 'must be a map of strings')]
    for k in sorted(labels):
        errs.extend(FieldError('Invalid', field, k, m) for m in is_qualified_name(k))
        v = labels[k]
        if not isinstance(v, str):
            errs.append(FieldError('Invalid', field, _Raw(json.dumps(v)), 'a label value must be a string'))
            continue
        errs.extend(FieldError('Invalid', field, v, m) for m in is_label_value(v))
    return errs


def validate_annotations(annotations, field='metadata.annotations'):
    errs = []
    if not annotations:
        return errs
    total = 0
    for k in sorted(annotations):
        errs.extend(FieldError('Invalid', field, k, m) for m in is_qualified_name(k.lower()))
        total += len(k) + len(str(annotations[k]))
    if total > 262144:
        errs.append(FieldError('TooLong', field, None, 'must have at most 262144 bytes'))
    return errs


def validate_field_manager(manager, kind_label):
    errs = []
    if len(manager) > 128:
        errs.append(FieldError('TooLong', 'fieldManager', None, 'must have at most 128 bytes'))
    for i, ch in enumerate(manager):
        if not ch.isprintable() or unicodedata.category(ch) in ('Cc', 'Cf'):
            errs.append(FieldError('Invalid', 'fieldManager', manager,
                                   'invalid character U+%04X (at position %d)' % (ord(ch), i)))
    if errs:
        raise invalid_error(kind_label, '', errs, group='meta.k8s.io', kind=kind_label.split('.')[0])


# --- selectors --------------------------------------------------------------------------------------------
def _label_selector_matches(selector, labels):
    """A query labelSelector (k=v, k==v, k!=v, k, !k) against labels."""
    for term in [t.strip() for t in selector.split(',') if t.strip()]:
        if '!=' in term:
            k, v = term.split('!=', 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif '=' in term:
            k, v = term.replace('==', '=').split('=', 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith('!'):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field_selector_matches(selector, obj):
    meta = obj.get('metadata') or {}
    for term in [t.strip() for t in selector.split(',') if t.strip()]:
        neg = '!=' in term
        k, v = re.split('!=|==|=', term, 1)
        field = {'metadata.name': meta.get('name'), 'metadata.namespace': meta.get('namespace')}
        if k not in field:
            raise ApiError(400, 'BadRequest', 'field label not supported: %s' % k)
        if (field[k] == v) == neg:
            return False
    return True


def _selector_matches(sel, labels):
    """A LabelSelector object (matchLabels, matchExpressions) against labels; None matches nothing."""
    if sel is None:
        return False
    for k, v in (sel.get('matchLabels') or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get('matchExpressions') or []:
        op, k, vals = e.get('operator'), e.get('key'), e.get('values') or []
        if op == 'In' and labels.get(k) not in vals:
            return False
        if op == 'NotIn' and k in labels and labels[k] in vals:
            return False
        if op == 'Exists' and k not in labels:
            return False
        if op == 'DoesNotExist' and k in labels:
            return False
    return True


# --- patches ----------------------------------------------------------------------------------------------
def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


MERGE_KEYS = {'containers': 'name', 'initContainers': 'name', 'ephemeralContainers': 'name', 'volumes': 'name',
              'env': 'name', 'volumeMounts': 'mountPath', 'volumeDevices': 'devicePath', 'ports': 'containerPort',
              'imagePullSecrets': 'name', 'hostAliases': 'ip', 'conditions': 'type', 'addresses': 'type',
              'ownerReferences': 'uid', 'resourceClaims': 'name'}
MERGE_PRIMITIVES = ('finalizers',)


def _strip_directives(v):
    if isinstance(v, dict):
        return dict((k, _strip_directives(x)) for k, x in v.items() if not k.startswith('$'))
    if isinstance(v, list):
        return [_strip_directives(x) for x in v]
    return v


def strategic_merge_patch(orig, patch):
    """Strategic merge patch for the built-in types served here (see the module docstring)."""
    if not isinstance(patch, dict):
        return _strip_directives(patch)
    if patch.get('$patch') == 'replace':
        return _strip_directives(dict((k, v) for k, v in patch.items() if k != '$patch'))
    if patch.get('$patch') == 'delete':
        return None
    result = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    orders = {}
    for k, v in patch.items():
        if k.startswith('$setElementOrder/'):
            orders[k.split('/', 1)[1]] = v
        elif k.startswith('$deleteFromPrimitiveList/'):
            f = k.split('/', 1)[1]
            result[f] = [x for x in result.get(f) or [] if x not in v]
        elif k in ('$patch', '$retainKeys'):
            continue
        elif k.startswith('$'):
            raise ApiError(400, 'BadRequest', 'unknown patch directive %s' % k)
        elif v is None:
            result.pop(k, None)
        elif isinstance(v, list) and k in MERGE_KEYS:
            result[k] = _merge_list(result.get(k), v, MERGE_KEYS[k])
        elif isinstance(v, list) and k in MERGE_PRIMITIVES:
            result[k] = list(result.get(k) or []) + [x for x in v if x not in (result.get(k) or [])]
        elif isinstance(v, dict):
            merged = strategic_merge_patch(result.get(k), v)
            if merged is None:
                result.pop(k, None)
            else:
                result[k] = merged
        else:
            result[k] = _strip_directives(v)
    for f, order in orders.items():
        key = MERGE_KEYS.get(f)
        items = result.get(f) or []
        if key is None:
            ranked = [x for x in order if x in items] + [x for x in items if x not in order]
        else:
            wanted = [o.get(key) for o in order if isinstance(o, dict)]
            ranked = sorted(items, key=lambda x: wanted.index(x.get(key)) if x.get(key) in wanted else len(wanted))
        if f in result:
            result[f] = ranked
    if isinstance(patch.get('$retainKeys'), list):
        result = dict((k, v) for k, v in result.items() if k in patch['$retainKeys'])
    return result


def _merge_list(orig, items, key):
    if any(isinstance(i, dict) and i.get('$patch') == 'replace' for i in items):
        return [_strip_directives(i) for i in items if not (isinstance(i, dict) and '$patch' in i)]
    result = copy.deepcopy(orig) if isinstance(orig, list) else []
    for item in items:
        if not isinstance(item, dict):
            result.append(item)
            continue
        idx = next((i for i, x in enumerate(result) if isinstance(x, dict) and x.get(key) == item.get(key)), None)
        if item.get('$patch') == 'delete':
            result = [x for x in result if not (isinstance(x, dict) and x.get(key) == item.get(key))]
        elif idx is None:
            result.append(_strip_directives(item))
        else:
            result[idx] = strategic_merge_patch(result[idx], item)
    return result


def _pointer(path):
    if path == '':
        return []
    if not path.startswith('/'):
        raise ApiError(422, 'Invalid', 'invalid JSON pointer %r' % path)
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
        raise ApiError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch')
    for op in ops:
        kind, parts = op.get('op'), _pointer(op.get('path', ''))
        try:
            parent, last = _walk(doc, parts[:-1]), parts[-1] if parts else None
            if kind == 'test':
                if _walk(doc, parts) != op.get('value'):
                    raise ApiError(422, 'Invalid', 'the server rejected our request due to an error in our '
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
                raise ApiError(422, 'Invalid', 'unexpected operation %r' % kind)
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request: '
                                           '%s operation does not apply: doc is missing path: "%s"'
                           % (kind, op.get('path')))
    return doc


# --- field ownership (managedFields, FieldsV1) ------------------------------------------------------------
MAP_FIELDS = {'metadata': ('labels', 'annotations')}
DATA_FIELDS = ('data', 'binaryData')
NOT_TRACKED = ('apiVersion', 'kind', 'metadata', 'status')


def leaves(obj):
    """The tracked fields of an object: {path tuple: value} (see SIMPLIFICATIONS)."""
    out = {}
    meta = obj.get('metadata') or {}
    for m in MAP_FIELDS['metadata']:
        for k, v in (meta.get(m) or {}).items():
            out[('metadata', m, k)] = v
    for k, v in obj.items():
        if k in NOT_TRACKED:
            continue
        if k in DATA_FIELDS and isinstance(v, dict):
            for dk, dv in v.items():
                out[(k, dk)] = dv
        else:
            out[(k,)] = v
    return out


def to_fields_v1(paths):
    root = {}
    for p in sorted(paths):
        node = root
        for i, part in enumerate(p):
            node = node.setdefault('f:' + part, {})
            if i < len(p) - 1 and len(p) > 1 and (p[:i + 1] in (('metadata', 'labels'), ('metadata', 'annotations'))
                                                  or (i == 0 and part in DATA_FIELDS)):
                node['.'] = {}
    return root


def from_fields_v1(fields, prefix=()):
    out = set()
    for k, v in (fields or {}).items():
        if k == '.' or not k.startswith('f:'):
            continue
        p = prefix + (k[2:],)
        children = [c for c in v if c != '.']
        if children:
            out |= from_fields_v1(v, p)
        elif '.' not in v:
            out.add(p)
    return out


def _set_path(obj, path, value):
    node = obj
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = copy.deepcopy(value)


def _del_path(obj, path):
    node = obj
    for part in path[:-1]:
        node = node.get(part)
        if not isinstance(node, dict):
            return
    node.pop(path[-1], None)
    if len(path) > 1 and node == {} and path[-2] in ('labels', 'annotations', 'data', 'binaryData'):
        _del_path(obj, path[:-1])


class _Writer(object):
    def __init__(self, server, name, interval):
        self.stopped = threading.Event()
        self.server, self.name, self.interval = server, name, interval
        self.writes = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped.wait(self.interval) and not self.server.stopped.is_set():
            with self.server.lock:
                node = self.server.nodes.get(self.name)
                if node is None:
                    continue
                node['status']['conditions'] = [{'type': 'Ready', 'status': 'True', 'reason': 'KubeletReady',
                                                 'lastHeartbeatTime': now(), 'heartbeat': self.writes}]
                mf = [e for e in node['metadata'].get('managedFields', []) if e.get('subresource') != 'status']
                node['metadata']['managedFields'] = mf + [{
                    'manager': 'kubelet', 'operation': 'Update', 'apiVersion': 'v1', 'time': now(),
                    'fieldsType': 'FieldsV1', 'fieldsV1': {'f:status': {'f:conditions': {}}}, 'subresource': 'status'}]
                self.server._bump(node)
                self.writes += 1

    def stop(self):
        self.stopped.set()
        self.thread.join(5)


class FakeApiServer(object):
    def __init__(self, nodes=(), tokens=None, tls=True, workdir=None):
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.revision = 1000
        self.nodes = {}
        self.namespaces = {}
        self.configmaps = {}  # (namespace, name) -> object
        self.daemonsets = {}
        self.store = {'nodes': self.nodes, 'namespaces': self.namespaces, 'configmaps': self.configmaps,
                      'daemonsets': self.daemonsets}
        for name in nodes:
            self.add_node(name)
        for ns in ('default', 'kube-system', 'kube-public'):
            self.add_namespace(ns)
        # token -> 'rw' | 'ro' | 'none' | {resource: [verbs]}
        self.tokens = tokens or {'admin-token': 'rw', 'viewer-token': 'ro', 'nobody-token': 'none'}
        self.conflicts = {}
        self.requests = []
        self.etcd_down = False
        self.etcd_timeout = 0.2
        self.delay = 0
        self._writers = []
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

    def _new_meta(self, name, namespace=None):
        self.revision += 1
        meta = {'name': name}
        if namespace:
            meta['namespace'] = namespace
        meta.update({'uid': str(uuid.uuid4()), 'resourceVersion': str(self.revision), 'creationTimestamp': now()})
        return meta

    def add_node(self, name, labels=None):
        meta = self._new_meta(name)
        meta['uid'] = 'uid-%s' % name
        meta['labels'] = dict({'kubernetes.io/hostname': name}, **(labels or {}))
        node = {'kind': 'Node', 'apiVersion': 'v1', 'metadata': meta, 'spec': {}, 'status': {}}
        meta['managedFields'] = self._managed([], None, node, 'kubelet', 'Update', 'v1')
        self.nodes[name] = node

    def add_namespace(self, name):
        meta = self._new_meta(name)
        meta['labels'] = {'kubernetes.io/metadata.name': name}
        self.namespaces[name] = {'kind': 'Namespace', 'apiVersion': 'v1', 'metadata': meta,
                                 'spec': {'finalizers': ['kubernetes']}, 'status': {'phase': 'Active'}}

    def labels(self, name):
        return dict(self.nodes[name]['metadata'].get('labels') or {})

    def writer(self, name, interval):
        """Start a steady concurrent writer of node `name`'s status every `interval` s; returns a handle (.stop())."""
        w = _Writer(self, name, interval)
        self._writers.append(w)
        return w

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopped.set()
        for w in self._writers:
            w.stop()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def kubeconfig(self, path, token='admin-token', contexts=None, current=None):
        """Write a kubeconfig for this server. contexts: {context name: token}; default one context 'test'.
        A token None is a user without credentials (anonymous)."""
        contexts = contexts or {'test': token}
        cluster = {'server': self.url}
        if self.ca_pem:
            cluster['certificate-authority-data'] = base64.b64encode(self.ca_pem).decode()
        cfg = {'apiVersion': 'v1', 'kind': 'Config', 'preferences': {},
               'current-context': current or sorted(contexts)[0],
               'clusters': [{'name': 'stand-in', 'cluster': cluster}],
               'users': [{'name': 'user-' + c, 'user': {'token': t} if t is not None else {}}
                         for c, t in sorted(contexts.items())],
               'contexts': [{'name': c, 'context': {'cluster': 'stand-in', 'user': 'user-' + c}}
                            for c in sorted(contexts)]}
        with open(path, 'w') as f:
            json.dump(cfg, f)
        return path

    # --- discovery -----------------------------------------------------------------------------------------
    def _discovery(self):
        def resources(group):
            out = []
            for r in RESOURCES.values():
                if r.group == group:
                    out.append({'name': r.plural, 'singularName': r.kind.lower(), 'namespaced': r.namespaced,
                                'kind': r.kind, 'verbs': ALL_VERBS, 'shortNames': r.short,
                                'storageVersionHash': r.kind})
            return out
        return {
            '/version': {'major': '1', 'minor': '36', 'gitVersion': 'v1.36.2-stand-in', 'platform': 'linux/amd64'},
            '/api': {'kind': 'APIVersions', 'versions': ['v1'],
                     'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': '127.0.0.1'}]},
            '/apis': {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': [
                {'name': 'apps', 'versions': [{'groupVersion': 'apps/v1', 'version': 'v1'}],
                 'preferredVersion': {'groupVersion': 'apps/v1', 'version': 'v1'}}]},
            '/api/v1': {'kind': 'APIResourceList', 'groupVersion': 'v1', 'resources': resources('')},
            '/apis/apps': {'kind': 'APIGroup', 'apiVersion': 'v1', 'name': 'apps',
                           'versions': [{'groupVersion': 'apps/v1', 'version': 'v1'}],
                           'preferredVersion': {'groupVersion': 'apps/v1', 'version': 'v1'}},
            '/apis/apps/v1': {'kind': 'APIResourceList', 'apiVersion': 'v1', 'groupVersion': 'apps/v1',
                              'resources': resources('apps')},
            '/openapi/v3': {'paths': {'api/v1': {'serverRelativeURL': '/openapi/v3/api/v1?hash=STANDIN'},
                                      'apis/apps/v1': {'serverRelativeURL': '/openapi/v3/apis/apps/v1?hash=STANDIN'}}},
            '/openapi/v3/api/v1': self._openapi(''),
            '/openapi/v3/apis/apps/v1': self._openapi('apps'),
        }

    @staticmethod
    def _openapi(group):
        """The OpenAPI v3 paths kubectl looks at: PATCH operations (with their GVK) that take fieldValidation, so that
        kubectl leaves validation to the server (fieldValidation=Strict) instead of validating with the schemas. No
        component schemas: kubectl builds client-side apply patches from its own compiled-in types."""
        paths = {}
        params = [{'name': n, 'in': 'query', 'schema': {'type': 'string', 'uniqueItems': True}}
                  for n in ('dryRun', 'fieldManager', 'fieldValidation', 'force')]
        for r in RESOURCES.values():
            if r.group != group:
                continue
            prefix = ('/apis/%s/v1' % group) if group else '/api/v1'
            item = prefix + ('/namespaces/{namespace}/%s/{name}' if r.namespaced else '/%s/{name}') % r.plural
            gvk = {'group': group, 'version': 'v1', 'kind': r.kind}
            paths[item] = {'parameters': params, 'patch': {
                'operationId': 'patch' + r.kind, 'x-kubernetes-action': 'patch', 'parameters': params,
                'x-kubernetes-group-version-kind': gvk, 'responses': {'200': {'description': 'OK'}}}}
        return {'openapi': '3.0.0', 'info': {'title': 'Kubernetes (stand-in)', 'version': 'v1.36.2'},
                'paths': paths}

    # --- request handling --------------------------------------------------------------------------------------
    @staticmethod
    def _route(path):
        """(resource, namespace, name) for a resource path, else None. name '' or None is the collection."""
        for prefix, group in (('/api/v1/', ''), ('/apis/apps/v1/', 'apps')):
            if path.startswith(prefix):
                segs = path[len(prefix):].split('/')
                break
        else:
            return None
        ns = None
        if len(segs) >= 3 and segs[0] == 'namespaces' and segs[2]:
            ns, segs = segs[1], segs[2:]
        if len(segs) > 2:
            return None  # subresources are not served
        res = RESOURCES.get(segs[0])
        if res is None or res.group != group or (ns is not None and not res.namespaced):
            return None
        return res, ns, (segs[1] if len(segs) == 2 else '')

    def _user(self, headers):
        auth = headers.get('Authorization')
        if not auth:
            return ANONYMOUS, None
        role = self.tokens.get(auth[len('Bearer '):]) if auth.startswith('Bearer ') else None
        if role is None:
            raise ApiError(401, 'Unauthorized', 'Unauthorized')
        return (USERS[role] if isinstance(role, str) else auth[len('Bearer '):]), role

    @staticmethod
    def _allowed(role, verb, res):
        if role is None or role == 'none':
            return False
        if role == 'rw':
            return True
        if role == 'ro':
            return verb in ('get', 'list', 'watch')
        return verb in (role.get(res.plural) or role.get('*') or ())

    def _authorize(self, user, role, verb, res, ns, name):
        if self._allowed(role, verb, res):
            return
        where = ('in the namespace "%s"' % ns) if ns else 'at the cluster scope'
        why = 'User "%s" cannot %s resource "%s" in API group "%s" %s' % (user, verb, res.plural, res.group, where)
        if name:
            raise ApiError(403, 'Forbidden', '%s "%s" is forbidden: %s' % (res.qualified, name, why),
                           res.details(name))
        details = {'group': res.group, 'kind': res.plural} if res.group else {'kind': res.plural}
        raise ApiError(403, 'Forbidden', '%s is forbidden: %s' % (res.qualified, why), details)

    def handle(self, method, path, headers, body, query=None):
        query = query or {}
        try:
            user, role = self._user(headers)
            route = self._route(path)
            if route is None:
                disc = self._discovery()
                if method == 'GET' and path in disc:
                    if role is None and path != '/version':
                        raise ApiError(403, 'Forbidden', 'forbidden: User "%s" cannot get path "%s"' % (user, path),
                                       {})
                    return 200, disc[path]
                if role is None:
                    raise ApiError(403, 'Forbidden', 'forbidden: User "%s" cannot %s path "%s"'
                                   % (user, method.lower(), path), {})
                return status(404, 'NotFound', 'the server could not find the requested resource')
            res, ns, name = route
            if res.namespaced and ns is None and (name or method != 'GET'):
                return status(404, 'NotFound', 'the server could not find the requested resource')
            verb = {'GET': 'get' if name else 'list', 'POST': 'create', 'PUT': 'update', 'PATCH': 'patch',
                    'DELETE': 'delete' if name else 'deletecollection'}.get(method)
            if verb is None or (method == 'POST' and name) or (method in ('PUT', 'PATCH') and not name):
                return status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                                                       'resource')
            if verb == 'list' and query.get('watch', [''])[0] in ('true', '1'):
                verb = 'watch'
            self._authorize(user, role, verb, res, ns, name)
            if self.etcd_down:
                self.stopped.wait(self.etcd_timeout)
                return 504, copy.deepcopy(ETCD_TIMEOUT_BODY)
            if self.delay:
                self.stopped.wait(self.delay)
            if verb == 'watch':
                return status(405, 'MethodNotAllowed', 'watch is not served by the stand-in')
            dry = self._dry_run(method, query, body)
            with self.lock:
                if verb == 'list':
                    return self._list(res, ns, query)
                if verb == 'get':
                    return self._get(res, ns, name)
                if verb == 'deletecollection':
                    return status(405, 'MethodNotAllowed', 'deletecollection is not served by the stand-in')
                if verb == 'delete':
                    return self._delete(res, ns, name, body, dry)
                manager = self._manager(method, query, headers, headers.get('Content-Type'))
                if verb == 'create':
                    return self._create(res, ns, self._decode(body, headers), manager, dry)
                if verb == 'update':
                    return self._update(res, ns, name, self._decode(body, headers), manager, dry)
                return self._patch(res, ns, name, body, headers, query, manager, dry, user, role)
        except ApiError as e:
            return e.answer

    # --- helpers -----------------------------------------------------------------------------------------------
    @staticmethod
    def _options_kind(method):
        return {'POST': 'CreateOptions', 'PUT': 'UpdateOptions', 'PATCH': 'PatchOptions',
                'DELETE': 'DeleteOptions'}[method] + '.meta.k8s.io'

    def _dry_run(self, method, query, body):
        values = query.get('dryRun')
        if method == 'DELETE' and body:  # kubectl sends DeleteOptions (with dryRun) in the body
            try:
                values = (values or []) + list((json.loads(body) or {}).get('dryRun') or [])
            except (ValueError, AttributeError, TypeError):
                pass  # answered by _delete
        if not values or method == 'GET':
            return False
        bad = [v for v in values if v != 'All']
        if bad:
            raise ApiError(400, 'BadRequest', '%s "" is invalid: dryRun: Unsupported value: []string{%s}: supported '
                                              'values: "All"' % (self._options_kind(method),
                                                                 ', '.join(json.dumps(v) for v in values)))
        return True

    def _manager(self, method, query, headers, ctype):
        kind_label = self._options_kind(method)
        manager = (query.get('fieldManager') or [''])[0]
        apply = (ctype or '').split(';')[0].strip() == 'application/apply-patch+yaml'
        if method == 'PATCH':
            if apply and not manager:
                raise invalid_error(kind_label, '', [FieldError('Required', 'fieldManager', None,
                                                                'is required for apply patch')],
                                    group='meta.k8s.io', kind='PatchOptions')
            if not apply and 'force' in query:
                raise invalid_error(kind_label, '', [FieldError('Forbidden', 'force', None,
                                                                'may not be specified for non-apply patch')],
                                    group='meta.k8s.io', kind='PatchOptions')
        validate_field_manager(manager, kind_label)
        if not manager:
            manager = (headers.get('User-Agent') or '').split('/')[0][:128]
        return manager

    @staticmethod
    def _decode(body, headers):
        ctype = (headers.get('Content-Type') or '').split(';')[0].strip()
        if ctype == 'application/vnd.kubernetes.protobuf':
            obj = decode_protobuf(body)
            if obj is not None:
                return obj
        if 'protobuf' in ctype or 'cbor' in ctype:
            raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted '
                                                        'media types include: application/json, application/yaml '
                                                        '(the stand-in does not decode %s)' % ctype)
        try:
            if ctype in ('application/yaml', 'application/apply-patch+yaml'):
                return yaml.safe_load(body.decode() or 'null')
            return json.loads(body or b'null')
        except (ValueError, yaml.YAMLError) as e:
            raise ApiError(400, 'BadRequest', 'the object provided is unrecognized (%s)' % e)

    def _key(self, res, ns, name):
        return (ns, name) if res.namespaced else name

    def _find(self, res, ns, name):
        return self.store[res.plural].get(self._key(res, ns, name))

    def _not_found(self, res, name):
        return ApiError(404, 'NotFound', '%s "%s" not found' % (res.qualified, name), res.details(name))

    def _bump(self, obj):
        self.revision += 1
        obj['metadata']['resourceVersion'] = str(self.revision)

    def _list(self, res, ns, query):
        items = []
        for key in sorted(self.store[res.plural]):
            obj = self.store[res.plural][key]
            if ns is not None and obj['metadata'].get('namespace') != ns:
                continue
            if 'labelSelector' in query and not _label_selector_matches(query['labelSelector'][0],
                                                                        obj['metadata'].get('labels') or {}):
                continue
            if 'fieldSelector' in query and not _field_selector_matches(query['fieldSelector'][0], obj):
                continue
            item = copy.deepcopy(obj)
            item.pop('kind', None)  # list items come without kind and apiVersion, as from the real server
            item.pop('apiVersion', None)
            items.append(item)
        return 200, {'kind': res.kind + 'List', 'apiVersion': res.api_version,
                     'metadata': {'resourceVersion': str(self.revision)}, 'items': items}

    def _get(self, res, ns, name):
        obj = self._find(res, ns, name)
        if obj is None:
            raise self._not_found(res, name)
        answer = copy.deepcopy(obj)
        if res.plural == 'nodes' and self.conflicts.get(name):
            self.conflicts[name] -= 1
            self._bump(obj)  # someone else wrote it right after our read
        return 200, answer

    def _delete(self, res, ns, name, body, dry):
        obj = self._find(res, ns, name)
        if obj is None:
            raise self._not_found(res, name)
        try:
            opts = json.loads(body) if body else {}
        except ValueError as e:
            raise ApiError(400, 'BadRequest', 'error decoding DeleteOptions: %s' % e)
        pre = (opts or {}).get('preconditions') or {}
        rv = obj['metadata']['resourceVersion']
        if pre.get('resourceVersion') and pre['resourceVersion'] != rv:
            raise ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": the ResourceVersion in the '
                                            'precondition (%s) does not match the ResourceVersion in record (%s). The '
                                            'object might have been modified' % (res.qualified, name,
                                                                                 pre['resourceVersion'], rv),
                           res.details(name))
        if pre.get('uid') and pre['uid'] != obj['metadata']['uid']:
            raise ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": Precondition failed: UID in '
                                            'precondition: %s, UID in object meta: %s'
                           % (res.qualified, name, pre['uid'], obj['metadata']['uid']), res.details(name))
        if res.plural == 'namespaces':
            answer = copy.deepcopy(obj)
            answer['metadata']['deletionTimestamp'] = now()
            answer['status'] = {'phase': 'Terminating'}
            if not dry:
                del self.namespaces[name]
                for store in (self.configmaps, self.daemonsets):
                    for key in [k for k in store if k[0] == name]:
                        del store[key]
                self.revision += 1
            return 200, answer
        if not dry:
            del self.store[res.plural][self._key(res, ns, name)]
            self.revision += 1
        return 200, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Success',
                     'details': res.details(name, uid=obj['metadata']['uid'])}

    def _check_body(self, res, ns, obj, url_name=None):
        if not isinstance(obj, dict):
            raise ApiError(400, 'BadRequest', 'the object provided is unrecognized (must be of type %s)' % res.kind)
        av, kind = obj.get('apiVersion'), obj.get('kind')
        if av and av != res.api_version:
            raise ApiError(400, 'BadRequest', 'the API version in the data (%s) does not match the expected API '
                                              'version (%s)' % (av, res.api_version))
        if kind and kind != res.kind:
            raise ApiError(400, 'BadRequest', 'the kind in the data (%s) does not match the expected kind (%s)'
                           % (kind, res.kind))
        meta = obj.setdefault('metadata', {}) if isinstance(obj.get('metadata'), dict) or obj.get('metadata') is None \
            else None
        if meta is None:
            raise ApiError(400, 'BadRequest', 'the object provided is unrecognized (metadata must be an object)')
        if res.namespaced:
            if meta.get('namespace') and meta['namespace'] != ns:
                raise ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace '
                                                  'sent on the request')
            meta['namespace'] = ns
        else:
            meta.pop('namespace', None)
        if url_name is not None and meta.get('name', url_name) != url_name:
            raise ApiError(400, 'BadRequest', 'the name of the object (%s) does not match the name on the URL (%s)'
                           % (meta.get('name'), url_name))
        obj['apiVersion'], obj['kind'] = res.api_version, res.kind
        meta.pop('managedFields', None)
        return obj

    def _namespace_must_exist(self, res, ns):
        if res.namespaced and ns not in self.namespaces:
            raise ApiError(404, 'NotFound', 'namespaces "%s" not found' % ns, {'name': ns, 'kind': 'namespaces'})

    def _create(self, res, ns, obj, manager, dry, operation='Update', code=201):
        obj = self._check_body(res, ns, obj)
        meta = obj['metadata']
        name = meta.get('name')
        if not name:
            raise invalid_error(res.group_kind, '', [FieldError('Required', 'metadata.name', None,
                                                                'name or generateName is required')],
                                group=res.group, kind=res.kind)
        self._namespace_must_exist(res, ns)
        if self._find(res, ns, name) is not None:
            raise ApiError(409, 'AlreadyExists', '%s "%s" already exists' % (res.qualified, name), res.details(name))
        for k in ('uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'generation'):
            meta.pop(k, None)
        self._default(res, obj, None)
        self._validate(res, obj, None)
        fresh = self._new_meta(name, ns if res.namespaced else None)
        if dry:
            self.revision -= 1
            fresh.pop('resourceVersion')
        meta.update(fresh)
        if res.plural == 'daemonsets':
            meta['generation'] = 1
        meta['managedFields'] = self._managed([], None, obj, manager, operation, res.api_version,
                                              applied=leaves(obj) if operation == 'Apply' else None)
        obj = self._ordered(obj)
        if not dry:
            self.store[res.plural][self._key(res, ns, name)] = obj
        return code, copy.deepcopy(obj)

    def _update(self, res, ns, name, obj, manager, dry):
        current = self._find(res, ns, name)
        obj = self._check_body(res, ns, obj, url_name=name)
        obj['metadata'].setdefault('name', name)
        if current is None:
            raise self._not_found(res, name)
        return self._write(res, ns, name, current, obj, manager, 'Update', dry)

    def _write(self, res, ns, name, current, new, manager, operation, dry, applied=None):
        """Store `new` in place of `current` (resourceVersion precondition, defaults, validation, managedFields)."""
        rv = (new.get('metadata') or {}).get('resourceVersion')
        if rv and rv != current['metadata']['resourceVersion']:
            raise ApiError(409, 'Conflict', CONFLICT_MSG % (res.qualified, name), res.details(name))
        meta = new['metadata']
        for k in ('uid', 'creationTimestamp', 'resourceVersion', 'generation'):
            if k in current['metadata']:
                meta[k] = current['metadata'][k]
            else:
                meta.pop(k, None)
        if 'status' in current and res.plural in ('daemonsets', 'nodes', 'namespaces'):
            new['status'] = copy.deepcopy(current['status'])  # the status subresource's
        self._default(res, new, current)
        self._validate(res, new, current)
        if res.plural == 'daemonsets' and new.get('spec') != current.get('spec'):
            meta['generation'] = current['metadata'].get('generation', 0) + 1
        old_mf = current['metadata'].get('managedFields') or []
        meta['managedFields'] = self._managed(old_mf, current, new, manager, operation, res.api_version,
                                              applied=applied)
        new = self._ordered(new)
        if self._same(current, new):
            return 200, copy.deepcopy(current)
        if not dry:
            current.clear()
            current.update(new)
            self._bump(current)
            return 200, copy.deepcopy(current)
        return 200, copy.deepcopy(new)

    @staticmethod
    def _same(a, b):
        def strip(o):
            o = copy.deepcopy(o)
            for e in o['metadata'].get('managedFields') or []:
                e.pop('time', None)
            return o
        return strip(a) == strip(b)

    @staticmethod
    def _ordered(obj):
        out = {'kind': obj['kind'], 'apiVersion': obj['apiVersion'], 'metadata': obj['metadata']}
        out.update((k, v) for k, v in obj.items() if k not in out)
        order = ('name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
                 'deletionTimestamp', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields')
        meta = out['metadata']
        out['metadata'] = dict([(k, meta[k]) for k in order if k in meta] +
                               [(k, v) for k, v in meta.items() if k not in order])
        return out

    def _managed(self, entries, current, new, manager, operation, api_version, applied=None):
        """The managedFields after `manager` wrote `new` over `current` (None on create)."""
        entries = copy.deepcopy(entries)
        sets = [from_fields_v1(e.get('fieldsV1')) for e in entries]
        old_leaves, new_leaves = leaves(current or {}), leaves(new)
        if operation == 'Apply':
            mine = set(applied)
            for e, s in zip(entries, sets):
                if not (e['manager'] == manager and e['operation'] == 'Apply') and not e.get('subresource'):
                    s -= set(p for p in mine if old_leaves.get(p) != new_leaves.get(p))  # forced away
        else:
            changed = set(p for p in set(old_leaves) | set(new_leaves) if old_leaves.get(p) != new_leaves.get(p))
            for e, s in zip(entries, sets):
                if not e.get('subresource'):
                    s -= changed
            mine = set(p for p in changed if p in new_leaves)
        stamp = now()
        for e, s in zip(entries, sets):
            if e['manager'] == manager and e['operation'] == operation and not e.get('subresource') and \
                    (operation == 'Apply' or e.get('apiVersion') == api_version):
                if operation == 'Update':
                    s |= mine
                else:
                    s.clear()
                    s |= mine
                mine = None
                e['time'] = stamp
                break
        out = []
        for e, s in zip(entries, sets):
            s &= set(new_leaves) | (set(p for p in s if p[0] == 'status') if e.get('subresource') else set())
            if s or e.get('subresource'):
                if not e.get('subresource'):
                    e['fieldsV1'] = to_fields_v1(s)
                out.append(e)
        if mine:
            out.append({'manager': manager, 'operation': operation, 'apiVersion': api_version, 'time': stamp,
                        'fieldsType': 'FieldsV1', 'fieldsV1': to_fields_v1(mine)})
        return out

    # --- patch and server-side apply ------------------------------------------------------------------------------
    def _patch(self, res, ns, name, body, headers, query, manager, dry, user, role):
        ctype = (headers.get('Content-Type') or '').split(';')[0].strip()
        if ctype not in PATCH_TYPES:
            return status(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - '
                                                       'accepted media types include: ' + ', '.join(PATCH_TYPES))
        if ctype == 'application/apply-patch+yaml':
            force = (query.get('force') or ['false'])[0] == 'true'
            return self._apply(res, ns, name, self._decode(body, headers), manager, dry, force, user, role)
        current = self._find(res, ns, name)
        if current is None:
            raise self._not_found(res, name)
        try:
            patch = json.loads(body or b'null')
        except ValueError as e:
            raise ApiError(400, 'BadRequest', 'error decoding patch: %s' % e)
        if ctype == 'application/json-patch+json':
            patched = json_patch(current, patch)
        elif not isinstance(patch, dict):
            raise ApiError(400, 'BadRequest', 'error decoding patch: not a JSON object')
        elif ctype == 'application/merge-patch+json':
            patched = merge_patch(current, patch)
        else:
            patched = strategic_merge_patch(current, patch)
        meta = patched.get('metadata') if isinstance(patched, dict) else None
        if not isinstance(meta, dict):
            raise ApiError(400, 'BadRequest', 'the object provided is unrecognized (metadata must be an object)')
        if meta.get('name') != name:
            raise ApiError(400, 'BadRequest', 'the name of the object (%s) does not match the name on the URL (%s)'
                           % (meta.get('name') or '', name))
        if res.namespaced and meta.get('namespace') != ns:
            raise ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace '
                                              'sent on the request')
        patched = self._check_body(res, ns, patched, url_name=name)
        return self._write(res, ns, name, current, patched, manager, 'Update', dry)

    def _apply(self, res, ns, name, config, manager, dry, force, user, role):
        if not isinstance(config, dict) or not config.get('apiVersion') or not config.get('kind'):
            raise ApiError(400, 'BadRequest', "Object 'Kind' is missing in the apply patch (apiVersion and kind are "
                                              "required)")
        config = self._check_body(res, ns, config, url_name=name)
        config['metadata'].setdefault('name', name)
        current = self._find(res, ns, name)
        defaulted = copy.deepcopy(config)
        self._default(res, defaulted, None)
        applied = dict((p, v) for p, v in leaves(defaulted).items() if p in leaves(config))
        if current is None:
            self._authorize(user, role, 'create', res, ns, name)  # creating through apply also needs create
            return self._create(res, ns, config, manager, dry, operation='Apply', code=201)
        cur_leaves = leaves(current)
        entries = current['metadata'].get('managedFields') or []
        conflicts = []
        for e in entries:
            if (e['manager'] == manager and e['operation'] == 'Apply') or e.get('subresource'):
                continue
            for p in sorted(from_fields_v1(e.get('fieldsV1'))):
                if p in applied and cur_leaves.get(p) != applied[p]:
                    conflicts.append((e['manager'], e.get('apiVersion', res.api_version), p))
        if conflicts and not force:
            raise self._conflict(conflicts)
        previous = set()
        for e in entries:
            if e['manager'] == manager and e['operation'] == 'Apply':
                previous = from_fields_v1(e.get('fieldsV1'))
        others = set()
        for e in entries:
            if not (e['manager'] == manager and e['operation'] == 'Apply'):
                others |= from_fields_v1(e.get('fieldsV1'))
        new = copy.deepcopy(current)
        for p in previous - set(applied):
            if p not in others:
                _del_path(new, p)
        for p, v in applied.items():
            _set_path(new, p, v)
        rv = config['metadata'].get('resourceVersion')
        if rv:
            new['metadata']['resourceVersion'] = rv
        else:
            new['metadata'].pop('resourceVersion', None)
        return self._write(res, ns, name, current, new, manager, 'Apply', dry, applied=applied)

    @staticmethod
    def _conflict(conflicts):
        by = {}
        for m, av, p in conflicts:
            by.setdefault((m, av), []).append('.' + '.'.join(p))
        causes = [{'reason': 'FieldManagerConflict', 'message': 'conflict with "%s" using %s' % (m, av), 'field': f}
                  for (m, av), fs in by.items() for f in fs]
        n = len(conflicts)
        head = 'Apply failed with %d conflict%s: ' % (n, '' if n == 1 else 's')
        parts = []
        for (m, av), fs in by.items():
            if len(fs) == 1 and n == 1:
                parts.append('conflict with "%s" using %s: %s' % (m, av, fs[0]))
            else:
                parts.append('conflicts with "%s" using %s:\n%s' % (m, av, '\n'.join('- ' + f for f in fs)))
        return ApiError(409, 'Conflict', head + '\n'.join(parts), {'causes': causes})

    # --- defaults and validation ------------------------------------------------------------------------------
    def _default(self, res, obj, current):
        if res.plural == 'daemonsets':
            default_daemonset(obj)
            if current is None:
                obj['status'] = {'currentNumberScheduled': 0, 'numberMisscheduled': 0, 'desiredNumberScheduled': 0,
                                 'numberReady': 0}
        elif res.plural == 'nodes':
            obj.setdefault('spec', {})
            obj.setdefault('status', {})
        elif res.plural == 'namespaces':
            obj['metadata'].setdefault('labels', {})['kubernetes.io/metadata.name'] = obj['metadata']['name']
            obj['spec'] = obj.get('spec') or {'finalizers': ['kubernetes']}
            if current is None:
                obj['status'] = {'phase': 'Active'}

    def _validate(self, res, obj, current):
        meta = obj['metadata']
        errs = []
        if res.plural in ('namespaces', 'nodes') and current is None:
            check = is_dns1123_label if res.plural == 'namespaces' else is_dns1123_subdomain
            errs.extend(FieldError('Invalid', 'metadata.name', meta['name'], m) for m in check(meta['name']))
        elif current is None:
            errs.extend(FieldError('Invalid', 'metadata.name', meta['name'], m) for m in is_dns1123_subdomain(
                meta['name']))
        errs.extend(validate_labels(meta.get('labels')))
        errs.extend(validate_annotations(meta.get('annotations')))
        if res.plural == 'configmaps':
            errs.extend(validate_configmap(obj, current))
        elif res.plural == 'daemonsets':
            errs.extend(validate_daemonset(obj, current))
        if errs:
            raise invalid_error(res.group_kind, meta['name'], errs, group=res.group, kind=res.kind)

    # --- HTTP ----------------------------------------------------------------------------------------------------
    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def _do(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                parts = urlsplit(self.path)
                query = parse_qs(parts.query, keep_blank_values=True)
                ctype = self.headers.get('Content-Type')
                server.requests.append((self.command, parts.path, ctype, body, query))
                code, obj = server.handle(self.command, parts.path, self.headers, body, query)
                data = json.dumps(obj).encode()
                try:
                    self.send_response(code)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass  # the client gave up (its own timeout)

            do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _do

            def log_message(self, *args):
                pass

        return Handler


# --- protobuf bodies (kubectl's imperative `create configmap|namespace` send them) -------------------------------
def _pb_fields(buf):
    i = 0
    while i < len(buf):
        key, i = _pb_varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _pb_varint(buf, i)
        elif wire == 2:
            n, i = _pb_varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError('unsupported protobuf wire type %d' % wire)
        yield num, value


def _pb_varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def _pb_map(entry, binary=False):
    kv = dict(_pb_fields(entry))
    value = kv.get(2, b'')
    return kv.get(1, b'').decode(), base64.b64encode(value).decode() if binary else value.decode()


def _pb_object_meta(buf):
    meta = {}
    for num, v in _pb_fields(buf):
        if num in (1, 2, 3, 6) and v:
            meta[{1: 'name', 2: 'generateName', 3: 'namespace', 6: 'resourceVersion'}[num]] = v.decode()
        elif num in (11, 12):
            k, val = _pb_map(v)
            meta.setdefault('labels' if num == 11 else 'annotations', {})[k] = val
    return meta


def decode_protobuf(body):
    """A k8s protobuf envelope holding a v1 ConfigMap or Namespace, as JSON would carry it; None for anything else."""
    if not body.startswith(b'k8s\x00'):
        return None
    try:
        unknown = dict(_pb_fields(body[4:]))
        type_meta = dict(_pb_fields(unknown.get(1, b'')))
        api_version, kind = type_meta.get(1, b'').decode(), type_meta.get(2, b'').decode()
        if api_version != 'v1' or kind not in ('ConfigMap', 'Namespace'):
            return None
        obj = {'apiVersion': api_version, 'kind': kind, 'metadata': {}}
        for num, v in _pb_fields(unknown.get(2, b'')):
            if num == 1:
                obj['metadata'] = _pb_object_meta(v)
            elif kind == 'ConfigMap' and num in (2, 3):
                k, val = _pb_map(v, binary=num == 3)
                obj.setdefault('data' if num == 2 else 'binaryData', {})[k] = val
            elif kind == 'ConfigMap' and num == 4:
                obj['immutable'] = bool(v)
            elif kind == 'Namespace' and num == 2:
                obj['spec'] = {'finalizers': [f.decode() for n, f in _pb_fields(v) if n == 1]}
        return obj
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


# --- the resources' own defaults and validation --------------------------------------------------------------
def _image_pull_policy(image):
    name = image.split('@', 1)[0]
    last = name.rsplit('/', 1)[-1]
    if '@' in image and ':' not in last:
        return 'IfNotPresent'
    tag = last.split(':', 1)[1] if ':' in last else 'latest'
    return 'Always' if tag == 'latest' else 'IfNotPresent'


def _default_probe(p):
    if isinstance(p, dict):
        for k, v in (('timeoutSeconds', 1), ('periodSeconds', 10), ('successThreshold', 1), ('failureThreshold', 3)):
            p.setdefault(k, v)
        if isinstance(p.get('httpGet'), dict):
            p['httpGet'].setdefault('scheme', 'HTTP')


def default_pod_spec(spec):
    spec.setdefault('restartPolicy', 'Always')
    spec.setdefault('terminationGracePeriodSeconds', 30)
    spec.setdefault('dnsPolicy', 'ClusterFirst')
    spec.setdefault('securityContext', {})
    spec.setdefault('schedulerName', 'default-scheduler')
    for c in (spec.get('initContainers') or []) + (spec.get('containers') or []):
        if not isinstance(c, dict):
            continue
        c.setdefault('resources', {})
        c.setdefault('terminationMessagePath', '/dev/termination-log')
        c.setdefault('terminationMessagePolicy', 'File')
        if isinstance(c.get('image'), str) and c['image']:
            c.setdefault('imagePullPolicy', _image_pull_policy(c['image']))
        for port in c.get('ports') or []:
            port.setdefault('protocol', 'TCP')
            if spec.get('hostNetwork') and 'containerPort' in port:
                port.setdefault('hostPort', port['containerPort'])
        for env in c.get('env') or []:
            ref = (env.get('valueFrom') or {}).get('fieldRef')
            if isinstance(ref, dict):
                ref.setdefault('apiVersion', 'v1')
        for probe in ('livenessProbe', 'readinessProbe', 'startupProbe'):
            _default_probe(c.get(probe))
    for v in spec.get('volumes') or []:
        for src in ('configMap', 'secret'):
            if isinstance(v.get(src), dict):
                v[src].setdefault('defaultMode', 420)
        if isinstance(v.get('hostPath'), dict):
            v['hostPath'].setdefault('type', '')


def default_daemonset(ds):
    spec = ds.setdefault('spec', {})
    if not isinstance(spec, dict):
        return
    us = spec.setdefault('updateStrategy', {})
    us.setdefault('type', 'RollingUpdate')
    if us['type'] == 'RollingUpdate':
        ru = us.setdefault('rollingUpdate', {})
        ru.setdefault('maxUnavailable', 1)
        ru.setdefault('maxSurge', 0)
    spec.setdefault('revisionHistoryLimit', 10)
    tmpl = spec.setdefault('template', {})
    if isinstance(tmpl, dict):
        tmpl.setdefault('metadata', {})
        default_pod_spec(tmpl.setdefault('spec', {}))


def validate_configmap(cm, current):
    errs = []
    total = 0
    data, binary = cm.get('data') or {}, cm.get('binaryData') or {}
    for key in sorted(data):
        errs.extend(FieldError('Invalid', 'data[%s]' % key, key, m) for m in is_config_map_key(key))
        if key in binary:
            errs.append(FieldError('Invalid', 'data[%s]' % key, key, 'duplicate of key present in binaryData'))
        if not isinstance(data[key], str):
            errs.append(FieldError('Invalid', 'data[%s]' % key, _Raw(json.dumps(data[key])), 'must be a string'))
            continue
        total += len(data[key].encode())
    for key in sorted(binary):
        errs.extend(FieldError('Invalid', 'binaryData[%s]' % key, key, m) for m in is_config_map_key(key))
        try:
            total += len(base64.b64decode(binary[key], validate=True))
        except (ValueError, TypeError):
            errs.append(FieldError('Invalid', 'binaryData[%s]' % key, key, 'must be base64 encoded'))
    if total > MAX_CONFIGMAP:
        errs.append(FieldError('TooLong', '[]', None, 'must have at most %d bytes' % MAX_CONFIGMAP))
    if current is not None and current.get('immutable'):
        for f in ('data', 'binaryData'):
            if cm.get(f) != current.get(f):
                errs.append(FieldError('Forbidden', f, None, 'field is immutable when `immutable` is set'))
        if not cm.get('immutable'):
            errs.append(FieldError('Forbidden', 'immutable', None, 'field is immutable when `immutable` is set'))
    return errs


def _selector_go(sel):
    ml = sel.get('matchLabels') or {}
    me = sel.get('matchExpressions')
    return _Raw('v1.LabelSelector{MatchLabels:%s, MatchExpressions:%s}' % (
        go_value(ml), '[]v1.LabelSelectorRequirement(nil)' if not me else
        '[]v1.LabelSelectorRequirement{%s}' % ', '.join(
            'v1.LabelSelectorRequirement{Key:%s, Operator:%s, Values:%s}' % (
                json.dumps(e.get('key')), json.dumps(e.get('operator')),
                '[]string{%s}' % ', '.join(json.dumps(v) for v in e.get('values') or []))
            for e in me)))


def validate_daemonset(ds, current):
    errs = []
    spec = ds.get('spec') if isinstance(ds.get('spec'), dict) else {}
    sel = spec.get('selector')
    tmpl = spec.get('template') if isinstance(spec.get('template'), dict) else {}
    tlabels = (tmpl.get('metadata') or {}).get('labels') or {}
    if sel is None:
        errs.append(FieldError('Required', 'spec.selector', None, ''))
    else:
        errs.extend(validate_labels(sel.get('matchLabels'), 'spec.selector.matchLabels'))
    if not _selector_matches(sel, tlabels):
        errs.append(FieldError('Invalid', 'spec.template.metadata.labels', _Raw(go_value(tlabels)),
                               '`selector` does not match template `labels`'))
    if sel is not None and not (sel.get('matchLabels') or sel.get('matchExpressions')):
        errs.append(FieldError('Invalid', 'spec.selector', _selector_go(sel), 'empty selector is invalid for daemonset'))
    errs.extend(validate_labels(tlabels, 'spec.template.metadata.labels'))
    pod = tmpl.get('spec') if isinstance(tmpl.get('spec'), dict) else {}
    containers = pod.get('containers') or []
    if not containers:
        errs.append(FieldError('Required', 'spec.template.spec.containers', None, ''))
    seen = set()
    for i, c in enumerate(containers):
        path = 'spec.template.spec.containers[%d]' % i
        c = c if isinstance(c, dict) else {}
        if not c.get('name'):
            errs.append(FieldError('Required', path + '.name', None, ''))
        else:
            errs.extend(FieldError('Invalid', path + '.name', c['name'], m) for m in is_dns1123_label(c['name']))
            if c['name'] in seen:
                errs.append(FieldError('Invalid', path + '.name', c['name'], 'Duplicate value'))
            seen.add(c['name'])
        if not c.get('image'):
            errs.append(FieldError('Required', path + '.image', None, ''))
    if pod.get('restartPolicy', 'Always') != 'Always':
        errs.append(FieldError('NotSupported', 'spec.template.spec.restartPolicy', pod.get('restartPolicy'),
                               'supported values: "Always"'))
    if current is not None:
        old = (current.get('spec') or {}).get('selector')
        if sel != old:
            errs.append(FieldError('Invalid', 'spec.selector', _selector_go(sel or {}), 'field is immutable'))
    return errs
