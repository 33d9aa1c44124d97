# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every knob of the agent, once: one row per knob in ``FIELDS``, and ``Settings``, the values of one run.

A row names the knob in each place it is spelt (config-file key, module option, host-program flag), its kind (which
decides how a value is checked), its default and its scope: ``file`` knobs live in the agent's config file (upstream's
``MasqConfig`` plus our extensions), ``runtime`` knobs are the program's flags (upstream's plus ours). The modules'
``argument_spec``, the host program's parser, the config-file reader and writer, and the program's argument file are
all made from this table; the doc fragment ``ipmasq.agent.agent`` and the role's argument spec are checked against it
by the unit tests.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from . import addr
from .errors import ConfigError, show
from .goduration import parse_go_duration

FILE = 'file'
RUNTIME = 'runtime'
DEFAULT_CONFIG_PATH = '/etc/config/ip-masq-agent'
LINK_LOCAL = {'ipv4': '169.254.0.0/16', 'ipv6': 'fe80::/10'}
RFC1918_CIDRS = ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16')
# Added by --nomasq-all-reserved-ranges, in upstream's order.
RESERVED_CIDRS = ('100.64.0.0/10', '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '198.18.0.0/15',
                  '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4')
FAMILIES = ('ipv4', 'ipv6')
BUILTIN_NAMES = frozenset(('ACCEPT', 'DROP', 'RETURN', 'QUEUE', 'REJECT', 'MASQUERADE', 'SNAT', 'DNAT', 'LOG',
                           'PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING', 'FORWARD'))
_CHAIN = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.+:-]{0,27}')
_PORTS = re.compile(r'([0-9]{1,5})(?:-([0-9]{1,5}))?')


class Field(object):
    """One knob. ``key``: config-file key (file scope); ``flag``: host-program flag (runtime scope)."""

    def __init__(self, name, kind, default=None, key=None, flag=None, choices=None, upstream=False):
        self.name = name
        self.kind = kind
        self.default = default
        self.key = key
        self.flag = flag
        self.choices = choices
        self.scope = FILE if key else RUNTIME
        # upstream's MasqConfig key or flag (v2.12): what upstream's image and GKE's managed agent read
        self.upstream = upstream

    def initial(self):
        return list(self.default) if isinstance(self.default, (list, tuple)) else self.default


FIELDS = (
    # upstream's MasqConfig (the config file)
    Field('non_masquerade_cidrs', 'cidrs', None, key='nonMasqueradeCIDRs', upstream=True),
    Field('cidr_limit', 'count', 64, key='cidrLimit', upstream=True),
    Field('masq_link_local', 'bool', False, key='masqLinkLocal', upstream=True),
    Field('masq_link_local_ipv6', 'bool', False, key='masqLinkLocalIPv6', upstream=True),
    Field('resync_interval', 'duration', '60s', key='resyncInterval', upstream=True),
    # ipmasq.agent's extensions of the file (upstream ignores unknown keys)
    Field('masquerade_cidrs', 'cidrs', None, key='masqueradeCIDRs'),
    Field('snat_to_source', 'address4', None, key='snatToSource'),
    Field('snat_to_source_ipv6', 'address6', None, key='snatToSourceIPv6'),
    Field('aggregate', 'bool', False, key='aggregate'),
    Field('required_cidrs', 'cidrs', (), key='requiredCIDRs'),
    Field('jump_position', 'choice', 'append', key='jumpPosition', choices=('append', 'first')),
    Field('force_masquerade_cidrs', 'cidrs', None, key='forceMasqueradeCIDRs'),
    Field('masquerade_source_cidrs', 'cidrs', None, key='masqueradeSourceCIDRs'),
    Field('skip_dnat', 'bool', False, key='skipDNAT'),
    # upstream's flags, then ours
    Field('chain', 'chain', 'IP-MASQ-AGENT', flag='--masq-chain', upstream=True),
    Field('nomasq_all_reserved_ranges', 'bool', False, flag='--nomasq-all-reserved-ranges', upstream=True),
    Field('ip_version', 'choice', 'ipv4', flag='--ip-version', choices=('ipv4', 'ipv6', 'both')),
    Field('random_fully', 'bool', True, flag='--random-fully', upstream=True),
    Field('to_ports', 'ports', '', flag='--to-ports', upstream=True),
    Field('backend', 'choice', 'iptables', flag='--backend', choices=('iptables', 'nftables', 'auto')),
    Field('wait', 'seconds', 10, flag='--wait'),
    Field('lock_file', 'path', '/run/ip-masq-agent.lock', flag='--lock-file'),
)
BY_NAME = dict((f.name, f) for f in FIELDS)
BY_KEY = dict((f.key, f) for f in FIELDS if f.key)
BY_LOWER_KEY = dict((f.key.lower(), f) for f in FIELDS if f.key)
FILE_FIELDS = tuple(f for f in FIELDS if f.scope == FILE)
RUNTIME_FIELDS = tuple(f for f in FIELDS if f.scope == RUNTIME)


