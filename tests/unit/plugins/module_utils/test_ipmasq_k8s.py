# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_k8s as K


class ApiError(Exception):
    """Shaped like kubernetes.client.exceptions.ApiException: status, reason, body (the API server's answer)."""

    def __init__(self, status, reason='', body=''):
        super(ApiError, self).__init__(status)
        self.status, self.reason, self.body = status, reason, body


class Api(object):
    """Scripted CoreV1Api: read answers and patch answers, in order; patches are recorded."""

    def __init__(self, reads, patches=()):
        self.reads, self.patch_answers, self.patches = list(reads), list(patches), []

    def read_node(self, name):
        r = self.reads.pop(0)
        if isinstance(r, Exception):
            raise r
        return r

    def patch_node(self, name, body):
        self.patches.append(body)
        if not self.patch_answers:
            return None
        r = self.patch_answers.pop(0)
        if isinstance(r, Exception):
            raise r
        return r


def node(labels, rv='7'):
    return {'metadata': {'name': 'n', 'labels': labels, 'resourceVersion': rv}}


def test_adds_label_with_resource_version():
    api = Api([node({'a': 'b'})])
    changed, before, after = K.ensure_label(api, 'n', K.DEFAULT_KEY, 'true')
    assert changed and after == {'a': 'b', K.DEFAULT_KEY: 'true'} and before == {'a': 'b'}
    assert api.patches == [{'metadata': {'labels': {K.DEFAULT_KEY: 'true'}, 'resourceVersion': '7'}}]


def test_no_change_when_labelled():
    api = Api([node({K.DEFAULT_KEY: 'true'})])
    assert K.ensure_label(api, 'n', K.DEFAULT_KEY, 'true')[0] is False and api.patches == []


def test_other_value_is_a_change():
    api = Api([node({K.DEFAULT_KEY: 'false'})])
    assert K.ensure_label(api, 'n', K.DEFAULT_KEY, 'true')[0] is True


def test_check_mode_never_patches():
    api = Api([node({})])
    changed, _b, after = K.ensure_label(api, 'n', K.DEFAULT_KEY, 'true', check_mode=True)
    assert changed and after == {K.DEFAULT_KEY: 'true'} and api.patches == []


def test_absent_removes_with_null():
    api = Api([node({K.DEFAULT_KEY: 'true', 'x': 'y'})])
    changed, _b, after = K.ensure_label(api, 'n', K.DEFAULT_KEY, None, 'absent')
    assert changed and after == {'x': 'y'} and api.patches[0]['metadata']['labels'] == {K.DEFAULT_KEY: None}
    assert K.ensure_label(Api([node({'x': 'y'})]), 'n', K.DEFAULT_KEY, None, 'absent')[0] is False


def test_conflict_reads_again_and_retries():
    api = Api([node({}, '7'), node({}, '9')], [ApiError(409, 'Conflict')])
    assert K.ensure_label(api, 'n', K.DEFAULT_KEY, 'true')[0] is True
    assert [p['metadata']['resourceVersion'] for p in api.patches] == ['7', '9']


def test_endless_conflicts_give_up():
    api = Api([node({})] * 3, [ApiError(409)] * 3)
    with pytest.raises(K.NodeLabelError) as e:
        K.ensure_label(api, 'n', K.DEFAULT_KEY, 'true', retries=2)
    assert e.value.status == 409 and '3 conflicts' in e.value.msg


@pytest.mark.parametrize('status, words', [(404, 'does not exist'), (403, '403 Forbidden'), (401, 'Unauthorized'),
                                           (500, '500')])
def test_errors_on_read(status, words):
    with pytest.raises(K.NodeLabelError) as e:
        K.ensure_label(Api([ApiError(status, 'x')]), 'n', K.DEFAULT_KEY, 'true')
    assert words in e.value.msg and e.value.status == status


def test_forbidden_patch():
    with pytest.raises(K.NodeLabelError) as e:
        K.ensure_label(Api([node({})], [ApiError(403, 'Forbidden')]), 'n', K.DEFAULT_KEY, 'true')
    assert 'patch' in e.value.msg and '"get" and "patch" on nodes' in e.value.msg


def test_unreachable_server():
    with pytest.raises(K.NodeLabelError) as e:
        K.ensure_label(Api([ConnectionError('refused')]), 'n', K.DEFAULT_KEY, 'true')
    assert 'cannot reach' in e.value.msg


@pytest.mark.parametrize('key, value', [('bad key', 'true'), ('-x', 'true'), ('a/b/c', 'true'), ('ok', 'x' * 64),
                                        ('ok', 'has space'), ('UPPER.example.com/x', 'true')])
def test_invalid_labels(key, value):
    with pytest.raises(K.NodeLabelError):
        K.validate_label(key, value)


def test_present_needs_a_value():
    with pytest.raises(K.NodeLabelError) as e:
        K.ensure_label(Api([]), 'n', K.DEFAULT_KEY, None)
    assert 'a label value is required' in e.value.msg


@pytest.mark.parametrize('key, value', [('a', ''), ('example.com/egress', 'nat'), ('x_y.z-1', 'A.b_c-9'),
                                        (K.DEFAULT_KEY, 'true'), ('a' * 63, 'b' * 63)])
def test_valid_labels(key, value):
    K.validate_label(key, value)


def test_absent_ignores_the_value():
    api = Api([node({K.DEFAULT_KEY: 'whatever'})])
    assert K.ensure_label(api, 'n', K.DEFAULT_KEY, 'not valid as a value!', 'absent')[0] is True


def test_api_message_takes_the_status_message():
    status = ('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes \\"n\\" is '
              'forbidden: User \\"u\\" cannot patch resource \\"nodes\\"","reason":"Forbidden",'
              '"details":{"name":"n","kind":"nodes"},"code":403}')
    want = 'nodes "n" is forbidden: User "u" cannot patch resource "nodes"'
    assert K.api_message(ApiError(403, 'Forbidden', status)) == want
    assert K.api_message(ApiError(403, 'Forbidden', status.encode())).startswith('nodes "n" is forbidden')
    assert K.api_message(ApiError(502, 'Bad Gateway', '<html>proxy error</html>')) == '<html>proxy error</html>'
    assert K.api_message(ApiError(502, 'Bad Gateway', '')) == 'Bad Gateway'


def test_forbidden_message_carries_the_servers_words():
    body = '{"kind":"Status","message":"nodes \\"n\\" is forbidden: no","reason":"Forbidden","code":403}'
    with pytest.raises(K.NodeLabelError) as e:
        K.ensure_label(Api([ApiError(403, 'Forbidden', body)]), 'n', K.DEFAULT_KEY, 'true')
    assert e.value.msg.endswith('(API server: nodes "n" is forbidden: no)') and 'read node' in e.value.msg
