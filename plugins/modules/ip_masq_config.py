#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: ip_masq_config
short_description: Manage the ip-masq-agent config file
version_added: 1.0.0
description:
  - Writes the config file that upstream's ip-masq-agent and this collection's C(ip-masq-agent) host program read
    (default C(/etc/config/ip-masq-agent)), with upstream's keys C(nonMasqueradeCIDRs), C(cidrLimit),
    C(masqLinkLocal), C(masqLinkLocalIPv6), C(resyncInterval), and this collection's extensions when set.
  - Validates everything before writing (the same code as the host program); an invalid value fails naming the option
    and the value, and the file on disk is left untouched.
  - Writes a new file in the same directory and renames it into place (the old file is never rewritten in place, and
    a symbolic link is never followed), reports a real diff, honours check mode, can keep a backup.
author:
  - ipmasq.agent contributors (@ipmasq)
requirements:
  - PyYAML (Debian C(python3-yaml)) on the target; the module writes the file without it, but fails at start, naming
    it, when it is missing (the host program needs it to read a YAML config)
  - netaddr (Debian C(python3-netaddr)) on the target, to validate O(required_cidrs); the module fails at start,
    naming it, when it is missing
options:
  path:
    description:
      - The config file. Missing parent directories are created (mode C(0755)).
      - A symbolic link at this path is an error; it is not followed. Give the file itself.
    type: path
    default: /etc/config/ip-masq-agent
  state:
    description: V(present) writes the file; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  format:
    description: Write YAML or JSON. Both are read by upstream and by the host program.
    type: str
    choices: [yaml, json]
    default: yaml
  config:
    description:
      - The whole config as a mapping of upstream's keys (C(nonMasqueradeCIDRs), C(cidrLimit), ...), for example the
        C(data) of an existing ConfigMap. Options given beside it override its keys. Unknown keys are errors.
    type: dict
  ip_version:
    description:
      - The families the agent runs with. IPv6 CIDRs are accepted only with V(ipv6) or V(both), as the agent would
        refuse them otherwise (upstream's C(--enable-ipv6)).
    type: str
    choices: [ipv4, ipv6, both]
    default: ipv4
  backup:
    description:
      - Keep a copy of the previous file when its content changes or it is removed, as a new file in the same directory
        named C(PATH.RANDOM.TIMESTAMP~) (created exclusively under a random name, so nothing planted at a predictable
        name is ever followed or overwritten), owned by the running user, with the old file's mode less group and
        other write permission.
    type: bool
    default: false
extends_documentation_fragment:
  - ipmasq.agent.agent.config
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
  - ipmasq.agent.attributes
notes:
  - Only the keys given are written, so upstream's defaults (and the host program's C(--nomasq-all-reserved-ranges))
    apply to the others; upstream's agent ignores keys it does not know.
  - When not given, O(owner) and O(group) default to the user and group the module runs as (root with C(become)) and
    O(mode) to C(0644), whether or not the file existed; a differing existing file is changed (V(changed=true), also
    in check mode). An existing file owned by another user is replaced by a new file, so it is never rewritten or
    re-permissioned in place (a descriptor that user holds open no longer reaches the config file).
  - The module refuses (a failed task naming the directory and why; nothing written) to write into a directory, or
    below a directory, that is owned by a user other than root or the running user, or that is writable by its group
    or by others without the sticky bit. A sticky directory writable by others (like C(/tmp)) is accepted only when
    the file, if it exists, is owned by root or the running user.
seealso:
  - module: ipmasq.agent.ip_masq_chain
'''

EXAMPLES = r'''
- name: Only the cluster's ranges keep their source
  ipmasq.agent.ip_masq_config:
    non_masquerade_cidrs: [10.0.0.0/20, 10.4.0.0/14]
    resync_interval: 60s

- name: JSON, IPv6 too, with a backup of the previous file
  ipmasq.agent.ip_masq_config:
    path: /etc/config/ip-masq-agent
    format: json
    ip_version: both
    non_masquerade_cidrs: [10.0.0.0/8, "fd00::/8"]
    backup: true

