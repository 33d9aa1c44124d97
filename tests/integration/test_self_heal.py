"""Self-heal on both backends: each kind of tampering with the agent's own rules, sets, jump and table is reported by
``status`` (exit 1) and undone by one ``sync``, which leaves exactly what a fresh sync leaves; a second ``status`` is in
sync. Real iptables (nft and legacy) and nftables in network namespaces.
"""
import pytest

from tests.lib.netns import Netns

CONFIG = 'nonMasqueradeCIDRs: [10.0.0.0/8, 192.168.0.0/16]\n'
CHAIN = 'IP-MASQ-AGENT'
RET = '"ip-masq-agent: local traffic is not subject to MASQUERADE"'
MASQ = '"ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)"'
JUMP = ('-m comment --comment "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our '
        'custom IP-MASQ-AGENT chain"')

# iptables: (name, commands run in the namespace after a fresh sync)
IPTABLES_TAMPERING = [
    ('return-match-widened-comment-kept',
     [['iptables', '-t', 'nat', '-R', CHAIN, '2', '-d', '0.0.0.0/0', '-m', 'comment', '--comment', RET[1:-1],
       '-j', 'RETURN']]),
    ('random-fully-dropped',
     [['iptables', '-t', 'nat', '-R', CHAIN, '4', '-m', 'comment', '--comment', MASQ[1:-1], '-j', 'MASQUERADE']]),
    ('foreign-rule-inserted-in-our-chain', [['iptables', '-t', 'nat', '-I', CHAIN, '1', '-j', 'ACCEPT']]),
    ('foreign-rule-appended-to-our-chain', [['iptables', '-t', 'nat', '-A', CHAIN, '-d', '8.8.8.8', '-j', 'RETURN']]),
    ('rules-reordered', [['iptables', '-t', 'nat', '-D', CHAIN, '2'],
                         ['iptables', '-t', 'nat', '-A', CHAIN, '-d', '10.0.0.0/8', '-m', 'comment', '--comment',
                          RET[1:-1], '-j', 'RETURN']]),
    ('rule-deleted', [['iptables', '-t', 'nat', '-D', CHAIN, '3']]),
    ('masquerade-deleted', [['iptables', '-t', 'nat', '-D', CHAIN, '4']]),
    ('chain-flushed', [['iptables', '-t', 'nat', '-F', CHAIN]]),
    ('jump-deleted', [['iptables', '-t', 'nat', '-D', 'POSTROUTING', '1']]),
    ('jump-duplicated', [['iptables', '-t', 'nat', '-I', 'POSTROUTING', '1', '-m', 'comment', '--comment',
                          JUMP.split('"')[1], '-m', 'addrtype', '!', '--dst-type', 'LOCAL', '-j', CHAIN]]),
    ('jump-addrtype-dropped-comment-kept',
     [['iptables', '-t', 'nat', '-R', 'POSTROUTING', '1', '-m', 'comment', '--comment',
       JUMP.split('"')[1], '-j', CHAIN]]),
    ('chain-and-jump-deleted', [['iptables', '-t', 'nat', '-D', 'POSTROUTING', '1'],
                                ['iptables', '-t', 'nat', '-F', CHAIN], ['iptables', '-t', 'nat', '-X', CHAIN]]),
]

T = ['nft']
TBL = ['inet', 'ip-masq-agent']


def handle(ns, needle):
    for line in ns.run(['nft', '-a', 'list', 'chain', 'inet', 'ip-masq-agent', 'postrouting']).stdout.splitlines():
        if needle in line:
            return line.rsplit('# handle ', 1)[1].strip()
    raise AssertionError('no rule with %r' % needle)


