# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ip-masq-agent configuration model: parsing, defaults and validation.

Pure Python, no Ansible: shared by the modules and the host program ``bin/ip-masq-agent``.
Behaviour follows upstream kubernetes-sigs/ip-masq-agent v2.12 (``MasqConfig``), and is stricter where upstream is
silent (unknown keys, zero or negative intervals, leading zeros); every rejection names the key and the value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import json
import re

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError as _e:  # pragma: no cover - exercised by ansible-test's import sanity test
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = _e

try:
    import netaddr

    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError as _e:  # pragma: no cover
    netaddr = None
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = _e


DEFAULT_CONFIG_PATH = '/etc/config/ip-masq-agent'
DEFAULT_CHAIN = 'IP-MASQ-AGENT'
DEFAULT_CIDR_LIMIT = 64
DEFAULT_RESYNC_INTERVAL = '60s'
LINK_LOCAL_CIDR = '169.254.0.0/16'
LINK_LOCAL_CIDR_IPV6 = 'fe80::/10'
RFC1918_CIDRS = ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16')
# Added by --nomasq-all-reserved-ranges, in upstream's order.
RESERVED_CIDRS = ('100.64.0.0/10', '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '198.18.0.0/15',
                  '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4')
# Refuse config files larger than this before parsing them (a config of 10,000 CIDRs is about 200 KiB).
MAX_CONFIG_BYTES = 16 * 1024 * 1024

# Upstream's JSON field names. Keys in a file match these case-insensitively (Go's encoding/json does).
KEY_CIDRS = 'nonMasqueradeCIDRs'
KEY_CIDR_LIMIT = 'cidrLimit'
KEY_LINK_LOCAL = 'masqLinkLocal'
KEY_LINK_LOCAL_V6 = 'masqLinkLocalIPv6'
KEY_RESYNC = 'resyncInterval'
UPSTREAM_KEYS = (KEY_CIDRS, KEY_CIDR_LIMIT, KEY_LINK_LOCAL, KEY_LINK_LOCAL_V6, KEY_RESYNC)
# Extensions of ipmasq.agent. Upstream's agent ignores unknown keys, so a file with these still loads there (with
# upstream's behaviour); they are written to a file only when set.
KEY_MASQ_CIDRS = 'masqueradeCIDRs'
KEY_SNAT = 'snatToSource'
KEY_SNAT_V6 = 'snatToSourceIPv6'
KEY_AGGREGATE = 'aggregate'
KEY_REQUIRED = 'requiredCIDRs'
KEY_JUMP_POSITION = 'jumpPosition'
EXTENSION_KEYS = (KEY_MASQ_CIDRS, KEY_SNAT, KEY_SNAT_V6, KEY_AGGREGATE, KEY_REQUIRED, KEY_JUMP_POSITION)
KNOWN_KEYS = UPSTREAM_KEYS + EXTENSION_KEYS
JUMP_POSITIONS = ('append', 'first')
BACKENDS = ('iptables', 'nftables', 'auto')

_CHAIN_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.+:-]{0,27}$')
_BUILTIN_TARGETS = frozenset(('ACCEPT', 'DROP', 'RETURN', 'QUEUE', 'REJECT', 'MASQUERADE', 'SNAT', 'DNAT', 'LOG',
                              'PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING', 'FORWARD'))
_IPV4_RE = re.compile(r'^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$')
_PREFIX_RE = re.compile(r'^(0|[1-9][0-9]{0,2})$')


class ConfigError(ValueError):
    """A rejected configuration value. ``key`` and ``value`` name what to fix."""

    def __init__(self, key, value, reason):
        self.key = key
        self.value = value
        self.reason = reason
        super(ConfigError, self).__init__('%s: %s' % (key, reason) if key else reason)


def _show(value, limit=80):
    text = repr(value)
    if len(text) > limit:
        text = text[:limit - 3] + '...'
    return text


# --- Go durations ------------------------------------------------------------------------------------------------

_UNITS_NS = {
    'ns': 1,
    'us': 1000,
    u'\u00b5s': 1000,  # micro sign
    u'\u03bcs': 1000,  # Greek mu
    'ms': 1000 * 1000,
    's': 1000 * 1000 * 1000,
    'm': 60 * 1000 * 1000 * 1000,
    'h': 3600 * 1000 * 1000 * 1000,
}
_MAX_DURATION_NS = (1 << 63) - 1


