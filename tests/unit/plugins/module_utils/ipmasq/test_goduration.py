# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""goduration: Go's time.ParseDuration, for upstream's resyncInterval."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.goduration import parse_go_duration


@pytest.mark.parametrize('text, ns', [
    ('0', 0), ('-0', 0), ('+0', 0), ('60s', 60 * 10 ** 9), ('1m30s', 90 * 10 ** 9), ('500ms', 5 * 10 ** 8),
    ('1.5h', 5400 * 10 ** 9), ('1h2m3.5s', 3723500000000), ('.5s', 5 * 10 ** 8), ('1.s', 10 ** 9), ('2us', 2000),
    (u'2\u00b5s', 2000), (u'2\u03bcs', 2000), ('-1s', -10 ** 9), ('+3ns', 3), ('1h1h', 7200 * 10 ** 9), ('0s', 0),
    ('1.0000000001s', 10 ** 9), ('9223372036s', 9223372036 * 10 ** 9), ('2562047h', 2562047 * 3600 * 10 ** 9),
])
def test_go_durations(text, ns):
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize('text, message', [
    ('', "time: invalid duration ''"),
    ('1', "time: missing unit in duration '1'"),
    ('s', "time: invalid duration 's'"),
    ('.s', "time: invalid duration '.s'"),
    ('1..5s', "time: missing unit in duration '1..5s'"),
    ('1d', "time: unknown unit 'd' in duration '1d'"),
    ('5 m', "time: unknown unit ' m' in duration '5 m'"),
    ('1e3s', "time: unknown unit 'e' in duration '1e3s'"),
    ('9223372037s', "time: invalid duration '9223372037s'"),
    ('2562048h', "time: invalid duration '2562048h'"),
    (60, 'time: invalid duration 60'),
])
def test_go_duration_rejections(text, message):
    with pytest.raises(ValueError) as e:
        parse_go_duration(text)
    assert str(e.value) == message
