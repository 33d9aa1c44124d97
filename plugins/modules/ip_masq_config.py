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
  config:
    description:
      - The whole config as a mapping of upstream's keys (C(nonMasqueradeCIDRs), C(cidrLimit), ...), for example the
        C(data) of an existing ConfigMap. Options given beside it override its keys. Unknown keys are errors.
    type: dict
  ip_version:
    description:
      - The families the agent runs with. IPv6 CIDRs are accepted only with V(ipv6) or V(both), as the agent would
        refuse them otherwise (upstream's C(--enable-ipv6)).
    type: str
    choices: [ipv4, ipv6, both]
    default: ipv4
  backup:
    description: Keep a timestamped copy of the previous file when it changes or is removed.
    type: bool
    default: false
extends_documentation_fragment:
  - ipmasq.agent.agent.config
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
  - ipmasq.agent.attributes
notes:
  - Needs PyYAML and netaddr on the target (Debian C(python3-yaml), C(python3-netaddr)).
  - O(mode) defaults to C(0644) for a new file. Only the keys given are written, so upstream's defaults (and the host
    program's C(--nomasq-all-reserved-ranges)) apply to the others; upstream's agent ignores keys it does not know.
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
  description: The config as written, with upstream's key names (only the keys given).
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

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import configfile, glue
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import FILE


def write(module, path, content, old):
    """Write by rename in the file's directory; a new file is 0644 unless O(mode) says otherwise."""
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    fd, tmp = tempfile.mkstemp(prefix='.ip-masq-agent.', dir=parent or '.')
    with os.fdopen(fd, 'wb') as f:
        f.write(content)
    os.chmod(tmp, 0o644 if old is None else os.stat(path).st_mode & 0o7777)
    module.atomic_move(tmp, path, unsafe_writes=module.params['unsafe_writes'])


def main():
    module = AnsibleModule(
        argument_spec=dict(glue.argument_spec((FILE,), names=('ip_version',)), config=dict(type='dict'),
                           path=dict(type='path', default='/etc/config/ip-masq-agent'), backup=dict(type='bool', default=False),
                           state=dict(type='str', default='present', choices=['present', 'absent']),
                           format=dict(type='str', default='yaml', choices=['yaml', 'json'])),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    glue.fail_without_libs(module)
    p = module.params
    path = p['path']
    try:
        old = configfile.read_bytes(path)
        settings = glue.settings(p, scopes=(FILE,), config=p['config'] or {}, strict=True) if p['state'] == 'present' else None
    except ConfigError as e:
        glue.fail(module, e)
    content = to_bytes(configfile.dump(settings.file_mapping(), p['format'])) if settings else None
    result = dict(changed=old != content and not (old is None and content is None), path=path)
    if settings:
        result.update(config=settings.file_mapping(), resync_interval_seconds=settings.resync_seconds)
        for w in settings.warnings:
            module.warn(w)
    if result['changed'] and module._diff:
        result['diff'] = dict(before=to_native(old or b'', errors='surrogate_or_strict'), after=to_native(content or b''),
                              before_header=path if old is not None else '/dev/null', after_header=path)
    if result['changed'] and not module.check_mode:
        if p['backup'] and old is not None:
            result['backup_file'] = module.backup_local(path)
        try:
            write(module, path, content, old) if content is not None else os.unlink(path)
        except (IOError, OSError) as e:
            module.fail_json(msg='path: cannot write %s: %s' % (path, to_native(e)))
    if content is not None and os.path.exists(path):
        p['mode'] = p['mode'] or ('0644' if old is None else None)
        result['changed'] = module.set_fs_attributes_if_different(module.load_file_common_arguments(p), result['changed'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
