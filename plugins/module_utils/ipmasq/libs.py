# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two third-party libraries, found without importing them: each is imported where it is used (PyYAML to read a
YAML file, netaddr for set arithmetic), so the common path pays for neither."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from importlib.util import find_spec

# (module, name to install, Debian package)
REQUIRED = (('yaml', 'PyYAML', 'python3-yaml'), ('netaddr', 'netaddr', 'python3-netaddr'))


def missing():
    """[(name, Debian package)] of the libraries that are not installed."""
    return [(name, deb) for module, name, deb in REQUIRED if find_spec(module) is None]
