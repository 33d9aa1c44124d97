# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible plumbing shared by the modules (the host program does not use this file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import missing_required_lib

from .ipmasq_config import HAS_NETADDR, HAS_YAML, NETADDR_IMPORT_ERROR, YAML_IMPORT_ERROR


def fail_without_libs(module):
    """Fail the task, naming the library to install, when PyYAML or netaddr is missing on the target."""
    for present, name, error in ((HAS_YAML, 'PyYAML', YAML_IMPORT_ERROR), (HAS_NETADDR, 'netaddr', NETADDR_IMPORT_ERROR)):
        if not present:
            module.fail_json(msg=missing_required_lib(name), exception=error)
