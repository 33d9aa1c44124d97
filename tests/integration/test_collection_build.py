"""The collection as a user gets it: `ansible-galaxy collection build`, then `install` of the tarball into an empty
collections path, and nothing from this checkout afterwards.

Every module and role found in the tarball has working `ansible-doc`; the tarball holds COPYING and the MANIFEST.json
license fields name it; it holds no test that imports what is not in it (issue 11, defect 9: the integration tests
shipped without the stand-in they import), no stand-in without its tests, no `.cache`/`.venv`; the files the
execution-environment metadata names are in it; every module is in a `module_defaults` action group, and a group's
defaults reach the modules of the installed collection (ip_masq_config, and ip_masq_chain in a network namespace).
"""
import ast
import json
import os
import posixpath
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
COLLECTION = 'ipmasq.agent'
GPL3 = '/usr/share/common-licenses/GPL-3'  # Debian's base-files: the text COPYING was taken from

# What a collection tarball may hold at its top level: Ansible content, user docs, the on-host program, license,
# changelog, the execution-environment inputs, and the tests ansible-test runs from an installed collection.
# Anything else (a new tool directory, an image recipe) is development tooling: add it to build_ignore in galaxy.yml.
SHIPPED_TOP = {'plugins', 'roles', 'playbooks', 'meta', 'docs', 'changelogs', 'bin', 'tests', 'README.md', 'COPYING',
               'CHANGELOG.rst', 'CHANGELOG.md', 'MANIFEST.json', 'FILES.json', 'requirements.txt', 'bindep.txt'}
# tests/ subtrees that run from the installed collection (ansible-test units / sanity), and the Kubernetes API
# stand-in the unit tests import (shipped only with a test that imports it: see the import test); the other tiers
# need this checkout's harness (root, network namespaces, podman, tests/lib).
SHIPPED_TESTS = {'unit', 'sanity', 'config.yml', 'stand_ins'}


def run(argv, env, cwd):
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, '%s: rc=%d\nstdout: %s\nstderr: %s' % (argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


def clean_env(collections_path):
    """The environment of a user with only the installed tarball (ansible.builtin is part of ansible-core)."""
    cfg = os.path.join(os.path.dirname(collections_path), 'ansible.cfg')
    with open(cfg, 'w') as f:  # empty: no ansible.cfg of this checkout or of the user
        f.write('')
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'PYTHONPATH')))
    env.update(ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false',
               ANSIBLE_CONFIG=cfg, ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               LC_ALL='C.UTF-8', LANG='C.UTF-8')
    return env


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    """(tarball path, {member name: TarInfo}, workdir) of `ansible-galaxy collection build` of this checkout."""
    work = tmp_path_factory.mktemp('collection')
    out = work / 'dist'
    env = clean_env(str(work / 'none'))
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(out), ROOT], env, str(work))
    tarballs = sorted(out.glob('ipmasq-agent-*.tar.gz'))
    assert len(tarballs) == 1, tarballs
    with tarfile.open(str(tarballs[0])) as tar:
        members = dict((m.name, m) for m in tar.getmembers())
    return str(tarballs[0]), members, work


@pytest.fixture(scope='module')
def installed(built):
    """(environment, installed collection directory): the tarball installed into an empty collections path."""
    tarball, _members, work = built
    path = work / 'collections'
    env = clean_env(str(path))
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '-p', str(path), tarball], env,
        str(work))
    where = path / 'ansible_collections' / 'ipmasq' / 'agent'
    assert (where / 'MANIFEST.json').is_file()
    return env, str(where)


def files(members):
    return sorted(name for name, m in members.items() if m.isfile())


def read(tarball, name):
    with tarfile.open(tarball) as tar:
        return tar.extractfile(name).read()


