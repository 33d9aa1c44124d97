#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: k8s_ip_masq_config
short_description: Manage the ip-masq-agent ConfigMap of a Kubernetes cluster
version_added: 1.0.0
description:
  - Writes the agent config into the ConfigMap that upstream's ip-masq-agent DaemonSet mounts (by default key
    C(config) of C(kube-system/ip-masq-agent)); GKE's and Cloud Composer's managed agent reads the same ConfigMap.
  - The config is validated by the same code as the host path (M(ipmasq.agent.ip_masq_config) and the host program),
    with the same messages, B(before any request reaches the cluster); an invalid value fails naming the key and the
    value, and nothing is sent. Upstream's agent only logs a bad ConfigMap (it keeps its old rules, or at its first
    start writes none).
  - Only upstream's keys (C(nonMasqueradeCIDRs), C(cidrLimit), C(masqLinkLocal), C(masqLinkLocalIPv6),
    C(resyncInterval)) are written. C(requiredCIDRs) is a guard checked here and not written. The host program's other
    extensions are refused, since upstream's and GKE's agent would silently ignore them.
  - Server-side apply with field manager C(ipmasq-agent) (forcing ownership of the one key, the module is its source
    of truth); other keys, labels and annotations of an existing ConfigMap are left alone. The apply is first sent
    as a dry run (C(dryRun=All)) and its answer compared with the live ConfigMap, so a second run writes nothing, and
    check mode asks the API server (a 403 shows in check mode too) and stores nothing.
author:
  - ipmasq.agent contributors (@ipmasq)