def parse_go_duration(text):
    """Parse Go's ``time.ParseDuration`` syntax (``1h2m3.5s``, ``500ms``, ``-1s``, ``0``) into integer nanoseconds.

    Raises ``ValueError`` with Go's wording on bad input.
    """
    if not isinstance(text, str):
        raise ValueError('time: invalid duration %s' % _show(text))
    s = text
    neg = False
    if s and s[0] in '+-':
        neg = s[0] == '-'
        s = s[1:]
    if s == '0':
        return 0
    if s == '':
        raise ValueError('time: invalid duration %s' % _show(text))
    total = 0
    while s:
        m = re.match(r'([0-9]*)(?:\.([0-9]*))?', s)
        whole, frac = m.group(1), m.group(2)
        if whole == '' and not frac:
            raise ValueError('time: invalid duration %s' % _show(text))
        s = s[m.end():]
        u = re.match(r'[^0-9.]*', s)
        unit = u.group(0)
        if not unit:
            raise ValueError('time: missing unit in duration %s' % _show(text))
        if unit not in _UNITS_NS:
            raise ValueError('time: unknown unit %s in duration %s' % (_show(unit), _show(text)))
        s = s[u.end():]
        scale = _UNITS_NS[unit]
        value = int(whole or '0') * scale
        if frac:
            # Go truncates the fractional part towards zero, in nanoseconds.
            value += (int(frac) * scale) // (10 ** len(frac))
        total += value
        if total > _MAX_DURATION_NS:
            raise ValueError('time: invalid duration %s' % _show(text))
    return -total if neg else total


def format_go_duration(ns):
    """Go's ``Duration.String()`` for whole-nanosecond values (``90s`` -> ``1m30s``)."""
    if ns == 0:
        return '0s'
    sign = '-' if ns < 0 else ''
    ns = abs(ns)
    if ns < 1000:
        return '%s%dns' % (sign, ns)
    if ns < 1000 * 1000:
        return sign + _trim('%d.%03d' % divmod(ns, 1000)) + u'\u00b5s'
    if ns < 1000 * 1000 * 1000:
        return sign + _trim('%d.%06d' % divmod(ns, 1000 * 1000)) + 'ms'
    h, rem = divmod(ns, 3600 * 10 ** 9)
    m, rem = divmod(rem, 60 * 10 ** 9)
    sec = _trim('%d.%09d' % divmod(rem, 10 ** 9)) + 's'
    if h:
        return '%s%dh%dm%s' % (sign, h, m, sec)
    if m:
        return '%s%dm%s' % (sign, m, sec)
    return sign + sec


def _trim(number):
    if '.' in number:
        number = number.rstrip('0').rstrip('.')
    return number


# --- CIDRs -------------------------------------------------------------------------------------------------------

def parse_cidr(cidr, key=KEY_CIDRS):
    """Validate one CIDR as upstream does (Go ``net.ParseCIDR`` + alignment) and return ``netaddr.IPNetwork``.

    Stricter than Go where Go is lax: no IPv4-mapped IPv6 forms, no leading zeros.
    """
    if not isinstance(cidr, str):
        raise ConfigError(key, cidr, 'expected a CIDR string such as "10.0.0.0/8", got %s %s'
                          % (type(cidr).__name__, _show(cidr)))
    if '/' not in cidr:
        raise ConfigError(key, cidr, 'invalid CIDR %s: a prefix length is required (e.g. "%s/32")'
                          % (_show(cidr), cidr))
    addr, _sep, prefix = cidr.partition('/')
    if not _PREFIX_RE.match(prefix):
        raise ConfigError(key, cidr, 'invalid CIDR %s: bad prefix length %s' % (_show(cidr), _show(prefix)))
    if ':' in addr:
        version, max_len = 6, 128
        if '.' in addr:
            raise ConfigError(key, cidr, 'invalid CIDR %s: IPv4-mapped/embedded IPv6 forms are ambiguous; '
                                         'write the IPv4 CIDR instead' % _show(cidr))
        try:
            ip = netaddr.IPAddress(addr, 6, flags=netaddr.INET_PTON)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            raise ConfigError(key, cidr, 'invalid CIDR %s: %s is not an IPv6 address' % (_show(cidr), _show(addr)))
    else:
        version, max_len = 4, 32
        if not _IPV4_RE.match(addr):
            raise ConfigError(key, cidr, 'invalid CIDR %s: %s is not a dotted-quad IPv4 address'
                                         % (_show(cidr), _show(addr)))
        ip = netaddr.IPAddress(addr, 4)
    bits = int(prefix)
    if bits > max_len:
        raise ConfigError(key, cidr, 'invalid CIDR %s: prefix length %d is longer than %d for IPv%d'
                          % (_show(cidr), bits, max_len, version))
    net = netaddr.IPNetwork('%s/%d' % (ip, bits))
    if net.network != ip:
        raise ConfigError(key, cidr, 'CIDR %s has host bits set; did you mean "%s"?' % (_show(cidr), net.cidr))
    return net