# --- one checker per kind: (value, label) -> the value to keep -------------------------------------------------

def _kind_name(value):
    return type(value).__name__


def _cidrs(field, value, label):
    if value is None:
        return []  # Go decodes null into an empty list
    if not isinstance(value, list):
        raise ConfigError(label, value, 'expected a list of CIDR strings, got %s %s' % (_kind_name(value), show(value)))
    for item in value:
        addr.parse_cidr(item, label)
    return list(value)


def _count(field, value, label):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(label, value, 'expected a whole number, got %s %s' % (_kind_name(value), show(value)))
    if value < 0:
        raise ConfigError(label, value, 'must not be negative, got %d' % value)
    return value


def _bool(field, value, label):
    if not isinstance(value, bool):
        raise ConfigError(label, value, 'expected true or false, got %s %s' % (_kind_name(value), show(value)))
    return value


def _duration(field, value, label):
    if not isinstance(value, str):
        raise ConfigError(label, value, 'expected a Go duration string such as "60s" or "1m30s", got %s %s%s'
                          % (_kind_name(value), show(value),
                             '; write "%ss"' % value if isinstance(value, int) and not isinstance(value, bool) else ''))
    try:
        ns = parse_go_duration(value)
    except ValueError as e:
        raise ConfigError(label, value, '%s (use Go syntax such as "60s", "1m30s", "500ms")' % e)
    if ns <= 0:
        raise ConfigError(label, value, 'must be greater than zero, got %s' % show(value))
    return value


def _address(version):
    def check(field, value, label):
        return addr.parse_address(value, version, label)
    return check


def _choice(field, value, label):
    if value not in field.choices:
        raise ConfigError(label, value, 'expected one of %s, got %s' % (', '.join(field.choices), show(value)))
    return value


def _chain(field, value, label):
    if not isinstance(value, str) or not _CHAIN.fullmatch(value):
        raise ConfigError(label, value, 'invalid chain name %s: use 1 to 28 letters, digits, "_", "-", ".", ":" or '
                                        '"+", not starting with a punctuation mark' % show(value))
    if value.upper() in BUILTIN_NAMES:
        raise ConfigError(label, value, 'invalid chain name %s: it is a built-in chain or target' % show(value))
    return value


def parse_ports(value, label='to-ports'):
    """``"32768-65535,1024"`` -> ``[(32768, 65535), (1024, 1024)]``; empty -> ``[]``."""
    if value in (None, ''):
        return []
    if not isinstance(value, str):
        raise ConfigError(label, value, 'expected a string such as "32768-65535,1024-2047"')
    ranges = []
    for part in value.split(','):
        m = _PORTS.fullmatch(part)
        if not m:
            raise ConfigError(label, value, 'invalid port range %s: use PORT or FIRST-LAST, comma-separated'
                              % show(part))
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if not 1 <= lo <= hi <= 65535:
            raise ConfigError(label, value, 'invalid port range %s: ports run from 1 to 65535, first <= last'
                              % show(part))
        ranges.append((lo, hi))
    return ranges


def _ports(field, value, label):
    parse_ports(value, label)
    return value or ''


def _seconds(field, value, label):
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float('nan')
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(label, value, 'expected a number of seconds, 0 or more, got %s' % show(value))
    return seconds


def _path(field, value, label):
    if not isinstance(value, str) or '\n' in value or '\x00' in value:
        raise ConfigError(label, value, 'expected a path, got %s' % show(value))
    return value


CHECKS = {'cidrs': _cidrs, 'count': _count, 'bool': _bool, 'duration': _duration, 'address4': _address(4),
          'address6': _address(6), 'choice': _choice, 'chain': _chain, 'ports': _ports, 'seconds': _seconds,
          'path': _path}


# --- the values of one run ------------------------------------------------------------------------------------------

