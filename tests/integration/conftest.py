import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
from tests.lib.netns import Netns  # noqa: E402


@pytest.fixture(params=['nft', 'legacy'])
def ns(request, tmp_path):
    """A private network namespace whose iptables commands use the nft or the legacy backend."""
    n = Netns(request.param, str(tmp_path))
    yield n
    n.delete()


@pytest.fixture
def ns_nft(tmp_path):
    n = Netns('nft', str(tmp_path))
    yield n
    n.delete()
