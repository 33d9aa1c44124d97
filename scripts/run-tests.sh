#!/usr/bin/env bash
# Runs each test tier (a make target), keeps going after a failure, and ends with one summary line.
# A pytest tier writes JUnit XML; its counts are summed. A tier that is not pytest counts as one test.
# pytest's exit 5 (no tests collected) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
OUT=tests/output/junit
rm -rf "$OUT"; mkdir -p "$OUT"
failed_tiers=()
for tier in "$@"; do
  echo "=== $tier"
  start=$(date +%s)
  PYTEST_ADDOPTS="${PYTEST_ADDOPTS:-} --junitxml=$OUT/$tier.xml" make --no-print-directory "$tier"
  rc=$?
  echo "=== $tier: exit $rc in $(( $(date +%s) - start ))s"
  if [ "$rc" -ne 0 ]; then failed_tiers+=("$tier"); fi
  if [ ! -f "$OUT/$tier.xml" ]; then
    # not a pytest tier: one test, passed or failed by its exit code
    python3 - "$OUT/$tier.xml" "$tier" "$rc" <<'PY'
import sys
path, tier, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
fail = '<failure message="exit %d"/>' % rc if rc else ''
open(path, 'w').write('<testsuites><testsuite name="%s" tests="1" failures="%d" errors="0" skipped="0">'
                      '<testcase classname="tier" name="%s">%s</testcase></testsuite></testsuites>' % (tier, 1 if rc else 0, tier, fail))
PY
  fi
done
python3 - "$OUT" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
t = f = s = 0
for p in sorted(glob.glob(sys.argv[1] + '/*.xml')):
    root = ET.parse(p).getroot()
    suites = [root] if root.tag == 'testsuite' else root.findall('testsuite')
    for su in suites:
        t += int(su.get('tests', 0)); f += int(su.get('failures', 0)) + int(su.get('errors', 0)); s += int(su.get('skipped', 0))
print('tests: %d passed, %d failed, %d skipped' % (t - f - s, f, s))
PY
if [ ${#failed_tiers[@]} -ne 0 ]; then
  echo "FAILED tiers: ${failed_tiers[*]}"
  exit 1
fi
