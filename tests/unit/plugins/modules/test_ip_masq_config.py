# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ip_masq_config: the real main() with patched arguments; it runs no commands."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import sys
import time

import pytest

from ansible_collections.ipmasq.agent.plugins.modules import ip_masq_config

YAML = 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n'


def test_creates_file_and_parent_with_0644(run_module, tmp_path):
    path = tmp_path / 'etc' / 'config' / 'ip-masq-agent'
    result, script = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']))
    assert result['changed'] is True and path.read_text() == YAML and script.seen == []
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644 and stat.S_IMODE(os.stat(str(path.parent)).st_mode) == 0o755
    assert result['config'] == {'nonMasqueradeCIDRs': ['10.0.0.0/8']} and result['path'] == str(path)
    assert result['resync_interval_seconds'] == 60.0
    assert result['diff'] == {'before': '', 'after': YAML, 'before_header': '/dev/null', 'after_header': str(path)}


def test_only_the_keys_given_are_written(run_module, tmp_path):
    """Defect (e), the module's half: ip_masq_config wrote upstream's whole default config (the RFC 1918 list included),
    so the host program's --nomasq-all-reserved-ranges never applied. Without non_masquerade_cidrs, no nonMasqueradeCIDRs
    key is written."""
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), resync_interval='30s'))
    assert path.read_text() == 'resyncInterval: "30s"\n'
    assert result['config'] == {'resyncInterval': '30s'} and result['resync_interval_seconds'] == 30.0


def test_nothing_given_writes_an_empty_mapping(run_module, tmp_path):
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path)))
    assert result['changed'] is True and path.read_text() == '{}\n' and result['config'] == {}


def test_second_run_no_change(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']))
    assert result['changed'] is False and 'diff' not in result


def test_check_mode_does_not_write(run_module, tmp_path):
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']), check_mode=True)
    assert result['changed'] is True and not path.exists() and result['diff']['after'] == YAML


def test_diff_of_a_change(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8', '172.16.0.0/12'],
                                                      masq_link_local=True))
    after = 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 172.16.0.0/12\nmasqLinkLocal: true\n'
    assert result['diff'] == {'before': YAML, 'after': after, 'before_header': str(path), 'after_header': str(path)}
    assert path.read_text() == after


@pytest.mark.parametrize('bad, option, msg', [
    (dict(non_masquerade_cidrs=['10.0.0.1/8']), 'non_masquerade_cidrs',
     'non_masquerade_cidrs: CIDR \'10.0.0.1/8\' has host bits set; did you mean "10.0.0.0/8"?'),
    (dict(resync_interval='10 minutes'), 'resync_interval',
     'resync_interval: time: unknown unit \' minutes\' in duration \'10 minutes\' (use Go syntax such as "60s", "1m30s", "500ms")'),
    (dict(resync_interval='0s'), 'resync_interval', "resync_interval: must be greater than zero, got '0s'"),
    (dict(cidr_limit=-1), 'cidr_limit', 'cidr_limit: must not be negative, got -1'),
    (dict(non_masquerade_cidrs=['fd00::/8']), 'non_masquerade_cidrs',
     "non_masquerade_cidrs: IPv6 'fd00::/8' given but IPv6 is not enabled; enable it with --enable-ipv6 (ip_version: ipv6 or both in "
     'the modules)'),
    (dict(snat_to_source='fd00::1'), 'snat_to_source', "snat_to_source: expected an IPv4 address, got 'fd00::1'"),
    (dict(jump_position='top'), None, 'value of jump_position must be one of: append, first, got: top'),  # Ansible's own check
    (dict(config={'masqLinkLocl': True}), 'masqLinkLocl', "masqLinkLocl: unknown key 'masqLinkLocl'; did you mean 'masqLinkLocal'?"),
    (dict(config={'cidrLimit': '64'}), 'cidrLimit', "cidrLimit: expected a whole number, got str '64'"),
    # upstream's default list counts against the limit; it is named by its key, as it was not given
    (dict(cidr_limit=2), 'nonMasqueradeCIDRs',
     'nonMasqueradeCIDRs: the agent accepts up to 2 CIDRs (excluding link-local), but got 3; raise cidr_limit if this is intended'),
])
def test_invalid_value_leaves_file_untouched(run_module, tmp_path, bad, option, msg):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(bad, path=str(path)))
    assert result['failed'] is True and result['msg'] == msg and result.get('option') == option
    assert path.read_text() == YAML


