# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read, compare and write ONE Kubernetes object, with dry run and diff; shared by the cluster-side modules.

The transport is injected: ``request(what, method, path, query=None, body=None, content_type=None)`` returns the
API server's answer as a dict, and raises an exception with ``status`` (the HTTP code) on an error answer, as
``k8s_client.Cluster.call`` does with ``K8sError``. ``transport(cluster)`` builds one over the shared client helper;
the unit tests give a fake.

Present is server-side apply (``application/apply-patch+yaml``, field manager ``ipmasq-agent``, ``force=true``: the
module is the source of truth for the fields it sends, and takes them over from a ``kubectl create`` or client-side
apply). The object is first applied with ``dryRun=All`` and the server's answer compared with the live object, so the
server's defaulting (updateStrategy, imagePullPolicy, ...) and any admission webhooks are part of the prediction, a
field the module no longer sends is removed as the real apply would remove it, and a permission refusal (403) shows in
check mode too. Only when the two differ, or the field manager does not yet own what it applies (an object equal to
ours that ``kubectl`` wrote: taking it over is a write), is the apply sent for real (not in check mode). An unchanged
object costs a GET and a dry-run PATCH, and nothing is written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.ipmasq.agent.plugins.module_utils.k8s_client import send

APPLY = 'application/apply-patch+yaml'  # a JSON body is YAML: the client sends it as JSON
MERGE = 'application/merge-patch+json'
# What the server sets on every write, and is not part of what the object says.
VOLATILE_METADATA = ('resourceVersion', 'managedFields', 'generation', 'creationTimestamp', 'uid', 'selfLink')


class Ref(object):
    """One object: its API group version, kind, resource (plural), namespace and name."""

    def __init__(self, api_version, kind, plural, namespace, name):
        self.api_version, self.kind, self.plural = api_version, kind, plural
        self.namespace, self.name = namespace, name

    @property
    def path(self):
        base = '/api/%s' % self.api_version if '/' not in self.api_version else '/apis/%s' % self.api_version
        return '%s/namespaces/%s/%s/%s' % (base, self.namespace, self.plural, self.name)

    def __str__(self):
        return '%s %s/%s' % (self.kind, self.namespace, self.name)


def transport(cluster):
    """``request`` over the shared client helper's Cluster: the ApiClient's raw call (any path, any patch content
    type, the answer as a dict), under ``cluster.call`` (request timeout, every failure a K8sError)."""
    def request(what, method, path, query=None, body=None, content_type=None):
        headers = {'Accept': 'application/json', 'Content-Type': content_type or 'application/json'}
        return cluster.call(what, send, cluster.api_client, path, method, sorted((query or {}).items()), headers,
                            body=body)
    return request


def status_of(error):
    return getattr(error, 'status', None)


def read(request, ref):
    """The live object, or None when there is none (404)."""
    try:
        return request('read %s' % ref, 'GET', ref.path)
    except Exception as e:
        if status_of(e) == 404:
            return None
        raise


def apply(request, ref, body, field_manager, dry_run=None):
    """Server-side apply; ``dry_run='All'`` asks the server for its answer without storing anything."""
    query = {'fieldManager': field_manager, 'force': 'true'}
    if dry_run:
        query['dryRun'] = dry_run
    return request('apply %s%s' % (ref, ' (dry run)' if dry_run else ''), 'PATCH', ref.path, query, body, APPLY)


def comparable(obj):
    """The object without what every write changes (resourceVersion, managedFields, generation...) and its status."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop('status', None)
    meta = out.get('metadata') or {}
    for key in VOLATILE_METADATA:
        meta.pop(key, None)
    return out


def shown(obj):
    """The object as a module returns it: without managedFields (long, and not what the user manages)."""
    if obj is None:
        return None
    out = dict(obj, metadata=dict(obj.get('metadata') or {}))
    out['metadata'].pop('managedFields', None)
    return out


def owners(obj):
    """The field managers that wrote the object (metadata.managedFields)."""
    return [m.get('manager') for m in (obj.get('metadata') or {}).get('managedFields') or []]


def owned_fields(obj, manager):
    """The merged fieldsV1 of one manager's entries (an empty dict when it owns nothing)."""
    out = {}
    for m in (obj.get('metadata') or {}).get('managedFields') or []:
        if m.get('manager') == manager:
            _merge(out, m.get('fieldsV1') or {})
    return out


