# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options of the collection's Kubernetes modules (plugins/module_utils/k8s_client.py AUTH_ARG_SPEC)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file (several separated by C(:) are merged, as C(KUBECONFIG) does). Can also be set with
        the E(K8S_AUTH_KUBECONFIG) environment variable.
      - A file that does not exist, cannot be read, is empty or is no kubeconfig fails the task with a message that
        names it.
      - "Without O(kubeconfig), O(context) or O(host) with credentials: in a pod with a service account (the
        E(KUBERNETES_SERVICE_HOST) variable and the token in C(/var/run/secrets/kubernetes.io/serviceaccount)), the
        in-cluster configuration; else the default kubeconfig (E(KUBECONFIG), else C(~/.kube/config))."
    type: path
  context:
    description:
      - The kubeconfig context to use; default is the kubeconfig's current context. Can also be set with the
        E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - The API server URL, for example C(https://10.0.0.1:6443). With O(api_key), or O(client_cert) and
        O(client_key), no kubeconfig is read; otherwise it overrides the kubeconfig's server. Can also be set with the
        E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - A bearer token (for example a service account token). Overrides the kubeconfig's user. Can also be set with
        the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  ca_cert:
    description:
      - The CA certificate file that signed the API server's certificate (the full chain). Can also be set with the
        E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - A client certificate file to authenticate with. Can also be set with the E(K8S_AUTH_CERT_FILE) environment
        variable.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - The key file of O(client_cert). Can also be set with the E(K8S_AUTH_KEY_FILE) environment variable.
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Whether to verify the API server's certificate; default is the kubeconfig's setting (verify). Can also be
        set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [verify_ssl]
  proxy:
    description:
      - The URL of an HTTP proxy to reach the API server through. Can also be set with the E(K8S_AUTH_PROXY)
        environment variable. Proxy settings of the environment (E(HTTPS_PROXY)) are not used.
    type: str
  request_timeout:
    description:
      - Seconds to wait for the API server, for connecting and for each answer, on every API call. A call that takes
        longer fails the task with a message that says so (for example while etcd is down the API server holds
        requests for a minute before it answers 504).
    type: float
    default: 30
notes:
  - Every write is sent with the field manager C(ipmasq-agent), so C(metadata.managedFields) shows the collection as
    the owner of what it set.
  - In check mode every write is sent with C(dryRun=All), so the API server validates and authorises it and stores
    nothing, so a change the user may not make fails in check mode too.
  - An API server that cannot be reached, whose certificate is not trusted, that does not answer within
    O(request_timeout), or that answers with an error fails the task with a message that says which, with the
    API server's own message.
requirements:
  - kubernetes (the official Kubernetes Python client)
'''
