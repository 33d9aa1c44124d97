# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every backend provides, and the plan it returns. The engine owns check mode, diff and ``changed``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class Plan(object):
    """One transaction: ``payload`` (None when in sync), what it does, and the managed lines before and after."""

    def __init__(self, unit, target, removal=False):
        self.unit = unit
        self.removal = removal
        self.scope = unit.scope
        self.target = target
        self.payload = None
        self.actions = []
        self.before = []
        self.after = []
        self.warnings = []

    @property
    def changed(self):
        return self.payload is not None

    def drift(self):
        """Readable differences between live and desired lines (for ``status``)."""
        after = set(self.after)
        before = set(self.before)
        out = ['- ' + line for line in self.before if line not in after]
        out += ['+ ' + line for line in self.after if line not in before]
        return out or ['~ ' + a for a in self.actions]


class Unit(object):
    """One transaction domain of a backend (a family's nat table, or the nftables table).

    Subclasses implement ``read``, ``plan`` (against the intents of their families), ``plan_removal``, ``apply``
    and ``capabilities``; nothing else.
    """

    backend = None
    scope = None
    families = ()

    def read(self):
        raise NotImplementedError

    def plan(self, live, intents, chain, stale_chains=(), owned=()):
        """``owned``: chains the record says the agent wrote (their foreign rules are drift, not another program's)."""
        raise NotImplementedError

    def plan_removal(self, live, chains):
        raise NotImplementedError

    def apply(self, plan):
        raise NotImplementedError

    # capabilities: how many --to-ports ranges the backend can write (None: any), and whether --random-fully works
    max_port_ranges = None

    def supports_random_fully(self):
        raise NotImplementedError

    def render(self, intents, chain):
        """The payload a first sync would write (the ``render`` command)."""
        raise NotImplementedError
