# Test-wide set-up: make `ansible_collections.ipmasq.agent` importable from the checkout.
# scripts/setup.sh links .cache/collections/ansible_collections/ipmasq/agent -> this checkout.
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, '.cache', 'collections')
if os.path.isdir(os.path.join(COLLECTIONS, 'ansible_collections', 'ipmasq', 'agent')) and COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
