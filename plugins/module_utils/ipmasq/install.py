# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ipmasq.agent contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host program needs on a host, as files: the text of its arguments file, this package's own files (the
library the program imports: read from wherever the package was imported from, a checkout or a module's AnsiballZ
payload), and a file compared with what it should be and written only when it differs (content, mode, owner).

Pure Python, like the rest of the package apart from ``glue``; the module ``ip_masq_host`` calls it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from .host import write_atomic

ARGS_HEADER = '# ip-masq-agent arguments, written by ipmasq.agent.ip_masq_chain\n'


def args_text(argv):
    """The host program's ``--args-file``: one argument a line, after a comment line."""
    return ARGS_HEADER + ''.join(a + '\n' for a in argv)


def package_files():
    """{relative path: bytes} of every Python file of this package (``ipmasq/__init__.py``, ``ipmasq/engine.py``,
    ``ipmasq/backends/iptables.py``, ...), read through each module's loader, so a zip payload works as a directory
    does. Importing a submodule here is what finds it: the package is walked, not a list kept."""
    import importlib
    import pkgutil
    top = __name__.rsplit('.', 1)[0]
    package = importlib.import_module(top)
    names = [top] + sorted(m.name for m in pkgutil.walk_packages(package.__path__, top + '.'))
    out = {}
    for name in names:
        module = importlib.import_module(name)
        rel = name.split('.')[len(top.split('.')) - 1:]
        if os.path.basename(module.__file__) == '__init__.py':
            rel.append('__init__')
        out['/'.join(rel) + '.py'] = module.__loader__.get_data(module.__file__)
    return out


class FileState(object):
    """A file as it is and as it should be: ``content`` (bytes), ``mode``, owned by ``uid``/``gid`` (the running
    user's by default). ``changes`` names what differs: ``content``, ``mode``, ``owner`` (empty: in line)."""

    def __init__(self, path, content, mode, uid=None, gid=None):
        self.path = path
        self.content = content
        self.mode = mode
        self.uid = os.geteuid() if uid is None else uid
        self.gid = os.getegid() if gid is None else gid
        self.before = None
        self.before_mode = None
        self.before_owner = None
        self.changes = []
        try:
            st = os.lstat(path)
        except OSError:
            self.changes = ['content']
            return
        if not stat.S_ISREG(st.st_mode):
            self.changes = ['content']  # a link or anything else at the path is replaced, never followed
            return
        with open(path, 'rb') as f:
            self.before = f.read()
        self.before_mode = stat.S_IMODE(st.st_mode)
        self.before_owner = (st.st_uid, st.st_gid)
        if self.before != content:
            self.changes.append('content')
        if self.before_mode != mode:
            self.changes.append('mode')
        if self.before_owner != (self.uid, self.gid):
            self.changes.append('owner')

    @property
    def changed(self):
        return bool(self.changes)

    def apply(self):
        """Bring the file in line: content by a rename (the parent directory is created, 0755), else mode/owner."""
        if not self.changes:
            return
        if 'content' in self.changes:
            parent = os.path.dirname(self.path)
            if parent and not os.path.isdir(parent):
                os.makedirs(parent, 0o755)
            write_atomic(self.path, self.content, self.mode)
        else:
            os.chmod(self.path, self.mode)
        if 'owner' in self.changes or (self.uid, self.gid) != (os.geteuid(), os.getegid()):
            os.chown(self.path, self.uid, self.gid)

    def diff(self):
        """A diff entry (text files): the content before and after, or, when only they differ, mode and owner."""
        if not self.changes:
            return None
        if 'content' in self.changes:
            before = self.before.decode('utf-8', 'replace') if self.before is not None else ''
            after = self.content.decode('utf-8', 'replace')
        else:
            before = 'mode %04o, owner %d:%d\n' % ((self.before_mode,) + self.before_owner)
            after = 'mode %04o, owner %d:%d\n' % (self.mode, self.uid, self.gid)
        return {'before_header': self.path if self.before is not None else '/dev/null', 'after_header': self.path,
                'before': before, 'after': after}
