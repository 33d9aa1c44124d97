"""ip_masq_host installs the engine package from its own AnsiballZ payload, so ansible's own dependency finder must put
every file of the package in that payload, as it is in the checkout.

This needs ansible's controller code (the payload builder), which `ansible-test units` does not offer to tests of
module_utils: it runs here, in the integration tier, with the venv's ansible-core.
"""
import hashlib
import json
import os
import subprocess
import sys

from ansible_collections.ipmasq.agent.plugins.module_utils.ipmasq import install

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The dependency finder needs the collection loader installed: done in a child process, so that this test session's
# imports stay as they are.
FINDER = r'''
import datetime, hashlib, io, json, sys, zipfile
from ansible.executor import module_common
from ansible._internal._ansiballz._builder import ExtensionManager
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=[sys.argv[1]])._install()
with open(sys.argv[2], 'rb') as f:
    data = f.read()
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w') as zf:
    module_common.recursive_finder('ip_masq_host', 'ansible_collections.ipmasq.agent.plugins.modules.ip_masq_host',
                                   data, zf, datetime.datetime(2026, 1, 1), ExtensionManager())
prefix = 'ansible_collections/ipmasq/agent/plugins/module_utils/'
with zipfile.ZipFile(buf) as zf:
    print(json.dumps(dict((n[len(prefix):], hashlib.sha256(zf.read(n)).hexdigest()) for n in zf.namelist()
                          if n.startswith(prefix + 'ipmasq/'))))
'''


def test_the_modules_payload_carries_every_file_of_the_package(tmp_path):
    collections = tmp_path / 'collections' / 'ansible_collections' / 'ipmasq'
    collections.mkdir(parents=True)
    os.symlink(ROOT, str(collections / 'agent'))
    proc = subprocess.run([sys.executable, '-c', FINDER, str(tmp_path / 'collections'),
                           os.path.join(ROOT, 'plugins', 'modules', 'ip_masq_host.py')],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    # install.package_files() is the checkout's package file for file (tests/unit/.../test_install.py)
    digests = dict((name, hashlib.sha256(data).hexdigest()) for name, data in install.package_files().items())
    assert 'ipmasq/backends/iptables.py' in digests and 'ipmasq/__init__.py' in digests
    assert json.loads(proc.stdout) == digests
