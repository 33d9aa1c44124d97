# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the engine's tests and the modules' tests: a scripted command runner and a ``find``."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import HostError


class ScriptedRunner(object):
    """The runner the engine's Host takes, scripted: an ordered list of (argv, rc, stdout, stderr).

    Any call that is not the next expected one fails the test; ``calls`` keeps (argv, stdin data) of each call.
    """

    def __init__(self, script):
        self.script = list(script)
        self.calls = []

    def __call__(self, argv, data=None):
        self.calls.append((argv, data))
        assert self.script, 'unexpected call %r' % (argv,)
        want, rc, out, err = self.script.pop(0)
        assert argv == want, (argv, want)
        return rc, out, err

    @property
    def argvs(self):
        return [argv for argv, _data in self.calls]


@pytest.fixture
def scripted():
    return ScriptedRunner


def make_find(missing=()):
    """``find`` for a Host: every command is in /usr/sbin, except those in ``missing``."""
    def find(name):
        if name in missing:
            raise HostError('%s not found' % name)
        return '/usr/sbin/' + name
    return find


@pytest.fixture
def find():
    return make_find()


@pytest.fixture
def find_without():
    return make_find
