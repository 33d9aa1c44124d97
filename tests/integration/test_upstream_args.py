"""Issue 10, "arguments as written": ``ip-masq-agent sync`` given a flag the way an upstream DaemonSet writes it (Go
``flag`` syntax, klog's flags) leaves exactly the nat tables (``iptables-save -t nat`` and ``ip6tables-save -t nat``)
that the equivalent long options leave, each run in its own fresh network namespace, on iptables-nft and
iptables-legacy; and a real upstream DaemonSet's args list works through ``--args-file``.

Every test here fails on the code before issue 10: the program refused each upstream form with exit 2.
"""
import pytest

from tests.lib.netns import Netns

FORMS = [
    # (upstream's spelling, our long options)
    (['--random-fully=false'], ['--no-random-fully']),
    (['--random-fully=true'], ['--random-fully']),
    (['--enable-ipv6=false'], ['--ip-version=ipv4']),
    (['--enable-ipv6=true'], ['--ip-version=both']),
    (['--nomasq-all-reserved-ranges=false'], ['--no-nomasq-all-reserved-ranges']),
    (['--nomasq-all-reserved-ranges=true'], ['--nomasq-all-reserved-ranges']),
    (['-masq-chain=IP-MASQ'], ['--masq-chain=IP-MASQ']),
    (['-masq-chain', 'IP-MASQ'], ['--masq-chain', 'IP-MASQ']),
    (['-to-ports=32768-65535'], ['--to-ports=32768-65535']),
    (['-v=2', '--logtostderr'], []),
    (['--masq-chain=IP-MASQ', '--nomasq-all-reserved-ranges=false', '-v=2', '--enable-ipv6=true'],
     ['--masq-chain=IP-MASQ', '--ip-version=both']),
]
# A real upstream DaemonSet's args (GKE's ip-masq-agent v2.12.6 manifest, Dataplane V2), as written, with its comments.
GKE_ARGS_FILE = '''# The masq-chain must be IP-MASQ
--v=2
--logtostderr=false
--log_file=/dev/stdout
--log_file_max_size=0
--masq-chain=IP-MASQ
# Must be set to false when using Dataplane V2.
--random-fully=false
'''


def nat(ns):
    """Both families' nat tables, without counters and comment lines."""
    return ns.save('ipv4', counters=False) + ns.save('ipv6', counters=False)


def fresh(ns, tmp_path, name):
    return Netns(ns.backend, str(tmp_path / name))


@pytest.mark.parametrize('upstream, ours', FORMS, ids=[' '.join(f[0]) for f in FORMS])
def test_upstream_form_leaves_the_long_options_nat_table(ns, tmp_path, upstream, ours):
    """Sync with the upstream form in one namespace, with the long options in another: the same nat tables, and each
    reads the other's spelling as in sync. Before issue 10 the upstream form exited 2 and wrote nothing."""
    config = str(tmp_path / 'none')  # no config file: upstream's defaults, where the reserved ranges flag shows
    other = fresh(ns, tmp_path, 'long')
    try:
        a = ns.agent('sync', '--config', config, *upstream)
        assert a.returncode == 0, a.stderr
        b = other.agent('sync', '--config', config, *ours)
        assert b.returncode == 0, b.stderr
        assert 'changed' in a.stdout and a.stdout == b.stdout
        assert nat(ns) == nat(other)
        again = ns.agent('sync', '--config', config, *ours)
        assert again.returncode == 0 and 'changed' not in again.stdout, again.stdout + again.stderr
    finally:
        other.delete()


def test_daemonset_args_through_args_file(ns, tmp_path):
    """GKE's DaemonSet args list, pasted into the argument file, leaves the nat tables of ``--masq-chain=IP-MASQ
    --no-random-fully`` and one note names the klog flags it ignored. Before issue 10: exit 2 at ``--v=2``."""
    config = tmp_path / 'config'
    config.write_text('nonMasqueradeCIDRs: [10.0.0.0/8, 100.64.0.0/10]\nresyncInterval: 60s\n')
    args = tmp_path / 'args'
    args.write_text(GKE_ARGS_FILE)
    other = fresh(ns, tmp_path, 'long')
    try:
        a = ns.agent('sync', '--config', str(config), '--args-file', str(args))
        assert a.returncode == 0, a.stderr
        assert a.stderr == ('ip-masq-agent: note: ignoring klog flags: --v=2, --logtostderr=false, --log_file=/dev/stdout, '
                            '--log_file_max_size=0\n')
        b = other.agent('sync', '--config', str(config), '--masq-chain=IP-MASQ', '--no-random-fully')
        assert b.returncode == 0, b.stderr
        live = nat(ns)
        assert live == nat(other)
        assert ':IP-MASQ - [0:0]' in live and '--random-fully' not in live
    finally:
        other.delete()
