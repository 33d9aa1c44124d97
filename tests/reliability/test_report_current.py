"""docs/reliability.md is generated (`make reliability-report`); this keeps it from going stale: it must list exactly
the data-path and reliability cases that exist now, each variant of each, all passed."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collected():
    proc = subprocess.run([sys.executable, '-m', 'pytest', '--collect-only', '-q', '-p', 'no:cacheprovider',
                           'tests/datapath', 'tests/reliability'], cwd=ROOT, capture_output=True, text=True, check=True)
    cases = {}
    for line in proc.stdout.splitlines():
        m = re.match(r'^tests/(?:datapath|reliability)/[\w/]+\.py::(\w+)(?:\[(.*)\])?$', line.strip())
        if m and m.group(1) != 'test_report_lists_every_case':
            cases.setdefault(m.group(1), set()).add(m.group(2) or '-')
    return cases


def documented():
    cases, results = {}, {}
    with open(os.path.join(ROOT, 'docs', 'reliability.md')) as f:
        for line in f:
            m = re.match(r'^\| `(\w+)` \| .* \| (.*) \| (\d+)/(\d+) passed.* \|$', line.rstrip('\n'))
            if m:
                cases[m.group(1)] = set(v.strip('`') for v in m.group(2).split(', ')) if m.group(2) != '-' else {'-'}
                results[m.group(1)] = (m.group(3), m.group(4))
    return cases, results


def test_report_lists_every_case():
    cases, results = documented()
    assert cases == collected(), 'docs/reliability.md is stale: run `make reliability-report`'
    assert all(ok == total for ok, total in results.values()), results
