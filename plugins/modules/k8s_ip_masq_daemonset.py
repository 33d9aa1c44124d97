#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: k8s_ip_masq_daemonset
short_description: Deploy upstream's ip-masq-agent DaemonSet on a self-managed Kubernetes cluster
version_added: 1.0.0
description:
  - Deploys the DaemonSet that kubernetes-sigs/ip-masq-agent ships (C(ip-masq-agent.yaml), v2.12) - host network,
    capabilities C(NET_ADMIN) and C(NET_RAW) (not privileged), the ConfigMap's key mounted as
    C(/etc/config/ip-masq-agent) (C(optional), so the agent starts with upstream's defaults until the ConfigMap
    exists), tolerations of every C(NoSchedule) and C(NoExecute) taint and C(CriticalAddonsOnly) - on the nodes that
    carry the label the M(ipmasq.agent.k8s_node_label) module and the C(ipmasq.agent.node_label) role set.
  - The container's arguments are made from the same rows as the host program's flags (C(chain), C(nomasq_all_reserved_ranges),
    C(ip_version), C(random_fully), C(to_ports)), in Go flag syntax as upstream's binary takes them; only the flags
    upstream's binary accepts are written. The host program's own flags (O(backend), O(wait), O(lock_file)) and
    O(ip_version=ipv6) (upstream has no IPv6-only mode) are refused with a message, before anything is sent.
  - Idempotent against a real API server's defaulting (C(updateStrategy), C(restartPolicy), C(imagePullPolicy),
    ...) - server-side apply with field manager C(ipmasq-agent) owns only the fields the module sends. The apply is
    first sent as a dry run (C(dryRun=All)) and the server's answer, defaults included, compared with the live
    DaemonSet; only a difference is applied for real. A second run writes nothing; check mode stores nothing and
    still shows a permission refusal (403). A field the module no longer sends (a node selector key given before)
    is removed by the apply.
author:
  - ipmasq.agent contributors (@ipmasq)
options:
  name:
    description: The DaemonSet's name.
    type: str
    default: ip-masq-agent
  namespace:
    description: The DaemonSet's namespace; the ConfigMap is mounted from this namespace.
    type: str
    default: kube-system
  configmap_name:
    description: The ConfigMap the config is mounted from (see M(ipmasq.agent.k8s_ip_masq_config)).
    type: str
    default: ip-masq-agent
  configmap_key:
    description: The ConfigMap key mounted as the agent's config file C(/etc/config/ip-masq-agent).
    type: str
    default: config
  image:
    description: The agent's image, without the tag (registries differ; mirror it where nodes cannot reach
      C(registry.k8s.io)).
    type: str
    default: registry.k8s.io/networking/ip-masq-agent
  image_tag:
    description: The image's tag, or a digest C(sha256:...) (written as C(image@sha256:...)).
    type: str
    default: v2.12.0
  node_selector:
    description:
      - The DaemonSet's C(nodeSelector). Default - the label the C(ipmasq.agent.node_label) role and the
        M(ipmasq.agent.k8s_node_label) module set by default (C(beta.kubernetes.io/masq-agent-ds-ready=true)), so the
        agent runs on the nodes they labelled.
      - Kubernetes' own addon manifest selects C(node.kubernetes.io/masq-agent-ds-ready) since 1.16; give that key here
        and to the node_label role (C(node_label_key)) to use it.
    type: dict
  state:
    description: V(present) deploys the DaemonSet; V(absent) deletes it, when field manager C(ipmasq-agent) wrote it
      (a DaemonSet deployed otherwise is left alone and the task fails saying so).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ipmasq.agent.k8s_auth
  - ipmasq.agent.agent.runtime
  - ansible.builtin.action_common_attributes
  - ipmasq.agent.attributes
requirements:
  - kubernetes (the official Kubernetes Python client)
  - PyYAML
  - netaddr
notes:
  - Only upstream's flags reach upstream's image. O(backend), O(wait) and O(lock_file) must keep their defaults;
    O(ip_version=both) is C(--enable-ipv6), O(ip_version=ipv6) is refused.
  - The user needs C(get), C(patch) (and C(delete) for O(state=absent)) on C(daemonsets) in the C(apps) group.
  - Runs where the kubeconfig is, usually the controller (C(delegate_to) C(localhost), or C(connection) C(local)).
  - Why a separate module from M(ipmasq.agent.k8s_ip_masq_config) - on GKE and Cloud Composer the agent is managed
    and only the ConfigMap is the user's; a self-managed cluster uses both (role C(ipmasq.agent.cluster)).
