# Test-wide set-up: make `ansible_collections.ipmasq.agent` importable from the checkout.
# scripts/setup.sh links .cache/collections/ansible_collections/ipmasq/agent -> this checkout.
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, '.cache', 'collections')
if os.path.isdir(os.path.join(COLLECTIONS, 'ansible_collections', 'ipmasq', 'agent')) and COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


import json  # noqa: E402

import pytest  # noqa: E402


# --- throwaway network namespaces with real iptables ------------------------------------------------------------
@pytest.fixture(params=['nft', 'legacy'])
def ns(request, tmp_path):
    """A private network namespace whose iptables commands use the nft or the legacy backend."""
    from tests.lib.netns import Netns
    n = Netns(request.param, str(tmp_path))
    yield n
    n.delete()


@pytest.fixture
def ns_nft(tmp_path):
    from tests.lib.netns import Netns
    n = Netns('nft', str(tmp_path))
    yield n
    n.delete()


# --- docs/reliability.md: record each data-path and reliability case (its docstring and result) -------------------
REPORT_DIR = os.path.join(ROOT, 'tests', 'output', 'reliability')
REPORTED = ('tests/datapath/', 'tests/reliability/')


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == 'call' or (rep.when == 'setup' and rep.outcome != 'passed'):
        item.rep_case = rep


@pytest.fixture(autouse=True)
def record_case(request):
    yield
    nodeid = request.node.nodeid
    if not nodeid.startswith(REPORTED):
        return
    rep = getattr(request.node, 'rep_case', None)
    doc = ' '.join((request.function.__doc__ or '').split())
    os.makedirs(REPORT_DIR, exist_ok=True)
    with open(os.path.join(REPORT_DIR, 'cases-%s.jsonl' % os.environ.get('PYTEST_XDIST_WORKER', 'main')), 'a') as f:
        f.write(json.dumps({'id': nodeid, 'doc': doc, 'outcome': rep.outcome if rep else 'error'}) + '\n')
