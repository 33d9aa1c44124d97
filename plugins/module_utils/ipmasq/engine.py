# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The only sync. The module ``ip_masq_chain`` and the host program's ``sync``, ``status`` and ``render`` call it.

Under the host lock: load the settings (so a run never applies a file that was replaced while it waited), resolve
``backend: auto``, probe the backend's capabilities once, plan every family, plan the removal of what the other
backend or a previous chain name left behind, apply each plan as one transaction (``sync`` only), and record what
was applied, so a rename or a backend switch is one transition that no later run can undo.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json

from . import intent
from .backends.iptables import IptablesUnit
from .backends.nftables import NftablesUnit
from .errors import ConfigError, HostError, NotOursError
from .host import (HostLock, choose_backend, primary_subnets, read_record, record_path, subnet_warnings,
                   write_record, clear_record)

SYNC, CHECK, STATUS = 'sync', 'check', 'status'


class Result(object):
    """What a run found and did. ``plans``: one per transaction domain, in the order they were (or would be) applied."""

    def __init__(self, settings=None):
        self.settings = settings
        self.backend = None
        self.plans = []
        self.applied = []
        self.warnings = []
        self.rules = {}

    @property
    def changed(self):
        return any(p.changed for p in self.plans)

    def digest(self):
        """What decides the rules (for metrics: was a change a config change, or drift?)."""
        s = self.settings
        data = dict(s.file_mapping(), argv=s.argv(), backend=self.backend, cidrs=s.cidrs())
        import hashlib  # only the metrics need it: not on every sync's import path
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode('utf-8')).hexdigest()[:16]


def units(host, backend, families):
    if backend == 'nftables':
        return [NftablesUnit(host, families)]
    return [IptablesUnit(host, f) for f in families]


def _intents(settings, unit_list, result):
    """Each family's intent, after the backend's capability checks (warnings or ConfigError, before any write); the
    --random-fully probe runs only when the flag is on."""
    _check_ports(settings, unit_list[0])
    random_fully = settings.random_fully
    if random_fully and not unit_list[0].supports_random_fully():
        result.warnings.append('iptables is older than 1.6.2: MASQUERADE without --random-fully, as upstream')
        random_fully = False
    return dict((f, intent.build(settings, f, random_fully)) for f in settings.families)


def _check_ports(settings, unit):
    limit = unit.max_port_ranges
    if limit is not None and len(settings.port_ranges) > limit:
        raise ConfigError(settings.label('to_ports'), settings.to_ports,
                          'the %s backend takes %d port range; several ranges with probabilities need the iptables '
                          'backend' % (unit.backend, limit))


def _families_managed(settings, record):
    """The families managed now, then those the last sync managed and this one does not."""
    return list(settings.families) + [f for f in (record or {}).get('families', []) if f not in settings.families]


def _leftovers(host, settings, backend, record):
    """Removal plans for what is ours but not wanted now: the other backend's state, a previous chain name, families
    no longer managed."""
    plans = []
    chains = [settings.chain]
    if record and record['chain'] != settings.chain and record['backend'] == 'iptables':
        chains.append(record['chain'])
    families = _families_managed(settings, record)
    if backend == 'iptables':
        gone = [f for f in families if f not in settings.families]
        if host.has('nft'):
            unit = NftablesUnit(host, settings.families)
            plans.append(unit.plan_removal(unit.read()))
    else:
        gone = families
    for family in gone:
        unit = IptablesUnit(host, family)
        if not host.has(unit.save_command):
            continue
        plans.append(unit.plan_removal(unit.read(), chains))
    return plans


@contextlib.contextmanager
def _guarded(settings):
    """Never take what is not ours: a chain holding rules the agent did not write is refused, naming the chain option
    as the user spelt it and one such rule; nothing is written (exit 2, a failed task)."""
    try:
        yield
    except NotOursError as e:
        raise ConfigError(settings.label('chain'), e.chain,
                          '%s: chain %s holds a rule the agent did not write (%s); refusing to %s it. If it is another '
                          "program's chain (kube-proxy's, Docker's, a user's), name another chain; if it is the agent's, "
                          'remove that rule first' % (e.family, e.chain, e.rule, e.doing))


def run(host, load, mode=SYNC, lock_file=None):
    """Sync (or, with CHECK / STATUS, only plan) the rules. ``load()`` returns the validated Settings; it is called
    under the lock. Raises ConfigError (nothing touched) or HostError (``error.result`` says what was applied)."""
    with HostLock(lock_file, timeout=host.wait):
        settings = load()
        result = Result(settings)
        result.warnings.extend(settings.warnings)
        record_file = record_path(lock_file)
        record = read_record(record_file)
        backend = settings.backend
        if backend == 'auto':
            backend = choose_backend(host, settings.chain, record)
        result.backend = backend
        unit_list = units(host, backend, settings.families)
        intents = _intents(settings, unit_list, result)
        if mode == SYNC:
            result.warnings.extend(subnet_warnings(settings, primary_subnets(host)))
        stale = [record['chain']] if record and record['backend'] == 'iptables' else []
        with _guarded(settings):
            for unit in unit_list:
                result.plans.append(unit.plan(unit.read(), [intents[f] for f in unit.families], settings.chain, stale,
                                              owned=stale))
            result.plans.extend(_leftovers(host, settings, backend, record))
        for plan in result.plans:
            result.warnings.extend(plan.warnings)
        result.rules = dict((f, len(i.rules)) for f, i in intents.items())
        if mode == SYNC:
            _apply(result)
            write_record(record_file, {'backend': backend, 'chain': settings.chain,
                                       'families': list(settings.families)})
        return result


def _apply(result):
    for plan in result.plans:
        if plan.changed:
            try:
                plan.unit.apply(plan)
            except HostError as e:
                e.result = result
                raise
            result.applied.append(plan)


def remove(host, load, check_mode=False, lock_file=None):
    """Remove everything of the agent's: its chain (and a previous chain name) in every family it managed, and its
    nftables table. Nothing else."""
    with HostLock(lock_file, timeout=host.wait):
        settings = load()
        result = Result(settings)
        record_file = record_path(lock_file)
        record = read_record(record_file)
        chains = [settings.chain] + ([record['chain']] if record and record['chain'] != settings.chain else [])
        families = _families_managed(settings, record)
        for family in families:
            unit = IptablesUnit(host, family)
            if host.has(unit.save_command):
                with _guarded(settings):
                    result.plans.append(unit.plan_removal(unit.read(), chains))
        if host.has('nft'):
            unit = NftablesUnit(host, families)
            result.plans.append(unit.plan_removal(unit.read()))
        if not check_mode:
            _apply(result)
            clear_record(record_file)
        return result


def render(settings):
    """The payloads a first sync would write, per transaction domain (no host needed; ``auto`` renders iptables)."""
    backend = 'nftables' if settings.backend == 'nftables' else 'iptables'
    unit_list = units(None, backend, settings.families)
    _check_ports(settings, unit_list[0])
    intents = dict((f, intent.build(settings, f)) for f in settings.families)
    return [u.render([intents[f] for f in u.families], settings.chain) for u in unit_list]