class Settings(object):
    """Upstream's MasqConfig plus its flags, as one object: an attribute per field, defaults from ``FIELDS``.

    ``given`` maps each field that was set to the label it was set under (a file key, an option, a flag), so that a
    later error names the knob as the user spelt it.
    """

    def __init__(self):
        for f in FIELDS:
            setattr(self, f.name, f.initial())
        self.given = {}
        self.warnings = []

    def set(self, name, value, label=None):
        field = BY_NAME[name]
        label = label or field.key or field.name
        if name == 'non_masquerade_cidrs' and isinstance(value, list) and len(value) > self.cidr_limit:
            self.given[name] = label
            self._refuse_over_limit(len(value))  # before parsing a single item of a list that is refused anyway
        setattr(self, name, CHECKS[field.kind](field, value, label))
        self.given[name] = label

    def label(self, name):
        field = BY_NAME[name]
        return self.given.get(name) or field.key or field.flag or name

    # derived values: the only place their meaning is written
    @property
    def families(self):
        return {'ipv4': ['ipv4'], 'ipv6': ['ipv6'], 'both': ['ipv4', 'ipv6']}[self.ip_version]

    @property
    def port_ranges(self):
        return parse_ports(self.to_ports)

    def cidrs(self, family=None):
        """The non-masquerade CIDRs (upstream's default list when none is given), of one family or all."""
        cidrs = self.non_masquerade_cidrs
        if cidrs is None:
            cidrs = list(RFC1918_CIDRS) + (list(RESERVED_CIDRS) if self.nomasq_all_reserved_ranges else [])
        if family is None:
            return cidrs
        return [c for c in cidrs if (':' in c) == (family == 'ipv6')]

    def effective_cidrs(self, family):
        """The CIDRs rendered for a family: file order, or merged with ``aggregate``."""
        cidrs = self.cidrs(family)
        return addr.merge(cidrs) if self.aggregate and cidrs else cidrs

    def of_family(self, name, family):
        """A CIDR-list knob's entries of one family; None when the knob is unset."""
        cidrs = getattr(self, name)
        return None if cidrs is None else [c for c in cidrs if (':' in c) == (family == 'ipv6')]

    def masquerade_cidrs_of(self, family):
        return self.of_family('masquerade_cidrs', family)

    def masq_link_local_of(self, family):
        return self.masq_link_local_ipv6 if family == 'ipv6' else self.masq_link_local

    def snat_of(self, family):
        return self.snat_to_source_ipv6 if family == 'ipv6' else self.snat_to_source

    @property
    def resync_seconds(self):
        return parse_go_duration(self.resync_interval) / 1e9

    def masqueraded_set(self, family):
        """The destinations whose traffic leaves with the node's address (a netaddr IPSet)."""
        keep = addr.ip_set(self.cidrs(family) + ([] if self.masq_link_local_of(family) else [LINK_LOCAL[family]]))
        listed = self.masquerade_cidrs_of(family)
        forced = addr.ip_set(self.of_family('force_masquerade_cidrs', family) or [])
        return ((addr.everything(family) if listed is None else addr.ip_set(listed)) - keep) | forced

    def aggregation_saved(self):
        return sum(len(self.cidrs(f)) - len(self.effective_cidrs(f)) for f in self.families)

    def _refuse_over_limit(self, count):
        raise ConfigError(self.label('non_masquerade_cidrs'), '%d CIDRs' % count,
                          'the agent accepts up to %d CIDRs (excluding link-local), but got %d; raise %s if this '
                          'is intended' % (self.cidr_limit, count, self.label('cidr_limit')))

    def validate(self):
        """Upstream's ``validate()`` plus the checks across knobs. Raises ConfigError naming the knob."""
        cidrs = self.cidrs()
        if len(cidrs) > self.cidr_limit:
            self._refuse_over_limit(len(cidrs))
        ipv6 = 'ipv6' in self.families
        seen = set()
        for cidr in cidrs:
            net = addr.parse_cidr(cidr, self.label('non_masquerade_cidrs'))
            if net in seen:
                self.warnings.append('%s: %s is listed more than once' % (self.label('non_masquerade_cidrs'),
                                                                          show(cidr)))
            seen.add(net)
        for name in ('non_masquerade_cidrs', 'masquerade_cidrs', 'snat_to_source_ipv6', 'force_masquerade_cidrs',
                     'masquerade_source_cidrs'):
            value = getattr(self, name) or []
            for item in value if isinstance(value, list) else [value]:
                if ':' in item and not ipv6:
                    raise ConfigError(self.label(name), item, 'IPv6 %s given but IPv6 is not enabled; enable it with '
                                                              '--enable-ipv6 (ip_version: ipv6 or both in the modules)'
                                      % show(item))
        if self.to_ports and (self.snat_to_source or self.snat_to_source_ipv6):
            raise ConfigError(self.label('to_ports'), self.to_ports,
                              'cannot be combined with %s (SNAT takes no port list here)' % self.label('snat_to_source'))
        if self.to_ports and self.masquerade_cidrs is not None:
            raise ConfigError(self.label('to_ports'), self.to_ports,
                              'cannot be combined with %s' % self.label('masquerade_cidrs'))
        self._check_required()
        return self

    def _check_required(self):
        """Guard rail: every CIDR in requiredCIDRs must keep its source address (not be masqueraded)."""
        for cidr in self.required_cidrs:
            net = addr.parse_cidr(cidr, self.label('required_cidrs'))
            if net.family not in self.families:
                continue
            leak = addr.set_cidrs(self.masqueraded_set(net.family) & addr.ip_set([net]))
            if leak:
                raise ConfigError(self.label('required_cidrs'), cidr,
                                  'required non-masquerade CIDR %s is not covered: traffic to %s would be masqueraded; '
                                  'add it to %s' % (show(cidr), ', '.join(leak[:5]) + (' ...' if len(leak) > 5 else ''),
                                                    self.label('non_masquerade_cidrs')))

    # --- the ways out: the config file's mapping, the program's arguments ------------------------------------------
    def file_mapping(self):
        """The file knobs that were given, under upstream's keys, in table order (what the config file holds)."""
        return dict((f.key, getattr(self, f.name)) for f in FILE_FIELDS if f.name in self.given)

    def argv(self):
        """The runtime knobs that differ from their defaults, as host-program arguments."""
        out = []
        for f in RUNTIME_FIELDS:
            value = getattr(self, f.name)
            if value == f.default:
                continue
            if f.kind == 'bool':
                out.append(f.flag if value else '--no-' + f.flag[2:])
            else:
                out.append('%s=%s' % (f.flag, format(value, 'g') if f.kind == 'seconds' else value))
        return out


