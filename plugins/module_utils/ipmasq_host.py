# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host facts and outputs around a sync: the node's primary subnets (guard rail), backend choice for
``backend: auto``, and the Prometheus textfile-collector file. Same runner/find contract as the backends."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import tempfile
import time

from .ipmasq_config import netaddr


def primary_subnets(runner, find):
    """The subnets of the addresses on the interfaces that carry the default routes (IPv4 and IPv6)."""
    try:
        ip = find('ip')
    except Exception:
        return []
    out = []
    for fam in ('-4', '-6'):
        rc, text, _err = runner([ip, '-j', fam, 'route', 'show', 'default'], None)
        if rc != 0 or not text.strip():
            continue
        try:
            devs = sorted(set(r['dev'] for r in json.loads(text) if 'dev' in r))
        except (ValueError, KeyError, TypeError):
            continue
        for dev in devs:
            rc, text, _err = runner([ip, '-j', fam, 'addr', 'show', 'dev', dev], None)
            if rc != 0:
                continue
            try:
                for link in json.loads(text):
                    for a in link.get('addr_info', []):
                        if a.get('scope') == 'global':
                            out.append(str(netaddr.IPNetwork('%s/%s' % (a['local'], a['prefixlen'])).cidr))
            except (ValueError, KeyError, TypeError):
                continue
    return out


def subnet_warnings(cfg, subnets, enable_ipv6=False):
    """Warn when traffic to the node's own subnet would be masqueraded (usually a missing nonMasqueradeCIDRs entry)."""
    warnings = []
    for subnet in subnets:
        net = netaddr.IPNetwork(subnet)
        family = 'ipv6' if net.version == 6 else 'ipv4'
        if family == 'ipv6' and not enable_ipv6:
            continue
        leak = cfg.masqueraded_set(family) & netaddr.IPSet([net])
        if leak:
            warnings.append('the node\'s own subnet %s is masqueraded by this config (not covered by '
                            'nonMasqueradeCIDRs); add it if Pods talk to node addresses directly' % subnet)
    return warnings


def choose_backend(runner, find, chain):
    """``backend: auto``: keep iptables where the host already uses it, nftables elsewhere.

    nftables when our nft table exists; iptables when our chain exists or the nat table has any rule (kube-proxy,
    Docker, a user's) or nft is missing; nftables otherwise.
    """
    try:
        nft = find('nft')
    except Exception:
        return 'iptables'
    rc, _out, _err = runner([nft, 'list', 'table', 'inet', 'ip-masq-agent'], None)
    if rc == 0:
        return 'nftables'
    try:
        save = find('iptables-save')
    except Exception:
        return 'nftables'
    rc, out, _err = runner([save, '-t', 'nat'], None)
    if rc == 0 and (':%s ' % chain in out or re.search(r'^-A ', out, re.M)):
        return 'iptables'
    return 'nftables'


METRIC_HELP = (
    ('ip_masq_agent_last_sync_timestamp_seconds', 'gauge', 'Unix time of the last sync attempt.'),
    ('ip_masq_agent_last_sync_success', 'gauge', '1 if the last sync left the rules in line with the config.'),
    ('ip_masq_agent_rules', 'gauge', 'Rules (or set elements for nftables) in force after the last sync.'),
    ('ip_masq_agent_syncs_total', 'counter', 'Sync runs, by result.'),
    ('ip_masq_agent_drift_repairs_total', 'counter', 'Syncs that changed the live rules while the config had not '
                                                     'changed (someone or something altered them).'),
    ('ip_masq_agent_config_errors_total', 'counter', 'Syncs refused because the config was invalid.'),
    ('ip_masq_agent_config_info', 'gauge', 'The digest of the config last applied.'),
)


def read_metrics(path):
    values = {}
    try:
        with open(path) as f:
            for line in f:
                if line.startswith('#') or not line.strip():
                    continue
                name, _sep, value = line.rstrip('\n').rpartition(' ')
                values[name] = value
    except (IOError, OSError):
        pass
    return values


def write_metrics(path, result, backend, rules=None, config_digest=None, changed=False, now=None):
    """Update the textfile-collector file atomically. ``result``: 'success' | 'failure' | 'config_error'."""
    old = read_metrics(path)
    last_digest = None
    for name in old:
        m = re.match(r'^ip_masq_agent_config_info\{sha256="([0-9a-f]+)"\}$', name)
        if m:
            last_digest = m.group(1)

    def counter(name):
        try:
            return int(float(old.get(name, '0')))
        except ValueError:
            return 0

    totals = dict((r, counter('ip_masq_agent_syncs_total{result="%s"}' % r)) for r in
                  ('success', 'failure', 'config_error'))
    totals[result] += 1
    drift = counter('ip_masq_agent_drift_repairs_total')
    if result == 'success' and changed and config_digest and config_digest == last_digest:
        drift += 1
    errors = counter('ip_masq_agent_config_errors_total') + (1 if result == 'config_error' else 0)
    digest = config_digest if result == 'success' else last_digest
    lines = []
    for name, kind, text in METRIC_HELP:
        lines.append('# HELP %s %s' % (name, text))
        lines.append('# TYPE %s %s' % (name, kind))
        if name == 'ip_masq_agent_last_sync_timestamp_seconds':
            lines.append('%s %.3f' % (name, now if now is not None else time.time()))
        elif name == 'ip_masq_agent_last_sync_success':
            lines.append('%s %d' % (name, 1 if result == 'success' else 0))
        elif name == 'ip_masq_agent_rules':
            if rules is None:
                for key, value in old.items():
                    if key.startswith(name + '{'):
                        lines.append('%s %s' % (key, value))
            else:
                for family in sorted(rules):
                    lines.append('%s{backend="%s",family="%s"} %d' % (name, backend, family, rules[family]))
        elif name == 'ip_masq_agent_syncs_total':
            for r in sorted(totals):
                lines.append('%s{result="%s"} %d' % (name, r, totals[r]))
        elif name == 'ip_masq_agent_drift_repairs_total':
            lines.append('%s %d' % (name, drift))
        elif name == 'ip_masq_agent_config_errors_total':
            lines.append('%s %d' % (name, errors))
        elif name == 'ip_masq_agent_config_info' and digest:
            lines.append('%s{sha256="%s"} 1' % (name, digest))
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.ip-masq-agent.', suffix='.prom', dir=directory)
    try:
        with os.fdopen(fd, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
