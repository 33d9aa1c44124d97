# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options the modules share, documented once. One entry per row of module_utils/ipmasq/spec.py FIELDS; the unit
tests check the two against each other (names, types, choices, defaults)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The agent's config file (upstream's MasqConfig keys and ipmasq.agent's extensions).
    CONFIG = r'''
options:
  non_masquerade_cidrs:
    description:
      - C(nonMasqueradeCIDRs). Destinations that keep the Pod's source address, in rule order. IPv6 CIDRs need
        O(ip_version=ipv6) or O(ip_version=both).
      - When not given, upstream's default applies (C(10.0.0.0/8), C(172.16.0.0/12), C(192.168.0.0/16), plus the
        reserved ranges with O(ipmasq.agent.ip_masq_chain#module:nomasq_all_reserved_ranges)).
    type: list
    elements: str
  cidr_limit:
    description: C(cidrLimit). Most non-masquerade CIDRs accepted; raise it for large lists. Upstream's default is 64.
    type: int
  masq_link_local:
    description: C(masqLinkLocal). Masquerade traffic to C(169.254.0.0/16) too. Upstream's default is V(false).
    type: bool
  masq_link_local_ipv6:
    description: C(masqLinkLocalIPv6). Masquerade traffic to C(fe80::/10) too. Upstream's default is V(false).
    type: bool
  resync_interval:
    description: C(resyncInterval). How often the agent re-applies the rules, in Go duration syntax (C(60s), C(1m30s)).
      Upstream's default is C(60s).
    type: str
  masquerade_cidrs:
    description: Extension C(masqueradeCIDRs). Masquerade only traffic to these CIDRs; everything else keeps its source.
    type: list
    elements: str
  snat_to_source:
    description: Extension C(snatToSource). SNAT to this IPv4 address instead of MASQUERADE.
    type: str
  snat_to_source_ipv6:
    description: Extension C(snatToSourceIPv6). SNAT to this IPv6 address instead of MASQUERADE.
    type: str
  aggregate:
    description: Extension C(aggregate). Merge overlapping and adjacent CIDRs before rendering (fewer rules).
    type: bool
  required_cidrs:
    description: Extension C(requiredCIDRs). Guard rail. Refuse, before anything is written, a config that would
      masquerade traffic to any of these CIDRs (for example a GKE cluster's node and Pod ranges).
    type: list
    elements: str
  jump_position:
    description: Extension C(jumpPosition). Where the POSTROUTING jump goes. V(append) as upstream; V(first) keeps it at
      position 1, so an earlier ACCEPT or MASQUERADE rule cannot bypass it.
    type: str
    choices: [append, first]
  force_masquerade_cidrs:
    description: Extension C(forceMasqueradeCIDRs). Destinations that are masqueraded (or SNAT-ed) even inside a
      non-masquerade range, for example C(10.100.10.0/24) inside C(10.0.0.0/8) (upstream ip-masq-agent#61); their rules
      come before the non-masquerade RETURNs.
    type: list
    elements: str
  masquerade_source_cidrs:
    description: Extension C(masqueradeSourceCIDRs). Masquerade only traffic whose source is in these CIDRs (the Pod
      ranges); traffic from other sources keeps its address (upstream ip-masq-agent#65). Unset, every source.
    type: list
    elements: str
  skip_dnat:
    description: Extension C(skipDNAT). Leave DNAT-ed connections alone (C(-m conntrack --ctstate DNAT), C(ct status
      dnat)), so inbound NodePort or LoadBalancer traffic keeps its client address at the Pod.
    type: bool
'''

    # The host program's flags (upstream's, then ipmasq.agent's).
    RUNTIME = r'''
options:
  chain:
    description: Upstream's C(--masq-chain). The jump's comment names it, as upstream's does.
    type: str
    default: IP-MASQ-AGENT
  nomasq_all_reserved_ranges:
    description: Upstream's C(--nomasq-all-reserved-ranges). The default non-masquerade list also covers all reserved
      ranges (used when no non-masquerade CIDRs are given).
    type: bool
    default: false
  ip_version:
    description: The families managed. V(both) is upstream's C(--enable-ipv6); V(ipv6) manages ip6tables only.
    type: str
    choices: [ipv4, ipv6, both]
    default: ipv4
  random_fully:
    description: Upstream's C(--random-fully). With iptables older than 1.6.2 it is dropped with a warning, as upstream
      does.
    type: bool
    default: true
  to_ports:
    description: Upstream's C(--to-ports). Port ranges for MASQUERADE, for example C(32768-65535) or C(1024-2047,4096).
    type: str
  backend:
    description:
      - V(iptables) writes upstream's chain. V(nftables) writes a table C(inet ip-masq-agent) with interval sets.
        V(auto) keeps what the last sync used, else iptables where the host's nat table is in use.
      - Whatever the other backend left is removed in the same run.
    type: str
    choices: [iptables, nftables, auto]
    default: iptables
  wait:
    description: Seconds to wait for the xtables lock and for a concurrent C(ip-masq-agent) run.
    type: float
    default: 10
  lock_file:
    description: Lock file shared with the C(ip-masq-agent) host program. The record of the last sync (backend, chain,
      families) is kept beside it, with the extension C(.state).
    type: path
    default: /run/ip-masq-agent.lock
'''
