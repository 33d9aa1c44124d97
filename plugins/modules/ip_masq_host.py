#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: ip_masq_host
short_description: The ip-masq-agent host program, its library, units, arguments and rules, in one execution
version_added: 1.0.0
description:
  - Checks everything the C(ip-masq-agent) host program needs on a host in one module execution, and changes only
    what differs, with a diff per part. The role M(ipmasq.agent.ip_masq_agent) calls it; the config file itself is
    M(ipmasq.agent.ip_masq_config)'s.
  - The library, the collection's engine package (C(plugins/module_utils/ipmasq)), is installed under O(lib_dir)
    from this module's own files (the package it runs travels in its payload), file by file, only where a file differs.
  - The program (O(program)) at O(program_path), the systemd units (O(units)) in O(unit_dir), then, when a unit file
    changed and systemd runs the host, C(systemctl daemon-reload).
  - The rules, as M(ipmasq.agent.ip_masq_chain) applies them (the same engine, under the host lock), from O(config)
    and the options; the program's arguments are written to O(args_file) under the same lock before anything is
    applied.
  - Then the units in O(enable) are enabled (also where systemd does not run, for example in an image build) and,
    when systemd runs the host, started; the units in O(restart) are restarted when a unit file changed.
  - With O(on_missing=report), a missing Python library (PyYAML, netaddr) or command (C(iptables-save),
    C(iptables-restore), C(nft), C(systemctl)) is reported in RV(missing) and nothing is done, so that the caller can
    install the packages and run it again. With V(fail), the task fails naming what is missing.
author:
  - ipmasq.agent contributors (@ipmasq)
