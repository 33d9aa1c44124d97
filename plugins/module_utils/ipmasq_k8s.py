# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Setting or removing one label on a Kubernetes Node, with optimistic concurrency.

The API object is injected: anything with ``read_node(name)`` returning a dict-like node (``metadata.labels``,
``metadata.resourceVersion``) and ``patch_node(name, body)``, raising an exception with ``status`` (HTTP code) and
``reason`` on errors, as the official Kubernetes client's ``CoreV1Api`` does. The patch carries the resourceVersion
that was read, so a concurrent writer makes the API server answer 409 Conflict; we then read again and retry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

DEFAULT_KEY = 'beta.kubernetes.io/masq-agent-ds-ready'
DEFAULT_VALUE = 'true'
# Kubernetes label syntax: optional DNS-subdomain prefix "/" name; value up to 63 characters.
_NAME = r'([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)'
_KEY_RE = re.compile(r'^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?' + _NAME + '$')
_VALUE_RE = re.compile(r'^(' + _NAME + ')?$')


class NodeLabelError(Exception):
    def __init__(self, msg, status=None):
        super(NodeLabelError, self).__init__(msg)
        self.msg = msg
        self.status = status


def validate_label(key, value, state='present'):
    if state == 'present' and value is None:
        raise NodeLabelError('value: a label value is required with state=present (use "" for an empty value)')
    prefix = key.split('/', 1)[0] if '/' in key else ''
    if not _KEY_RE.match(key) or len(prefix) > 253:
        raise NodeLabelError('key: %r is not a valid Kubernetes label key' % key)
    if value is not None and (len(value) > 63 or not _VALUE_RE.match(value)):
        raise NodeLabelError('value: %r is not a valid Kubernetes label value (63 characters at most, '
                             'alphanumerics, "-", "_", "." inside)' % value)


def _get(obj, *path):
    for p in path:
        if obj is None:
            return None
        obj = obj.get(p) if isinstance(obj, dict) else getattr(obj, p, None)
    return obj


def plan(node, key, value, state):
    """The labels patch needed (or None) for one node as read."""
    labels = _get(node, 'metadata', 'labels') or {}
    if state == 'present':
        if labels.get(key) == value:
            return None
        return {key: value}
    if key not in labels:
        return None
    return {key: None}


def api_message(e):
    """The message of the API server's answer: the `message` of its Status object, else the raw body or reason."""
    body = getattr(e, 'body', None) or ''
    if isinstance(body, bytes):
        body = body.decode('utf-8', 'replace')
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and obj.get('kind') == 'Status' and obj.get('message'):
        return obj['message']
    return body.strip() or (getattr(e, 'reason', '') or '')


def _explain(e, name, action):
    status = getattr(e, 'status', None)
    reason = getattr(e, 'reason', '') or ''
    body = api_message(e)
    if status == 404:
        return NodeLabelError('node %r does not exist (404 NotFound from the API server); check the node name '
                              '(node_label_node_name)' % name, status)
    if status == 403:
        return NodeLabelError('the API server refused to %s node %r (403 Forbidden): the kubeconfig\'s user needs '
                              '"get" and "patch" on nodes (API server: %s)' % (action, name, body), status)
    if status == 401:
        return NodeLabelError('the API server did not accept the credentials (401 Unauthorized) when trying to %s '
                              'node %r' % (action, name), status)
    return NodeLabelError('%s node %r failed: %s %s: %s' % (action, name, status, reason, body), status)


def ensure_label(api, name, key, value, state='present', check_mode=False, retries=5):
    """Make the label present (with the value) or absent. Returns (changed, labels before, labels after)."""
    validate_label(key, value if state == 'present' else None, state)
    for _attempt in range(retries + 1):
        try:
            node = api.read_node(name)
        except Exception as e:  # the client's ApiException, or urllib3 errors
            if getattr(e, 'status', None) is None:
                raise NodeLabelError('cannot reach the API server to read node %r: %s' % (name, e))
            raise _explain(e, name, 'read')
        before = dict(_get(node, 'metadata', 'labels') or {})
        patch = plan(node, key, value, state)
        if patch is None:
            return False, before, before
        after = dict(before)
        if state == 'present':
            after[key] = value
        else:
            after.pop(key, None)
        if check_mode:
            return True, before, after
        body = {'metadata': {'labels': patch, 'resourceVersion': _get(node, 'metadata', 'resourceVersion')}}
        try:
            api.patch_node(name, body)
            return True, before, after
        except Exception as e:
            if getattr(e, 'status', None) == 409:
                continue  # someone else wrote the node since we read it: read again
            if getattr(e, 'status', None) is None:
                raise NodeLabelError('cannot reach the API server to patch node %r: %s' % (name, e))
            raise _explain(e, name, 'patch')
    raise NodeLabelError('node %r kept changing under us: %d conflicts (409) in a row' % (name, retries + 1), 409)
