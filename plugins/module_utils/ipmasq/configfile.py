# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's config file: read it (a regular file only, bounded), parse it (YAML or JSON, as upstream's loader),
and write it (upstream's keys in a stable order)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import re
import stat

from .errors import ConfigError, show
from .spec import BY_LOWER_KEY, FILE_FIELDS, Settings, apply_mapping

# Refuse config files larger than this before parsing them (a config of 10,000 CIDRs is about 200 KiB).
MAX_CONFIG_BYTES = 16 * 1024 * 1024
# A document that expands (through YAML aliases) to more values than this, or nests deeper, is refused.
MAX_VALUES = 4 * 1024 * 1024
MAX_DEPTH = 64


def read_bytes(path, missing_ok=True):
    """The file's bytes; None when it is missing and ``missing_ok``. Only a regular file is read (a FIFO would
    block, a device never end), and never more than MAX_CONFIG_BYTES."""
    try:
        _regular(path, os.stat(path))  # a socket cannot even be opened: say what it is
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0))
    except OSError as e:
        if e.errno == errno.ENOENT and missing_ok:
            return None
        raise ConfigError('config', path, 'cannot read %s: %s' % (show(path), e.strerror or e))
    try:
        st = os.fstat(fd)
        _regular(path, st)  # again on what was opened: the path may have been replaced meanwhile
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError('config', path, 'file is larger than %d bytes' % MAX_CONFIG_BYTES)
        chunks = []
        size = 0
        while size <= MAX_CONFIG_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b''.join(chunks)
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError('config', path, 'file is larger than %d bytes' % MAX_CONFIG_BYTES)
    return data


def _regular(path, st):
    if not stat.S_ISREG(st.st_mode):
        kind = 'a directory' if stat.S_ISDIR(st.st_mode) else 'not a regular file'
        raise ConfigError('config', path, 'path %s is %s; give the config file itself' % (show(path), kind))


def to_mapping(text):
    """The file's content (str or bytes; YAML or JSON) as a mapping, not yet validated. Empty -> ``{}``."""
    if isinstance(text, bytes):
        if len(text) > MAX_CONFIG_BYTES:
            raise ConfigError('config', '%d bytes' % len(text), 'file is larger than %d bytes' % MAX_CONFIG_BYTES)
        if b'\x00' in text:
            raise ConfigError('config', text[:40], 'file contains NUL bytes; it is not a YAML or JSON text')
        try:
            text = text.decode('utf-8')
        except UnicodeDecodeError as e:
            raise ConfigError('config', text[max(0, e.start - 10):e.start + 10], 'file is not UTF-8 text (%s)' % e)
    if text.strip() == '':
        return {}
    # As upstream's loader (k8s.io/apimachinery yaml.ToJSON): a document whose first non-blank character is "{" goes
    # to the JSON decoder as it is (so a trailing comma is an error there, as it is upstream); anything else is YAML.
    data = _json(text) if text.lstrip()[:1] == '{' else _yaml(text)
    _bounded(data)
    return {} if data is None else data


def _line(text, pos):
    return text.count('\n', 0, pos) + 1


def _duplicate(key, first, where_first, where_second):
    """Two keys for one knob: upstream silently takes the last; a config that drops one of two lists causes outages."""
    if key == first:
        return 'the key %s is given twice (lines %s and %s); keep one' % (show(key), where_first, where_second)
    field = BY_LOWER_KEY.get(key.lower()) if isinstance(key, str) else None
    return 'the keys %s (line %s) and %s (line %s) both set %s; keep one' % (
        show(first), where_first, show(key), where_second, field.key if field else 'one key')


def _json(text):
    def pairs(items):
        seen = {}
        for key, _value in items:
            fold = key.lower() if isinstance(key, str) else key
            if fold in seen:
                spots = [_line(text, m.start()) for m in re.finditer(re.escape(json.dumps(key)) + r'\s*:', text)]
                firsts = [_line(text, m.start())
                          for m in re.finditer(re.escape(json.dumps(seen[fold])) + r'\s*:', text)]
                raise ConfigError(key, _value, _duplicate(key, seen[fold], firsts[0] if firsts else '?',
                                                          spots[-1] if spots else '?'))
            seen[fold] = key
        return dict(items)
    try:
        return json.loads(text, object_pairs_hook=pairs)
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError('config', text[:40], 'not valid JSON: nested too deeply')
    except ValueError as e:
        raise ConfigError('config', text[:40], 'not valid JSON (a file that starts with "{" is JSON, as upstream '
                                               'reads it): %s' % e)


