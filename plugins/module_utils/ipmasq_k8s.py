# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Setting or removing one label on a Kubernetes Node (the logic of k8s_node_label), and the label's defaults.

``DEFAULT_KEY``/``DEFAULT_VALUE`` are the label the node_label role sets and the cluster DaemonSet selects nodes by.

The node is read first; when the label already is as wanted nothing is written. Otherwise one JSON merge patch of
just that label (``{"metadata": {"labels": {KEY: VALUE or null}}}``, as ``kubectl label`` sends) with NO
resourceVersion precondition: a label write must not fail because the kubelet or a controller wrote the node's
status in between. The patch goes with the field manager ``ipmasq-agent`` and, in check mode, ``dryRun=All``, so the
API server validates and authorises it and the labels reported are the server's answer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.ipmasq.agent.plugins.module_utils.k8s_client import FIELD_MANAGER, K8sError, send

DEFAULT_KEY = 'beta.kubernetes.io/masq-agent-ds-ready'
# The label Kubernetes' own addon manifest (cluster/addons/ip-masq-agent) selects since 1.16
ADDON_KEY = 'node.kubernetes.io/masq-agent-ds-ready'
DEFAULT_VALUE = 'true'
# Kubernetes label syntax: optional DNS-subdomain prefix "/" name; value up to 63 characters.
_NAME = r'([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)'
_KEY_RE = re.compile(r'^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?' + _NAME + '$')
_VALUE_RE = re.compile(r'^(' + _NAME + ')?$')
# A Node's name is a DNS-1123 subdomain (what the API server validates node names with)
_NODE_RE = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
MERGE_PATCH = 'application/merge-patch+json'
# Answers worth trying again (after a pause): a conflict, or the server asking us to slow down
_RETRY = (409, 429)


class NodeLabelError(K8sError):
    """A refused argument or a failed label change: ``msg`` for the user, ``status`` the HTTP code if any."""


def validate_label(key, value, state='present'):
    if state == 'present' and value is None:
        raise NodeLabelError('value: a label value is required with state=present (use "" for an empty value)')
    if not isinstance(key, str):
        raise NodeLabelError('key: %r is not a valid Kubernetes label key (a string)' % (key,))
    prefix = key.split('/', 1)[0] if '/' in key else ''
    if not _KEY_RE.match(key) or len(prefix) > 253:
        raise NodeLabelError('key: %r is not a valid Kubernetes label key' % key)
    if value is not None and (not isinstance(value, str) or len(value) > 63 or not _VALUE_RE.match(value)):
        raise NodeLabelError('value: %r is not a valid Kubernetes label value (63 characters at most, '
                             'alphanumerics, "-", "_", "." inside)' % (value,))


def label_value(value, state='present', option='value'):
    """A label value as given in a task: strings as they are, YAML booleans as "true"/"false", integers as their digits.

    None with state=present and anything else (lists, mappings, floats) are refused, naming ``option``.
    """
    if value is None:
        if state == 'present':
            raise NodeLabelError('%s: a label value is required with state=present, got null (use "" for an empty '
                                 'value)' % option)
        return None
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise NodeLabelError('%s: a label value is a string, got %s %r' % (option, type(value).__name__, value))
    return value


def validate_node_name(name, option='name'):
    """Refuse what cannot be a Node's name before any request (an empty name would read the node LIST)."""
    if name is None or not str(name).strip():
        raise NodeLabelError('%s: the node name is empty; give the Kubernetes node name' % option)
    if len(name) > 253 or not _NODE_RE.match(name):
        raise NodeLabelError("%s: %r is not a valid Kubernetes node name (lowercase letters, digits, '-' and '.', "
                             "253 characters at most)" % (option, name))


def _labels(node):
    meta = (node or {}).get('metadata') or {}
    return dict(meta.get('labels') or {})


def plan(labels, key, value, state):
    """The labels patch needed (or None) for a node with these labels."""
    if state == 'present':
        return None if labels.get(key) == value else {key: value}
    return {key: None} if key in labels else None


def read_node(cluster, name):
    """The node as plain data."""
    return cluster.call("read node '%s'" % name, send, cluster.api_client, '/api/v1/nodes/' + name, 'GET', [],
                        {'Accept': 'application/json'})


def patch_node(cluster, name, body, dry_run=None):
    """PATCH the node with a JSON merge patch (the generated client would send a strategic-merge patch)."""
    query = [('fieldManager', FIELD_MANAGER)]
    if dry_run:
        query.append(('dryRun', dry_run))
    what = "patch node '%s'%s" % (name, ' (dry run: check mode)' if dry_run else '')
    return cluster.call(what, send, cluster.api_client, '/api/v1/nodes/' + name, 'PATCH', query,
                        {'Accept': 'application/json', 'Content-Type': MERGE_PATCH}, body=body)


def _gone(name, state, result):
    if state == 'absent':
        result['warnings'].append("node '%s' does not exist (404 NotFound from the API server): nothing to remove"
                                  % name)
        return result
    raise NodeLabelError("node '%s' does not exist (404 NotFound from the API server): check the node name" % name,
                         404)


def ensure_label(cluster, name, key, value, state='present', check_mode=False, retries=5, sleep=time.sleep):
    """Make the label present (with the value) or absent on node ``name`` through ``cluster`` (a k8s_client Cluster).

    Returns a dict: changed, before and after (the node's labels; None when the node does not exist), warnings.
    Raises NodeLabelError (a K8sError) on refused arguments or API failures.
    """
    validate_node_name(name)
    validate_label(key, value if state == 'present' else None, state)
    if retries < 0:
        raise NodeLabelError('retries: must be 0 or more, got %d' % retries)
    result = dict(changed=False, before=None, after=None, warnings=[])
    try:
        node = read_node(cluster, name)
    except K8sError as e:
        if e.status == 404:
            return _gone(name, state, result)
        raise _hint(e)
    before = _labels(node)
    result.update(before=before, after=before)
    patch = plan(before, key, value, state)
    if patch is None:
        return result
    body = {'metadata': {'labels': patch}}
    attempt = 0
    while True:
        try:
            answer = patch_node(cluster, name, body, 'All' if check_mode else None)
            break
        except K8sError as e:
            if e.status == 404:
                return _gone(name, state, dict(result, before=None, after=None))
            if e.status not in _RETRY:
                raise _hint(e)
            if attempt >= retries:
                raise NodeLabelError('%s; still so after %d attempt%s' % (e.msg, attempt + 1, '' if attempt == 0 else 's'),
                                     e.status)
            sleep(min(0.5 * 2 ** attempt, 8.0))  # back off: 0.5, 1, 2, 4, 8, 8 ... seconds
            attempt += 1
    result.update(changed=True, after=_labels(answer))
    return result


def _hint(e):
    if e.status == 403:
        return NodeLabelError('%s; labelling needs "get" and "patch" on nodes' % e.msg, e.status)
    return e