options:
  config:
    description:
      - The agent config as a mapping of upstream's keys (C(nonMasqueradeCIDRs), ...), validated as
        M(ipmasq.agent.ip_masq_config) validates it. Options given beside it override its keys.
    type: dict
  args_file:
    description:
      - Write the host program's arguments for these settings to this file (one a line), under the host lock and
        before anything is applied, as M(ipmasq.agent.ip_masq_chain) does.
    type: path
  args:
    description:
      - The C(args:) list of an upstream ip-masq-agent DaemonSet, as written, as in M(ipmasq.agent.ip_masq_chain).
        Its values win over the runtime options.
    type: list
    elements: str
  program:
    description: The text of the host program (the collection's C(bin/ip-masq-agent)); written to O(program_path).
    type: str
  program_path:
    description: Where the host program goes (mode C(0755), owned by the running user). Needs O(program).
    type: path
  lib_dir:
    description:
      - Install the engine package as O(lib_dir)C(/ipmasq) (files C(0644), directories C(0755)), where the program
        looks for it. Files of the package that are missing or differ are written; nothing else there is touched.
    type: path
  units:
    description: systemd unit files, name to text, written to O(unit_dir) (mode C(0644)).
    type: dict
  unit_dir:
    description: Where O(units) go.
    type: path
    default: /etc/systemd/system
  enable:
    description: Units to enable, and to start when systemd runs the host.
    type: list
    elements: str
    default: []
  restart:
    description: Units to restart (when systemd runs the host) when a file of O(units) changed.
    type: list
    elements: str
    default: []
  on_missing:
    description:
      - V(fail) fails when a library or command the host program needs is missing; V(report) returns RV(missing) and
        does nothing else.
    type: str
    choices: [fail, report]
    default: fail
extends_documentation_fragment:
  - ipmasq.agent.agent.config
  - ipmasq.agent.agent.runtime
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the files, the units' state and the live rules, and reports what a run would change.
  diff_mode:
    support: full
    details: One entry per changed file (the library as one listing of its changed files), and the agent's rules.
  platform:
    platforms: posix
notes:
  - Run it as root.
requirements:
  - PyYAML (Debian C(python3-yaml)) and netaddr (Debian C(python3-netaddr)) on the target, for the rules; when one is
    missing the module reports it in RV(missing) (O(on_missing=report)) or fails naming it (V(fail))
  - C(iptables-save) and C(iptables-restore) (C(ip6tables-*) for IPv6), or C(nft) for the nftables backend, and
    C(systemctl), on the target
seealso:
  - module: ipmasq.agent.ip_masq_chain
  - module: ipmasq.agent.ip_masq_config
'''

EXAMPLES = r'''
- name: The host program, its units and the rules (what the role does)
  ipmasq.agent.ip_masq_host:
    config:
      nonMasqueradeCIDRs: [10.0.0.0/20, 10.4.0.0/14]
    program: "{{ lookup('ansible.builtin.file', 'bin/ip-masq-agent', rstrip=false) }}"
    program_path: /usr/local/sbin/ip-masq-agent
    lib_dir: /usr/local/lib/ip-masq-agent
    args_file: /etc/default/ip-masq-agent
    units:
      ip-masq-agent.service: "{{ lookup('ansible.builtin.template', 'ip-masq-agent.service.j2') }}"
    enable: [ip-masq-agent.service]
    on_missing: report
  register: host

- name: Install what is missing
  ansible.builtin.package:
    name: [python3-yaml, python3-netaddr, iptables]
  when: host.missing | length > 0
'''

RETURN = r'''
missing:
  description: The libraries and commands that are missing on the host (with O(on_missing=report); nothing else was
    done when this is not empty).
  returned: always
  type: list
  elements: str
  sample: [PyYAML, iptables-save]
booted:
  description: Whether systemd runs the host (C(systemctl is-system-running) says running, degraded, starting or
    initializing); units are started only then.
  returned: unless RV(missing) is not empty
  type: bool
files:
  description: The files that were (or, in check mode, would be) written, each with what differed (content, mode,
    owner).
  returned: unless RV(missing) is not empty
  type: dict
  sample: {/usr/local/sbin/ip-masq-agent: [content]}
systemd:
  description: The systemctl actions done (or, in check mode, that would be).
  returned: unless RV(missing) is not empty
  type: list
  elements: str
  sample: [daemon-reload, enable ip-masq-agent.timer, start ip-masq-agent.timer]
args_file_changed:
  description: Whether O(args_file) was (or would be) rewritten.
  returned: unless RV(missing) is not empty
  type: bool
rules:
  description: The agent's lines per family once in sync, as in M(ipmasq.agent.ip_masq_chain).
  returned: unless RV(missing) is not empty
  type: dict
actions:
  description: What was (or would be) done to the rules, per family.
  returned: unless RV(missing) is not empty
  type: dict
backend:
  description: The backend used (V(iptables) or V(nftables)).
  returned: unless RV(missing) is not empty
  type: str
'''

import hashlib

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes

# every submodule of the package is imported here, so that the payload carries the whole library (a unit test checks
# that the payload holds every file of the package)
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import (  # noqa: F401 pylint: disable=unused-import
    addr, cli, configfile, engine, errors, glue, goduration, host, install, intent, libs, metrics, spec)
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.backends import (  # noqa: F401 pylint: disable=unused-import
    base, iptables, iptables_save, nftables)
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError, HostError

BOOTED = ('running', 'degraded', 'starting', 'initializing')


def needed_commands(p, settings_pre):
    """The commands the host program and this run need, for the backend and families asked for."""
    backend = settings_pre.backend
    families = settings_pre.families
    out = []
    if backend in ('iptables', 'auto'):
        for fam in families:
            prefix = 'ip6tables' if fam == 'ipv6' else 'iptables'
            out += [prefix + '-save', prefix + '-restore']
    if backend in ('nftables', 'auto'):
        out.append('nft')
    if p['units'] or p['enable'] or p['restart']:
        out.append('systemctl')
    return out


def library_diff(lib_dir, states):
    """One diff entry for the library: its changed files, one line each (path, sha256, mode), before and after."""
    def line(s, data, mode):
        if data is None:
            return ''
        return '%s %s %04o\n' % (s.path, hashlib.sha256(data).hexdigest()[:16], mode)
    changed = [s for s in states if s.changed]
    return {'before_header': '%s (installed)' % lib_dir, 'after_header': '%s (collection)' % lib_dir,
            'before': ''.join(line(s, s.before, s.before_mode) for s in changed),
            'after': ''.join(line(s, s.content, s.mode) for s in changed)}


def main():
    module = AnsibleModule(
        argument_spec=dict(glue.argument_spec(), config=dict(type='dict'), args_file=dict(type='path'),
                           args=dict(type='list', elements='str'), program=dict(type='str'),
                           program_path=dict(type='path'), lib_dir=dict(type='path'), units=dict(type='dict'),
                           unit_dir=dict(type='path', default='/etc/systemd/system'),
                           enable=dict(type='list', elements='str', default=[]),
                           restart=dict(type='list', elements='str', default=[]),
                           on_missing=dict(type='str', default='fail', choices=['fail', 'report'])),
        required_together=[('program', 'program_path')],
        supports_check_mode=True,
    )
    p = module.params
    check = module.check_mode
    try:
        pre = glue.runtime(p)  # the backend, the families, the wait and the lock file, args over the options
    except ConfigError as e:
        glue.fail(module, e)
    missing = [name for name, _deb in libs.missing()]
    missing += [c for c in needed_commands(p, pre) if not module.get_bin_path(c)]
    if missing:
        if p['on_missing'] == 'report':
            module.exit_json(changed=False, missing=missing)
        glue.fail_without_libs(module)
        module.fail_json(msg='missing on the host: %s (install them, or let the role do it: '
                             'ip_masq_agent_install_packages)' % ', '.join(missing), missing=missing)
    try:
        # validate before anything is written: a bad config changes nothing
        glue.settings(p, config=p['config'] or {}, strict=True)
    except ConfigError as e:
        glue.fail(module, e)

    result = dict(changed=False, missing=[], files={}, systemd=[], args_file_changed=False)
    diffs = []

    # the files: library, program, units
    states = []
    if p['lib_dir']:
        lib = [install.FileState('%s/%s' % (p['lib_dir'].rstrip('/'), rel), data, 0o644)
               for rel, data in sorted(install.package_files().items())]
        states += lib
        if any(s.changed for s in lib):
            diffs.append(library_diff(p['lib_dir'], lib))
    singles = []
    if p['program_path']:
        singles.append(install.FileState(p['program_path'], to_bytes(p['program']), 0o755))
    unit_states = [install.FileState('%s/%s' % (p['unit_dir'].rstrip('/'), name), to_bytes(text), 0o644)
                   for name, text in sorted((p['units'] or {}).items())]
    singles += unit_states
    states += singles
    diffs += [s.diff() for s in singles if s.changed]
    for s in states:
        if s.changed:
            result['files'][s.path] = s.changes
            if not check:
                try:
                    s.apply()
                except (IOError, OSError) as e:
                    module.fail_json(msg='cannot write %s: %s' % (s.path, e), **result)
    units_changed = any(s.changed for s in unit_states)

    def systemctl(*argv):
        return module.run_command([module.get_bin_path('systemctl')] + list(argv),
                                  binary_data=True, environ_update={'LC_ALL': 'C'})

    def act(*argv):
        result['systemd'].append(' '.join(argv))
        if not check:
            rc, out, err = systemctl(*argv)
            if rc != 0:
                module.fail_json(msg='systemctl %s failed' % ' '.join(argv), rc=rc, stdout=out, stderr=err, **result)

    booted = False
    if p['units'] or p['enable'] or p['restart']:
        _rc, out, _err = systemctl('is-system-running')
        booted = out.strip() in BOOTED
    result['booted'] = booted
    if units_changed and booted:
        act('daemon-reload')

    # the arguments and the rules: the engine, as ip_masq_chain runs it
    def load():
        settings = glue.settings(p, config=p['config'] or {}, strict=True)
        if p['args_file']:
            args = install.FileState(p['args_file'], to_bytes(install.args_text(settings.argv())), 0o644)
            if args.changed:
                result['args_file_changed'] = True
                result['files'][p['args_file']] = args.changes
                diffs.append(args.diff())
                if not check:
                    args.apply()
        return settings

    try:
        host_ = glue.host(module, pre.wait)
        rules = engine.run(host_, load, engine.CHECK if check else engine.SYNC, pre.lock_file)
    except (ConfigError, HostError) as e:
        out = glue.report(module, e.result, failed=True) if getattr(e, 'result', None) else {}
        glue.fail(module, e, **dict(result, **out))
    out = glue.report(module, rules)
    diffs += out.pop('diff', [])
    result.update(out)

    # the units' state
    for unit in p['enable']:
        _rc, state, _err = systemctl('is-enabled', unit)
        if state.strip() != 'enabled':
            act('enable', unit)
    if booted:
        restarted = []
        if units_changed:
            for unit in p['restart']:
                act('restart', unit)
                restarted.append(unit)
        for unit in p['enable']:
            if unit in restarted:
                continue
            _rc, state, _err = systemctl('is-active', unit)
            if state.strip() != 'active':
                act('start', unit)

    result['changed'] = bool(result['files'] or result['systemd'] or out['changed'])
    if module._diff and diffs:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
