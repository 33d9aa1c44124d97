# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's real main() with patched arguments and an ordered mock of run_command."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from unittest import mock

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class Script(object):
    """Expected run_command calls, in order: (argv, rc, stdout, stderr). Anything else fails the test."""

    def __init__(self, calls):
        self.expected = list(calls)
        self.seen = []

    def __call__(self, argv, data=None, binary_data=False, environ_update=None, **kwargs):
        self.seen.append(dict(argv=list(argv), data=data, binary_data=binary_data, environ_update=environ_update))
        assert self.expected, 'unexpected command %r' % (argv,)
        want, rc, out, err = self.expected.pop(0)
        assert list(argv) == want, 'expected %r, got %r' % (want, argv)
        assert binary_data is True and environ_update == {'LC_ALL': 'C'}
        return rc, out, err


@pytest.fixture
def run_module(capsys):
    def _run(main, args, calls=(), check_mode=False, diff=True, missing=()):
        """Run ``main`` with ``args``; every command is found in /usr/sbin except those in ``missing``."""
        script = Script(calls)
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
        with patch_module_args(args), \
                mock.patch.object(basic.AnsibleModule, 'run_command', side_effect=script), \
                mock.patch.object(basic.AnsibleModule, 'get_bin_path',
                                  side_effect=lambda name, required=False, opt_dirs=None: None if name in missing else '/usr/sbin/' + name):
            with pytest.raises(SystemExit):
                main()
        result = json.loads(capsys.readouterr().out)
        assert script.expected == [], 'commands not run: %r' % script.expected
        return result, script
    return _run