def test_config_mapping_with_options_overriding_its_keys(run_module, tmp_path):
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), config={'nonMasqueradeCIDRs': ['10.0.0.0/8'], 'cidrLimit': 10,
                                                                              'masqlinklocal': True},
                                                      cidr_limit=20))
    assert path.read_text() == 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\ncidrLimit: 20\nmasqLinkLocal: true\n'


def test_json_and_backup(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), format='json', backup=True, ip_version='both',
                                                      non_masquerade_cidrs=['fd00::/8']))
    assert result['changed'] and path.read_text() == '{\n  "nonMasqueradeCIDRs": [\n    "fd00::/8"\n  ]\n}\n'
    with open(result['backup_file']) as f:
        assert f.read() == YAML


def test_mode_settable_and_defaults_to_0644(run_module, tmp_path):
    """Issue 14: mode defaults to 0644 for an existing file too (it used to keep the old file's mode, so a 0666 file
    planted by another user stayed 0666). Failed before: the last rewrite kept 0600."""
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), mode='0600'))
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600 and result['changed']
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), mode='0600'))
    assert result['changed'] is False
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), mode='0600', cidr_limit=10))
    assert result['changed'] is True and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    # without mode, a rewrite gives 0644
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), cidr_limit=11))
    assert result['changed'] is True and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644


def test_extensions_written_only_when_set(run_module, tmp_path):
    path = tmp_path / 'c'
    run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/20', '10.4.0.0/14'],
                                         required_cidrs=['10.4.0.0/14'], jump_position='first'))
    assert path.read_text() == ('nonMasqueradeCIDRs:\n  - 10.0.0.0/20\n  - 10.4.0.0/14\nrequiredCIDRs:\n  - 10.4.0.0/14\n'
                                'jumpPosition: "first"\n')


def test_every_key_in_table_order(run_module, tmp_path):
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, dict(
        path=str(path), ip_version='both', jump_position='append', required_cidrs=[], aggregate=False,
        snat_to_source_ipv6='2001:DB8::7', snat_to_source='198.51.100.7', masquerade_cidrs=['203.0.113.0/24'], resync_interval='1m30s',
        masq_link_local_ipv6=True, masq_link_local=False, cidr_limit=64, non_masquerade_cidrs=['10.0.0.0/8', 'fd00::/8']))
    assert path.read_text() == ('nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - fd00::/8\ncidrLimit: 64\nmasqLinkLocal: false\n'
                                'masqLinkLocalIPv6: true\nresyncInterval: "1m30s"\nmasqueradeCIDRs:\n  - 203.0.113.0/24\n'
                                'snatToSource: "198.51.100.7"\nsnatToSourceIPv6: "2001:db8::7"\naggregate: false\nrequiredCIDRs: []\n'
                                'jumpPosition: "append"\n')
    assert result['resync_interval_seconds'] == 90.0


def test_duplicate_cidr_warns(run_module, tmp_path):
    result, _s = run_module(ip_masq_config.main, dict(path=str(tmp_path / 'c'), non_masquerade_cidrs=['10.0.0.0/8', '10.0.0.0/8']))
    assert result['changed'] is True
    assert "non_masquerade_cidrs: '10.0.0.0/8' is listed more than once" in json.dumps(result['warnings'])


def test_absent(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state='absent'), check_mode=True)
    assert result['changed'] and path.exists()
    assert result['diff'] == {'before': YAML, 'after': '', 'before_header': str(path), 'after_header': str(path)}
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state='absent', backup=True))
    assert result['changed'] and not path.exists() and 'config' not in result
    with open(result['backup_file']) as f:
        assert f.read() == YAML
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state='absent'))
    assert result['changed'] is False


def test_absent_ignores_invalid_options(run_module, tmp_path):
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state='absent', non_masquerade_cidrs=['10.0.0.1/8']))
    assert result['changed'] and not path.exists()


def test_directory_path_fails(run_module, tmp_path):
    result, _s = run_module(ip_masq_config.main, dict(path=str(tmp_path)))
    assert result['failed'] and result['msg'] == 'config: path %r is a directory; give the config file itself' % str(tmp_path)