# --- what is in the tarball ---------------------------------------------------------------------------------------
def test_license_copying_and_manifest(built):
    tarball, members, _work = built
    assert 'COPYING' in files(members)
    copying = read(tarball, 'COPYING')
    assert b'GNU GENERAL PUBLIC LICENSE' in copying and b'Version 3, 29 June 2007' in copying
    if os.path.exists(GPL3):
        with open(GPL3, 'rb') as f:
            assert copying == f.read(), 'COPYING is not the full GPL-3 text'
    info = json.loads(read(tarball, 'MANIFEST.json'))['collection_info']
    # galaxy.yml: license (SPDX ids) and license_file are mutually exclusive; the collection ships the text
    assert info['license_file'] == 'COPYING'
    assert not info['license'], 'license and license_file are mutually exclusive in galaxy.yml: %r' % info['license']
    for key in ('repository', 'documentation', 'homepage', 'issues'):
        value = info.get(key)
        assert value is None or (value.startswith('https://') and '.invalid' not in value), (key, value)


def test_no_checkout_state_or_dev_tooling(built):
    _tarball, members, _work = built
    names = files(members)
    top = set(name.split('/')[0] for name in names)
    assert top <= SHIPPED_TOP, 'not for users (add to build_ignore in galaxy.yml): %s' % sorted(top - SHIPPED_TOP)
    tests = set(name.split('/')[1] for name in names if name.startswith('tests/'))
    assert tests <= SHIPPED_TESTS, 'test tiers that cannot run from the installed collection: %s' % sorted(
        tests - SHIPPED_TESTS)
    state = {'.cache', '.venv', '.git', '__pycache__', '.pytest_cache', 'output'}
    junk = [n for n in names if set(n.split('/')) & state or n.endswith(('.pyc', '.tar.gz'))]
    assert not junk, junk


def python_files(tarball, members):
    """{member name: source} of every Python file: *.py, and scripts whose first line runs python."""
    out = {}
    with tarfile.open(tarball) as tar:
        for name in files(members):
            data = tar.extractfile(name).read()
            if name.endswith('.py') or (data.startswith(b'#!') and b'python' in data.split(b'\n', 1)[0]):
                out[name] = data.decode('utf-8')
    return out


def own_imports(name, source):
    """(line, dotted path in the collection, imported names) of every import of this collection's code in one file,
    at any depth: `tests.x`, `ansible_collections.ipmasq.agent.x`, and relative imports."""
    prefix = 'ansible_collections.ipmasq.agent.'
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            mods = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            pkg = posixpath.dirname(name).split('/')
            pkg = pkg[:len(pkg) - (node.level - 1)]
            mods = [('.'.join(pkg + ([node.module] if node.module else [])), [a.name for a in node.names])]
        elif isinstance(node, ast.ImportFrom):
            mods = [(node.module, [a.name for a in node.names])]
        else:
            continue
        for mod, names in mods:
            if mod.startswith(prefix):
                found.append((node.lineno, mod[len(prefix):], names))
            elif mod == 'tests' or mod.startswith('tests.') or getattr(node, 'level', 0):
                found.append((node.lineno, mod, names))
    return found


def resolves(mod, names, shipped):
    """Whether the collection path `mod` (and each imported name that is a module of it) is in the tarball."""
    path = mod.replace('.', '/')
    is_module = path + '.py' in shipped
    is_package = any(n.startswith(path + '/') for n in shipped)
    if not (is_module or is_package):
        return False
    if is_package and names and not (path + '/__init__.py') in shipped:
        # `from tests.lib import netns` from a namespace package: netns must be a module or package there
        return all(path + '/' + n + '.py' in shipped or any(s.startswith(path + '/' + n + '/') for s in shipped)
                   for n in names if n != '*')
    return True


def test_every_shipped_import_of_our_code_is_shipped(built):
    """Issue 11, defect 9: no file in the tarball imports a module of this collection (tests.*, a stand-in, a
    module_utils file) that the tarball does not hold; a stand-in ships only with the tests that import it."""
    tarball, members, _work = built
    shipped = set(files(members))
    sources = python_files(tarball, members)
    assert any(n.startswith('plugins/modules/') for n in sources)
    missing = []
    importers = {}
    for name, source in sorted(sources.items()):
        for line, mod, names in own_imports(name, source):
            importers.setdefault(mod.split('.')[:2] == ['tests', 'stand_ins'], []).append(name)
            if not resolves(mod, names, shipped):
                missing.append('%s:%d imports %s%s' % (name, line, mod, ' (%s)' % ', '.join(names) if names else ''))
    assert not missing, 'the tarball lacks what these import:\n' + '\n'.join(missing)
    stand_ins = [n for n in shipped if n.startswith('tests/stand_ins/') and n.endswith('.py')
                 and not n.endswith('__init__.py')]
    for stand_in in stand_ins:
        # a test uses a stand-in by importing it or by loading it from its path (tests/ is no package when installed)
        stem = os.path.splitext(os.path.basename(stand_in))[0]
        users = [n for n in importers.get(True, []) if not n.startswith('tests/stand_ins/')]
        users += [n for n, text in sources.items() if n.startswith('tests/') and not n.startswith('tests/stand_ins/')
                  and "'%s.py'" % stem in text]
        assert users, 'a stand-in shipped without the tests that use it: %s' % stand_in


