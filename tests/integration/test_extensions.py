"""Beyond upstream, on real iptables / nftables in throwaway network namespaces."""
import pytest

from tests.lib.netns import Netns


@pytest.fixture
def nsn(tmp_path):
    n = Netns('nft', str(tmp_path))
    yield n
    n.delete()


def cfgfile(tmp_path, text):
    p = tmp_path / 'config'
    p.write_text(text)
    return str(p)


FOREIGN_NFT = '\n'.join([
    'table ip user-filter {',
    '    counter seen { packets 42 bytes 4200 }',
    '    chain out {',
    '        type filter hook output priority 0; policy accept;',
    '        ip daddr 203.0.113.9 counter packets 7 bytes 700 accept',
    '    }',
    '}', ''])


def nft_list(ns, *what):
    return ns.run(['nft', 'list'] + list(what)).stdout


def test_nftables_backend_idempotent_and_leaves_other_tables(nsn, tmp_path):
    nsn.run(['nft', '-f', '-'], input=FOREIGN_NFT)
    nsn.restore('*nat\n:KUBE-POSTROUTING - [0:0]\n[3:180] -A POSTROUTING -j KUBE-POSTROUTING\nCOMMIT\n', counters=True)
    foreign_before = nft_list(nsn, 'table', 'ip', 'user-filter')
    ipt_before = nsn.save()
    cfg = cfgfile(tmp_path, 'nonMasqueradeCIDRs: [10.0.0.0/8, 100.64.0.0/10]\n')
    r = nsn.agent('sync', '--backend', 'nftables', '--config', cfg)
    assert r.returncode == 0, r.stderr
    assert 'create table inet ip-masq-agent' in r.stdout
    table = nft_list(nsn, 'table', 'inet', 'ip-masq-agent')
    assert 'ip daddr @nomasq4 return' in table and 'masquerade fully-random' in table
    assert '100.64.0.0/10' in table
    gen = nsn.run(['nft', 'list', 'ruleset']).stdout
    r2 = nsn.agent('sync', '--backend', 'nftables', '--config', cfg)
    assert 'in sync, nothing written' in r2.stdout
    assert nsn.run(['nft', 'list', 'ruleset']).stdout == gen
    assert nft_list(nsn, 'table', 'ip', 'user-filter') == foreign_before
    assert nsn.save() == ipt_before  # the iptables-nft nat table (kube-proxy's) with its counters
    assert nsn.agent('status', '--backend', 'nftables', '--config', cfg).returncode == 0


@pytest.mark.parametrize('damage', [['flush', 'set', 'inet', 'ip-masq-agent', 'nomasq4'],
                                    ['flush', 'chain', 'inet', 'ip-masq-agent', 'postrouting'],
                                    ['delete', 'table', 'inet', 'ip-masq-agent'],
                                    ['add', 'element', 'inet', 'ip-masq-agent', 'nomasq4', '{ 198.51.100.0/24 }']])
