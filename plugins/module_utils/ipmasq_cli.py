# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host program ``ip-masq-agent``: render / check / sync / status. Needs python3, PyYAML and netaddr only.

Exit codes: 0 ok (in sync, changed or not); 1 failed apply, or drift for ``status``; 2 bad config or usage, in which
case nothing on the host was touched and the last good rules stay in force.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys

from .ipmasq_config import (DEFAULT_CHAIN, DEFAULT_CONFIG_PATH, ConfigError, Options, load_config_file,
                            require_libs)
from .ipmasq_host import choose_backend, primary_subnets, subnet_warnings, write_metrics
from .ipmasq_iptables import Backend, HostLock, IptablesError, drift, remove_family, sync_family
from .ipmasq_rules import families, render_payload
from . import ipmasq_nft

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
DEFAULT_LOCK_FILE = '/run/ip-masq-agent.lock'
_SBIN = ('/usr/local/sbin', '/usr/sbin', '/sbin')


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        sys.stderr.write('ip-masq-agent: error: %s\n' % message)
        raise SystemExit(EXIT_USAGE)


def build_parser():
    p = _Parser(prog='ip-masq-agent', description='Keep the IP-MASQ-AGENT nat chain in line with the agent config.')
    sub = p.add_subparsers(dest='command', metavar='{render,check,sync,status}')
    sub.required = True
    helps = {
        'render': 'print the iptables-restore payload(s) for the config (IPv4, then IPv6 when enabled)',
        'check': 'validate the config; exit 0, or 2 with the error on stderr',
        'sync': 'apply the config once (one iptables-save, at most one iptables-restore per family)',
        'status': 'compare the live rules with the config; exit 0 in sync, 1 drift',
    }
    for name in ('render', 'check', 'sync', 'status'):
        s = sub.add_parser(name, help=helps[name], description=helps[name])
        s.add_argument('--config', default=DEFAULT_CONFIG_PATH, help='agent config file (default %(default)s)')
        s.add_argument('--masq-chain', default=DEFAULT_CHAIN, help='chain name (default %(default)s)')
        s.add_argument('--nomasq-all-reserved-ranges', action='store_true',
                       help='default non-masquerade list covers all reserved ranges, not only RFC 1918')
        s.add_argument('--enable-ipv6', action='store_true', help='also manage the ip6tables nat chain')
        rf = s.add_mutually_exclusive_group()
        rf.add_argument('--random-fully', dest='random_fully', action='store_true', default=None,
                        help='add --random-fully to MASQUERADE (default: on where iptables supports it)')
        rf.add_argument('--no-random-fully', dest='random_fully', action='store_false')
        s.add_argument('--to-ports', default='', help='port ranges for MASQUERADE, e.g. 32768-65535,1024-2047')
        s.add_argument('--strict', action='store_true', help='unknown config keys are errors, not warnings')
        s.add_argument('--wait', type=float, default=10, help='seconds to wait for the xtables lock and for another '
                                                              'ip-masq-agent run (default %(default)s)')
        s.add_argument('--lock-file', default=DEFAULT_LOCK_FILE, help='serialises runs on a host (default %(default)s)')
        s.add_argument('--backend', choices=('iptables', 'nftables', 'auto'), default='iptables',
                       help='iptables (upstream-compatible chain, default), nftables (a table of our own with '
                            'interval sets), or auto (iptables where the host already uses it)')
        s.add_argument('--metrics-file', default=None,
                       help='write Prometheus textfile-collector metrics here after each sync (off by default)')
    return p


def which(name):
    path = shutil.which(name)
    if path is None:
        for d in _SBIN:
            candidate = os.path.join(d, name)
            if os.access(candidate, os.X_OK):
                return candidate
        raise IptablesError('%s not found in PATH or %s; install iptables' % (name, ', '.join(_SBIN)))
    return path


def subprocess_runner(argv, data=None):
    env = dict(os.environ, LC_ALL='C')
    proc = subprocess.run(argv, input=data, capture_output=True, text=True, env=env, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def _load(args, random_fully):
    options = Options(masq_chain=args.masq_chain, nomasq_all_reserved_ranges=args.nomasq_all_reserved_ranges,
                      enable_ipv6=args.enable_ipv6, random_fully=random_fully, to_ports=args.to_ports,
                      strict=args.strict, backend=args.backend)
    cfg = load_config_file(args.config, options)
    return cfg, options


def config_digest(cfg, options):
    """A digest of everything that decides the rules (for metrics: was a change a config change or drift?)."""
    data = dict(cfg.to_dict(), chain=options.masq_chain, ipv6=options.enable_ipv6, random_fully=options.random_fully,
                to_ports=options.to_ports, backend=options.backend)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode('utf-8')).hexdigest()[:16]


