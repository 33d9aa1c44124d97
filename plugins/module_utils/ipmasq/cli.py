# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host program ``ip-masq-agent``: render / check / sync / status. Needs python3 and PyYAML (netaddr for
aggregation, nftables and the guard rails); no Ansible.

Exit codes: 0 ok (in sync, changed or not); 1 a failed apply, or drift for ``status``; 2 a bad config or usage, in
which case nothing on the host was touched and the last good rules stay in force.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import functools
import os
import shutil
import subprocess
import sys

from . import configfile, engine, libs
from .errors import ConfigError, HostError, show
from .host import Host
from .metrics import write_metrics
from .spec import DEFAULT_CONFIG_PATH, RUNTIME_FIELDS, Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SBIN = ('/usr/local/sbin', '/usr/sbin', '/sbin')
COMMANDS = {
    'render': 'print the payload(s) a first sync writes (iptables-restore per family, or one nft -f)',
    'check': 'validate the config; exit 0, or 2 with the error on stderr',
    'sync': 'apply the config once (one read, at most one transaction per family)',
    'status': 'compare the live rules with the config; exit 0 in sync, 1 drift',
}


class UsageError(Exception):
    """Arguments the parser refuses: exit 2 with the usage for the program, a failed task for the module."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write('ip-masq-agent: error: %s\n' % message)
        raise SystemExit(EXIT_USAGE)


class _RaisingParser(_Parser):
    def error(self, message):
        raise UsageError(message)


def build_parser(parser_class=_Parser):
    """The parser, its flags made from the spec's runtime rows. It takes what ``go_flags`` makes of the arguments."""
    p = parser_class(prog='ip-masq-agent',
                     description='Keep the IP-MASQ-AGENT nat rules in line with the agent config. Flags are also taken '
                                 'in Go syntax, as upstream\'s binary takes them (-name, -name=value, --name=false); '
                                 'klog\'s logging flags (-v=2, --logtostderr, ...) are ignored.')
    sub = p.add_subparsers(dest='command', metavar='{%s}' % ','.join(COMMANDS))
    sub.required = True
    for name, text in COMMANDS.items():
        s = sub.add_parser(name, help=text, description=text)
        s.add_argument('--config', default=DEFAULT_CONFIG_PATH, help='agent config file (default %(default)s)')
        s.add_argument('--args-file', help='more arguments, one a line, read once the lock is held (the role '
                                           'writes them here, so a run never acts on settings replaced meanwhile)')
        s.add_argument('--strict', action='store_true', help='unknown config keys are errors, not warnings')
        s.add_argument('--no-strict', dest='strict', action='store_false', help=argparse.SUPPRESS)
        s.add_argument('--metrics-file', help='Prometheus textfile-collector file written after each sync')
        for f in RUNTIME_FIELDS:
            if f.kind == 'bool':
                s.add_argument(f.flag, dest=f.name, action='store_true', default=None)
                s.add_argument('--no-' + f.flag[2:], dest=f.name, action='store_false')
            else:
                s.add_argument(f.flag, dest=f.name, choices=f.choices, help='default: %s' % (f.default,))
        s.add_argument('--enable-ipv6', dest='ip_version', action='store_const', const='both',
                       help='manage IPv4 and IPv6 (upstream\'s flag; the same as --ip-version=both; '
                            '--enable-ipv6=false is --ip-version=ipv4)')
    return p


# --- Go ``flag`` syntax, as upstream's binary (Go flag + klog) takes its arguments -----------------------------------

GO_TRUE = ('1', 't', 'T', 'TRUE', 'true', 'True')  # strconv.ParseBool
GO_FALSE = ('0', 'f', 'F', 'FALSE', 'false', 'False')
KLOG_BOOLS = frozenset(('logtostderr', 'alsologtostderr', 'add_dir_header', 'skip_headers', 'skip_log_headers',
                        'one_output'))
KLOG_VALUES = frozenset(('v', 'vmodule', 'log_dir', 'log-dir', 'log_file', 'log_file_max_size', 'stderrthreshold',
                         'log_backtrace_at'))
_OURS_ONLY = {'config': (True, '--config', None), 'args-file': (True, '--args-file', None),
              'metrics-file': (True, '--metrics-file', None), 'strict': (False, '--strict', '--no-strict')}


def _go_table(program):
    """Flag name -> (takes a value, argparse spelling (when true), argparse spelling when false)."""
    table = {'enable-ipv6': (False, '--enable-ipv6', '--ip-version=ipv4')}
    for f in RUNTIME_FIELDS:
        name = f.flag[2:]
        if f.kind == 'bool':
            table[name] = (False, f.flag, '--no-' + name)
            table['no-' + name] = (False, '--no-' + name, f.flag)
        else:
            table[name] = (True, f.flag, None)
    if program:
        table.update(_OURS_ONLY)
    return table


