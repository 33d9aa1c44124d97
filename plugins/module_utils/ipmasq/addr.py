# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses and CIDRs: one parser for both families, integer intervals for the questions the common path asks (is
this subnet masqueraded?), all stdlib; and the set arithmetic of aggregation and the guard rails (netaddr, imported
when first needed: a sync that neither aggregates nor checks requiredCIDRs never loads it).

Parsing follows Go's ``net.ParseCIDR`` plus upstream's alignment check, stricter where Go is lax: no leading zeros in
an address or a prefix, no IPv4-mapped or embedded IPv6 forms, nothing before or after the text (a trailing newline
is refused). Each run parses every CIDR, so it costs no import and no regular expression: IPv4 is read with string
methods, IPv6 with ``socket.inet_pton`` (socket imported for the first IPv6 value only).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .errors import ConfigError, show

_DIGITS = frozenset('0123456789')
_V4_CHARS = frozenset('0123456789.')
_V6_CHARS = frozenset('0123456789abcdefABCDEF:')
WIDTH = {4: 32, 6: 128}


def _number(text, digits):
    """The value of 1 to ``digits`` ASCII digits without a leading zero (``0`` itself allowed), else None."""
    if not 0 < len(text) <= digits or not _DIGITS.issuperset(text) or (text[0] == '0' and len(text) > 1):
        return None
    return int(text)


def _v4_value(text):
    """The value of a dotted quad (four numbers 0-255, no leading zeros, nothing else), else None."""
    parts = text.split('.')
    if len(parts) != 4 or not _V4_CHARS.issuperset(text):
        return None
    for part in parts:
        if not part or len(part) > 3 or (part[0] == '0' and len(part) > 1):
            return None
    a, b, c, d = map(int, parts)
    if (a | b | c | d) > 255:
        return None
    return a << 24 | b << 16 | c << 8 | d


class Net(tuple):
    """A validated CIDR: (version, network as int, prefix length); str() is the canonical text."""

    __slots__ = ()

    def __new__(cls, version, value, prefix):
        return tuple.__new__(cls, (version, value, prefix))

    version = property(lambda self: self[0])
    value = property(lambda self: self[1])
    prefix = property(lambda self: self[2])

    @property
    def family(self):
        return 'ipv6' if self[0] == 6 else 'ipv4'

    def __str__(self):
        return '%s/%d' % (format_address(self[0], self[1]), self[2])


def format_address(version, value):
    if version == 4:
        return '%d.%d.%d.%d' % (value >> 24, (value >> 16) & 255, (value >> 8) & 255, value & 255)
    import socket  # inet_ntop: the libc's canonical IPv6 text (RFC 5952), as iptables-save prints it
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, 'big'))


def _address(text, key, whole):
    """(version, value) of one address; ConfigError naming the key and the whole value otherwise."""
    if ':' in text:
        if '.' in text:
            raise ConfigError(key, whole, '%s: IPv4-mapped or embedded IPv6 forms are ambiguous; write the IPv4 '
                                          'CIDR instead' % show(whole))
        if not _V6_CHARS.issuperset(text):
            raise ConfigError(key, whole, '%s: %s is not an IPv6 address' % (show(whole), show(text)))
        import socket
        try:
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), 'big')
        except (OSError, ValueError):
            raise ConfigError(key, whole, '%s: %s is not an IPv6 address' % (show(whole), show(text)))
    value = _v4_value(text)
    if value is None:
        raise ConfigError(key, whole, '%s: %s is not a dotted-quad IPv4 address (no leading zeros)'
                          % (show(whole), show(text)))
    return 4, value


# Texts parse_cidr accepted (a sync parses each CIDR of the config more than once: reading, validating, checking the
# node's subnets); emptied when full.
_PARSED = {}
_PARSED_MAX = 1 << 16


def parse_cidr(text, key='nonMasqueradeCIDRs'):
    """Validate one CIDR and return a ``Net``; ConfigError naming the key and the value otherwise."""
    if not isinstance(text, str):
        raise ConfigError(key, text, 'expected a CIDR string such as "10.0.0.0/8", got %s %s'
                          % (type(text).__name__, show(text)))
    net = _PARSED.get(text)
    if net is None:
        net = _parse_cidr(text, key)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[text] = net
    return net


