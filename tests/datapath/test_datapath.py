"""Real packets through a masquerading node: the source address each destination sees on a TCP connection."""
from tests.lib.topology import NODE_ADDRS, POD4, POD6

CFG = 'nonMasqueradeCIDRs: [10.0.0.0/8]\n'


def test_non_masquerade_destination_sees_pod_address(topo):
    """Does: sync nonMasqueradeCIDRs [10.0.0.0/8]; connect pod -> 10.20.0.10. Asserts: dst sees the Pod address."""
    topo.sync(CFG)
    assert topo.seen_from('10.20.0.10') == POD4


def test_other_destinations_see_node_address(topo):
    """Does: same config; connect pod -> 203.0.113.10 and 198.51.100.10. Asserts: both see the node's address."""
    topo.sync(CFG)
    for dst in ('203.0.113.10', '198.51.100.10'):
        seen = topo.seen_from(dst)
        assert seen != POD4 and seen in NODE_ADDRS, seen


def test_link_local_not_masqueraded_by_default(topo):
    """Does: masqLinkLocal false (default); connect pod -> 169.254.1.10. Asserts: dst sees the Pod address."""
    topo.sync(CFG)
    assert topo.seen_from('169.254.1.10') == POD4


def test_link_local_masqueraded_with_masq_link_local(topo):
    """Does: masqLinkLocal true; connect pod -> 169.254.1.10. Asserts: dst sees the node's address."""
    topo.sync(CFG + 'masqLinkLocal: true\n')
    seen = topo.seen_from('169.254.1.10')
    assert seen != POD4 and seen in NODE_ADDRS, seen


def test_config_change_applies_to_new_connections(topo):
    """Does: sync [10.0.0.0/8], then [203.0.113.0/24] and sync again; new connections (new source ports, so new
    conntrack entries: existing flows keep the NAT they started with, by design of conntrack).
    Asserts: after the change 203.0.113.10 sees the Pod address and 10.20.0.10 sees the node's."""
    topo.sync(CFG)
    assert topo.seen_from('203.0.113.10') != POD4
    topo.sync('nonMasqueradeCIDRs: [203.0.113.0/24]\n')
    assert topo.seen_from('203.0.113.10') == POD4
    seen = topo.seen_from('10.20.0.10')
    assert seen != POD4 and seen in NODE_ADDRS, seen


def test_ipv6(topo):
    """Does: --enable-ipv6 with [10.0.0.0/8, fd00:20::/64]; connect pod -> fd00:20::10 and -> 2001:db8:1::10.
    Asserts: the first sees the Pod's IPv6 address, the second the node's."""
    topo.sync('nonMasqueradeCIDRs: [10.0.0.0/8, "fd00:20::/64"]\n', '--enable-ipv6')
    assert topo.seen_from('fd00:20::10') == POD6
    seen = topo.seen_from('2001:db8:1::10')
    assert seen != POD6 and seen in NODE_ADDRS, seen


def test_without_the_agent_nothing_is_masqueraded(topo):
    """Does: no sync at all (the control case). Asserts: 10.20.0.10 sees the Pod address, so the other tests'
    node addresses come from the agent's rules and nothing else."""
    assert topo.seen_from('10.20.0.10') == POD4


def test_snat_to_fixed_address(topo):
    """Does: snatToSource 198.51.100.1 (one of the node's addresses, not the one on the route to 203.0.113.10).
    Asserts: 203.0.113.10 sees 198.51.100.1, not the Pod address nor the route's address 203.0.113.1."""
    topo.sync(CFG + 'snatToSource: 198.51.100.1\n')
    assert topo.seen_from('203.0.113.10') == '198.51.100.1'
    assert topo.seen_from('10.20.0.10') == POD4


