# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_ip_masq_config: the real main() with the shared client helper's connect() giving a cluster over the in-memory
API of test_k8s_objects (FakeApi: server-side apply, dry run, preconditions). Errors go through the helper's real
explain(). The real client against the API server stand-in: tests/integration/test_cluster.py."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
from unittest import mock

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

from ansible_collections.ipmasq.agent.plugins.module_utils import k8s_client
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import spec
from ansible_collections.ipmasq.agent.plugins.modules import k8s_ip_masq_config as M
from ansible_collections.ipmasq.agent.tests.unit.plugins.module_utils.test_k8s_objects import CM, FakeApi, cm

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


class FakeCluster(object):
    """What k8s_client.connect() returns, over a FakeApi: call() as the helper's (errors through its explain())."""

    def __init__(self, api):
        self.api = api
        self.api_client = self
        self.timeout = 30

    def call_api(self, path, method, path_params, query, headers, body=None, **kwargs):
        assert kwargs['_request_timeout'] == self.timeout and kwargs['response_type'] == 'object'
        return self.api(self.what, method, path, dict(query), body, headers['Content-Type'])

    def call(self, what, fn, *args, **kwargs):
        self.what = what
        try:
            return fn(*args, **dict(kwargs, _request_timeout=self.timeout))
        except Exception as e:
            raise k8s_client.explain(e, what)


def run_main(capsys, module, args, api, check_mode=False, diff=True):
    """The module's main() with ``args``; connect() gives a FakeCluster over ``api`` (and is counted)."""
    connects = []

    def connect(m):
        connects.append(m)
        return FakeCluster(api)
    with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)), \
            mock.patch.object(module, 'connect', side_effect=connect), pytest.raises(SystemExit):
        module.main()
    out = json.loads(capsys.readouterr().out)
    out['_connects'] = len(connects)
    return out


@pytest.fixture
def run(capsys):
    def _run(args, api, check_mode=False, diff=True):
        return run_main(capsys, M, args, api, check_mode, diff)
    return _run


def test_create_diff_text_then_idempotent(run):
    api = FakeApi()
    r = run({'non_masquerade_cidrs': ['10.0.0.0/8', '10.4.0.0/14'], 'required_cidrs': ['10.4.0.0/14'],
             'resync_interval': '60s'}, api)
    text = 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 10.4.0.0/14\nresyncInterval: "60s"\n'
    assert r['changed'] and r['operation'] == 'create' and r['text'] == text
    assert api.objects[CM.path]['data'] == {'config': text}  # requiredCIDRs checked, not written
    assert r['config'] == {'nonMasqueradeCIDRs': ['10.0.0.0/8', '10.4.0.0/14'], 'resyncInterval': '60s'}
    assert r['diff'] == {'before': '', 'after': text,
                         'before_header': 'configmap kube-system/ip-masq-agent key config (absent)',
                         'after_header': 'configmap kube-system/ip-masq-agent key config (applied)'}
    assert 'managedFields' not in r['configmap']['metadata']
    n = len(api.writes())
    r = run({'config': {'nonMasqueradeCIDRs': ['10.0.0.0/8', '10.4.0.0/14'], 'resyncInterval': '60s'}}, api)
    assert not r['changed'] and r['operation'] == 'none' and 'diff' not in r
    assert len(api.writes()) == n  # the second run wrote nothing