def test_missing_library_is_named(run_module, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'yaml', None)
    result, _s = run_module(ip_masq_config.main, dict(path=str(tmp_path / 'c')))
    assert result['failed'] and 'PyYAML' in result['msg'] and 'python3-yaml' in result['msg']
    assert not (tmp_path / 'c').exists()


# --- issue 14: config file safety (backups, links, shared directories, owner and mode) -------------------------------
NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason='needs root (chown to another user)')


def _predictable_backup_names(path, seconds=10):
    """The names AnsibleModule.backup_local would use in this process for the next ``seconds`` seconds."""
    now = time.time()
    return ['%s.%d.%s' % (path, os.getpid(), time.strftime('%Y-%m-%d@%H:%M:%S~', time.localtime(now + i))) for i in range(-1, seconds)]


def test_backup_never_follows_a_planted_link(run_module, tmp_path):
    """Issue 14: the backup had a predictable name (PATH.PID.timestamp~) and was written through a symbolic link planted
    there, overwriting the link's target (here a stand-in for a root-owned file). Failed before: the victim held the
    old config afterwards. Now the backup is a new regular file with a random name and the old content, fsynced."""
    path, victim = tmp_path / 'c', tmp_path / 'victim'
    path.write_text(YAML)
    victim.write_bytes(b'secret\n')
    os.chmod(str(victim), 0o600)
    planted = _predictable_backup_names(str(path))
    for name in planted:
        os.symlink(str(victim), name)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), backup=True, cidr_limit=10))
    assert result['changed'] is True and 'failed' not in result
    assert victim.read_bytes() == b'secret\n' and stat.S_IMODE(os.lstat(str(victim)).st_mode) == 0o600
    backup = result['backup_file']
    assert backup not in planted and os.path.dirname(backup) == str(tmp_path)
    st = os.lstat(backup)
    assert stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_nlink == 1
    with open(backup) as f:
        assert f.read() == YAML
    assert all(os.path.islink(name) for name in planted)


def test_backup_and_new_file_are_fsynced(run_module, tmp_path, monkeypatch):
    """Issue 14: the backup and the new file reach the disk before the rename (fsync through their descriptors).
    Failed before: nothing was fsynced."""
    path = tmp_path / 'c'
    path.write_text(YAML)
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.readlink('/proc/self/fd/%d' % fd))
        return real(fd)
    monkeypatch.setattr(os, 'fsync', fsync)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), backup=True, cidr_limit=10))
    assert result['backup_file'] in synced
    assert any(os.path.basename(s).startswith('.c.') for s in synced)  # the new file, under its temporary name


@pytest.mark.parametrize('state', ['present', 'absent'])
def test_symlink_at_path_is_refused(run_module, tmp_path, state):
    """Issue 14: a symbolic link at the path was followed: its target was read (and shown in the diff) and the link
    replaced (present) or removed (absent). Failed before: the task succeeded. Now it fails naming the path, and
    neither the link nor its target is touched."""
    path, victim = tmp_path / 'c', tmp_path / 'victim'
    victim.write_bytes(b'secret\n')
    os.symlink(str(victim), str(path))
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), state=state, backup=True))
    assert result['failed'] is True and result['option'] == 'path'
    assert result['msg'] == "path: %r is a symbolic link; it is not followed, give the file itself" % str(path)
    assert os.readlink(str(path)) == str(victim) and victim.read_bytes() == b'secret\n'
    assert 'secret' not in json.dumps(result) and sorted(os.listdir(str(tmp_path))) == ['c', 'victim']


@pytest.mark.parametrize('mode, writers', [(0o777, 'group and others'), (0o775, 'group'), (0o702, 'others')])
def test_refuses_directory_writable_without_sticky_bit(run_module, tmp_path, mode, writers):
    """Issue 14: a directory others can write without the sticky bit lets them swap the file or plant links. Failed
    before: the file was written. Now the task fails naming the directory, in check mode too, and nothing is written."""
    d = tmp_path / 'd'
    d.mkdir()
    os.chmod(str(d), mode)
    path = d / 'c'
    for check_mode in (True, False):
        result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']), check_mode=check_mode)
        assert result['failed'] is True and result['option'] == 'path' and result['value'] == str(path)
        assert ('path: refusing to write %r: directory %s is writable by %s (mode %04o) without the sticky bit; '
                % (str(path), d, writers, mode)) in result['msg']
        assert os.listdir(str(d)) == []