def check_cidr(cidr, key=KEY_CIDRS):
    """Validate one CIDR (as ``parse_cidr``) and return ``(version, value as int, prefix)``; IPv4 without netaddr."""
    if isinstance(cidr, str) and '/' in cidr and ':' not in cidr:
        addr, _sep, prefix = cidr.partition('/')
        if _IPV4_RE.match(addr) and _PREFIX_RE.match(prefix) and int(prefix) <= 32:
            n = 0
            for part in addr.split('.'):
                n = (n << 8) | int(part)
            if n & ((1 << (32 - int(prefix))) - 1) == 0:
                return 4, n, int(prefix)
    net = parse_cidr(cidr, key)  # the slow path raises the precise error, or handles IPv6
    return net.version, int(net.network), net.prefixlen


def is_ipv6_cidr(cidr):
    return ':' in cidr


# --- Options (upstream's command-line flags) ------------------------------------------------------------------

class Options(object):
    """Upstream's flags: --masq-chain, --nomasq-all-reserved-ranges, --enable-ipv6, --random-fully, --to-ports."""

    def __init__(self, masq_chain=DEFAULT_CHAIN, nomasq_all_reserved_ranges=False, enable_ipv6=False,
                 random_fully=True, to_ports='', strict=False, backend='iptables'):
        if backend not in BACKENDS:
            raise ConfigError('backend', backend, 'expected one of %s, got %s' % (', '.join(BACKENDS), _show(backend)))
        self.backend = backend
        self.masq_chain = masq_chain
        self.nomasq_all_reserved_ranges = bool(nomasq_all_reserved_ranges)
        self.enable_ipv6 = bool(enable_ipv6)
        self.random_fully = bool(random_fully)
        self.to_ports = to_ports or ''
        self.strict = bool(strict)
        validate_chain_name(self.masq_chain)
        self.port_ranges = parse_to_ports(self.to_ports)


def validate_chain_name(name, key='masq-chain'):
    if not isinstance(name, str) or not _CHAIN_RE.match(name):
        raise ConfigError(key, name, 'invalid chain name %s: use 1 to 28 letters, digits, "_", "-", ".", ":" or "+", '
                                     'not starting with a punctuation mark' % _show(name))
    if name.upper() in _BUILTIN_TARGETS:
        raise ConfigError(key, name, 'invalid chain name %s: it is a built-in chain or target' % _show(name))
    return name


def parse_to_ports(text, key='to-ports'):
    """``"32768-65535,1024"`` -> ``[(32768, 65535), (1024, 1024)]``. Empty -> ``[]``."""
    if text is None or text == '':
        return []
    if not isinstance(text, str):
        raise ConfigError(key, text, 'expected a string such as "32768-65535,1024-2047"')
    ranges = []
    for part in text.split(','):
        m = re.match(r'^([0-9]{1,5})(?:-([0-9]{1,5}))?$', part)
        if not m:
            raise ConfigError(key, text, 'invalid port range %s: use PORT or FIRST-LAST, comma-separated' % _show(part))
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if not 1 <= lo <= hi <= 65535:
            raise ConfigError(key, text, 'invalid port range %s: ports run from 1 to 65535, first <= last'
                              % _show(part))
        ranges.append((lo, hi))
    return ranges


# --- The config ------------------------------------------------------------------------------------------------

