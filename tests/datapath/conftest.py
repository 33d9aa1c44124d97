import pytest

from tests.lib.topology import Topology


@pytest.fixture(params=['iptables-nft', 'iptables-legacy', 'nftables'])
def topo(request, tmp_path):
    t = Topology(str(tmp_path), request.param)
    yield t
    t.close()
