"""Runs each molecule scenario (podman + systemd) as one test: `molecule test -s NAME`."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = sorted(d for d in os.listdir(os.path.join(ROOT, 'molecule'))
                   if os.path.isfile(os.path.join(ROOT, 'molecule', d, 'molecule.yml')))


def test_all_scenarios_are_collected():
    assert {'default', 'config_change', 'self_heal', 'removal', 'fleet', 'transition', 'stuck'} <= set(SCENARIOS)


@pytest.mark.parametrize('scenario', SCENARIOS)
def test_scenario(scenario):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.cache', 'collections'),
               CONTAINERS_CONF=os.path.join(ROOT, 'containers.conf'), LC_ALL='C.UTF-8', LANG='C.UTF-8',
               MOLECULE_NO_LOG='false', PY_COLORS='0', ANSIBLE_FORCE_COLOR='0')
    env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env['PATH']
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'molecule'), 'test', '-s', scenario],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    log = os.path.join(ROOT, 'tests', 'output', 'molecule-%s.log' % scenario)
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, 'w') as f:
        f.write(proc.stdout + '\n--- stderr ---\n' + proc.stderr)
    assert proc.returncode == 0, 'molecule test -s %s failed (log: %s):\n%s\n%s' % (
        scenario, log, proc.stdout[-6000:], proc.stderr[-3000:])
