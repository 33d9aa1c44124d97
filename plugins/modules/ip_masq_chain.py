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
  - Exactly one jump of the agent's is left in C(POSTROUTING), the earliest in its place; jumps written by older
    upstream versions (other comment quoting) are adopted and replaced in the same transaction, so there is no gap in
    masquerading. A jump to the chain that the agent did not write is left in place, with a warning.
  - A chain that holds rules the agent did not write (kube-proxy's, Docker's, a user's) is never taken over or
    deleted; the task fails naming the chain and one such rule, and nothing is written.
  - The config comes from the options, from O(config) (a mapping of upstream's keys) or from the agent's config file
    (O(config_path)), read the way the C(ip-masq-agent) host program reads it; options override the keys of either.
  - It runs the same engine as the host program. Runs on one host are serialised with its lock file, and a chain rename or a
    backend switch is one transition, whichever of the two runs next.
author:
  - ipmasq.agent contributors (@ipmasq)
requirements:
  - PyYAML (Debian C(python3-yaml)) on the target, to read a YAML file given in O(config_path); the module fails at
    start, naming it, when it is missing
  - netaddr (Debian C(python3-netaddr)) on the target, for O(aggregate), O(required_cidrs) and the nftables backend;
    the module fails at start, naming it, when it is missing
  - C(iptables-save) and C(iptables-restore) (C(ip6tables-save) and C(ip6tables-restore) for IPv6), or C(nft) for
    the nftables backend, on the target
options:
  state:
    description:
      - V(present) makes the chain and the jump (or the nftables table) match the configuration, and removes what
        the other backend or a previous chain name left behind.
      - V(absent) removes the agent's chain and every POSTROUTING jump to it (in every family it managed, including a
        previous chain name), and the table C(inet ip-masq-agent); nothing else. It fails if rules outside
        POSTROUTING still use the chain.
    type: str
    choices: [present, absent]
    default: present
  config:
    description:
      - The agent config as a mapping of upstream's keys (C(nonMasqueradeCIDRs), ...), for example the C(config)
        that M(ipmasq.agent.ip_masq_config) returns. Options given beside it override its keys.
    type: dict
  config_path:
    description:
      - Read the agent config file (YAML or JSON, upstream's keys), once the host lock is held, as the C(ip-masq-agent)
        host program reads it. A missing file means upstream's defaults. Options given beside it override its keys.
    type: path
  args_file:
    description:
      - Also write the host program's arguments for these settings to this file (one a line), under the host lock and
        before anything is applied, so that the C(ip-masq-agent) timer and path unit never act on older settings.
        The role passes C(/etc/default/ip-masq-agent).
    type: path
  args:
    description:
      - The C(args:) list of an upstream ip-masq-agent DaemonSet, as written in its manifest, in Go C(flag) syntax
        (C(--masq-chain=IP-MASQ), C(-masq-chain IP-MASQ), C(--random-fully=false), C(--enable-ipv6), ...), read by
        the C(ip-masq-agent) host program's own parser. klog's logging flags (C(--v=2), C(--logtostderr=false),
        C(--log_file=/dev/stdout), ...) are accepted and ignored; any other flag, a bad boolean value or an argument
        that is not a flag fails the task.
      - The values given here win over the runtime options (O(chain), O(nomasq_all_reserved_ranges), O(ip_version),
        O(random_fully), O(to_ports), ...). C(--enable-ipv6) is O(ip_version=both), C(--enable-ipv6=false) is
        O(ip_version=ipv4).
      - The resulting settings are what O(args_file) receives.
      - The config file's knobs (C(nonMasqueradeCIDRs), C(resyncInterval), ...) are not args; give them in O(config),
        O(config_path) or as options.
    type: list
    elements: str
extends_documentation_fragment:
  - ipmasq.agent.agent.config
  - ipmasq.agent.agent.runtime
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

- name: Take over from a GKE DaemonSet, its args as written (these win over the runtime options)
  ipmasq.agent.ip_masq_chain:
    config_path: /etc/config/ip-masq-agent
    args:
      - --v=2
      - --logtostderr=false
      - --log_file=/dev/stdout
      - --log_file_max_size=0
      - --masq-chain=IP-MASQ
      - --random-fully=false

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
args_file_changed:
  description: Whether O(args_file) was (or, in check mode, would be) rewritten.
  returned: always
  type: bool
  sample: false
rules_saved:
  description: Rules saved by O(aggregate).
  returned: when O(aggregate=true)
  type: int
  sample: 3
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import engine, glue, install
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError, HostError
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.host import write_atomic


def write_args(module, path, argv):
    """The host program's argument file; True when it changed (or would)."""
    text = install.args_text(argv)
    try:
        with open(path) as f:
            if f.read(65536) == text:
                return False
    except (IOError, OSError, UnicodeDecodeError):
        pass
    if not module.check_mode:
        write_atomic(path, text, 0o644)
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(glue.argument_spec(), state=dict(type='str', default='present', choices=['present', 'absent']),
                           config=dict(type='dict'), config_path=dict(type='path'), args_file=dict(type='path'),
                           args=dict(type='list', elements='str')),
        mutually_exclusive=[('config', 'config_path')],
        supports_check_mode=True,
    )
    glue.fail_without_libs(module)
    p = module.params
    extra = {'args_file_changed': False}

    def load():
        settings = glue.settings(p, config=p['config'], config_path=p['config_path'])
        if p['args_file'] and write_args(module, p['args_file'], settings.argv()):
            extra['args_file_changed'] = True
        return settings

    try:
        pre = glue.runtime(p)  # the wait and the lock file, args over the options
        host = glue.host(module, pre.wait)
        if p['state'] == 'absent':
            result = engine.remove(host, load, module.check_mode, pre.lock_file)
        else:
            result = engine.run(host, load, engine.CHECK if module.check_mode else engine.SYNC, pre.lock_file)
    except (ConfigError, HostError) as e:
        glue.fail(module, e, **(glue.report(module, e.result, failed=True) if getattr(e, 'result', None) else {}))
    out = glue.report(module, result)
    out.update(extra, changed=out['changed'] or extra['args_file_changed'])
    if result.settings.aggregate:
        out['rules_saved'] = result.settings.aggregation_saved()
    module.exit_json(**out)


if __name__ == '__main__':
    main()