def test_refuses_below_a_directory_writable_without_sticky_bit(run_module, tmp_path):
    """Issue 14: a parent further up that others can write is as bad (they can rename the directory below it).
    Failed before: the file and its directory were written."""
    top = tmp_path / 'top'
    top.mkdir()
    os.chmod(str(top), 0o777)
    path = top / 'etc' / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path)))
    assert result['failed'] is True and 'directory %s is writable by group and others (mode 0777) without the sticky bit' % top in result['msg']
    assert os.listdir(str(top)) == []


@as_root
def test_refuses_directory_owned_by_another_user(run_module, tmp_path):
    """Issue 14: a directory owned by another user is theirs to change. Failed before: the file was written."""
    d = tmp_path / 'd'
    d.mkdir()
    os.chown(str(d), NOBODY, NOBODY)
    result, _s = run_module(ip_masq_config.main, dict(path=str(d / 'c')))
    assert result['failed'] is True and 'directory %s is owned by uid %d (not root or the running user)' % (d, NOBODY) in result['msg']
    assert os.listdir(str(d)) == []


@as_root
def test_refuses_symlinked_directory_owned_by_another_user(run_module, tmp_path):
    """Issue 14: a symbolic link on the way, owned by another user (as planted in /tmp), redirects the write into
    a directory of their choosing. Failed before: the file was written through the link."""
    sticky, target = tmp_path / 'sticky', tmp_path / 'target'
    sticky.mkdir()
    target.mkdir()
    os.chmod(str(sticky), 0o1777)
    link = sticky / 'etc'
    os.symlink(str(target), str(link))
    os.lchown(str(link), NOBODY, NOBODY)
    result, _s = run_module(ip_masq_config.main, dict(path=str(link / 'c')))
    assert result['failed'] is True and '%s is a symbolic link owned by uid %d' % (link, NOBODY) in result['msg']
    assert os.listdir(str(target)) == []


@as_root
def test_sticky_directory_needs_a_file_of_ours(run_module, tmp_path):
    """Issue 14: in a sticky directory others can write (like /tmp) the module writes a new file, or a file owned by
    root or the running user; a file owned by another user is refused (nothing written, no backup). Failed before:
    the other user's file was rewritten and stayed theirs."""
    d = tmp_path / 'd'
    d.mkdir()
    os.chmod(str(d), 0o1777)
    path = d / 'c'
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']))
    assert result['changed'] is True and path.read_text() == YAML
    st = os.stat(str(path))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o644)
    os.chown(str(path), NOBODY, NOBODY)
    os.chmod(str(path), 0o666)
    for state in ('present', 'absent'):
        result, _s = run_module(ip_masq_config.main, dict(path=str(path), state=state, backup=True, cidr_limit=5))
        assert result['failed'] is True and result['option'] == 'path'
        assert ('directory %s is writable by group and others (sticky) and the file is owned by uid %d (not root or the running user)'
                % (d, NOBODY)) in result['msg']
        st = os.stat(str(path))
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (NOBODY, 0o666) and os.listdir(str(d)) == ['c']


@as_root
def test_file_of_another_user_is_replaced_by_ours_0644(run_module, tmp_path):
    """Issue 14: an existing file owned by another user with mode 0666 (the content already right) stayed theirs and
    0666, and a descriptor they held open kept writing into the config. Failed before: changed was false and the file
    stayed nobody's 0666. Now check mode says changed (and the diff shows owner, group and mode) and touches nothing;
    the real run replaces it by a new inode owned by root, 0644, with the same content."""
    path = tmp_path / 'c'
    path.write_text(YAML)
    os.chown(str(path), NOBODY, NOBODY)
    os.chmod(str(path), 0o666)
    ino = os.stat(str(path)).st_ino
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']), check_mode=True)
    assert result['changed'] is True
    assert result['diff'] == {'before': {'path': str(path), 'owner': NOBODY, 'group': NOBODY, 'mode': '0666'},
                              'after': {'path': str(path), 'owner': 0, 'group': 0, 'mode': '0644'}}
    st = os.stat(str(path))
    assert (st.st_ino, st.st_uid, stat.S_IMODE(st.st_mode)) == (ino, NOBODY, 0o666)
    held = open(str(path), 'ab')  # what the other user opened while it was theirs
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']))
    assert result['changed'] is True and 'failed' not in result
    st = os.stat(str(path))
    assert st.st_ino != ino and (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o644)
    held.write(b'masqLinkLocal: true\n')
    held.close()
    assert path.read_text() == YAML
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']))
    assert result['changed'] is False and 'diff' not in result