class MasqConfig(object):
    """Upstream's ``MasqConfig`` with its defaults (``NewMasqConfig``)."""

    def __init__(self, nomasq_all_reserved_ranges=False):
        cidrs = list(RFC1918_CIDRS)
        if nomasq_all_reserved_ranges:
            cidrs.extend(RESERVED_CIDRS)
        self.non_masquerade_cidrs = cidrs
        self.cidr_limit = DEFAULT_CIDR_LIMIT
        self.masq_link_local = False
        self.masq_link_local_ipv6 = False
        self.resync_interval = DEFAULT_RESYNC_INTERVAL
        # ipmasq.agent extensions (None / defaults = upstream behaviour)
        self.masquerade_cidrs = None
        self.snat_to_source = None
        self.snat_to_source_ipv6 = None
        self.aggregate = False
        self.required_cidrs = []
        self.jump_position = 'append'
        self.warnings = []

    @property
    def resync_seconds(self):
        return parse_go_duration(self.resync_interval) / 1e9

    def cidrs(self, family):
        """The non-masquerade CIDRs of one family ('ipv4' or 'ipv6'), in file order."""
        want6 = family == 'ipv6'
        return [c for c in self.non_masquerade_cidrs if is_ipv6_cidr(c) == want6]

    def effective_cidrs(self, family):
        """The CIDRs rendered for a family: file order, or merged (netaddr.cidr_merge) with ``aggregate``."""
        cidrs = self.cidrs(family)
        if self.aggregate and cidrs:
            return [str(n) for n in netaddr.cidr_merge([parse_cidr(c) for c in cidrs])]
        return cidrs

    def aggregation_saved(self):
        """How many rules ``aggregate`` saves, over both families."""
        return sum(len(self.cidrs(f)) - len(self.effective_cidrs(f)) for f in ('ipv4', 'ipv6'))

    def masquerade_cidrs_of(self, family):
        if self.masquerade_cidrs is None:
            return None
        want6 = family == 'ipv6'
        return [c for c in self.masquerade_cidrs if is_ipv6_cidr(c) == want6]

    def snat_address(self, family):
        return self.snat_to_source_ipv6 if family == 'ipv6' else self.snat_to_source

    def masqueraded_set(self, family):
        """The destinations whose traffic leaves with the node's address (a netaddr.IPSet)."""
        everything = netaddr.IPSet(['::/0'] if family == 'ipv6' else ['0.0.0.0/0'])
        keep = netaddr.IPSet(self.cidrs(family))
        if family == 'ipv4' and not self.masq_link_local:
            keep.add(LINK_LOCAL_CIDR)
        if family == 'ipv6' and not self.masq_link_local_ipv6:
            keep.add(LINK_LOCAL_CIDR_IPV6)
        listed = self.masquerade_cidrs_of(family)
        masq = everything if listed is None else netaddr.IPSet(listed)
        return masq - keep

    def to_dict(self):
        """The config with upstream's key names, as written to the agent's config file (extensions when set)."""
        data = {
            KEY_CIDRS: list(self.non_masquerade_cidrs),
            KEY_CIDR_LIMIT: self.cidr_limit,
            KEY_LINK_LOCAL: self.masq_link_local,
            KEY_LINK_LOCAL_V6: self.masq_link_local_ipv6,
            KEY_RESYNC: self.resync_interval,
        }
        if self.masquerade_cidrs is not None:
            data[KEY_MASQ_CIDRS] = list(self.masquerade_cidrs)
        if self.snat_to_source:
            data[KEY_SNAT] = self.snat_to_source
        if self.snat_to_source_ipv6:
            data[KEY_SNAT_V6] = self.snat_to_source_ipv6
        if self.aggregate:
            data[KEY_AGGREGATE] = True
        if self.required_cidrs:
            data[KEY_REQUIRED] = list(self.required_cidrs)
        if self.jump_position != 'append':
            data[KEY_JUMP_POSITION] = self.jump_position
        return data

    def __eq__(self, other):
        return isinstance(other, MasqConfig) and self.to_dict() == other.to_dict()

    def __ne__(self, other):
        return not self == other

    __hash__ = None


def require_libs():
    """Raise ImportError naming the missing Python library (PyYAML, netaddr)."""
    if not HAS_NETADDR:
        raise ImportError('the Python library netaddr is required (Debian: python3-netaddr): %s'
                          % NETADDR_IMPORT_ERROR)
    if not HAS_YAML:
        raise ImportError('the Python library PyYAML is required (Debian: python3-yaml): %s' % YAML_IMPORT_ERROR)