seealso:
  - module: ipmasq.agent.k8s_ip_masq_config
  - module: ipmasq.agent.k8s_node_label
'''

EXAMPLES = r'''
- name: Upstream's DaemonSet, IPv4 and IPv6, on the nodes the node_label role labelled
  ipmasq.agent.k8s_ip_masq_daemonset:
    ip_version: both
    random_fully: false
  delegate_to: localhost

- name: From a mirror, with the node label of Kubernetes' addon manifest
  ipmasq.agent.k8s_ip_masq_daemonset:
    image: registry.example.com/mirror/ip-masq-agent
    image_tag: v2.12.0
    node_selector:
      node.kubernetes.io/masq-agent-ds-ready: "true"
  delegate_to: localhost

- name: Remove it
  ipmasq.agent.k8s_ip_masq_daemonset:
    state: absent
  delegate_to: localhost
'''

RETURN = r'''
args:
  description: The container's arguments (upstream's flags that differ from their defaults).
  returned: when O(state=present)
  type: list
  elements: str
  sample: ["--masq-chain=IP-MASQ", "--enable-ipv6=true"]
image:
  description: The container image.
  returned: when O(state=present)
  type: str
  sample: registry.k8s.io/networking/ip-masq-agent:v2.12.0
operation:
  description: What was (in check mode, would be) done - V(create), V(update), V(delete) or V(none).
  returned: always
  type: str
  sample: create