def test_mode_change_alone_is_a_change(run_module, tmp_path):
    """Issue 14: the mode defaults to 0644 for an existing file, and a mode change alone is reported (check mode,
    diff) and made in place on a file of ours. Failed before: the 0600 file was left as it was, changed false."""
    path = tmp_path / 'c'
    path.write_text(YAML)
    os.chmod(str(path), 0o600)
    ino = os.stat(str(path)).st_ino
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']), check_mode=True)
    assert result['changed'] is True and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert result['diff'] == {'before': {'path': str(path), 'mode': '0600'}, 'after': {'path': str(path), 'mode': '0644'}}
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']))
    st = os.stat(str(path))
    assert result['changed'] is True and (st.st_ino, stat.S_IMODE(st.st_mode)) == (ino, 0o644)


def test_content_and_mode_change_diff_both(run_module, tmp_path):
    """Issue 14: a content change of a 0600 file shows the content diff and the mode diff. Failed before: the file
    kept 0600 and only the content diff was shown."""
    path = tmp_path / 'c'
    path.write_text(YAML)
    os.chmod(str(path), 0o600)
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8'], cidr_limit=3))
    assert result['diff'][0]['before'] == YAML and result['diff'][0]['after'] == YAML + 'cidrLimit: 3\n'
    assert result['diff'][1] == {'before': {'path': str(path), 'mode': '0600'}, 'after': {'path': str(path), 'mode': '0644'}}
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644


def test_hard_linked_file_is_replaced_not_chmodded(run_module, tmp_path):
    """Issue 14: a file with other names (a hard link to a file elsewhere) was re-permissioned in place, so the other
    name changed too. Failed before: the 0600 file was left alone (no mode default). Now the path gets a new file and
    the other name keeps its mode."""
    path, other = tmp_path / 'c', tmp_path / 'other'
    other.write_text(YAML)
    os.chmod(str(other), 0o600)
    os.link(str(other), str(path))
    result, _s = run_module(ip_masq_config.main, dict(path=str(path), non_masquerade_cidrs=['10.0.0.0/8']))
    assert result['changed'] is True and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(str(other)).st_mode) == 0o600 and os.stat(str(other)).st_nlink == 1


@pytest.mark.parametrize('option, value, msg', [
    ('owner', 'no-such-user-ipmasq', "owner: no such user 'no-such-user-ipmasq'"),
    ('group', 'no-such-group-ipmasq', "group: no such group 'no-such-group-ipmasq'"),
    ('mode', 'u=rwz', "mode: expected an octal or symbolic mode (permission bits only), got 'u=rwz'"),
    ('mode', '07777777', "mode: expected an octal or symbolic mode (permission bits only), got '07777777'"),
])
def test_bad_owner_group_mode_fail_before_writing(run_module, tmp_path, option, value, msg):
    """Issue 14: the owner, group and mode are checked before anything is written (the new file is prepared with
    them). Failed before: the file was written first and the task then failed with Ansible's message (or, for a mode
    beyond the permission bits, succeeded)."""
    path = tmp_path / 'c'
    path.write_text(YAML)
    result, _s = run_module(ip_masq_config.main, {'path': str(path), 'backup': True, 'cidr_limit': 4, option: value})
    assert result['failed'] is True and result['msg'] == msg and result['option'] == option
    assert path.read_text() == YAML and os.listdir(str(tmp_path)) == ['c']


@pytest.mark.parametrize('option, value', [('non_masquerade_cidrs', ['10.0.0.0/8\n']), ('snat_to_source', '198.51.100.7\n'),
                                           ('masquerade_cidrs', ['203.0.113.0/24\n'])])
def test_a_trailing_newline_is_refused_and_nothing_written(run_module, tmp_path, option, value):
    """Issue 14 item 7: "10.0.0.0/8\\n" passed validation and ip_masq_config wrote a file the agent could not parse."""
    path = tmp_path / 'c'
    result, _s = run_module(ip_masq_config.main, {'path': str(path), option: value})
    assert result['failed'] and result['option'] == option and not path.exists()
