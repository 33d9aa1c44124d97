#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: k8s_node_label
short_description: Set or remove one label on a Kubernetes node
version_added: 1.0.0
description:
  - Sets the label (by default C(beta.kubernetes.io/masq-agent-ds-ready=true), the label upstream's ip-masq-agent
    DaemonSet selects nodes by) on a Kubernetes Node, or removes it, through the Kubernetes API with the official
    Kubernetes Python client.
  - Reads the node, and patches it only when the label differs. The patch carries the resourceVersion it read, so a
    concurrent writer makes the API server answer 409 Conflict; the module then reads again and retries.
author:
  - ipmasq.agent contributors (@ipmasq)
options:
  name:
    description:
      - The Kubernetes node's name (the kubelet's C(--hostname-override), else its lowercased hostname).
    type: str
    required: true
  key:
    description: The label key.
    type: str
    default: beta.kubernetes.io/masq-agent-ds-ready
  value:
    description:
      - The label value (with O(state=present)); ignored with O(state=absent). Label values are strings; V("") is
        a valid empty value.
    type: str
    default: "true"
  state:
    description: V(present) sets the label to O(value); V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  kubeconfig:
    description: The kubeconfig file. Default is the client's (C(KUBECONFIG), then C(~/.kube/config)).
    type: path
  context:
    description: The kubeconfig context to use. Default is the current context.
    type: str
  retries:
    description: How many times to read again and retry after a 409 Conflict.
    type: int
    default: 5
notes:
  - The kubeconfig's user needs C(get) and C(patch) on C(nodes) (cluster scope).
  - A node that does not exist (404) or an API server that refuses the user (401, 403) fails the task with a message
    that says so; so does a 409 Conflict that is still there after O(retries) retries.
requirements:
  - kubernetes (the official Kubernetes Python client)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ipmasq.agent.attributes
seealso:
  - module: ipmasq.agent.ip_masq_chain
'''

EXAMPLES = r'''
- name: Mark the node ready for the masq agent
  ipmasq.agent.k8s_node_label:
    name: worker-1
    kubeconfig: ~/.kube/config
  delegate_to: localhost

- name: Remove the label
  ipmasq.agent.k8s_node_label:
    name: worker-1
    state: absent
  delegate_to: localhost

- name: Label every host's node with its own value, from the admin machine's kubeconfig context
  ipmasq.agent.k8s_node_label:
    name: "{{ ansible_facts['nodename'] | lower }}"
    key: example.com/egress
    value: nat
    context: production
  delegate_to: localhost
'''

RETURN = r'''
name:
  description: The node's name.
  returned: success
  type: str
  sample: worker-1
labels:
  description: The node's labels after the run (predicted in check mode).
  returned: success
  type: dict
  sample: {"beta.kubernetes.io/masq-agent-ds-ready": "true", "kubernetes.io/hostname": "worker-1"}
'''

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq_k8s import (
    DEFAULT_KEY, DEFAULT_VALUE, NodeLabelError, ensure_label)

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()


class _Api(object):
    """CoreV1Api with nodes as plain dicts."""

    def __init__(self, api_client):
        self.api_client = api_client
        self.core = k8s_client.CoreV1Api(api_client)

    def read_node(self, name):
        return self.api_client.sanitize_for_serialization(self.core.read_node(name))

    def patch_node(self, name, body):
        return self.core.patch_node(name, body)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            key=dict(type='str', default=DEFAULT_KEY, no_log=False),
            value=dict(type='str', default=DEFAULT_VALUE),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            kubeconfig=dict(type='path'),
            context=dict(type='str'),
            retries=dict(type='int', default=5),
        ),
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=KUBERNETES_IMPORT_ERROR)
    p = module.params
    if p['retries'] < 0:
        module.fail_json(msg='retries: must be 0 or more, got %d' % p['retries'])
    try:
        api_client = k8s_config.new_client_from_config(config_file=p['kubeconfig'], context=p['context'])
    except Exception as e:
        module.fail_json(msg='kubeconfig: cannot load %s: %s' % (p['kubeconfig'] or 'the default kubeconfig', e))
    try:
        changed, before, after = ensure_label(_Api(api_client), p['name'], p['key'], p['value'], p['state'],
                                              check_mode=module.check_mode, retries=p['retries'])
    except NodeLabelError as e:
        module.fail_json(msg=e.msg, status=e.status)
    result = dict(changed=changed, name=p['name'], labels=after)
    if module._diff and changed:
        result['diff'] = dict(before=before, after=after, before_header='node/%s labels' % p['name'],
                              after_header='node/%s labels' % p['name'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