daemonset:
  description: The DaemonSet after the run (the API server's dry-run answer in check mode), without managedFields.
  returned: unless it was deleted or is absent
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ipmasq.agent.plugins.module_utils import k8s_objects
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import glue
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError, show
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import RUNTIME, RUNTIME_FIELDS
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq_k8s import (
    DEFAULT_KEY, DEFAULT_VALUE, NodeLabelError, validate_label)
from ansible_collections.ipmasq.agent.plugins.module_utils.k8s_client import (
    AUTH_ARG_SPEC, FIELD_MANAGER, K8sError, connect)

# The runtime rows whose flag upstream's binary takes under the same name; ip_version is --enable-ipv6 (both).
UPSTREAM_FLAGS = tuple(f.name for f in RUNTIME_FIELDS if f.upstream)
APP = 'ip-masq-agent'
CONFIG_DIR = '/etc/config'
CONFIG_FILE = 'ip-masq-agent'  # upstream's binary reads /etc/config/ip-masq-agent


def argument_spec():
    spec = glue.argument_spec((RUNTIME,))
    spec.update(name=dict(type='str', default='ip-masq-agent'), namespace=dict(type='str', default='kube-system'),
                configmap_name=dict(type='str', default='ip-masq-agent'),
                configmap_key=dict(type='str', default='config', no_log=False),
                image=dict(type='str', default='registry.k8s.io/networking/ip-masq-agent'),
                image_tag=dict(type='str', default='v2.12.0'), node_selector=dict(type='dict'),
                state=dict(type='str', default='present', choices=['present', 'absent']))
    spec.update(AUTH_ARG_SPEC)
    return spec


def upstream_args(settings):
    """Upstream's binary's arguments (Go flag syntax) for the runtime settings; ConfigError for what it cannot take."""
    out = []
    for f in RUNTIME_FIELDS:
        value = getattr(settings, f.name)
        if value == f.default:
            continue
        if f.name == 'ip_version':
            if value != 'both':
                raise ConfigError(settings.label(f.name), value, 'upstream\'s ip-masq-agent has no IPv6-only mode: '
                                                                 '--enable-ipv6 manages IPv4 and IPv6; use both')
            out.append('--enable-ipv6=true')
        elif f.name in UPSTREAM_FLAGS:
            out.append('%s=%s' % (f.flag, ('true' if value else 'false') if f.kind == 'bool' else value))
        else:
            raise ConfigError(settings.label(f.name), value, 'is a flag of ipmasq.agent\'s host program (%s) that '
                                                             'upstream\'s ip-masq-agent image does not take; leave it '
                                                             'at its default (%s) for the DaemonSet'
                              % (f.flag, show(f.default)))
    return out


def image_ref(image, tag):
    if not image or not tag or any(c.isspace() for c in image + tag):
        raise ConfigError('image' if not image else 'image_tag', image if not image else tag,
                          'expected an image name and a tag (or a sha256: digest), without spaces')
    return '%s%s%s' % (image, '@' if tag.startswith('sha256:') else ':', tag)


def node_selector(given):
    """The nodeSelector: the node_label role's label unless given; every key and value checked as labels."""
    selector = dict(given) if given is not None else {DEFAULT_KEY: DEFAULT_VALUE}
    for key, value in selector.items():
        if not isinstance(value, str):
            raise ConfigError('node_selector', {key: value}, 'label values are strings: quote %s' % show(value))
        try:
            validate_label(key, value)
        except NodeLabelError as e:
            raise ConfigError('node_selector', {key: value}, e.msg)
    return selector


def manifest(p, args, image, selector):
    """Upstream's ip-masq-agent.yaml (kubernetes-sigs/ip-masq-agent v2.12), with the tolerations of Kubernetes' addon."""
    container = {'name': APP, 'image': image,
                 'securityContext': {'privileged': False, 'capabilities': {'add': ['NET_ADMIN', 'NET_RAW']}},
                 'volumeMounts': [{'name': 'config', 'mountPath': CONFIG_DIR}]}
    if args:
        container['args'] = args
    labels = {'k8s-app': APP}
    return {
        'apiVersion': 'apps/v1', 'kind': 'DaemonSet',
        'metadata': {'name': p['name'], 'namespace': p['namespace']},
        'spec': {
            'selector': {'matchLabels': dict(labels)},
            'template': {
                'metadata': {'labels': dict(labels)},
                'spec': {
                    'hostNetwork': True,
                    'containers': [container],
                    'nodeSelector': selector,
                    'volumes': [{'name': 'config', 'configMap': {
                        'name': p['configmap_name'], 'optional': True,
                        'items': [{'key': p['configmap_key'], 'path': CONFIG_FILE}]}}],
                    'tolerations': [{'effect': 'NoSchedule', 'operator': 'Exists'},
                                    {'effect': 'NoExecute', 'operator': 'Exists'},
                                    {'key': 'CriticalAddonsOnly', 'operator': 'Exists'}]}}}}


def render(p):
    """(manifest, args, image) from the parameters; ConfigError before anything is sent."""
    args = upstream_args(glue.runtime(p))
    image = image_ref(p['image'], p['image_tag'])
    return manifest(p, args, image, node_selector(p['node_selector'])), args, image


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    p = module.params
    result = {}
    if p['state'] == 'present':
        glue.fail_without_libs(module)
        try:
            desired, args, image = render(p)
        except ConfigError as e:
            glue.fail(module, e)  # nothing was sent: not even a connection was made
        result.update(args=args, image=image)
    ref = k8s_objects.Ref('apps/v1', 'DaemonSet', 'daemonsets', p['namespace'], p['name'])
    request = k8s_objects.transport(connect(module))
    try:
        if p['state'] == 'present':
            out = k8s_objects.ensure_applied(request, ref, desired, FIELD_MANAGER, module.check_mode)
        else:
            out = k8s_objects.ensure_removed(request, ref, FIELD_MANAGER, module.check_mode)
    except K8sError as e:
        module.fail_json(msg=e.msg, status=e.status, **result)
    except k8s_objects.NotOurs as e:
        module.fail_json(msg=e.msg, **result)
    result.update(changed=out.changed, operation=out.action)
    if out.after is not None:
        result['daemonset'] = k8s_objects.shown(out.after)
    if module._diff and out.changed:
        where = 'daemonset %s/%s' % (p['namespace'], p['name'])
        result['diff'] = dict(before=k8s_objects.to_text(k8s_objects.comparable(out.before)),
                              after=k8s_objects.to_text(k8s_objects.comparable(out.after)),
                              before_header='%s (%s)' % (where, 'live' if out.before is not None else 'absent'),
                              after_header='%s (%s)' % (where, 'predicted' if module.check_mode else
                                                        'applied' if out.after is not None else 'deleted'))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