def _merge(into, more):
    for k, v in more.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = copy.deepcopy(v)


class Outcome(object):
    """What a run did (or, in check mode, would do): ``before`` the live object (None: none), ``after`` the server's
    answer (the dry run's in check mode; None: deleted)."""

    def __init__(self, changed, before, after, action):
        self.changed, self.before, self.after, self.action = changed, before, after, action


def ensure_applied(request, ref, desired, field_manager, check_mode):
    """Make the fields in ``desired`` (a whole manifest) what the object says; see the module docstring."""
    live = read(request, ref)
    predicted = apply(request, ref, desired, field_manager, dry_run='All')
    if live is not None and comparable(live) == comparable(predicted) and \
            owned_fields(live, field_manager) == owned_fields(predicted, field_manager):
        return Outcome(False, live, live, 'none')
    action = 'create' if live is None else 'update'
    if check_mode:
        return Outcome(True, live, predicted, action)
    return Outcome(True, live, apply(request, ref, desired, field_manager), action)


def delete(request, ref, resource_version, dry_run=None):
    """Delete with a resourceVersion precondition: an object written meanwhile is not deleted (409)."""
    query = {'dryRun': dry_run} if dry_run else {}
    body = {'kind': 'DeleteOptions', 'apiVersion': 'v1', 'propagationPolicy': 'Background',
            'preconditions': {'resourceVersion': resource_version}}
    return request('delete %s%s' % (ref, ' (dry run)' if dry_run else ''), 'DELETE', ref.path, query, body)


def merge_patch(request, ref, patch, resource_version, field_manager, dry_run=None):
    """A JSON merge patch carrying the resourceVersion read: a concurrent writer makes the server answer 409."""
    body = copy.deepcopy(patch)
    body.setdefault('metadata', {})['resourceVersion'] = resource_version
    query = {'fieldManager': field_manager}
    if dry_run:
        query['dryRun'] = dry_run
    return request('patch %s%s' % (ref, ' (dry run)' if dry_run else ''), 'PATCH', ref.path, query, body, MERGE)


class NotOurs(Exception):
    """The object exists but our field manager never wrote (the part of) it that removal would take away."""

    def __init__(self, msg):
        super(NotOurs, self).__init__(msg)
        self.msg = msg


def ensure_removed(request, ref, field_manager, check_mode, shrink=None, ours=None, retries=5):
    """Remove what we wrote. ``shrink(live)`` -> None to delete the whole object, False when there is nothing of ours
    left to remove, or a merge patch that takes out only our part (other keys stay). ``ours(live)`` -> whether our
    field manager wrote what would be removed (default: it wrote the object); if not, NotOurs, nothing is sent. A 409
    (written by someone else since our read) reads again and decides again, up to ``retries`` times."""
    for _attempt in range(retries + 1):
        live = read(request, ref)
        if live is None:
            return Outcome(False, None, None, 'none')
        patch = shrink(live) if shrink else None
        if patch is False:
            return Outcome(False, live, live, 'none')
        if not (ours(live) if ours else field_manager in owners(live)):
            raise NotOurs('%s was not written by field manager %r (its managers: %s); it is left alone: remove it '
                          'yourself if it should go' % (ref, field_manager, ', '.join(sorted(set(
                              str(o) for o in owners(live)))) or 'none recorded'))
        rv = (live.get('metadata') or {}).get('resourceVersion')
        dry = 'All' if check_mode else None
        try:
            if patch is None:
                delete(request, ref, rv, dry_run=dry)
                return Outcome(True, live, None, 'delete')
            after = merge_patch(request, ref, patch, rv, field_manager, dry_run=dry)
            return Outcome(True, live, after, 'patch')
        except Exception as e:
            if status_of(e) != 409:
                raise
    raise NotOurs('%s kept changing under us: %d conflicts (409) in a row' % (ref, retries + 1))


def to_text(obj):
    """An object as stable, readable YAML for a diff (sorted keys); '' for none."""
    if obj is None:
        return ''
    import yaml  # a requirement of the modules; only a diff needs it here
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=True)
