# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible side of the engine, shared by the modules: argument specs from the spec's rows, Settings from module
parameters, the Host over ``run_command``, and failures with msg, cmd, rc, stdout and stderr. The host program does
not import this file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import missing_required_lib

from . import cli, configfile, libs
from .errors import ConfigError, HostError, show
from .host import Host
from .spec import FIELDS, FILE, RUNTIME, Settings

_TYPES = {'cidrs': 'list', 'count': 'int', 'bool': 'bool', 'duration': 'str', 'address4': 'str', 'address6': 'str',
          'choice': 'str', 'chain': 'str', 'ports': 'str', 'seconds': 'float', 'path': 'path'}


def argument_spec(scopes=(FILE, RUNTIME), names=None):
    """Module options for the spec's rows of the given scopes. File knobs have no default (unset = not written)."""
    out = {}
    for f in FIELDS:
        if f.scope not in scopes and f.name not in (names or ()):
            continue
        option = {'type': _TYPES[f.kind]}
        if f.kind == 'cidrs':
            option['elements'] = 'str'
        if f.choices:
            option['choices'] = list(f.choices)
        if f.scope == RUNTIME and f.default not in (None, ''):
            option['default'] = f.default
        out[f.name] = option
    return out


def fail_without_libs(module):
    """Fail the task, naming the library to install, when PyYAML or netaddr is missing on the target."""
    for name, deb in libs.missing():
        module.fail_json(msg=missing_required_lib(name) + ' (Debian: %s)' % deb)


def runtime(params):
    """Settings holding the runtime options, and over them the values of ``args`` (a DaemonSet's ``args:`` list as
    written, read by the host program's parser): what the lock and the wait need before the config is read."""
    s = Settings()
    for f in FIELDS:
        if f.scope == RUNTIME and f.name in params and params[f.name] is not None:
            s.set(f.name, params[f.name], f.name)
    for name, (value, label) in cli.runtime_args(params.get('args') or []).items():
        s.set(name, value, label)
    return s


def settings(params, scopes=(FILE, RUNTIME), config=None, config_path=None, strict=False):
    """Settings from module parameters (``args`` over the runtime options). With ``config`` (a mapping of upstream's
    keys) or ``config_path`` (the file, read now), the file knobs come from there and the options given override
    them."""
    s = runtime(params)
    overrides = dict((f.name, (params[f.name], f.name)) for f in FIELDS
                     if f.scope == FILE and FILE in scopes and params.get(f.name) is not None)
    configfile.load(path=config_path, data=config, settings=s, strict=strict, overrides=overrides)
    return s.validate()


def host(module, wait):
    def runner(argv, data=None):
        return module.run_command(argv, data=data, binary_data=True, environ_update={'LC_ALL': 'C'})

    def find(name):
        path = module.get_bin_path(name)
        if not path:
            raise HostError('%s not found in PATH, /usr/sbin or /sbin' % name)
        return path
    return Host(runner, find, wait=wait)


def fail(module, error, **result):
    """fail_json for the engine's two errors; nothing was changed by a ConfigError."""
    if isinstance(error, ConfigError):
        value = error.value if isinstance(error.value, str) else show(error.value, 200)
        module.fail_json(msg=str(error), option=error.key, value=value[:200], **result)
    module.fail_json(msg=error.msg, cmd=error.cmd, rc=error.rc, stdout=error.stdout, stderr=error.stderr, **result)


def report(module, result, failed=False):
    """exit_json's fields for an engine Result: changed, backend, actions and rules per scope, diff. After a failed
    apply (``failed``), only what was applied: one family written, the next refused, is a change."""
    plans = result.applied if failed else result.plans
    out = {'changed': any(p.changed for p in plans), 'backend': result.backend, 'actions': {}, 'rules': {}}
    diffs = []
    for plan in plans:
        if plan.removal and not plan.changed:
            continue
        key = plan.scope if not plan.removal or plan.scope not in out['actions'] else plan.scope + ' (leftover)'
        out['actions'][key] = plan.actions
        out['rules'][key] = plan.after
        if plan.changed:
            diffs.append({'before': ''.join(line + '\n' for line in plan.before),
                          'after': ''.join(line + '\n' for line in plan.after),
                          'before_header': '%s %s (live)' % (plan.scope, plan.target),
                          'after_header': '%s %s (%s)' % (plan.scope, plan.target,
                                                          'predicted' if module.check_mode else 'applied')})
    if module._diff and diffs:
        out['diff'] = diffs
    for w in result.warnings:
        module.warn(w)
    return out