def closest_key(key):
    import difflib  # only for an unknown key
    match = difflib.get_close_matches(key.lower(), list(BY_LOWER_KEY), n=1, cutoff=0.5)
    return BY_LOWER_KEY[match[0]].key if match else None


MAX_WARNINGS = 20


def apply_mapping(settings, data, strict=False, overrides=None):
    """Set the file knobs from a parsed config mapping (upstream's keys), as upstream's decoder reads it.

    Keys match case-insensitively, as with Go's encoding/json. Two keys for one knob (``nonMasqueradeCIDRs`` and
    ``NonMasqueradeCIDRs``) are an error naming both: upstream silently takes the last, and a network config that drops
    one of two CIDR lists causes outages. ``null`` keeps the default (the CIDR lists read it as empty); unknown keys are
    warnings naming the closest key, errors with ``strict``. ``overrides``: {field name: (value, label)} that replace
    the mapping's keys (module options given beside a config).

    ``cidrLimit`` is applied first, so an over-long list is refused before any of its items is parsed.
    """
    overrides = overrides or {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError('config', data, 'expected a mapping of keys (%s) at the top level, got %s %s'
                          % (', '.join(BY_KEY), _kind_name(data), show(data)))
    seen = {}
    unknown = 0
    for raw in data:
        if not isinstance(raw, str):
            raise ConfigError(show(raw), raw, 'config keys must be strings, got %s %s' % (_kind_name(raw), show(raw)))
        field = BY_KEY.get(raw) or BY_LOWER_KEY.get(raw.lower())
        if field is None:
            unknown += 1
            if strict or unknown <= MAX_WARNINGS:
                hint = closest_key(raw)
                msg = 'unknown key %s%s' % (show(raw), '; did you mean %s?' % show(hint) if hint else
                                            '; known keys: %s' % ', '.join(BY_KEY))
                name = raw if len(raw) <= 80 else raw[:77] + '...'
                if strict:
                    raise ConfigError(name, data[raw], msg)
                settings.warnings.append('%s: %s (ignored)' % (name, msg))
            continue
        if field.name in seen:
            raise ConfigError(raw, data[raw], 'the keys %s and %s both set %s; keep one'
                              % (show(seen[field.name]), show(raw), field.key))
        seen[field.name] = raw
    if unknown > MAX_WARNINGS:
        settings.warnings.append('%d more unknown keys (ignored)' % (unknown - MAX_WARNINGS))
    values = dict((name, (data[raw], raw)) for name, raw in seen.items())
    values.update(overrides)
    for name in sorted(values, key=lambda n: n != 'cidr_limit'):
        value, label = values[name]
        if value is not None or BY_NAME[name].kind == 'cidrs':
            settings.set(name, value, label)
    return settings