def _closest_key(key):
    lowered = dict((k.lower(), k) for k in KNOWN_KEYS)
    match = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None


def config_from_mapping(data, options=None):
    """Build and validate a ``MasqConfig`` from a parsed mapping with upstream's keys.

    Keys match case-insensitively (an exact match wins, as with Go's encoding/json). ``null`` for the CIDR list
    means an empty list, ``null`` elsewhere keeps the default, as Go does. Unknown keys are warnings that name the
    closest known key, or errors with ``options.strict``.
    """
    options = options or Options()
    require_libs()
    cfg = MasqConfig(options.nomasq_all_reserved_ranges)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError('', data, 'config: expected a mapping of keys (%s) at the top level, got %s %s'
                          % (', '.join(KNOWN_KEYS), type(data).__name__, _show(data)))
    by_lower = dict((k.lower(), k) for k in KNOWN_KEYS)
    seen = {}
    for raw_key in data:
        if not isinstance(raw_key, str):
            raise ConfigError(str(raw_key), raw_key, 'config keys must be strings, got %s %s'
                              % (type(raw_key).__name__, _show(raw_key)))
        key = raw_key if raw_key in KNOWN_KEYS else by_lower.get(raw_key.lower())
        if key is None:
            hint = _closest_key(raw_key)
            msg = 'unknown key %s%s' % (_show(raw_key), '; did you mean %s?' % _show(hint) if hint else
                                        '; known keys: %s' % ', '.join(KNOWN_KEYS))
            if options.strict:
                raise ConfigError(raw_key, data[raw_key], msg)
            cfg.warnings.append('%s: %s (ignored)' % (raw_key, msg))
            continue
        # An exact-case key wins over a case-insensitive one.
        if key in seen and seen[key] == key and raw_key != key:
            continue
        seen[key] = raw_key
        _set_key(cfg, key, raw_key, data[raw_key])
    validate(cfg, options)
    return cfg


def _set_key(cfg, key, raw_key, value):
    if key in (KEY_CIDRS, KEY_MASQ_CIDRS, KEY_REQUIRED):
        if value is None:
            value = []
        if not isinstance(value, list):
            raise ConfigError(raw_key, value, 'expected a list of CIDR strings, got %s %s'
                              % (type(value).__name__, _show(value)))
        for item in value:
            if not isinstance(item, str):
                raise ConfigError(raw_key, item, 'expected a CIDR string such as "10.0.0.0/8", got %s %s'
                                  % (type(item).__name__, _show(item)))
        if key == KEY_CIDRS:
            cfg.non_masquerade_cidrs = list(value)
        elif key == KEY_MASQ_CIDRS:
            cfg.masquerade_cidrs = list(value)
        else:
            cfg.required_cidrs = list(value)
    elif value is None:
        return
    elif key == KEY_CIDR_LIMIT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(raw_key, value, 'expected a whole number, got %s %s' % (type(value).__name__, _show(value)))
        if value < 0:
            raise ConfigError(raw_key, value, 'must not be negative, got %d' % value)
        cfg.cidr_limit = value
    elif key in (KEY_LINK_LOCAL, KEY_LINK_LOCAL_V6, KEY_AGGREGATE):
        if not isinstance(value, bool):
            raise ConfigError(raw_key, value, 'expected true or false, got %s %s' % (type(value).__name__, _show(value)))
        if key == KEY_LINK_LOCAL:
            cfg.masq_link_local = value
        elif key == KEY_LINK_LOCAL_V6:
            cfg.masq_link_local_ipv6 = value
        else:
            cfg.aggregate = value
    elif key in (KEY_SNAT, KEY_SNAT_V6):
        if not isinstance(value, str):
            raise ConfigError(raw_key, value, 'expected an IP address string, got %s %s'
                              % (type(value).__name__, _show(value)))
        if key == KEY_SNAT:
            cfg.snat_to_source = value
        else:
            cfg.snat_to_source_ipv6 = value
    elif key == KEY_JUMP_POSITION:
        if value not in JUMP_POSITIONS:
            raise ConfigError(raw_key, value, 'expected one of %s, got %s' % (', '.join(JUMP_POSITIONS), _show(value)))
        cfg.jump_position = value
    elif key == KEY_RESYNC:
        if not isinstance(value, str):
            raise ConfigError(raw_key, value, 'expected a Go duration string such as "60s" or "1m30s", got %s %s'
                              % (type(value).__name__, _show(value)))
        try:
            ns = parse_go_duration(value)
        except ValueError as e:
            raise ConfigError(raw_key, value, '%s (use Go syntax such as "60s", "1m30s", "500ms")' % e)
        if ns <= 0:
            raise ConfigError(raw_key, value, 'must be greater than zero, got %s' % _show(value))
        cfg.resync_interval = value