def _cut(text, limit=80):
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _go_bool(flag, value):
    if value in GO_TRUE or value in GO_FALSE:
        return value in GO_TRUE
    raise UsageError('invalid boolean value %s for %s: use true or false (Go also takes 1, 0, t, f, T, F, TRUE, FALSE, '
                     'True, False)' % (show(value), flag))


def go_flags(argv, program=True):
    """Arguments in Go ``flag`` syntax -> (the arguments as the parser takes them, the klog flags ignored, as written).

    One or two leading dashes; ``-name=value`` or ``-name value`` for flags that take a value (the next argument is
    the value, whatever it looks like); bool flags ``-name`` or ``-name=BOOL`` (strconv.ParseBool's spellings; never a
    separate value). ``--enable-ipv6=false`` is ``--ip-version=ipv4``. klog's flags are accepted and ignored. Other
    arguments (the subcommand, after ``--``) stay in place. ``program=False`` (a DaemonSet's ``args:`` for the module):
    the runtime flags and klog's only, no subcommand. Raises UsageError.
    """
    table = _go_table(program)
    out, ignored = [], []
    rest = list(argv)
    while rest:
        token = rest.pop(0)
        if token == '--' and program:
            return out + [token] + rest, ignored
        if token in ('-', '--') or not token.startswith('-'):
            if not program:
                raise UsageError('unexpected argument %s: only flags are taken here' % show(token))
            out.append(token)
            continue
        body = token[2:] if token.startswith('--') else token[1:]
        name, eq, value = body.partition('=')
        if not name or name[0] in '-=':
            raise UsageError('bad flag syntax: %s' % show(token))
        if program and name in ('h', 'help'):
            out.append('--help')
            continue
        spelt = token[:len(token) - len(body)] + name
        if name in KLOG_VALUES or name in KLOG_BOOLS:
            takes_value, on, off = name in KLOG_VALUES, None, None
        elif name in table:
            takes_value, on, off = table[name]
        else:
            raise UsageError('unrecognized arguments: %s' % _cut(token))
        if takes_value and not eq:
            if not rest:
                raise UsageError('flag needs an argument: %s' % spelt)
            value = rest.pop(0)
            token = '%s %s' % (token, value)
        if on is None:  # klog's
            if eq and not takes_value:
                _go_bool(spelt, value)
            ignored.append(_cut(token))
        elif takes_value:
            out.append('%s=%s' % (on, value))
        else:
            out.append(on if not eq or _go_bool(spelt, value) else off)
    return out, ignored


def runtime_args(argv, label='args'):
    """A DaemonSet's ``args:`` list as written -> {field name: (value, label)} for the runtime knobs it sets, through
    ``go_flags`` and the program's parser. Only flags (upstream's, the program's runtime flags, klog's, ignored); the
    config file's knobs are not flags. Raises ConfigError naming ``label``."""
    try:
        tokens, _klog = go_flags(argv, program=False)
        args = build_parser(_RaisingParser).parse_args(['sync'] + tokens)
    except UsageError as e:
        raise ConfigError(label, argv, str(e))
    return dict((f.name, (getattr(args, f.name), '%s: %s' % (label, f.flag))) for f in RUNTIME_FIELDS
                if getattr(args, f.name) is not None)


def settings_from_args(args):
    """Settings from the parsed flags and the config file they name (read now: call this under the lock)."""
    settings = Settings()
    for f in RUNTIME_FIELDS:
        value = getattr(args, f.name)
        if value is not None:
            settings.set(f.name, value, f.flag)
    return configfile.load(args.config, settings=settings, strict=args.strict).validate()


def read_args_file(path):
    try:
        raw = configfile.read_bytes(path, missing_ok=False).decode('utf-8', 'replace')
    except ConfigError as e:
        raise ConfigError('--args-file', path, e.reason)
    return [line.strip() for line in raw.splitlines() if line.strip() and not line.strip().startswith('#')]


def which(name):
    path = shutil.which(name)
    for d in SBIN if path is None else ():
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    if path is None:
        raise HostError('%s not found in PATH or %s' % (name, ', '.join(SBIN)))
    return path


def command_timeout(wait):
    """No command may run longer than this: iptables-restore waits --wait for the xtables lock, then has work to do.
    Less than the service's start timeout (3 x wait + 30 s), so the program reports it before systemd kills it."""
    return 2 * wait + 20


