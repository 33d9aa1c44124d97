# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest


class ScriptedRunner(object):
    """The runner the backends take, scripted: an ordered list of (argv, rc, stdout, stderr).

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


@pytest.fixture
def scripted():
    return ScriptedRunner


@pytest.fixture
def find():
    return lambda name: '/usr/sbin/' + name