def test_explicit_masquerade_list(topo):
    """Does: masqueradeCIDRs [203.0.113.0/24] with nonMasqueradeCIDRs []. Asserts: 203.0.113.10 sees the node's
    address; 198.51.100.10 and 10.20.0.10, outside the list, see the Pod address."""
    topo.sync('nonMasqueradeCIDRs: []\nmasqueradeCIDRs: [203.0.113.0/24]\n')
    seen = topo.seen_from('203.0.113.10')
    assert seen != POD4 and seen in NODE_ADDRS, seen
    assert topo.seen_from('198.51.100.10') == POD4
    assert topo.seen_from('10.20.0.10') == POD4


def test_jump_position_first_beats_an_earlier_accept(topo):
    """Does: an earlier `-A POSTROUTING -j ACCEPT` in the nat table (as some setups add), then sync with
    jumpPosition append (upstream's) and then first. Asserts: iptables backends: with append, 203.0.113.10 sees the
    Pod address (the ACCEPT ends nat processing before our jump: upstream issues #26, #35); with first, it sees the
    node's address. nftables: our own base chain runs regardless of the iptables ACCEPT, both see the node's."""
    env_tools = 'iptables-legacy' if topo.backend == 'iptables-legacy' else 'iptables'
    from tests.lib.topology import sh
    sh(env_tools, '-t', 'nat', '-A', 'POSTROUTING', '-o', 'n1', '-j', 'ACCEPT', ns=topo.node)
    topo.sync(CFG)
    seen = topo.seen_from('203.0.113.10')
    if topo.backend == 'nftables':
        assert seen != POD4 and seen in NODE_ADDRS, seen
    else:
        assert seen == POD4
    topo.sync(CFG + 'jumpPosition: first\n')
    seen = topo.seen_from('203.0.113.10')
    assert seen != POD4 and seen in NODE_ADDRS, seen


def test_force_masquerade_inside_a_non_masquerade_range(topo):
    """Does: nonMasqueradeCIDRs [10.0.0.0/8] with forceMasqueradeCIDRs [10.20.0.0/24] (upstream #61); then with
    [10.21.0.0/24] instead. Asserts: 10.20.0.10, inside 10.0.0.0/8, sees the node's address while it is forced, and
    the Pod address when only a neighbouring range is forced."""
    topo.sync(CFG + 'forceMasqueradeCIDRs: [10.20.0.0/24]\n')
    seen = topo.seen_from('10.20.0.10')
    assert seen != POD4 and seen in NODE_ADDRS, seen
    topo.sync(CFG + 'forceMasqueradeCIDRs: [10.21.0.0/24]\n')
    assert topo.seen_from('10.20.0.10') == POD4


def test_masquerade_only_listed_sources(topo):
    """Does: masqueradeSourceCIDRs [192.168.10.0/24] (the Pod's range, upstream #65), then [10.244.0.0/16] (another
    range). Asserts: 203.0.113.10 sees the node's address while the Pod's range is listed, the Pod address when not."""
    topo.sync(CFG + 'masqueradeSourceCIDRs: [192.168.10.0/24]\n')
    seen = topo.seen_from('203.0.113.10')
    assert seen != POD4 and seen in NODE_ADDRS, seen
    topo.sync(CFG + 'masqueradeSourceCIDRs: [10.244.0.0/16]\n')
    assert topo.seen_from('203.0.113.10') == POD4


def test_dnat_connections_keep_their_client_address(topo):
    """Does: an inbound NodePort-like connection (dst -> node 203.0.113.1:9090, DNAT to the Pod) with nonMasqueradeCIDRs
    [10.0.0.0/8], without and then with skipDNAT (upstream #65). Asserts: without it the Pod sees the node's address
    (the reply path is masqueraded, as upstream does); with it the Pod sees the client, 203.0.113.10."""
    topo.sync(CFG)
    seen = topo.seen_by_pod()
    assert seen != '203.0.113.10' and seen in NODE_ADDRS, seen
    topo.sync(CFG + 'skipDNAT: true\n')
    assert topo.seen_by_pod() == '203.0.113.10'