def subprocess_runner(argv, data=None, timeout=None):
    """Bytes that are not UTF-8 (a foreign rule's comment, an interface name) pass through as surrogates."""
    env = dict(os.environ, LC_ALL='C')
    try:
        proc = subprocess.run(argv, input=data, capture_output=True, encoding='utf-8', errors='surrogateescape',
                              env=env, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HostError('%s did not finish within %g s; it was killed' % (argv[0], timeout), cmd=argv)
    return proc.returncode, proc.stdout, proc.stderr


def _print_plans(command, result, out):
    for plan in result.plans:
        if plan.removal and not plan.changed:
            continue
        what = 'leftover %s' % plan.target if plan.removal else plan.target
        if command == 'status' and plan.changed:
            out.write('%s: drift in %s:\n' % (plan.scope, what))
            out.writelines('  %s\n' % line for line in plan.drift())
        elif command == 'status':
            out.write('%s: in sync (%s)\n' % (plan.scope, plan.target))
        elif plan.changed:
            out.write('%s: changed: %s\n' % (plan.scope, '; '.join(plan.actions)))
        else:
            out.write('%s: in sync, nothing written\n' % plan.scope)


def _metrics(args, err, result_name, result=None):
    if not args.metrics_file or args.command != 'sync':
        return
    try:
        if result is None:
            write_metrics(args.metrics_file, result_name)
        else:
            write_metrics(args.metrics_file, result_name, result.backend, result.rules, result.digest(),
                          result.changed)
    except (IOError, OSError) as e:
        err.write('ip-masq-agent: warning: cannot write metrics file %s: %s\n' % (args.metrics_file, e))


def _go_flags_or_exit(parser, argv, where=None):
    try:
        return go_flags(argv)
    except UsageError as e:
        parser.error('%s (%s)' % (e, where) if where else str(e))


def main(argv=None, runner=subprocess_runner, find=which, out=None, err=None):
    out, err = out or sys.stdout, err or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    tokens, klog = _go_flags_or_exit(parser, argv)
    args = parser.parse_args(tokens)
    noted = []

    def note(flags):
        new = [f for f in flags if f not in noted]
        if new:
            err.write('ip-masq-agent: note: ignoring klog flags: %s\n' % ', '.join(new))
            noted.extend(new)

    def final_args():
        if not args.args_file:
            return args
        where = 'in --args-file %s' % args.args_file
        more, more_klog = _go_flags_or_exit(parser, read_args_file(args.args_file), where)
        note(klog + more_klog)
        return parser.parse_args(tokens + more)

    if not args.args_file:
        note(klog)

    def load():
        return settings_from_args(final_args())

    for name, deb in libs.missing():
        err.write('ip-masq-agent: the Python library %s is required (Debian: %s)\n' % (name, deb))
        return EXIT_USAGE
    try:
        if args.command in ('check', 'render'):
            settings = load()
            if args.command == 'render':
                out.writelines(engine.render(settings))
            else:
                out.write('config %s is valid: %d non-masquerade CIDRs, resync every %s\n'
                          % (args.config, len(settings.cidrs()), settings.resync_interval))
            for w in settings.warnings:
                err.write('ip-masq-agent: warning: %s\n' % w)
            return EXIT_OK
        pre, first = Settings(), final_args()  # the lock and the wait are needed before the lock: read them now
        for name, flag in (('wait', '--wait'), ('lock_file', '--lock-file')):
            if getattr(first, name) is not None:
                pre.set(name, getattr(first, name), flag)
        if runner is subprocess_runner:
            runner = functools.partial(subprocess_runner, timeout=command_timeout(pre.wait))
        result = engine.run(Host(runner, find, wait=pre.wait), load,
                            engine.SYNC if args.command == 'sync' else engine.STATUS, lock_file=pre.lock_file)
    except ConfigError as e:
        err.write('ip-masq-agent: invalid config %s: %s\n' % (args.config, e))
        _metrics(args, err, 'config_error')
        return EXIT_USAGE
    except HostError as e:
        err.write('ip-masq-agent: %s\n' % e.msg)
        _metrics(args, err, 'failure')
        return EXIT_FAILED
    except Exception as e:  # a bug must not pass for a good sync: say so, count it as a failure, exit 1
        err.write('ip-masq-agent: internal error: %s: %s\n' % (type(e).__name__, show(str(e), 400)))
        _metrics(args, err, 'failure')
        return EXIT_FAILED
    for w in result.warnings:
        err.write('ip-masq-agent: warning: %s\n' % w)
    if result.settings.aggregate:
        err.write('ip-masq-agent: aggregate: %d rules saved by merging CIDRs\n' % result.settings.aggregation_saved())
    _print_plans(args.command, result, out)
    _metrics(args, err, 'success', result)
    return EXIT_FAILED if args.command == 'status' and result.changed else EXIT_OK
