"""Writes docs/reliability.md from the last run of the data-path and reliability tiers.

The rows come from tests/output/reliability/cases-*.jsonl, which tests/conftest.py writes for every case in
tests/datapath and tests/reliability: the case's id, its docstring (what it does, what it asserts) and its result.
Regenerate with `make reliability-report`.
"""
import collections
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    rows = collections.OrderedDict()
    for path in sorted(glob.glob(os.path.join(ROOT, 'tests', 'output', 'reliability', 'cases-*.jsonl'))):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if 'test_report_current.py' not in r['id']:  # the check of this report is not a case of it
                    rows[r['id']] = r
    if not rows:
        sys.exit('no recorded cases: run `make test-datapath test-reliability` first')
    groups = collections.OrderedDict()
    for r in sorted(rows.values(), key=lambda r: r['id']):
        path, _sep, name = r['id'].partition('::')
        func, _b, params = name.partition('[')
        groups.setdefault((path, func), []).append((params.rstrip(']'), r))
    passed = sum(r['outcome'] == 'passed' for r in rows.values())
    rev = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    out = ['# Reliability and data-path report', '',
           'Generated from a test run by `make reliability-report` (tests/reliability/report.py), not written by hand.',
           'Each row is one test function; its variants (backends, inputs) are listed with their results.', '',
           '**%d of %d cases passed** (commit %s).' % (passed, len(rows), rev or 'unknown'), '']
    section = None
    for (path, func), variants in groups.items():
        title = 'Data path (real TCP connections through a masquerading node)' if 'datapath' in path else \
            'Reliability (faults and bad input lose nothing)'
        if title != section:
            out += ['', '## ' + title, '', '| Case | What it does and asserts | Variants | Result |', '|---|---|---|---|']
            section = title
        doc = variants[0][1]['doc'].replace('|', '\\|')
        ok = sum(v[1]['outcome'] == 'passed' for v in variants)
        names = ', '.join('`%s`' % p for p, _r in variants if p) or '-'
        failed = [p for p, r in variants if r['outcome'] != 'passed']
        result = ('%d/%d passed' % (ok, len(variants))) + ((' (failed: %s)' % ', '.join(failed)) if failed else '')
        out.append('| `%s` | %s | %s | %s |' % (func, doc, names, result))
    out += ['', '## Covered elsewhere', '',
            '- Reboot: the molecule `default` scenario restarts the container and checks that the enabled units bring',
            '  back exactly the same rules (`molecule/default/verify.yml`).',
            '- Security of the installed files (root-owned, not world-writable) and the unit\'s `systemd-analyze',
            '  security` exposure score against a default unit: molecule `default`; scores in',
            '  [systemd-security.md](systemd-security.md).',
            '- A hand-edited broken config applied by the path unit leaves the last good rules in force and the',
            '  journal names the key and value: molecule `config_change`.', '']
    with open(os.path.join(ROOT, 'docs', 'reliability.md'), 'w') as f:
        f.write('\n'.join(out))
    print('docs/reliability.md: %d of %d cases passed' % (passed, len(rows)))


if __name__ == '__main__':
    main()
