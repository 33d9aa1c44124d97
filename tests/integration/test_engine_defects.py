"""Regression tests for the seven defects of the doubled sync (issue "One engine"), on real iptables and nftables in
network namespaces. Each failed on the code before the engine: the module and the host program decided families,
--random-fully, clean-up and jumps each in their own way.
"""
import os
import subprocess
import sys
import time

from tests.integration.test_modules_playbooks import play
from tests.lib.netns import AGENT

ARGS_FILE = 'ip-masq-agent.args'


def role_flow(ns, config, **chain):
    """What the role does: write the config, then ip_masq_chain writes the program's arguments and applies."""
    cfg = os.path.join(ns.tmpdir, 'config')
    args = os.path.join(ns.tmpdir, ARGS_FILE)
    tasks = [{'ipmasq.agent.ip_masq_config': dict(config, path=cfg, ip_version=chain.get('ip_version', 'ipv4')),
              'register': 'c'},
             {'ipmasq.agent.ip_masq_chain': dict(chain, config='{{ c.config }}', args_file=args)}]
    return play(ns, tasks), cfg, args


def timer_run(ns, cfg, args, command='sync'):
    """What the timer runs (the service's ExecStart)."""
    return ns.agent(command, '--config', cfg, '--args-file', args)


def holds_open(pid, path):
    fds = '/proc/%d/fd' % pid
    try:
        return any(os.readlink(os.path.join(fds, fd)) == path for fd in os.listdir(fds))
    except OSError:
        return False


def test_defect1_ipv6_only_is_the_same_for_the_play_and_the_timer(ns):
    """ip_version: ipv6 managed ip6tables in the play but IPv4 and IPv6 in the timer (--enable-ipv6), and absent left
    the IPv4 chain behind."""
    results, cfg, args = role_flow(ns, {'non_masquerade_cidrs': ['fd00::/8']}, ip_version='ipv6')
    assert results[1]['changed'] and set(results[1]['actions']) == {'ipv6'}
    run = timer_run(ns, cfg, args)
    assert run.returncode == 0 and run.stdout == 'ipv6: in sync, nothing written\n', run.stdout + run.stderr
    assert 'IP-MASQ-AGENT' not in ns.save('ipv4') and 'IP-MASQ-AGENT' in ns.save('ipv6')
    play(ns, [{'ipmasq.agent.ip_masq_chain': {'state': 'absent', 'ip_version': 'ipv6'}}])
    assert 'IP-MASQ-AGENT' not in ns.save('ipv4') + ns.save('ipv6')


def test_defect3_reserved_ranges_flag_takes_effect(ns):
    """The role's nomasq_all_reserved_ranges had no effect: ip_masq_config always wrote an explicit list."""
    results, cfg, args = role_flow(ns, {}, nomasq_all_reserved_ranges=True)
    assert 'nonMasqueradeCIDRs' not in open(cfg).read()
    live = ns.save(counters=False)
    for cidr in ('100.64.0.0/10', '198.18.0.0/15', '240.0.0.0/4', '10.0.0.0/8'):
        assert '-d %s ' % cidr in live, live
    assert '--nomasq-all-reserved-ranges' in open(args).read().splitlines()
    run = timer_run(ns, cfg, args)
    assert run.stdout == 'ipv4: in sync, nothing written\n', run.stdout + run.stderr


def test_defect5_a_waiting_timer_run_reads_the_settings_of_the_run_before_it(ns, tmp_path):
    """A rename: the timer fired with the old arguments while the play applied the new chain, and re-created the
    old chain. The program now reads its arguments once it holds the host lock."""
    import fcntl
    cfg = tmp_path / 'config'
    cfg.write_text('nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    args = tmp_path / ARGS_FILE
    args.write_text('--masq-chain=OLD-CHAIN\n')
    assert ns.agent('sync', '--config', str(cfg), '--args-file', str(args)).returncode == 0
    lock = os.open(ns.lock, os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # the play holds the lock ...
    waiting = subprocess.Popen(['ip', 'netns', 'exec', ns.name, sys.executable, AGENT, 'sync', '--config', str(cfg),
                                '--args-file', str(args), '--lock-file', ns.lock, '--wait', '60'],
                               env=ns.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not holds_open(waiting.pid, ns.lock):  # ... and the timer run is queued behind it
            assert waiting.poll() is None and time.monotonic() < deadline, waiting.communicate()
            time.sleep(0.02)
        args.write_text('--masq-chain=NEW-CHAIN\n')  # the play writes the new arguments, applies, and lets go
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, out + err
    live = ns.save(counters=False)
    assert ':NEW-CHAIN' in live and 'OLD-CHAIN' not in live, live
    assert sum(l.startswith('-A POSTROUTING') for l in live.splitlines()) == 1


def test_defect6_duplicate_jumps_keep_the_earliest(ns, tmp_path):
    """Two identical jumps around Docker's rule: the duplicate removal deleted the first (by rule spec) and kept the
    one after Docker's rule."""
    cfg = tmp_path / 'config'
    cfg.write_text('nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    assert ns.agent('sync', '--config', str(cfg)).returncode == 0
    jump = [l for l in ns.save(counters=False).splitlines() if l.startswith('-A POSTROUTING')][0]
    docker = '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE'
    ns.restore('*nat\n%s\n%s\nCOMMIT\n' % (docker, jump))
    assert [l for l in ns.save(counters=False).splitlines() if l.startswith('-A POSTROUTING')] == [jump, docker, jump]
    r = ns.agent('sync', '--config', str(cfg))
    assert r.returncode == 0 and 'replace POSTROUTING jumps (2)' in r.stdout, r.stdout
    assert [l for l in ns.save(counters=False).splitlines() if l.startswith('-A POSTROUTING')] == [jump, docker]


def test_defect7_status_reports_the_iptables_chain_left_by_a_switch(ns_nft, tmp_path):
    """After a switch to nftables, status said in sync while the old iptables chain still masqueraded."""
    cfg = tmp_path / 'config'
    cfg.write_text('nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    assert ns_nft.agent('sync', '--config', str(cfg), '--lock-file', '-').returncode == 0
    table = ns_nft.agent('render', '--config', str(cfg), '--backend', 'nftables').stdout
    ns_nft.run(['nft', '-f', '-'], input=table)
    st = ns_nft.agent('status', '--config', str(cfg), '--backend', 'nftables')
    assert st.returncode == 1 and 'ipv4: drift in leftover IP-MASQ-AGENT' in st.stdout, st.stdout
    assert ns_nft.agent('sync', '--config', str(cfg), '--backend', 'nftables').returncode == 0
    assert 'IP-MASQ-AGENT' not in ns_nft.save()
    assert ns_nft.agent('status', '--config', str(cfg), '--backend', 'nftables').returncode == 0