def test_execution_environment_inputs_are_shipped(built):
    """ansible-builder reads meta/execution-environment.yml from the installed collection: the files it names are in
    the tarball."""
    tarball, members, _work = built
    shipped = set(files(members))
    if 'meta/execution-environment.yml' not in shipped:
        pytest.skip('the collection has no meta/execution-environment.yml')
    ee = yaml.safe_load(read(tarball, 'meta/execution-environment.yml'))
    named = [v for v in (ee.get('dependencies') or {}).values() if isinstance(v, str) and not v.startswith('/')]
    assert named, ee
    assert set(named) <= shipped, 'meta/execution-environment.yml names %s, not in the tarball' % sorted(
        set(named) - shipped)


# --- the installed collection, used as a user would -----------------------------------------------------------------
def modules_and_roles(members):
    names = files(members)
    modules = sorted(posixpath.basename(n)[:-3] for n in names
                     if posixpath.dirname(n) == 'plugins/modules' and n.endswith('.py') and not n.endswith('/__init__.py'))
    roles = sorted(set(n.split('/')[1] for n in names if n.startswith('roles/') and n.count('/') >= 2))
    return modules, roles


def ansible_doc(env, cwd, kind, name):
    proc = run([os.path.join(BIN, 'ansible-doc'), '--json', '-t', kind, name], env, cwd)
    docs = json.loads(proc.stdout)
    assert name in docs, (name, proc.stdout[:500], proc.stderr)
    return docs[name], proc.stderr


def test_ansible_doc_every_module_and_role(built, installed):
    _tarball, members, work = built
    env, _where = installed
    modules, roles = modules_and_roles(members)
    assert modules and roles
    listed = json.loads(run([os.path.join(BIN, 'ansible-doc'), '--json', '-l', '-t', 'module', COLLECTION], env,
                            str(work)).stdout)
    assert sorted(listed) == ['%s.%s' % (COLLECTION, m) for m in modules]
    failures = []
    for kind, names in (('module', modules), ('role', roles)):
        for name in names:
            fq = '%s.%s' % (COLLECTION, name)
            try:
                doc, stderr = ansible_doc(env, str(work), kind, fq)
                assert 'WARNING' not in stderr and 'ERROR' not in stderr, stderr
                if kind == 'module':
                    d = doc['doc']
                    assert d['module'] == name and d['short_description'] and d['options'], 'incomplete DOCUMENTATION'
                    assert d.get('requirements'), 'no requirements: what the target (or controller) needs'
                    assert doc['examples'] and doc['return'] is not None, 'no EXAMPLES or RETURN'
                else:
                    assert doc['entry_points'].get('main', {}).get('options'), 'no argument spec for main'
                run([os.path.join(BIN, 'ansible-doc'), '-t', kind, fq], env, str(work))  # the text a user reads
            except AssertionError as e:
                failures.append('%s %s: %s' % (kind, fq, str(e).split('\nassert ', maxsplit=1)[0]))
    assert not failures, '\n\n'.join(failures)


# plugin directories ansible-doc documents (action, module_utils, doc_fragments, terminal... have no docs of their own)
DOCUMENTED_PLUGINS = ('filter', 'test', 'lookup', 'callback', 'inventory', 'connection', 'become', 'cache', 'vars',
                      'strategy', 'shell')


