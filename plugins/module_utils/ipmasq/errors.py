# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two errors the engine raises: a rejected setting (exit 2, nothing touched) and a failed host command."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import reprlib


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxtuple, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 4, 160, 80


def show(value, limit=80):
    """A value for an error message, never longer than ``limit``: values can be huge or deeply nested (a YAML alias
    bomb), so they are never formatted whole (reprlib stops at a few items and two levels)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


class ConfigError(ValueError):
    """A rejected setting. ``key`` names it as the user wrote it (file key, module option or flag)."""

    def __init__(self, key, value, reason):
        self.key = key
        self.value = value
        self.reason = reason
        super(ConfigError, self).__init__('%s: %s' % (key, reason) if key else reason)


class NotOursError(Exception):
    """A chain the agent did not write (or one it did, holding rules it did not write) would be taken over or deleted.
    The engine turns it into a ConfigError naming the chain option as the user spelt it: nothing is written."""

    def __init__(self, chain, family, rule, doing):
        super(NotOursError, self).__init__(chain)
        self.chain = chain
        self.family = family
        self.rule = rule
        self.doing = doing


class HostError(Exception):
    """A failed command or host operation, with what fail_json wants (msg, cmd, rc, stdout, stderr)."""

    def __init__(self, msg, cmd=None, rc=None, stdout='', stderr=''):
        super(HostError, self).__init__(msg)
        self.msg = msg
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