NFT_TAMPERING = [
    ('return-match-widened-comment-kept',
     lambda ns: [T + ['replace', 'rule'] + TBL + ['postrouting', 'handle', handle(ns, '@nomasq4'), 'ip', 'daddr',
                                                  '0.0.0.0/0', 'return', 'comment', RET]]),
    ('fully-random-dropped',
     lambda ns: [T + ['replace', 'rule'] + TBL + ['postrouting', 'handle', handle(ns, 'masquerade fully-random'),
                                                  'meta', 'nfproto', 'ipv4', 'masquerade', 'comment', MASQ]]),
    ('masquerade-turned-into-accept',
     lambda ns: [T + ['replace', 'rule'] + TBL + ['postrouting', 'handle', handle(ns, 'masquerade fully-random'),
                                                  'meta', 'nfproto', 'ipv4', 'accept', 'comment', MASQ]]),
    ('set-element-added', lambda ns: [T + ['add', 'element'] + TBL + ['nomasq4', '{ 8.8.8.0/24 }']]),
    ('set-element-removed', lambda ns: [T + ['delete', 'element'] + TBL + ['nomasq4', '{ 192.168.0.0/16 }']]),
    ('foreign-rule-inserted', lambda ns: [T + ['insert', 'rule'] + TBL + ['postrouting', 'accept']]),
    ('foreign-rule-with-our-comment',
     lambda ns: [T + ['add', 'rule'] + TBL + ['postrouting', 'ip', 'daddr', '8.8.8.8', 'return', 'comment', RET]]),
    ('foreign-chain-added', lambda ns: [T + ['add', 'chain'] + TBL + ['extra']]),
    ('foreign-set-added', lambda ns: [T + ['add', 'set'] + TBL + ['extra', '{ type ipv4_addr; }']]),
    ('rule-deleted', lambda ns: [T + ['delete', 'rule'] + TBL + ['postrouting', 'handle', handle(ns, '@nomasq4')]]),
    ('rules-reordered',
     lambda ns: [T + ['delete', 'rule'] + TBL + ['postrouting', 'handle', handle(ns, 'fib daddr')],
                 T + ['add', 'rule'] + TBL + ['postrouting', 'fib', 'daddr', 'type', 'local', 'return', 'comment',
                                              '"ip-masq-agent: local destinations are not subject to MASQUERADE"']]),
    ('chain-policy-changed',
     lambda ns: [T + ['add', 'chain'] + TBL + ['postrouting', '{ type nat hook postrouting priority srcnat; '
                                                              'policy drop; }']]),
    ('set-flushed', lambda ns: [T + ['flush', 'set'] + TBL + ['nomasq4']]),
    ('table-deleted', lambda ns: [T + ['delete', 'table'] + TBL]),
]


def state(ns, backend):
    if backend == 'nftables':
        proc = ns.run(['nft', 'list', 'table', 'inet', 'ip-masq-agent'], check=False)
        return proc.stdout if proc.returncode == 0 else '<no table>'
    return ns.save(counters=False)


def heal(ns, tmp_path, backend, tamper):
    cfg = tmp_path / 'config'
    cfg.write_text(CONFIG)
    args = ['--config', str(cfg), '--backend', backend]
    assert ns.agent('sync', *args).returncode == 0
    fresh = state(ns, backend)
    for argv in tamper(ns) if callable(tamper) else tamper:
        ns.run(argv)
    assert state(ns, backend) != fresh, 'the tampering changed nothing'
    st = ns.agent('status', *args)
    assert st.returncode == 1 and 'drift' in st.stdout, st.stdout + st.stderr
    fix = ns.agent('sync', *args)
    assert fix.returncode == 0 and 'changed' in fix.stdout, fix.stdout + fix.stderr
    assert state(ns, backend) == fresh
    st2 = ns.agent('status', *args)
    assert st2.returncode == 0 and 'in sync' in st2.stdout, st2.stdout


@pytest.mark.parametrize('name,commands', IPTABLES_TAMPERING, ids=[t[0] for t in IPTABLES_TAMPERING])
def test_iptables_tampering_reported_and_undone(ns, tmp_path, name, commands):
    heal(ns, tmp_path, 'iptables', commands)


@pytest.mark.parametrize('name,commands', NFT_TAMPERING, ids=[t[0] for t in NFT_TAMPERING])
def test_nftables_tampering_reported_and_undone(tmp_path, name, commands):
    ns = Netns('nft', str(tmp_path))
    try:
        heal(ns, tmp_path, 'nftables', commands)
    finally:
        ns.delete()