def test_ansible_doc_every_other_plugin(built, installed):
    """Filters, lookups, callbacks... found in the tarball: each file's plugins are listed by ansible-doc, and each
    listed plugin's documentation loads from the installed collection."""
    _tarball, members, work = built
    env, _where = installed
    kinds = sorted(set(n.split('/')[1] for n in files(members) if n.startswith('plugins/') and n.endswith('.py')
                       and not n.endswith('/__init__.py')) & set(DOCUMENTED_PLUGINS))
    failures = []
    for kind in kinds:
        listed = json.loads(run([os.path.join(BIN, 'ansible-doc'), '--json', '-l', '-t', kind, COLLECTION], env,
                                str(work)).stdout)
        if not listed:
            failures.append('%s plugins in the tarball, none listed by ansible-doc -t %s -l' % (kind, kind))
        for fq in sorted(listed):
            try:
                doc, stderr = ansible_doc(env, str(work), kind, fq)
                assert 'WARNING' not in stderr and 'ERROR' not in stderr, stderr
                assert doc['doc'].get('short_description') and doc.get('examples'), 'incomplete documentation'
            except AssertionError as e:
                failures.append('%s %s: %s' % (kind, fq, str(e).split('\nassert ', maxsplit=1)[0]))
    assert not failures, '\n\n'.join(failures)


def test_every_module_is_in_an_action_group(built):
    tarball, members, _work = built
    modules, _roles = modules_and_roles(members)
    groups = yaml.safe_load(read(tarball, 'meta/runtime.yml')).get('action_groups') or {}
    grouped = set(m.split('.')[-1] for members_ in groups.values() for m in members_ if isinstance(m, str))
    assert set(modules) <= grouped, 'modules in no module_defaults group of meta/runtime.yml: %s' % sorted(
        set(modules) - grouped)
    assert grouped <= set(modules), 'action groups name modules that do not exist: %s' % sorted(grouped - set(modules))


GROUP_DEFAULTS = {  # options every host module takes; the IPv6 CIDR is valid only with ip_version both or ipv6
    'ip_version': 'both',
    'config': {'nonMasqueradeCIDRs': ['10.0.0.0/8', 'fd00:5eed::/32']},
}


# what the README says to set through each module_defaults group: options every module of the group takes
SHARED_OPTIONS = {
    'host': set(GROUP_DEFAULTS) | {'non_masquerade_cidrs', 'resync_interval', 'cidr_limit', 'masq_link_local'},
    'k8s': {'kubeconfig', 'context', 'host', 'api_key', 'ca_cert', 'client_cert', 'client_key', 'validate_certs',
            'proxy', 'request_timeout'},
}


def test_every_grouped_module_takes_the_shared_options(built, installed):
    """A group's module_defaults go to every module of the group: each module of `host` and `k8s` takes the options
    the README says to set there."""
    tarball, _members, work = built
    env, _where = installed
    groups = yaml.safe_load(read(tarball, 'meta/runtime.yml'))['action_groups']
    assert set(SHARED_OPTIONS) <= set(groups)
    for group, shared in sorted(SHARED_OPTIONS.items()):
        assert groups[group], group
        for module in groups[group]:
            fq = '%s.%s' % (COLLECTION, module.split('.')[-1])
            options = set(ansible_doc(env, str(work), 'module', fq)[0]['doc']['options'])
            assert shared <= options, (group, fq, sorted(shared - options))


