"""Hardening from the adversarial probe (issue 14): each case was reproduced against the code before and fails there.
Real iptables and nftables in network namespaces; the host program as systemd runs it (``bin/ip-masq-agent``)."""
import json
import os
import resource
import shutil
import subprocess
import sys

import pytest

from tests.lib.netns import AGENT, ROOT, Netns

GOOD = 'nonMasqueradeCIDRs: [10.0.0.0/8]\n'
MEMORY_LIMIT = 1 << 30  # what a bounded run fits in, with room to spare; the bombs below needed gigabytes


def limited():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def agent(*args, **kw):
    """The program outside any namespace (config checks), with bounded memory and time."""
    return subprocess.run([sys.executable, AGENT] + list(args), capture_output=True, text=True, timeout=120,
                          preexec_fn=limited, check=False, **kw)


def write(tmp_path, text, name='config'):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


# --- 2. bytes that are not UTF-8 --------------------------------------------------------------------------------------

def test_a_foreign_comment_that_is_not_utf8(ns, tmp_path):
    """Item 2: one foreign rule commented 'caf\\xe9' crashed every sync and status (UnicodeDecodeError)."""
    proc = subprocess.run(['ip', 'netns', 'exec', ns.name, 'iptables-restore', '--noflush'], env=ns.env, check=True,
                          input=b'*nat\n-A POSTROUTING -s 10.9.0.0/16 -m comment --comment caf\xe9 -j ACCEPT\nCOMMIT\n')
    assert proc.returncode == 0
    cfg, prom = write(tmp_path, GOOD), str(tmp_path / 'agent.prom')
    for command in ('sync', 'status'):
        r = ns.agent(command, '--config', cfg, '--metrics-file', prom)
        assert r.returncode == 0, r.stdout + r.stderr
    assert b'caf\xe9' in subprocess.run(['ip', 'netns', 'exec', ns.name, 'iptables-save', '-t', 'nat'], env=ns.env,
                                        capture_output=True, check=True).stdout
    assert 'ip_masq_agent_last_sync_success 1' in open(prom).read()


def test_an_interface_name_that_is_not_utf8(ns_nft, tmp_path):
    """Item 2: a default route through an interface named with a non-UTF-8 byte crashed sync before the chain was
    installed, and the metrics still said last_sync_success 1."""
    dev = b'd\xe9v0'
    for argv in ([b'ip', b'link', b'add', b'name', dev, b'type', b'veth', b'peer', b'name', b'p0'],
                 [b'ip', b'link', b'set', dev, b'up'], [b'ip', b'link', b'set', b'p0', b'up'],
                 [b'ip', b'addr', b'add', b'192.0.2.1/24', b'dev', dev], [b'ip', b'route', b'add', b'default', b'dev', dev]):
        subprocess.run([b'ip', b'netns', b'exec', ns_nft.name.encode()] + argv, check=True)
    cfg, prom = write(tmp_path, GOOD), str(tmp_path / 'agent.prom')
    r = ns_nft.agent('sync', '--config', cfg, '--metrics-file', prom)
    assert r.returncode == 0, r.stderr
    assert "the node's own subnet 192.0.2.0/24 is masqueraded" in r.stderr
    assert ':IP-MASQ-AGENT' in ns_nft.save() and 'ip_masq_agent_last_sync_success 1' in open(prom).read()


# --- 3. memory bombs --------------------------------------------------------------------------------------------------

def bomb(levels):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, levels):
        lines.append('a%d: &a%d [%s]' % (i, i, ', '.join(['*a%d' % (i - 1)] * 9)))
    lines.append('nonMasqueradeCIDRs: *a%d' % (levels - 1))
    return '\n'.join(lines) + '\n'


@pytest.mark.parametrize('levels', [9, 10])
def test_a_yaml_alias_bomb_is_refused_in_bounded_memory(tmp_path, levels):
    """Item 3: a 382-byte alias bomb cost 2.27 GB and 28 s (the error repr()'d the whole value); one level deeper
    was a MemoryError. Now: refused, exit 2, within the memory limit."""
    text = bomb(levels)
    assert len(text) < 600
    r = agent('check', '--config', write(tmp_path, text))
    assert r.returncode == 2 and 'values (YAML aliases?)' in r.stderr, r.stderr[-2000:]
    assert len(r.stderr) < 2000