def test_nftables_drift_repaired(nsn, tmp_path, damage):
    cfg = cfgfile(tmp_path, 'nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    assert nsn.agent('sync', '--backend', 'nftables', '--config', cfg).returncode == 0
    good = nft_list(nsn, 'table', 'inet', 'ip-masq-agent')
    nsn.run(['nft'] + damage)
    st = nsn.agent('status', '--backend', 'nftables', '--config', cfg)
    assert st.returncode == 1 and 'drift' in st.stdout
    assert nsn.agent('sync', '--backend', 'nftables', '--config', cfg).returncode == 0
    assert nft_list(nsn, 'table', 'inet', 'ip-masq-agent') == good


def test_switch_iptables_to_nftables_removes_old_chain(nsn, tmp_path):
    cfg = cfgfile(tmp_path, 'nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    assert nsn.agent('sync', '--config', cfg).returncode == 0
    assert 'IP-MASQ-AGENT' in nsn.save()
    r = nsn.agent('sync', '--backend', 'nftables', '--config', cfg)
    assert r.returncode == 0 and 'ipv4: changed: delete POSTROUTING jump to IP-MASQ-AGENT; delete chain IP-MASQ-AGENT' in r.stdout
    assert 'IP-MASQ-AGENT' not in nsn.save()


def test_auto_backend_choice(tmp_path):
    cfg = cfgfile(tmp_path, 'nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    fresh = Netns('nft', str(tmp_path / 'a'))
    used = Netns('nft', str(tmp_path / 'b'))
    try:
        r = fresh.agent('sync', '--backend', 'auto', '--config', cfg)
        assert r.returncode == 0 and r.stdout.startswith('nftables:'), r.stdout
        used.restore('*nat\n:DOCKER - [0:0]\n-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\nCOMMIT\n')
        r = used.agent('sync', '--backend', 'auto', '--config', cfg)
        assert r.returncode == 0 and r.stdout.startswith('ipv4:'), r.stdout
        # stays where it is on the next run
        assert used.agent('sync', '--backend', 'auto', '--config', cfg).stdout.startswith('ipv4: in sync')
        assert fresh.agent('sync', '--backend', 'auto', '--config', cfg).stdout.startswith('nftables: in sync')
    finally:
        fresh.delete()
        used.delete()


@pytest.mark.parametrize('text', [
    'nonMasqueradeCIDRs: []\nsnatToSource: 198.51.100.7\n',
    'nonMasqueradeCIDRs: [10.0.0.0/8]\nmasqueradeCIDRs: [203.0.113.0/24, 198.51.100.0/24]\n',
    'nonMasqueradeCIDRs: [10.0.0.0/9, 10.128.0.0/9, 10.5.0.0/16]\naggregate: true\n',
])
@pytest.mark.parametrize('backend', ['iptables', 'nftables'])
def test_extensions_idempotent_on_both_backends(nsn, tmp_path, text, backend):
    cfg = cfgfile(tmp_path, text)
    r = nsn.agent('sync', '--backend', backend, '--config', cfg)
    assert r.returncode == 0, r.stderr
    r2 = nsn.agent('sync', '--backend', backend, '--config', cfg)
    assert 'nothing written' in r2.stdout, r2.stdout + r2.stderr
    live = nsn.save() if backend == 'iptables' else nft_list(nsn, 'table', 'inet', 'ip-masq-agent')
    if 'snat' in text:
        assert ('SNAT --to-source 198.51.100.7 --random-fully' in live) or ('snat ip to 198.51.100.7' in live)
    if 'aggregate' in text:
        assert '10.0.0.0/8' in live and '10.5.0.0' not in live and '10.128.0.0' not in live
        assert 'aggregate: 2 rules saved' in r.stderr
    if 'masqueradeCIDRs' in text:
        assert '203.0.113.0/24' in live and 'must be last in chain' not in live


def test_jump_position_first(ns, tmp_path):
    ns.restore('*nat\n-A POSTROUTING -o eth9 -j ACCEPT\nCOMMIT\n')
    cfg = cfgfile(tmp_path, 'nonMasqueradeCIDRs: [10.0.0.0/8]\njumpPosition: first\n')
    assert ns.agent('sync', '--config', cfg).returncode == 0
    post = [l for l in ns.save(counters=False).splitlines() if l.startswith('-A POSTROUTING')]
    assert post[0].endswith('-j IP-MASQ-AGENT') and post[1] == '-A POSTROUTING -o eth9 -j ACCEPT'
    assert 'nothing written' in ns.agent('sync', '--config', cfg).stdout
    ns.run(['iptables', '-t', 'nat', '-I', 'POSTROUTING', '1', '-o', 'eth8', '-j', 'ACCEPT'])
    assert ns.agent('status', '--config', cfg).returncode == 1
    assert ns.agent('sync', '--config', cfg).returncode == 0
    post = [l for l in ns.save(counters=False).splitlines() if l.startswith('-A POSTROUTING')]
    assert post[0].endswith('-j IP-MASQ-AGENT') and len(post) == 3


def test_required_cidrs_refuse_before_touching(ns, tmp_path):
    good = cfgfile(tmp_path, 'nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    assert ns.agent('sync', '--config', good).returncode == 0
    before = ns.save()
    bad = tmp_path / 'bad'
    bad.write_text('nonMasqueradeCIDRs: [10.0.0.0/20]\nrequiredCIDRs: [10.0.0.0/20, 10.4.0.0/14]\n')
    r = ns.agent('sync', '--config', str(bad))
    assert r.returncode == 2 and 'requiredCIDRs' in r.stderr and '10.4.0.0/14' in r.stderr
    assert ns.save() == before


def test_metrics_file(nsn, tmp_path):
    cfg = cfgfile(tmp_path, 'nonMasqueradeCIDRs: [10.0.0.0/8]\n')
    prom = str(tmp_path / 'ip_masq_agent.prom')
    assert nsn.agent('sync', '--config', cfg, '--metrics-file', prom).returncode == 0
    nsn.run(['iptables', '-t', 'nat', '-F', 'IP-MASQ-AGENT'])
    assert nsn.agent('sync', '--config', cfg, '--metrics-file', prom).returncode == 0
    (tmp_path / 'config').write_text('nonMasqueradeCIDRs: [10.0.0.1/8]\n')
    assert nsn.agent('sync', '--config', cfg, '--metrics-file', prom).returncode == 2
    text = open(prom).read()
    assert 'ip_masq_agent_drift_repairs_total 1' in text
    assert 'ip_masq_agent_config_errors_total 1' in text
    assert 'ip_masq_agent_last_sync_success 0' in text
    assert 'ip_masq_agent_rules{backend="iptables",family="ipv4"} 3' in text
