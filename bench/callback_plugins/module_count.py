# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counts, per host, the task results that ran a module on the target (bench/bench_fleet.py reads them).

A result counts when it was not skipped and its action is not one that runs on the controller only (meta, set_fact,
include_*/import_*, include_vars, debug, assert, ...). A loop counts each item that was not skipped. Unreachable
results and failures count too (a module was sent). Written as JSON to $IPMASQ_BENCH_COUNTS at the end of the play
run: {"hosts": {host: n}, "tasks": {host: [[task name, action, n], ...]}}.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: module_count
type: aggregate
short_description: Count module executions on the target per host (bench only)
description:
  - Counts the task results per host that ran a module on the target and writes them as JSON to the file named by
    the environment variable C(IPMASQ_BENCH_COUNTS).
requirements:
  - enabled in ANSIBLE_CALLBACKS_ENABLED
'''

import json
import os

from ansible.plugins.callback import CallbackBase

# Actions that never send a module to the target
CONTROLLER_ONLY = frozenset(
    'ansible.builtin.' + a if '.' not in a else a for a in (
        'meta', 'set_fact', 'include_tasks', 'import_tasks', 'include_role', 'import_role', 'include_vars',
        'include', 'import_playbook', 'debug', 'assert', 'fail', 'pause', 'add_host', 'group_by', 'set_stats',
        'validate_argument_spec'))


def _fqcn(action):
    return action if '.' in action else 'ansible.builtin.' + action


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'module_count'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.hosts = {}
        self.tasks = {}

    def _count(self, result):
        action = _fqcn(result._task.action)
        if action in CONTROLLER_ONLY or action.endswith('.include_tasks'):
            return
        res = result._result
        if 'results' in res and isinstance(res['results'], list):
            n = sum(1 for r in res['results'] if isinstance(r, dict) and not r.get('skipped'))
        else:
            n = 0 if res.get('skipped') else 1
        if not n:
            return
        host = result._host.get_name()
        self.hosts[host] = self.hosts.get(host, 0) + n
        self.tasks.setdefault(host, []).append([result._task.get_name(), action, n])

    v2_runner_on_ok = _count
    v2_runner_on_unreachable = _count

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('IPMASQ_BENCH_COUNTS')
        if path:
            with open(path, 'w') as f:
                json.dump({'hosts': self.hosts, 'tasks': self.tasks}, f, indent=1, sort_keys=True)
