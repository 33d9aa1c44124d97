"""Runs each molecule scenario (podman + systemd) as one test: `molecule test -s NAME`."""
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = sorted(d for d in os.listdir(os.path.join(ROOT, 'molecule'))
                   if os.path.isfile(os.path.join(ROOT, 'molecule', d, 'molecule.yml')))


# These scenarios run every kind of host they have on every Debian suite the role claims (meta/main.yml).
ON_EVERY_SUITE = ('default', 'fleet')
IMAGE_REPO = 'localhost/ipmasq-test'


def _load(*path):
    with open(os.path.join(ROOT, *path)) as f:
        return yaml.safe_load(f)


def _claimed_suites():
    platforms = _load('roles', 'ip_masq_agent', 'meta', 'main.yml')['galaxy_info']['platforms']
    return {p['name']: set(p['versions']) for p in platforms}


def test_all_scenarios_are_collected():
    assert {'default', 'config_change', 'self_heal', 'removal', 'fleet', 'transition', 'stuck'} <= set(SCENARIOS)


def test_role_claims_only_the_suites_the_image_script_builds():
    # the script's refusal of an unknown suite names the suites it knows (nothing is built or pulled)
    proc = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'build-image.sh'), 'no-such-suite'],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    known = re.search(r"unknown suite 'no-such-suite' \(known: ([a-z ]+)\)", proc.stderr)
    assert known, proc.stderr
    assert _claimed_suites() == {'Debian': set(known.group(1).split())}


@pytest.mark.parametrize('scenario', ON_EVERY_SUITE)
def test_scenario_runs_every_kind_of_host_on_every_suite(scenario):
    platforms = _load('molecule', scenario, 'molecule.yml')['platforms']
    names = [p['name'] for p in platforms]
    assert len(names) == len(set(names)), names
    suite_images = {'%s:%s' % (IMAGE_REPO, suite) for suite in _claimed_suites()['Debian']}
    assert len(suite_images) >= 2
    images_by_kind = {}
    for p in platforms:
        images_by_kind.setdefault(tuple(sorted(p.get('groups', []))), []).append(p['image'])
    for kind, images in images_by_kind.items():
        assert sorted(images) == sorted(suite_images), 'scenario %s, hosts of groups %s: %s' % (scenario, kind, images)


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