def test_check_mode_is_a_dry_run_and_keeps_other_keys(run):
    api = FakeApi()
    api.put(CM.path, cm('nonMasqueradeCIDRs: []\n', other='theirs'))
    before = json.loads(json.dumps(api.objects[CM.path]))
    r = run({'config': {'nonMasqueradeCIDRs': ['10.0.0.0/8']}}, api, check_mode=True)
    assert r['changed'] and r['operation'] == 'update' and api.objects[CM.path] == before
    assert [q[2].get('dryRun') for q in api.writes(dry=True)] == ['All'] and api.writes() == []
    assert r['diff']['before'] == 'nonMasqueradeCIDRs: []\n'
    assert r['diff']['after'] == 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n'
    assert r['diff']['after_header'].endswith('(predicted)')
    r = run({'config': {'nonMasqueradeCIDRs': ['10.0.0.0/8']}}, api)
    assert api.objects[CM.path]['data'] == {'config': 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n', 'other': 'theirs'}


@pytest.mark.parametrize('args, option, words', [
    ({'config': {'nonMasqueradeCIDRs': ['10.0.0.1/8']}}, 'nonMasqueradeCIDRs', 'host bits'),
    ({'config': {'nonMasqueradeCIDR': ['10.0.0.0/8']}}, 'nonMasqueradeCIDR', 'did you mean'),
    ({'config': {'resyncInterval': 60}}, 'resyncInterval', 'write "60s"'),
    ({'config': {'nonMasqueradeCIDRs': ['10.%d.0.0/16' % i for i in range(3)], 'cidrLimit': 2}},
     'nonMasqueradeCIDRs', 'up to 2 CIDRs'),
    ({'non_masquerade_cidrs': ['10.0.0.0/8'], 'required_cidrs': ['172.16.0.0/12']}, 'required_cidrs',
     'would be masqueraded'),
    ({'config': {'nonMasqueradeCIDRs': ['fd00::/8']}}, 'nonMasqueradeCIDRs', 'IPv6 is not enabled'),
    ({'config': {'snatToSource': '192.0.2.1'}}, 'snatToSource', 'extension'),
    ({'masquerade_cidrs': ['10.0.0.0/8']}, 'masquerade_cidrs', 'ignore'),
])
def test_bad_config_is_refused_before_any_request(run, args, option, words):
    api = FakeApi()
    r = run(args, api)
    assert r['failed'] and r['option'] == option and words in r['msg'], r['msg']
    assert r['msg'].startswith(option + ': ')
    assert api.requests == [] and r['_connects'] == 0  # not even a connection


def test_same_message_as_the_host_path(run):
    """The ConfigMap's check and the host file's check are one code: the same message for the same mistake."""
    from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import glue
    from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError
    bad = {'nonMasqueradeCIDRs': ['10.0.0.0/8'] * 2 + ['300.0.0.0/8']}
    with pytest.raises(ConfigError) as host:
        glue.settings({'ip_version': 'ipv4'}, scopes=(spec.FILE,), config=bad, strict=True)
    r = run({'config': bad}, FakeApi())
    assert r['msg'] == str(host.value)


def test_ipv6_and_reserved_ranges_flags_are_what_the_checks_assume(run):
    api = FakeApi()
    r = run({'config': {'nonMasqueradeCIDRs': ['10.0.0.0/8', 'fd00::/8']}, 'ip_version': 'both'}, api)
    assert r['changed']
    # the default list with --nomasq-all-reserved-ranges covers 100.64.0.0/10; without it, the guard refuses
    r = run({'required_cidrs': ['100.64.0.0/10'], 'nomasq_all_reserved_ranges': True, 'key': 'other'}, api)
    assert r['changed'] and r['text'] == '{}\n'
    r = run({'required_cidrs': ['100.64.0.0/10'], 'key': 'other'}, api)
    assert r['failed'] and r['option'] == 'required_cidrs'


def test_refusal_shows_in_check_mode(run):
    api = FakeApi()
    api.fail[('PATCH', CM.path, True)] = (403, 'configmaps "ip-masq-agent" is forbidden: User "viewer" cannot '
                                               'patch resource "configmaps" in API group "" in the namespace '
                                               '"kube-system"')
    r = run({'config': {}}, api, check_mode=True)
    assert r['failed'] and r['status'] == 403 and 'cannot patch resource "configmaps"' in r['msg']
    assert api.objects == {}


def test_absent_removes_only_our_key_or_the_configmap(run):
    api = FakeApi()
    run({'config': {'resyncInterval': '30s'}}, api)
    r = run({'state': 'absent'}, api, check_mode=True)
    assert r['changed'] and r['operation'] == 'delete' and CM.path in api.objects
    assert r['diff']['before'] == 'resyncInterval: "30s"\n' and r['diff']['after'] == ''
    r = run({'state': 'absent'}, api)
    assert r['changed'] and CM.path not in api.objects
    assert not run({'state': 'absent'}, api)['changed']

    api = FakeApi()
    api.put(CM.path, cm('old\n', other='theirs'))  # kubectl wrote it, with another key
    r = run({'state': 'absent'}, api)
    assert r['failed'] and "was not written by field manager 'ipmasq-agent'" in r['msg'] and 'key' in r['msg']
    assert api.writes() == [] and api.objects[CM.path]['data']['config'] == 'old\n'
    run({'config': {}}, api)  # now ours (apply takes the key over)
    r = run({'state': 'absent'}, api)
    assert r['changed'] and r['operation'] == 'patch' and api.objects[CM.path]['data'] == {'other': 'theirs'}


def test_role_argument_spec_mirrors_the_spec():
    """roles/cluster's cluster_config options are the file rows of FIELDS the ConfigMap takes, with their
    types; the runtime variables' defaults are FIELDS' defaults."""
    with open(os.path.join(ROOT, 'roles', 'cluster', 'meta', 'argument_specs.yml')) as f:
        options = yaml.safe_load(f)['argument_specs']['main']['options']
    config = options['cluster_config']['options']
    rows = [f for f in spec.FILE_FIELDS if f.key in M.UPSTREAM_KEYS + M.GUARD_KEYS]
    assert list(config) == [f.key for f in rows] and len(rows) == len(M.UPSTREAM_KEYS + M.GUARD_KEYS)
    from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import glue
    want = glue.argument_spec()
    for f in rows:
        got = dict((k, v) for k, v in config[f.key].items() if k in ('type', 'elements', 'choices'))
        assert got == dict((k, v) for k, v in want[f.name].items() if k != 'default'), f.key
    with open(os.path.join(ROOT, 'roles', 'cluster', 'defaults', 'main.yml')) as f:
        defaults = yaml.safe_load(f)
    for f in spec.RUNTIME_FIELDS:
        name = 'cluster_' + f.name
        if name in options:
            assert options[name]['default'] == defaults[name] == (f.default if f.default is not None else ''), name
            assert options[name].get('choices') == (list(f.choices) if f.choices else None), name
    assert set(o for o in options if o[len('cluster_'):] in spec.BY_NAME) == set(
        'cluster_' + n for n in ('chain', 'nomasq_all_reserved_ranges', 'ip_version', 'random_fully', 'to_ports'))
    for name, option in options.items():
        assert option.get('default') == defaults[name], name