def validate(cfg, options=None):
    """Upstream's ``MasqConfig.validate`` plus our stricter checks. Raises ``ConfigError``."""
    options = options or Options()
    n = len(cfg.non_masquerade_cidrs)
    if n > cfg.cidr_limit:
        raise ConfigError(KEY_CIDRS, '%d CIDRs' % n,
                          'the agent accepts up to %d CIDRs (excluding link-local), but got %d; raise %s if this is '
                          'intended' % (cfg.cidr_limit, n, KEY_CIDR_LIMIT))
    seen = set()
    for cidr in cfg.non_masquerade_cidrs:
        net = check_cidr(cidr)
        if net[0] == 6 and not options.enable_ipv6:
            raise ConfigError(KEY_CIDRS, cidr, 'IPv6 CIDR %s given but IPv6 is not enabled; enable it with '
                                               '--enable-ipv6 (ip_version: ipv6 or both in the modules)' % _show(cidr))
        if net in seen:
            cfg.warnings.append('%s: %s is listed more than once' % (KEY_CIDRS, _show(cidr)))
        seen.add(net)
    if parse_go_duration(cfg.resync_interval) <= 0:
        raise ConfigError(KEY_RESYNC, cfg.resync_interval, 'must be greater than zero')
    for key, cidrs in ((KEY_MASQ_CIDRS, cfg.masquerade_cidrs or []), (KEY_REQUIRED, cfg.required_cidrs)):
        for cidr in cidrs:
            net = parse_cidr(cidr, key)
            if net.version == 6 and not options.enable_ipv6 and key == KEY_MASQ_CIDRS:
                raise ConfigError(key, cidr, 'IPv6 CIDR %s given but IPv6 is not enabled' % _show(cidr))
    for key, version in ((KEY_SNAT, 4), (KEY_SNAT_V6, 6)):
        addr = getattr(cfg, 'snat_to_source' if version == 4 else 'snat_to_source_ipv6')
        if addr is not None:
            _parse_address(addr, version, key)
    if cfg.snat_to_source_ipv6 and not options.enable_ipv6:
        raise ConfigError(KEY_SNAT_V6, cfg.snat_to_source_ipv6, 'IPv6 is not enabled')
    if options.port_ranges and (cfg.snat_to_source or cfg.snat_to_source_ipv6):
        raise ConfigError('to-ports', options.to_ports, 'cannot be combined with %s (SNAT takes no port list here)'
                          % KEY_SNAT)
    if options.port_ranges and cfg.masquerade_cidrs is not None:
        raise ConfigError('to-ports', options.to_ports, 'cannot be combined with %s' % KEY_MASQ_CIDRS)
    check_required(cfg, options)
    return cfg


def _parse_address(addr, version, key):
    """One IP address of the given version (for SNAT), validated like the CIDRs."""
    net = parse_cidr('%s/%d' % (addr, 32 if version == 4 else 128) if isinstance(addr, str) else addr, key)
    if net.version != version:
        raise ConfigError(key, addr, 'expected an IPv%d address, got %s' % (version, _show(addr)))
    return net.ip


def check_required(cfg, options=None):
    """Guard rail: every CIDR in requiredCIDRs must keep its source address (not be masqueraded)."""
    for cidr in cfg.required_cidrs:
        net = parse_cidr(cidr, KEY_REQUIRED)
        family = 'ipv6' if net.version == 6 else 'ipv4'
        if family == 'ipv6' and not (options and options.enable_ipv6):
            continue
        leak = cfg.masqueraded_set(family) & netaddr.IPSet([net])
        if leak:
            parts = [str(c) for c in leak.iter_cidrs()]
            raise ConfigError(KEY_REQUIRED, cidr, 'required non-masquerade CIDR %s is not covered: traffic to %s '
                                                  'would be masqueraded; add it to %s'
                              % (_show(cidr), ', '.join(parts[:5]) + (' ...' if len(parts) > 5 else ''), KEY_CIDRS))


