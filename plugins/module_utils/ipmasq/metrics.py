# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Prometheus textfile-collector file the host program writes after each sync (off unless asked for)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re
import stat
import time

from .host import write_atomic

RESULTS = ('success', 'failure', 'config_error')
_INFO = re.compile(r'ip_masq_agent_config_info\{sha256="([0-9a-f]+)"\}')


MAX_BYTES = 1 << 20


def read_metrics(path):
    """The values of the last file; nothing from anything but a regular file, and never more than 1 MiB."""
    values = {}
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return values
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return values
        text = os.read(fd, MAX_BYTES).decode('utf-8', 'replace')
    finally:
        os.close(fd)
    for line in text.splitlines():
        if line.startswith('#') or not line.strip():
            continue
        name, _sep, value = line.rpartition(' ')
        values[name] = value
    return values


def _check_target(path):
    """The file is replaced by rename, never written through: but a FIFO, device or directory there is not ours."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        raise OSError(errno.EINVAL, '%s is not a regular file; not replacing it' % path)


def _counter(old, name):
    """A counter read back; anything that is not a whole number (inf, nan, garbage) restarts it at 0."""
    try:
        return int(float(old.get(name, '0')))
    except (ValueError, OverflowError):
        return 0


def write_metrics(path, result, backend='', rules=None, config_digest=None, changed=False, now=None):
    """Update the file atomically. ``result``: 'success' | 'failure' | 'config_error'; ``rules``: {family: count}."""
    _check_target(path)
    old = read_metrics(path)
    last_digest = next((m.group(1) for m in (_INFO.fullmatch(n) for n in old) if m), None)
    totals = dict((r, _counter(old, 'ip_masq_agent_syncs_total{result="%s"}' % r)) for r in RESULTS)
    totals[result] += 1
    drift = _counter(old, 'ip_masq_agent_drift_repairs_total')
    if result == 'success' and changed and config_digest and config_digest == last_digest:
        drift += 1
    digest = config_digest if result == 'success' else last_digest
    if rules is None:
        rule_lines = ['%s %s' % (k, v) for k, v in sorted(old.items()) if k.startswith('ip_masq_agent_rules{')]
    else:
        rule_lines = ['ip_masq_agent_rules{backend="%s",family="%s"} %d' % (backend, fam, n)
                      for fam, n in sorted(rules.items())]
    metrics = (
        ('ip_masq_agent_last_sync_timestamp_seconds', 'gauge', 'Unix time of the last sync attempt.',
         ['ip_masq_agent_last_sync_timestamp_seconds %.3f' % (now if now is not None else time.time())]),
        ('ip_masq_agent_last_sync_success', 'gauge', '1 if the last sync left the rules in line with the config.',
         ['ip_masq_agent_last_sync_success %d' % (result == 'success')]),
        ('ip_masq_agent_rules', 'gauge', 'Rules (or set elements for nftables) in force after the last sync.',
         rule_lines),
        ('ip_masq_agent_syncs_total', 'counter', 'Sync runs, by result.',
         ['ip_masq_agent_syncs_total{result="%s"} %d' % (r, totals[r]) for r in sorted(totals)]),
        ('ip_masq_agent_drift_repairs_total', 'counter', 'Syncs that changed the live rules while the config had '
                                                         'not changed (someone or something altered them).',
         ['ip_masq_agent_drift_repairs_total %d' % drift]),
        ('ip_masq_agent_config_errors_total', 'counter', 'Syncs refused because the config was invalid.',
         ['ip_masq_agent_config_errors_total %d' % totals['config_error']]),
        ('ip_masq_agent_config_info', 'gauge', 'The digest of the config last applied.',
         ['ip_masq_agent_config_info{sha256="%s"} 1' % digest] if digest else []),
    )
    lines = []
    for name, kind, text, values in metrics:
        lines += ['# HELP %s %s' % (name, text), '# TYPE %s %s' % (name, kind)] + values
    write_atomic(path, '\n'.join(lines) + '\n', 0o644)