def play_with_group_defaults(env, tmpdir, task, check, ns=None):
    """One play on localhost, with module_defaults for group/ipmasq.agent.host (and per module for ip_masq_chain's
    lock file); returns the task's registered result (written by a task that runs outside check mode)."""
    out = os.path.join(tmpdir, 'result.json')
    defaults = {'group/ipmasq.agent.host': GROUP_DEFAULTS}
    if ns is not None:
        defaults['ipmasq.agent.ip_masq_chain'] = {'lock_file': ns.lock}
    playbook = [{'name': 'group defaults', 'hosts': 'localhost', 'gather_facts': False, 'module_defaults': defaults,
                 'tasks': [dict(task, register='r'),
                           {'ansible.builtin.copy': {'content': '{{ r | to_json }}', 'dest': out}, 'check_mode': False}]}]
    path = os.path.join(tmpdir, 'play.yml')
    with open(path, 'w') as f:
        yaml.safe_dump(playbook, f)
    argv = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', path] + (['--check'] if check else [])
    env = dict(env, ANSIBLE_LOCAL_TEMP=os.path.join(tmpdir, 'tmp'), ANSIBLE_REMOTE_TEMP=os.path.join(tmpdir, 'tmp'))
    if ns is not None:
        env['PATH'] = ns.env['PATH']
        proc = ns.run(argv, check=False, env=env)
    else:
        proc = subprocess.run(argv, env=env, cwd=tmpdir, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, 'rc=%d\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr)
    with open(out) as f:
        return json.load(f)


def test_group_defaults_reach_ip_masq_config(installed, tmp_path):
    """`module_defaults: {group/ipmasq.agent.host: ...}` gives ip_masq_config its config and ip_version: the task
    names neither, yet the IPv6 CIDR of the defaults is accepted and written (check mode: predicted, nothing written)."""
    env, _where = installed
    target = tmp_path / 'ip-masq-agent'
    r = play_with_group_defaults(env, str(tmp_path), {'ipmasq.agent.ip_masq_config': {'path': str(target)}}, check=True)
    assert r['changed'] is True and not r.get('failed'), r
    assert r['config'] == GROUP_DEFAULTS['config'], r
    assert not target.exists()
    r = play_with_group_defaults(env, str(tmp_path), {'ipmasq.agent.ip_masq_config': {'path': str(target)}}, check=False)
    assert r['changed'] is True
    assert yaml.safe_load(target.read_text()) == GROUP_DEFAULTS['config']


def test_group_defaults_reach_ip_masq_chain(installed, ns_nft, tmp_path):
    """The same group defaults give ip_masq_chain (installed from the tarball, in a network namespace) both families
    and the config: check mode plans the IPv6 rule for the CIDR only the defaults name, and writes nothing."""
    env, _where = installed
    before = ns_nft.save('ipv4'), ns_nft.save('ipv6')
    r = play_with_group_defaults(env, ns_nft.tmpdir, {'ipmasq.agent.ip_masq_chain': {}}, check=True, ns=ns_nft)
    assert r['changed'] is True and not r.get('failed'), r
    assert any('-d fd00:5eed::/32 ' in line for line in r['rules']['ipv6']), r['rules']
    assert any('-d 10.0.0.0/8 ' in line for line in r['rules']['ipv4']), r['rules']
    assert (ns_nft.save('ipv4'), ns_nft.save('ipv6')) == before


def test_group_defaults_reach_every_k8s_module(built, installed, tmp_path):
    """`module_defaults: {group/ipmasq.agent.k8s: {kubeconfig: ...}}` reaches every module of the group: no task names
    a kubeconfig, and each fails naming the one the defaults give (a file that does not exist), before any request."""
    tarball, _members, _work = built
    env, _where = installed
    groups = yaml.safe_load(read(tarball, 'meta/runtime.yml'))['action_groups']
    kubeconfig = str(tmp_path / 'no-such-kubeconfig')
    tasks = []
    for module in groups['k8s']:
        fq = '%s.%s' % (COLLECTION, module.split('.')[-1])
        options = ansible_doc(env, str(tmp_path), 'module', fq)[0]['doc']['options']
        required = dict((k, v) for k, v in options.items() if v.get('required'))
        assert all(v.get('type', 'str') == 'str' for v in required.values()), (fq, required)
        tasks.append({fq: dict((k, 'worker-1') for k in required), 'register': 'r_%d' % len(tasks),
                      'ignore_errors': True})
    out = str(tmp_path / 'results.json')
    results = '[%s]' % ', '.join('r_%d' % i for i in range(len(tasks)))
    tasks.append({'ansible.builtin.copy': {'content': '{{ %s | to_json }}' % results, 'dest': out}, 'check_mode': False})
    playbook = [{'name': 'k8s group defaults', 'hosts': 'localhost', 'gather_facts': False,
                 'module_defaults': {'group/ipmasq.agent.k8s': {'kubeconfig': kubeconfig}}, 'tasks': tasks}]
    path = str(tmp_path / 'play.yml')
    with open(path, 'w') as f:
        yaml.safe_dump(playbook, f)
    run([os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', '--check', path],
        dict(env, ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp')), str(tmp_path))
    with open(out) as f:
        results = json.load(f)
    assert len(results) == len(groups['k8s'])
    for module, r in zip(groups['k8s'], results):
        assert r.get('failed') and kubeconfig in r.get('msg', ''), (module, r)
