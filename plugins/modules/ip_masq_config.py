#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: ip_masq_config
short_description: Manage the ip-masq-agent config file
version_added: 1.0.0
description:
  - Writes the config file that upstream's ip-masq-agent and this collection's C(ip-masq-agent) host program read
    (default C(/etc/config/ip-masq-agent)), with upstream's keys C(nonMasqueradeCIDRs), C(cidrLimit),
    C(masqLinkLocal), C(masqLinkLocalIPv6), C(resyncInterval), and this collection's extensions when set.
  - Validates everything before writing (the same code as the host program); an invalid value fails naming the option
    and the value, and the file on disk is left untouched.
  - Writes atomically, reports a real diff, honours check mode, can keep a backup.
author:
  - ipmasq.agent contributors (@ipmasq)
options:
  path:
    description: The config file. Missing parent directories are created (mode C(0755)).
    type: path
    default: /etc/config/ip-masq-agent
  state:
    description: V(present) writes the file; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  format:
    description: Write YAML or JSON. Both are read by upstream and by the host program.
    type: str
    choices: [yaml, json]
    default: yaml
  non_masquerade_cidrs:
    description:
      - Destinations that keep the Pod's source address, in rule order (C(nonMasqueradeCIDRs)).
      - When not given, upstream's default list is written (C(10.0.0.0/8), C(172.16.0.0/12), C(192.168.0.0/16)).
    type: list
    elements: str
  masq_link_local:
    description: Masquerade traffic to C(169.254.0.0/16) too (C(masqLinkLocal)).
    type: bool
    default: false
  masq_link_local_ipv6:
    description: Masquerade traffic to C(fe80::/10) too (C(masqLinkLocalIPv6)).
    type: bool
    default: false
  resync_interval:
    description: How often the agent re-applies the rules, in Go duration syntax (C(60s), C(1m30s), C(500ms)).
    type: str
    default: 60s
  cidr_limit:
    description: Most non-masquerade CIDRs accepted (C(cidrLimit)).
    type: int
    default: 64
  ip_version:
    description:
      - The families the agent runs with. IPv6 CIDRs are accepted only with V(ipv6) or V(both), as the agent would
        refuse them otherwise (upstream's C(--enable-ipv6)).
    type: str
    choices: [ipv4, ipv6, both]
    default: ipv4
  aggregate:
    description: Extension C(aggregate). Merge overlapping and adjacent CIDRs before rendering.
    type: bool
    default: false
  required_cidrs:
    description: Extension C(requiredCIDRs). Refuse a config that would masquerade traffic to these CIDRs.
    type: list
    elements: str
  jump_position:
    description: Extension C(jumpPosition). V(append) (upstream) or V(first).
    type: str
    choices: [append, first]
    default: append
  masquerade_cidrs:
    description: Extension C(masqueradeCIDRs). Masquerade only traffic to these CIDRs.
    type: list
    elements: str
  snat_to_source:
    description: Extension C(snatToSource). SNAT to this IPv4 address instead of MASQUERADE.
    type: str
  snat_to_source_ipv6:
    description: Extension C(snatToSourceIPv6). SNAT to this IPv6 address instead of MASQUERADE.
    type: str
  backup:
    description: Keep a timestamped copy of the previous file when it changes or is removed.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - Needs PyYAML and netaddr on the target (Debian C(python3-yaml), C(python3-netaddr)).
  - O(mode) defaults to C(0644) for a new file. Extension keys are written only when set, so a file without them is
    plain upstream config; upstream's agent ignores keys it does not know.
seealso:
  - module: ipmasq.agent.ip_masq_chain
'''

EXAMPLES = r'''
- name: Only the cluster's ranges keep their source
  ipmasq.agent.ip_masq_config:
    non_masquerade_cidrs: [10.0.0.0/20, 10.4.0.0/14]
    resync_interval: 60s

- name: JSON, IPv6 too, with a backup of the previous file
  ipmasq.agent.ip_masq_config:
    path: /etc/config/ip-masq-agent
    format: json
    ip_version: both
    non_masquerade_cidrs: [10.0.0.0/8, "fd00::/8"]
    backup: true

- name: Remove it
  ipmasq.agent.ip_masq_config:
    state: absent
'''

RETURN = r'''
config:
  description: The config as written, with upstream's key names (extensions only when set).
  returned: when O(state=present)
  type: dict
  sample:
    nonMasqueradeCIDRs: [10.0.0.0/8]
    cidrLimit: 64
    masqLinkLocal: false
    masqLinkLocalIPv6: false
    resyncInterval: 60s
resync_interval_seconds:
  description: C(resyncInterval) in seconds (for a systemd timer, for example).
  returned: when O(state=present)
  type: float
  sample: 60.0
path:
  description: The config file.
  returned: always
  type: str
  sample: /etc/config/ip-masq-agent
backup_file:
  description: The backup of the previous file.
  returned: when a backup was made
  type: str
  sample: /etc/config/ip-masq-agent.12345.2026-11-22@10:00:00~
'''

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq_ansible import fail_without_libs
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq_config import (
    ConfigError, Options, config_from_mapping,
    dump_config)

# module option -> config file key (the order of the keys in messages)
OPTION_KEYS = (
    ('non_masquerade_cidrs', 'nonMasqueradeCIDRs'),
    ('cidr_limit', 'cidrLimit'),
    ('masq_link_local', 'masqLinkLocal'),
    ('masq_link_local_ipv6', 'masqLinkLocalIPv6'),
    ('resync_interval', 'resyncInterval'),
    ('masquerade_cidrs', 'masqueradeCIDRs'),
    ('snat_to_source', 'snatToSource'),
    ('snat_to_source_ipv6', 'snatToSourceIPv6'),
    ('aggregate', 'aggregate'),
    ('required_cidrs', 'requiredCIDRs'),
    ('jump_position', 'jumpPosition'),
)


def read(path):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except (IOError, OSError):
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default='/etc/config/ip-masq-agent'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            format=dict(type='str', default='yaml', choices=['yaml', 'json']),
            non_masquerade_cidrs=dict(type='list', elements='str'),
            masq_link_local=dict(type='bool', default=False),
            masq_link_local_ipv6=dict(type='bool', default=False),
            resync_interval=dict(type='str', default='60s'),
            cidr_limit=dict(type='int', default=64),
            ip_version=dict(type='str', default='ipv4', choices=['ipv4', 'ipv6', 'both']),
            aggregate=dict(type='bool', default=False),
            required_cidrs=dict(type='list', elements='str'),
            jump_position=dict(type='str', default='append', choices=['append', 'first']),
            masquerade_cidrs=dict(type='list', elements='str'),
            snat_to_source=dict(type='str'),
            snat_to_source_ipv6=dict(type='str'),
            backup=dict(type='bool', default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    fail_without_libs(module)
    p = module.params
    path = p['path']
    if os.path.isdir(path):
        module.fail_json(msg='path: %s is a directory; give the config file itself' % path)
    old = read(path)
    result = dict(changed=False, path=path)

    if p['state'] == 'absent':
        if old is not None:
            result['changed'] = True
            if module._diff:
                result['diff'] = dict(before=to_native(old, errors='surrogate_or_strict'), after='',
                                      before_header=path, after_header=path)
            if not module.check_mode:
                if p['backup']:
                    result['backup_file'] = module.backup_local(path)
                os.unlink(path)
        module.exit_json(**result)

    data = dict((k, p[o]) for o, k in OPTION_KEYS if p[o] is not None)
    for key, default in (('requiredCIDRs', []), ('jumpPosition', 'append'), ('aggregate', False)):
        if data.get(key) == default:
            del data[key]
    try:
        cfg = config_from_mapping(data, Options(enable_ipv6=p['ip_version'] != 'ipv4', strict=True))
    except ConfigError as e:
        option = dict((k, o) for o, k in OPTION_KEYS).get(e.key, e.key)
        module.fail_json(msg='%s: %s' % (option, e.reason), option=option, value=str(e.value))
    for w in cfg.warnings:
        module.warn(w)
    content = dump_config(cfg, p['format'])
    result['config'] = cfg.to_dict()
    result['resync_interval_seconds'] = cfg.resync_seconds

    if old != to_bytes(content):
        result['changed'] = True
        if module._diff:
            result['diff'] = dict(before=to_native(old, errors='surrogate_or_strict') if old is not None else '',
                                  after=content, before_header=path if old is not None else '/dev/null',
                                  after_header=path)
        if not module.check_mode:
            parent = os.path.dirname(path)
            if parent and not os.path.isdir(parent):
                try:
                    os.makedirs(parent, 0o755)
                except OSError as e:
                    module.fail_json(msg='path: cannot create directory %s: %s' % (parent, to_native(e)))
            if p['backup'] and old is not None:
                result['backup_file'] = module.backup_local(path)
            fd, tmp = tempfile.mkstemp(prefix='.ip-masq-agent.', dir=parent or '.')
            try:
                with os.fdopen(fd, 'wb') as f:
                    f.write(to_bytes(content))
            except (IOError, OSError) as e:
                os.unlink(tmp)
                module.fail_json(msg='path: cannot write %s: %s' % (path, to_native(e)))
            if old is None and p['mode'] is None:
                os.chmod(tmp, 0o644)
            elif old is not None and p['mode'] is None:
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
            module.atomic_move(tmp, path, unsafe_writes=p['unsafe_writes'])

    if p['mode'] is None and old is None:
        p['mode'] = '0644'
    file_args = module.load_file_common_arguments(p)
    if os.path.exists(path):
        result['changed'] = module.set_fs_attributes_if_different(file_args, result['changed'])
    elif module.check_mode:
        pass
    module.exit_json(**result)


if __name__ == '__main__':
    main()