def text_to_mapping(text):
    """The config file's content (str or bytes; YAML or JSON) as a mapping, not yet validated. Empty -> ``{}``."""
    require_libs()
    if isinstance(text, bytes):
        if len(text) > MAX_CONFIG_BYTES:
            raise ConfigError('config', '%d bytes' % len(text), 'file is larger than %d bytes' % MAX_CONFIG_BYTES)
        if b'\x00' in text:
            raise ConfigError('config', text[:40], 'file contains NUL bytes; it is not a YAML or JSON text')
        try:
            text = text.decode('utf-8')
        except UnicodeDecodeError as e:
            raise ConfigError('config', text[max(0, e.start - 10):e.start + 10], 'file is not UTF-8 text (%s)' % e)
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError('config', '%d characters' % len(text), 'file is larger than %d bytes' % MAX_CONFIG_BYTES)
    if text.strip() == '':
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        try:
            # libyaml's loader when PyYAML has it (same YAML 1.1 rules, ~10x faster on large lists)
            data = yaml.load(text, Loader=getattr(yaml, 'CSafeLoader', yaml.SafeLoader))
        except yaml.YAMLError as e:
            raise ConfigError('config', text[:40], 'not valid YAML or JSON: %s' % str(e).replace('\n', ' '))
    return {} if data is None else data


def parse_config_text(text, options=None):
    """Parse and validate the agent config file's content (str or bytes; YAML or JSON). Empty means defaults."""
    return config_from_mapping(text_to_mapping(text), options)


def load_config_file(path, options=None, overrides=None):
    """Read, parse and validate the agent config file. A missing file means defaults (as upstream).

    ``overrides`` (upstream key names) replace the file's values before validation, e.g. a larger ``cidrLimit``.
    """
    import errno
    import os
    try:
        if os.path.isdir(path):
            raise ConfigError('config', path, 'path %s is a directory, not a config file' % _show(path))
        with open(path, 'rb') as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except (IOError, OSError) as e:
        if e.errno != errno.ENOENT:
            raise ConfigError('config', path, 'cannot read %s: %s' % (_show(path), e.strerror or e))
        raw = b''
    data = text_to_mapping(raw)
    if overrides:
        if not isinstance(data, dict):
            return config_from_mapping(data, options)  # reports the shape error
        data = dict(data)
        for key, value in overrides.items():
            for k in [k for k in data if isinstance(k, str) and k.lower() == key.lower()]:
                del data[k]
            data[key] = value
    return config_from_mapping(data, options)


def dump_config(cfg, fmt='yaml'):
    """Serialise a config the way the module writes it: upstream keys in a stable order."""
    data = cfg.to_dict()
    if fmt == 'json':
        return json.dumps(data, indent=2) + '\n'
    require_libs()
    lines = ['%s:' % KEY_CIDRS] if data[KEY_CIDRS] else ['%s: []' % KEY_CIDRS]
    for c in data[KEY_CIDRS]:
        lines.append('  - %s' % c)
    lines.append('%s: %d' % (KEY_CIDR_LIMIT, data[KEY_CIDR_LIMIT]))
    lines.append('%s: %s' % (KEY_LINK_LOCAL, 'true' if data[KEY_LINK_LOCAL] else 'false'))
    lines.append('%s: %s' % (KEY_LINK_LOCAL_V6, 'true' if data[KEY_LINK_LOCAL_V6] else 'false'))
    lines.append('%s: %s' % (KEY_RESYNC, json.dumps(data[KEY_RESYNC])))
    for key in EXTENSION_KEYS:
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, list):
            lines.append('%s:' % key if value else '%s: []' % key)
            lines.extend('  - %s' % c for c in value)
        elif isinstance(value, bool):
            lines.append('%s: %s' % (key, 'true' if value else 'false'))
        else:
            lines.append('%s: %s' % (key, json.dumps(value)))
    return '\n'.join(lines) + '\n'