def test_an_over_long_list_is_refused_before_its_items_are_parsed(tmp_path):
    """Item 3: cidrLimit was checked after every item was parsed (a 16 MiB file cost 3 GB)."""
    cidrs = ['10.%d.%d.0/24' % (i // 256 % 256, i % 256) for i in range(600000)]
    r = agent('check', '--config', write(tmp_path, json.dumps({'nonMasqueradeCIDRs': cidrs})))
    assert r.returncode == 2 and 'accepts up to 64 CIDRs (excluding link-local), but got 600000' in r.stderr


def test_many_unknown_keys_print_a_bounded_number_of_warnings(tmp_path):
    """Item 3: 1.44 M unknown keys printed 1.44 M warnings."""
    data = dict(('k%d' % i, i) for i in range(400000))
    data['nonMasqueradeCIDRs'] = ['10.0.0.0/8']
    r = agent('check', '--config', write(tmp_path, json.dumps(data)))
    assert r.returncode == 0 and len(r.stderr.splitlines()) == 21
    assert r.stderr.splitlines()[-1] == 'ip-masq-agent: warning: 399980 more unknown keys (ignored)'


def test_json_nested_deeply_is_a_config_error(tmp_path):
    """Item 9: JSON nested 1,000 deep gave a traceback and exit 1."""
    r = agent('check', '--config', write(tmp_path, '[' * 1000 + ']' * 1000))
    assert r.returncode == 2 and 'nested' in r.stderr and 'Traceback' not in r.stderr, r.stderr


# --- 4. the program imports only its own library ---------------------------------------------------------------------

def test_the_installed_program_imports_only_its_own_library(tmp_path):
    """Item 4: installed as /usr/local/sbin/ip-masq-agent, the program searched /usr/local/plugins/module_utils first:
    a file planted there ran as root. Also the script's own directory and PYTHONPATH."""
    top = tmp_path / 'usr-local'
    (top / 'sbin').mkdir(parents=True)
    shutil.copy(AGENT, str(top / 'sbin' / 'ip-masq-agent'))
    shutil.copytree(os.path.join(ROOT, 'plugins', 'module_utils', 'ipmasq'), str(top / 'lib' / 'ip-masq-agent' / 'ipmasq'))
    marker = tmp_path / 'planted-code-ran'
    evil = 'open(%r, "w").write("yes")\nfrom ipmasq.cli import *  # noqa\n' % str(marker)
    for planted in (top / 'plugins' / 'module_utils' / 'ipmasq', top / 'sbin' / 'ipmasq', tmp_path / 'pp' / 'ipmasq'):
        planted.mkdir(parents=True)
        (planted / '__init__.py').write_text(evil)
        (planted / 'cli.py').write_text(evil)
    # the distribution's python3 (with python3-yaml and python3-netaddr), as on a host; PYTHONPATH as an attacker sets it
    env = dict(os.environ, PYTHONPATH=str(tmp_path / 'pp'), PATH='/usr/sbin:/usr/bin:/sbin:/bin')
    r = subprocess.run([str(top / 'sbin' / 'ip-masq-agent'), 'check', '--config', write(tmp_path, GOOD)], env=env,
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0 and 'is valid' in r.stdout, r.stdout + r.stderr
    assert not marker.exists()


# --- 5. special files at the metrics path -----------------------------------------------------------------------------

@pytest.mark.parametrize('kind', ['fifo', 'directory'])
def test_a_special_file_at_the_metrics_path(ns_nft, tmp_path, kind):
    """Item 5: a FIFO at the metrics path hung the service after the rules were applied."""
    prom = str(tmp_path / 'agent.prom')
    os.mkfifo(prom) if kind == 'fifo' else os.mkdir(prom)
    r = ns_nft.run([sys.executable, AGENT, 'sync', '--config', write(tmp_path, GOOD), '--lock-file', ns_nft.lock,
                    '--metrics-file', prom], check=False, timeout=60)
    assert r.returncode == 0 and 'cannot write metrics file' in r.stderr and 'not a regular file' in r.stderr
    assert ':IP-MASQ-AGENT' in ns_nft.save()


def test_an_infinite_counter_read_back(ns_nft, tmp_path):
    """Item 5: a counter value of inf read back crashed every later run."""
    prom = tmp_path / 'agent.prom'
    prom.write_text('ip_masq_agent_syncs_total{result="success"} inf\nip_masq_agent_drift_repairs_total nan\n')
    r = ns_nft.agent('sync', '--config', write(tmp_path, GOOD), '--metrics-file', str(prom))
    assert r.returncode == 0, r.stderr
    text = prom.read_text()
    assert 'ip_masq_agent_syncs_total{result="success"} 1\n' in text and 'ip_masq_agent_drift_repairs_total 0\n' in text


# --- 6. a backend switch cleans up both ways ---------------------------------------------------------------------------

def test_switching_the_program_from_nftables_to_iptables_removes_the_table(ns_nft, tmp_path):
    """Item 6: after --backend nftables then --backend iptables, table inet ip-masq-agent stayed (still masquerading)
    and status said in sync."""
    cfg = write(tmp_path, GOOD)
    assert ns_nft.agent('sync', '--config', cfg, '--backend', 'nftables').returncode == 0
    r = ns_nft.agent('sync', '--config', cfg, '--backend', 'iptables')
    assert r.returncode == 0 and 'nftables: changed: delete table inet ip-masq-agent' in r.stdout, r.stdout
    assert 'ip-masq-agent' not in ns_nft.run(['nft', 'list', 'tables']).stdout
    ns_nft.run(['nft', '-f', '-'], input=ns_nft.agent('render', '--config', cfg, '--backend', 'nftables').stdout)
    st = ns_nft.agent('status', '--config', cfg, '--backend', 'iptables')
    assert st.returncode == 1 and 'nftables: drift in leftover inet ip-masq-agent' in st.stdout, st.stdout


# --- 7. a trailing newline ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('config,args', [
    ({'nonMasqueradeCIDRs': ['10.0.0.0/8\n']}, []),
    ({'snatToSource': '198.51.100.7\n'}, []),
    ({'masqueradeCIDRs': ['203.0.113.0/24\n']}, []),
    ({}, ['--masq-chain', 'IP-MASQ\n']),
], ids=['cidr', 'snat', 'masquerade-cidr', 'chain'])
@pytest.mark.parametrize('backend', ['iptables', 'nftables'])
def test_a_trailing_newline_is_refused_by_check_and_sync(ns_nft, tmp_path, config, args, backend):
    """Item 7: "10.0.0.0/8\\n" passed validation: check said valid, sync failed every run with exit 1 (nftables
    crashed on "\\n/8"), and ip_masq_config wrote a file the agent could not parse."""
    cfg = write(tmp_path, json.dumps(config))
    before = ns_nft.save()
    for command in ('check', 'sync'):
        r = ns_nft.agent(command, '--config', cfg, '--backend', backend, *args)
        assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert ns_nft.save() == before


# --- 9. the smaller ones ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('wait', ['nan', 'inf', '-1'])
def test_bad_wait_values_are_usage_errors(ns_nft, tmp_path, wait):
    r = ns_nft.agent('sync', '--config', write(tmp_path, GOOD), '--wait', wait)
    assert r.returncode == 2 and "--wait: expected a number of seconds, 0 or more, got '%s'" % wait in r.stderr


def test_a_directory_as_the_lock_path(ns_nft, tmp_path):
    r = ns_nft.agent('sync', '--config', write(tmp_path, GOOD), '--lock-file', str(tmp_path))
    assert r.returncode == 1 and 'cannot open the lock file %s' % tmp_path in r.stderr and 'Traceback' not in r.stderr


def test_a_missing_lock_directory_is_created_not_skipped(ns_nft, tmp_path):
    """Item 9: with the lock directory missing, locking was skipped silently (20 parallel runs then once left no
    jump at all)."""
    lock = str(tmp_path / 'run' / 'ip-masq-agent.lock')
    cfg = write(tmp_path, GOOD)
    procs = [subprocess.Popen(['ip', 'netns', 'exec', ns_nft.name, sys.executable, AGENT, 'sync', '--config', cfg,
                               '--lock-file', lock, '--wait', '60'], env=ns_nft.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _i in range(20)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    assert os.path.isfile(lock)
    assert sum(line.startswith('-A POSTROUTING') for line in ns_nft.save(counters=False).splitlines()) == 1


def test_an_unexpected_object_in_the_agents_table_is_drift_not_a_crash(tmp_path):
    """Item 9: an unexpected element in the agent's nft table crashed sync."""
    ns = Netns('nft', str(tmp_path))
    try:
        cfg = write(tmp_path, GOOD)
        assert ns.agent('sync', '--config', cfg, '--backend', 'nftables').returncode == 0
        ns.run(['nft', 'add', 'map', 'inet', 'ip-masq-agent', 'extra', '{ type ipv4_addr : verdict; }'])
        ns.run(['nft', 'add', 'counter', 'inet', 'ip-masq-agent', 'stray'])
        st = ns.agent('status', '--config', cfg, '--backend', 'nftables')
        assert st.returncode == 1 and 'Traceback' not in st.stderr, st.stdout + st.stderr
        assert ns.agent('sync', '--config', cfg, '--backend', 'nftables').returncode == 0
        table = ns.run(['nft', 'list', 'table', 'inet', 'ip-masq-agent']).stdout
        assert 'extra' not in table and 'stray' not in table
    finally:
        ns.delete()


def test_a_resync_interval_under_a_millisecond_still_schedules_the_timer():
    """Item 9: resyncInterval: 1ns rendered OnUnitActiveSec=0ms (a timer that never fires again)."""
    import jinja2
    path = os.path.join(ROOT, 'roles', 'ip_masq_agent', 'templates', 'ip-masq-agent.timer.j2')
    with open(path) as f:
        template = jinja2.Template(f.read())
    for seconds, want in ((1e-9, '1ms'), (0.0005, '1ms'), (1.5, '1500ms'), (60.0, '60000ms')):
        text = template.render(ansible_managed='x', __ip_masq_agent_config={'resync_interval_seconds': seconds})
        assert 'OnUnitActiveSec=%s\n' % want in text


def test_a_command_that_never_ends_is_killed(ns_nft, tmp_path):
    """Item 9: no timeout on iptables/nft calls: an iptables-save that never returns held the run (and the lock)."""
    stuck = os.path.join(ns_nft.bindir, 'iptables-save')
    os.unlink(stuck)
    with open(stuck, 'w') as f:
        f.write('#!/bin/sh\nexec sleep 1000\n')
    os.chmod(stuck, 0o755)
    r = ns_nft.run([sys.executable, AGENT, 'sync', '--config', write(tmp_path, GOOD), '--lock-file', ns_nft.lock,
                    '--wait', '0'], check=False, timeout=120)
    assert r.returncode == 1 and 'iptables-save did not finish within 20 s; it was killed' in r.stderr, r.stderr


def test_the_config_is_read_once_the_lock_is_held(ns_nft, tmp_path):
    """Item 9: the config was read before the lock was taken, so a run queued behind another applied content that had
    been replaced on disk while it waited."""
    import fcntl
    import time
    cfg = write(tmp_path, 'nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    lock = os.open(ns_nft.lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)
    waiting = subprocess.Popen(['ip', 'netns', 'exec', ns_nft.name, sys.executable, AGENT, 'sync', '--config', cfg,
                                '--lock-file', ns_nft.lock, '--wait', '60'], env=ns_nft.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not any(os.path.realpath(os.path.join('/proc/%d/fd' % waiting.pid, fd)) == ns_nft.lock
                      for fd in os.listdir('/proc/%d/fd' % waiting.pid)):
            assert waiting.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        write(tmp_path, 'nonMasqueradeCIDRs: [192.168.0.0/16]\n')
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    live = ns_nft.save(counters=False)
    assert '-d 192.168.0.0/16' in live and '-d 10.0.0.0/8' not in live
