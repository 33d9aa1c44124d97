# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metrics: the Prometheus textfile the host program writes after each sync (counters persist across runs)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import metrics as M

FIRST = '''# HELP ip_masq_agent_last_sync_timestamp_seconds Unix time of the last sync attempt.
# TYPE ip_masq_agent_last_sync_timestamp_seconds gauge
ip_masq_agent_last_sync_timestamp_seconds 100.000
# HELP ip_masq_agent_last_sync_success 1 if the last sync left the rules in line with the config.
# TYPE ip_masq_agent_last_sync_success gauge
ip_masq_agent_last_sync_success 1
# HELP ip_masq_agent_rules Rules (or set elements for nftables) in force after the last sync.
# TYPE ip_masq_agent_rules gauge
ip_masq_agent_rules{backend="iptables",family="ipv4"} 5
ip_masq_agent_rules{backend="iptables",family="ipv6"} 3
# HELP ip_masq_agent_syncs_total Sync runs, by result.
# TYPE ip_masq_agent_syncs_total counter
ip_masq_agent_syncs_total{result="config_error"} 0
ip_masq_agent_syncs_total{result="failure"} 0
ip_masq_agent_syncs_total{result="success"} 1
# HELP ip_masq_agent_drift_repairs_total Syncs that changed the live rules while the config had not changed (someone or something \
altered them).
# TYPE ip_masq_agent_drift_repairs_total counter
ip_masq_agent_drift_repairs_total 0
# HELP ip_masq_agent_config_errors_total Syncs refused because the config was invalid.
# TYPE ip_masq_agent_config_errors_total counter
ip_masq_agent_config_errors_total 0
# HELP ip_masq_agent_config_info The digest of the config last applied.
# TYPE ip_masq_agent_config_info gauge
ip_masq_agent_config_info{sha256="aaaa"} 1
'''


def test_first_write_exact(tmp_path):
    path = str(tmp_path / 'ip_masq_agent.prom')
    M.write_metrics(path, 'success', 'iptables', {'ipv4': 5, 'ipv6': 3}, 'aaaa', changed=True, now=100)
    assert open(path).read() == FIRST
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_counters_persist_and_drift_is_counted(tmp_path):
    path = str(tmp_path / 'ip_masq_agent.prom')
    M.write_metrics(path, 'success', 'iptables', {'ipv4': 5}, 'aaaa', changed=True, now=100)
    M.write_metrics(path, 'success', 'iptables', {'ipv4': 5}, 'aaaa', changed=True, now=160)  # drift repaired
    M.write_metrics(path, 'success', 'iptables', {'ipv4': 5}, 'aaaa', changed=False, now=170)  # in sync
    M.write_metrics(path, 'success', 'iptables', {'ipv4': 6}, 'bbbb', changed=True, now=220)  # config change
    M.write_metrics(path, 'failure', now=250)
    M.write_metrics(path, 'config_error', now=280)
    m = M.read_metrics(path)
    assert m == {
        'ip_masq_agent_last_sync_timestamp_seconds': '280.000',
        'ip_masq_agent_last_sync_success': '0',
        'ip_masq_agent_rules{backend="iptables",family="ipv4"}': '6',  # kept from the last successful sync
        'ip_masq_agent_syncs_total{result="config_error"}': '1',
        'ip_masq_agent_syncs_total{result="failure"}': '1',
        'ip_masq_agent_syncs_total{result="success"}': '4',
        'ip_masq_agent_drift_repairs_total': '1',
        'ip_masq_agent_config_errors_total': '1',
        'ip_masq_agent_config_info{sha256="bbbb"}': '1',  # the config last applied, not the refused one
    }


def test_backend_switch_replaces_rule_lines(tmp_path):
    path = str(tmp_path / 'm.prom')
    M.write_metrics(path, 'success', 'iptables', {'ipv4': 5, 'ipv6': 4}, 'aaaa', now=1)
    M.write_metrics(path, 'success', 'nftables', {'ipv4': 5}, 'cccc', changed=True, now=2)
    m = M.read_metrics(path)
    assert [k for k in m if k.startswith('ip_masq_agent_rules')] == ['ip_masq_agent_rules{backend="nftables",family="ipv4"}']
    assert m['ip_masq_agent_drift_repairs_total'] == '0'


def test_unreadable_or_garbled_file_starts_over(tmp_path):
    path = tmp_path / 'm.prom'
    path.write_bytes(b'ip_masq_agent_syncs_total{result="success"} lots\n\xff\n')
    assert M.read_metrics(str(tmp_path / 'missing')) == {}
    M.write_metrics(str(path), 'success', 'iptables', {'ipv4': 1}, 'dddd', now=3)
    assert M.read_metrics(str(path))['ip_masq_agent_syncs_total{result="success"}'] == '1'
    path.write_text('ip_masq_agent_syncs_total{result="success"} lots\n')
    M.write_metrics(str(path), 'success', 'iptables', {'ipv4': 1}, 'dddd', now=3)
    assert M.read_metrics(str(path))['ip_masq_agent_syncs_total{result="success"}'] == '1'
