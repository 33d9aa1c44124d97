"""ip_masq_config in directories other users can write (issue 14), as root through real ansible-playbook runs.

Another user (uid nobody, a forked process that drops to it) pre-creates the config file 0666, keeps it open for
writing, and plants symbolic links to a root-owned victim file at the names the backup used to get
(``PATH.PID.timestamp~``: it watches /proc for the module's process and plants them for its PID). Each test failed on
the old module (the victim was overwritten with the config and given to nobody, or the unsafe directory and nobody's
file were written) and passes now. No namespaces: nothing here touches iptables.
"""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

from tests.lib.netns import ROOT

NOBODY, NOGROUP = 65534, 65534
VICTIM = b'root:secret:do-not-touch\n'
OLD = b'nonMasqueradeCIDRs:\n  - 192.168.0.0/16\n'   # what nobody wrote
NEW = 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n'         # what the play writes
MODULE = 'ipmasq.agent.ip_masq_config'

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='needs root (runs a process as uid nobody)')


@pytest.fixture
def base():
    """A root-owned 0755 directory directly under /tmp (nobody must reach it; pytest's tmp_path is 0700), holding the
    victim (root, 0600) and ansible's own temporary directory (0700)."""
    top = tempfile.mkdtemp(prefix='ipmasq-cfs-', dir='/tmp')
    os.chmod(top, 0o755)
    victim = os.path.join(top, 'victim')
    with open(victim, 'wb') as f:
        f.write(VICTIM)
    os.chmod(victim, 0o600)
    os.mkdir(os.path.join(top, 'ansible'), 0o700)
    yield top
    shutil.rmtree(top)


def shared_dir(base, mode):
    d = os.path.join(base, 'd%04o' % mode)
    os.mkdir(d)
    os.chmod(d, mode)
    return d