def _bounded(data):
    """Refuse a document that expands to more values than any real config has: YAML aliases let 400 bytes stand for
    billions of values (an alias bomb), which every later step would walk. Counted once per distinct node."""
    sizes = {}

    def size(node, depth):
        if depth > MAX_DEPTH:
            raise ConfigError('config', '(nested)', 'nested more than %d levels deep' % MAX_DEPTH)
        if not isinstance(node, (list, dict)):
            return 1
        if id(node) not in sizes:
            sizes[id(node)] = 0  # a recursive alias counts as one value more
            children = node.values() if isinstance(node, dict) else node
            sizes[id(node)] = 1 + sum(size(child, depth + 1) for child in children)
        if sizes[id(node)] > MAX_VALUES:
            raise ConfigError('config', '(expanded)', 'expands to more than %d values (YAML aliases?); a config '
                                                      'with that many values is not one the agent can use' % MAX_VALUES)
        return sizes[id(node)]
    size(data, 0)


def _loader():
    """libyaml's loader when PyYAML has it (same YAML 1.1 rules, ~10x faster on large lists), refusing duplicate keys
    (exact, or differing only in case) with the lines of both."""
    import yaml  # only YAML files need it (libs.missing() names it to the user first)

    class Loader(getattr(yaml, 'CSafeLoader', yaml.SafeLoader)):
        def construct_mapping(self, node, deep=False):
            self.flatten_mapping(node)
            seen = {}
            for key_node, _value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                fold = key.lower() if isinstance(key, str) else repr(key)
                if fold in seen:
                    first, line = seen[fold]
                    raise ConfigError(key if isinstance(key, str) else show(key), key,
                                      _duplicate(key, first, line, key_node.start_mark.line + 1))
                seen[fold] = (key, key_node.start_mark.line + 1)
            return super(Loader, self).construct_mapping(node, deep)
    return yaml, Loader


def _yaml(text):
    yaml, loader = _loader()
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as e:
        if 'expected a single document' in str(e):
            raise ConfigError('config', text[:40], 'more than one YAML document (---): upstream applies the first and '
                                                   'ignores the others; write one document')
        raise ConfigError('config', text[:40], 'not valid YAML: %s' % str(e).replace('\n', ' ')[:400])
    except RecursionError:
        raise ConfigError('config', text[:40], 'not valid YAML: nested too deeply')


def load(path=None, data=None, settings=None, strict=False, overrides=None):
    """Settings with the file knobs from the file at ``path`` (a missing file means the defaults) or from a mapping;
    ``overrides`` ({field name: (value, label)}) replace the mapping's keys."""
    settings = settings or Settings()
    if data is None and path is not None:
        raw = read_bytes(path)
        data = to_mapping(raw) if raw is not None else {}
    return apply_mapping(settings, data, strict=strict, overrides=overrides)


def dump(mapping, fmt='yaml'):
    """The config file's text for a mapping of upstream's keys (Settings.file_mapping), keys in table order."""
    if fmt == 'json':
        return json.dumps(mapping, indent=2) + '\n'
    lines = []
    for f in FILE_FIELDS:
        if f.key not in mapping:
            continue
        value = mapping[f.key]
        if isinstance(value, list):
            lines.append('%s:' % f.key if value else '%s: []' % f.key)
            lines.extend('  - %s' % c for c in value)
        elif isinstance(value, bool):
            lines.append('%s: %s' % (f.key, 'true' if value else 'false'))
        elif isinstance(value, int):
            lines.append('%s: %d' % (f.key, value))
        else:
            lines.append('%s: %s' % (f.key, json.dumps(value)))
    return '\n'.join(lines) + '\n' if lines else '{}\n'