def _metrics(args, result, backend='', rules=None, digest=None, changed=False, err=None):
    if not args.metrics_file or args.command != 'sync':
        return
    try:
        write_metrics(args.metrics_file, result, backend, rules, digest, changed)
    except (IOError, OSError) as e:
        err.write('ip-masq-agent: warning: cannot write metrics file %s: %s\n' % (args.metrics_file, e))


def _render(cfg, options, out):
    if options.backend == 'nftables':
        out.write(ipmasq_nft.render(cfg, options)[0])
    else:
        for fam in families(options):
            out.write(render_payload(cfg, options, fam))


def _report(args, plan, out):
    """Print one plan's outcome; returns True when it is drift (status) or a change (sync)."""
    if args.command == 'status':
        if plan.changed:
            out.write('%s: drift in %s:\n' % (plan.family, plan.chain))
            for line in drift(plan):
                out.write('  %s\n' % line)
        else:
            out.write('%s: in sync (%s)\n' % (plan.family, plan.chain))
    elif plan.changed:
        out.write('%s: changed: %s\n' % (plan.family, '; '.join(plan.actions)))
    else:
        out.write('%s: in sync, nothing written\n' % plan.family)
    return plan.changed


def main(argv=None, runner=subprocess_runner, find=which, out=None, err=None):
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        require_libs()
    except ImportError as e:
        err.write('ip-masq-agent: %s\n' % e)
        return EXIT_USAGE
    random_fully = args.random_fully
    try:
        cfg, options = _load(args, True if random_fully is None else random_fully)
        if options.backend == 'nftables':
            ipmasq_nft.desired(cfg, options)  # backend-specific limits are config errors too
    except ConfigError as e:
        err.write('ip-masq-agent: invalid config %s: %s\n' % (args.config, e))
        _metrics(args, 'config_error', err=err)
        return EXIT_USAGE
    for w in cfg.warnings:
        err.write('ip-masq-agent: warning: %s\n' % w)
    if cfg.aggregate:
        err.write('ip-masq-agent: aggregate: %d rules saved by merging CIDRs\n' % cfg.aggregation_saved())

    if args.command == 'check':
        out.write('config %s is valid: %d non-masquerade CIDRs, resync every %s\n'
                  % (args.config, len(cfg.non_masquerade_cidrs), cfg.resync_interval))
        return EXIT_OK
    if args.command == 'render':
        if options.backend == 'auto':
            options.backend = 'iptables'
        _render(cfg, options, out)
        return EXIT_OK

    check_mode = args.command == 'status'
    backend_name = options.backend
    try:
        if backend_name == 'auto':
            backend_name = choose_backend(runner, find, options.masq_chain)
            options.backend = backend_name
        ipt = [Backend(runner, find, fam, wait=args.wait) for fam in families(options)] \
            if backend_name == 'iptables' else []
        if random_fully is None and backend_name == 'iptables' and not ipt[0].supports_random_fully():
            options.random_fully = False
            err.write('ip-masq-agent: warning: iptables older than 1.6.2, MASQUERADE without --random-fully\n')
        if args.command == 'sync':
            for w in subnet_warnings(cfg, primary_subnets(runner, find), options.enable_ipv6):
                err.write('ip-masq-agent: warning: %s\n' % w)
        changed = False
        rules = {}
        with HostLock(args.lock_file if args.lock_file != '-' else None, timeout=args.wait):
            if backend_name == 'nftables':
                plan = ipmasq_nft.sync(ipmasq_nft.NftBackend(runner, find), cfg, options, check_mode=check_mode)
                changed |= _report(args, plan, out)
                rules['inet'] = sum(len(cfg.effective_cidrs(f)) for f in families(options))
                if args.command == 'sync':
                    # Switching from the iptables backend: our old chain and jump must not linger.
                    for fam in families(options):
                        old = remove_family(Backend(runner, find, fam, wait=args.wait), options.masq_chain)
                        if old.changed:
                            out.write('%s: removed the iptables chain %s (now on nftables)\n' % (fam, old.chain))
            else:
                for backend in ipt:
                    plan = sync_family(backend, cfg, options, check_mode=check_mode)
                    changed |= _report(args, plan, out)
                    rules[plan.family] = len([a for a in plan.after if a.startswith('-A %s ' % plan.chain)])
        _metrics(args, 'success', backend_name, rules, config_digest(cfg, options), changed, err)
        if args.command == 'status' and changed:
            return EXIT_FAILED
        return EXIT_OK
    except IptablesError as e:
        err.write('ip-masq-agent: %s\n' % e.msg)
        _metrics(args, 'failure', backend_name, err=err)
        return EXIT_FAILED
