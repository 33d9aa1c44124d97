"""Namespace fixtures (ns, ns_nft) come from tests/conftest.py."""
