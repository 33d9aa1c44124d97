#!/usr/bin/env bash
# Runs ansible-test on a copy of the checkout at /tmp/ipmasq-ansible-test/ansible_collections/ipmasq/agent
# (ansible-test needs a real directory of that shape; a symlink is refused). Usage: scripts/ansible-test.sh sanity ...
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# Outside this git work tree: inside it (even ignored) ansible-test would ask git for the file list and see none.
DEST=${IPMASQ_ANSIBLE_TEST_DIR:-/tmp/ipmasq-ansible-test}/ansible_collections/ipmasq/agent
mkdir -p "$DEST"
# git-tracked files plus untracked ones git does not ignore, as they are in the working tree
git ls-files -z --cached --others --exclude-standard | \
  rsync -a --delete --from0 --files-from=- ./ "$DEST/" 2>/dev/null || {
  rm -rf "$DEST"; mkdir -p "$DEST"
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] || continue; mkdir -p "$DEST/$(dirname "$f")"; cp -a "$f" "$DEST/$f"; done
}
# rsync --files-from does not delete files gone from the checkout: drop them
(cd "$DEST" && find . -type f -not -path './tests/output/*' | sed 's|^\./||' | sort) > "$DEST/../../../.at-copy"
git ls-files --cached --others --exclude-standard | sort > "$DEST/../../../.at-src"
comm -23 "$DEST/../../../.at-copy" "$DEST/../../../.at-src" | (cd "$DEST" && xargs -r rm -f)
# ansible-test --venv downloads get-pip from a host this machine cannot reach; this stand-in bootstraps pip from
# the interpreter's own ensurepip (in a subprocess, so pip keeps its CA configuration) and installs the rest.
CACHE=$HOME/.ansible/test/cache
mkdir -p "$CACHE"
cat > "$CACHE/get_pip_24_2.py" <<'PY'
import subprocess, sys
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
if args:
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
PY
cd "$DEST"
exec "$ROOT/.venv/bin/ansible-test" "$@"