options:
  name:
    description: The ConfigMap's name.
    type: str
    default: ip-masq-agent
  namespace:
    description: The ConfigMap's namespace (the agent's DaemonSet mounts it from its own namespace).
    type: str
    default: kube-system
  key:
    description: The ConfigMap key that holds the config (upstream's DaemonSet mounts key C(config) as file C(ip-masq-agent)).
    type: str
    default: config
  state:
    description:
      - V(present) writes the config under O(key).
      - V(absent) removes what this module wrote. When O(key) is the ConfigMap's only key, the ConfigMap is deleted;
        when it holds other keys, only O(key) is removed. A key (or ConfigMap) that field manager C(ipmasq-agent) never
        wrote is left alone and the task fails saying so.
    type: str
    choices: [present, absent]
    default: present
  format:
    description: Write the config as YAML or JSON. Upstream's agent reads both.
    type: str
    choices: [yaml, json]
    default: yaml
  config:
    description:
      - The whole config as a mapping of upstream's keys, for example the C(data.config) of an existing ConfigMap
        parsed. Options given beside it override its keys. Unknown keys are errors.
    type: dict
  ip_version:
    description:
      - The families the agent runs with (only for validation here, the DaemonSet's C(--enable-ipv6) decides). IPv6
        CIDRs are accepted only with V(ipv6) or V(both), as the agent refuses them otherwise.
    type: str
    choices: [ipv4, ipv6, both]
    default: ipv4
  nomasq_all_reserved_ranges:
    description:
      - Whether the agent runs with C(--nomasq-all-reserved-ranges) (only for validation here), so that the default
        non-masquerade list checked against C(requiredCIDRs) and C(cidrLimit) is the one the agent will use.
    type: bool
    default: false
extends_documentation_fragment:
  - ipmasq.agent.k8s_auth
  - ipmasq.agent.agent.config
  - ansible.builtin.action_common_attributes
  - ipmasq.agent.attributes
requirements:
  - kubernetes (the official Kubernetes Python client)
  - PyYAML
  - netaddr
notes:
  - The user needs C(get) and C(patch) on C(configmaps) in O(namespace) (C(delete) for O(state=absent)); server-side
    apply creates a missing ConfigMap with C(patch).
  - Runs where the kubeconfig is, usually the controller (C(delegate_to) C(localhost), or C(connection) C(local)).
seealso:
  - module: ipmasq.agent.k8s_ip_masq_daemonset
  - module: ipmasq.agent.ip_masq_config
'''

EXAMPLES = r'''
- name: GKE / Cloud Composer - keep the node and Pod ranges unmasqueraded, and refuse a config that would not
  ipmasq.agent.k8s_ip_masq_config:
    non_masquerade_cidrs: [10.128.0.0/20, 10.4.0.0/14, 10.0.0.0/20]
    required_cidrs: [10.128.0.0/20, 10.4.0.0/14]
    resync_interval: 60s
  delegate_to: localhost

- name: The config as a mapping, another kubeconfig context
  ipmasq.agent.k8s_ip_masq_config:
    context: production
    config:
      nonMasqueradeCIDRs: [10.0.0.0/8]
      masqLinkLocal: false
  delegate_to: localhost

- name: Remove it
  ipmasq.agent.k8s_ip_masq_config:
    state: absent
  delegate_to: localhost
'''

RETURN = r'''
config:
  description: The config written under O(key), with upstream's key names (only the keys given).
  returned: when O(state=present)
  type: dict
  sample: {"nonMasqueradeCIDRs": ["10.0.0.0/8"], "resyncInterval": "60s"}
text:
  description: The text written under O(key).
  returned: when O(state=present)
  type: str
  sample: "nonMasqueradeCIDRs:\n  - 10.0.0.0/8\nresyncInterval: \"60s\"\n"
operation:
  description: What was (in check mode, would be) done - V(create), V(update), V(patch) (only the key removed),
    V(delete) or V(none).
  returned: always
  type: str
  sample: update
configmap:
  description: The ConfigMap after the run (the API server's dry-run answer in check mode), without managedFields.
  returned: unless it was deleted or is absent
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ipmasq.agent.plugins.module_utils import k8s_objects
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import configfile, glue
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError, show
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import FILE, FILE_FIELDS
from ansible_collections.ipmasq.agent.plugins.module_utils.k8s_client import (
    AUTH_ARG_SPEC, FIELD_MANAGER, K8sError, connect)

# The keys of upstream's MasqConfig: what upstream's and GKE's agent read from the ConfigMap.
UPSTREAM_KEYS = tuple(f.key for f in FILE_FIELDS if f.upstream)
# Checked here, not written: a guard on the config, not a setting of the agent.
GUARD_KEYS = ('requiredCIDRs',)


def argument_spec():
    spec = glue.argument_spec((FILE,), names=('ip_version', 'nomasq_all_reserved_ranges'))
    spec.update(config=dict(type='dict'), name=dict(type='str', default='ip-masq-agent'),
                namespace=dict(type='str', default='kube-system'), key=dict(type='str', default='config', no_log=False),
                state=dict(type='str', default='present', choices=['present', 'absent']),
                format=dict(type='str', default='yaml', choices=['yaml', 'json']))
    spec.update(AUTH_ARG_SPEC)
    return spec


def render(params):
    """(the mapping written, its text) from the module's parameters, validated as the host path validates them.
    Raises ConfigError, before anything is sent."""
    settings = glue.settings(params, scopes=(FILE,), config=params['config'] or {}, strict=True)
    for f in FILE_FIELDS:
        if f.name in settings.given and f.key not in UPSTREAM_KEYS + GUARD_KEYS:
            raise ConfigError(settings.label(f.name), getattr(settings, f.name),
                              'is an ipmasq.agent extension (%s) that upstream\'s and GKE\'s ip-masq-agent ignore, so '
                              'it is not written to the ConfigMap; upstream\'s keys are %s (the extensions work on '
                              'hosts: ipmasq.agent.ip_masq_config, role ipmasq.agent.ip_masq_agent)'
                              % (f.key, ', '.join(UPSTREAM_KEYS)))
    mapping = dict((k, v) for k, v in settings.file_mapping().items() if k in UPSTREAM_KEYS)
    return mapping, configfile.dump(mapping, params['format']), settings.warnings


def manifest(name, namespace, key, text):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': name, 'namespace': namespace},
            'data': {key: text}}


def shrink(key):
    """For state=absent: False (our key is not there), None (delete the ConfigMap: only our key) or the merge patch
    that removes our key alone."""
    def plan(live):
        data = live.get('data') or {}
        if key not in data:
            return False
        if len(data) == 1 and not live.get('binaryData'):
            return None
        return {'data': {key: None}}
    return plan


def ours(key):
    def check(live):
        return ('f:' + key) in (k8s_objects.owned_fields(live, FIELD_MANAGER).get('f:data') or {})
    return check


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    mapping = text = None
    if p['state'] == 'present':
        glue.fail_without_libs(module)
        try:
            mapping, text, warnings = render(p)
        except ConfigError as e:
            glue.fail(module, e)  # nothing was sent: not even a connection was made
        for w in warnings:
            module.warn(w)
    ref = k8s_objects.Ref('v1', 'ConfigMap', 'configmaps', p['namespace'], p['name'])
    request = k8s_objects.transport(connect(module))
    try:
        if p['state'] == 'present':
            out = k8s_objects.ensure_applied(request, ref, manifest(p['name'], p['namespace'], p['key'], text),
                                             FIELD_MANAGER, module.check_mode)
        else:
            out = k8s_objects.ensure_removed(request, ref, FIELD_MANAGER, module.check_mode, shrink=shrink(p['key']),
                                             ours=ours(p['key']))
    except K8sError as e:
        module.fail_json(msg=e.msg, status=e.status)
    except k8s_objects.NotOurs as e:
        module.fail_json(msg='%s: key %s: %s' % (ref, show(p['key']), e.msg))
    result = dict(changed=out.changed, operation=out.action)
    if p['state'] == 'present':
        result.update(config=mapping, text=text)
    if out.after is not None:
        result['configmap'] = k8s_objects.shown(out.after)
    if module._diff and out.changed:
        where = 'configmap %s/%s key %s' % (p['namespace'], p['name'], p['key'])
        before = ((out.before or {}).get('data') or {}).get(p['key'])
        after = ((out.after or {}).get('data') or {}).get(p['key'])
        result['diff'] = dict(before=before or '', after=after or '',
                              before_header='%s (%s)' % (where, 'live' if before is not None else 'absent'),
                              after_header='%s (%s)' % (where, 'predicted' if module.check_mode else
                                                        'applied' if after is not None else 'removed'))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
