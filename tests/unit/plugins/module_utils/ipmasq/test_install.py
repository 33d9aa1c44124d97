# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""install: the library the role installs is the checkout's package, file for file; the args file's text is
ip_masq_chain's; FileState compares and writes only what differs."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import install
from ansible_collections.ipmasq.agent.plugins.modules import ip_masq_chain

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))))
PACKAGE = os.path.join(ROOT, 'plugins', 'module_utils', 'ipmasq')


def checkout_files():
    out = {}
    for d, dirs, files in os.walk(PACKAGE):
        dirs[:] = [x for x in dirs if x != '__pycache__']
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(d, name)
                with open(path, 'rb') as f:
                    out[os.path.relpath(path, os.path.dirname(PACKAGE)).replace(os.sep, '/')] = f.read()
    return out


def test_package_files_are_the_checkouts_package():
    files = install.package_files()
    assert 'ipmasq/cli.py' in files and 'ipmasq/backends/iptables.py' in files and 'ipmasq/__init__.py' in files
    assert files == checkout_files()


def test_args_text_is_what_ip_masq_chain_writes(tmp_path):
    class Module(object):
        check_mode = False
    path = str(tmp_path / 'args')
    argv = ['--masq-chain=IP-MASQ-AGENT', '--random-fully=false']
    assert ip_masq_chain.write_args(Module(), path, argv) is True
    with open(path) as f:
        assert f.read() == install.args_text(argv)
    assert install.FileState(path, install.args_text(argv).encode(), 0o644).changes == []


def test_file_state_creates_then_is_in_line(tmp_path):
    path = str(tmp_path / 'lib' / 'ipmasq' / 'x.py')
    s = install.FileState(path, b'A\xc3\xa9\n', 0o644)
    assert s.changes == ['content'] and s.diff() == {'before_header': '/dev/null', 'after_header': path,
                                                     'before': '', 'after': u'A\xe9\n'}
    s.apply()
    with open(path, 'rb') as f:
        assert f.read() == b'A\xc3\xa9\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o755
    again = install.FileState(path, b'A\xc3\xa9\n', 0o644)
    assert again.changes == [] and again.diff() is None


def test_file_state_mode_only(tmp_path):
    path = tmp_path / 'prog'
    path.write_bytes(b'x')
    os.chmod(str(path), 0o600)
    inode = os.stat(str(path)).st_ino
    s = install.FileState(str(path), b'x', 0o755)
    assert s.changes == ['mode']
    assert s.diff()['before'].startswith('mode 0600') and s.diff()['after'].startswith('mode 0755')
    s.apply()
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o755 and os.stat(str(path)).st_ino == inode


def test_file_state_content_change_and_a_link_is_replaced_not_followed(tmp_path):
    target = tmp_path / 'target'
    target.write_bytes(b'keep')
    link = tmp_path / 'unit'
    os.symlink(str(target), str(link))
    s = install.FileState(str(link), b'new\n', 0o644)
    assert s.changes == ['content']
    s.apply()
    assert not os.path.islink(str(link)) and link.read_bytes() == b'new\n' and target.read_bytes() == b'keep'
    changed = install.FileState(str(link), b'newer\n', 0o644)
    assert changed.changes == ['content'] and changed.diff()['before'] == 'new\n' and changed.diff()['after'] == 'newer\n'