def play(base, args, check=False):
    """Run one task of the module as root through ansible-playbook (local connection); its result."""
    adir = os.path.join(base, 'ansible')
    path = os.path.join(adir, 'play-%d.yml' % len(os.listdir(adir)))
    with open(path, 'w') as f:
        yaml.safe_dump([{'name': 'test', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [{MODULE: args}]}], f)
    env = dict(os.environ, LC_ALL='C.UTF-8', LANG='C.UTF-8', ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.cache', 'collections'),
               ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCAL_TEMP=os.path.join(adir, 'tmp'), ANSIBLE_REMOTE_TEMP=os.path.join(adir, 'tmp'))
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', '--diff', path]
    proc = subprocess.run(argv + (['--check'] if check else []), capture_output=True, text=True, env=env, timeout=300, check=False)
    try:
        out = json.loads(proc.stdout[proc.stdout.index('{'):])
    except ValueError:
        raise AssertionError('no JSON from ansible-playbook rc=%d\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
    return out['plays'][0]['tasks'][0]['hosts']['localhost']


def _drop_to_nobody():
    os.setgroups([])
    os.setgid(NOGROUP)
    os.setuid(NOBODY)


def as_nobody(fn):
    """Run ``fn`` in a forked process as uid/gid nobody; fail the test if it raised."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _drop_to_nobody()
            fn()
            code = 0
        finally:
            os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, 'the process as nobody failed (status %d)' % status


def precreate(path, content=OLD):
    """nobody creates the config file, mode 0666."""
    def fn():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.write(fd, content)
        os.fchmod(fd, 0o666)
        os.close(fd)
    as_nobody(fn)


class Holder(object):
    """A process as nobody holding ``path`` open for writing (opened while the file was nobody's); ``write`` appends
    through that descriptor later and returns what it wrote."""

    def __init__(self, path):
        self.ready_r, ready_w = os.pipe()
        go_r, self.go_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                os.close(self.ready_r)
                os.close(self.go_w)
                _drop_to_nobody()
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                os.write(ready_w, b'r')
                os.read(go_r, 1)
                os.write(fd, b'masqLinkLocal: true\n')
                code = 0
            finally:
                os._exit(code)
        os.close(ready_w)
        os.close(go_r)
        assert os.read(self.ready_r, 1) == b'r', 'nobody could not open the file'

    def write(self):
        os.write(self.go_w, b'g')
        _pid, status = os.waitpid(self.pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


class Attacker(object):
    """A process as nobody that plants symbolic links to ``victim`` at ``PATH.PID.timestamp~`` (the old backup names)
    for every process running the module, for the seconds around now; it runs until ``stop``."""

    def __init__(self, path, victim):
        self.path = path
        self.pid = os.fork()
        if self.pid == 0:
            try:
                _drop_to_nobody()
                self._watch(path, victim)
            finally:
                os._exit(0)

    @staticmethod
    def _watch(path, victim):
        seen = set()
        while True:
            for entry in os.listdir('/proc'):
                if not entry.isdigit() or entry in seen:
                    continue
                try:
                    with open('/proc/%s/cmdline' % entry, 'rb') as f:
                        cmdline = f.read()
                except OSError:
                    continue
                if b'AnsiballZ_ip_masq_config' not in cmdline:
                    continue
                seen.add(entry)
                now = time.time()
                for i in range(-1, 8):
                    stamp = time.strftime('%Y-%m-%d@%H:%M:%S~', time.localtime(now + i))
                    try:
                        os.symlink(victim, '%s.%s.%s' % (path, entry, stamp))
                    except OSError:
                        pass
            time.sleep(0.002)

    def stop(self):
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        d = os.path.dirname(self.path)
        return set(os.path.join(d, n) for n in os.listdir(d) if os.path.islink(os.path.join(d, n)))


def assert_victim_untouched(base):
    victim = os.path.join(base, 'victim')
    st = os.lstat(victim)
    assert stat.S_ISREG(st.st_mode) and (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o600)
    with open(victim, 'rb') as f:
        assert f.read() == VICTIM


def owner_mode(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def test_non_sticky_world_writable_dir_refused_then_nobodys_file_replaced(base):
    """A 0777 directory without the sticky bit: nobody pre-creates the config 0666 and plants links at the backup
    names; the task (check mode and real, backup on) is refused naming the directory, and nothing is touched. Once the
    directory is root's 0755, nobody's file (still theirs, 0666, held open by them) is replaced by a new root-owned
    0644 file; the backup is a new regular root-owned file with nobody's content, and what nobody writes through the
    descriptor they held no longer reaches the config. Failed before: the old module accepted the 0777 directory (the
    first assertion); run for real, its backup went through a planted link onto the victim, handed it to nobody 0666,
    and the config stayed nobody's 0666."""
    d = shared_dir(base, 0o777)
    cfg = os.path.join(d, 'ip-masq-agent')
    precreate(cfg)
    args = dict(path=cfg, non_masquerade_cidrs=['10.0.0.0/8'], backup=True)
    attacker = Attacker(cfg, os.path.join(base, 'victim'))
    try:
        for check in (True, False):
            r = play(base, args, check=check)
            assert r.get('failed') is True, r
            assert r['msg'].startswith("path: refusing to write '%s': directory %s is writable by group and others (mode 0777) "
                                       "without the sticky bit;" % (cfg, d)), r['msg']
    finally:
        attacker.stop()
    assert_victim_untouched(base)
    assert owner_mode(cfg) == (NOBODY, NOGROUP, 0o666) and open(cfg, 'rb').read() == OLD
    assert all(os.path.islink(os.path.join(d, n)) for n in os.listdir(d) if n != 'ip-masq-agent')

    os.chmod(d, 0o755)
    for n in os.listdir(d):  # what the old module could have made: start clean
        if n != 'ip-masq-agent':
            os.unlink(os.path.join(d, n))
    holder = Holder(cfg)
    ino = os.lstat(cfg).st_ino
    r = play(base, args)
    assert r.get('changed') is True and not r.get('failed'), r
    assert owner_mode(cfg) == (0, 0, 0o644) and os.lstat(cfg).st_ino != ino
    backup = r['backup_file']
    assert os.path.dirname(backup) == d and backup != cfg
    assert stat.S_ISREG(os.lstat(backup).st_mode) and owner_mode(backup) == (0, 0, 0o644) and os.lstat(backup).st_nlink == 1
    assert open(backup, 'rb').read() == OLD
    holder.write()
    assert open(cfg).read() == NEW
    assert sorted(os.listdir(d)) == sorted(['ip-masq-agent', os.path.basename(backup)])
    assert_victim_untouched(base)
    r = play(base, dict(args, backup=False))
    assert r.get('changed') is False and owner_mode(cfg) == (0, 0, 0o644)


def test_sticky_dir_file_of_nobody_refused(base):
    """A 1777 directory (like /tmp): nobody pre-creates the config 0666 and plants links at the backup names; the
    task is refused (the file is not root's), in check mode too: the file stays as it was, no backup is made, the
    victim is untouched. Failed before: the old module did not refuse; its backup went through nobody's link, so the
    victim got nobody's config and was handed to nobody, mode 0666."""
    d = shared_dir(base, 0o1777)
    cfg = os.path.join(d, 'ip-masq-agent')
    precreate(cfg)
    attacker = Attacker(cfg, os.path.join(base, 'victim'))
    try:
        for check in (True, False):
            r = play(base, dict(path=cfg, non_masquerade_cidrs=['10.0.0.0/8'], backup=True), check=check)
            assert r.get('failed') is True, r
            assert r['msg'].startswith("path: refusing to write '%s': directory %s is writable by group and others (sticky) and the file "
                                       "is owned by uid %d (not root or the running user);" % (cfg, d, NOBODY)), r['msg']
        r = play(base, dict(path=cfg, state='absent', backup=True))
        assert r.get('failed') is True and 'is owned by uid %d' % NOBODY in r['msg']
    finally:
        planted = attacker.stop()
    assert_victim_untouched(base)
    assert owner_mode(cfg) == (NOBODY, NOGROUP, 0o666) and open(cfg, 'rb').read() == OLD
    assert set(os.path.join(d, n) for n in os.listdir(d)) == planted | {cfg}


def test_sticky_dir_backup_is_a_new_file_never_a_planted_link(base):
    """A 1777 directory holding root's config: nobody plants links to the victim at the backup names while the
    module runs with backup on; the victim is untouched, the backup is a new regular root-owned file with the old
    content and a name nobody planted, the config a new root-owned 0644 file. Failed before: the backup went through
    nobody's link, so the victim got the old config and the config's mode 0644 (readable by all)."""
    d = shared_dir(base, 0o1777)
    cfg = os.path.join(d, 'ip-masq-agent')
    with open(cfg, 'wb') as f:
        f.write(OLD)
    os.chmod(cfg, 0o644)
    attacker = Attacker(cfg, os.path.join(base, 'victim'))
    try:
        r = play(base, dict(path=cfg, non_masquerade_cidrs=['10.0.0.0/8'], backup=True))
    finally:
        planted = attacker.stop()
    assert r.get('changed') is True and not r.get('failed'), r
    assert_victim_untouched(base)
    backup = r['backup_file']
    assert backup not in planted and os.path.dirname(backup) == d
    assert re.match(re.escape(cfg) + r'\.[a-z0-9_]{8}\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$', backup), backup
    assert stat.S_ISREG(os.lstat(backup).st_mode) and owner_mode(backup) == (0, 0, 0o644) and os.lstat(backup).st_nlink == 1
    assert open(backup, 'rb').read() == OLD
    assert owner_mode(cfg) == (0, 0, 0o644) and open(cfg).read() == NEW
    assert set(os.path.join(d, n) for n in os.listdir(d)) == planted | {cfg, backup}


def test_sticky_dir_symlink_at_the_path_refused(base):
    """nobody plants the config path itself as a link to the victim in a 1777 directory: the task fails naming the
    path as a symbolic link; the victim is neither read (nothing of it in the result) nor written. Failed before: the
    old module followed the link, showed the victim's content in the diff, copied it into a backup and replaced the
    link."""
    d = shared_dir(base, 0o1777)
    cfg = os.path.join(d, 'ip-masq-agent')
    as_nobody(lambda: os.symlink(os.path.join(base, 'victim'), cfg))
    r = play(base, dict(path=cfg, non_masquerade_cidrs=['10.0.0.0/8'], backup=True))
    assert r.get('failed') is True and r['msg'] == "path: '%s' is a symbolic link; it is not followed, give the file itself" % cfg, r
    assert 'do-not-touch' not in json.dumps(r)
    assert os.readlink(cfg) == os.path.join(base, 'victim') and os.listdir(d) == ['ip-masq-agent']
    assert_victim_untouched(base)
