# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses and CIDRs: one parser for both families (stdlib only), and the set arithmetic (netaddr, imported when
first needed: the common path, parsing and rendering, never loads it).

Parsing follows Go's ``net.ParseCIDR`` plus upstream's alignment check, stricter where Go is lax: no leading zeros in
an address or a prefix, no IPv4-mapped or embedded IPv6 forms, nothing before or after the text (a trailing newline
is refused).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import socket

from .errors import ConfigError, show

_V4 = re.compile(r'(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])')
_PREFIX = re.compile(r'0|[1-9][0-9]{0,2}')
_V6_CHARS = re.compile(r'[0-9A-Fa-f:]+')


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
        return socket.inet_ntop(socket.AF_INET, value.to_bytes(4, 'big'))
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, 'big'))


def _address(text, key, whole):
    """(version, value) of one address; ConfigError naming the key and the whole value otherwise."""
    if ':' in text:
        if '.' in text:
            raise ConfigError(key, whole, '%s: IPv4-mapped or embedded IPv6 forms are ambiguous; write the IPv4 '
                                          'CIDR instead' % show(whole))
        if not _V6_CHARS.fullmatch(text):
            raise ConfigError(key, whole, '%s: %s is not an IPv6 address' % (show(whole), show(text)))
        try:
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), 'big')
        except (OSError, ValueError):
            raise ConfigError(key, whole, '%s: %s is not an IPv6 address' % (show(whole), show(text)))
    if not _V4.fullmatch(text):
        raise ConfigError(key, whole, '%s: %s is not a dotted-quad IPv4 address (no leading zeros)'
                          % (show(whole), show(text)))
    value = 0
    for part in text.split('.'):
        value = (value << 8) | int(part)
    return 4, value


def parse_cidr(text, key='nonMasqueradeCIDRs'):
    """Validate one CIDR and return a ``Net``; ConfigError naming the key and the value otherwise."""
    if not isinstance(text, str):
        raise ConfigError(key, text, 'expected a CIDR string such as "10.0.0.0/8", got %s %s'
                          % (type(text).__name__, show(text)))
    addr, sep, prefix = text.partition('/')
    if not sep:
        raise ConfigError(key, text, 'invalid CIDR %s: a prefix length is required (e.g. "%s/32")'
                          % (show(text), text.strip()))
    if not _PREFIX.fullmatch(prefix):
        raise ConfigError(key, text, 'invalid CIDR %s: bad prefix length %s (digits, no leading zeros)'
                          % (show(text), show(prefix)))
    version, value = _address(addr, key, text)
    bits, width = int(prefix), 32 if version == 4 else 128
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
    addr, sep, prefix = text.partition('/')
    try:
        version, value = _address(addr, '', text)
    except ConfigError:
        return text
    width = 32 if version == 4 else 128
    bits = int(prefix) if sep and prefix.isdigit() and int(prefix) <= width else width
    if sep and not prefix.isdigit():
        return text
    return str(Net(version, value & ~((1 << (width - bits)) - 1), bits))


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