def _parse_cidr(text, key):
    addr, sep, prefix = text.partition('/')
    if not sep:
        raise ConfigError(key, text, 'invalid CIDR %s: a prefix length is required (e.g. "%s/32")'
                          % (show(text), text.strip()))
    if _number(prefix, 3) is None:
        raise ConfigError(key, text, 'invalid CIDR %s: bad prefix length %s (digits, no leading zeros)'
                          % (show(text), show(prefix)))
    version, value = _address(addr, key, text)
    bits, width = int(prefix), WIDTH[version]
    if bits > width:
        raise ConfigError(key, text, 'invalid CIDR %s: prefix length %d is longer than %d for IPv%d'
                          % (show(text), bits, width, version))
    host = value & ((1 << (width - bits)) - 1)
    if host:
        raise ConfigError(key, text, 'CIDR %s has host bits set; did you mean "%s"?'
                          % (show(text), Net(version, value - host, bits)))
    return Net(version, value, bits)


def parse_address(text, version, key):
    """One address of the given version (SNAT targets); returns its canonical text."""
    if not isinstance(text, str):
        raise ConfigError(key, text, 'expected an IP address string, got %s %s' % (type(text).__name__, show(text)))
    got, value = _address(text, key, text)
    if got != version:
        raise ConfigError(key, text, 'expected an IPv%d address, got %s' % (version, show(text)))
    return format_address(version, value)


def network_of(text):
    """The network of an interface address with its prefix (``192.0.2.10/24`` -> 192.0.2.0/24); None if not one."""
    try:
        return parse_cidr(canonical(text), '')
    except ConfigError:
        return None


def canonical(text):
    """A CIDR or address as iptables-save prints it (network address, /32 or /128 added); the text if not one."""
    net = _PARSED.get(text)
    if net is not None:  # an IPv4 CIDR parse_cidr accepted is written as iptables-save prints it
        return text if net[0] == 4 else str(net)
    addr, sep, prefix = text.partition('/')
    try:
        version, value = _address(addr, '', text)
    except ConfigError:
        return text
    if sep and not (prefix and _DIGITS.issuperset(prefix)):
        return text
    width = WIDTH[version]
    bits = int(prefix) if sep and int(prefix) <= width else width
    return str(Net(version, value & ~((1 << (width - bits)) - 1), bits))


# --- integer intervals (stdlib) -----------------------------------------------------------------------------------
# A set of addresses of one family as a sorted list of inclusive (first, last) pairs, disjoint and not adjacent (so a
# range of addresses is in the set exactly when one pair holds it). Enough for the questions each sync asks.

def span(net):
    """The first and the last address of a Net, as integers."""
    return net[1], net[1] | ((1 << (WIDTH[net[0]] - net[2])) - 1)


def all_addresses(version):
    return [(0, (1 << WIDTH[version]) - 1)]


def intervals(nets):
    """The addresses of some Nets (of one family) as intervals."""
    out = []
    for lo, hi in sorted(span(n) for n in nets):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def intersect(a, b):
    """The addresses in both interval lists."""
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a, b):
    """The addresses of ``a`` that are not in ``b``."""
    out = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] < lo:
            j += 1
        k = j
        while lo <= hi and k < len(b) and b[k][0] <= hi:
            if b[k][0] > lo:
                out.append((lo, b[k][0] - 1))
            lo = max(lo, b[k][1] + 1)
            k += 1
        if lo <= hi:
            out.append((lo, hi))
    return out


# --- set arithmetic (netaddr) -------------------------------------------------------------------------------------

def _netaddr():
    import netaddr
    return netaddr


def ip_set(cidrs):
    return _netaddr().IPSet([str(c) for c in cidrs])


def everything(family):
    return ip_set(['::/0' if family == 'ipv6' else '0.0.0.0/0'])


def merge(cidrs):
    """Merge overlapping and adjacent CIDRs (aggregate): canonical texts, sorted."""
    return [str(n) for n in _netaddr().cidr_merge([str(c) for c in cidrs])]


def set_cidrs(s):
    return [str(c) for c in s.iter_cidrs()]


def range_cidrs(lo, hi):
    return [str(c) for c in _netaddr().iprange_to_cidrs(lo, hi)]
