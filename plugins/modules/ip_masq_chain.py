#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: ip_masq_chain
short_description: Manage the ip-masq-agent IP-MASQ-AGENT nat chain and its POSTROUTING jump
version_added: 1.0.0
description:
  - Keeps the C(IP-MASQ-AGENT) chain of the nat table (IPv4, IPv6 or both) and its C(POSTROUTING) jump exactly as
    upstream kubernetes-sigs/ip-masq-agent v2.12 writes them, or the nftables table C(inet ip-masq-agent).
  - Reads the nat table once (C(iptables-save -t nat)) and writes at most once (C(iptables-restore --noflush -w)),
    only when the parsed rules differ. Other chains (kube-proxy's, Docker's, a user's) are never touched.
  - Exactly one jump is left in C(POSTROUTING); jumps written by older upstream versions (other comment quoting) are
    adopted and replaced in the same transaction, so there is no gap in masquerading.
  - The non-masquerade CIDRs come either from O(non_masquerade_cidrs) or from the agent's config file
    (O(config_path)), read the way the C(ip-masq-agent) host program reads it.
  - Runs on one host are serialised with the host program's lock file, so a timer-driven sync never interleaves.
author:
  - ipmasq.agent contributors (@ipmasq)
options:
  state:
    description:
      - V(present) makes the chain and the jump match the configuration.
      - V(absent) removes the chain and every POSTROUTING jump to it, and nothing else (for the nftables backend,
        the table C(inet ip-masq-agent)). It fails if rules outside POSTROUTING still use the chain.
    type: str
    choices: [present, absent]
    default: present
  chain:
    description:
      - Name of the chain (upstream's C(--masq-chain)). The jump's comment names it, as upstream does.
    type: str
    default: IP-MASQ-AGENT
  non_masquerade_cidrs:
    description:
      - Destinations that keep the Pod's source address, in rule order. IPv6 CIDRs need O(ip_version=ipv6) or
        O(ip_version=both).
      - When neither this nor O(config_path) is given, upstream's default applies (C(10.0.0.0/8),
        C(172.16.0.0/12), C(192.168.0.0/16), plus the reserved ranges with O(nomasq_all_reserved_ranges)).
    type: list
    elements: str
  masq_link_local:
    description:
      - Masquerade traffic to C(169.254.0.0/16) too. By default link-local traffic is not masqueraded (it is the
        first RETURN rule). Defaults to V(false).
    type: bool
  masq_link_local_ipv6:
    description:
      - Masquerade traffic to C(fe80::/10) too. Defaults to V(false).
    type: bool
  config_path:
    description:
      - Read the agent config file (YAML or JSON, upstream's keys) instead of the options above. A missing file
        means upstream's defaults.
    type: path
  ip_version:
    description:
      - Which families to manage. V(ipv6) and V(both) correspond to upstream's C(--enable-ipv6).
    type: str
    choices: [ipv4, ipv6, both]
    default: ipv4
  random_fully:
    description:
      - Add C(--random-fully) to MASQUERADE, as upstream does by default. If iptables is older than 1.6.2 the flag is
        dropped with a warning, as upstream does.
    type: bool
    default: true
  to_ports:
    description:
      - Port ranges for MASQUERADE, as upstream's C(--to-ports), for example C(32768-65535) or C(1024-2047,4096).
    type: str
  nomasq_all_reserved_ranges:
    description:
      - The default non-masquerade list also covers all reserved ranges (upstream's C(--nomasq-all-reserved-ranges)).
    type: bool
    default: false
  cidr_limit:
    description:
      - Most non-masquerade CIDRs accepted (upstream's C(cidrLimit)); raise it for large lists. With O(config_path)
        the file's C(cidrLimit) applies unless this is set. Defaults to V(64).
    type: int
  aggregate:
    description:
      - Merge overlapping and adjacent CIDRs before rendering (fewer rules; not upstream's rule text).
    type: bool
    default: false
  required_cidrs:
    description:
      - Guard rail. Fail before touching anything if traffic to any of these CIDRs would be masqueraded, for example
        a GKE cluster's node and Pod ranges.
    type: list
    elements: str
  jump_position:
    description:
      - Where the POSTROUTING jump goes. V(append) as upstream; V(first) puts it at position 1 (and moves it back there
        when something is inserted before it), so an earlier ACCEPT or MASQUERADE rule cannot bypass it.
    type: str
    choices: [append, first]
  masquerade_cidrs:
    description:
      - Masquerade only traffic to these CIDRs; everything else keeps the Pod address. No catch-all rule.
    type: list
    elements: str
  snat_to_source:
    description:
      - SNAT to this IPv4 address instead of MASQUERADE.
    type: str
  snat_to_source_ipv6:
    description:
      - SNAT to this IPv6 address instead of MASQUERADE.
    type: str
  backend:
    description:
      - V(iptables) writes upstream's chain. V(nftables) writes a table C(inet ip-masq-agent) with interval sets (and
        removes the iptables chain if one is left). V(auto) keeps iptables where the host already uses it.
    type: str
    choices: [iptables, nftables, auto]
    default: iptables
  wait:
    description:
      - Seconds to wait for the xtables lock and for a concurrent C(ip-masq-agent) run.
    type: int
    default: 10
  lock_file:
    description:
      - Lock file shared with the C(ip-masq-agent) host program.
    type: path
    default: /run/ip-masq-agent.lock
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the live rules and reports exactly what a run would write.
  diff_mode:
    support: full
    details: The agent's lines as iptables-save prints them, before and after.
  platform:
    platforms: posix
notes:
  - Needs the Python libraries PyYAML and netaddr on the target (Debian C(python3-yaml), C(python3-netaddr)).
  - Rules are compared parsed, not as text, because iptables-save reorders matches and rewrites values.
  - Counters. With C(iptables-nft) counters live on each rule and a write cannot touch other chains' counters. With
    C(iptables-legacy) a write replaces the whole nat table in the kernel; measured with iptables 1.8.9, the counters
    of other chains' rules survive but the policy counters of the built-in chains are reset to zero (as with any
    tool writing the table through iptables-legacy).
seealso:
  - module: ipmasq.agent.ip_masq_config
  - name: Upstream ip-masq-agent
    description: The Kubernetes DaemonSet whose rules this module reproduces.
    link: https://github.com/kubernetes-sigs/ip-masq-agent
'''

EXAMPLES = r'''
- name: Keep Pod traffic to the cluster's ranges unmasqueraded
  ipmasq.agent.ip_masq_chain:
    non_masquerade_cidrs:
      - 10.0.0.0/20
      - 10.4.0.0/14

- name: Apply the agent config file now, IPv4 and IPv6
  ipmasq.agent.ip_masq_chain:
    config_path: /etc/config/ip-masq-agent
    ip_version: both

- name: GKE / Cloud Composer style guard rail, jump first
  ipmasq.agent.ip_masq_chain:
    non_masquerade_cidrs: [10.0.0.0/20, 10.4.0.0/14]
    required_cidrs: [10.0.0.0/20, 10.4.0.0/14]
    jump_position: first

- name: Large list on nftables sets
  ipmasq.agent.ip_masq_chain:
    config_path: /etc/config/ip-masq-agent
    backend: nftables

- name: Remove the chain and its jump, nothing else
  ipmasq.agent.ip_masq_chain:
    state: absent
'''

RETURN = r'''
rules:
  description: The agent's lines per family (or V(nftables)) once in sync, as iptables-save prints them; empty
    lists after O(state=absent).
  returned: always
  type: dict
  sample:
    ipv4:
      - ":IP-MASQ-AGENT - [0:0]"
      - >-
        -A POSTROUTING -m comment --comment "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination
        traffic to our custom IP-MASQ-AGENT chain" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT
      - "-A IP-MASQ-AGENT -d 169.254.0.0/16 -m comment --comment \"ip-masq-agent: local traffic is not subject to MASQUERADE\" -j RETURN"
      - >-
        -A IP-MASQ-AGENT -m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE
        (must be last in chain)" -j MASQUERADE --random-fully
actions:
  description: What was (or, in check mode, would be) done, per family.
  returned: always
  type: dict
  sample: {ipv4: ["create chain IP-MASQ-AGENT", "append POSTROUTING jump to IP-MASQ-AGENT"]}
backend:
  description: The backend used (V(iptables) or V(nftables); V(auto) resolved).
  returned: always
  type: str
  sample: iptables
rules_saved:
  description: Rules saved by O(aggregate).
  returned: when O(aggregate=true)
  type: int
  sample: 3
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq_ansible import fail_without_libs
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq_config import (
    ConfigError, Options, config_from_mapping,
    load_config_file)
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq_host import (
    choose_backend, primary_subnets, subnet_warnings)
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq_iptables import (
    Backend, HostLock, IptablesError, remove_family, sync_family)
from ansible_collections.ipmasq.agent.plugins.module_utils import ipmasq_nft

# module option -> config file key
OPTION_KEYS = (
    ('non_masquerade_cidrs', 'nonMasqueradeCIDRs'),
    ('masq_link_local', 'masqLinkLocal'),
    ('masq_link_local_ipv6', 'masqLinkLocalIPv6'),
    ('cidr_limit', 'cidrLimit'),
    ('aggregate', 'aggregate'),
    ('required_cidrs', 'requiredCIDRs'),
    ('jump_position', 'jumpPosition'),
    ('masquerade_cidrs', 'masqueradeCIDRs'),
    ('snat_to_source', 'snatToSource'),
    ('snat_to_source_ipv6', 'snatToSourceIPv6'),
)
FILE_ONLY = ('non_masquerade_cidrs', 'masq_link_local', 'masq_link_local_ipv6', 'masquerade_cidrs',
             'snat_to_source', 'snat_to_source_ipv6')


def option_name(key):
    for opt, k in OPTION_KEYS:
        if k == key:
            return opt
    return key


def load(module, options):
    p = module.params
    if p['config_path']:
        overrides = dict((k, p[o]) for o, k in OPTION_KEYS if o not in FILE_ONLY and p[o] is not None
                         and p[o] != [] and not (o == 'aggregate' and p[o] is False))
        return load_config_file(p['config_path'], options, overrides)
    data = dict((k, p[o]) for o, k in OPTION_KEYS if p[o] is not None)
    if data.get('requiredCIDRs') == []:
        del data['requiredCIDRs']
    return config_from_mapping(data, options)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', default='present', choices=['present', 'absent']),
            chain=dict(type='str', default='IP-MASQ-AGENT'),
            non_masquerade_cidrs=dict(type='list', elements='str'),
            masq_link_local=dict(type='bool'),
            masq_link_local_ipv6=dict(type='bool'),
            config_path=dict(type='path'),
            ip_version=dict(type='str', default='ipv4', choices=['ipv4', 'ipv6', 'both']),
            random_fully=dict(type='bool', default=True),
            to_ports=dict(type='str'),
            nomasq_all_reserved_ranges=dict(type='bool', default=False),
            cidr_limit=dict(type='int'),
            aggregate=dict(type='bool', default=False),
            required_cidrs=dict(type='list', elements='str'),
            jump_position=dict(type='str', choices=['append', 'first']),
            masquerade_cidrs=dict(type='list', elements='str'),
            snat_to_source=dict(type='str'),
            snat_to_source_ipv6=dict(type='str'),
            backend=dict(type='str', default='iptables', choices=['iptables', 'nftables', 'auto']),
            wait=dict(type='int', default=10),
            lock_file=dict(type='path', default='/run/ip-masq-agent.lock'),
        ),
        mutually_exclusive=[('config_path', o) for o in FILE_ONLY],
        supports_check_mode=True,
    )
    fail_without_libs(module)
    p = module.params

    def runner(argv, data=None):
        return module.run_command(argv, data=data, binary_data=True, environ_update={'LC_ALL': 'C'})

    def find(name):
        return module.get_bin_path(name, required=True)

    def find_optional(name):
        path = module.get_bin_path(name)
        if not path:
            raise ValueError('%s not found' % name)
        return path

    try:
        options = Options(masq_chain=p['chain'], nomasq_all_reserved_ranges=p['nomasq_all_reserved_ranges'],
                          enable_ipv6=p['ip_version'] != 'ipv4', random_fully=p['random_fully'],
                          to_ports=p['to_ports'] or '', backend=p['backend'])
        cfg = load(module, options) if p['state'] == 'present' else None
        if cfg is not None and p['backend'] == 'nftables':
            ipmasq_nft.desired(cfg, options)
    except ConfigError as e:
        where = (' in %s' % p['config_path']) if p['config_path'] else ''
        key = e.key if p['config_path'] else option_name(e.key).replace('masq-chain', 'chain').replace('-', '_')
        module.fail_json(msg='%s%s: %s' % (key, where, e.reason), option=key, value=str(e.value))

    families = ['ipv4', 'ipv6'] if p['ip_version'] == 'both' else [p['ip_version']]
    result = dict(changed=False, rules={}, actions={})
    diffs = []
    try:
        backend = p['backend']
        if backend == 'auto':
            backend = choose_backend(runner, find_optional, p['chain'])
        result['backend'] = backend
        if cfg is not None:
            for w in cfg.warnings:
                module.warn(w)
            for w in subnet_warnings(cfg, primary_subnets(runner, find_optional), options.enable_ipv6):
                module.warn(w)
            if cfg.aggregate:
                result['rules_saved'] = cfg.aggregation_saved()
        with HostLock(p['lock_file'], timeout=p['wait']):
            plans = []
            if backend == 'nftables':
                nft = ipmasq_nft.NftBackend(runner, find)
                if cfg is None:
                    plans.append(ipmasq_nft.remove(nft, check_mode=module.check_mode))
                else:
                    plans.append(ipmasq_nft.sync(nft, cfg, options, check_mode=module.check_mode))
                    # moving from the iptables backend: our old chain and jump must go
                    for fam in families:
                        plans.append(remove_family(Backend(runner, find, fam, wait=p['wait']), p['chain'],
                                                   check_mode=module.check_mode))
            else:
                ipt = [Backend(runner, find, fam, wait=p['wait']) for fam in families]
                if cfg is not None and options.random_fully and not ipt[0].supports_random_fully():
                    module.warn('iptables is older than 1.6.2: MASQUERADE without --random-fully, as upstream')
                    options.random_fully = False
                for b in ipt:
                    if cfg is None:
                        plans.append(remove_family(b, p['chain'], check_mode=module.check_mode))
                    else:
                        plans.append(sync_family(b, cfg, options, check_mode=module.check_mode))
        for plan in plans:
            result['changed'] |= plan.changed
            result['actions'][plan.family] = plan.actions
            result['rules'][plan.family] = plan.after  # empty for removals
            if plan.changed:
                diffs.append(dict(before=''.join(l + '\n' for l in plan.before),
                                  after=''.join(l + '\n' for l in plan.after),
                                  before_header='%s %s (live)' % (plan.family, plan.chain),
                                  after_header='%s %s (%s)' % (plan.family, plan.chain,
                                                               'predicted' if module.check_mode else 'applied')))
    except IptablesError as e:
        module.fail_json(msg=e.msg, cmd=e.cmd, rc=e.rc, stdout=e.stdout, stderr=e.stderr, **result)
    if module._diff and diffs:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
