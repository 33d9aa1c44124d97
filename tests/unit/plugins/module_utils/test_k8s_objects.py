# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_objects: read-compare-write of one object against an in-memory API (``FakeApi``, also used by the modules'
unit tests). The fake keeps objects by path, answers server-side apply (merging, defaulting a DaemonSet as the real
server does, recording managedFields), merge patches and deletes with resourceVersion preconditions (409), honours
dryRun=All (nothing stored) and records every request. The real client against the API server stand-in is tested in
tests/integration/test_cluster.py."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils import k8s_objects as K

CM = K.Ref('v1', 'ConfigMap', 'configmaps', 'kube-system', 'ip-masq-agent')
DS = K.Ref('apps/v1', 'DaemonSet', 'daemonsets', 'kube-system', 'ip-masq-agent')
MANAGER = 'ipmasq-agent'


class ApiError(Exception):
    """Shaped like the client's ApiException: status, reason, and the server's Status object as the body."""

    REASONS = {403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 422: 'Invalid', 504: 'Timeout'}

    def __init__(self, status, msg):
        super(ApiError, self).__init__(msg)
        self.status, self.msg, self.reason = status, msg, self.REASONS.get(status, 'Error')
        self.body = json.dumps({'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                                'message': msg, 'reason': self.reason, 'code': status})


def _merge(live, patch):
    if not isinstance(patch, dict) or not isinstance(live, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(live)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


def _fields(obj):
    if isinstance(obj, dict):
        return dict(('f:' + k, _fields(v)) for k, v in obj.items() if k not in ('apiVersion', 'kind'))
    return {}


def _default_daemonset(obj):
    spec = obj.setdefault('spec', {})
    spec.setdefault('updateStrategy', {'type': 'RollingUpdate', 'rollingUpdate': {'maxUnavailable': 1,
                                                                                  'maxSurge': 0}})
    spec.setdefault('revisionHistoryLimit', 10)
    pod = spec.setdefault('template', {}).setdefault('spec', {})
    pod.setdefault('restartPolicy', 'Always')
    pod.setdefault('dnsPolicy', 'ClusterFirst')
    for c in pod.get('containers') or []:
        c.setdefault('imagePullPolicy', 'IfNotPresent')
        c.setdefault('terminationMessagePath', '/dev/termination-log')


class FakeApi(object):
    """``request`` as k8s_objects.transport makes it, over objects kept by path."""

    def __init__(self, objects=None):
        self.objects = copy.deepcopy(objects or {})
        self.requests = []
        self.revision = 100
        self.fail = {}  # (method, path, dry run?) -> (status, message), answered once per entry in the list

    def writes(self, dry=False):
        """The requests that write (or, with ``dry``, ask for a dry run of a write)."""
        return [r for r in self.requests if r[0] != 'GET' and bool((r[2] or {}).get('dryRun')) == dry]

    def put(self, path, obj, manager='kubectl-create', operation='Update'):
        obj = copy.deepcopy(obj)
        self.revision += 1
        meta = obj.setdefault('metadata', {})
        meta.update(resourceVersion=str(self.revision), uid='uid-1',
                    managedFields=[{'manager': manager, 'operation': operation, 'fieldsV1': _fields(
                        dict((k, v) for k, v in obj.items() if k != 'metadata'))}])
        self.objects[path] = obj

    def __call__(self, what, method, path, query=None, body=None, content_type=None):
        query = query or {}
        self.requests.append((method, path, dict(query), content_type, copy.deepcopy(body), what))
        dry = query.get('dryRun') == 'All'
        failure = self.fail.get((method, path, dry))
        if failure:
            raise ApiError(*failure.pop(0)) if isinstance(failure, list) else ApiError(*failure)
        live = self.objects.get(path)
        if method == 'GET':
            if live is None:
                raise ApiError(404, 'not found')
            return copy.deepcopy(live)
        if method == 'PATCH' and content_type == K.APPLY:
            assert query['fieldManager'] == MANAGER and query['force'] == 'true'
            new = _merge(live or {}, body)
            if body['kind'] == 'DaemonSet':
                _default_daemonset(new)
            meta = new['metadata']
            entries = [m for m in meta.get('managedFields') or [] if m['manager'] != MANAGER]
            meta['managedFields'] = entries + [{'manager': MANAGER, 'operation': 'Apply', 'fieldsV1': _fields(
                dict((k, v) for k, v in body.items() if k != 'metadata'))}]
            return self._store(path, live, new, dry)
        if method == 'PATCH' and content_type == K.MERGE:
            if live is None:
                raise ApiError(404, 'not found')
            if body['metadata']['resourceVersion'] != live['metadata']['resourceVersion']:
                raise ApiError(409, 'the object has been modified')
            new = _merge(live, dict(body, metadata=dict(body['metadata'], resourceVersion=None)))
            new['metadata']['resourceVersion'] = live['metadata']['resourceVersion']
            return self._store(path, live, new, dry)
        if method == 'DELETE':
            if live is None:
                raise ApiError(404, 'not found')
            if body['preconditions']['resourceVersion'] != live['metadata']['resourceVersion']:
                raise ApiError(409, 'the object has been modified')
            if not dry:
                del self.objects[path]
            return {'kind': 'Status', 'status': 'Success'}
        raise AssertionError('unexpected request %s %s %s' % (method, path, content_type))

    def _store(self, path, live, new, dry):
        if live is None:
            new['metadata'].update(uid='uid-new', creationTimestamp='2026-12-03T12:00:00Z')
        if new != live:
            self.revision += 1
            new['metadata']['resourceVersion'] = str(self.revision)
        if not dry:
            self.objects[path] = new
        return copy.deepcopy(new)


def cm(text, **more):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': CM.name, 'namespace': CM.namespace},
            'data': dict({'config': text}, **more)}


def ds(image='registry.k8s.io/networking/ip-masq-agent:v2.12.0', selector=None):
    return {'apiVersion': 'apps/v1', 'kind': 'DaemonSet', 'metadata': {'name': DS.name, 'namespace': DS.namespace},
            'spec': {'selector': {'matchLabels': {'k8s-app': 'ip-masq-agent'}},
                     'template': {'metadata': {'labels': {'k8s-app': 'ip-masq-agent'}},
                                  'spec': {'hostNetwork': True, 'nodeSelector': selector or {'a': 'true'},
                                           'containers': [{'name': 'ip-masq-agent', 'image': image}]}}}}


def test_paths():
    assert CM.path == '/api/v1/namespaces/kube-system/configmaps/ip-masq-agent'
    assert DS.path == '/apis/apps/v1/namespaces/kube-system/daemonsets/ip-masq-agent'
    assert str(DS) == 'DaemonSet kube-system/ip-masq-agent'


def test_create_then_nothing_written_the_second_time():
    api = FakeApi()
    out = K.ensure_applied(api, CM, cm('a: 1\n'), MANAGER, check_mode=False)
    assert (out.changed, out.action, out.before) == (True, 'create', None)
    assert api.objects[CM.path]['data'] == {'config': 'a: 1\n'} and out.after['data'] == {'config': 'a: 1\n'}
    assert [(r[0], r[2].get('dryRun')) for r in api.requests] == [('GET', None), ('PATCH', 'All'), ('PATCH', None)]
    rv = api.objects[CM.path]['metadata']['resourceVersion']
    api.requests[:] = []
    out = K.ensure_applied(api, CM, cm('a: 1\n'), MANAGER, check_mode=False)
    assert (out.changed, out.action) == (False, 'none')
    assert api.writes() == [] and len(api.writes(dry=True)) == 1
    assert api.objects[CM.path]['metadata']['resourceVersion'] == rv


def test_an_equal_object_written_by_someone_else_is_taken_over_once():
    api = FakeApi()
    api.put(CM.path, cm('a\n'))  # kubectl wrote exactly what we want
    out = K.ensure_applied(api, CM, cm('a\n'), MANAGER, check_mode=False)
    assert out.changed and len(api.writes()) == 1 and MANAGER in K.owners(api.objects[CM.path])
    assert not K.ensure_applied(api, CM, cm('a\n'), MANAGER, check_mode=False).changed
    assert len(api.writes()) == 1


def test_check_mode_asks_for_a_dry_run_and_stores_nothing():
    api = FakeApi()
    api.put(CM.path, cm('old\n', other='kept'))
    before = copy.deepcopy(api.objects[CM.path])
    out = K.ensure_applied(api, CM, cm('new\n'), MANAGER, check_mode=True)
    assert (out.changed, out.action) == (True, 'update')
    assert out.after['data'] == {'config': 'new\n', 'other': 'kept'}  # the server's answer: other keys stay
    assert api.objects[CM.path] == before and api.writes() == []
    assert [r[2] for r in api.writes(dry=True)] == [{'fieldManager': MANAGER, 'force': 'true', 'dryRun': 'All'}]


def test_server_defaults_are_not_a_change_but_a_removed_field_is():
    api = FakeApi()
    K.ensure_applied(api, DS, ds(), MANAGER, check_mode=False)
    live = api.objects[DS.path]
    assert live['spec']['template']['spec']['restartPolicy'] == 'Always'  # the fake defaults like the server
    assert not K.ensure_applied(api, DS, ds(), MANAGER, check_mode=False).changed
    out = K.ensure_applied(api, DS, ds(image='mirror/ip-masq-agent:v2.12.0'), MANAGER, check_mode=False)
    assert out.changed and out.action == 'update'
    assert api.objects[DS.path]['spec']['template']['spec']['containers'][0]['image'] == 'mirror/ip-masq-agent:v2.12.0'


def test_refusal_of_the_dry_run_fails_in_check_mode_too():
    api = FakeApi()
    api.fail[('PATCH', CM.path, True)] = (403, 'configmaps "ip-masq-agent" is forbidden')
    with pytest.raises(ApiError) as e:
        K.ensure_applied(api, CM, cm('a\n'), MANAGER, check_mode=True)
    assert e.value.status == 403 and api.objects == {}


def test_read_errors_other_than_404_are_raised():
    api = FakeApi()
    api.fail[('GET', CM.path, False)] = (504, 'Timeout')
    with pytest.raises(ApiError) as e:
        K.read(api, CM)
    assert e.value.status == 504
    assert K.read(FakeApi(), CM) is None


def test_comparable_drops_what_every_write_changes():
    obj = {'metadata': {'name': 'x', 'resourceVersion': '5', 'managedFields': [1], 'generation': 2, 'uid': 'u',
                        'creationTimestamp': 't', 'labels': {'a': 'b'}}, 'spec': {'x': 1}, 'status': {'n': 3}}
    assert K.comparable(obj) == {'metadata': {'name': 'x', 'labels': {'a': 'b'}}, 'spec': {'x': 1}}
    assert obj['metadata']['resourceVersion'] == '5'  # a copy
    assert K.comparable(None) is None
    assert 'managedFields' not in K.shown(obj)['metadata'] and 'managedFields' in obj['metadata']


def test_removal_deletes_only_what_we_wrote():
    api = FakeApi()
    api.put(DS.path, ds())  # written by kubectl, not by us
    with pytest.raises(K.NotOurs) as e:
        K.ensure_removed(api, DS, MANAGER, check_mode=False)
    assert "not written by field manager 'ipmasq-agent' (its managers: kubectl-create)" in e.value.msg
    assert api.writes() == [] and api.writes(dry=True) == [] and DS.path in api.objects

    api = FakeApi()
    K.ensure_applied(api, DS, ds(), MANAGER, check_mode=False)
    rv = api.objects[DS.path]['metadata']['resourceVersion']
    out = K.ensure_removed(api, DS, MANAGER, check_mode=True)
    assert (out.changed, out.action) == (True, 'delete') and DS.path in api.objects
    assert api.writes(dry=True)[-1][0] == 'DELETE'
    out = K.ensure_removed(api, DS, MANAGER, check_mode=False)
    assert (out.changed, out.after) == (True, None) and DS.path not in api.objects
    assert api.writes()[-1][4]['preconditions'] == {'resourceVersion': rv}
    assert not K.ensure_removed(api, DS, MANAGER, check_mode=False).changed


def test_removal_of_one_key_retries_after_a_conflict():
    api = FakeApi()
    K.ensure_applied(api, CM, cm('a\n', other='x'), MANAGER, check_mode=False)

    def shrink(live):
        return {'data': {'config': None}} if 'config' in live['data'] else False
    api.fail[('PATCH', CM.path, False)] = [(409, 'modified')]
    out = K.ensure_removed(api, CM, MANAGER, check_mode=False, shrink=shrink)
    assert (out.changed, out.action) == (True, 'patch') and api.objects[CM.path]['data'] == {'other': 'x'}
    merges = [r for r in api.writes() if r[3] == K.MERGE]
    assert len(merges) == 2 and merges[-1][4]['data'] == {'config': None}
    assert not K.ensure_removed(api, CM, MANAGER, check_mode=False, shrink=shrink).changed  # shrink says False


def test_transport_over_the_client_helper():
    seen = []

    class ApiClient(object):
        def call_api(self, *args, **kwargs):
            seen.append((args, kwargs))
            return {'kind': 'ConfigMap'}

    class Cluster(object):
        api_client = ApiClient()

        def call(self, what, fn, *args, **kwargs):
            seen.append(what)
            return fn(*args, **dict(kwargs, _request_timeout=7))

    request = K.transport(Cluster())
    assert request('apply x (dry run)', 'PATCH', '/p', {'b': '2', 'a': '1'}, {'k': 1}, K.APPLY) == {'kind': 'ConfigMap'}
    what, (args, kwargs) = seen
    assert what == 'apply x (dry run)'
    assert args == ('/p', 'PATCH', {}, [('a', '1'), ('b', '2')],
                    {'Accept': 'application/json', 'Content-Type': 'application/apply-patch+yaml'})
    assert kwargs['body'] == {'k': 1} and kwargs['response_type'] == 'object' and kwargs['_request_timeout'] == 7
    assert kwargs['_return_http_data_only'] is True


def test_to_text_is_stable_yaml():
    assert K.to_text({'b': 1, 'a': [2]}) == 'a:\n- 2\nb: 1\n' and K.to_text(None) == ''
