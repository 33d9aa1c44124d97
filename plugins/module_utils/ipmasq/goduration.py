# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Go's ``time.ParseDuration``, for upstream's ``resyncInterval``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

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
_MAX_NS = (1 << 63) - 1
_NUMBER = re.compile(r'([0-9]*)(?:\.([0-9]*))?')
_UNIT = re.compile(r'[^0-9.]*')


def _show(text):
    text = repr(text)
    return text if len(text) <= 80 else text[:77] + '...'


def parse_go_duration(text):
    """``1h2m3.5s``, ``500ms``, ``-1s``, ``0`` -> integer nanoseconds. ValueError with Go's wording on bad input."""
    if not isinstance(text, str):
        raise ValueError('time: invalid duration %s' % _show(text))
    s = text
    neg = s[:1] == '-'
    if s[:1] in ('+', '-'):
        s = s[1:]
    if s == '0':
        return 0
    if s == '':
        raise ValueError('time: invalid duration %s' % _show(text))
    total = 0
    while s:
        m = _NUMBER.match(s)
        whole, frac = m.group(1), m.group(2)
        if whole == '' and not frac:
            raise ValueError('time: invalid duration %s' % _show(text))
        s = s[m.end():]
        unit = _UNIT.match(s).group(0)
        if not unit:
            raise ValueError('time: missing unit in duration %s' % _show(text))
        if unit not in _UNITS_NS:
            raise ValueError('time: unknown unit %s in duration %s' % (_show(unit), _show(text)))
        s = s[len(unit):]
        scale = _UNITS_NS[unit]
        total += int(whole or '0') * scale
        if frac:
            # Go truncates the fractional part towards zero, in nanoseconds.
            total += (int(frac) * scale) // (10 ** len(frac))
        if total > _MAX_NS:
            raise ValueError('time: invalid duration %s' % _show(text))
    return -total if neg else total
