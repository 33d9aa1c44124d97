# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: resync_seconds
short_description: The resync interval of an ip-masq-agent config, in seconds
version_added: 1.0.0
description:
  - Validates an agent config (a mapping of upstream's keys) as M(ipmasq.agent.ip_masq_config) does, and returns its
    C(resyncInterval) in seconds (upstream's default C(60s) when it is not set). An invalid config fails, naming the
    key and the value.
  - The role M(ipmasq.agent.ip_masq_agent) renders the timer unit with it on the controller.
author:
  - ipmasq.agent contributors (@ipmasq)
options:
  _input:
    description: The agent config, upstream's keys.
    type: dict
    required: true
  ip_version:
    description: V(ipv4), V(ipv6) or V(both); which CIDRs the config may hold.
    type: str
    default: ipv4
'''

EXAMPLES = r'''
- name: 90
  ansible.builtin.debug:
    msg: "{{ {'resyncInterval': '1m30s'} | ipmasq.agent.resync_seconds }}"
'''

RETURN = r'''
_value:
  description: The resync interval in seconds.
  type: float
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import glue
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import FILE


def resync_seconds(config, ip_version='ipv4'):
    if not isinstance(config, dict):
        raise AnsibleFilterError('resync_seconds: expected the agent config as a mapping, got %s' % type(config).__name__)
    try:
        return glue.settings({'ip_version': ip_version}, scopes=(FILE,), config=config, strict=True).resync_seconds
    except ConfigError as e:
        raise AnsibleFilterError('resync_seconds: %s' % e)


class FilterModule(object):
    def filters(self):
        return {'resync_seconds': resync_seconds}