- name: Remove it
  ipmasq.agent.ip_masq_config:
    state: absent
'''

RETURN = r'''
config:
  description: The config as written, with upstream's key names (only the keys given).
  returned: when O(state=present)
  type: dict
  sample:
    nonMasqueradeCIDRs: [10.0.0.0/8]
    cidrLimit: 64
    masqLinkLocal: false
    masqLinkLocalIPv6: false
    resyncInterval: 60s
resync_interval_seconds:
  description: C(resyncInterval) in seconds (for a systemd timer, for example).
  returned: when O(state=present)
  type: float
  sample: 60.0
path:
  description: The config file.
  returned: always
  type: str
  sample: /etc/config/ip-masq-agent
backup_file:
  description: The backup of the previous file.
  returned: when a backup was made
  type: str
  sample: /etc/config/ip-masq-agent.k3c9_x2q.2026-11-22@10:00:00~
'''

import errno
import grp
import os
import pwd
import stat
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import configfile, glue
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.errors import ConfigError, show
from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq.spec import FILE

_READ_FLAGS = os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0)
_RENAME_FALLBACK = (errno.EBUSY, errno.EXDEV, errno.EPERM, errno.EACCES, errno.ETXTBSY)


def _link_error(path):
    return ConfigError('path', path, '%s is a symbolic link; it is not followed, give the file itself' % show(path))


def read_old(path):
    """The file's bytes and the stat of what was read; (None, None) when it is missing. A symbolic link at ``path`` is
    an error (never followed: O_NOFOLLOW); only a regular file is read, never more than MAX_CONFIG_BYTES."""
    try:
        st = os.lstat(path)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None, None
        raise ConfigError('config', path, 'cannot read %s: %s' % (show(path), e.strerror or e))
    if stat.S_ISLNK(st.st_mode):
        raise _link_error(path)
    if not stat.S_ISREG(st.st_mode):
        configfile.read_bytes(path)  # fails naming what it is (a directory, a FIFO...), as the host program does
        raise ConfigError('config', path, '%s changed while it was read' % show(path))
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _link_error(path)
        raise ConfigError('config', path, 'cannot read %s: %s' % (show(path), e.strerror or e))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > configfile.MAX_CONFIG_BYTES:
            raise ConfigError('config', path, '%s changed while it was read, or is larger than %d bytes'
                              % (show(path), configfile.MAX_CONFIG_BYTES))
        chunks, size = [], 0
        while size <= configfile.MAX_CONFIG_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > configfile.MAX_CONFIG_BYTES:
        raise ConfigError('config', path, 'file is larger than %d bytes' % configfile.MAX_CONFIG_BYTES)
    return b''.join(chunks), st


def unsafe_directory(path, old_st):
    """Why another user could swap the file or plant links where ``path`` is written, or None. Every existing
    directory from / down to the file's own must be owned by root or the running user and not be writable by group or
    others unless sticky (a symbolic link on the way must be owned by root or the running user); in a sticky
    directory writable by others, the existing file must be owned by root or the running user."""
    trusted = (0, os.geteuid())
    target = os.path.dirname(os.path.abspath(path))
    chain = [target]
    while os.path.dirname(chain[-1]) != chain[-1]:
        chain.append(os.path.dirname(chain[-1]))
    for d in reversed(chain):
        try:
            lst = os.lstat(d)
            st = os.stat(d) if stat.S_ISLNK(lst.st_mode) else lst
        except OSError:
            return None  # missing: created by the module (0755, its own), and checked again after
        if stat.S_ISLNK(lst.st_mode) and lst.st_uid not in trusted:
            return '%s is a symbolic link owned by uid %d (not root or the running user)' % (d, lst.st_uid)
        if not stat.S_ISDIR(st.st_mode):
            return None  # writing fails with the system's error
        if st.st_uid not in trusted:
            return 'directory %s is owned by uid %d (not root or the running user)' % (d, st.st_uid)
        writers = ' and '.join(w for w, bit in (('group', stat.S_IWGRP), ('others', stat.S_IWOTH)) if st.st_mode & bit)
        if writers and not st.st_mode & stat.S_ISVTX:
            return 'directory %s is writable by %s (mode %04o) without the sticky bit' % (d, writers, stat.S_IMODE(st.st_mode))
        if writers and d == target and old_st is not None and old_st.st_uid not in trusted:
            return ('directory %s is writable by %s (sticky) and the file is owned by uid %d (not root or the running user)'
                    % (d, writers, old_st.st_uid))
    return None


def check_directory(path, old_st):
    why = unsafe_directory(path, old_st)
    if why:
        raise ConfigError('path', path, 'refusing to write %s: %s; another user could replace the file or plant links '
                                        'there. Use a directory only root (or the running user) can write' % (show(path, 400), why))


def _id(value, lookup, field):
    """A uid or gid from a number or a name; None when there is no such name."""
    try:
        return int(value)
    except (TypeError, ValueError):
        pass
    try:
        return getattr(lookup(value), field)
    except KeyError:
        return None


def wanted_mode(module, mode, base):
    """O(mode) as a number; a symbolic mode applies to ``base``. None when it is not a valid mode (Ansible says why)."""
    if isinstance(mode, int):
        return mode if mode == stat.S_IMODE(mode) else None
    try:
        mode = int(mode, 8)
        return mode if mode == stat.S_IMODE(mode) else None
    except (TypeError, ValueError):
        pass
    try:
        mode = module._symbolic_mode_to_octal(os.stat_result((stat.S_IFREG | base,) + (0,) * 9), mode)
    except Exception:
        return None
    return mode if mode == stat.S_IMODE(mode) else None


def attribute_diff(path, old_st, uid, gid, mode):
    """before/after of owner, group and mode (as Ansible's file diff spells them) where they differ; None if none."""
    before, after = {'path': path}, {'path': path}
    for key, old, new, fmt in (('owner', old_st.st_uid, uid, int), ('group', old_st.st_gid, gid, int),
                               ('mode', stat.S_IMODE(old_st.st_mode), mode, lambda m: '0%03o' % m)):
        if new is not None and old != new:
            before[key], after[key] = fmt(old), fmt(new)
    return dict(before=before, after=after) if len(before) > 1 else None


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def _fsync_dir(parent):
    try:
        fd = os.open(parent, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def backup(module, path, old, old_st):
    """A copy of ``old`` as a new file in the file's directory: mkstemp's random name and O_EXCL (a link planted at
    any name is never followed), written through its descriptor and fsynced; owned by the running user."""
    parent = os.path.dirname(path) or '.'
    fd, name = tempfile.mkstemp(prefix=os.path.basename(path) + '.', suffix=time.strftime('.%Y-%m-%d@%H:%M:%S~'), dir=parent)
    try:
        try:
            os.fchmod(fd, stat.S_IMODE(old_st.st_mode) & 0o755)
            _write_all(fd, old)
        finally:
            os.close(fd)
        if module.selinux_enabled():
            module.set_context_if_different(name, module.selinux_context(path), False)
    except BaseException:
        os.unlink(name)
        raise
    _fsync_dir(parent)
    return name


def write(module, path, content, args, old_st):
    """A new file in the file's directory (mkstemp: 0600, the running user's), fsynced, with its owner, group and
    mode set, renamed over the path: the result is a new inode, never the old file rewritten. ``args`` are the file
    arguments for the new file, its mode a number; attributes (chattr) are set after the rename."""
    parent = os.path.dirname(path) or '.'
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
        check_directory(path, None)  # what was created, and not planted meanwhile
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=parent)
    try:
        try:
            _write_all(fd, content)
        finally:
            os.close(fd)
        if module.selinux_enabled():
            context = module.selinux_context(path) if old_st is not None else module.selinux_default_context(path)
            module.set_context_if_different(tmp, context, False)
        module.set_fs_attributes_if_different(module.load_file_common_arguments(args, path=tmp), False)
        try:
            os.rename(tmp, path)
        except OSError as e:
            if not (args['unsafe_writes'] and e.errno in _RENAME_FALLBACK):
                raise
            # a bind-mounted file cannot be replaced: rewrite it in place, as the user allowed
            out = os.open(path, os.O_WRONLY | os.O_TRUNC | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NOCTTY', 0))
            try:
                _write_all(out, content)
            finally:
                os.close(out)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    _fsync_dir(parent)


def main():
    module = AnsibleModule(
        argument_spec=dict(glue.argument_spec((FILE,), names=('ip_version',)), config=dict(type='dict'),
                           path=dict(type='path', default='/etc/config/ip-masq-agent'), backup=dict(type='bool', default=False),
                           state=dict(type='str', default='present', choices=['present', 'absent']),
                           format=dict(type='str', default='yaml', choices=['yaml', 'json'])),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    glue.fail_without_libs(module)
    p = module.params
    path = p['path']
    euid = os.geteuid()
    # the defaults: the running user's owner and group, mode 0644 (for an existing file too)
    args = dict(p, owner=p['owner'] if p['owner'] is not None else str(euid),
                group=p['group'] if p['group'] is not None else str(os.getegid()),
                mode=p['mode'] if p['mode'] is not None else '0644')
    try:
        old, old_st = read_old(path)
        settings = glue.settings(p, scopes=(FILE,), config=p['config'] or {}, strict=True) if p['state'] == 'present' else None
        uid, gid = _id(args['owner'], pwd.getpwnam, 'pw_uid'), _id(args['group'], grp.getgrnam, 'gr_gid')
        # a symbolic mode applies to the mode of our own existing file, else to 0644
        mode = wanted_mode(module, args['mode'], stat.S_IMODE(old_st.st_mode) if old_st is not None and old_st.st_uid == euid else 0o644)
        if settings:
            for option, value, what in (('owner', uid, 'no such user'), ('group', gid, 'no such group'),
                                        ('mode', mode, 'expected an octal or symbolic mode (permission bits only), got')):
                if value is None:
                    raise ConfigError(option, args[option], '%s %s' % (what, show(args[option])))
        if settings or old is not None:
            check_directory(path, old_st)
    except ConfigError as e:
        glue.fail(module, e)
    content = to_bytes(configfile.dump(settings.file_mapping(), p['format'])) if settings else None
    content_changed = old != content and not (old is None and content is None)
    attrs = attribute_diff(path, old_st, uid, gid, mode) if settings and old_st else None
    # a file that is not ours (or has other names) is replaced, never changed in place
    replace = bool(settings) and (content_changed or (old_st is not None and old_st.st_uid not in (euid, uid))
                                  or bool(attrs and old_st.st_nlink != 1))
    result = dict(changed=content_changed or bool(attrs) or replace, path=path)
    if settings:
        result.update(config=settings.file_mapping(), resync_interval_seconds=settings.resync_seconds)
        for w in settings.warnings:
            module.warn(w)
    if module._diff:
        diffs = [d for d in (attrs,) if d]
        if content_changed:
            diffs.insert(0, dict(before=to_native(old or b'', errors='surrogate_or_strict'), after=to_native(content or b''),
                                 before_header=path if old is not None else '/dev/null', after_header=path))
        if diffs:
            result['diff'] = diffs[0] if len(diffs) == 1 else diffs
    if result['changed'] and not module.check_mode:
        try:
            if p['backup'] and old is not None and content_changed:
                result['backup_file'] = backup(module, path, old, old_st)
            if content is None:
                os.unlink(path)
            elif replace:
                write(module, path, content, dict(args, mode='%04o' % mode, attributes=None), old_st)
        except ConfigError as e:
            glue.fail(module, e, **dict((k, v) for k, v in result.items() if k == 'backup_file'))
        except (IOError, OSError) as e:
            module.fail_json(msg='path: cannot write %s: %s' % (path, to_native(e)),
                             **dict((k, v) for k, v in result.items() if k == 'backup_file'))
    if content is not None and os.path.lexists(path):
        result['changed'] = module.set_fs_attributes_if_different(module.load_file_common_arguments(args), result['changed'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
