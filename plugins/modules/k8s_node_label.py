#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: k8s_node_label
short_description: Set or remove one label on a Kubernetes node
version_added: 1.0.0
description:
  - Sets a label on a Kubernetes Node, or removes it, through the Kubernetes API with the official Kubernetes Python
    client. By default the label is C(beta.kubernetes.io/masq-agent-ds-ready=true), the label the ip-masq-agent guide
    and this collection's DaemonSet select nodes by; Kubernetes' own addon manifest selects
    C(node.kubernetes.io/masq-agent-ds-ready) since Kubernetes 1.16 (set O(key) to that, and the DaemonSet's node
    selector to the same key).
  - Reads the node, and writes only when the label differs. The write is one JSON merge patch of just that label
    (as C(kubectl label) sends), without a resourceVersion precondition, so concurrent writers of the node (the
    kubelet's status updates, controllers) do not make it fail. It is sent with the field manager C(ipmasq-agent).
  - In check mode the same patch is sent with C(dryRun=All); the API server validates and authorises it and stores
    nothing. A user who may not patch nodes fails in check mode too; the labels returned are the server's answer.
author:
  - ipmasq.agent contributors (@ipmasq)
options:
  name:
    description:
      - The Kubernetes node's name (the kubelet's C(--hostname-override), else its lowercased hostname).
      - An empty name, or one that cannot be a node name (a DNS-1123 subdomain), is refused before any request.
    type: str
    required: true
  key:
    description:
      - The label key.
      - The default C(beta.kubernetes.io/masq-agent-ds-ready) is the ip-masq-agent guide's; Kubernetes' addon
        manifest uses C(node.kubernetes.io/masq-agent-ds-ready).
    type: str
    default: beta.kubernetes.io/masq-agent-ds-ready
  value:
    description:
      - The label value, with O(state=present); ignored with O(state=absent). Label values are strings; V("") is a
        valid empty value.
      - A YAML boolean is written as V(true) or V(false) (not Python's C(True)), an integer as its digits. Null (with
        O(state=present)), lists, mappings and floats are refused before any request.
    type: raw
    default: "true"
  state:
    description:
      - V(present) sets the label to O(value); V(absent) removes it.
      - With V(absent), a node that does not exist (a decommissioned host) is no change, with a warning.
    type: str
    choices: [present, absent]
    default: present
  retries:
    description:
      - How many times to try the write again, after a pause that doubles each time (0.5 s, 1 s, 2 s, ... at most
        8 s), when the API server answers 409 Conflict or 429 Too Many Requests. Other errors are not retried.
    type: int
    default: 5
notes:
  - The user needs C(get) and C(patch) on C(nodes) (cluster scope), in check mode too.
  - A node that does not exist (with O(state=present)), a refusal (401, 403 with the API server's message), an
    invalid label (422 with the server's causes), a server error (5xx), an unreachable server or no answer within
    O(request_timeout) fails the task with a message that says which.
requirements:
  - kubernetes (the official Kubernetes Python client)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ipmasq.agent.attributes
  - ipmasq.agent.k8s_auth
seealso:
  - module: ipmasq.agent.ip_masq_chain
"""

EXAMPLES = r"""
- name: Mark the node ready for the masq agent
  ipmasq.agent.k8s_node_label:
    name: worker-1
    kubeconfig: ~/.kube/config
  delegate_to: localhost

- name: Use the label of Kubernetes' own addon manifest
  ipmasq.agent.k8s_node_label:
    name: worker-1
    key: node.kubernetes.io/masq-agent-ds-ready
  delegate_to: localhost

- name: Remove the label (a node that is gone already is no change)
  ipmasq.agent.k8s_node_label:
    name: worker-1
    state: absent
  delegate_to: localhost

- name: Label every host's node with its own value, with a token and the cluster's CA, no kubeconfig
  ipmasq.agent.k8s_node_label:
    name: "{{ ansible_facts['nodename'] | lower }}"
    key: example.com/egress
    value: nat
    host: https://10.0.0.1:6443
    api_key: "{{ labeller_token }}"
    ca_cert: /etc/kubernetes/pki/ca.crt
    request_timeout: 10
  delegate_to: localhost
"""

RETURN = r"""
name:
  description: The node's name.
  returned: always
  type: str
  sample: worker-1
labels:
  description:
    - The node's labels after the run, as the API server answered (in check mode, its dry-run answer).
    - Null when the node does not exist (O(state=absent) only).
  returned: success
  type: dict
  sample: {"beta.kubernetes.io/masq-agent-ds-ready": "true", "kubernetes.io/hostname": "worker-1"}
status:
  description: The API server's HTTP status code of the failed call, when there was an answer.
  returned: failure
  type: int
  sample: 403
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq_k8s import (
    DEFAULT_KEY, DEFAULT_VALUE, NodeLabelError, ensure_label, label_value, validate_label, validate_node_name)
from ansible_collections.ipmasq.agent.plugins.module_utils.k8s_client import AUTH_ARG_SPEC, K8sError, connect


def main():
    argument_spec = dict(
        name=dict(type='str', required=True),
        key=dict(type='str', default=DEFAULT_KEY, no_log=False),
        value=dict(type='raw', default=DEFAULT_VALUE),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        retries=dict(type='int', default=5),
    )
    argument_spec.update(AUTH_ARG_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    try:  # refused arguments fail before any connection or request
        validate_node_name(p['name'])
        value = label_value(p['value'], p['state'])
        validate_label(p['key'], value if p['state'] == 'present' else None, p['state'])
        if p['retries'] < 0:
            raise NodeLabelError('retries: must be 0 or more, got %d' % p['retries'])
    except NodeLabelError as e:
        module.fail_json(msg=e.msg, name=p['name'])
    cluster = connect(module)
    try:
        r = ensure_label(cluster, p['name'], p['key'], value, p['state'], check_mode=module.check_mode,
                         retries=p['retries'])
    except K8sError as e:
        module.fail_json(msg=e.msg, status=e.status, name=p['name'])
    for w in r['warnings']:
        module.warn(w)
    result = dict(changed=r['changed'], name=p['name'], labels=r['after'])
    if module._diff and r['changed']:
        header = 'node/%s labels' % p['name']
        result['diff'] = dict(before=r['before'], after=r['after'], before_header=header, after_header=header)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
